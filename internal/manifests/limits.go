package manifests

// Limits on what nobackoff reads. Each is far above anything a real
// manifest or object reaches; they exist so that hostile or broken input
// costs bounded memory and time, and is refused with an error naming where
// it went over instead of exhausting the process. Input over one is a
// *Error wrapping a *workload.LimitError, the type the workload limits
// (package workload) are reported with too.
//
// Manifest files (nobackoff check -f):
const (
	// MaxManifestBytes bounds one file or standard input. Published install
	// bundles with all their CRDs weigh a few MiB; a file over 32 MiB is
	// generated data, and reading /dev/zero must end.
	MaxManifestBytes = 32 << 20
	// MaxManifestDocuments bounds the YAML documents in one file: each one
	// costs a parse even when empty, and no reviewed file holds thousands.
	MaxManifestDocuments = 10_000
	// MaxDocumentBytes bounds one YAML document as written: the API server
	// takes at most 3 MiB per request, and a document's comments and
	// indentation get it 1 MiB of slack over its JSON.
	MaxDocumentBytes = 4 << 20
	// MaxObjectBytes bounds one object converted to JSON: the API server's
	// limit on a request body (3 MiB), so a larger object can never exist.
	MaxObjectBytes = 3 << 20
	// MaxAliasExpansion bounds how many times larger YAML aliases may make a
	// document than it is with each alias counted as written. Anchors
	// shared by a few containers stay under 3; a scalar of 1 MiB aliased
	// 5,000 times, in a 1 MB file, would be 5 GB.
	MaxAliasExpansion = 10
	// MaxManifestJSONBytes bounds the JSON of all the objects of one file,
	// which nobackoff holds until the report is written: twice
	// MaxManifestBytes, as JSON is seldom larger than the YAML it comes
	// from.
	MaxManifestJSONBytes = 2 * MaxManifestBytes
)

// What the manifest limits' LimitErrors count.
const (
	unitBytes         = "bytes"
	unitDocuments     = "documents"
	unitJSONBytes     = "bytes as JSON"
	unitExpandedBytes = "bytes once its aliases are expanded"
)
