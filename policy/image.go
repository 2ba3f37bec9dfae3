package policy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	corev1 "k8s.io/api/core/v1"

	"github.com/nobackoff/nobackoff/internal/imageref"
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
// reference it rejects ends in InvalidImageName on the node. The parser's
// cost grows with the reference's length, so the parts no valid reference
// can have are measured first and rejected without it.
func ParseImage(image string) (ImageRef, error) {
	if image == "" {
		return ImageRef{}, fmt.Errorf("image is empty")
	}
	host, rest, slash := strings.Cut(image, "/")
	switch {
	case !slash && len(dockerHubPrefix)+len(image) > maxImageRemainder:
		return ImageRef{}, &referenceTooLongError{fmt.Sprintf(
			"reference is %d characters long; a valid one without a registry host has at most %d", len(image), maxImageRemainder-len(dockerHubPrefix))}
	case slash && len(rest) > maxImageRemainder:
		return ImageRef{}, &referenceTooLongError{fmt.Sprintf(
			"reference is %d characters long after its first \"/\"; a valid one has at most %d there", len(rest), maxImageRemainder)}
	case slash && len(host) > maxRegistryHost:
		return parseLongHost(host, rest)
	}
	return parseReference(image)
}

// dockerHubPrefix is the namespace distribution/reference adds to a
// one-word Docker Hub name ("nginx" is docker.io/library/nginx); it counts
// towards the repository path's length.
const dockerHubPrefix = "library/"

// The longest parts a valid reference can have (see imageref).
const (
	maxImageRemainder = imageref.MaxRemainder
	maxRegistryHost   = imageref.MaxHost
)

// referenceTooLongError is ParseImage's error for a reference rejected on
// its length alone.
type referenceTooLongError struct{ msg string }

func (e *referenceTooLongError) Error() string { return e.msg }

// parseReference runs distribution/reference's parser.
func parseReference(image string) (ImageRef, error) {
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

// parseLongHost parses a reference whose first component is longer than
// any registry host, without running the parser over that component.
func parseLongHost(host, rest string) (ImageRef, error) {
	// distribution/reference takes the first component for a registry
	// host when it has a "." or ":" or lowercasing changes it (localhost
	// and index.docker.io are too short to matter here). Otherwise it is
	// the start of the repository path, which is then too long.
	if !strings.ContainsAny(host, ".:") && strings.ToLower(host) == host {
		return ImageRef{}, &referenceTooLongError{fmt.Sprintf(
			"repository path is longer than %d characters: its first component alone has %d", reference.RepositoryNameTotalLengthMax, len(host))}
	}
	// A host that is not well formed can only be read as the start of the
	// path, too long again.
	if !validRegistryHost(host) {
		return ImageRef{}, &referenceTooLongError{fmt.Sprintf(
			"registry host of %d characters is not a valid host[:port]", len(host))}
	}
	// A well-formed host leaves the verdict to the rest, which reads the
	// same after any other well-formed host.
	r, err := parseReference("registry.invalid/" + rest)
	if err != nil {
		return ImageRef{}, err
	}
	r.Domain, r.Name = host, host+"/"+r.Path
	return r, nil
}

// validRegistryHost reports whether s is a registry host[:port] as
// distribution/reference writes one: dot-separated components of letters,
// digits and inner hyphens, or an IPv6 address of hex digits and colons in
// brackets, then an optional port of digits.
func validRegistryHost(s string) bool {
	if addr, ok := strings.CutPrefix(s, "["); ok {
		inner, after, closed := strings.Cut(addr, "]")
		if !closed || inner == "" {
			return false
		}
		for i := 0; i < len(inner); i++ {
			if c := inner[i]; c != ':' && !isHex(c) {
				return false
			}
		}
		if after == "" {
			return true
		}
		port, ok := strings.CutPrefix(after, ":")
		return ok && allDigits(port)
	}
	name, port, hasPort := strings.Cut(s, ":")
	for c := range strings.SplitSeq(name, ".") {
		if !validHostComponent(c) {
			return false
		}
	}
	return !hasPort || allDigits(port)
}

func validHostComponent(c string) bool {
	if c == "" || c[0] == '-' || c[len(c)-1] == '-' {
		return false
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; b != '-' && !isAlnum(b) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

type invalidReference struct{}

func (invalidReference) ID() ID { return ImageInvalidReference }

func (invalidReference) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	for _, c := range p.Containers() {
		if _, err := c.ImageRef(); err != nil {
			out = append(out, c.Finding(ImageInvalidReference, Error, "image",
				fmt.Sprintf("image %s: %s; the kubelet reports InvalidImageName", quoteClipped(c.Image), strings.TrimPrefix(err.Error(), "invalid reference format: ")),
				invalidReferenceFix(c.Image, err)))
		}
	}
	return out, nil
}

// quoteClipped quotes an image for a message, cut short when it is longer
// than any reference whose host a DNS name could be: the message must stay
// readable.
func quoteClipped(image string) string {
	const keep = 64
	if len(image) <= imageref.MaxReference {
		return strconv.Quote(image)
	}
	return fmt.Sprintf("%s... (%d characters)", strconv.Quote(image[:keep]), len(image))
}

// invalidReferenceFix names the most common repairs.
func invalidReferenceFix(image string, err error) string {
	var long *referenceTooLongError
	switch {
	case errors.As(err, &long) || errors.Is(err, reference.ErrNameTooLong):
		return "shorten it: a registry host has at most 253 characters, a repository path 255, a tag 128"
	case strings.TrimSpace(image) == "":
		return "set the image, e.g. registry.example.com/team/app:1.2.3"
	case strings.TrimSpace(image) != image:
		return fmt.Sprintf("remove the surrounding whitespace: %q", strings.TrimSpace(image))
	case strings.ToLower(image) != image:
		if _, err := ParseImage(lowerRepository(image)); err == nil {
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
		r, err := c.ImageRef()
		if err != nil || r.Digest != "" || (r.Tag != "" && r.Tag != "latest") {
			continue
		}
		what := "has no tag (means :latest)"
		if r.Tag == "latest" {
			what = "uses :latest"
		}
		out = append(out, c.Finding(ImageMutableTag, Info, "image",
			fmt.Sprintf("image %s %s: %s", c.Image, what, mutableTagEffect(c.ImagePullPolicy)),
			"pin a version tag or a digest (image@sha256:...)"))
	}
	return out, nil
}

// mutableTagEffect says what a tag that moves does under the container's
// pull policy (unset means Always for :latest or no tag).
func mutableTagEffect(policy corev1.PullPolicy) string {
	switch policy {
	case corev1.PullIfNotPresent:
		return "each node keeps whichever image it pulled first, so pods on different nodes may run different images"
	case corev1.PullNever:
		return "each node runs whatever image it holds under that name, so pods on different nodes may run different images"
	}
	return "it is pulled on every start, and each pull may get a different image"
}
