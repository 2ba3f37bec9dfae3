package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// memStore holds one Secret with the API server's optimistic concurrency:
// creates race on existence, updates on resourceVersion.
type memStore struct {
	mu      sync.Mutex
	secret  *corev1.Secret
	version int
	writes  int
}

var secretsGR = schema.GroupResource{Resource: "secrets"}

func (m *memStore) Get(context.Context) (*corev1.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.secret == nil {
		return nil, apierrors.NewNotFound(secretsGR, "nobackoff-tls")
	}
	return m.secret.DeepCopy(), nil
}

func (m *memStore) Create(_ context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.secret != nil {
		return nil, apierrors.NewAlreadyExists(secretsGR, s.Name)
	}
	m.version++
	m.writes++
	m.secret = s.DeepCopy()
	m.secret.ResourceVersion = strconv.Itoa(m.version)
	return m.secret.DeepCopy(), nil
}

func (m *memStore) Update(_ context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.secret == nil {
		return nil, apierrors.NewNotFound(secretsGR, s.Name)
	}
	if s.ResourceVersion != m.secret.ResourceVersion {
		return nil, apierrors.NewConflict(secretsGR, s.Name, nil)
	}
	m.version++
	m.writes++
	m.secret = s.DeepCopy()
	m.secret.ResourceVersion = strconv.Itoa(m.version)
	return m.secret.DeepCopy(), nil
}

var names = []string{"nobackoff.nobackoff.svc", "nobackoff.nobackoff.svc.cluster.local"}

func manager(store SecretStore, now *time.Time) *Manager {
	return &Manager{Store: store, Namespace: "nobackoff", Name: "nobackoff-tls", DNSNames: names, Now: func() time.Time { return *now }}
}

func leafOf(t *testing.T, b *Bundle) *x509.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caCount(b *Bundle) int {
	n, rest := 0, b.CACert
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return n
		}
		n++
	}
}

func TestCreateAndReuse(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	store := &memStore{}
	b, err := manager(store, &now).Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if state, err := Inspect(b, names, now); state != Valid {
		t.Fatalf("new bundle: %v %v", state, err)
	}
	leaf := leafOf(t, b)
	if got := leaf.NotAfter.Sub(now); got < ServingValidity-time.Hour || got > ServingValidity {
		t.Errorf("serving validity %v", got)
	}
	// A second replica, and a restart, reuse it.
	b2, err := manager(store, &now).Ensure(context.Background())
	if err != nil || string(b2.Cert) != string(b.Cert) || store.writes != 1 {
		t.Fatalf("reuse: err=%v same=%v writes=%d", err, string(b2.Cert) == string(b.Cert), store.writes)
	}
}

func TestRenewalWindow(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	store := &memStore{}
	m := manager(store, &now)
	b, _ := m.Ensure(context.Background())

	now = now.Add(ServingValidity - RenewBefore - time.Hour) // just before the window
	if b2, _ := m.Ensure(context.Background()); string(b2.Cert) != string(b.Cert) {
		t.Fatal("renewed before the renewal window")
	}
	now = now.Add(2 * time.Hour) // inside it
	b3, err := m.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(b3.Cert) == string(b.Cert) || string(b3.CACert) != string(b.CACert) {
		t.Fatalf("renewal: new cert=%v same CA=%v", string(b3.Cert) != string(b.Cert), string(b3.CACert) == string(b.CACert))
	}
	if !leafOf(t, b3).NotAfter.After(leafOf(t, b).NotAfter) {
		t.Error("renewed certificate does not last longer")
	}
}

func TestCARollover(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	store := &memStore{}
	m := manager(store, &now)
	b, _ := m.Ensure(context.Background())
	now = now.Add(CAValidity - RenewBefore + time.Hour)
	b2, err := m.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(b2.CAKey) == string(b.CAKey) {
		t.Fatal("CA near its end was not replaced")
	}
	if caCount(b2) != 2 {
		t.Errorf("caBundle during rollover holds %d CAs, want the new and the old", caCount(b2))
	}
}

func TestCorruptedSecretRecovered(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for name, corrupt := range map[string]func(s *corev1.Secret){
		"garbage CA":  func(s *corev1.Secret) { s.Data[KeyCACert] = []byte("not a certificate") },
		"missing key": func(s *corev1.Secret) { delete(s.Data, KeyKey) },
		"foreign cert": func(s *corev1.Secret) {
			other, _ := Fresh(names, now, nil)
			s.Data[KeyCert], s.Data[KeyKey] = other.Cert, other.Key
		},
		"wrong DNS names":  func(s *corev1.Secret) { other, _ := Fresh([]string{"x.y.svc"}, now, nil); s.Data = bundleData(other) },
		"emptied by hand":  func(s *corev1.Secret) { s.Data = nil },
		"swapped CA parts": func(s *corev1.Secret) { s.Data[KeyCAKey] = s.Data[KeyKey] },
	} {
		t.Run(name, func(t *testing.T) {
			store := &memStore{}
			m := manager(store, &now)
			if _, err := m.Ensure(context.Background()); err != nil {
				t.Fatal(err)
			}
			s, _ := store.Get(context.Background())
			corrupt(s)
			if _, err := store.Update(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			b, err := m.Ensure(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if state, err := Inspect(b, names, now); state != Valid {
				t.Fatalf("after recovery: %v %v", state, err)
			}
			stored, _ := store.Get(context.Background())
			if string(stored.Data[KeyCert]) != string(b.Cert) {
				t.Error("the recovered bundle was not stored")
			}
		})
	}
}

func bundleData(b *Bundle) map[string][]byte {
	return map[string][]byte{KeyCACert: b.CACert, KeyCAKey: b.CAKey, KeyCert: b.Cert, KeyKey: b.Key}
}

// TestReplicasRace: replicas starting together end with one Secret and one
// CA, and every replica serves a certificate from that CA.
func TestReplicasRace(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for round := range 20 {
		store := &memStore{}
		const replicas = 4
		results := make([]*Bundle, replicas)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				b, err := manager(store, &now).Ensure(context.Background())
				if err != nil {
					t.Errorf("round %d replica %d: %v", round, i, err)
				}
				results[i] = b
			}()
		}
		close(start)
		wg.Wait()
		stored, _ := store.Get(context.Background())
		for i, b := range results {
			if b == nil || string(b.CACert) != string(stored.Data[KeyCACert]) || string(b.Cert) != string(stored.Data[KeyCert]) {
				t.Fatalf("round %d: replica %d holds a bundle other than the stored one", round, i)
			}
		}
		if store.writes != 1 {
			t.Fatalf("round %d: %d writes, want 1 (no flapping)", round, store.writes)
		}
	}
}

func TestWriteFiles(t *testing.T) {
	now := time.Now()
	b, err := Fresh(names, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteFiles(dir, b); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(dir+"/"+KeyCert, dir+"/"+KeyKey); err != nil {
		t.Fatalf("written key pair does not load: %v", err)
	}
}

// The Secret names its owner when created, and a valid Secret made before
// the owner was known gets it without a new bundle.
func TestOwnerReference(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	owner := metav1.OwnerReference{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration",
		Name: "nobackoff", UID: types.UID("vwc-1")}
	ownerUIDs := func(s *corev1.Secret) []types.UID {
		var out []types.UID
		for _, o := range s.OwnerReferences {
			out = append(out, o.UID)
		}
		return out
	}

	store := &memStore{}
	m := manager(store, &now)
	m.Owner = &owner
	if _, err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ownerUIDs(store.secret); !slices.Equal(got, []types.UID{"vwc-1"}) {
		t.Fatalf("created with owners %v, want [vwc-1]", got)
	}

	// Made unowned, then found by a manager that knows the owner.
	store = &memStore{}
	first, err := manager(store, &now).Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := ownerUIDs(store.secret); len(got) != 0 {
		t.Fatalf("no owner known, yet owners %v", got)
	}
	m = manager(store, &now)
	m.Owner = &owner
	again, err := m.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := ownerUIDs(store.secret); !slices.Equal(got, []types.UID{"vwc-1"}) {
		t.Errorf("owners %v after Ensure with the owner known, want [vwc-1]", got)
	}
	if !bytes.Equal(first.Cert, again.Cert) || !bytes.Equal(first.CACert, again.CACert) {
		t.Error("adding the owner replaced a valid bundle")
	}
	writes := store.writes
	if _, err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.writes != writes {
		t.Errorf("an owned, valid Secret was written again (%d writes, was %d)", store.writes, writes)
	}
}
