package registrycheck

import (
	"context"
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
