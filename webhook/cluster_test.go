package webhook

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/nobackoff/nobackoff/registrycheck"
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
