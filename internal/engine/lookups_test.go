package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/nobackoff/nobackoff/internal/clusterstate"
	"github.com/nobackoff/nobackoff/internal/fixtures"
	"github.com/nobackoff/nobackoff/internal/testregistry"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// decoded is the workload of a Deployment, decoded as the webhook decodes
// the object of a review.
func decoded(t *testing.T, d any) *workload.Workload {
	t.Helper()
	w, err := workload.Decode(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, mustJSON(t, d), false)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// enforced is what the webhook's enforce mode answers for a review: allowed
// without an error-level finding, with a warning for each warning-level
// finding, unreadable annotation ("nobackoff") and check not evaluated,
// named by check ID, sorted.
func enforced(res Result) (allowed bool, warnings []string) {
	for _, f := range res.Findings {
		if f.Severity == policy.Warning {
			warnings = append(warnings, string(f.Check))
		}
	}
	for range res.Invalid {
		warnings = append(warnings, "nobackoff")
	}
	for _, cf := range res.Failures {
		warnings = append(warnings, string(cf.Check))
	}
	sort.Strings(warnings)
	return res.Count(policy.Error) == 0, warnings
}

// TestRememberedFactsFollowTheCache: the facts of an image found are
// reused only while the resolver's cache would answer the same; after
// that the registry is asked again and its new answer counts.
func TestRememberedFactsFollowTheCache(t *testing.T) {
	reg := testregistry.New(t)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	reg.Push("shop/app:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, amd64))
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	l := &Lookups{
		Resolver: registrycheck.NewResolver(registrycheck.Options{Now: clock, AllowLoopback: true, LookupTimeout: 3 * time.Second}),
		Cluster:  clusterstate.NewStaticCluster([]registrycheck.Platform{{OS: "linux", Architecture: "amd64"}}),
	}
	e := New(policy.NewCatalog(policy.Options{})).WithLookups(l)
	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: reg.Host + "/shop/app:1.0", Resources: fixtures.MemoryLimit("64Mi")}}
	review := func() Result { return e.Review(context.Background(), decoded(t, d)) }

	if allowed, warnings := enforced(review()); !allowed || len(warnings) != 0 {
		t.Fatalf("image present: allowed=%v warnings=%v", allowed, warnings)
	}
	if len(l.found) != 1 {
		t.Fatalf("%d images remembered, want 1", len(l.found))
	}
	heads := reg.Heads.Load()
	// The tag disappears; within the cache's time the answer stands, and
	// nothing is asked.
	reg.Set(testregistry.Faults{Status: http.StatusNotFound})
	advance(2 * time.Minute)
	if allowed, _ := enforced(review()); !allowed || reg.Heads.Load() != heads {
		t.Fatalf("within the cache time: allowed=%v, %d more HEADs", allowed, reg.Heads.Load()-heads)
	}
	// Past it, the registry is asked and the tag is gone.
	advance(2 * time.Minute)
	allowed, _ := enforced(review())
	if allowed || reg.Heads.Load() == heads {
		t.Fatalf("after the cache time: allowed=%v, %d more HEADs: want the missing image denied", allowed, reg.Heads.Load()-heads)
	}
}

// TestUntrustedCertificateNamed: a registry whose TLS certificate the
// webhook does not trust is inconclusive, with the certificate problem
// named in the facts the checks read.
func TestUntrustedCertificateNamed(t *testing.T) {
	srv := httptest.NewTLSServer(ggcrregistry.New())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	ref, err := name.ParseReference(host + "/shop/app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	img := testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}}, v1.Platform{OS: "linux", Architecture: "amd64"})
	if err := remote.Write(ref, img, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	l, err := NewLookups(RegistrySettings{Budget: 3 * time.Second, AllowLoopback: true},
		clusterstate.NewStaticCluster([]registrycheck.Platform{{OS: "linux", Architecture: "amd64"}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	facts, _ := l.lookup(context.Background(), ref.String(), registrycheck.NewKeyring(), nil, false)
	if facts.Outcome != policy.LookupUnreachable || facts.Certificate != string(registrycheck.CertificateUnknownAuthority) {
		t.Fatalf("outcome %q certificate %q, want unreachable with %q", facts.Outcome, facts.Certificate, registrycheck.CertificateUnknownAuthority)
	}
	// Through a review, as the webhook's enforce mode judges it: a
	// warning, never a denial.
	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: ref.String(), Resources: fixtures.MemoryLimit("64Mi")}}
	l, err = NewLookups(RegistrySettings{Budget: 3 * time.Second, AllowLoopback: true}, clusterstate.NewStaticCluster(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := New(policy.NewCatalog(policy.Options{})).WithLookups(l).Review(context.Background(), decoded(t, d))
	if allowed, warnings := enforced(res); !allowed || fmt.Sprint(warnings) != "[image.lookup-inconclusive]" {
		t.Fatalf("allowed=%v warnings=%v", allowed, warnings)
	}
}

// TestPullSecretWhereabouts: a pull secret missing from the pod's
// namespace but present in another is named with that namespace; one in
// the namespace with credentials for the registry, attached neither to the
// pod nor to its ServiceAccount, is named on the authorization failure.
func TestPullSecretWhereabouts(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("private/app:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, v1.Platform{OS: "linux", Architecture: "amd64"}))
	reg.Set(testregistry.Faults{Users: map[string]string{"ci": "s3cret"}})
	secret := func(ns, name string) string {
		return `apiVersion: v1
kind: Secret
metadata: {name: ` + name + `, namespace: ` + ns + `}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '{"auths":{"` + reg.Host + `":{"username":"ci","password":"s3cret"}}}'}
---
`
	}
	cluster := clusterstate.NewStaticCluster(nil)
	if errs := cluster.AddDocuments(fixtures.Docs(t, secret("build", "regcred")+secret("shop", "ghcr-pull")+`
apiVersion: v1
kind: Secret
metadata: {name: unrelated, namespace: shop}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '{"auths":{"other.example.com":{"username":"x","password":"y"}}}'}
`)); len(errs) > 0 {
		t.Fatal(errs)
	}
	l, err := NewLookups(RegistrySettings{Budget: 3 * time.Second, AllowLoopback: true}, cluster, nil)
	if err != nil {
		t.Fatal(err)
	}
	image := reg.Host + "/private/app:1.0"
	review := func(secrets ...string) *policy.Pod {
		d := fixtures.Deployment()
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: image, Resources: fixtures.MemoryLimit("64Mi")}}
		for _, s := range secrets {
			d.Spec.Template.Spec.ImagePullSecrets = append(d.Spec.Template.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		w := decoded(t, d)
		pod, _ := podOf(w)
		l.gather(context.Background(), w, pod)
		return pod
	}

	pod := review("regcred")
	if len(pod.PullSecretIssues) != 1 || pod.PullSecretIssues[0].Problem != policy.SecretMissing ||
		fmt.Sprint(pod.PullSecretIssues[0].OtherNamespaces) != "[build]" {
		t.Fatalf("missing secret: issues %+v, want regcred missing, present in build", pod.PullSecretIssues)
	}
	if facts := pod.Images[image]; facts.Outcome != policy.LookupUnauthorized || fmt.Sprint(facts.Unattached) != "[ghcr-pull]" {
		t.Fatalf("facts %+v, want unauthorized with ghcr-pull unattached", facts)
	}
	if facts := review().Images[image]; fmt.Sprint(facts.Unattached) != "[ghcr-pull]" || facts.ServiceAccount != "default" {
		t.Fatalf("no secrets: facts %+v, want ghcr-pull unattached and the default ServiceAccount named", facts)
	}
	if pod := review("ghcr-pull"); pod.Images[image].Outcome != policy.LookupOK || len(pod.PullSecretIssues) != 0 {
		t.Fatalf("attached: facts %+v issues %+v", pod.Images[image], pod.PullSecretIssues)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
