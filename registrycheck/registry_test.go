package registrycheck

import (
	"encoding/base64"
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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testRegistry is go-containerregistry's in-memory registry behind a
// handler that can demand basic auth, inject statuses, stall, and count
// the manifest requests it receives.
type testRegistry struct {
	t    *testing.T
	srv  *httptest.Server
	host string

	mu       sync.Mutex
	users    map[string]string // user -> password; nil: no auth
	denied   map[string]bool   // repositories that answer 403
	status   int               // when set, every /v2/<repo>/ request answers this
	retryAft string
	delay    time.Duration
	heads    atomic.Int64 // manifest HEAD requests
	gets     atomic.Int64 // manifest GET requests
	anonHead atomic.Int64 // manifest HEADs without credentials
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{t: t, denied: map[string]bool{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		users, denied, status, ra, delay := tr.users, tr.denied, tr.status, tr.retryAft, tr.delay
		tr.mu.Unlock()
		isManifest := strings.Contains(r.URL.Path, "/manifests/") && r.Header.Get("X-Test-Push") == ""
		if isManifest && r.Method == http.MethodHead {
			tr.heads.Add(1)
			if r.Header.Get("Authorization") == "" {
				tr.anonHead.Add(1)
			}
		}
		if isManifest && r.Method == http.MethodGet {
			tr.gets.Add(1)
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if users != nil && r.Header.Get("X-Test-Push") == "" {
			u, p, ok := r.BasicAuth()
			if !ok || users[u] != p {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		if r.URL.Path != "/v2/" && strings.HasPrefix(r.URL.Path, "/v2/") {
			for repo := range denied {
				if strings.HasPrefix(r.URL.Path, "/v2/"+repo+"/") {
					w.WriteHeader(http.StatusForbidden)
					return
				}
			}
			if status != 0 {
				if ra != "" {
					w.Header().Set("Retry-After", ra)
				}
				w.WriteHeader(status)
				return
			}
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

func (tr *testRegistry) set(f func(tr *testRegistry)) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	f(tr)
}

// pushHeader marks the test's own pushes so they bypass auth and faults.
type pushHeader struct{}

func (pushHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Push", "1")
	return http.DefaultTransport.RoundTrip(r)
}

// image builds a small image with the given config.
func testImage(t *testing.T, cfg v1.Config, platform v1.Platform) v1.Image {
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

func (tr *testRegistry) push(repoTag string, img v1.Image) v1.Hash {
	tr.t.Helper()
	ref, err := name.ParseReference(tr.host+"/"+repoTag, name.Insecure)
	if err != nil {
		tr.t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(pushHeader{})); err != nil {
		tr.t.Fatal(err)
	}
	d, _ := img.Digest()
	return d
}

func (tr *testRegistry) pushIndex(repoTag string, platforms ...v1.Platform) {
	tr.t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, p := range platforms {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        testImage(tr.t, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, p),
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	ref, err := name.ParseReference(tr.host+"/"+repoTag, name.Insecure)
	if err != nil {
		tr.t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithTransport(pushHeader{})); err != nil {
		tr.t.Fatal(err)
	}
}

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

func newTestResolver(o Options) *Resolver {
	o.AllowLoopback = true
	return NewResolver(o)
}

// pullSecret builds a dockerconfigjson Secret for host.
func pullSecret(name, host, user, pass string) *corev1.Secret {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"` + host + `":{"auth":"` + auth + `"}}}`)},
	}
}

func keyringOf(t *testing.T, secrets ...*corev1.Secret) *Keyring {
	t.Helper()
	kr := NewKeyring()
	for _, s := range secrets {
		if err := kr.AddSecret(s); err != nil {
			t.Fatal(err)
		}
	}
	return kr
}
