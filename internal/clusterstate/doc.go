// Package clusterstate holds the sources of cluster state the review
// engine reads: the ClusterView, PullSecretIndex, ObjectIndex and
// SchedulingIndex of package engine, implemented three ways.
//
//   - InformerCluster (informers.go): the webhook's, informer caches of a
//     cluster kept up to date;
//   - StaticCluster (files.go): `nobackoff check`'s, the objects found in
//     its input files;
//   - LiveCluster (live.go): `nobackoff check --kubeconfig`'s, the input
//     files' objects layered over a live cluster read once, read-only,
//     within bounds.
//
// Each keeps of an object only what the checks read (objects.go): key
// names, never the values of ConfigMaps and Secrets, except the data of
// pull secrets, which the registry lookups authenticate with.
//
// The package does not import the engine: that they implement its
// interfaces is asserted in the tests, and the engine's own tests build
// their cluster views with StaticCluster.
package clusterstate
