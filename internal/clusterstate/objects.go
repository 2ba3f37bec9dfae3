package clusterstate

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nobackoff/nobackoff/internal/textdist"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// What the sources of cluster state keep of the objects they read, and the
// readings of them they share. The transforms below reduce an object to
// what the checks read before it is stored: the informers run them on
// every object they receive, the live cluster on every object it lists or
// gets, so that both hold the same little of each.

// reducedMeta is what a reduced object keeps of its metadata.
func reducedMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: m.Namespace, Name: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion}
}

// secretTypeOnly keeps a Secret's name, namespace and type: what a
// Secret of a type the kubelet ignores is needed for.
func secretTypeOnly(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	return &corev1.Secret{ObjectMeta: reducedMeta(&s.ObjectMeta), Type: s.Type}, nil
}

// secretKeysOnly keeps a Secret's name, namespace, type and the names of
// its data keys, each with a nil value.
func secretKeysOnly(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	out := &corev1.Secret{ObjectMeta: reducedMeta(&s.ObjectMeta), Type: s.Type}
	if len(s.Data) > 0 {
		out.Data = make(map[string][]byte, len(s.Data))
		for k := range s.Data {
			out.Data[k] = nil
		}
	}
	return out, nil
}

// configMapKeysOnly keeps a ConfigMap's name, namespace and the names of
// its data and binaryData keys, each with an empty value.
func configMapKeysOnly(obj any) (any, error) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	out := &corev1.ConfigMap{ObjectMeta: reducedMeta(&cm.ObjectMeta)}
	if len(cm.Data) > 0 {
		out.Data = make(map[string]string, len(cm.Data))
		for k := range cm.Data {
			out.Data[k] = ""
		}
	}
	if len(cm.BinaryData) > 0 {
		out.BinaryData = make(map[string][]byte, len(cm.BinaryData))
		for k := range cm.BinaryData {
			out.BinaryData[k] = nil
		}
	}
	return out, nil
}

// claimClassOnly keeps a claim's name, namespace, storageClassName and
// phase.
func claimClassOnly(obj any) (any, error) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	out := &corev1.PersistentVolumeClaim{ObjectMeta: reducedMeta(&pvc.ObjectMeta)}
	if pvc.Spec.StorageClassName != nil {
		name := *pvc.Spec.StorageClassName
		out.Spec.StorageClassName = &name
	}
	out.Status.Phase = pvc.Status.Phase
	return out, nil
}

// The annotations that make a StorageClass the default.
const (
	defaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

// storageClassDefaultOnly keeps a StorageClass's name, creation time and
// default annotations (the newest default wins).
func storageClassDefaultOnly(obj any) (any, error) {
	sc, ok := obj.(*storagev1.StorageClass)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	out := &storagev1.StorageClass{ObjectMeta: reducedMeta(&sc.ObjectMeta)}
	out.CreationTimestamp = sc.CreationTimestamp
	for _, a := range []string{defaultClassAnnotation, betaDefaultClassAnnotation} {
		if v, ok := sc.Annotations[a]; ok {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[a] = v
		}
	}
	return out, nil
}

// classNameOnly keeps the name of a PriorityClass or RuntimeClass.
func classNameOnly(obj any) (any, error) {
	switch o := obj.(type) {
	case *schedulingv1.PriorityClass:
		return &schedulingv1.PriorityClass{ObjectMeta: reducedMeta(&o.ObjectMeta)}, nil
	case *nodev1.RuntimeClass:
		return &nodev1.RuntimeClass{ObjectMeta: reducedMeta(&o.ObjectMeta)}, nil
	}
	return obj, nil // a deletion tombstone
}

// nodeSchedulingOnly keeps what the placement checks and NodePlatforms
// read of a Node: its name, labels, taints, unschedulable, allocatable,
// capacity and the node info's OS and architecture.
func nodeSchedulingOnly(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	out := &corev1.Node{ObjectMeta: reducedMeta(&n.ObjectMeta)}
	out.Labels = n.Labels
	out.Spec.Taints = n.Spec.Taints
	out.Spec.Unschedulable = n.Spec.Unschedulable
	out.Status.Allocatable = n.Status.Allocatable
	out.Status.Capacity = n.Status.Capacity
	out.Status.NodeInfo.OperatingSystem = n.Status.NodeInfo.OperatingSystem
	out.Status.NodeInfo.Architecture = n.Status.NodeInfo.Architecture
	return out, nil
}

// quotaOnly keeps a ResourceQuota's name, namespace, spec and status.
func quotaOnly(obj any) (any, error) {
	q, ok := obj.(*corev1.ResourceQuota)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	return &corev1.ResourceQuota{ObjectMeta: reducedMeta(&q.ObjectMeta), Spec: q.Spec, Status: q.Status}, nil
}

// limitRangeOnly keeps a LimitRange's name, namespace and spec.
func limitRangeOnly(obj any) (any, error) {
	lr, ok := obj.(*corev1.LimitRange)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	return &corev1.LimitRange{ObjectMeta: reducedMeta(&lr.ObjectMeta), Spec: lr.Spec}, nil
}

// reduceAll applies one of the informers' transforms to every item of a
// listing, keeping of each object only what the checks read.
func reduceAll[E, T any](items []E, reduce func(any) (any, error)) []T {
	out := make([]T, 0, len(items))
	for i := range items {
		r, _ := reduce(&items[i])
		out = append(out, r.(T))
	}
	return out
}

// defaultStorageClass is the class the DefaultStorageClass admission
// plugin gives a claim that names none: of the classes annotated default
// (the GA or the beta annotation, "true"), the newest; of equally new
// ones, the first by name. "" when none is.
func defaultStorageClass(classes []*storagev1.StorageClass) string {
	var best *storagev1.StorageClass
	for _, sc := range classes {
		if !isDefaultStorageClass(sc.Annotations) {
			continue
		}
		if best == nil || sc.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			(sc.CreationTimestamp.Equal(&best.CreationTimestamp) && sc.Name < best.Name) {
			best = sc
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

// isDefaultStorageClass reports a StorageClass annotated as the default.
func isDefaultStorageClass(annotations map[string]string) bool {
	return annotations[defaultClassAnnotation] == "true" || annotations[betaDefaultClassAnnotation] == "true"
}

// secretKeys are the keys of a Secret's data, sorted.
func secretKeys(s *corev1.Secret) []string {
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// configMapKeys are the keys of a ConfigMap's data, sorted (env vars read
// only those); configMapBinaryKeys those of its binaryData.
func configMapKeys(cm *corev1.ConfigMap) []string { return keysOf(nil, cm.Data) }

func configMapBinaryKeys(cm *corev1.ConfigMap) []string { return keysOf(cm.BinaryData, nil) }

// nearNames are the names of objects a slip of the keyboard from name.
func nearNames[T metav1.Object](name string, objects []T) []string {
	names := make([]string, 0, len(objects))
	for _, o := range objects {
		names = append(names, o.GetName())
	}
	return textdist.Near(name, names)
}

// narrowPlatforms keeps the platforms a pod can be scheduled on.
func narrowPlatforms(all []registrycheck.Platform, spec *corev1.PodSpec) []registrycheck.Platform {
	var out []registrycheck.Platform
	for _, p := range all {
		if os, ok := spec.NodeSelector[corev1.LabelOSStable]; ok && os != p.OS {
			continue
		}
		if arch, ok := spec.NodeSelector[corev1.LabelArchStable]; ok && arch != p.Architecture {
			continue
		}
		if spec.OS != nil && string(spec.OS.Name) != p.OS {
			continue
		}
		out = append(out, p)
	}
	return out
}

// isPullSecret reports the two Secret types the kubelet reads.
func isPullSecret(s *corev1.Secret) bool {
	return s.Type == corev1.SecretTypeDockerConfigJson || s.Type == corev1.SecretTypeDockercfg
}

// keysOf lists the keys of a ConfigMap's or Secret's data, sorted.
func keysOf(binary map[string][]byte, text map[string]string) []string {
	if len(binary)+len(text) == 0 {
		return nil
	}
	keys := make([]string, 0, len(binary)+len(text))
	for k := range binary {
		keys = append(keys, k)
	}
	for k := range text {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
