package registrycheck

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/nobackoff/nobackoff/internal/textdist"
)

// maxListed bounds the tags or repositories read for a suggestion: one
// page.
const maxListed = 1000

//go:embed official-images.txt
var officialImagesList string

// officialImages are Docker Hub's official images (library/...), used to
// suggest a repository name for docker.io references.
func officialImages() []string {
	var out []string
	for _, l := range strings.Split(officialImagesList, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// refined is what a not-found lookup learnt from the tag list or catalog.
type refined struct {
	outcome    Outcome
	suggestion string
}

// refineNotFound tells a missing tag from a missing repository by listing
// the repository's tags, and finds the closest existing name. Like the
// lookup itself, it is shared by concurrent callers and cached as long as
// a not-found answer.
func (r *Resolver) refineNotFound(ctx context.Context, named reference.Named, res *Result) {
	c, host := res.cred, res.Registry
	if c == nil {
		return
	}
	ref, err := r.ggcrRef(named, host)
	if err != nil {
		return
	}
	key := "refine|" + cacheKey(ref, c)
	apply := func(v refined) {
		if v.outcome != "" {
			res.Outcome, res.Suggestion = v.outcome, v.suggestion
		}
	}
	if v, ok := r.refines.get(key); ok {
		apply(v)
		return
	}
	ch := r.flights.DoChan(flightKey(ctx, key), func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.lookupTimeout(ctx))
		defer cancel()
		var v refined
		tags, err := r.listTags(lctx, named, host, c)
		var terr *transport.Error
		switch {
		case err == nil:
			v.outcome = TagNotFound
			if t, ok := named.(reference.Tagged); ok {
				v.suggestion = closest(t.Tag(), tags)
			}
		case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
			v.outcome = RepositoryNotFound
			v.suggestion = r.closestRepository(lctx, named, host, c)
		default:
			return v, nil // unknown: not cached, the HEAD's answer stands
		}
		r.refines.put(key, v, ttlNotFound)
		return v, nil
	})
	select {
	case v := <-ch:
		apply(v.Val.(refined))
	case <-ctx.Done():
	}
}

func (r *Resolver) listTags(ctx context.Context, named reference.Named, host string, c *Credential) ([]string, error) {
	ref, err := r.ggcrRef(named, host)
	if err != nil {
		return nil, err
	}
	// A page is read whole; the transport holds it to maxOtherBytes.
	var tags []string
	err = r.withPuller(ctx, host, c, maxOtherBytes, func(p *remote.Puller) error {
		l, err := p.Lister(ctx, ref.Context())
		if err != nil {
			return err
		}
		page, err := l.Next(ctx)
		if page != nil {
			tags = page.Tags
		}
		return err
	})
	return tags, err
}

// closestRepository suggests a repository: from the official images for
// Docker Hub, else from the registry's catalog where it offers one.
func (r *Resolver) closestRepository(ctx context.Context, named reference.Named, host string, c *Credential) string {
	p := reference.Path(named)
	if host == "docker.io" {
		if lib, ok := strings.CutPrefix(p, "library/"); ok {
			if s := closest(lib, officialImages()); s != "" {
				return s
			}
		}
		return ""
	}
	ref, err := r.ggcrRef(named, host)
	if err != nil {
		return ""
	}
	var repos []string
	err = r.withPuller(ctx, host, c, maxOtherBytes, func(pl *remote.Puller) error {
		cat, err := pl.Catalogger(ctx, ref.Context().Registry)
		if err != nil {
			return err
		}
		page, err := cat.Next(ctx)
		if page != nil {
			repos = page.Repos
		}
		return err
	})
	if err != nil {
		return ""
	}
	if s := closest(p, repos); s != "" {
		return host + "/" + s
	}
	return ""
}

// closest returns the candidate nearest to want by edit distance, when it
// is near enough to be a plausible typo (at most a third of the longer
// name, at least 1 and at most 4 edits).
func closest(want string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if c == want {
			continue
		}
		d := textdist.Distance(want, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := min(4, max(1, max(len(want), len(best))/3))
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}
