// Package audit judges the workloads a cluster already runs, as the
// admission webhook would judge them were they applied now: which of them
// would not come up again on their next reschedule, scale-up or node
// drain. It lists them read-only (List) and reviews each with the engine
// (Review), giving the same report as `nobackoff check`.
package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/report"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

// Scope says which namespaces an audit reads.
type Scope struct {
	// Namespace limits the audit to one namespace, whatever its mode
	// label; "" reads every namespace but those labelled off and those
	// in Exclude.
	Namespace string
	// Exclude lists namespaces left out when Namespace is "".
	Exclude []string
	// PageSize is the size of one list call. Default 500.
	PageSize int64
}

// Listed is what List found.
type Listed struct {
	// Workloads are the workloads to judge, sorted by namespace, kind
	// and name.
	Workloads []*workload.Workload
	// Read counts the objects of the checked kinds read, judged or not.
	Read int
	// Skipped names the objects left out because they are over the
	// limits a pod spec must keep within to be judged.
	Skipped []error
	// Namespaces counts the namespaces read.
	Namespaces int
}

// List reads the workloads of every kind the webhook checks in scope.
// Left out, as they would be at admission or because nothing will start
// them again: objects a controller of a checked kind owns (their owner is
// judged), objects being deleted, Pods that have finished, Jobs that have
// completed or failed. Of those kept, it keeps a copy without their
// managed fields and last-applied annotation, so that a listing's pages
// are not held while the reviews run.
func List(ctx context.Context, client kubernetes.Interface, scope Scope) (*Listed, error) {
	if scope.PageSize <= 0 {
		scope.PageSize = 500
	}
	wanted, n, err := namespaces(ctx, client, scope)
	if err != nil {
		return nil, err
	}
	out := &Listed{Namespaces: n}
	for _, gvk := range workload.Kinds() {
		resource := resources[gvk.Kind]
		opts := metav1.ListOptions{Limit: scope.PageSize}
		for {
			objs, cont, err := listPage(ctx, client, resource, scope.Namespace, opts)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", resource, err)
			}
			for _, obj := range objs {
				meta := obj.(metav1.Object)
				if !wanted(meta.GetNamespace()) {
					continue
				}
				out.Read++
				if meta.GetDeletionTimestamp() != nil || finished(obj) {
					continue
				}
				w, err := workload.FromObject(gvk, obj)
				if err != nil || w.ControllerOwned() {
					continue
				}
				kept := obj.(runtime.Object).DeepCopyObject()
				slim(kept.(metav1.Object))
				if w, err = workload.FromObject(gvk, kept); err != nil {
					continue
				}
				if err := workload.CheckLimits(w); err != nil {
					out.Skipped = append(out.Skipped, fmt.Errorf("%s: not judged: %w", w.Ref(), err))
					continue
				}
				out.Workloads = append(out.Workloads, w)
			}
			if cont == "" {
				break
			}
			opts.Continue = cont
		}
	}
	slices.SortStableFunc(out.Workloads, func(a, b *workload.Workload) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// namespaces returns which namespaces the scope takes and how many that
// is. Reading every namespace, it lists them to leave out those labelled
// off (a listing refused is an error: which are off cannot be told).
func namespaces(ctx context.Context, client kubernetes.Interface, scope Scope) (func(string) bool, int, error) {
	if scope.Namespace != "" {
		return func(ns string) bool { return ns == scope.Namespace }, 1, nil
	}
	skip := map[string]bool{}
	for _, ns := range scope.Exclude {
		skip[ns] = true
	}
	n := 0
	opts := metav1.ListOptions{Limit: scope.PageSize}
	for {
		list, err := client.CoreV1().Namespaces().List(ctx, opts)
		if err != nil {
			return nil, 0, fmt.Errorf("listing namespaces: %w", err)
		}
		for _, ns := range list.Items {
			if ns.Labels[policy.ModeLabel] == "off" {
				skip[ns.Name] = true
			} else if !skip[ns.Name] {
				n++
			}
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	return func(ns string) bool { return !skip[ns] }, n, nil
}

// finished reports a Pod or Job that will start nothing again: a Pod
// Succeeded or Failed, a Job Complete or Failed.
func finished(obj any) bool {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o.Status.Phase == corev1.PodSucceeded || o.Status.Phase == corev1.PodFailed
	case *batchv1.Job:
		for _, c := range o.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				return true
			}
		}
	}
	return false
}

// slim drops from a kept object what no check reads and can be large.
func slim(m metav1.Object) {
	m.SetManagedFields(nil)
	if a := m.GetAnnotations(); a[corev1.LastAppliedConfigAnnotation] != "" {
		a = maps.Clone(a)
		delete(a, corev1.LastAppliedConfigAnnotation)
		m.SetAnnotations(a)
	}
}

// resources are the resources of workload.Kinds.
var resources = map[string]string{
	"CronJob": "cronjobs", "Job": "jobs", "Deployment": "deployments", "ReplicaSet": "replicasets",
	"StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "ReplicationController": "replicationcontrollers", "Pod": "pods",
}

// listPage lists one page of a workload resource.
func listPage(ctx context.Context, c kubernetes.Interface, resource, ns string, o metav1.ListOptions) ([]any, string, error) {
	switch resource {
	case "cronjobs":
		l, err := c.BatchV1().CronJobs(ns).List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return pointers(l.Items), l.Continue, nil
	case "jobs":
		l, err := c.BatchV1().Jobs(ns).List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return pointers(l.Items), l.Continue, nil
	case "deployments":
		l, err := c.AppsV1().Deployments(ns).List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return pointers(l.Items), l.Continue, nil
	case "replicasets":
		l, err := c.AppsV1().ReplicaSets(ns).List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return pointers(l.Items), l.Continue, nil
	case "statefulsets":
		l, err := c.AppsV1().StatefulSets(ns).List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return pointers(l.Items), l.Continue, nil
	case "daemonsets":
		l, err := c.AppsV1().DaemonSets(ns).List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return pointers(l.Items), l.Continue, nil
	case "replicationcontrollers":
		l, err := c.CoreV1().ReplicationControllers(ns).List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return pointers(l.Items), l.Continue, nil
	case "pods":
		l, err := c.CoreV1().Pods(ns).List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return pointers(l.Items), l.Continue, nil
	}
	return nil, "", fmt.Errorf("no lister for %s", resource)
}

// pointers returns pointers to a page's items.
func pointers[T any](items []T) []any {
	out := make([]any, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// Progress is told how many workloads have been reviewed, of how many.
type Progress func(done, total int)

// Review reviews the workloads with e, at most concurrency at a time
// (default 8: each may wait on registry lookups), and returns the report
// in their order. Unreadable nobackoff annotations and checks that could
// not be evaluated are returned as errors naming the workload; they do
// not stop the others.
func Review(ctx context.Context, e *engine.Engine, listed *Listed, concurrency int, progress Progress) (*report.Report, []error) {
	if concurrency <= 0 {
		concurrency = 8
	}
	ws := listed.Workloads
	results := make([]engine.Result, len(ws))
	var done atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for i, w := range ws {
		if ctx.Err() != nil {
			break // cancelled: no more reviews started
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = e.Review(ctx, w)
			if progress != nil {
				progress(int(done.Add(1)), len(ws))
			}
		}()
	}
	wg.Wait()
	rep := &report.Report{Read: listed.Read}
	var errs []error
	for i, w := range ws {
		res := results[i]
		for _, ie := range res.Invalid {
			errs = append(errs, fmt.Errorf("%s: %w", w.Ref(), ie))
		}
		for _, cf := range res.Failures {
			errs = append(errs, fmt.Errorf("%s: check %s could not be evaluated: %w", w.Ref(), cf.Check, cf.Err))
		}
		rep.Objects = append(rep.Objects, report.ObjectReport{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, Result: res})
	}
	return rep, errs
}
