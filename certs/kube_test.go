package certs

import (
	"context"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// memConfigs holds one webhook configuration with resourceVersion checks.
type memConfigs struct {
	mu      sync.Mutex
	c       *admissionregistrationv1.ValidatingWebhookConfiguration
	updates int
}

func (m *memConfigs) Get(_ context.Context, name string, _ metav1.GetOptions) (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c == nil || m.c.Name != name {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "validatingwebhookconfigurations"}, name)
	}
	return m.c.DeepCopy(), nil
}

func (m *memConfigs) Update(_ context.Context, c *admissionregistrationv1.ValidatingWebhookConfiguration, _ metav1.UpdateOptions) (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.ResourceVersion != m.c.ResourceVersion {
		return nil, apierrors.NewConflict(schema.GroupResource{Resource: "validatingwebhookconfigurations"}, c.Name, nil)
	}
	m.updates++
	m.c = c.DeepCopy()
	m.c.ResourceVersion = c.ResourceVersion + "x"
	return m.c.DeepCopy(), nil
}

func TestSelfManagedPatchesCABundle(t *testing.T) {
	configs := &memConfigs{c: &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "nobackoff", ResourceVersion: "1"},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{{Name: "warn.nobackoff.io"}, {Name: "enforce.nobackoff.io"}},
	}}
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	store := &memStore{}
	s := &SelfManaged{Manager: manager(store, &now), Dir: t.TempDir(), Configs: configs, Webhook: "nobackoff", Interval: time.Hour}
	ctx := context.Background()
	if err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ := store.Get(ctx)
	for _, w := range configs.c.Webhooks {
		if string(w.ClientConfig.CABundle) != string(stored.Data[KeyCACert]) {
			t.Fatalf("webhook %s caBundle does not match the CA", w.Name)
		}
	}
	// Nothing changed: no write.
	if err := s.Once(ctx); err != nil || configs.updates != 1 {
		t.Fatalf("second pass: err=%v updates=%d", err, configs.updates)
	}
	// A second replica agrees, without writing either.
	other := &SelfManaged{Manager: manager(store, &now), Dir: t.TempDir(), Configs: configs, Webhook: "nobackoff", Interval: time.Hour}
	if err := other.Once(ctx); err != nil || configs.updates != 1 || store.writes != 1 {
		t.Fatalf("second replica: err=%v config updates=%d secret writes=%d", err, configs.updates, store.writes)
	}
	if _, err := PatchCABundle(ctx, configs, "missing", []byte("x")); err == nil {
		t.Error("patching a missing configuration succeeded")
	}
}
