package registrycheck

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Background describes lookups nobody waits for: an audit of a cluster,
// the webhook's background pass. Admission reviews carry none, and are
// never held by one: a throttled lookup (one with a Limiter) takes none of
// a registry's connection slots and is shared only with other throttled
// lookups. Its answers go to the same caches.
type Background struct {
	// Limiter, when set, bounds the registry traffic: every HTTP request
	// (token, HEAD, GET) waits for one of its tokens before it is sent.
	// A request it would hold past its lookup's deadline is not sent: the
	// lookup is inconclusive.
	Limiter *rate.Limiter
	// LookupTimeout, when set, replaces the resolver's lookup timeout
	// (the admission budget): a lookup held by Limiter may take longer.
	LookupTimeout time.Duration
	// Since, when set, makes cached answers stored before it count for
	// nothing: the registry is asked again (once: answers stored after
	// Since are reused, by every caller). A pass sets it to its start,
	// so that a tag deleted since the last pass is seen in this one.
	Since time.Time

	sent atomic.Int64
}

// Sent counts the HTTP requests sent to registries on behalf of b.
func (b *Background) Sent() int64 { return b.sent.Load() }

type backgroundKey struct{}

// WithBackground marks ctx's lookups as b's.
func WithBackground(ctx context.Context, b *Background) context.Context {
	if b == nil {
		return ctx
	}
	return context.WithValue(ctx, backgroundKey{}, b)
}

// BackgroundOf returns the Background of ctx, nil for an admission review.
func BackgroundOf(ctx context.Context) *Background {
	b, _ := ctx.Value(backgroundKey{}).(*Background)
	return b
}

// throttled reports a lookup held by a request limiter.
func throttled(ctx context.Context) bool {
	b := BackgroundOf(ctx)
	return b != nil && b.Limiter != nil
}

// flightKey is the key a lookup is shared under: a throttled lookup is
// shared only with other throttled ones, so that an admission review never
// waits on a lookup that waits for its limiter (the answer, once cached,
// serves both).
func flightKey(ctx context.Context, key string) string {
	if throttled(ctx) {
		return key + "\x00throttled"
	}
	return key
}

// lookupTimeout is how long one shared lookup started with ctx may take.
func (r *Resolver) lookupTimeout(ctx context.Context) time.Duration {
	if b := BackgroundOf(ctx); b != nil && b.LookupTimeout > 0 {
		return b.LookupTimeout
	}
	return r.opts.LookupTimeout
}

// freshSince is the time before which cached answers are not reused.
func freshSince(ctx context.Context) time.Time {
	if b := BackgroundOf(ctx); b != nil {
		return b.Since
	}
	return time.Time{}
}

// errRateWait is a request not sent: its context would end before the
// limiter lets it go. It is a deadline: the lookup is inconclusive.
var errRateWait = fmt.Errorf("registry request rate: %w", context.DeadlineExceeded)

// beforeRequest waits for the limiter of ctx's Background, if any, and
// counts the request. It returns at once with errRateWait when the wait
// would outlast ctx's deadline.
func beforeRequest(ctx context.Context) error {
	b := BackgroundOf(ctx)
	if b == nil {
		return nil
	}
	if b.Limiter != nil {
		if err := wait(ctx, b.Limiter); err != nil {
			return err
		}
	}
	b.sent.Add(1)
	return nil
}

func wait(ctx context.Context, l *rate.Limiter) error {
	r := l.Reserve()
	if !r.OK() {
		return errRateWait
	}
	delay := r.Delay()
	if delay == 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
		r.Cancel()
		return errRateWait
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}
