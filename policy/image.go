package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// ImageRef is an image reference parsed the way the kubelet parses it
// (distribution/reference's normalized names).
type ImageRef struct {
	// Name is the fully qualified repository, e.g. docker.io/library/nginx.
	Name string
	// Domain is the registry host[:port], e.g. docker.io.
	Domain string
	// Path is the repository path within the registry, e.g. library/nginx.
	Path   string
	Tag    string
	Digest string
}

// ParseImage parses an image reference with the kubelet's rules. A
// reference it rejects ends in InvalidImageName on the node.
func ParseImage(image string) (ImageRef, error) {
	if image == "" {
		return ImageRef{}, fmt.Errorf("image is empty")
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ImageRef{}, err
	}
	r := ImageRef{Name: named.Name(), Domain: reference.Domain(named), Path: reference.Path(named)}
	if t, ok := named.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		r.Digest = d.Digest().String()
	}
	return r, nil
}

type invalidReference struct{}

func (invalidReference) ID() ID { return ImageInvalidReference }

func (invalidReference) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	for _, c := range p.Containers() {
		if _, err := ParseImage(c.Image); err != nil {
			out = append(out, c.Finding(ImageInvalidReference, Error, "image",
				fmt.Sprintf("image %q: %s; the kubelet reports InvalidImageName", c.Image, strings.TrimPrefix(err.Error(), "invalid reference format: ")),
				invalidReferenceFix(c.Image)))
		}
	}
	return out, nil
}

// invalidReferenceFix names the most common repairs.
func invalidReferenceFix(image string) string {
	switch {
	case strings.TrimSpace(image) == "":
		return "set the image, e.g. registry.example.com/team/app:1.2.3"
	case strings.TrimSpace(image) != image:
		return fmt.Sprintf("remove the surrounding whitespace: %q", strings.TrimSpace(image))
	case strings.ToLower(image) != image:
		if _, err := reference.ParseNormalizedNamed(lowerRepository(image)); err == nil {
			return fmt.Sprintf("repository names are lowercase: use %q", lowerRepository(image))
		}
	case strings.Contains(image, "@"):
		if _, err := digest.Parse(image[strings.LastIndex(image, "@")+1:]); err != nil {
			return "a digest is sha256: followed by 64 hex characters (" + err.Error() + ")"
		}
	}
	return "write it as [registry[:port]/]repository[:tag][@sha256:digest], repository in lowercase"
}

// lowerRepository lowercases the repository part of a reference, leaving the
// tag and digest as written (tags may be mixed case).
func lowerRepository(image string) string {
	rest := ""
	if i := strings.Index(image, "@"); i >= 0 {
		image, rest = image[:i], image[i:]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image, rest = image[:i], image[i:]+rest
	}
	return strings.ToLower(image) + rest
}

type mutableTag struct{}

func (mutableTag) ID() ID { return ImageMutableTag }

func (mutableTag) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	for _, c := range p.Containers() {
		r, err := ParseImage(c.Image)
		if err != nil || r.Digest != "" || (r.Tag != "" && r.Tag != "latest") {
			continue
		}
		what := "has no tag (means :latest)"
		if r.Tag == "latest" {
			what = "uses :latest"
		}
		out = append(out, c.Finding(ImageMutableTag, Info, "image",
			fmt.Sprintf("image %s %s: each pull may get a different image, and it is pulled on every start", c.Image, what),
			"pin a version tag or a digest (image@sha256:...)"))
	}
	return out, nil
}
