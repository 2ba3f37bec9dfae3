package registrycheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Size limits on what is read from registries. A registry is chosen by
// whoever writes the pod, so what it sends, and what its manifests declare,
// is not trusted: no read may make the process allocate more than these,
// whatever size is declared.
const (
	// maxManifestBytes bounds a manifest or an index. distribution's
	// registry refuses to store a manifest over 4 MiB and containerd
	// refuses to resolve one over 4*1048*1048 bytes, so no image a node
	// can pull has a bigger one; a large real index (dozens of platforms
	// with attestations) is a few tens of KiB.
	maxManifestBytes = 4 << 20
	// maxConfigBytes bounds an image configuration blob. CRI-O
	// (containers/image) refuses configurations over 4 MiB; real ones are
	// a few KiB, tens with a long history.
	maxConfigBytes = 4 << 20
	// maxOtherBytes bounds every other response body: a page of tags or
	// repositories (the 1000 names asked for fit in about 260 KiB, with
	// room for registries that ignore the page size), token answers and
	// error documents.
	maxOtherBytes = 1 << 20
	// maxContentInFlight bounds the bytes all lookups together may be
	// reading from registries at once, so that many pods naming many
	// registries cannot add their reads up to an out-of-memory kill: 16
	// reads at the largest size allowed, thousands of ordinary ones.
	// Decoding may briefly hold about twice what is read.
	maxContentInFlight = 64 << 20
)

// ContentTooLargeError is registry content nobackoff refused to read: it
// declared a size over the limit no real image needs, or sent more bytes
// than it declared or than that limit.
type ContentTooLargeError struct {
	// What was being read: "manifest", "config blob", "response body".
	What string
	// Declared is the size the registry or a manifest declared, -1 when
	// the excess was found while reading.
	Declared int64
	// Limit is the number of bytes nobackoff was prepared to read.
	Limit int64
}

func (e *ContentTooLargeError) Error() string {
	if e.Declared >= 0 {
		return fmt.Sprintf("%s of %d bytes refused: over the %d-byte limit", e.What, e.Declared, e.Limit)
	}
	return fmt.Sprintf("%s refused: more than the %d bytes expected", e.What, e.Limit)
}

// readLimit decides how many bytes of one piece of content to read: its
// declared size when it declared one, else the kind's limit. A declared
// size over the limit is refused before any request is made.
func readLimit(what string, declared, limit int64) (int64, error) {
	switch {
	case declared > limit:
		return 0, &ContentTooLargeError{What: what, Declared: declared, Limit: limit}
	case declared > 0:
		// Content is fetched by digest, so its length is fixed: a registry
		// sending more than it declared is wrong (containerd, too, fails
		// the pull on a size mismatch).
		return declared, nil
	}
	return limit, nil
}

// reading takes what one content read needs: a connection slot on the
// registry and n bytes of the process-wide content budget. Both are
// waited for within ctx.
func (r *Resolver) reading(ctx context.Context, host string, n int64) (func(), error) {
	release, err := r.acquire(ctx, host)
	if err != nil {
		return nil, err
	}
	if err := r.contentBudget.Acquire(ctx, n); err != nil {
		release()
		return nil, err
	}
	return func() {
		r.contentBudget.Release(n)
		release()
	}, nil
}

type contentLimitKey struct{}

type contentLimit struct {
	what string
	n    int64
}

// withContentLimit makes the content requests (manifests, blobs and the
// redirects they lead to) made with ctx read at most n bytes.
// go-containerregistry reads bodies itself, so the limit travels with the
// request to the transport, which enforces it.
func withContentLimit(ctx context.Context, what string, n int64) context.Context {
	return context.WithValue(ctx, contentLimitKey{}, contentLimit{what: what, n: n})
}

// bodyLimit is what the transport lets a response body be. Token and
// listing requests made on behalf of a content read keep their own limit:
// a token may be larger than a small manifest.
func bodyLimit(req *http.Request) contentLimit {
	content := strings.Contains(req.URL.Path, "/manifests/") || strings.Contains(req.URL.Path, "/blobs/") ||
		req.Response != nil // a redirect, e.g. of a blob to its storage
	if content {
		if l, ok := req.Context().Value(contentLimitKey{}).(contentLimit); ok {
			return l
		}
		if strings.Contains(req.URL.Path, "/manifests/") {
			return contentLimit{what: "manifest", n: maxManifestBytes}
		}
		return contentLimit{what: "blob", n: maxConfigBytes}
	}
	return contentLimit{what: "response body", n: maxOtherBytes}
}

// boundedBodies is the transport layer that holds every response body to
// its limit: a body declaring a larger Content-Length is refused unread,
// and one that keeps sending is cut at the limit. Reads also end with the
// request's context, so a registry trickling bytes cannot hold a lookup
// past its budget.
type boundedBodies struct {
	inner http.RoundTripper
}

func (b boundedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.inner.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead {
		return resp, err
	}
	l := bodyLimit(req)
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if ok && resp.ContentLength > l.n {
		resp.Body.Close()
		return nil, &ContentTooLargeError{What: l.what, Declared: resp.ContentLength, Limit: l.n}
	}
	resp.Body = &limitedBody{ctx: req.Context(), rc: resp.Body, what: l.what, left: l.n, limit: l.n}
	return resp, nil
}

// limitedBody reads at most limit bytes and fails, rather than truncates,
// when the body is longer: a truncated manifest must not be mistaken for
// a complete one.
type limitedBody struct {
	ctx   context.Context
	rc    io.ReadCloser
	what  string
	left  int64
	limit int64
	over  bool
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.over {
		return 0, l.tooLarge()
	}
	if len(p) == 0 {
		return 0, nil
	}
	// One byte more than is left tells a body of exactly the limit from a
	// longer one.
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.rc.Read(p)
	if int64(n) > l.left {
		n, l.left, l.over = int(l.left), 0, true
		return n, l.tooLarge()
	}
	l.left -= int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		if cerr := l.ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			// The transport reports an abandoned read in its own words;
			// say that it was the deadline, so it is classified TimedOut.
			err = fmt.Errorf("reading %s: %w (%v)", l.what, cerr, err)
		}
	}
	return n, err
}

func (l *limitedBody) tooLarge() error {
	return &ContentTooLargeError{What: l.what, Declared: -1, Limit: l.limit}
}

func (l *limitedBody) Close() error { return l.rc.Close() }

// readAtMost reads r to its end, n bytes at most (the transport fails a
// longer body).
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	// Grow as bytes arrive: n may be the kind's whole limit.
	buf := bytes.NewBuffer(make([]byte, 0, min(n, 64<<10)))
	if _, err := buf.ReadFrom(io.LimitReader(r, n+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > n {
		return nil, &ContentTooLargeError{What: "content", Declared: -1, Limit: n}
	}
	return buf.Bytes(), nil
}
