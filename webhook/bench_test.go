package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/nobackoff/nobackoff/internal/clusterstate"
	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/fixtures"
	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/testregistry"
	"github.com/nobackoff/nobackoff/policy"
)

// benchDeployment is a realistic 3-container Deployment: an app with
// probes, env and a heap flag, a sidecar proxy and a log shipper.
func benchDeployment(tb testing.TB) []byte {
	d := fixtures.Deployment()
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}}}
	}
	d.Spec.Replicas = ptr.To[int32](3)
	d.Spec.Template.Spec.Containers = []corev1.Container{
		{
			Name: "app", Image: "registry.example.com/shop/billing:4.2.0",
			Command: []string{"java"}, Args: []string{"-Xmx768m", "-jar", "/app/billing.jar"},
			Env:       []corev1.EnvVar{{Name: "SPRING_PROFILES_ACTIVE", Value: "prod"}, {Name: "JAVA_TOOL_OPTIONS", Value: "-XX:+UseG1GC"}},
			Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			Resources: fixtures.MemoryLimit("1Gi"), StartupProbe: probe("/health/started"), LivenessProbe: probe("/health/live"), ReadinessProbe: probe("/health/ready"),
		},
		{
			Name: "proxy", Image: "envoyproxy/envoy:v1.31.2", Ports: []corev1.ContainerPort{{Name: "admin", ContainerPort: 9901}},
			Resources: fixtures.MemoryLimit("128Mi"), ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(9901)}}},
		},
		{Name: "logs", Image: "fluent/fluent-bit:3.1.9"},
	}
	return reviewBody(tb, admissionv1.Create, deploymentKind, d, nil)
}

// BenchmarkReviewDeployment measures one full review through the HTTP
// handler: decode, extract, every check, verdict, encode.
func BenchmarkReviewDeployment(b *testing.B) {
	body := benchDeployment(b)
	for _, mode := range []Mode{Warn, Enforce} {
		b.Run(string(mode), func(b *testing.B) {
			h := newHandler(mode, HandlerOptions{})
			b.ReportAllocs()
			for b.Loop() {
				if rec := serveReview(h, body); rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// BenchmarkReviewDeploymentWarm is the review `nobackoff serve` does in
// the side-by-side benchmark, in process: the three images resolved by a
// registry with warm caches, the cluster's nodes, ServiceAccount and
// LimitRanges known, every check run. The HTTP handler is driven directly,
// so TLS and connections are left out.
func BenchmarkReviewDeploymentWarm(b *testing.B) {
	reg := testregistry.New(b)
	app := v1.Config{Entrypoint: []string{"/app"}, User: "1000"}
	amd64, arm64 := v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"}
	d := fixtures.Deployment()
	d.Namespace = "bench"
	d.Spec.Replicas = ptr.To[int32](3)
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}}}
	}
	startup := probe("/health/started")
	startup.FailureThreshold = 12
	images := []string{"bench/app:4.2.0", "bench/proxy:1.31.2", "bench/logs:3.1.9"}
	for _, image := range images {
		reg.PushIndex(image, app, amd64, arm64)
	}
	d.Spec.Template.Spec.Containers = []corev1.Container{
		{
			Name: "app", Image: reg.Host + "/" + images[0],
			Command: []string{"java"}, Args: []string{"-Xmx512m", "-jar", "/app/billing.jar"},
			Env:       []corev1.EnvVar{{Name: "SPRING_PROFILES_ACTIVE", Value: "prod"}, {Name: "JAVA_TOOL_OPTIONS", Value: "-XX:+UseG1GC"}},
			Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			Resources: fixtures.MemoryLimit("1Gi"), StartupProbe: startup, LivenessProbe: probe("/health/live"), ReadinessProbe: probe("/health/ready"),
		},
		{
			Name: "proxy", Image: reg.Host + "/" + images[1], Ports: []corev1.ContainerPort{{Name: "admin", ContainerPort: 9901}},
			Resources: fixtures.MemoryLimit("128Mi"), ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(9901)}}},
		},
		{Name: "logs", Image: reg.Host + "/" + images[2], Resources: fixtures.MemoryLimit("64Mi")},
	}
	for i := range d.Spec.Template.Spec.Containers {
		c := &d.Spec.Template.Spec.Containers[i]
		c.Resources.Requests = c.Resources.Limits
	}
	body := reviewBody(b, admissionv1.Create, deploymentKind, d, nil)

	cluster := clusterstate.NewStaticCluster(nil)
	docs, errs := manifests.Read([]string{"-"}, strings.NewReader(benchClusterYAML))
	errs = append(errs, cluster.AddDocuments(docs)...)
	for _, err := range errs {
		b.Fatal(err)
	}
	lookups, err := engine.NewLookups(engine.RegistrySettings{Budget: 5 * time.Second, AllowLoopback: true}, cluster, nil)
	if err != nil {
		b.Fatal(err)
	}
	eng := engine.New(policy.NewCatalog(policy.Options{})).WithLookups(lookups).WithObjects(cluster)
	h := NewHandler(eng, Warn, HandlerOptions{}, NewMetrics(), nil)
	if resp := post(b, h, body); len(resp.Warnings) != 0 {
		b.Fatalf("the benchmark Deployment draws warnings %q: it should be healthy", resp.Warnings)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rec := serveReview(h, body); rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

const benchClusterYAML = `apiVersion: v1
kind: Node
metadata:
  name: node-amd64
  labels: {kubernetes.io/os: linux, kubernetes.io/arch: amd64}
status:
  allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
  nodeInfo: {operatingSystem: linux, architecture: amd64}
---
apiVersion: v1
kind: Node
metadata:
  name: node-arm64
  labels: {kubernetes.io/os: linux, kubernetes.io/arch: arm64}
status:
  allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
  nodeInfo: {operatingSystem: linux, architecture: arm64}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: bench}
`
