// Package imageref holds the lengths of the longest image reference a node
// can pull, for the parsers that refuse longer strings before running
// distribution/reference's parser over them (it costs hundreds of
// nanoseconds per byte, and a pod spec may carry a megabyte).
package imageref

import "github.com/distribution/reference"

const (
	// MaxHost is a registry host[:port]: a DNS name of at most 253
	// characters (an IPv6 literal is shorter) and a port of at most 5
	// digits. distribution's grammar bounds neither, but no longer host
	// resolves.
	MaxHost = 253 + len(":65535")
	// MaxTag is distribution's tag grammar, [\w][\w.-]{0,127}.
	MaxTag = 128
	// MaxDigest is "sha512:" and 128 hex digits: distribution's grammar
	// allows any number of digits, but a digest is accepted only at its
	// algorithm's exact length, and sha512 is the longest.
	MaxDigest = len("sha512:") + 128
	// MaxRemainder is the part after the host: the repository path at
	// distribution's limit (reference.RepositoryNameTotalLengthMax, 255,
	// counting the "library/" added to one-word Docker Hub names), ":" and
	// a tag, "@" and a digest.
	MaxRemainder = reference.RepositoryNameTotalLengthMax + 1 + MaxTag + 1 + MaxDigest
	// MaxReference is host/remainder at their longest.
	MaxReference = MaxHost + 1 + MaxRemainder
)
