package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/nobackoff/nobackoff/internal/testregistry"
	"github.com/nobackoff/nobackoff/policy"
	"github.com/nobackoff/nobackoff/registrycheck"
)

func lookupHandler(t testing.TB, mode Mode, cluster ClusterView) *Handler {
	t.Helper()
	l, err := NewLookups(RegistrySettings{Budget: 3 * time.Second, AllowLoopback: true}, cluster, nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewHandler(NewEngine(policy.NewCatalog(policy.Options{})).WithLookups(l), mode, HandlerOptions{}, NewMetrics(), nil)
}

func TestAdmissionWithRegistryLookups(t *testing.T) {
	reg := testregistry.New(t)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	reg.Push("shop/app:latest", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, amd64))
	cluster := NewStaticCluster([]registrycheck.Platform{{OS: "linux", Architecture: "amd64"}})

	d := deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: reg.Host + "/shop/app:latests", Resources: limits("64Mi")}}
	body := reviewBody(t, admissionv1.Create, deploymentKind, d, nil)

	resp := post(t, lookupHandler(t, Warn, cluster), body)
	if !resp.Allowed || fmt.Sprint(warningIDs(t, resp.Warnings)) != "[image.tag-not-found]" {
		t.Fatalf("warn: allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
	}
	if resp := post(t, lookupHandler(t, Enforce, cluster), body); resp.Allowed {
		t.Fatal("enforce mode admitted a tag that does not exist")
	}
	d.Spec.Template.Spec.Containers[0].Image = reg.Host + "/shop/app:latest"
	if resp := post(t, lookupHandler(t, Enforce, cluster), reviewBody(t, admissionv1.Create, deploymentKind, d, nil)); !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("existing image: allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
	}
}

// TestNothingToLookUp: a pod whose images are all invalid or never pulled
// gets its findings with lookups on (nothing to ask a registry).
func TestNothingToLookUp(t *testing.T) {
	d := deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{
		{Name: "app", Image: "UPPER/Case:1", Resources: limits("64Mi")},
		{Name: "local", Image: "127.0.0.1:1/shop/local:1.0", ImagePullPolicy: corev1.PullNever, Resources: limits("64Mi")},
	}
	resp := post(t, lookupHandler(t, Enforce, NewStaticCluster(nil)), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
	want := string(policy.ImageInvalidReference) + "@spec.template.spec.containers[0].image"
	if resp.Allowed || resp.AuditAnnotations["findings"] != want {
		t.Fatalf("allowed=%v findings=%q: want %s denied", resp.Allowed, resp.AuditAnnotations["findings"], want)
	}
}

// TestRegistryDownNeverDenies: an unreachable registry is a warning in
// both modes.
func TestRegistryDownNeverDenies(t *testing.T) {
	d := deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "127.0.0.1:1/shop/app:1.0", Resources: limits("64Mi")}}
	resp := post(t, lookupHandler(t, Enforce, NewStaticCluster(nil)), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
	if !resp.Allowed || fmt.Sprint(warningIDs(t, resp.Warnings)) != "[image.lookup-inconclusive]" {
		t.Fatalf("allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
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

// BenchmarkReviewWarmCache measures a review of a Deployment with three
// images whose lookups are cached: the steady state of a busy cluster.
func BenchmarkReviewWarmCache(b *testing.B) {
	reg := testregistry.New(b)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	d := deployment()
	d.Spec.Template.Spec.Containers = nil
	for i := range 3 {
		reg.Push(fmt.Sprintf("shop/app%d:1.0", i), testregistry.Image(b, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, amd64))
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers,
			corev1.Container{Name: fmt.Sprintf("c%d", i), Image: fmt.Sprintf("%s/shop/app%d:1.0", reg.Host, i), Resources: limits("64Mi")})
	}
	body := reviewBody(b, admissionv1.Create, deploymentKind, d, nil)
	h := lookupHandler(b, Warn, NewStaticCluster([]registrycheck.Platform{{OS: "linux", Architecture: "amd64"}}))
	serve := func() {
		if rec := serveReview(h, body); rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
	serve() // warm the caches
	heads := reg.Heads.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
	b.StopTimer()
	if n := reg.Heads.Load() - heads; n != 0 {
		b.Fatalf("%d registry requests with a warm cache", n)
	}
}

// TestConcurrentReviewsShareLookups: 100 concurrent reviews of one new
// image cost the registry one request.
func TestConcurrentReviewsShareLookups(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("shop/app:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, v1.Platform{OS: "linux", Architecture: "amd64"}))
	reg.Set(testregistry.Faults{Delay: 100 * time.Millisecond})
	d := deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: reg.Host + "/shop/app:1.0", Command: []string{"/app"}, Resources: limits("64Mi")}}
	body := reviewBody(t, admissionv1.Create, deploymentKind, d, nil)
	h := lookupHandler(t, Enforce, NewStaticCluster(nil))
	var wg sync.WaitGroup
	failures := make(chan string, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := serveReview(h, body)
			if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"allowed":true`)) {
				failures <- rec.Body.String()
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if n := reg.Heads.Load(); n != 1 {
		t.Fatalf("100 concurrent reviews sent %d HEADs, want 1", n)
	}
}

// TestDistinctImagesLookedUpInParallel: a pod with five images against a
// registry answering in 200 ms costs about one answer, not five. The time
// is reported, not asserted; the count of requests is.
func TestDistinctImagesLookedUpInParallel(t *testing.T) {
	reg := testregistry.New(t)
	d := deployment()
	d.Spec.Template.Spec.Containers = nil
	for i := range 5 {
		reg.Push(fmt.Sprintf("shop/app%d:1.0", i), testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, v1.Platform{OS: "linux", Architecture: "amd64"}))
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers,
			corev1.Container{Name: fmt.Sprintf("c%d", i), Image: fmt.Sprintf("%s/shop/app%d:1.0", reg.Host, i), Command: []string{"/app"}, Resources: limits("64Mi")})
	}
	const delay = 200 * time.Millisecond
	reg.Set(testregistry.Faults{Delay: delay})
	start := time.Now()
	resp := post(t, lookupHandler(t, Warn, NewStaticCluster(nil)), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
	t.Logf("5 images at %v each: review took %v", delay, time.Since(start))
	if !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
	}
	if n := reg.Heads.Load(); n != 5 {
		t.Fatalf("%d HEADs, want 5", n)
	}
	if n := reg.MaxInFlight.Load(); n != 5 {
		t.Fatalf("at most %d lookups were in flight at once, want all 5", n)
	}
}

// TestPodSecretsFinalInWebhook: a Pod reaching the webhook already has its
// final imagePullSecrets; an empty list does not fall back to the
// ServiceAccount's (the CLI, reading files, does).
func TestPodSecretsFinalInWebhook(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("private/app:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, v1.Platform{OS: "linux", Architecture: "amd64"}))
	reg.Set(testregistry.Faults{Users: map[string]string{"ci": "s3cret"}})
	cluster := NewStaticCluster(nil)
	errs := cluster.AddDocuments(mustDocs(t, `
apiVersion: v1
kind: Secret
metadata: {name: regcred, namespace: shop}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '{"auths":{"`+reg.Host+`":{"username":"ci","password":"s3cret"}}}'}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: shop}
imagePullSecrets: [{name: regcred}]
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: reg.Host + "/private/app:1.0", Resources: limits("64Mi")}}}}
	body := reviewBody(t, admissionv1.Create, podKind, pod, nil)
	l, _ := NewLookups(RegistrySettings{Budget: 3 * time.Second, AllowLoopback: true}, cluster, nil)
	l.PodSecretsFinal = true
	h := NewHandler(NewEngine(policy.NewCatalog(policy.Options{})).WithLookups(l), Warn, HandlerOptions{}, NewMetrics(), nil)
	if resp := post(t, h, body); fmt.Sprint(warningIDs(t, resp.Warnings)) != "[image.unauthorized]" {
		t.Fatalf("webhook: %v", resp.Warnings)
	}
	if resp := post(t, lookupHandler(t, Warn, cluster), body); len(resp.Warnings) != 0 {
		t.Fatalf("file semantics (ServiceAccount fallback): %v", resp.Warnings)
	}
}

func mustDocs(t *testing.T, yaml string) []Document {
	t.Helper()
	docs, errs := ReadManifests([]string{"-"}, strings.NewReader(yaml))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return docs
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
		Cluster:  NewStaticCluster([]registrycheck.Platform{{OS: "linux", Architecture: "amd64"}}),
	}
	h := NewHandler(NewEngine(policy.NewCatalog(policy.Options{})).WithLookups(l), Enforce, HandlerOptions{}, nil, nil)
	d := deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: reg.Host + "/shop/app:1.0", Resources: limits("64Mi")}}
	body := reviewBody(t, admissionv1.Create, deploymentKind, d, nil)

	if resp := post(t, h, body); !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("image present: allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
	}
	if len(l.found) != 1 {
		t.Fatalf("%d images remembered, want 1", len(l.found))
	}
	heads := reg.Heads.Load()
	// The tag disappears; within the cache's time the answer stands, and
	// nothing is asked.
	reg.Set(testregistry.Faults{Status: http.StatusNotFound})
	advance(2 * time.Minute)
	if resp := post(t, h, body); !resp.Allowed || reg.Heads.Load() != heads {
		t.Fatalf("within the cache time: allowed=%v, %d more HEADs", resp.Allowed, reg.Heads.Load()-heads)
	}
	// Past it, the registry is asked and the tag is gone.
	advance(2 * time.Minute)
	resp := post(t, h, body)
	if resp.Allowed || reg.Heads.Load() == heads {
		t.Fatalf("after the cache time: allowed=%v, %d more HEADs: want the missing image denied", resp.Allowed, reg.Heads.Load()-heads)
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
		NewStaticCluster([]registrycheck.Platform{{OS: "linux", Architecture: "amd64"}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	facts, _ := l.lookup(context.Background(), ref.String(), registrycheck.NewKeyring(), nil, false)
	if facts.Outcome != policy.LookupUnreachable || facts.Certificate != string(registrycheck.CertificateUnknownAuthority) {
		t.Fatalf("outcome %q certificate %q, want unreachable with %q", facts.Outcome, facts.Certificate, registrycheck.CertificateUnknownAuthority)
	}
	d := deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: ref.String(), Resources: limits("64Mi")}}
	resp := post(t, lookupHandler(t, Enforce, NewStaticCluster(nil)), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
	if !resp.Allowed || fmt.Sprint(warningIDs(t, resp.Warnings)) != "[image.lookup-inconclusive]" {
		t.Fatalf("allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
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
	cluster := NewStaticCluster(nil)
	if errs := cluster.AddDocuments(mustDocs(t, secret("build", "regcred")+secret("shop", "ghcr-pull")+`
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
		d := deployment()
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: image, Resources: limits("64Mi")}}
		for _, s := range secrets {
			d.Spec.Template.Spec.ImagePullSecrets = append(d.Spec.Template.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		w, err := DecodeWorkload(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, mustJSON(t, d), false)
		if err != nil {
			t.Fatal(err)
		}
		pod, _ := w.Pod()
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

// TestOfflineJudgesSecretsInTheInput: without a registry, a pull secret of
// the wrong type in the input is reported; one not in the input is not
// (it may well be in the cluster).
func TestOfflineJudgesSecretsInTheInput(t *testing.T) {
	docs := mustDocs(t, `
apiVersion: v1
kind: Secret
metadata: {name: regcred, namespace: shop}
type: Opaque
stringData: {.dockerconfigjson: '{"auths":{}}'}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      imagePullSecrets: [{name: regcred}, {name: elsewhere}]
      containers: [{name: app, image: registry.example.com/shop/web:1.0, resources: {limits: {memory: 64Mi}}}]
`)
	cluster := NewStaticCluster(nil)
	if errs := cluster.AddDocuments(docs); len(errs) > 0 {
		t.Fatal(errs)
	}
	engine := NewEngine(policy.NewCatalog(policy.Options{})).WithLookups(&Lookups{Cluster: cluster})
	rep, errs := CheckDocuments(context.Background(), engine, docs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, o := range rep.Objects {
		for _, f := range o.Result.Findings {
			got = append(got, fmt.Sprintf("%s %s %s", f.Check, f.Severity, f.Field))
		}
	}
	if want := "[image.pull-secret-missing warning spec.template.spec.imagePullSecrets[0]]"; fmt.Sprint(got) != want {
		t.Fatalf("findings %v, want %s", got, want)
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
