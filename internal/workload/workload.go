package workload

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	return err == nil && IsKind(gv.WithKind(ref.Kind))
}

// Ref names the object for messages: Deployment shop/web.
func (w *Workload) Ref() string {
	if w.Namespace == "" {
		return w.Kind + " " + w.Name
	}
	return w.Kind + " " + w.Namespace + "/" + w.Name
}

// Kinds lists the kinds whose pod specs nobackoff checks, at the version
// Kubernetes serves them.
func Kinds() []schema.GroupVersionKind {
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
	for _, w := range Kinds() {
		if w.GroupKind() == gk {
			return w, true
		}
	}
	return schema.GroupVersionKind{}, false
}

// IsKind reports whether objects of this group, version and kind carry a
// pod spec nobackoff checks.
func IsKind(gvk schema.GroupVersionKind) bool {
	w, ok := servedWorkload(gvk.GroupKind())
	return ok && w.Version == gvk.Version
}

// Decode decodes the JSON of an object of a workload kind. With strict
// set, unknown and duplicate fields are errors, as they are for kubectl's
// default server-side validation; without, it is read as the admission
// path reads it (UnmarshalWire). A pod spec over one of the limits of
// limits.go is a *LimitError naming the field.
func Decode(gvk schema.GroupVersionKind, data []byte, strict bool) (*Workload, error) {
	w, err := DecodeUnchecked(gvk, data, strict)
	if err != nil {
		return nil, err
	}
	// Every check runs over the pod spec: refuse one too large to check in
	// bounded time before any does.
	if err := CheckLimits(w); err != nil {
		return nil, err
	}
	return w, nil
}

// DecodeUnchecked is Decode without the limits, for an object that may
// only be compared, never checked (the old object of an UPDATE, an object
// whose pod spec the UPDATE leaves as it is): its caller applies
// CheckLimits before any check runs.
func DecodeUnchecked(gvk schema.GroupVersionKind, data []byte, strict bool) (*Workload, error) {
	obj := NewObject(gvk)
	if obj == nil {
		return nil, fmt.Errorf("%s is not a workload kind", gvk)
	}
	if err := decodeJSON(data, obj, strict); err != nil {
		return nil, err
	}
	return FromObject(gvk, obj)
}

// NewObject is an empty object of a workload kind to decode into; nil for
// another kind.
func NewObject(gvk schema.GroupVersionKind) any {
	if !IsKind(gvk) {
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

// FromObject is the workload view of a decoded object of kind gvk (one
// made by NewObject).
func FromObject(gvk schema.GroupVersionKind, obj any) (*Workload, error) {
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
