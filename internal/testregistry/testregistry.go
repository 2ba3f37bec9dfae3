// Package testregistry runs go-containerregistry's in-memory registry on
// loopback for tests, behind a handler that can demand basic auth, deny
// repositories, inject statuses, stall, and count the manifest requests it
// receives. Images are pushed with go-containerregistry.
package testregistry

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is a test registry. Its fields are changed with Set.
type Registry struct {
	t testing.TB
	// Host is host:port.
	Host string

	mu     sync.Mutex
	users  map[string]string
	denied map[string]bool
	status int
	retry  string
	delay  time.Duration

	// Heads, Gets and AnonymousHeads count manifest requests other than
	// the test's own pushes; TagLists counts tag listings; MaxInFlight is
	// the most manifest requests seen at once.
	Heads, Gets, AnonymousHeads, TagLists, MaxInFlight atomic.Int64
	inFlight                                           atomic.Int64
	// Requests counts every request but the test's own pushes.
	Requests atomic.Int64
}

// Faults are the registry's behaviours.
type Faults struct {
	// Users demands basic auth with these user/password pairs; nil: none.
	Users map[string]string
	// Denied repositories answer 403.
	Denied map[string]bool
	// Status, when set, answers every repository request with it, with
	// RetryAfter as the Retry-After header when set.
	Status     int
	RetryAfter string
	// Delay stalls every request.
	Delay time.Duration
}

const pushHeader = "X-Testregistry-Push"

// New starts a registry and stops it when the test ends.
func New(t testing.TB) *Registry {
	t.Helper()
	r := &Registry{t: t, denied: map[string]bool{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		users, denied, status, retry, delay := r.users, r.denied, r.status, r.retry, r.delay
		r.mu.Unlock()
		push := req.Header.Get(pushHeader) != ""
		if !push {
			r.Requests.Add(1)
		}
		if strings.HasSuffix(req.URL.Path, "/tags/list") && !push {
			r.TagLists.Add(1)
		}
		if strings.Contains(req.URL.Path, "/manifests/") && !push {
			n := r.inFlight.Add(1)
			defer r.inFlight.Add(-1)
			for {
				m := r.MaxInFlight.Load()
				if n <= m || r.MaxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
			switch req.Method {
			case http.MethodHead:
				r.Heads.Add(1)
				if req.Header.Get("Authorization") == "" {
					r.AnonymousHeads.Add(1)
				}
			case http.MethodGet:
				r.Gets.Add(1)
			}
		}
		if delay > 0 && !push {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		if users != nil && !push {
			u, p, ok := req.BasicAuth()
			if !ok || users[u] != p {
				w.Header().Set("WWW-Authenticate", `Basic realm="testregistry"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		if req.URL.Path != "/v2/" && strings.HasPrefix(req.URL.Path, "/v2/") && !push {
			for repo := range denied {
				if strings.HasPrefix(req.URL.Path, "/v2/"+repo+"/") {
					w.WriteHeader(http.StatusForbidden)
					return
				}
			}
			if status != 0 {
				if retry != "" {
					w.Header().Set("Retry-After", retry)
				}
				w.WriteHeader(status)
				return
			}
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// Set replaces the registry's faults.
func (r *Registry) Set(f Faults) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users, r.status, r.retry, r.delay = f.Users, f.Status, f.RetryAfter, f.Delay
	r.denied = f.Denied
	if r.denied == nil {
		r.denied = map[string]bool{}
	}
}

type pushTransport struct{}

func (pushTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(pushHeader, "1")
	return http.DefaultTransport.RoundTrip(req)
}

// Image builds a small image with the given config for a platform.
func Image(t testing.TB, cfg v1.Config, platform v1.Platform) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		OS: platform.OS, Architecture: platform.Architecture, Variant: platform.Variant, Config: cfg,
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Push writes an image as repo:tag and returns its digest.
func (r *Registry) Push(repoTag string, img v1.Image) v1.Hash {
	r.t.Helper()
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(pushTransport{})); err != nil {
		r.t.Fatal(err)
	}
	d, _ := img.Digest()
	return d
}

// PushIndex writes a multi-platform index of images with cfg, one per
// platform.
func (r *Registry) PushIndex(repoTag string, cfg v1.Config, platforms ...v1.Platform) {
	r.t.Helper()
	idx := Index(r.t, cfg, platforms...)
	ref, err := name.ParseReference(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithTransport(pushTransport{})); err != nil {
		r.t.Fatal(err)
	}
}

// Index builds a multi-platform index of images with cfg, one per platform.
func Index(t testing.TB, cfg v1.Config, platforms ...v1.Platform) v1.ImageIndex {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, p := range platforms {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: Image(t, cfg, p), Descriptor: v1.Descriptor{Platform: &p}})
	}
	return idx
}
