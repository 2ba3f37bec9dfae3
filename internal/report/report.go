package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

// ObjectReport is the review of one workload.
type ObjectReport struct {
	// Source is where the workload was read: its file for `nobackoff
	// check`.
	Source    string
	Kind      string
	Namespace string
	Name      string
	Result    engine.Result
}

// Report is the outcome of reviewing a batch of workloads, as `nobackoff
// check` writes it. It says nothing of where they came from but their
// Source: CheckDocuments makes one of manifest documents.
type Report struct {
	// Objects holds every workload reviewed, in input order.
	Objects []ObjectReport
	// Read counts every object read, workloads or not.
	Read int
}

// HasErrors reports whether any finding is error-level: a pod will not
// come up.
func (r *Report) HasErrors() bool { return r.Count(policy.Error) > 0 }

// Count returns how many findings of the given severity the report holds.
func (r *Report) Count(s policy.Severity) int {
	n := 0
	for i := range r.Objects {
		n += r.Objects[i].Result.Count(s)
	}
	return n
}

// CheckDocuments reviews the workloads among the documents. Objects of other
// kinds are read without complaint. Errors locate input nobackoff cannot
// use: undecodable workloads, pod specs the API server would reject
// (validateDocument), unreadable nobackoff annotations, workload kinds at
// an API version no longer served.
func CheckDocuments(ctx context.Context, e *engine.Engine, docs []manifests.Document) (*Report, []error) {
	rep := &Report{Read: len(docs)}
	var errs []error
	// Registry lookups make a review wait; review up to 8 workloads at a
	// time, keeping the input order in the report.
	results := make([]*engine.Result, len(docs))
	workloads := make([]*workload.Workload, len(docs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range docs {
		d := &docs[i]
		if !workload.IsKind(d.GVK) {
			continue
		}
		w, err := workload.Decode(d.GVK, d.JSON, true)
		if err != nil {
			continue // reported below, in order
		}
		workloads[i] = w
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res := e.Review(ctx, w)
			results[i] = &res
		}()
	}
	wg.Wait()
	for i := range docs {
		d := &docs[i]
		if !workload.IsKind(d.GVK) {
			if want, ok := misspelledWorkload(d.GVK); ok {
				errs = append(errs, &manifests.Error{Where: d.Where(), Err: fmt.Errorf(
					"apiVersion %q, kind %q is not served by Kubernetes: write %s", d.GVK.GroupVersion(), d.GVK.Kind, want)})
			}
			continue
		}
		w := workloads[i]
		if w == nil {
			_, err := workload.Decode(d.GVK, d.JSON, true)
			errs = append(errs, &manifests.Error{Where: d.Where(), Err: locateDecodeError(d.JSON, err)})
			continue
		}
		res := *results[i]
		// Read from a file, the object never met the API server's
		// validation: report what it would reject.
		for _, fe := range validateDocument(d, w) {
			errs = append(errs, &manifests.Error{Where: d.Where(), Err: fe})
		}
		for _, ie := range res.Invalid {
			errs = append(errs, &manifests.Error{Where: d.Where(), Err: ie})
		}
		for _, cf := range res.Failures {
			errs = append(errs, &manifests.Error{Where: d.Where(), Err: fmt.Errorf("check %s could not be evaluated: %w", cf.Check, cf.Err)})
		}
		rep.Objects = append(rep.Objects, ObjectReport{Source: d.Source, Kind: w.Kind, Namespace: d.Namespace, Name: w.Name, Result: res})
	}
	return rep, errs
}

// validateDocument reports what the API server would reject in the pod
// spec of w, the workload decoded from d (see workload.Validate). A
// StatefulSet's volumeClaimTemplates are volumes of its pods.
func validateDocument(d *manifests.Document, w *workload.Workload) field.ErrorList {
	var claims []string
	if d.GVK.Kind == "StatefulSet" {
		claims = workload.ClaimTemplateNames(d.JSON)
	}
	return workload.Validate(w, claims)
}

// misspelledWorkload recognises a workload written with an apiVersion or a
// kind the API server would reject: a retired version (apps/v1beta2
// Deployment, extensions/v1beta1 DaemonSet, batch/v1beta1 CronJob), the
// wrong group (v1 Deployment) or the wrong case (deployment). It returns
// what to write instead.
func misspelledWorkload(gvk schema.GroupVersionKind) (string, bool) {
	for _, w := range workload.Kinds() {
		if strings.EqualFold(w.Kind, gvk.Kind) {
			return fmt.Sprintf("apiVersion: %s, kind: %s", w.GroupVersion(), w.Kind), true
		}
	}
	return "", false
}

// jsonFinding is one entry of the JSON report. Its field names are a
// contract: later versions add fields but never rename or drop one.
type jsonFinding struct {
	Check     policy.ID       `json:"check"`
	Severity  policy.Severity `json:"severity"`
	Kind      string          `json:"kind"`
	Namespace string          `json:"namespace"`
	Name      string          `json:"name"`
	Container string          `json:"container"`
	Image     string          `json:"image"`
	Field     string          `json:"field"`
	Message   string          `json:"message"`
	Fix       string          `json:"fix"`
	File      string          `json:"file"`
	// Suggestion is the closest existing tag or repository, when known.
	Suggestion string `json:"suggestion,omitempty"`
	// Outcome is the pod state the finding foretells (the kubelet's
	// reason, or NeverReady), when it foretells one.
	Outcome policy.Outcome `json:"outcome,omitempty"`
}

type jsonReport struct {
	Findings []jsonFinding `json:"findings"`
}

// Write writes the report in format: "json" (WriteJSON), else text.
func (r *Report) Write(w io.Writer, format string) error {
	if format == "json" {
		return r.WriteJSON(w)
	}
	return r.WriteText(w)
}

// WriteJSON writes the report in the JSON contract of `nobackoff check -o json`.
func (r *Report) WriteJSON(w io.Writer) error {
	out := jsonReport{Findings: []jsonFinding{}}
	for _, o := range r.Objects {
		for _, f := range o.Result.Findings {
			out.Findings = append(out.Findings, jsonFinding{
				Check: f.Check, Severity: f.Severity, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name,
				Container: f.Container, Image: f.Image, Field: f.Field, Message: f.Message, Fix: f.Fix, File: o.Source,
				Suggestion: f.Suggestion, Outcome: f.Outcome,
			})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteText writes the report for people, grouped by object.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	withFindings := 0
	for _, o := range r.Objects {
		if len(o.Result.Findings) == 0 {
			continue
		}
		withFindings++
		ref := o.Kind + " " + o.Name
		if o.Namespace != "" {
			ref = o.Kind + " " + o.Namespace + "/" + o.Name
		}
		if o.Source != "" {
			ref += " (" + o.Source + ")"
		}
		fmt.Fprintf(&b, "%s\n", ref)
		for _, f := range o.Result.Findings {
			fmt.Fprintf(&b, "  %-7s %s\n", f.Severity, f.Line())
			fmt.Fprintf(&b, "          at %s\n", f.Field)
			if f.Fix != "" {
				fmt.Fprintf(&b, "          fix: %s\n", f.Fix)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s read, %s checked, %d with findings: %s, %s, %d info\n",
		plural(r.Read, "object"), plural(len(r.Objects), "workload"), withFindings,
		plural(r.Count(policy.Error), "error"), plural(r.Count(policy.Warning), "warning"), r.Count(policy.Info))
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// locateDecodeError adds the field path to decoding errors that lack one.
// Quantities (resources.limits.memory: 1Gb) fail inside their own parser,
// which knows no path: find the first unparsable quantity.
func locateDecodeError(data []byte, err error) error {
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return err
	}
	if path, ok := badQuantity(doc, "", false); ok {
		return fmt.Errorf("%s: %w", path, err)
	}
	return err
}

// badQuantity walks a decoded object for the first value of a resource
// list (limits, requests, overhead) that is not a quantity.
func badQuantity(v any, path string, inResourceList bool) (string, bool) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if inResourceList {
				if !isQuantity(t[k]) {
					return p, true
				}
				continue
			}
			list := k == "overhead" || ((k == "limits" || k == "requests") && strings.HasSuffix(path, "resources"))
			if found, ok := badQuantity(t[k], p, list); ok {
				return found, true
			}
		}
	case []any:
		for i, e := range t {
			if found, ok := badQuantity(e, fmt.Sprintf("%s[%d]", path, i), false); ok {
				return found, true
			}
		}
	}
	return "", false
}

func isQuantity(v any) bool {
	switch t := v.(type) {
	case string:
		_, err := resource.ParseQuantity(t)
		return err == nil
	case float64:
		return true
	}
	return false
}
