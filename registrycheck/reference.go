package registrycheck

import (
	"errors"
	"fmt"

	"github.com/distribution/reference"
)

// Lengths of the parts of the longest image reference a node can pull.
const (
	// maxHostLength is a registry host: a DNS name of at most 253
	// characters (an IPv6 literal is shorter), a colon and a port of at
	// most 5 digits. distribution's grammar bounds neither, but no longer
	// host resolves.
	maxHostLength = 253 + 1 + 5
	// maxTagLength is distribution's tag grammar, [\w][\w.-]{0,127}.
	maxTagLength = 128
	// maxDigestLength is "sha512:" and 128 hex digits: distribution's
	// grammar allows any number of digits, but a digest is accepted only
	// at its algorithm's exact length, and sha512 is the longest.
	maxDigestLength = len("sha512:") + 128
	// maxReferenceLength is host/path:tag@digest at their longest, the
	// path being at most reference.RepositoryNameTotalLengthMax (255).
	// Anything longer is invalid without being parsed: parsing costs
	// hundreds of nanoseconds per byte, and a pod spec may carry a
	// megabyte.
	maxReferenceLength = maxHostLength + 1 + reference.RepositoryNameTotalLengthMax + 1 + maxTagLength + 1 + maxDigestLength
)

// errReferenceTooLong marks an image string longer than any reference a
// node can pull.
var errReferenceTooLong = errors.New("longer than any image reference can be")

// parseImage parses an image as the kubelet does (distribution's
// normalised form: docker.io/library/ added where implied), refusing
// strings longer than maxReferenceLength before parsing them.
func parseImage(image string) (reference.Named, error) {
	if len(image) > maxReferenceLength {
		return nil, fmt.Errorf("%w: %d characters, at most %d", errReferenceTooLong, len(image), maxReferenceLength)
	}
	return reference.ParseNormalizedNamed(image)
}
