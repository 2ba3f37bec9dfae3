package certs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SecretStore reads and writes the one Secret that holds the bundle, with
// the API server's semantics: Create fails with AlreadyExists when another
// replica created it first, Update with Conflict when the resourceVersion
// is stale.
type SecretStore interface {
	Get(ctx context.Context) (*corev1.Secret, error)
	Create(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error)
	Update(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error)
}

// Manager keeps the bundle in the Secret valid.
type Manager struct {
	Store     SecretStore
	Namespace string
	Name      string
	// DNSNames the serving certificate must cover, e.g.
	// nobackoff.nobackoff.svc and nobackoff.nobackoff.svc.cluster.local.
	DNSNames []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Owner, when set, is written into the Secret's owner references (the
	// webhook configuration the CA is patched into): when the release
	// that made them is uninstalled, the garbage collector removes the
	// Secret with its owner.
	Owner *metav1.OwnerReference
}

// owned reports whether s already names the Manager's owner (or there is
// none to name).
func (m *Manager) owned(s *corev1.Secret) bool {
	if m.Owner == nil {
		return true
	}
	for _, o := range s.OwnerReferences {
		if o.UID == m.Owner.UID {
			return true
		}
	}
	return false
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// maxAttempts bounds the read-decide-write loop under contention.
const maxAttempts = 10

// Ensure returns a valid bundle, creating, renewing or replacing the one in
// the Secret as needed. Racing replicas converge: a write that loses
// (AlreadyExists, Conflict) is retried from a fresh read, which then finds
// the winner's bundle valid.
func (m *Manager) Ensure(ctx context.Context) (*Bundle, error) {
	if len(m.DNSNames) == 0 {
		return nil, fmt.Errorf("no DNS names for the serving certificate")
	}
	var lastErr error
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := m.Store.Get(ctx)
		if apierrors.IsNotFound(err) {
			b, err := Fresh(m.DNSNames, m.now(), nil)
			if err != nil {
				return nil, err
			}
			_, err = m.Store.Create(ctx, m.secret(nil, b))
			if err == nil {
				return b, nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("creating secret %s/%s: %w", m.Namespace, m.Name, err)
			}
			lastErr = err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading secret %s/%s: %w", m.Namespace, m.Name, err)
		}
		cur := bundleOf(s)
		state, _ := Inspect(cur, m.DNSNames, m.now())
		var next *Bundle
		switch state {
		case Valid:
			if m.owned(s) {
				return cur, nil
			}
			next = cur // a Secret from before the owner was known: keep the bundle, add the owner
		case RenewServing:
			next, err = Renew(cur, m.DNSNames, m.now())
		default:
			next, err = Fresh(m.DNSNames, m.now(), cur)
		}
		if err != nil {
			return nil, err
		}
		_, err = m.Store.Update(ctx, m.secret(s, next))
		if err == nil {
			return next, nil
		}
		if !apierrors.IsConflict(err) {
			return nil, fmt.Errorf("updating secret %s/%s: %w", m.Namespace, m.Name, err)
		}
		lastErr = err
	}
	return nil, fmt.Errorf("secret %s/%s: still contended after %d attempts: %w", m.Namespace, m.Name, maxAttempts, lastErr)
}

func bundleOf(s *corev1.Secret) *Bundle {
	return &Bundle{CACert: s.Data[KeyCACert], CAKey: s.Data[KeyCAKey], Cert: s.Data[KeyCert], Key: s.Data[KeyKey]}
}

// secret returns the Secret holding b, based on the current one (nil to
// create it) so that its resourceVersion guards the write.
func (m *Manager) secret(cur *corev1.Secret, b *Bundle) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace, Name: m.Name,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "nobackoff"}}, Type: corev1.SecretTypeOpaque}
	if cur != nil {
		s = cur.DeepCopy()
	}
	if !m.owned(s) {
		s.OwnerReferences = append(s.OwnerReferences, *m.Owner)
	}
	s.Data = map[string][]byte{KeyCACert: b.CACert, KeyCAKey: b.CAKey, KeyCert: b.Cert, KeyKey: b.Key}
	return s
}

// WriteFiles writes the serving key pair (tls.crt, tls.key) and the CA
// (ca.crt) into dir, each through a rename so that a watcher never reads
// half a file. Unchanged files are not rewritten.
func WriteFiles(dir string, b *Bundle) error {
	for name, data := range map[string][]byte{KeyCACert: b.CACert, KeyCert: b.Cert, KeyKey: b.Key} {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			continue
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return nil
}

func isConflict(err error) bool { return apierrors.IsConflict(err) }
