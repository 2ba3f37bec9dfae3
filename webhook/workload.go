package webhook

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"

	"github.com/nobackoff/nobackoff/policy"
)

// Workload is an object that carries a pod spec, reduced to what the checks
// and the verdict need.
type Workload struct {
	Kind      string
	Namespace string
	Name      string
	// Meta is the object's metadata; Template the pod template's (nil for
	// a Pod).
	Meta     *metav1.ObjectMeta
	Template *metav1.ObjectMeta
	// Spec is the pod spec and SpecPath its field path in the object.
	Spec     *corev1.PodSpec
	SpecPath string
	// ClaimTemplates are a StatefulSet's volumeClaimTemplates.
	ClaimTemplates []corev1.PersistentVolumeClaim
	// Replicas is how many pods the workload runs at once (1 for a Pod, a
	// Job's parallelism); 0 for a DaemonSet, which runs one per node.
	Replicas int32
}

// ControllerOwned reports whether the object was created by a controller
// of a kind nobackoff checks (a Pod of a ReplicaSet, a ReplicaSet of a
// Deployment, a Job of a CronJob, ...): its template was checked when that
// workload was applied. Objects of other controllers (operators' Pods) were
// never checked and are not skipped.
func (w *Workload) ControllerOwned() bool {
	ref := metav1.GetControllerOfNoCopy(w.Meta)
	if ref == nil {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && IsWorkloadKind(gv.WithKind(ref.Kind))
}

// Ref names the object for messages: Deployment shop/web.
func (w *Workload) Ref() string {
	if w.Namespace == "" {
		return w.Kind + " " + w.Name
	}
	return w.Kind + " " + w.Namespace + "/" + w.Name
}

// WorkloadKinds lists the kinds whose pod specs nobackoff checks, at the
// version Kubernetes serves them.
func WorkloadKinds() []schema.GroupVersionKind {
	return []schema.GroupVersionKind{
		{Version: "v1", Kind: "Pod"},
		{Version: "v1", Kind: "ReplicationController"},
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "apps", Version: "v1", Kind: "StatefulSet"},
		{Group: "apps", Version: "v1", Kind: "DaemonSet"},
		{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
		{Group: "batch", Version: "v1", Kind: "Job"},
		{Group: "batch", Version: "v1", Kind: "CronJob"},
	}
}

// servedWorkload returns the served version of a workload group and kind.
func servedWorkload(gk schema.GroupKind) (schema.GroupVersionKind, bool) {
	for _, w := range WorkloadKinds() {
		if w.GroupKind() == gk {
			return w, true
		}
	}
	return schema.GroupVersionKind{}, false
}

// IsWorkloadKind reports whether objects of this group, version and kind
// carry a pod spec nobackoff checks.
func IsWorkloadKind(gvk schema.GroupVersionKind) bool {
	w, ok := servedWorkload(gvk.GroupKind())
	return ok && w.Version == gvk.Version
}

// DecodeWorkload decodes the JSON of an object of a workload kind. With
// strict set, unknown and duplicate fields are errors, as they are for
// kubectl's default server-side validation. A pod spec over one of the
// limits of limits.go is a *LimitError naming the field.
func DecodeWorkload(gvk schema.GroupVersionKind, data []byte, strict bool) (*Workload, error) {
	w, err := decodeWorkload(gvk, data, strict)
	if err != nil {
		return nil, err
	}
	// Every check runs over the pod spec: refuse one too large to check in
	// bounded time before any does.
	if err := checkLimits(w); err != nil {
		return nil, err
	}
	return w, nil
}

// decodeWorkload is DecodeWorkload without the limits, for an object that
// is only compared, never checked (the old object of an UPDATE).
func decodeWorkload(gvk schema.GroupVersionKind, data []byte, strict bool) (*Workload, error) {
	obj := newWorkloadObject(gvk)
	if obj == nil {
		return nil, fmt.Errorf("%s is not a workload kind", gvk)
	}
	if err := decodeJSON(data, obj, strict); err != nil {
		return nil, err
	}
	return workloadFromObject(gvk, obj)
}

// newWorkloadObject is an empty object of a workload kind to decode into;
// nil for another kind.
func newWorkloadObject(gvk schema.GroupVersionKind) any {
	if !IsWorkloadKind(gvk) {
		return nil
	}
	switch gvk.Kind {
	case "Pod":
		return &corev1.Pod{}
	case "ReplicationController":
		return &corev1.ReplicationController{}
	case "Deployment":
		return &appsv1.Deployment{}
	case "StatefulSet":
		return &appsv1.StatefulSet{}
	case "DaemonSet":
		return &appsv1.DaemonSet{}
	case "ReplicaSet":
		return &appsv1.ReplicaSet{}
	case "Job":
		return &batchv1.Job{}
	case "CronJob":
		return &batchv1.CronJob{}
	}
	return nil
}

// workloadFromObject is the workload view of a decoded object of kind gvk.
func workloadFromObject(gvk schema.GroupVersionKind, obj any) (*Workload, error) {
	w := workloadOf(obj)
	if w == nil {
		return nil, fmt.Errorf("%s is not a workload kind", gvk)
	}
	w.Kind, w.Namespace, w.Name = gvk.Kind, w.Meta.Namespace, w.Meta.Name
	if w.Name == "" && w.Meta.GenerateName != "" {
		w.Name = w.Meta.GenerateName + "*"
	}
	return w, nil
}

func workloadOf(obj any) *Workload {
	w := workloadSpec(obj)
	if w != nil {
		w.Replicas = replicasOf(obj)
	}
	return w
}

// replicasOf is how many pods a workload runs at once, with the API
// server's defaults (replicas 1, parallelism 1).
func replicasOf(obj any) int32 {
	or1 := func(p *int32) int32 {
		if p == nil {
			return 1
		}
		return *p
	}
	switch o := obj.(type) {
	case *corev1.ReplicationController:
		return or1(o.Spec.Replicas)
	case *appsv1.Deployment:
		return or1(o.Spec.Replicas)
	case *appsv1.StatefulSet:
		return or1(o.Spec.Replicas)
	case *appsv1.ReplicaSet:
		return or1(o.Spec.Replicas)
	case *batchv1.Job:
		return or1(o.Spec.Parallelism)
	case *batchv1.CronJob:
		return or1(o.Spec.JobTemplate.Spec.Parallelism)
	case *appsv1.DaemonSet:
		return 0
	}
	return 1
}

func workloadSpec(obj any) *Workload {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &Workload{Meta: &o.ObjectMeta, Spec: &o.Spec, SpecPath: "spec"}
	case *corev1.ReplicationController:
		if o.Spec.Template == nil {
			return &Workload{Meta: &o.ObjectMeta}
		}
		return templated(&o.ObjectMeta, o.Spec.Template, "spec.template")
	case *appsv1.Deployment:
		return templated(&o.ObjectMeta, &o.Spec.Template, "spec.template")
	case *appsv1.StatefulSet:
		w := templated(&o.ObjectMeta, &o.Spec.Template, "spec.template")
		w.ClaimTemplates = o.Spec.VolumeClaimTemplates
		return w
	case *appsv1.DaemonSet:
		return templated(&o.ObjectMeta, &o.Spec.Template, "spec.template")
	case *appsv1.ReplicaSet:
		return templated(&o.ObjectMeta, &o.Spec.Template, "spec.template")
	case *batchv1.Job:
		return templated(&o.ObjectMeta, &o.Spec.Template, "spec.template")
	case *batchv1.CronJob:
		return templated(&o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template, "spec.jobTemplate.spec.template")
	}
	return nil
}

func templated(meta *metav1.ObjectMeta, t *corev1.PodTemplateSpec, path string) *Workload {
	return &Workload{Meta: meta, Template: &t.ObjectMeta, Spec: &t.Spec, SpecPath: path + ".spec"}
}

func decodeJSON(data []byte, into any, strict bool) error {
	if !strict {
		return unmarshalWire(data, into)
	}
	strictErrs, err := kjson.UnmarshalStrict(data, into)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		return strictErrs[0]
	}
	return nil
}

// Pod returns the policy view of the workload's pod spec. Spec may be nil
// for a ReplicationController without a template: then ok is false.
func (w *Workload) Pod() (*policy.Pod, bool) {
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
