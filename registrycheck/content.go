package registrycheck

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/distribution/reference"
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

// Inspect reads an image found by Resolve: its platforms (a GET of the
// manifest, which counts as a pull on some registries, so only call it
// when a check needs it) and, with wantConfig, the configuration for the
// first of the given platforms it offers. Content is cached by digest.
func (r *Resolver) Inspect(ctx context.Context, res Result, platforms []Platform, wantConfig bool) (*ImageInfo, error) {
	c, err := res.credential()
	if err != nil {
		return nil, err
	}
	named, err := reference.ParseNormalizedNamed(res.Image)
	if err != nil {
		return nil, err
	}
	ref, err := r.ggcrRef(named, res.Registry)
	if err != nil {
		return nil, err
	}
	digestRef := ref.Context().Digest(res.Digest)
	key := "manifest|" + digestRef.Name()
	var info ImageInfo
	var childFor map[Platform]string // index: platform -> child digest
	if v, ok := r.content.get(key); ok {
		m := v.(manifestFacts)
		info.Index, info.Platforms, childFor = m.index, m.platforms, m.children
	} else {
		release, err := r.acquire(ctx, res.Registry)
		if err != nil {
			return nil, err
		}
		p, err := r.puller(res.Registry, c)
		if err != nil {
			release()
			return nil, err
		}
		desc, err := p.Get(ctx, digestRef)
		release()
		if err != nil {
			r.dropPuller(res.Registry, c)
			return nil, err
		}
		m := manifestFacts{children: map[Platform]string{}}
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			if err != nil {
				return nil, err
			}
			im, err := idx.IndexManifest()
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
					m.children[pl] = d.Digest.String()
				}
			}
		} else {
			cfg, err := r.config(ctx, res, digestRef.Name())
			if err != nil {
				return nil, err
			}
			m.platforms = []Platform{cfg.platform}
			m.children[cfg.platform] = res.Digest
		}
		r.content.put(key, m, ttlContent)
		info.Index, info.Platforms, childFor = m.index, m.platforms, m.children
	}
	if !wantConfig {
		return &info, nil
	}
	digest := ""
	for _, want := range platforms {
		if have, ok := preferred(want, info.Platforms); ok {
			digest = childFor[have]
			break
		}
	}
	if digest == "" && !info.Index {
		digest = res.Digest // a single image runs (or fails) as it is
	}
	if digest == "" {
		return &info, nil
	}
	cfg, err := r.config(ctx, res, ref.Context().Digest(digest).Name())
	if err != nil {
		return nil, err
	}
	info.Config = &cfg.ImageConfig
	return &info, nil
}

type manifestFacts struct {
	index     bool
	platforms []Platform
	children  map[Platform]string
}

type configFacts struct {
	ImageConfig
	platform Platform
}

// config reads the configuration blob of one image manifest, by digest.
func (r *Resolver) config(ctx context.Context, res Result, digestName string) (configFacts, error) {
	key := "config|" + digestName
	if v, ok := r.content.get(key); ok {
		return v.(configFacts), nil
	}
	c, _ := res.credential()
	release, err := r.acquire(ctx, res.Registry)
	if err != nil {
		return configFacts{}, err
	}
	defer release()
	p, err := r.puller(res.Registry, c)
	if err != nil {
		return configFacts{}, err
	}
	ref, err := r.parseDigest(res.Registry, digestName)
	if err != nil {
		return configFacts{}, err
	}
	desc, err := p.Get(ctx, ref)
	if err != nil {
		r.dropPuller(res.Registry, c)
		return configFacts{}, err
	}
	img, err := desc.Image()
	if err != nil {
		return configFacts{}, err
	}
	cf, err := img.ConfigFile()
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
