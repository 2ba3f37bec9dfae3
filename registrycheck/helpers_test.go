package registrycheck

import (
	"encoding/base64"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

func newTestResolver(o Options) *Resolver {
	o.AllowLoopback = true
	return NewResolver(o)
}

// pullSecret builds a dockerconfigjson Secret for host.
func pullSecret(name, host, user, pass string) *corev1.Secret {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"` + host + `":{"auth":"` + auth + `"}}}`)},
	}
}

func keyringOf(t *testing.T, secrets ...*corev1.Secret) *Keyring {
	t.Helper()
	kr := NewKeyring()
	for _, s := range secrets {
		if err := kr.AddSecret(s); err != nil {
			t.Fatal(err)
		}
	}
	return kr
}
