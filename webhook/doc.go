// Package webhook runs nobackoff's pipeline: it finds the pod specs in an
// object, runs the policy catalog over them, and turns the findings into an
// admission verdict (warnings, or a denial in enforce mode) or a CLI report.
//
// It holds the HTTPS admission server, AdmissionReview handling, modes,
// rendering of warnings and denials, health endpoints and metrics, and the
// manifest reader behind `nobackoff check`.
package webhook
