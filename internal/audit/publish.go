package audit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	orv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"

	"github.com/nobackoff/nobackoff/internal/report"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

// found is one finding of a pass on its workload. Info findings (advice,
// never sent to kubectl either) are not published.
type found struct {
	subject corev1.ObjectReference
	f       policy.Finding
}

// key identifies a finding from pass to pass: the workload, the check and
// the field.
func (f found) key() string {
	return findingKey(f.subject.Kind, f.subject.Namespace, f.subject.Name, string(f.f.Check), f.f.Field)
}

// workload identifies the finding's workload.
func (f found) workload() string {
	return f.subject.Kind + "/" + f.subject.Namespace + "/" + f.subject.Name
}

func findingKey(kind, namespace, name, check, field string) string {
	return kind + "/" + namespace + "/" + name + "|" + check + "|" + field
}

// findingsOf flattens a pass's report: its objects are the listed
// workloads, in order. Inconclusive lookups are not findings to publish
// (a Report says what will not come up, not what could not be told):
// unsure names the workloads that had one.
func findingsOf(listed *Listed, rep *report.Report) (out []found, unsure map[string]bool) {
	unsure = map[string]bool{}
	versions := map[string]string{}
	for _, k := range workload.Kinds() {
		versions[k.Kind] = k.GroupVersion().String()
	}
	for i, o := range rep.Objects {
		w := listed.Workloads[i]
		subject := corev1.ObjectReference{APIVersion: versions[w.Kind], Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, UID: w.Meta.UID}
		for _, f := range o.Result.Findings {
			switch {
			case f.Check == policy.ImageLookupInconclusive:
				unsure[found{subject: subject}.workload()] = true
			case f.Severity == policy.Error || f.Severity == policy.Warning:
				out = append(out, found{subject: subject, f: f})
			}
		}
	}
	return out, unsure
}

// Reports: one per namespace holding a finding, named reportName and
// labelled managedBy, with a result per finding; none where there is
// nothing to say.
const (
	reportName     = "nobackoff"
	reportSource   = "nobackoff"
	managedByLabel = "app.kubernetes.io/managed-by"
	managedBy      = "nobackoff"
	// maxResults bounds a Report (etcd keeps objects of 1.5 MiB at most):
	// past it, errors are kept before warnings and the rest counted in
	// the summary only.
	maxResults = 1000
)

// result is a finding as a Report result: rule the check ID, fail for an
// error (high), warn for a warning (medium).
func result(f found, at time.Time) orv1alpha1.ReportResult {
	r := orv1alpha1.ReportResult{
		Source: reportSource, Policy: "nobackoff", Rule: string(f.f.Check), Category: f.f.Check.Category(),
		Result: "warn", Severity: "medium", Timestamp: metav1.Timestamp{Seconds: at.Unix()},
		Subjects: []corev1.ObjectReference{f.subject}, Description: f.f.Line(),
		Properties: map[string]string{"field": f.f.Field},
	}
	if f.f.Severity == policy.Error {
		r.Result, r.Severity = "fail", "high"
	}
	for k, v := range map[string]string{"container": f.f.Container, "image": f.f.Image, "fix": f.f.Fix, "outcome": string(f.f.Outcome)} {
		if v != "" {
			r.Properties[k] = v
		}
	}
	return r
}

// writeReports makes the Reports say what the pass found: each namespace
// with findings gets its Report created or replaced; the Reports of
// namespaces without any are deleted.
func (b *Background) writeReports(ctx context.Context, fs []found, at time.Time) error {
	byNamespace := map[string][]found{}
	for _, f := range fs {
		byNamespace[f.subject.Namespace] = append(byNamespace[f.subject.Namespace], f)
	}
	current, err := b.ourReports(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for ns, nsFound := range byNamespace {
		want := newReport(ns, nsFound, at)
		if b.owner != nil {
			want.OwnerReferences = []metav1.OwnerReference{*b.owner}
		}
		reports := b.o.Reports.OpenreportsV1alpha1().Reports(ns)
		if have, ok := current[ns]; ok {
			want.ResourceVersion = have.ResourceVersion
			_, err = reports.Update(ctx, want, metav1.UpdateOptions{})
		} else {
			_, err = reports.Create(ctx, want, metav1.CreateOptions{})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("Report %s/%s: %w", ns, reportName, err))
		}
	}
	for ns := range current {
		if _, ok := byNamespace[ns]; ok {
			continue
		}
		err := b.o.Reports.OpenreportsV1alpha1().Reports(ns).Delete(ctx, reportName, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("Report %s/%s: %w", ns, reportName, err))
		}
	}
	return errors.Join(errs...)
}

// ourReports are the Reports the passes wrote, by namespace.
func (b *Background) ourReports(ctx context.Context) (map[string]*orv1alpha1.Report, error) {
	list, err := b.o.Reports.OpenreportsV1alpha1().Reports(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		LabelSelector: managedByLabel + "=" + managedBy})
	if err != nil {
		return nil, fmt.Errorf("listing Reports: %w", err)
	}
	out := map[string]*orv1alpha1.Report{}
	for i := range list.Items {
		if r := &list.Items[i]; r.Name == reportName {
			out[r.Namespace] = r
		}
	}
	return out, nil
}

// newReport is the Report of one namespace's findings.
func newReport(namespace string, fs []found, at time.Time) *orv1alpha1.Report {
	r := &orv1alpha1.Report{
		ObjectMeta: metav1.ObjectMeta{Name: reportName, Namespace: namespace, Labels: map[string]string{managedByLabel: managedBy}},
		Source:     reportSource,
	}
	for _, f := range fs {
		if f.f.Severity == policy.Error {
			r.Summary.Fail++
		} else {
			r.Summary.Warn++
		}
	}
	sort.SliceStable(fs, func(i, j int) bool {
		return fs[i].f.Severity == policy.Error && fs[j].f.Severity != policy.Error
	})
	for _, f := range fs[:min(len(fs), maxResults)] {
		r.Results = append(r.Results, result(f, at))
	}
	return r
}

// reported is what the Reports found say, as finding keys: a replica that
// takes the lead records Events only for findings not already reported.
func (b *Background) reported(ctx context.Context) map[string]bool {
	seen := map[string]bool{}
	if b.o.Reports == nil {
		return seen
	}
	current, err := b.ourReports(ctx)
	if err != nil {
		b.o.Log.Info("background pass: the Reports could not be read; findings already reported may get a second Event", "error", err)
		return seen
	}
	for _, r := range current {
		for _, res := range r.Results {
			for _, s := range res.Subjects {
				seen[findingKey(s.Kind, s.Namespace, s.Name, res.Rule, res.Properties["field"])] = true
			}
		}
	}
	return seen
}

// Events: type Warning, reason the check ID, on the workload, once per
// finding that was not there in the last pass.
const (
	eventController = "nobackoff.io/audit"
	eventAction     = "Audit"
	maxEventNote    = 1024 // the API server's limit on an Event's note
)

func (b *Background) recordEvents(ctx context.Context, fs []found) {
	now := time.Now()
	for _, f := range fs {
		if b.seen[f.key()] {
			continue
		}
		note := f.f.Line()
		if f.f.Fix != "" {
			note += "; fix: " + policy.OneLine(f.f.Fix)
		}
		if len(note) > maxEventNote {
			note = strings.ToValidUTF8(note[:maxEventNote-3], "") + "..." // cut on a character
		}
		ev := &eventsv1.Event{
			// The workload's name and a time, as the API server's own
			// recorders name Events; names are at most 253 characters.
			ObjectMeta: metav1.ObjectMeta{Namespace: f.subject.Namespace,
				Name: fmt.Sprintf("%s.%x", strings.TrimRight(f.subject.Name[:min(len(f.subject.Name), 200)], "-."), now.UnixNano())},
			EventTime: metav1.NewMicroTime(now), Type: corev1.EventTypeWarning,
			ReportingController: eventController, ReportingInstance: b.o.Identity, Action: eventAction,
			Reason: string(f.f.Check), Note: note, Regarding: f.subject,
		}
		if _, err := b.o.Client.EventsV1().Events(f.subject.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			b.o.Log.Warn("background pass: Event not recorded", "workload", f.subject.Kind+" "+f.subject.Namespace+"/"+f.subject.Name,
				"check", string(f.f.Check), "error", err)
		}
		now = now.Add(time.Nanosecond) // distinct names within a pass
	}
}
