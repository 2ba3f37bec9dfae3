package audit

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/nobackoff/nobackoff/internal/workload"
)

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}}
}

// TestListLeavesOut: List keeps the workloads the webhook would judge
// and leaves out what it skips or what will start nothing again.
func TestListLeavesOut(t *testing.T) {
	now := metav1.Now()
	yes := true
	meta := func(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	tmpl := corev1.PodTemplateSpec{Spec: podSpec()}
	objs := []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "quiet", Labels: map[string]string{"nobackoff.io/mode": "off"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		&appsv1.Deployment{ObjectMeta: meta("shop", "web"), Spec: appsv1.DeploymentSpec{Template: tmpl}},
		&appsv1.Deployment{ObjectMeta: meta("quiet", "muted"), Spec: appsv1.DeploymentSpec{Template: tmpl}},
		&appsv1.Deployment{ObjectMeta: meta("kube-system", "dns"), Spec: appsv1.DeploymentSpec{Template: tmpl}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", Controller: &yes}}},
			Spec: appsv1.ReplicaSetSpec{Template: tmpl}},
		&batchv1.CronJob{ObjectMeta: meta("shop", "nightly"), Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: tmpl}}}},
		&batchv1.Job{ObjectMeta: meta("shop", "migrate"), Spec: batchv1.JobSpec{Template: tmpl}},
		&batchv1.Job{ObjectMeta: meta("shop", "done"), Spec: batchv1.JobSpec{Template: tmpl},
			Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}},
		&corev1.Pod{ObjectMeta: meta("shop", "debug"), Spec: podSpec()},
		&corev1.Pod{ObjectMeta: meta("shop", "finished"), Spec: podSpec(), Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "leaving", DeletionTimestamp: &now, Finalizers: []string{"x"}}, Spec: podSpec()},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "operated",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Database", Name: "db", Controller: &yes}}}, Spec: podSpec()},
	}
	client := fake.NewClientset(objs...)
	refs := func(l *Listed) []string {
		var out []string
		for _, w := range l.Workloads {
			out = append(out, w.Ref())
		}
		return out
	}

	all, err := List(context.Background(), client, Scope{Exclude: []string{"kube-system"}})
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by namespace, kind, name; the operator's Pod was never
	// checked by a workload of a checked kind, so it is judged.
	want := []string{"CronJob shop/nightly", "Deployment shop/web", "Job shop/migrate", "Pod shop/debug", "Pod shop/operated"}
	if got := refs(all); !slices.Equal(got, want) {
		t.Errorf("List -A: %v\nwant %v", got, want)
	}
	if all.Namespaces != 1 || all.Read != 9 {
		t.Errorf("List -A: %d namespaces, %d objects read; want 1 and 9", all.Namespaces, all.Read)
	}

	// One namespace named: read whatever its label.
	quiet, err := List(context.Background(), client, Scope{Namespace: "quiet"})
	if err != nil {
		t.Fatal(err)
	}
	if got := refs(quiet); !slices.Equal(got, []string{"Deployment quiet/muted"}) {
		t.Errorf("List -n quiet: %v", got)
	}
}

// TestListKeepsSlimCopies: a kept workload is a copy without managed
// fields and the last-applied annotation, its other annotations intact.
func TestListKeepsSlimCopies(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "debug",
		Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: "{...}", "nobackoff.io/skip": "all"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}, Spec: podSpec()}
	l, err := List(context.Background(), fake.NewClientset(pod), Scope{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Workloads) != 1 {
		t.Fatalf("%d workloads, want 1", len(l.Workloads))
	}
	w := l.Workloads[0]
	if _, ok := w.Meta.Annotations[corev1.LastAppliedConfigAnnotation]; ok || w.Meta.ManagedFields != nil {
		t.Errorf("kept: annotations %v, managed fields %v", w.Meta.Annotations, w.Meta.ManagedFields)
	}
	if w.Meta.Annotations["nobackoff.io/skip"] != "all" {
		t.Errorf("the skip annotation was lost: %v", w.Meta.Annotations)
	}
	if got := workload.Kinds(); len(got) != len(resources) {
		t.Errorf("%d workload kinds, %d resources listed", len(got), len(resources))
	}
}
