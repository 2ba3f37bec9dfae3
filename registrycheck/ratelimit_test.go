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
	ctx := WithRequestLimit(context.Background(), rate.NewLimiter(perSecond, burst))

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
	ctx, cancel := context.WithTimeout(WithRequestLimit(context.Background(), lim), time.Second)
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
