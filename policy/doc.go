// Package policy holds nobackoff's check catalog: the Finding and Severity
// types, the stable check IDs that users name in skip annotations and
// configuration, and the checks themselves.
//
// Checks are pure functions of a pod spec and the facts gathered about it.
// This package performs no network or cluster I/O; the review engine
// (internal/engine) gathers facts and hands them in, so every check can be
// tested with plain data.
package policy
