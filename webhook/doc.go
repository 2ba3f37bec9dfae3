// Package webhook is nobackoff's admission server: it turns an
// AdmissionReview into a verdict (warnings, or a denial in enforce mode)
// from the review engine's findings.
//
// It holds the HTTPS admission server, AdmissionReview decoding and
// handling, modes, rendering of warnings and denials, health endpoints,
// metrics and the self-managed serving certificates. The review itself is
// the engine's (internal/engine), the pod-spec extraction the workload
// model's (internal/workload), the cluster caches the informers of
// internal/clusterstate.
package webhook
