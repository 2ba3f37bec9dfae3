package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nobackoff/nobackoff/internal/memo"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

// Engine runs the check catalog over workloads. It is safe for concurrent
// use.
type Engine struct {
	catalog *policy.Catalog
	known   map[policy.ID]bool
	lookups *Lookups
	// objects answers for the objects pod specs name; nil: the object
	// checks say nothing.
	objects ObjectIndex
	// scheduling answers for nodes, quotas and limit ranges: the objects
	// index when it can; nil: the scheduling checks say nothing.
	scheduling SchedulingIndex
	// images remembers parsed image references across reviews.
	images *memo.Memo[parsedImage]
}

type parsedImage struct {
	ref policy.ImageRef
	err error
}

// imageMemoEntries bounds the parsed references remembered: far more
// distinct images than a cluster runs, each well under a kilobyte.
const imageMemoEntries = 4096

// WithLookups returns the engine with registry lookups: the image checks
// then have facts to judge. Without, they stay silent (offline).
func (e *Engine) WithLookups(l *Lookups) *Engine {
	c := *e
	c.lookups = l
	return &c
}

// WithObjects returns the engine with a view of the objects pod specs name
// (ConfigMaps, Secrets, claims, classes, ServiceAccounts).
func (e *Engine) WithObjects(idx ObjectIndex) *Engine {
	c := *e
	c.objects = idx
	c.scheduling, _ = idx.(SchedulingIndex)
	return &c
}

// New returns an engine over the given catalog.
func New(c *policy.Catalog) *Engine {
	return &Engine{catalog: c, known: c.Known(), images: memo.New(imageMemoEntries, func(image string) parsedImage {
		ref, err := policy.ParseImage(image)
		return parsedImage{ref, err}
	})}
}

// InputError is a nobackoff annotation on the object that cannot be read.
type InputError struct {
	// Field is the annotation's field path, e.g.
	// spec.template.metadata.annotations[nobackoff.io/skip].
	Field string
	Err   error
}

func (e *InputError) Error() string { return e.Field + ": " + e.Err.Error() }

// CheckFailure is a check that could not be evaluated.
type CheckFailure struct {
	Check policy.ID
	Err   error
}

// Result is the outcome of reviewing one workload.
type Result struct {
	// Findings are the findings that count, errors first.
	Findings []policy.Finding
	// Exempted are findings suppressed by the skip annotation.
	Exempted []policy.Finding
	// Invalid lists unreadable nobackoff annotations.
	Invalid []*InputError
	// Failures lists checks that could not be evaluated.
	Failures []CheckFailure
}

// Count returns how many findings have the given severity.
func (r *Result) Count(s policy.Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Review runs every check over the workload's pod spec.
func (e *Engine) Review(ctx context.Context, w *workload.Workload) Result {
	var res Result
	pod, ok := podOf(w)
	if !ok {
		return res
	}
	skip, startup := e.annotations(w, &res)
	pod.ExpectedStartup = startup
	pod.ParseImage = e.parseImage
	// The LimitRanger admission plugin fills in the requests and limits the
	// pods will have; every check judges those. (A Pod reaching the webhook
	// has them already, and applying them again changes nothing; a Pod read
	// from a file gets them as the API server would give them.)
	if e.scheduling != nil {
		if ranges, ok := e.scheduling.LimitRanges(w.Namespace); ok && len(ranges) > 0 {
			if spec, changed := policy.ApplyLimitRangeDefaults(pod.Spec, ranges); changed {
				pod.Spec, pod.Written = spec, pod.Spec
			}
		}
	}
	if e.lookups != nil && !skip.All {
		e.lookups.gather(ctx, w, pod)
	}
	if e.objects != nil {
		pod.Objects = namespaceView{e.objects, w.Namespace}
	}
	if e.scheduling != nil {
		pod.Scheduling = schedulingView{e.scheduling, w.Namespace}
	}
	for _, c := range e.catalog.Checks() {
		fs, err := c.Check(ctx, pod)
		if err != nil {
			res.Failures = append(res.Failures, CheckFailure{Check: c.ID(), Err: err})
			continue
		}
		for _, f := range fs {
			f = e.catalog.Overridden(f)
			if skip.Has(f.Check) {
				res.Exempted = append(res.Exempted, f)
			} else {
				res.Findings = append(res.Findings, f)
			}
		}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool { return res.Findings[i].Severity > res.Findings[j].Severity })
	return res
}

// podOf returns the policy view of the workload's pod spec. Spec may be nil
// for a ReplicationController without a template: then ok is false.
func podOf(w *workload.Workload) (*policy.Pod, bool) {
	if w.Spec == nil {
		return nil, false
	}
	p := &policy.Pod{Spec: w.Spec, Path: w.SpecPath, Workload: w.Template != nil, Replicas: w.Replicas,
		DaemonSet: w.Kind == "DaemonSet"}
	if w.Template != nil {
		p.Labels = w.Template.Labels
	} else if w.Meta != nil {
		p.Labels = w.Meta.Labels
	}
	for i, t := range w.ClaimTemplates {
		p.ClaimTemplates = append(p.ClaimTemplates, policy.ClaimTemplate{Name: t.Name,
			StorageClassName: t.Spec.StorageClassName, Field: fmt.Sprintf("spec.volumeClaimTemplates[%d]", i)})
	}
	return p, true
}

func (e *Engine) parseImage(image string) (policy.ImageRef, error) {
	p := e.images.Get(image)
	return p.ref, p.err
}

// annotations reads the skip and expected-startup annotations of the object
// and its pod template. Skips add up; the template's start time, being
// closer to the pods, wins over the object's.
func (e *Engine) annotations(w *workload.Workload, res *Result) (policy.Skip, policy.ExpectedStartup) {
	var skip policy.Skip
	startup := policy.ExpectedStartup{ByContainer: map[string]int{}}
	type source struct {
		path  string
		annos map[string]string
	}
	sources := []source{{"metadata", w.Meta.Annotations}}
	if w.Template != nil {
		sources = append(sources, source{strings.TrimSuffix(w.SpecPath, ".spec") + ".metadata", w.Template.Annotations})
	}
	for _, s := range sources {
		field := func(key string) string { return fmt.Sprintf("%s.annotations[%s]", s.path, key) }
		if v, ok := s.annos[policy.SkipAnnotation]; ok {
			sk, err := policy.ParseSkip(v, policy.PublishedIDs())
			if err != nil {
				res.Invalid = append(res.Invalid, &InputError{Field: field(policy.SkipAnnotation), Err: err})
			}
			skip = skip.Merge(sk)
		}
		if v, ok := s.annos[policy.ExpectedStartupAnnotation]; ok {
			n, err := policy.ParseExpectedStartup(v)
			if err != nil {
				res.Invalid = append(res.Invalid, &InputError{Field: field(policy.ExpectedStartupAnnotation), Err: err})
				continue
			}
			if n.All > 0 {
				startup.All = n.All
			}
			for c, s := range n.ByContainer {
				startup.ByContainer[c] = s
			}
		}
	}
	return skip, startup
}

// namespaceView is an ObjectIndex seen from one namespace.
type namespaceView struct {
	idx       ObjectIndex
	namespace string
}

func (v namespaceView) Object(kind policy.ObjectKind, name string) policy.ObjectState {
	return v.idx.Object(v.namespace, kind, name)
}

func (v namespaceView) DefaultStorageClass() (string, bool) { return v.idx.DefaultStorageClass() }

// schedulingView is a SchedulingIndex seen from one namespace.
type schedulingView struct {
	idx       SchedulingIndex
	namespace string
}

func (v schedulingView) Nodes() ([]*corev1.Node, bool) { return v.idx.Nodes() }

func (v schedulingView) Quotas() ([]*corev1.ResourceQuota, bool) { return v.idx.Quotas(v.namespace) }

func (v schedulingView) LimitRanges() ([]*corev1.LimitRange, bool) {
	return v.idx.LimitRanges(v.namespace)
}
