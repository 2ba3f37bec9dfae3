// Package engine is nobackoff's review engine, shared by its entry points
// (the admission server, `nobackoff check`): it runs the policy catalog
// over a workload's pod spec, with the facts it gathers for it, and
// returns the findings.
//
// It holds the engine and its result (engine.go), what it reads of the
// cluster and the registries (facts.go: the ClusterView, PullSecretIndex,
// ObjectIndex and SchedulingIndex interfaces the sources of cluster state
// implement, and Lookups, which gathers registry facts), and the settings
// and configuration file that build it (settings.go, config.go). The
// sources of cluster state themselves are in package clusterstate.
package engine
