package registrycheck

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nobackoff/nobackoff/internal/testregistry"
)

func TestResolveOutcomes(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("team/app:latest", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}}, amd64))
	reg.Push("team/app:1.2.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}}, amd64))
	reg.Push("team/worker:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/w"}}, amd64))
	r := newTestResolver(Options{})
	ctx := context.Background()

	cases := []struct {
		image      string
		want       Outcome
		suggestion string
	}{
		{reg.Host + "/team/app:latest", OK, ""},
		{reg.Host + "/team/app:1.2.0", OK, ""},
		{reg.Host + "/team/app:latests", TagNotFound, "latest"},
		{reg.Host + "/team/app:1.2.1", TagNotFound, "1.2.0"},
		{reg.Host + "/team/app:zzzzzzzz", TagNotFound, ""},
		{reg.Host + "/team/ap:latest", RepositoryNotFound, reg.Host + "/team/app"},
		{reg.Host + "/team/nothing-like-it:1", RepositoryNotFound, ""},
	}
	for _, c := range cases {
		t.Run(c.image, func(t *testing.T) {
			res := r.Resolve(ctx, c.image, nil)
			if res.Outcome != c.want || res.Suggestion != c.suggestion {
				t.Fatalf("got %s suggestion %q, want %s suggestion %q (%s)", res.Outcome, res.Suggestion, c.want, c.suggestion, res.Attempt)
			}
			if res.Source != Anonymous || res.CredentialsMatched {
				t.Errorf("source %q matched %v, want anonymous", res.Source, res.CredentialsMatched)
			}
		})
	}
}

func TestResolveCredentials(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("private/app:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}}, amd64))
	reg.Set(testregistry.Faults{Users: map[string]string{"ci": "s3cret"}})
	ctx := context.Background()
	image := reg.Host + "/private/app:1.0"

	t.Run("no secret", func(t *testing.T) {
		res := newTestResolver(Options{}).Resolve(ctx, image, nil)
		if res.Outcome != Unauthorized || res.Source != Anonymous || res.Status != http.StatusUnauthorized {
			t.Fatalf("%s", res.Attempt)
		}
	})
	t.Run("right secret", func(t *testing.T) {
		res := newTestResolver(Options{}).Resolve(ctx, image, keyringOf(t, pullSecret("regcred", reg.Host, "ci", "s3cret")))
		if res.Outcome != OK || res.Source != "secret shop/regcred" {
			t.Fatalf("%s", res.Attempt)
		}
	})
	t.Run("wrong password names the secret, no anonymous retry", func(t *testing.T) {
		before := reg.AnonymousHeads.Load()
		res := newTestResolver(Options{}).Resolve(ctx, image, keyringOf(t, pullSecret("regcred", reg.Host, "ci", "wrong")))
		if res.Outcome != Unauthorized || res.Source != "secret shop/regcred" {
			t.Fatalf("%s", res.Attempt)
		}
		if n := reg.AnonymousHeads.Load() - before; n != 0 {
			t.Errorf("%d anonymous manifest requests after credentials matched", n)
		}
	})
	t.Run("every matching credential in order, first success wins", func(t *testing.T) {
		kr := keyringOf(t, pullSecret("old", reg.Host, "ci", "expired"), pullSecret("new", reg.Host+"/private", "ci", "s3cret"))
		res := newTestResolver(Options{}).Resolve(ctx, image, kr)
		if res.Outcome != OK || res.Source != "secret shop/new" || len(res.Attempts) != 1 {
			t.Fatalf("%s after %d attempts", res.Attempt, len(res.Attempts))
		}
		kr = keyringOf(t, pullSecret("new", reg.Host, "ci", "s3cret"), pullSecret("old", reg.Host+"/private", "ci", "expired"))
		res = newTestResolver(Options{}).Resolve(ctx, image, kr)
		if res.Outcome != OK || res.Source != "secret shop/new" || len(res.Attempts) != 2 || res.Attempts[0].Source != "secret shop/old" {
			t.Fatalf("%s after %v", res.Attempt, res.Attempts)
		}
	})
	t.Run("node credential registry makes auth failures inconclusive-flagged", func(t *testing.T) {
		res := newTestResolver(Options{NodeCredentialRegistries: []string{"127.0.0.1:*"}}).Resolve(ctx, image, nil)
		if res.Outcome != Unauthorized || !res.NodeCredentials {
			t.Fatalf("%s node=%v", res.Attempt, res.NodeCredentials)
		}
	})
}

func TestResolveFaults(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("team/app:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}}, amd64))
	image := reg.Host + "/team/app:1.0"
	ctx := context.Background()

	t.Run("403", func(t *testing.T) {
		reg.Set(testregistry.Faults{Denied: map[string]bool{"team/app": true}})
		defer reg.Set(testregistry.Faults{})
		if res := newTestResolver(Options{}).Resolve(ctx, image, nil); res.Outcome != Forbidden || res.Status != 403 {
			t.Fatalf("%s", res.Attempt)
		}
	})
	t.Run("503 is inconclusive and not cached", func(t *testing.T) {
		reg.Set(testregistry.Faults{Status: http.StatusServiceUnavailable})
		r := newTestResolver(Options{})
		before := reg.Heads.Load()
		for range 2 {
			if res := r.Resolve(ctx, image, nil); res.Outcome != Unreachable || res.Status != 503 || res.Outcome.Conclusive() {
				t.Fatalf("%s", res.Attempt)
			}
		}
		if n := reg.Heads.Load() - before; n != 2 {
			t.Errorf("%d HEADs for two lookups of a 503: the failure was cached or retried", n)
		}
		reg.Set(testregistry.Faults{})
		if res := r.Resolve(ctx, image, nil); res.Outcome != OK {
			t.Fatalf("after recovery: %s", res.Attempt)
		}
	})
	t.Run("429 pauses the registry for Retry-After", func(t *testing.T) {
		reg.Set(testregistry.Faults{Status: http.StatusTooManyRequests, RetryAfter: "30"})
		now := time.Now()
		clock := func() time.Time { return now }
		r := newTestResolver(Options{Now: clock})
		if res := r.Resolve(ctx, image, nil); res.Outcome != RateLimited || res.Status != 429 {
			t.Fatalf("%s", res.Attempt)
		}
		reg.Set(testregistry.Faults{})
		before := reg.Heads.Load()
		if res := r.Resolve(ctx, image, nil); res.Outcome != RateLimited {
			t.Fatalf("during the pause: %s", res.Attempt)
		}
		if n := reg.Heads.Load() - before; n != 0 {
			t.Errorf("%d requests sent during the Retry-After pause", n)
		}
		now = now.Add(31 * time.Second)
		if res := r.Resolve(ctx, image, nil); res.Outcome != OK {
			t.Fatalf("after the pause: %s", res.Attempt)
		}
	})
	t.Run("stall is timed out within the deadline", func(t *testing.T) {
		reg.Set(testregistry.Faults{Delay: 5 * time.Second})
		defer reg.Set(testregistry.Faults{})
		r := newTestResolver(Options{RequestTimeout: 300 * time.Millisecond})
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		res := r.Resolve(cctx, image, nil)
		if res.Outcome != TimedOut {
			t.Fatalf("%s", res.Attempt)
		}
		if cctx.Err() == nil {
			// Returned before the caller's deadline: the request timeout did it.
			return
		}
	})
	t.Run("registry down", func(t *testing.T) {
		r := newTestResolver(Options{})
		res := r.Resolve(ctx, "127.0.0.1:1/team/app:1.0", nil)
		if res.Outcome != Unreachable || res.Cause == "" {
			t.Fatalf("%s", res.Attempt)
		}
	})
	t.Run("loopback refused unless allowed", func(t *testing.T) {
		r := NewResolver(Options{})
		res := r.Resolve(ctx, image, nil)
		if res.Outcome != Unreachable {
			t.Fatalf("%s", res.Attempt)
		}
	})
}

func TestResolveCaching(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("private/app:1.0", testregistry.Image(t, v1.Config{}, amd64))
	reg.Set(testregistry.Faults{Users: map[string]string{"ci": "s3cret"}})
	ctx := context.Background()
	r := newTestResolver(Options{})
	wrong := keyringOf(t, pullSecret("a", reg.Host, "ci", "wrong"))
	right := keyringOf(t, pullSecret("b", reg.Host, "ci", "s3cret"))

	count := func(f func()) int64 {
		before := reg.Heads.Load()
		f()
		return reg.Heads.Load() - before
	}
	if n := count(func() { r.Resolve(ctx, reg.Host+"/private/app:1.0", wrong) }); n != 1 {
		t.Fatalf("first 401 lookup sent %d HEADs", n)
	}
	if n := count(func() { r.Resolve(ctx, reg.Host+"/private/app:1.0", wrong) }); n != 0 {
		t.Errorf("401 not cached: %d HEADs", n)
	}
	// Another credential is another cache entry: one namespace's access
	// never answers for another's.
	var res Result
	if n := count(func() { res = r.Resolve(ctx, reg.Host+"/private/app:1.0", right) }); n != 1 || res.Outcome != OK {
		t.Errorf("right credential: %d HEADs, %s", n, res.Attempt)
	}
	if res := r.Resolve(ctx, reg.Host+"/private/app:1.0", nil); res.Outcome != Unauthorized {
		t.Errorf("anonymous after a credentialed success: %s", res.Attempt)
	}
	// 404s are cached per credential too.
	if n := count(func() { r.Resolve(ctx, reg.Host+"/private/app:9.9", right) }); n != 1 {
		t.Errorf("404: %d HEADs", n)
	}
	if n := count(func() { r.Resolve(ctx, reg.Host+"/private/app:9.9", right) }); n != 0 {
		t.Errorf("404 not cached: %d HEADs", n)
	}
}

func TestConcurrentLookupsShareOneRequest(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("team/app:1.0", testregistry.Image(t, v1.Config{}, amd64))
	reg.Set(testregistry.Faults{Delay: 100 * time.Millisecond})
	r := newTestResolver(Options{})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := r.Resolve(context.Background(), reg.Host+"/team/app:1.0", nil); res.Outcome != OK {
				errs <- res.Attempt.String()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := reg.Heads.Load(); n != 1 {
		t.Fatalf("100 concurrent lookups of one new image sent %d HEADs, want 1", n)
	}
}

func TestDistinctImagesInParallel(t *testing.T) {
	reg := testregistry.New(t)
	for i := range 5 {
		reg.Push(fmt.Sprintf("team/app%d:1.0", i), testregistry.Image(t, v1.Config{}, amd64))
	}
	const delay = 200 * time.Millisecond
	reg.Set(testregistry.Faults{Delay: delay})
	r := newTestResolver(Options{})
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Resolve(context.Background(), fmt.Sprintf("%s/team/app%d:1.0", reg.Host, i), nil)
		}()
	}
	wg.Wait()
	// Reported, not asserted as a time: the counted assertion is below.
	t.Logf("5 distinct images at %v each took %v in parallel", delay, time.Since(start))
	if n := reg.Heads.Load(); n != 5 {
		t.Fatalf("%d HEADs, want 5", n)
	}
}

func TestInspect(t *testing.T) {
	reg := testregistry.New(t)
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}
	reg.PushIndex("team/multi:1.0", v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, amd64, v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"})
	reg.Push("team/root:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}}, amd64))
	reg.Push("team/nocmd:1.0", testregistry.Image(t, v1.Config{User: "65532"}, arm64))
	r := newTestResolver(Options{})
	ctx := context.Background()
	inspect := func(image string, want ...Platform) *ImageInfo {
		t.Helper()
		res := r.Resolve(ctx, image, nil)
		if res.Outcome != OK {
			t.Fatalf("%s: %s", image, res.Attempt)
		}
		info, err := r.Inspect(ctx, res, want, true)
		if err != nil {
			t.Fatalf("%s: %v", image, err)
		}
		return info
	}
	lin := func(s string) Platform { p, _ := ParsePlatform(s); return p }

	info := inspect(reg.Host+"/team/multi:1.0", lin("linux/amd64"))
	if !info.Index || len(info.Platforms) != 2 || info.Config == nil || info.Config.User != "1000" {
		t.Fatalf("index: %+v", info)
	}
	gets := reg.Gets.Load()
	inspect(reg.Host+"/team/multi:1.0", lin("linux/amd64"))
	if reg.Gets.Load() != gets {
		t.Errorf("content not cached by digest: %d more GETs", reg.Gets.Load()-gets)
	}
	if info := inspect(reg.Host+"/team/multi:1.0", lin("linux/s390x")); info.Config != nil {
		t.Errorf("config for a platform the index lacks: %+v", info.Config)
	}
	info = inspect(reg.Host+"/team/root:1.0", lin("linux/amd64"))
	if info.Index || info.Config == nil || info.Config.User != "" || len(info.Config.Entrypoint) != 1 {
		t.Fatalf("single image: %+v %+v", info, info.Config)
	}
	info = inspect(reg.Host+"/team/nocmd:1.0", lin("linux/amd64"))
	if info.Platforms[0] != lin("linux/arm64") || len(info.Config.Entrypoint)+len(info.Config.Cmd) != 0 {
		t.Fatalf("arm64 no-command image: %+v %+v", info.Platforms, info.Config)
	}
}

func TestPlatformRuns(t *testing.T) {
	cases := []struct {
		node, image string
		want        bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/amd64", "linux/386", true},
		{"linux/386", "linux/amd64", false},
		{"linux/arm64", "linux/arm64", true},
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm64", "linux/arm/v7", true},
		{"linux/arm64", "linux/arm/v5", true},
		{"linux/amd64", "linux/arm64", false},
		{"linux/arm/v7", "linux/arm/v6", true},
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/amd64", "windows/amd64", false},
	}
	for _, c := range cases {
		n, _ := ParsePlatform(c.node)
		i, _ := ParsePlatform(c.image)
		if got := n.Runs(i); got != c.want {
			t.Errorf("%s runs %s = %v, want %v", c.node, c.image, got, c.want)
		}
	}
}
