package registrycheck

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// servedContent is what hostileRegistry answers for one manifest or blob.
type servedContent struct {
	mediaType string
	body      []byte
	// digest is sent as Docker-Content-Digest instead of the body's.
	digest string
	// headLength is the Content-Length a HEAD declares instead of the
	// body's length (-1: the body's; 0 is sent as 0).
	headLength int64
	// get, when set, writes the GET answer instead of body.
	get func(w http.ResponseWriter, r *http.Request)
}

// hostileRegistry is a registry on loopback that serves hand-made
// manifests and blobs, honest or not, and counts the GETs it receives.
type hostileRegistry struct {
	Host                     string
	manifestGets, blobGets   atomic.Int64
	mu                       sync.Mutex
	manifests, blobs         map[string]servedContent // by tag or digest; by digest
	tags                     func(w http.ResponseWriter, r *http.Request)
	handlersDone, abandoned  atomic.Int64
	handlersStarted, written atomic.Int64
}

func newHostileRegistry(t *testing.T) *hostileRegistry {
	t.Helper()
	h := &hostileRegistry{manifests: map[string]servedContent{}, blobs: map[string]servedContent{}}
	srv := httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(srv.Close)
	h.Host = strings.TrimPrefix(srv.URL, "http://")
	return h
}

func (h *hostileRegistry) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v2/" {
		return
	}
	if strings.HasSuffix(r.URL.Path, "/tags/list") && h.tags != nil {
		h.handlersStarted.Add(1)
		defer h.handlersDone.Add(1)
		h.tags(w, r)
		return
	}
	var set map[string]servedContent
	var count *atomic.Int64
	var ref string
	if i := strings.LastIndex(r.URL.Path, "/manifests/"); i >= 0 {
		set, count, ref = h.manifests, &h.manifestGets, r.URL.Path[i+len("/manifests/"):]
	} else if i := strings.LastIndex(r.URL.Path, "/blobs/"); i >= 0 {
		set, count, ref = h.blobs, &h.blobGets, r.URL.Path[i+len("/blobs/"):]
	}
	h.mu.Lock()
	c, ok := set[ref]
	h.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	digest := c.digest
	if digest == "" {
		digest = digestOf(c.body)
	}
	w.Header().Set("Content-Type", c.mediaType)
	w.Header().Set("Docker-Content-Digest", digest)
	if r.Method == http.MethodHead {
		n := int64(len(c.body))
		if c.headLength >= 0 {
			n = c.headLength
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		return
	}
	count.Add(1)
	if c.get != nil {
		h.handlersStarted.Add(1)
		defer h.handlersDone.Add(1)
		c.get(w, r)
		if r.Context().Err() != nil {
			h.abandoned.Add(1)
		}
		return
	}
	w.Write(c.body)
}

func (h *hostileRegistry) manifest(refs []string, c servedContent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ref := range refs {
		h.manifests[ref] = c
	}
}

func (h *hostileRegistry) blob(digest string, c servedContent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.blobs[digest] = c
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

const (
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociIndex    = "application/vnd.oci.image.index.v1+json"
	ociConfig   = "application/vnd.oci.image.config.v1+json"
)

func imageManifestJSON(configDigest string, configSize int64) []byte {
	return fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[]}`,
		ociManifest, ociConfig, configDigest, configSize)
}

func indexJSON(childDigest string, childSize int64) []byte {
	return fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"amd64"}}]}`,
		ociIndex, ociManifest, childDigest, childSize)
}

// endless writes zeros until the client goes away.
func endless(contentLength int64) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentLength > 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(contentLength, 10))
		}
		buf := make([]byte, 32<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}
}

// trickle declares n bytes and sends one every interval.
func trickle(n int, interval time.Duration) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.WriteHeader(http.StatusOK)
		for range n {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(interval):
			}
			if _, err := w.Write([]byte{'{'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
}

// allocated is how many bytes the process allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

const gib = 1 << 30

// TestInspectBoundedContent: a registry declaring, or sending, content no
// image has, or sending it too slowly, ends the read with an inconclusive
// outcome, and the process allocates a bounded amount whatever it
// declared.
func TestInspectBoundedContent(t *testing.T) {
	configDigest := digestOf([]byte("a config nobody will read"))
	honestConfig := []byte(`{"architecture":"amd64","os":"linux","config":{"User":"1000"}}`)
	cases := []struct {
		name  string
		setup func(h *hostileRegistry)
		want  Outcome
		// tooLarge is the limit a *ContentTooLargeError must report, 0
		// when none is expected.
		tooLarge int64
		// manifestGets and blobGets are the GETs the registry must have
		// received (-1: any).
		manifestGets, blobGets int64
		// maxAlloc bounds what the process may allocate meanwhile.
		maxAlloc uint64
	}{
		{
			name: "manifest declares a 1 GiB config blob",
			setup: func(h *hostileRegistry) {
				m := imageManifestJSON(configDigest, gib)
				h.manifest([]string{"1.0", digestOf(m)}, servedContent{mediaType: ociManifest, body: m, headLength: -1})
				h.blob(configDigest, servedContent{get: endless(gib)})
			},
			want: Unreachable, tooLarge: maxConfigBytes, manifestGets: 1, blobGets: 0, maxAlloc: 1 << 20,
		},
		{
			name: "config blob sends a 1 GiB Content-Length for 1000 declared bytes",
			setup: func(h *hostileRegistry) {
				m := imageManifestJSON(configDigest, 1000)
				h.manifest([]string{"1.0", digestOf(m)}, servedContent{mediaType: ociManifest, body: m, headLength: -1})
				h.blob(configDigest, servedContent{get: endless(gib)})
			},
			want: Unreachable, tooLarge: 1000, manifestGets: 1, blobGets: 1, maxAlloc: 1 << 20,
		},
		{
			name: "config blob streams without end for 1000 declared bytes",
			setup: func(h *hostileRegistry) {
				m := imageManifestJSON(configDigest, 1000)
				h.manifest([]string{"1.0", digestOf(m)}, servedContent{mediaType: ociManifest, body: m, headLength: -1})
				h.blob(configDigest, servedContent{get: endless(0)})
			},
			want: Unreachable, tooLarge: 1000, manifestGets: 1, blobGets: 1, maxAlloc: 1 << 20,
		},
		{
			name: "HEAD declares a 1 GiB manifest",
			setup: func(h *hostileRegistry) {
				d := digestOf([]byte("a manifest nobody will read"))
				h.manifest([]string{"1.0", d}, servedContent{mediaType: ociManifest, digest: d, headLength: gib, get: endless(gib)})
			},
			want: Unreachable, tooLarge: maxManifestBytes, manifestGets: 0, blobGets: 0, maxAlloc: 1 << 20,
		},
		{
			name: "manifest streams without end after a HEAD of 300 bytes",
			setup: func(h *hostileRegistry) {
				d := digestOf([]byte("a manifest nobody will read"))
				h.manifest([]string{"1.0", d}, servedContent{mediaType: ociManifest, digest: d, headLength: 300, get: endless(0)})
			},
			want: Unreachable, tooLarge: 300, manifestGets: 1, blobGets: 0, maxAlloc: 1 << 20,
		},
		{
			name: "manifest streams without end after a HEAD without a size",
			setup: func(h *hostileRegistry) {
				d := digestOf([]byte("a manifest nobody will read"))
				h.manifest([]string{"1.0", d}, servedContent{mediaType: ociManifest, digest: d, headLength: 0, get: endless(0)})
			},
			// Read up to the cap, no further: what go-containerregistry
			// allocates while reading 4 MiB (its buffer grows by a
			// quarter at a time: up to five times the bytes read), not
			// its own 100 MiB limit.
			want: Unreachable, tooLarge: maxManifestBytes, manifestGets: 1, blobGets: 0, maxAlloc: 6 * maxManifestBytes,
		},
		{
			name: "manifest sends a 1 GiB Content-Length after a HEAD without a size",
			setup: func(h *hostileRegistry) {
				d := digestOf([]byte("a manifest nobody will read"))
				h.manifest([]string{"1.0", d}, servedContent{mediaType: ociManifest, digest: d, headLength: 0, get: endless(gib)})
			},
			want: Unreachable, tooLarge: maxManifestBytes, manifestGets: 1, blobGets: 0, maxAlloc: 1 << 20,
		},
		{
			name: "index streams without end after a HEAD without a size",
			setup: func(h *hostileRegistry) {
				d := digestOf([]byte("an index nobody will read"))
				h.manifest([]string{"1.0", d}, servedContent{mediaType: ociIndex, digest: d, headLength: 0, get: endless(0)})
			},
			want: Unreachable, tooLarge: maxManifestBytes, manifestGets: 1, blobGets: 0, maxAlloc: 6 * maxManifestBytes,
		},
		{
			name: "index declares a 1 GiB child manifest",
			setup: func(h *hostileRegistry) {
				child := digestOf([]byte("a child nobody will read"))
				idx := indexJSON(child, gib)
				h.manifest([]string{"1.0", digestOf(idx)}, servedContent{mediaType: ociIndex, body: idx, headLength: -1})
				h.manifest([]string{child}, servedContent{mediaType: ociManifest, digest: child, headLength: gib, get: endless(gib)})
			},
			want: Unreachable, tooLarge: maxManifestBytes, manifestGets: 1, blobGets: 0, maxAlloc: 1 << 20,
		},
		{
			name: "config blob trickles past the budget",
			setup: func(h *hostileRegistry) {
				m := imageManifestJSON(configDigest, 1000)
				h.manifest([]string{"1.0", digestOf(m)}, servedContent{mediaType: ociManifest, body: m, headLength: -1})
				h.blob(configDigest, servedContent{get: trickle(1000, 20*time.Millisecond)})
			},
			want: TimedOut, manifestGets: 1, blobGets: 1, maxAlloc: 1 << 20,
		},
		{
			name: "manifest trickles past the budget",
			setup: func(h *hostileRegistry) {
				d := digestOf([]byte("a manifest nobody will read"))
				h.manifest([]string{"1.0", d}, servedContent{mediaType: ociManifest, digest: d, headLength: 1000, get: trickle(1000, 20*time.Millisecond)})
			},
			want: TimedOut, manifestGets: 1, blobGets: 0, maxAlloc: 1 << 20,
		},
		{
			name: "an honest image within the limits",
			setup: func(h *hostileRegistry) {
				m := imageManifestJSON(digestOf(honestConfig), int64(len(honestConfig)))
				h.manifest([]string{"1.0", digestOf(m)}, servedContent{mediaType: ociManifest, body: m, headLength: -1})
				h.blob(digestOf(honestConfig), servedContent{body: honestConfig})
			},
			want: OK, manifestGets: 1, blobGets: 1, maxAlloc: 1 << 20,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHostileRegistry(t)
			c.setup(h)
			// The budget is what a trickle must not outlast.
			r := newTestResolver(Options{LookupTimeout: 500 * time.Millisecond})
			ctx := context.Background()
			res := r.Resolve(ctx, h.Host+"/team/app:1.0", nil)
			if res.Outcome != OK {
				t.Fatalf("resolve: %s", res.Attempt)
			}
			var info *ImageInfo
			var err error
			n := allocated(func() {
				info, err = r.Inspect(ctx, res, []Platform{{OS: "linux", Architecture: "amd64"}}, true)
			})
			t.Logf("allocated %d KiB", n>>10)
			if n > c.maxAlloc {
				t.Errorf("allocated %d bytes while inspecting, want at most %d", n, c.maxAlloc)
			}
			if got, want := h.manifestGets.Load(), c.manifestGets; want >= 0 && got != want {
				t.Errorf("%d manifest GETs, want %d", got, want)
			}
			if got, want := h.blobGets.Load(), c.blobGets; want >= 0 && got != want {
				t.Errorf("%d blob GETs, want %d", got, want)
			}
			if c.want == OK {
				if err != nil || info.Config == nil || info.Config.User != "1000" {
					t.Fatalf("honest image: %+v, %v", info, err)
				}
				return
			}
			var ierr *InspectError
			if !errors.As(err, &ierr) {
				t.Fatalf("error %v (%T) is not an *InspectError", err, err)
			}
			if ierr.Outcome != c.want || ierr.Outcome.Conclusive() {
				t.Errorf("outcome %s, want %s (%v)", ierr.Outcome, c.want, err)
			}
			var lerr *ContentTooLargeError
			switch {
			case c.tooLarge == 0 && errors.As(err, &lerr):
				t.Errorf("unexpected %v", lerr)
			case c.tooLarge != 0 && !errors.As(err, &lerr):
				t.Errorf("error %v is not a *ContentTooLargeError", err)
			case c.tooLarge != 0 && lerr.Limit != c.tooLarge:
				t.Errorf("refused at a limit of %d bytes, want %d", lerr.Limit, c.tooLarge)
			}
			// Whatever the registry was still sending, the read was
			// abandoned rather than waited out: every streaming answer
			// it started has ended.
			deadline := time.Now().Add(5 * time.Second)
			for h.handlersDone.Load() != h.handlersStarted.Load() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if done, started := h.handlersDone.Load(), h.handlersStarted.Load(); done != started {
				t.Errorf("%d of %d streaming answers still being sent", started-done, started)
			}
		})
	}
}

// TestInspectErrorsAreInconclusive: a conclusive-looking answer to a
// content read (the manifest the HEAD found now answers 404) is still
// reported inconclusive, never as a prediction.
func TestInspectErrorsAreInconclusive(t *testing.T) {
	h := newHostileRegistry(t)
	m := imageManifestJSON(digestOf([]byte("x")), 1)
	h.manifest([]string{"1.0"}, servedContent{mediaType: ociManifest, body: m, headLength: -1})
	r := newTestResolver(Options{})
	res := r.Resolve(context.Background(), h.Host+"/team/app:1.0", nil)
	if res.Outcome != OK {
		t.Fatalf("resolve: %s", res.Attempt)
	}
	_, err := r.Inspect(context.Background(), res, nil, false)
	var ierr *InspectError
	if !errors.As(err, &ierr) || ierr.Outcome != Unreachable || ierr.Status != http.StatusNotFound {
		t.Fatalf("got %v, want an inconclusive *InspectError with status 404", err)
	}
}

func TestReadLimit(t *testing.T) {
	cases := []struct {
		declared, limit, want int64
		refused               bool
	}{
		{declared: 0, limit: 100, want: 100},
		{declared: -1, limit: 100, want: 100},
		{declared: 40, limit: 100, want: 40},
		{declared: 100, limit: 100, want: 100},
		{declared: 101, limit: 100, refused: true},
		{declared: gib, limit: maxConfigBytes, refused: true},
	}
	for _, c := range cases {
		n, err := readLimit("x", c.declared, c.limit)
		var lerr *ContentTooLargeError
		if refused := errors.As(err, &lerr); refused != c.refused || (!refused && n != c.want) {
			t.Errorf("readLimit(%d, %d) = %d, %v; want %d refused=%v", c.declared, c.limit, n, err, c.want, c.refused)
		}
	}
}

// TestTagListBounded: a registry that answers a missing tag with a tag
// list that never ends costs a bounded read, and the HEAD's answer
// stands.
func TestTagListBounded(t *testing.T) {
	h := newHostileRegistry(t)
	h.tags = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"name":"team/app","tags":["1.0"`))
		buf := []byte(strings.Repeat(`,"1.0"`, 8<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}
	r := newTestResolver(Options{LookupTimeout: 500 * time.Millisecond})
	var res Result
	n := allocated(func() { res = r.Resolve(context.Background(), h.Host+"/team/app:1.1", nil) })
	t.Logf("allocated %d KiB", n>>10)
	if res.Outcome != TagNotFound || res.Suggestion != "" {
		t.Errorf("%s, suggestion %q; want tag-not-found without a suggestion", res.Attempt, res.Suggestion)
	}
	if n > 8*maxOtherBytes {
		t.Errorf("allocated %d bytes, want at most %d", n, 8*maxOtherBytes)
	}
}
