package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nobackoff/nobackoff/certs"
)

// SelfCertOptions configure self-managed certificates: a CA and serving
// certificate in one Secret shared by the replicas, the caBundle patched
// into the webhook configuration, renewal before expiry.
type SelfCertOptions struct {
	Client    kubernetes.Interface
	Namespace string
	// Secret holds the bundle; Service names the DNS names to cover;
	// WebhookConfiguration is patched with the CA ("" to skip).
	Secret, Service, WebhookConfiguration string
	// Dir receives tls.crt and tls.key (an emptyDir).
	Dir string
	Log *slog.Logger
}

// StartSelfCerts obtains a valid certificate (creating or renewing it),
// writes it to Dir and returns the upkeep loop to run, and the file paths
// for the server.
func StartSelfCerts(ctx context.Context, o SelfCertOptions) (run func(context.Context), certFile, keyFile string, err error) {
	if o.Namespace == "" {
		ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		if err != nil {
			return nil, "", "", fmt.Errorf("self certificates need a namespace: %w", err)
		}
		o.Namespace = strings.TrimSpace(string(ns))
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, "", "", err
	}
	svc := o.Service
	s := &certs.SelfManaged{
		Manager: &certs.Manager{
			Store:     &certs.KubeSecretStore{Secrets: o.Client.CoreV1().Secrets(o.Namespace), Name: o.Secret},
			Namespace: o.Namespace, Name: o.Secret,
			DNSNames: []string{svc + "." + o.Namespace + ".svc", svc + "." + o.Namespace + ".svc.cluster.local", svc + "." + o.Namespace, svc},
		},
		Dir: o.Dir, Webhook: o.WebhookConfiguration, Interval: time.Hour, Log: o.Log,
	}
	if o.WebhookConfiguration != "" {
		s.Configs = o.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
		// The Secret is owned by the webhook configuration: uninstalling
		// the release removes the configuration, and the garbage
		// collector the Secret nobackoff made (the chart does not own it).
		// Without the configuration yet, the Secret stays unowned.
		if vwc, err := s.Configs.Get(ctx, o.WebhookConfiguration, metav1.GetOptions{}); err == nil {
			s.Manager.Owner = &metav1.OwnerReference{APIVersion: "admissionregistration.k8s.io/v1",
				Kind: "ValidatingWebhookConfiguration", Name: vwc.Name, UID: vwc.UID}
		} else if o.Log != nil {
			o.Log.Warn("the Secret of the certificates gets no owner: the webhook configuration cannot be read",
				"webhookConfiguration", o.WebhookConfiguration, "error", err)
		}
	}
	if err := s.Once(ctx); err != nil {
		return nil, "", "", err
	}
	return s.Run, filepath.Join(o.Dir, certs.KeyCert), filepath.Join(o.Dir, certs.KeyKey), nil
}
