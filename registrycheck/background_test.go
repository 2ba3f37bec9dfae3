package registrycheck

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/time/rate"

	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// TestRequestLimitBoundsTraffic: lookups whose context carries a limiter
// send no more requests than it lets through, counted at the registry;
// lookups without one are not held.
func TestRequestLimitBoundsTraffic(t *testing.T) {
	reg := testregistry.New(t)
	for i := range 8 {
		reg.Push(fmt.Sprintf("shop/app:%d", i), testregistry.Image(t, v1.Config{}, amd64))
	}
	r := newTestResolver(Options{LookupTimeout: 10 * time.Second})
	const perSecond, burst = 8, 2
	bg := &Background{Limiter: rate.NewLimiter(perSecond, burst)}
	ctx := WithBackground(context.Background(), bg)

	before, start := reg.Requests.Load(), time.Now()
	for i := range 8 {
		if res := r.Resolve(ctx, fmt.Sprintf("%s/shop/app:%d", reg.Host, i), nil); res.Outcome != OK {
			t.Fatalf("app:%d: %s", i, res.Attempt)
		}
	}
	sent, elapsed := reg.Requests.Load()-before, time.Since(start)
	if allowed := burst + int64(perSecond*elapsed.Seconds()) + 1; sent > allowed {
		t.Errorf("%d requests in %v, the limiter allows %d", sent, elapsed, allowed)
	}
	if sent < 8 {
		t.Fatalf("%d requests for 8 lookups: the registry did not count them", sent)
	}
	// Attempts that never reach the handler (go-containerregistry tries
	// TLS first on this plain-HTTP registry) count too.
	if bg.Sent() < sent {
		t.Errorf("the background counted %d requests, the registry %d", bg.Sent(), sent)
	}
}

// TestRequestLimitPastDeadline: a request the limiter would hold past the
// lookup's deadline is not sent: the lookup is inconclusive (timed out),
// never a verdict, and the registry sees nothing of it.
func TestRequestLimitPastDeadline(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("shop/app:1", testregistry.Image(t, v1.Config{}, amd64))
	r := newTestResolver(Options{})
	lim := rate.NewLimiter(rate.Every(time.Hour), 1)
	lim.Allow() // the one token is spent
	ctx, cancel := context.WithTimeout(WithBackground(context.Background(), &Background{Limiter: lim}), time.Second)
	defer cancel()
	before := reg.Requests.Load()
	res := r.Resolve(ctx, reg.Host+"/shop/app:1", nil)
	if res.Outcome != TimedOut {
		t.Errorf("outcome %s, want %s", res.Outcome, TimedOut)
	}
	if n := reg.Requests.Load() - before; n != 0 {
		t.Errorf("%d requests sent past the limiter", n)
	}
	// Without the limiter, the same lookup goes through.
	if res := r.Resolve(context.Background(), reg.Host+"/shop/app:1", nil); res.Outcome != OK {
		t.Errorf("without a limiter: %s", res.Attempt)
	}
}

// TestBackgroundSince: a pass asks the registry again for what was
// cached before it started (a tag deleted since is seen), once: what it
// stored is reused within the pass and by admission reviews.
func TestBackgroundSince(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("shop/app:1", testregistry.Image(t, v1.Config{}, amd64))
	r := newTestResolver(Options{})
	image := reg.Host + "/shop/app:1"
	heads := func(ctx context.Context) int64 {
		before := reg.Heads.Load()
		if res := r.Resolve(ctx, image, nil); res.Outcome != OK {
			t.Fatalf("%s", res.Attempt)
		}
		return reg.Heads.Load() - before
	}
	if n := heads(context.Background()); n != 1 {
		t.Fatalf("first lookup: %d HEADs", n)
	}
	if n := heads(context.Background()); n != 0 {
		t.Fatalf("cached lookup: %d HEADs", n)
	}
	pass := WithBackground(context.Background(), &Background{Since: time.Now()})
	if n := heads(pass); n != 1 {
		t.Errorf("a pass started after the answer was cached: %d HEADs, want 1", n)
	}
	if n := heads(pass); n != 0 {
		t.Errorf("the same pass again: %d HEADs, want 0", n)
	}
	if n := heads(context.Background()); n != 0 {
		t.Errorf("an admission review after the pass: %d HEADs, want 0", n)
	}
}

// TestThrottledLookupsHoldNoAdmission: lookups waiting for their limiter
// hold none of a registry's connection slots and share no lookup with an
// admission review: one for the very image they wait to ask for is
// answered at once.
func TestThrottledLookupsHoldNoAdmission(t *testing.T) {
	reg := testregistry.New(t)
	for i := range 4 {
		reg.Push(fmt.Sprintf("shop/app:%d", i), testregistry.Image(t, v1.Config{}, amd64))
	}
	r := newTestResolver(Options{MaxPerRegistry: 2})
	lim := rate.NewLimiter(rate.Every(2*time.Second), 1)
	lim.Allow()
	bg, cancel := context.WithTimeout(WithBackground(context.Background(), &Background{Limiter: lim, LookupTimeout: 30 * time.Second}), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			r.Resolve(bg, fmt.Sprintf("%s/shop/app:%d", reg.Host, i), nil)
			done <- struct{}{}
		}()
	}
	time.Sleep(200 * time.Millisecond) // the four wait for tokens
	for i := range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res := r.Resolve(ctx, fmt.Sprintf("%s/shop/app:%d", reg.Host, i), nil)
		cancel()
		if res.Outcome != OK {
			t.Errorf("admission lookup of app:%d while background lookups wait: %s", i, res.Attempt)
		}
	}
	cancel()
	for range 4 {
		<-done
	}
}
