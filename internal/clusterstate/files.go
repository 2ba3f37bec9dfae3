package clusterstate

import (
	"encoding/json"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// StaticCluster is a ClusterView over fixed objects: the Secrets and
// ServiceAccounts found in `nobackoff check`'s input, and the platforms
// given with --platform.
type StaticCluster struct {
	secrets   map[string]*corev1.Secret
	accounts  map[string]*corev1.ServiceAccount
	platforms []registrycheck.Platform
	// objects holds what the object checks read of the input's objects, by
	// kind and namespace/name (name alone for cluster-wide kinds).
	objects      map[policy.ObjectKind]map[string]policy.ObjectState
	defaultClass string
	// nodes, quotas and limitRanges are the input's Nodes, and its
	// ResourceQuotas and LimitRanges by namespace as written.
	nodes       []*corev1.Node
	quotas      map[string][]*corev1.ResourceQuota
	limitRanges map[string][]*corev1.LimitRange
}

// NewStaticCluster returns an empty view whose nodes have the given
// platforms.
func NewStaticCluster(platforms []registrycheck.Platform) *StaticCluster {
	return &StaticCluster{secrets: map[string]*corev1.Secret{}, accounts: map[string]*corev1.ServiceAccount{}, platforms: platforms,
		objects: map[policy.ObjectKind]map[string]policy.ObjectState{},
		quotas:  map[string][]*corev1.ResourceQuota{}, limitRanges: map[string][]*corev1.LimitRange{}}
}

// AddDocuments takes the objects among the documents that the checks read
// of the cluster: Secrets, ServiceAccounts, ConfigMaps, claims, the
// cluster-wide classes, Nodes, ResourceQuotas and LimitRanges. Namespaces are compared as written: a workload without a namespace sees
// the objects without one, as `kubectl apply -n` would put them together.
func (s *StaticCluster) AddDocuments(docs []manifests.Document) []error {
	var errs []error
	for i := range docs {
		d := &docs[i]
		switch {
		case d.GVK.Group == "" && d.GVK.Version == "v1" && d.GVK.Kind == "Secret":
			var sec corev1.Secret
			if err := workload.UnmarshalStrict(d.JSON, &sec); err != nil {
				errs = append(errs, &manifests.Error{Where: d.Where(), Err: err})
				continue
			}
			// stringData is merged into data by the API server.
			if len(sec.StringData) > 0 && sec.Data == nil {
				sec.Data = map[string][]byte{}
			}
			for k, v := range sec.StringData {
				sec.Data[k] = []byte(v)
			}
			s.secrets[sec.Namespace+"/"+sec.Name] = &sec
			s.add(policy.KindSecret, sec.Namespace, sec.Name, policy.ObjectState{Keys: keysOf(sec.Data, nil), KeysKnown: true})
		case d.GVK.Group == "" && d.GVK.Version == "v1" && d.GVK.Kind == "ServiceAccount":
			var sa corev1.ServiceAccount
			if err := workload.UnmarshalStrict(d.JSON, &sa); err != nil {
				errs = append(errs, &manifests.Error{Where: d.Where(), Err: err})
				continue
			}
			s.accounts[sa.Namespace+"/"+sa.Name] = &sa
			s.add(policy.KindServiceAccount, sa.Namespace, sa.Name, policy.ObjectState{})
		case d.GVK.Group == "" && d.GVK.Version == "v1" && d.GVK.Kind == "ConfigMap":
			var cm corev1.ConfigMap
			if err := workload.UnmarshalStrict(d.JSON, &cm); err != nil {
				errs = append(errs, &manifests.Error{Where: d.Where(), Err: err})
				continue
			}
			s.add(policy.KindConfigMap, cm.Namespace, cm.Name, policy.ObjectState{Keys: keysOf(nil, cm.Data), KeysKnown: true,
				BinaryKeys: keysOf(cm.BinaryData, nil)})
		case d.GVK.Group == "" && d.GVK.Version == "v1" && d.GVK.Kind == "PersistentVolumeClaim":
			var pvc corev1.PersistentVolumeClaim
			if err := workload.UnmarshalStrict(d.JSON, &pvc); err != nil {
				errs = append(errs, &manifests.Error{Where: d.Where(), Err: err})
				continue
			}
			s.add(policy.KindClaim, pvc.Namespace, pvc.Name, policy.ObjectState{StorageClassName: pvc.Spec.StorageClassName,
				Bound: pvc.Status.Phase == corev1.ClaimBound})
		case d.GVK.Group == "" && d.GVK.Version == "v1" && d.GVK.Kind == "Node":
			var n corev1.Node
			if err := workload.UnmarshalStrict(d.JSON, &n); err != nil {
				errs = append(errs, &manifests.Error{Where: d.Where(), Err: err})
				continue
			}
			s.nodes = append(s.nodes, &n)
		case d.GVK.Group == "" && d.GVK.Version == "v1" && d.GVK.Kind == "ResourceQuota":
			var q corev1.ResourceQuota
			if err := workload.UnmarshalStrict(d.JSON, &q); err != nil {
				errs = append(errs, &manifests.Error{Where: d.Where(), Err: err})
				continue
			}
			s.quotas[q.Namespace] = append(s.quotas[q.Namespace], &q)
		case d.GVK.Group == "" && d.GVK.Version == "v1" && d.GVK.Kind == "LimitRange":
			var lr corev1.LimitRange
			if err := workload.UnmarshalStrict(d.JSON, &lr); err != nil {
				errs = append(errs, &manifests.Error{Where: d.Where(), Err: err})
				continue
			}
			s.limitRanges[lr.Namespace] = append(s.limitRanges[lr.Namespace], &lr)
		case d.GVK.Group == "storage.k8s.io" && d.GVK.Kind == "StorageClass":
			s.add(policy.KindStorageClass, "", d.Name, policy.ObjectState{})
			if isDefaultClass(d.JSON) {
				s.defaultClass = d.Name
			}
		case d.GVK.Group == "scheduling.k8s.io" && d.GVK.Kind == "PriorityClass":
			s.add(policy.KindPriorityClass, "", d.Name, policy.ObjectState{})
		case d.GVK.Group == "node.k8s.io" && d.GVK.Kind == "RuntimeClass":
			s.add(policy.KindRuntimeClass, "", d.Name, policy.ObjectState{})
		}
	}
	return errs
}

// Secret implements ClusterView.
func (s *StaticCluster) Secret(namespace, name string) (*corev1.Secret, bool) {
	sec, ok := s.secrets[namespace+"/"+name]
	return sec, ok
}

// ServiceAccount implements ClusterView.
func (s *StaticCluster) ServiceAccount(namespace, name string) (*corev1.ServiceAccount, bool) {
	sa, ok := s.accounts[namespace+"/"+name]
	return sa, ok
}

// NodePlatforms implements ClusterView: the configured platforms narrowed
// by the pod's nodeSelector (kubernetes.io/os, kubernetes.io/arch) and
// spec.os.
func (s *StaticCluster) NodePlatforms(spec *corev1.PodSpec) []registrycheck.Platform {
	return narrowPlatforms(s.platforms, spec)
}

// PullSecretNamespaces implements PullSecretIndex.
func (s *StaticCluster) PullSecretNamespaces(name string) []string {
	var out []string
	for _, sec := range s.secrets {
		if sec.Name == name && isPullSecret(sec) {
			out = append(out, sec.Namespace)
		}
	}
	sort.Strings(out)
	return out
}

// PullSecrets implements PullSecretIndex.
func (s *StaticCluster) PullSecrets(namespace string) []*corev1.Secret {
	var out []*corev1.Secret
	for _, sec := range s.secrets {
		if sec.Namespace == namespace && isPullSecret(sec) {
			out = append(out, sec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *StaticCluster) add(kind policy.ObjectKind, namespace, name string, st policy.ObjectState) {
	if s.objects[kind] == nil {
		s.objects[kind] = map[string]policy.ObjectState{}
	}
	st.Presence = policy.Present
	s.objects[kind][objectKey(kind, namespace, name)] = st
}

// objectKey keys an object by namespace and name, or by name alone for
// the cluster-wide kinds.
func objectKey(kind policy.ObjectKind, namespace, name string) string {
	switch kind {
	case policy.KindStorageClass, policy.KindPriorityClass, policy.KindRuntimeClass:
		return name
	}
	return namespace + "/" + name
}

// Object implements ObjectIndex: an object absent from the input is
// NotInInput, since the cluster may hold it; Elsewhere names the input's
// other namespaces that hold one of that name.
func (s *StaticCluster) Object(namespace string, kind policy.ObjectKind, name string) policy.ObjectState {
	if st, ok := s.objects[kind][objectKey(kind, namespace, name)]; ok {
		return st
	}
	st := policy.ObjectState{Presence: policy.NotInInput}
	if objectKey(kind, namespace, name) != name {
		for key := range s.objects[kind] {
			if ns, n, _ := strings.Cut(key, "/"); n == name && ns != namespace && len(st.Elsewhere) < policy.MaxOtherNamespaces {
				st.Elsewhere = append(st.Elsewhere, ns)
			}
		}
		sort.Strings(st.Elsewhere)
	}
	return st
}

// DefaultStorageClass implements ObjectIndex: known only when the input
// holds a StorageClass marked default (the cluster may have one).
func (s *StaticCluster) DefaultStorageClass() (string, bool) {
	return s.defaultClass, s.defaultClass != ""
}

// Nodes implements SchedulingIndex: the input's Nodes are the cluster's
// nodes; known only when the input holds at least one.
func (s *StaticCluster) Nodes() ([]*corev1.Node, bool) {
	return s.nodes, len(s.nodes) > 0
}

// Quotas implements SchedulingIndex: the input's ResourceQuotas of the
// namespace (as written). Always known: the input is the state.
func (s *StaticCluster) Quotas(namespace string) ([]*corev1.ResourceQuota, bool) {
	return s.quotas[namespace], true
}

// LimitRanges implements SchedulingIndex: the input's LimitRanges of the
// namespace (as written). Always known: the input is the state.
func (s *StaticCluster) LimitRanges(namespace string) ([]*corev1.LimitRange, bool) {
	return s.limitRanges[namespace], true
}

// isDefaultClass reports a StorageClass marked as the cluster's default.
func isDefaultClass(data []byte) bool {
	var sc struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if json.Unmarshal(data, &sc) != nil {
		return false
	}
	return isDefaultStorageClass(sc.Metadata.Annotations)
}
