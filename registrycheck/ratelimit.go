package registrycheck

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// requestLimitKey carries a request-rate limiter in a context.
type requestLimitKey struct{}

// WithRequestLimit returns a context whose registry requests (every HTTP
// request: token, HEAD, GET) each wait for a token of l before they are
// sent. It bounds the registry traffic of work nobody waits for (an
// audit, a background pass) without slowing the lookups of admission
// reviews, which carry no limiter. A lookup shared by several callers
// runs with the limiter of the caller that started it.
func WithRequestLimit(ctx context.Context, l *rate.Limiter) context.Context {
	if l == nil {
		return ctx
	}
	return context.WithValue(ctx, requestLimitKey{}, l)
}

// errRateWait is a request not sent: its context would end before the
// limiter lets it go. It is a deadline: the lookup is inconclusive.
var errRateWait = fmt.Errorf("registry request rate: %w", context.DeadlineExceeded)

// waitRequestLimit waits for the limiter of ctx, if any. It returns at
// once with errRateWait when the wait would outlast ctx's deadline.
func waitRequestLimit(ctx context.Context) error {
	l, _ := ctx.Value(requestLimitKey{}).(*rate.Limiter)
	if l == nil {
		return nil
	}
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
