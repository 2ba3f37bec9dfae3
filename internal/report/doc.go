// Package report turns the review of a batch of workloads into nobackoff's
// report: the findings of each workload, in input order, with the errors
// that locate input it could not use, written for people (WriteText) or
// as the JSON contract of `nobackoff check -o json` (WriteJSON).
//
// CheckDocuments makes a Report of the documents `nobackoff check` read;
// the Report itself does not depend on where the workloads come from, so
// that other sources (a live cluster's objects) can produce one too.
package report
