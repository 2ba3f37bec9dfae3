// Package workload is nobackoff's model of the objects that carry a pod
// spec: which kinds they are (Kinds), how their JSON is decoded (strictly
// for manifests, as the admission path reads it for reviews), where the
// pod spec sits in each, the limits a pod spec must keep within before
// any check runs, and what in it the API server would reject (Validate).
//
// It is shared by every entry point: the admission server, `nobackoff
// check` and the review engine. It depends on the Kubernetes API types and
// JSON decoders only: it knows nothing of checks, manifest files or
// clusters.
package workload
