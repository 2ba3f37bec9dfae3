package registrycheck

import (
	"errors"
	"fmt"

	"github.com/distribution/reference"

	"github.com/nobackoff/nobackoff/internal/imageref"
)

// maxReferenceLength is the longest image reference a node can pull;
// anything longer is refused unparsed.
const maxReferenceLength = imageref.MaxReference

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
