package registrycheck

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Platform is an os/architecture[/variant] triple.
type Platform struct {
	OS, Architecture, Variant string
}

// ParsePlatform reads "linux/amd64" or "linux/arm/v7".
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64", s)
	}
	p := Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func (p Platform) String() string {
	if p.Variant == "" {
		return p.OS + "/" + p.Architecture
	}
	return p.OS + "/" + p.Architecture + "/" + p.Variant
}

// Runs reports whether a node of platform p can run an image built for
// have, by containerd's rules: the same os and architecture (for arm, the
// node's variant or an older one), amd64 nodes also run 386, arm64 nodes
// also run arm v8 to v5.
func (p Platform) Runs(have Platform) bool {
	if p.OS != have.OS {
		return false
	}
	switch {
	case p.Architecture == have.Architecture:
		if p.Architecture != "arm" {
			return true
		}
		return armVersion(have.Variant, 7) <= armVersion(p.Variant, 7)
	case p.Architecture == "amd64" && have.Architecture == "386":
		return true
	case p.Architecture == "arm64" && have.Architecture == "arm":
		return armVersion(have.Variant, 7) <= 8
	}
	return false
}

func armVersion(v string, dflt int) int {
	if n, err := strconv.Atoi(strings.TrimPrefix(v, "v")); err == nil {
		return n
	}
	return dflt
}

// ImageInfo is what an image's manifest and config say.
type ImageInfo struct {
	// Index is set when the reference names a multi-platform index.
	Index bool
	// Platforms lists what an index offers (attestation entries left out),
	// or the single image's own platform.
	Platforms []Platform
	// Config is the image configuration for the platform asked for (or
	// the single image's); nil when it was not needed or not found.
	Config *ImageConfig
}

// ImageConfig is the part of an image configuration the checks read.
type ImageConfig struct {
	User       string
	Entrypoint []string
	Cmd        []string
}

// InspectError is why Inspect could not read an image's content. Its
// Outcome is always one of the inconclusive ones: Resolve found the image,
// so content that cannot be read (too large, too slow, refused) says
// nothing certain about the kubelet's pull.
type InspectError struct {
	Outcome Outcome
	// Status is the HTTP status behind the outcome, 0 when none.
	Status int
	// Cause explains the outcome for people, without credentials.
	Cause string
	// TLS is set when the registry's TLS certificate was refused.
	TLS *CertificateError
	Err error
}

func (e *InspectError) Error() string {
	return fmt.Sprintf("reading image content: %s: %s", e.Outcome, e.Cause)
}

func (e *InspectError) Unwrap() error { return e.Err }

func newInspectError(err error, host string) *InspectError {
	o, status := classify(err)
	if o.Conclusive() {
		// A 401, 403 or 404 on content the HEAD just found contradicts
		// it (a tag moved, a registry misbehaving): not a prediction.
		o = Unreachable
	}
	return &InspectError{Outcome: o, Status: status, Cause: cause(err, host), TLS: certificateError(err, host), Err: err}
}

// Inspect reads an image found by Resolve: its platforms (a GET of the
// manifest, which counts as a pull on some registries, so only call it
// when a check needs it) and, with wantConfig, the configuration for the
// first of the given platforms it offers. Content is cached by digest.
// It takes no longer than the lookup budget; manifests and configuration
// blobs are read up to their declared size and never past
// maxManifestBytes and maxConfigBytes. A non-nil error is an
// *InspectError.
func (r *Resolver) Inspect(ctx context.Context, res Result, platforms []Platform, wantConfig bool) (*ImageInfo, error) {
	// Reading content is held to the lookup budget like the HEAD was,
	// whatever deadline the caller has.
	ctx, cancel := context.WithTimeout(ctx, r.lookupTimeout(ctx))
	defer cancel()
	info, err := r.inspect(ctx, res, platforms, wantConfig)
	if err != nil {
		return nil, newInspectError(err, res.Registry)
	}
	return info, nil
}

func (r *Resolver) inspect(ctx context.Context, res Result, platforms []Platform, wantConfig bool) (*ImageInfo, error) {
	c, err := res.credential()
	if err != nil {
		return nil, err
	}
	named := res.named
	if named == nil {
		p := r.parses.Get(res.Image)
		if named, err = p.named, p.err; err != nil {
			return nil, err
		}
	}
	ref, err := r.ggcrRef(named, res.Registry)
	if err != nil {
		return nil, err
	}
	digestRef := ref.Context().Digest(res.Digest)
	key := "manifest|" + digestRef.Name()
	var m manifestFacts
	if v, ok := r.content.get(key); ok {
		m = v.(manifestFacts)
	} else {
		desc, err := r.manifest(ctx, res.Registry, c, digestRef, res.size)
		if err != nil {
			return nil, err
		}
		m = manifestFacts{children: map[Platform]childManifest{}}
		if desc.MediaType.IsIndex() {
			im, err := ggcrv1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
			if err != nil {
				return nil, err
			}
			m.index = true
			for _, d := range im.Manifests {
				if d.Platform == nil || d.Platform.OS == "unknown" {
					continue // attestations and other non-runnable entries
				}
				pl := Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant}
				m.platforms = append(m.platforms, pl)
				if _, dup := m.children[pl]; !dup {
					m.children[pl] = childManifest{digest: d.Digest.String(), size: d.Size}
				}
			}
		} else {
			cfg, err := r.config(ctx, res.Registry, c, digestRef, desc)
			if err != nil {
				return nil, err
			}
			m.platforms = []Platform{cfg.platform}
			m.children[cfg.platform] = childManifest{digest: res.Digest, size: desc.Size}
		}
		r.content.put(key, m, ttlContent)
	}
	info := ImageInfo{Index: m.index, Platforms: m.platforms}
	if !wantConfig {
		return &info, nil
	}
	var child childManifest
	for _, want := range platforms {
		if have, ok := preferred(want, info.Platforms); ok {
			child = m.children[have]
			break
		}
	}
	if child.digest == "" && !info.Index {
		child = childManifest{digest: res.Digest, size: res.size} // a single image runs (or fails) as it is
	}
	if child.digest == "" {
		return &info, nil
	}
	childRef, err := r.parseDigest(ref.Context().Digest(child.digest).Name())
	if err != nil {
		return nil, err
	}
	cfg, err := r.configByManifest(ctx, res.Registry, c, childRef, child.size)
	if err != nil {
		return nil, err
	}
	info.Config = &cfg.ImageConfig
	return &info, nil
}

type manifestFacts struct {
	index     bool
	platforms []Platform
	children  map[Platform]childManifest
}

// childManifest is an image manifest an index points to, with the size the
// index declares for it.
type childManifest struct {
	digest string
	size   int64
}

type configFacts struct {
	ImageConfig
	platform Platform
}

// manifest GETs a manifest or index by digest, reading no more than its
// declared size (0: unknown) and never more than maxManifestBytes.
func (r *Resolver) manifest(ctx context.Context, host string, c *Credential, ref name.Digest, declared int64) (*remote.Descriptor, error) {
	n, err := readLimit("manifest", declared, maxManifestBytes)
	if err != nil {
		return nil, err
	}
	var desc *remote.Descriptor
	err = r.withPuller(ctx, host, c, n, func(p *remote.Puller) (err error) {
		desc, err = p.Get(withContentLimit(ctx, "manifest", n), ref)
		return err
	})
	return desc, err
}

// withPuller runs read with the registry's puller for the credential,
// holding n bytes of the content budget while it reads. A puller keeps its
// auth handshake: after an error it is dropped, to start afresh.
func (r *Resolver) withPuller(ctx context.Context, host string, c *Credential, n int64, read func(*remote.Puller) error) error {
	done, err := r.reading(ctx, host, n)
	if err != nil {
		return err
	}
	defer done()
	p, err := r.puller(ctx, host, c)
	if err != nil {
		return err
	}
	if err := read(p); err != nil {
		r.dropPuller(ctx, host, c)
		return err
	}
	return nil
}

// configByManifest reads the configuration of the image manifest ref,
// whose declared size is declared (0: unknown).
func (r *Resolver) configByManifest(ctx context.Context, host string, c *Credential, ref name.Digest, declared int64) (configFacts, error) {
	if v, ok := r.content.get("config|" + ref.Name()); ok {
		return v.(configFacts), nil
	}
	desc, err := r.manifest(ctx, host, c, ref, declared)
	if err != nil {
		return configFacts{}, err
	}
	return r.config(ctx, host, c, ref, desc)
}

// config reads the configuration blob of the image manifest desc (fetched
// as ref), cached by the manifest's digest.
func (r *Resolver) config(ctx context.Context, host string, c *Credential, ref name.Digest, desc *remote.Descriptor) (configFacts, error) {
	key := "config|" + ref.Name()
	if v, ok := r.content.get(key); ok {
		return v.(configFacts), nil
	}
	if desc.MediaType.IsIndex() {
		return configFacts{}, fmt.Errorf("%s is an index where an image manifest was expected", ref.DigestStr())
	}
	// Parsed from the bytes already read: go-containerregistry's own
	// Image would read the blob whole, at whatever size it declares.
	m, err := ggcrv1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return configFacts{}, err
	}
	if m.Config.Digest.Hex == "" {
		// Schema 1, or not a manifest at all: containerd refuses both.
		return configFacts{}, fmt.Errorf("%s names no configuration blob", ref.DigestStr())
	}
	data, err := r.configBlob(ctx, host, c, ref.Context().Digest(m.Config.Digest.String()), m.Config)
	if err != nil {
		return configFacts{}, err
	}
	cf, err := ggcrv1.ParseConfigFile(bytes.NewReader(data))
	if err != nil {
		return configFacts{}, err
	}
	out := configFacts{
		ImageConfig: ImageConfig{User: cf.Config.User, Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd},
		platform:    Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
	}
	r.content.put(key, out, ttlContent)
	return out, nil
}

// configBlob reads a configuration blob: refused unread when its
// descriptor declares more than maxConfigBytes, and never read past its
// declared size. go-containerregistry checks the digest at the end.
func (r *Resolver) configBlob(ctx context.Context, host string, c *Credential, ref name.Digest, d ggcrv1.Descriptor) ([]byte, error) {
	n, err := readLimit("config blob", d.Size, maxConfigBytes)
	if err != nil {
		return nil, err
	}
	if d.Data != nil {
		return embeddedData(d)
	}
	var data []byte
	err = r.withPuller(ctx, host, c, n, func(p *remote.Puller) error {
		l, err := p.Layer(withContentLimit(ctx, "config blob", n), ref)
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		defer rc.Close()
		data, err = readAtMost(rc, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	if d.Size > 0 && int64(len(data)) != d.Size {
		return nil, fmt.Errorf("config blob is %d bytes, its manifest says %d", len(data), d.Size)
	}
	return data, nil
}

// embeddedData returns a descriptor's inline content (OCI 1.1), checked
// against its digest as a fetched blob would be.
func embeddedData(d ggcrv1.Descriptor) ([]byte, error) {
	h, err := ggcrv1.Hasher(d.Digest.Algorithm)
	if err != nil {
		return nil, err
	}
	h.Write(d.Data)
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Digest.Hex {
		return nil, fmt.Errorf("inline config data does not match its digest %s", d.Digest)
	}
	return d.Data, nil
}

// preferred picks the entry a node of platform want would run, as
// containerd ranks them: its own architecture first (exact variant, then
// any), then the compatible ones (386 on amd64, arm on arm64).
func preferred(want Platform, haves []Platform) (Platform, bool) {
	for _, pass := range []func(h Platform) bool{
		func(h Platform) bool {
			return h.OS == want.OS && h.Architecture == want.Architecture && h.Variant == want.Variant
		},
		func(h Platform) bool { return h.OS == want.OS && h.Architecture == want.Architecture && want.Runs(h) },
		want.Runs,
	} {
		for _, h := range haves {
			if pass(h) {
				return h, true
			}
		}
	}
	return Platform{}, false
}
