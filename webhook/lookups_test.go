package webhook

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nobackoff/nobackoff/internal/clusterstate"
	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/fixtures"
	"github.com/nobackoff/nobackoff/internal/testregistry"
	"github.com/nobackoff/nobackoff/policy"
	"github.com/nobackoff/nobackoff/registrycheck"
)

func lookupHandler(t testing.TB, mode Mode, cluster engine.ClusterView) *Handler {
	t.Helper()
	l, err := engine.NewLookups(engine.RegistrySettings{Budget: 3 * time.Second, AllowLoopback: true}, cluster, nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewHandler(engine.New(policy.NewCatalog(policy.Options{})).WithLookups(l), mode, HandlerOptions{}, NewMetrics(), nil)
}

func TestAdmissionWithRegistryLookups(t *testing.T) {
	reg := testregistry.New(t)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	reg.Push("shop/app:latest", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, amd64))
	cluster := clusterstate.NewStaticCluster([]registrycheck.Platform{{OS: "linux", Architecture: "amd64"}})

	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: reg.Host + "/shop/app:latests", Resources: fixtures.MemoryLimit("64Mi")}}
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
	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{
		{Name: "app", Image: "UPPER/Case:1", Resources: fixtures.MemoryLimit("64Mi")},
		{Name: "local", Image: "127.0.0.1:1/shop/local:1.0", ImagePullPolicy: corev1.PullNever, Resources: fixtures.MemoryLimit("64Mi")},
	}
	resp := post(t, lookupHandler(t, Enforce, clusterstate.NewStaticCluster(nil)), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
	want := string(policy.ImageInvalidReference) + "@spec.template.spec.containers[0].image"
	if resp.Allowed || resp.AuditAnnotations["findings"] != want {
		t.Fatalf("allowed=%v findings=%q: want %s denied", resp.Allowed, resp.AuditAnnotations["findings"], want)
	}
}

// TestRegistryDownNeverDenies: an unreachable registry is a warning in
// both modes.
func TestRegistryDownNeverDenies(t *testing.T) {
	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: "127.0.0.1:1/shop/app:1.0", Resources: fixtures.MemoryLimit("64Mi")}}
	resp := post(t, lookupHandler(t, Enforce, clusterstate.NewStaticCluster(nil)), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
	if !resp.Allowed || fmt.Sprint(warningIDs(t, resp.Warnings)) != "[image.lookup-inconclusive]" {
		t.Fatalf("allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
	}
}

// BenchmarkReviewWarmCache measures a review of a Deployment with three
// images whose lookups are cached: the steady state of a busy cluster.
func BenchmarkReviewWarmCache(b *testing.B) {
	reg := testregistry.New(b)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers = nil
	for i := range 3 {
		reg.Push(fmt.Sprintf("shop/app%d:1.0", i), testregistry.Image(b, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, amd64))
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers,
			corev1.Container{Name: fmt.Sprintf("c%d", i), Image: fmt.Sprintf("%s/shop/app%d:1.0", reg.Host, i), Resources: fixtures.MemoryLimit("64Mi")})
	}
	body := reviewBody(b, admissionv1.Create, deploymentKind, d, nil)
	h := lookupHandler(b, Warn, clusterstate.NewStaticCluster([]registrycheck.Platform{{OS: "linux", Architecture: "amd64"}}))
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
	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "app", Image: reg.Host + "/shop/app:1.0", Command: []string{"/app"}, Resources: fixtures.MemoryLimit("64Mi")}}
	body := reviewBody(t, admissionv1.Create, deploymentKind, d, nil)
	h := lookupHandler(t, Enforce, clusterstate.NewStaticCluster(nil))
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
	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers = nil
	for i := range 5 {
		reg.Push(fmt.Sprintf("shop/app%d:1.0", i), testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, v1.Platform{OS: "linux", Architecture: "amd64"}))
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers,
			corev1.Container{Name: fmt.Sprintf("c%d", i), Image: fmt.Sprintf("%s/shop/app%d:1.0", reg.Host, i), Command: []string{"/app"}, Resources: fixtures.MemoryLimit("64Mi")})
	}
	const delay = 200 * time.Millisecond
	reg.Set(testregistry.Faults{Delay: delay})
	start := time.Now()
	resp := post(t, lookupHandler(t, Warn, clusterstate.NewStaticCluster(nil)), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
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
	cluster := clusterstate.NewStaticCluster(nil)
	errs := cluster.AddDocuments(fixtures.Docs(t, `
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
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: reg.Host + "/private/app:1.0", Resources: fixtures.MemoryLimit("64Mi")}}}}
	body := reviewBody(t, admissionv1.Create, podKind, pod, nil)
	l, _ := engine.NewLookups(engine.RegistrySettings{Budget: 3 * time.Second, AllowLoopback: true}, cluster, nil)
	l.PodSecretsFinal = true
	h := NewHandler(engine.New(policy.NewCatalog(policy.Options{})).WithLookups(l), Warn, HandlerOptions{}, NewMetrics(), nil)
	if resp := post(t, h, body); fmt.Sprint(warningIDs(t, resp.Warnings)) != "[image.unauthorized]" {
		t.Fatalf("webhook: %v", resp.Warnings)
	}
	if resp := post(t, lookupHandler(t, Warn, cluster), body); len(resp.Warnings) != 0 {
		t.Fatalf("file semantics (ServiceAccount fallback): %v", resp.Warnings)
	}
}
