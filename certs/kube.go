package certs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// KubeSecretStore is a SecretStore over the API server.
type KubeSecretStore struct {
	Secrets corev1client.SecretInterface // of the release namespace
	Name    string
}

// Get implements SecretStore.
func (k *KubeSecretStore) Get(ctx context.Context) (*corev1.Secret, error) {
	return k.Secrets.Get(ctx, k.Name, metav1.GetOptions{})
}

// Create implements SecretStore.
func (k *KubeSecretStore) Create(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	return k.Secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: "nobackoff"})
}

// Update implements SecretStore.
func (k *KubeSecretStore) Update(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	return k.Secrets.Update(ctx, s, metav1.UpdateOptions{FieldManager: "nobackoff"})
}

// WebhookConfigs is the part of the ValidatingWebhookConfiguration client
// the patcher uses (client-go's typed client has it).
type WebhookConfigs interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*admissionregistrationv1.ValidatingWebhookConfiguration, error)
	Update(ctx context.Context, c *admissionregistrationv1.ValidatingWebhookConfiguration, opts metav1.UpdateOptions) (*admissionregistrationv1.ValidatingWebhookConfiguration, error)
}

// PatchCABundle sets caBundle on every webhook of the named configuration
// where it differs. It writes nothing when all match.
func PatchCABundle(ctx context.Context, configs WebhookConfigs, name string, ca []byte) (changed bool, err error) {
	for range maxAttempts {
		c, err := configs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Errorf("webhook configuration %s: %w", name, err)
		}
		changed = false
		for i := range c.Webhooks {
			if !bytes.Equal(c.Webhooks[i].ClientConfig.CABundle, ca) {
				c.Webhooks[i].ClientConfig.CABundle = ca
				changed = true
			}
		}
		if !changed {
			return false, nil
		}
		if _, err = configs.Update(ctx, c, metav1.UpdateOptions{FieldManager: "nobackoff"}); err == nil {
			return true, nil
		}
		if !isConflict(err) {
			return false, fmt.Errorf("updating webhook configuration %s: %w", name, err)
		}
	}
	return false, fmt.Errorf("webhook configuration %s: still contended after %d attempts", name, maxAttempts)
}

// SelfManaged runs self mode: ensure the bundle, write the key pair for the
// server to reload, patch the caBundle, and do it again every interval
// (and right away after a failure, backing off) until ctx ends.
type SelfManaged struct {
	Manager  *Manager
	Dir      string
	Configs  WebhookConfigs // nil: no patching
	Webhook  string
	Interval time.Duration
	Log      *slog.Logger
}

// Once ensures the bundle, writes the files and patches the caBundle.
func (s *SelfManaged) Once(ctx context.Context) error {
	b, err := s.Manager.Ensure(ctx)
	if err != nil {
		return err
	}
	if err := WriteFiles(s.Dir, b); err != nil {
		return fmt.Errorf("writing certificate files: %w", err)
	}
	if s.Configs != nil {
		if changed, err := PatchCABundle(ctx, s.Configs, s.Webhook, b.CACert); err != nil {
			return err
		} else if changed && s.Log != nil {
			s.Log.Info("caBundle updated", "webhookConfiguration", s.Webhook)
		}
	}
	return nil
}

// Run repeats Once every Interval until ctx ends; after a failure it
// retries sooner, from 10 s doubling up to the interval.
func (s *SelfManaged) Run(ctx context.Context) {
	wait, retry := s.Interval, 10*time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := s.Once(ctx); err != nil {
			if s.Log != nil {
				s.Log.Error("certificate upkeep failed; retrying", "error", err, "in", retry.String())
			}
			wait, retry = retry, min(2*retry, s.Interval)
			continue
		}
		wait, retry = s.Interval, 10*time.Second
	}
}
