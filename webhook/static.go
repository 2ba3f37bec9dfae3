package webhook

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/nobackoff/nobackoff/registrycheck"
)

// StaticCluster is a ClusterView over fixed objects: the Secrets and
// ServiceAccounts found in `nobackoff check`'s input, and the platforms
// given with --platform.
type StaticCluster struct {
	secrets   map[string]*corev1.Secret
	accounts  map[string]*corev1.ServiceAccount
	platforms []registrycheck.Platform
}

// NewStaticCluster returns an empty view whose nodes have the given
// platforms.
func NewStaticCluster(platforms []registrycheck.Platform) *StaticCluster {
	return &StaticCluster{secrets: map[string]*corev1.Secret{}, accounts: map[string]*corev1.ServiceAccount{}, platforms: platforms}
}

// AddDocuments takes the Secrets and ServiceAccounts among the documents.
// Namespaces are compared as written: a workload without a namespace sees
// the objects without one, as `kubectl apply -n` would put them together.
func (s *StaticCluster) AddDocuments(docs []Document) []error {
	var errs []error
	for i := range docs {
		d := &docs[i]
		switch {
		case d.GVK.Group == "" && d.GVK.Version == "v1" && d.GVK.Kind == "Secret":
			var sec corev1.Secret
			if err := decodeJSON(d.JSON, &sec, true); err != nil {
				errs = append(errs, &ManifestError{Where: d.Where(), Err: err})
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
		case d.GVK.Group == "" && d.GVK.Version == "v1" && d.GVK.Kind == "ServiceAccount":
			var sa corev1.ServiceAccount
			if err := decodeJSON(d.JSON, &sa, true); err != nil {
				errs = append(errs, &ManifestError{Where: d.Where(), Err: err})
				continue
			}
			s.accounts[sa.Namespace+"/"+sa.Name] = &sa
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

// isPullSecret reports the two Secret types the kubelet reads.
func isPullSecret(s *corev1.Secret) bool {
	return s.Type == corev1.SecretTypeDockerConfigJson || s.Type == corev1.SecretTypeDockercfg
}
