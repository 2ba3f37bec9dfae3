package registrycheck

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nobackoff/nobackoff/internal/testregistry"
)

func TestGuardAddress(t *testing.T) {
	cases := []struct {
		addr     string
		loopback bool
		refused  bool
	}{
		{"10.1.2.3:443", false, false},
		{"203.0.113.7:5000", false, false},
		{"169.254.169.254:80", true, true},
		{"169.254.10.1:443", true, true},
		{"[fe80::1]:443", true, true},
		{"[fd00:ec2::254]:80", true, true},
		{"100.100.100.200:80", true, true},
		{"127.0.0.1:5000", false, true},
		{"127.0.0.1:5000", true, false},
		{"[::1]:5000", false, true},
		{"[::ffff:169.254.169.254]:80", true, true},
		{"0.0.0.0:5000", true, true},
	}
	for _, c := range cases {
		err := guardAddress(c.addr, c.loopback)
		if (err != nil) != c.refused {
			t.Errorf("guardAddress(%s, loopback=%v) = %v, want refused=%v", c.addr, c.loopback, err, c.refused)
		}
	}
}

func TestMirrors(t *testing.T) {
	upstream, mirror := testregistry.New(t), testregistry.New(t)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	upstream.Push("team/app:1.0", testregistry.Image(t, v1.Config{}, amd64))
	upstream.Push("team/app:2.0", testregistry.Image(t, v1.Config{}, amd64))
	mirror.Push("team/app:1.0", testregistry.Image(t, v1.Config{}, amd64))
	r := newTestResolver(Options{Mirrors: map[string][]string{upstream.Host: {mirror.Host}}})
	ctx := context.Background()

	res := r.Resolve(ctx, upstream.Host+"/team/app:1.0", nil)
	if res.Outcome != OK || res.Registry != mirror.Host || upstream.Heads.Load() != 0 {
		t.Fatalf("mirror hit: %s, upstream HEADs %d", res.Attempt, upstream.Heads.Load())
	}
	res = r.Resolve(ctx, upstream.Host+"/team/app:2.0", nil)
	if res.Outcome != OK || res.Registry != upstream.Host {
		t.Fatalf("mirror miss falls back to the registry: %s", res.Attempt)
	}
}

func TestCacheExpiry(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("team/app:1.0", testregistry.Image(t, v1.Config{}, v1.Platform{OS: "linux", Architecture: "amd64"}))
	now := time.Now()
	r := newTestResolver(Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	lookups := func(image string) int64 {
		before := reg.Heads.Load()
		r.Resolve(ctx, reg.Host+image, nil)
		return reg.Heads.Load() - before
	}
	for _, c := range []struct {
		image  string
		within time.Duration // still cached
		after  time.Duration // expired
	}{
		{"/team/app:1.0", 2 * time.Minute, 3 * time.Minute},   // ok by tag: 3 min
		{"/team/app:9.9", 20 * time.Second, 30 * time.Second}, // not found: 30 s
	} {
		if n := lookups(c.image); n != 1 {
			t.Fatalf("%s: first lookup sent %d HEADs", c.image, n)
		}
		now = now.Add(c.within)
		if n := lookups(c.image); n != 0 {
			t.Errorf("%s: expired before %v", c.image, c.within)
		}
		now = now.Add(c.after - c.within)
		if n := lookups(c.image); n != 1 {
			t.Errorf("%s: still cached after %v", c.image, c.after)
		}
	}
}

func TestTimeoutsNotCached(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("team/app:1.0", testregistry.Image(t, v1.Config{}, v1.Platform{OS: "linux", Architecture: "amd64"}))
	reg.Set(testregistry.Faults{Delay: 2 * time.Second})
	r := newTestResolver(Options{RequestTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	if res := r.Resolve(ctx, reg.Host+"/team/app:1.0", nil); res.Outcome != TimedOut {
		t.Fatalf("%s", res.Attempt)
	}
	reg.Set(testregistry.Faults{})
	if res := r.Resolve(ctx, reg.Host+"/team/app:1.0", nil); res.Outcome != OK {
		t.Fatalf("after the stall: %s (a timeout was cached)", res.Attempt)
	}
}

// TestSourceIsTheCallers: two namespaces whose secrets hold the same
// credentials share the cache, but each sees its own secret named.
func TestSourceIsTheCallers(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("private/app:1.0", testregistry.Image(t, v1.Config{}, v1.Platform{OS: "linux", Architecture: "amd64"}))
	reg.Set(testregistry.Faults{Users: map[string]string{"ci": "s3cret"}})
	r := newTestResolver(Options{})
	a := pullSecret("team-a-secret", reg.Host, "ci", "s3cret")
	b := pullSecret("team-b-secret", reg.Host, "ci", "s3cret")
	b.Namespace = "team-b"
	if res := r.Resolve(context.Background(), reg.Host+"/private/app:1.0", keyringOf(t, a)); res.Source != "secret shop/team-a-secret" {
		t.Fatalf("a: %s", res.Attempt)
	}
	if res := r.Resolve(context.Background(), reg.Host+"/private/app:1.0", keyringOf(t, b)); res.Source != "secret team-b/team-b-secret" || res.Outcome != OK {
		t.Fatalf("b sees %s", res.Attempt)
	}
}

func TestPlainHTTPOnlyWhereAllowed(t *testing.T) {
	r := NewResolver(Options{InsecureRegistries: []string{"10.0.0.6:5000"}})
	for _, c := range []struct {
		url     string
		refused bool
	}{
		{"http://10.0.0.5:5000/v2/", true},
		{"http://registry.internal/v2/", true},
	} {
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		_, err := r.secure.RoundTrip(req)
		var aerr *AddressError
		if errors.As(err, &aerr) != c.refused {
			t.Errorf("%s: err %v, want refused=%v", c.url, err, c.refused)
		}
	}
	// A host configured as insecure may be reached over HTTP: the request
	// gets past the scheme rule (and fails to connect, nothing listens).
	req, _ := http.NewRequest(http.MethodGet, "http://10.0.0.6:5000/v2/", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := r.unverify.RoundTrip(req.WithContext(ctx))
	var aerr *AddressError
	if errors.As(err, &aerr) && strings.Contains(aerr.Reason, "plain HTTP") {
		t.Errorf("configured insecure registry refused: %v", err)
	}
}

func TestProxyEnvironmentIgnored(t *testing.T) {
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		proxied.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer proxy.Close()
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("HTTP_PROXY", proxy.URL)
	res := NewResolver(Options{}).Resolve(context.Background(), "169.254.169.254/team/app:1.0", nil)
	if res.Outcome != Unreachable || proxied.Load() != 0 {
		t.Fatalf("%s, proxy saw %d requests", res.Attempt, proxied.Load())
	}
}

func TestMirrorGetsOnlyItsOwnCredentials(t *testing.T) {
	upstream, mirror := testregistry.New(t), testregistry.New(t)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	upstream.Push("private/app:1.0", testregistry.Image(t, v1.Config{}, amd64))
	mirror.Push("private/app:1.0", testregistry.Image(t, v1.Config{}, amd64))
	r := newTestResolver(Options{Mirrors: map[string][]string{upstream.Host: {mirror.Host}}})
	res := r.Resolve(context.Background(), upstream.Host+"/private/app:1.0", keyringOf(t, pullSecret("regcred", upstream.Host, "ci", "s3cret")))
	if res.Outcome != OK || res.Registry != mirror.Host {
		t.Fatalf("%s", res.Attempt)
	}
	if mirror.AnonymousHeads.Load() != mirror.Heads.Load() {
		t.Fatalf("the mirror received the upstream registry's credentials (%d of %d HEADs)", mirror.Heads.Load()-mirror.AnonymousHeads.Load(), mirror.Heads.Load())
	}
}

func TestNotFoundRefinementShared(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("team/app:1.0", testregistry.Image(t, v1.Config{}, v1.Platform{OS: "linux", Architecture: "amd64"}))
	reg.Set(testregistry.Faults{Delay: 50 * time.Millisecond})
	r := newTestResolver(Options{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := r.Resolve(context.Background(), reg.Host+"/team/app:1.1", nil); res.Outcome != TagNotFound || res.Suggestion != "1.0" {
				t.Errorf("%s suggestion %q", res.Attempt, res.Suggestion)
			}
		}()
	}
	wg.Wait()
	if n := reg.TagLists.Load(); n != 1 {
		t.Fatalf("50 concurrent lookups of one missing tag listed tags %d times, want 1", n)
	}
	r.Resolve(context.Background(), reg.Host+"/team/app:1.1", nil)
	if n := reg.TagLists.Load(); n != 1 {
		t.Fatalf("refinement not cached: %d listings", n)
	}
}

func TestPreferredChild(t *testing.T) {
	p := func(s string) Platform { v, _ := ParsePlatform(s); return v }
	haves := []Platform{p("linux/arm/v7"), p("linux/arm64"), p("linux/386"), p("linux/amd64")}
	for want, exp := range map[string]string{"linux/arm64": "linux/arm64", "linux/amd64": "linux/amd64", "linux/arm/v7": "linux/arm/v7"} {
		if got, ok := preferred(p(want), haves); !ok || got != p(exp) {
			t.Errorf("%s picks %v, want %s", want, got, exp)
		}
	}
	if got, _ := preferred(p("linux/arm64"), []Platform{p("linux/arm/v7")}); got != p("linux/arm/v7") {
		t.Errorf("arm64 without an arm64 entry picks %v", got)
	}
}

// TestCachedUntil: an image found says until when the cache answers the
// same; the earliest of the attempts made counts, and other outcomes say
// nothing.
func TestCachedUntil(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("team/app:1.0", testregistry.Image(t, v1.Config{}, v1.Platform{OS: "linux", Architecture: "amd64"}))
	start := time.Now()
	now := start
	r := newTestResolver(Options{Now: func() time.Time { return now }})
	ctx := context.Background()

	first := r.Resolve(ctx, reg.Host+"/team/app:1.0", nil)
	if first.Outcome != OK || !first.CachedUntil().Equal(start.Add(ttlOKByTag)) {
		t.Fatalf("fresh lookup: %s until %v, want ok until %v", first.Outcome, first.CachedUntil(), start.Add(ttlOKByTag))
	}
	now = now.Add(time.Minute)
	if again := r.Resolve(ctx, reg.Host+"/team/app:1.0", nil); !again.CachedUntil().Equal(first.CachedUntil()) {
		t.Errorf("cached lookup until %v, want the entry's %v", again.CachedUntil(), first.CachedUntil())
	}
	if missing := r.Resolve(ctx, reg.Host+"/team/app:9.9", nil); missing.Outcome != TagNotFound || !missing.CachedUntil().IsZero() {
		t.Errorf("missing tag: %s until %v, want no time", missing.Outcome, missing.CachedUntil())
	}
	// A credential that failed before the one that worked limits the
	// answer to its own, shorter, time in the cache.
	kr := NewKeyring()
	if err := kr.AddDockerConfig([]byte(`{"auths":{"`+reg.Host+`/team/app":{"username":"a","password":"b"},"`+reg.Host+`":{"username":"c","password":"d"}}}`), "test"); err != nil {
		t.Fatal(err)
	}
	reg.Set(testregistry.Faults{Users: map[string]string{"c": "d"}})
	mixed := r.Resolve(ctx, reg.Host+"/team/app:1.0", kr)
	if mixed.Outcome != OK || len(mixed.Attempts) != 2 || !mixed.CachedUntil().Equal(now.Add(ttlAuthFailure)) {
		t.Errorf("second credential: %s after %d attempts until %v, want ok until %v", mixed.Outcome, len(mixed.Attempts), mixed.CachedUntil(), now.Add(ttlAuthFailure))
	}
}
