// Package manifests reads Kubernetes objects from manifest files,
// directories and standard input for `nobackoff check`: multi-document
// YAML, JSON and Lists, each object kept as JSON and located to its file
// and document for errors.
//
// The files are untrusted input. Their size, their number of documents
// and how far YAML aliases may expand a document are bounded (limits.go),
// and a named pipe, socket or device found in a directory is refused
// rather than read, so that no file can exhaust the process or block it.
package manifests
