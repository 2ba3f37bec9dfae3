package clusterstate

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// The three sources of cluster state are views the engine reads.
var (
	_ engine.ClusterView     = (*InformerCluster)(nil)
	_ engine.PullSecretIndex = (*InformerCluster)(nil)
	_ engine.ObjectIndex     = (*InformerCluster)(nil)
	_ engine.SchedulingIndex = (*InformerCluster)(nil)

	_ engine.ClusterView     = (*StaticCluster)(nil)
	_ engine.PullSecretIndex = (*StaticCluster)(nil)
	_ engine.ObjectIndex     = (*StaticCluster)(nil)
	_ engine.SchedulingIndex = (*StaticCluster)(nil)

	_ engine.ClusterView     = (*LiveCluster)(nil)
	_ engine.PullSecretIndex = (*LiveCluster)(nil)
	_ engine.ObjectIndex     = (*LiveCluster)(nil)
	_ engine.SchedulingIndex = (*LiveCluster)(nil)
)

// Secrets of other types are cached without their data, and still read
// as "exists, of a type the kubelet ignores".
func TestSecretTypeOnly(t *testing.T) {
	in := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "creds", ResourceVersion: "7",
			Labels: map[string]string{"a": "b"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)},
		StringData: map[string]string{"password": "s3cret"},
	}
	out, err := secretTypeOnly(in)
	if err != nil {
		t.Fatal(err)
	}
	s := out.(*corev1.Secret)
	if s.Data != nil || s.StringData != nil || s.Labels != nil || s.ManagedFields != nil {
		t.Errorf("kept more than name and type: %+v", s)
	}
	if s.Namespace != "shop" || s.Name != "creds" || s.Type != corev1.SecretTypeOpaque || s.ResourceVersion != "7" {
		t.Errorf("lost name or type: %+v", s)
	}
	var serr *registrycheck.SecretError
	if err := registrycheck.NewKeyring().AddSecret(s); !errors.As(err, &serr) || serr.Problem != registrycheck.SecretWrongType {
		t.Errorf("AddSecret: %v, want a wrong-type SecretError", err)
	}
	tomb := cacheTombstone{}
	if got, _ := secretTypeOnly(tomb); got != tomb {
		t.Error("a non-Secret was changed")
	}
}

type cacheTombstone struct{}

// The informer cluster says where a pull secret of a name is, and which
// pull secrets a namespace holds.
func TestInformerClusterPullSecretIndex(t *testing.T) {
	pull := func(ns, name string, typ corev1.SecretType) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: typ,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)}}
	}
	client := fake.NewSimpleClientset(
		pull("build", "regcred", corev1.SecretTypeDockerConfigJson),
		pull("ci", "regcred", corev1.SecretTypeDockerConfigJson),
		pull("shop", "ghcr", corev1.SecretTypeDockerConfigJson),
		pull("shop", "old", corev1.SecretTypeDockercfg),
	)
	c := NewInformerCluster(client, 0, ClusterOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Start(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := c.PullSecretNamespaces("regcred"); fmt.Sprint(got) != "[build ci]" {
		t.Errorf("PullSecretNamespaces(regcred) = %v, want [build ci]", got)
	}
	if got := c.PullSecretNamespaces("nothing"); len(got) != 0 {
		t.Errorf("PullSecretNamespaces(nothing) = %v", got)
	}
	var names []string
	for _, s := range c.PullSecrets("shop") {
		names = append(names, s.Name)
	}
	if fmt.Sprint(names) != "[ghcr old]" {
		t.Errorf("PullSecrets(shop) = %v, want [ghcr old]", names)
	}
}

func TestNodePlatforms(t *testing.T) {
	node := func(name, os, arch string, lbl map[string]string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
		for k, v := range lbl {
			n.Labels[k] = v
		}
		if os != "" {
			n.Labels[corev1.LabelOSStable], n.Labels[corev1.LabelArchStable] = os, arch
		} else {
			n.Status.NodeInfo = corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: arch}
		}
		return n
	}
	got := nodePlatforms([]*corev1.Node{
		node("a", "linux", "amd64", nil), node("b", "linux", "amd64", nil), node("c", "linux", "arm64", nil), node("d", "", "s390x", nil),
	})
	if fmt.Sprint(got) != "[linux/amd64 linux/arm64 linux/s390x]" {
		t.Fatalf("platforms %v", got)
	}
	spec := &corev1.PodSpec{NodeSelector: map[string]string{corev1.LabelArchStable: "arm64"}}
	if n := narrowPlatforms(got, spec); fmt.Sprint(n) != "[linux/arm64]" {
		t.Fatalf("narrowed to %v", n)
	}
	spec = &corev1.PodSpec{OS: &corev1.PodOS{Name: corev1.Windows}}
	if n := narrowPlatforms(got, spec); len(n) != 0 {
		t.Fatalf("windows pod on linux nodes: %v", n)
	}
}
