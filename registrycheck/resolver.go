package registrycheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

	"github.com/nobackoff/nobackoff/internal/memo"
)

// Options configure a Resolver. Zero values take the documented defaults.
type Options struct {
	// LookupTimeout bounds one shared lookup, whoever waits for it.
	// Default 3s (the review budget).
	LookupTimeout time.Duration
	// RequestTimeout bounds the dial, the TLS handshake and the wait for
	// response headers of one HTTP request. Default 2s.
	RequestTimeout time.Duration
	// MaxPerRegistry bounds concurrent requests to one registry. Default 8.
	MaxPerRegistry int
	// NodeCredentialRegistries are globs (path.Match, e.g.
	// "*.dkr.ecr.*.amazonaws.com", "gcr.io") of registries whose
	// credentials the nodes provide (config.json, credential providers).
	// Authorization failures there are inconclusive: the kubelet tries
	// those credentials after the pod's.
	NodeCredentialRegistries []string
	// InsecureRegistries are host[:port] reached over plain HTTP or TLS
	// without verification.
	InsecureRegistries []string
	// Mirrors maps a registry host to mirrors tried first, as the node's
	// container runtime would.
	Mirrors map[string][]string
	// AllowLoopback lets lookups reach registries on loopback addresses.
	AllowLoopback bool
	// RootCAs verifies registry certificates; nil means the system pool.
	RootCAs *x509.CertPool
	// CacheEntries bounds each cache. Default 10,000.
	CacheEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.LookupTimeout <= 0 {
		o.LookupTimeout = 3 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 2 * time.Second
	}
	if o.MaxPerRegistry <= 0 {
		o.MaxPerRegistry = 8
	}
	if o.CacheEntries <= 0 {
		o.CacheEntries = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// TTLs of cached outcomes. Rate limits, server errors and timeouts are
// never cached as results.
const (
	ttlOKByTag     = 3 * time.Minute
	ttlOKByDigest  = time.Hour
	ttlNotFound    = 30 * time.Second
	ttlAuthFailure = time.Minute
	ttlContent     = 24 * time.Hour
)

// Attempt is one lookup with one credential.
type Attempt struct {
	Outcome Outcome
	// Status is the HTTP status behind the outcome, 0 when none.
	Status int
	// Source names the credential: a secret, "docker config" or
	// "anonymous".
	Source string
	// Registry is the host that answered (a mirror or the registry).
	Registry string
	// Digest and MediaType describe the manifest found (OK only).
	Digest    string
	MediaType string
	// Cause explains an inconclusive outcome.
	Cause string
	// TLS is set when the registry's TLS certificate was refused (the
	// outcome is then Unreachable): its Problem says why.
	TLS *CertificateError

	cred *Credential
	// size is the manifest's size as the HEAD declared it (OK only): a GET
	// of the manifest reads no more.
	size int64
	// until is when the cache stops answering this attempt; zero when it
	// is not cached.
	until time.Time
}

// Result is the verdict on one image for one set of credentials.
type Result struct {
	Image string
	// Repository is the normalised repository, e.g. docker.io/library/nginx.
	Repository string
	Attempt
	// Attempts lists every credential tried, in order.
	Attempts []Attempt
	// CredentialsMatched is false when no key applied: the pull is
	// anonymous.
	CredentialsMatched bool
	// NodeCredentials is set when the registry is configured as one whose
	// credentials the nodes provide: authorization failures are then
	// inconclusive.
	NodeCredentials bool
	// Suggestion is the closest existing tag or repository, when one is
	// known for a not-found outcome.
	Suggestion string
	// MaybeMissing marks an authorization failure from a registry that
	// answers so for missing repositories too (Docker Hub).
	MaybeMissing bool

	// named is the parsed image, so that Inspect need not parse it again.
	named reference.Named
	// until: see CachedUntil.
	until time.Time
}

// CachedUntil is, for an image found, until when the same Resolve is
// answered the same from the cache (every attempt it made is cached that
// long); zero for other outcomes, or when an attempt was not cached.
func (r Result) CachedUntil() time.Time { return r.until }

// Now is the resolver's clock, which CachedUntil follows.
func (r *Resolver) Now() time.Time { return r.opts.Now() }

// Resolver looks images up. It is safe for concurrent use; one Resolver
// serves the whole process so that its caches and limits are shared.
type Resolver struct {
	opts      Options
	insecure  map[string]bool
	secure    http.RoundTripper
	unverify  http.RoundTripper
	results   *ttlCache[Attempt]
	refines   *ttlCache[refined]
	content   *ttlCache[any]
	flights   singleflight.Group
	mu        sync.Mutex
	pullers   map[string]*remote.Puller
	slots     map[string]chan struct{}
	pausedTil map[string]time.Time
	metrics   *Metrics
	// parses and refs remember parsed references: parsing is the larger
	// part of a lookup answered from the cache.
	parses *memo.Memo[parsedName]
	refs   *memo.Memo[parsedRef]
	// contentBudget holds maxContentInFlight bytes; each content read
	// takes what it may read until it is done.
	contentBudget *semaphore.Weighted
}

// NewResolver returns a Resolver with the given options.
func NewResolver(o Options) *Resolver {
	o.defaults()
	r := &Resolver{
		opts: o, insecure: map[string]bool{},
		results: newTTLCache[Attempt](o.CacheEntries, o.Now), content: newTTLCache[any](o.CacheEntries, o.Now),
		refines: newTTLCache[refined](o.CacheEntries, o.Now),
		pullers: map[string]*remote.Puller{}, slots: map[string]chan struct{}{}, pausedTil: map[string]time.Time{},
		metrics: newMetrics(), contentBudget: semaphore.NewWeighted(maxContentInFlight),
	}
	r.parses = memo.New(memoEntries, func(image string) parsedName {
		n, err := parseImage(image)
		return parsedName{n, err}
	})
	r.refs = memo.New(memoEntries, func(s string) parsedRef {
		host, _, _ := strings.Cut(s, "/")
		var opts []name.Option
		if r.insecure[host] {
			opts = append(opts, name.Insecure)
		}
		// Docker Hub's canonical name is index.docker.io for go-containerregistry.
		ref, err := name.ParseReference(s, append(opts, name.StrictValidation)...)
		return parsedRef{ref, err}
	})
	for _, h := range o.InsecureRegistries {
		r.insecure[h] = true
	}
	r.secure = r.newTransport(&tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12})
	r.unverify = r.newTransport(&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only for registries configured as insecure
	return r
}

// Metrics returns the resolver's metrics for registration.
func (r *Resolver) Metrics() *Metrics { return r.metrics }

func (r *Resolver) newTransport(tc *tls.Config) http.RoundTripper {
	d := &net.Dialer{Timeout: r.opts.RequestTimeout, KeepAlive: 30 * time.Second, Control: dialControl(r.opts.AllowLoopback)}
	return &pauseRecorder{r: r, inner: boundedBodies{inner: &http.Transport{
		// No proxy: the address guard must see the registry's address,
		// not a proxy's.
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   r.opts.RequestTimeout,
		ResponseHeaderTimeout: r.opts.RequestTimeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   r.opts.MaxPerRegistry,
		IdleConnTimeout:       90 * time.Second,
	}}}
}

// pauseRecorder notes 429 answers so the registry is paused for its
// Retry-After; go-containerregistry's errors do not carry headers.
type pauseRecorder struct {
	r     *Resolver
	inner http.RoundTripper
}

func (p *pauseRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	// go-containerregistry falls back to plain HTTP for private-range
	// hosts; the node's runtime does not (except on localhost), and it
	// would send credentials in clear. Allow it only where configured.
	if req.URL.Scheme == "http" && !p.r.insecure[req.URL.Host] && !isLoopbackHost(req.URL.Hostname()) {
		return nil, &AddressError{Addr: req.URL.Host, Reason: "plain HTTP to a registry not configured as insecure"}
	}
	if err := beforeRequest(req.Context()); err != nil {
		return nil, err
	}
	resp, err := p.inner.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		p.r.pause(req.URL.Host, retryAfter(resp.Header.Get("Retry-After"), p.r.opts.Now()))
	}
	return resp, err
}

// retryAfter reads a Retry-After header (seconds or an HTTP date); a
// missing or unreadable one pauses for 10 s, capped at 10 minutes.
func retryAfter(v string, now time.Time) time.Duration {
	d := 10 * time.Second
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), 10*time.Minute)
}

// maxTracked bounds the per-registry state (pauses, connection slots,
// pullers): image references come from pod authors, so their registries are
// unbounded.
const maxTracked = 1024

func (r *Resolver) pause(host string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pausedTil) >= maxTracked {
		now := r.opts.Now()
		for h, until := range r.pausedTil {
			if !now.Before(until) {
				delete(r.pausedTil, h)
			}
		}
	}
	if until := r.opts.Now().Add(d); until.After(r.pausedTil[host]) {
		r.pausedTil[host] = until
	}
}

func (r *Resolver) paused(host string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opts.Now().Before(r.pausedTil[host])
}

// Resolve looks an image up with the credentials the kubelet would use
// from the keyring (nil means none). It never takes longer than ctx
// allows; what is unfinished then is TimedOut.
func (r *Resolver) Resolve(ctx context.Context, image string, kr *Keyring) Result {
	res := Result{Image: image}
	p := r.parses.Get(image)
	named, err := p.named, p.err
	if err != nil {
		res.Outcome, res.Cause = Unreachable, "invalid reference: "+err.Error()
		return res
	}
	named = reference.TagNameOnly(named)
	res.named = named
	res.Repository = named.Name()
	host := reference.Domain(named)
	res.NodeCredentials = r.nodeCredentials(named)

	var creds []Credential
	if kr != nil {
		creds, res.CredentialsMatched = kr.Lookup(res.Repository)
	}
	if !res.CredentialsMatched {
		creds = []Credential{{Source: Anonymous}}
	}
	// The node's runtime tries mirrors first; nobackoff takes an image a
	// mirror has and otherwise asks the registry. A mirror gets only the
	// credentials whose keys match it, and at most half of what is left of
	// the budget, so a stalled mirror cannot leave the registry unasked.
	var consulted []Attempt // for the time the answer stays the same
	for _, m := range r.opts.Mirrors[host] {
		mcreds := []Credential{{Source: Anonymous}}
		if kr != nil {
			if c, ok := kr.Lookup(m + "/" + reference.Path(named)); ok {
				mcreds = c
			}
		}
		mctx, cancel := context.WithTimeout(ctx, halfRemaining(ctx, r.opts.LookupTimeout))
		at, all := r.attemptCredentials(mctx, named, m, mcreds)
		cancel()
		consulted = append(consulted, all...)
		if at.Outcome == OK {
			res.Attempt, res.Attempts = at, []Attempt{at}
			res.until = earliest(consulted)
			return res
		}
	}
	best, all := r.attemptCredentials(ctx, named, host, creds)
	res.Attempt, res.Attempts = best, all
	if res.Outcome == OK {
		res.until = earliest(append(consulted, all...))
	}
	switch {
	case res.Outcome == TagNotFound || res.Outcome == RepositoryNotFound:
		r.refineNotFound(ctx, named, &res)
	case res.Outcome == Unauthorized && host == "docker.io":
		// Docker Hub answers 401, not 404, for a repository that does not
		// exist: it may be a typo of an official image.
		res.MaybeMissing = true
		if lib, ok := strings.CutPrefix(reference.Path(named), "library/"); ok {
			res.Suggestion = closest(lib, officialImages())
		}
	}
	return res
}

// earliest is when the first of the attempts stops being answered from the
// cache; zero when one of them is not cached.
func earliest(attempts []Attempt) time.Time {
	var until time.Time
	for i, at := range attempts {
		if at.until.IsZero() {
			return time.Time{}
		}
		if i == 0 || at.until.Before(until) {
			until = at.until
		}
	}
	return until
}

// halfRemaining is half the time left before ctx's deadline (or half of
// dflt without one).
func halfRemaining(ctx context.Context, dflt time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl) / 2
	}
	return dflt / 2
}

// attemptCredentials tries each credential in order, the first success
// winning, as the kubelet does; with no success it reports the most telling
// failure: not found (the credentials worked), then inconclusive (it may
// have worked), then forbidden, then unauthorized.
func (r *Resolver) attemptCredentials(ctx context.Context, named reference.Named, host string, creds []Credential) (Attempt, []Attempt) {
	var all []Attempt
	for i := range creds {
		at := r.attempt(ctx, named, host, &creds[i])
		all = append(all, at)
		if at.Outcome == OK {
			return at, all
		}
	}
	best := all[0]
	for _, at := range all[1:] {
		if rank(at.Outcome) > rank(best.Outcome) {
			best = at
		}
	}
	return best, all
}

func rank(o Outcome) int {
	switch o {
	case OK:
		return 5
	case TagNotFound, RepositoryNotFound:
		return 4
	case RateLimited, Unreachable, TimedOut:
		return 3
	case Forbidden:
		return 2
	}
	return 1
}

// nodeCredentials reports whether the image's registry matches one of the
// configured node-credential globs (on host[:port], or on host/path).
func (r *Resolver) nodeCredentials(named reference.Named) bool {
	host := reference.Domain(named)
	for _, g := range r.opts.NodeCredentialRegistries {
		if ok, _ := path.Match(g, host); ok {
			return true
		}
		if strings.Contains(g, "/") && strings.HasPrefix(named.Name(), strings.TrimSuffix(g, "/")+"/") {
			return true
		}
	}
	return false
}

// ggcrRef turns a normalised reference into go-containerregistry's, on the
// given registry host (the image's own or a mirror's).
func (r *Resolver) ggcrRef(named reference.Named, host string) (name.Reference, error) {
	s := host + "/" + reference.Path(named)
	if d, ok := named.(reference.Digested); ok {
		s += "@" + d.Digest().String()
	} else if t, ok := named.(reference.Tagged); ok {
		s += ":" + t.Tag()
	}
	p := r.refs.Get(s)
	return p.ref, p.err
}

// memoEntries bounds each memo of parsed references: far more distinct
// images than a cluster runs, each entry well under a kilobyte.
const memoEntries = 4096

type parsedName struct {
	named reference.Named
	err   error
}

type parsedRef struct {
	ref name.Reference
	err error
}

func cacheKey(ref name.Reference, c *Credential) string {
	fp := Anonymous
	if c.Source != Anonymous {
		fp = c.Fingerprint()
	}
	return ref.Name() + "|" + fp
}

// attempt is one HEAD with one credential, cached and shared between
// concurrent callers.
func (r *Resolver) attempt(ctx context.Context, named reference.Named, host string, c *Credential) Attempt {
	base := Attempt{Source: c.Source, Registry: host, cred: c}
	ref, err := r.ggcrRef(named, host)
	if err != nil {
		base.Outcome, base.Cause = Unreachable, err.Error()
		return base
	}
	key := cacheKey(ref, c)
	if at, until, ok := r.results.getSince(key, freshSince(ctx)); ok {
		at.until = until
		r.metrics.cache(true)
		// Shared by fingerprint: the name of the caller's own secret, not
		// the first caller's, describes it.
		at.cred, at.Source = c, c.Source
		return at
	}
	r.metrics.cache(false)
	if r.paused(ref.Context().RegistryStr()) {
		base.Outcome, base.Status, base.Cause = RateLimited, http.StatusTooManyRequests, "rate-limited: waiting for Retry-After"
		return base
	}
	shared := base // the caller may change base once it stops waiting
	ch := r.flights.DoChan(flightKey(ctx, key), func() (any, error) {
		// The shared lookup outlives any one caller: it is bound by the
		// lookup timeout, not by the first caller's deadline.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.lookupTimeout(ctx))
		defer cancel()
		at := shared
		start := r.opts.Now()
		r.head(lctx, ref, host, c, &at)
		r.metrics.lookup(host, at.Outcome, r.opts.Now().Sub(start))
		if ttl := ttlFor(at, ref); ttl > 0 {
			at.until = r.opts.Now().Add(ttl)
			r.results.put(key, at, ttl)
		}
		return at, nil
	})
	select {
	case v := <-ch:
		at := v.Val.(Attempt)
		at.cred, at.Source = c, c.Source
		return at
	case <-ctx.Done():
		base.Outcome, base.Cause = TimedOut, "no answer within the review's budget"
		return base
	}
}

func ttlFor(at Attempt, ref name.Reference) time.Duration {
	switch at.Outcome {
	case OK:
		if _, byDigest := ref.(name.Digest); byDigest {
			return ttlOKByDigest
		}
		return ttlOKByTag
	case TagNotFound, RepositoryNotFound:
		return ttlNotFound
	case Unauthorized, Forbidden:
		return ttlAuthFailure
	}
	return 0
}

func (r *Resolver) head(ctx context.Context, ref name.Reference, host string, c *Credential, at *Attempt) {
	release, err := r.acquire(ctx, host)
	if err != nil {
		at.Outcome, at.Cause = TimedOut, "waiting for a free connection to the registry"
		return
	}
	defer release()
	p, err := r.puller(ctx, host, c)
	if err == nil {
		var desc *v1Descriptor
		desc, err = p.Head(ctx, ref)
		if err == nil {
			at.Outcome, at.Digest, at.MediaType, at.size = OK, desc.Digest.String(), string(desc.MediaType), desc.Size
			return
		}
	}
	// A puller keeps its auth handshake; after an error start afresh.
	r.dropPuller(ctx, host, c)
	at.Outcome, at.Status = classify(err)
	at.TLS = certificateError(err, host)
	if !at.Outcome.Conclusive() || at.Outcome == Unauthorized || at.Outcome == Forbidden {
		at.Cause = cause(err, host)
	}
}

// acquire takes one of the registry's connection slots. A rate-limited
// background lookup takes none: its limiter already bounds what it asks
// of the registry, and it would hold a slot admission reviews wait for
// while it waits for its tokens.
func (r *Resolver) acquire(ctx context.Context, host string) (func(), error) {
	if throttled(ctx) {
		return func() {}, nil
	}
	r.mu.Lock()
	slot, ok := r.slots[host]
	if !ok {
		if len(r.slots) >= maxTracked {
			for h, s := range r.slots {
				if len(s) == 0 { // idle: holders of busy ones keep their channel
					delete(r.slots, h)
				}
			}
		}
		slot = make(chan struct{}, r.opts.MaxPerRegistry)
		r.slots[host] = slot
	}
	r.mu.Unlock()
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pullerKey identifies a puller: a throttled lookup gets its own, whose
// handshakes (ping, token) wait for its limiter without holding up the
// admission path's.
func pullerKey(ctx context.Context, host string, c *Credential) string {
	key := host + "|" + Anonymous
	if c.Source != Anonymous {
		key = host + "|" + c.Fingerprint()
	}
	if throttled(ctx) {
		key += "|throttled"
	}
	return key
}

func (r *Resolver) puller(ctx context.Context, host string, c *Credential) (*remote.Puller, error) {
	key := pullerKey(ctx, host, c)
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pullers[key]; ok {
		return p, nil
	}
	if len(r.pullers) >= maxTracked {
		// Start afresh rather than grow: a puller is only a cache of auth
		// handshakes.
		r.pullers = map[string]*remote.Puller{}
	}
	var auth authn.Authenticator = authn.Anonymous
	if c.Source != Anonymous {
		auth = &authn.Basic{Username: c.Username, Password: c.Password}
	}
	t := r.secure
	if r.insecure[host] {
		t = r.unverify
	}
	p, err := remote.NewPuller(
		remote.WithAuth(auth),
		remote.WithTransport(t),
		remote.WithUserAgent("nobackoff"),
		// go-containerregistry retries 3 times with 1s+3s waits by
		// default: far past an admission budget. One try only.
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
		remote.WithPageSize(maxListed),
	)
	if err != nil {
		return nil, err
	}
	r.pullers[key] = p
	return p, nil
}

func (r *Resolver) dropPuller(ctx context.Context, host string, c *Credential) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pullers, pullerKey(ctx, host, c))
}

// errNoCredential is returned by content lookups on results that found no
// image.
var errNoCredential = errors.New("no successful lookup to reuse")

func (a *Attempt) credential() (*Credential, error) {
	if a.Outcome != OK || a.cred == nil {
		return nil, errNoCredential
	}
	return a.cred, nil
}

// String is for logs: never includes credentials.
func (a Attempt) String() string {
	s := fmt.Sprintf("%s via %s (%s)", a.Outcome, a.Registry, a.Source)
	if a.Status != 0 {
		s += fmt.Sprintf(" HTTP %d", a.Status)
	}
	if a.Cause != "" {
		s += ": " + a.Cause
	}
	return s
}

type v1Descriptor = ggcrv1.Descriptor

// parseDigest parses registry/repository@digest through the memo of parsed
// references (go-containerregistry's spelling: Docker Hub is
// index.docker.io there).
func (r *Resolver) parseDigest(s string) (name.Digest, error) {
	p := r.refs.Get(s)
	if p.err != nil {
		return name.Digest{}, p.err
	}
	d, ok := p.ref.(name.Digest)
	if !ok {
		return name.Digest{}, fmt.Errorf("reference %q names no digest", s)
	}
	return d, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
