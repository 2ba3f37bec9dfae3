package webhook

import (
	"net/http"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// benchDeployment is a realistic 3-container Deployment: an app with
// probes, env and a heap flag, a sidecar proxy and a log shipper.
func benchDeployment(tb testing.TB) []byte {
	d := deployment()
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
			Resources: limits("1Gi"), StartupProbe: probe("/health/started"), LivenessProbe: probe("/health/live"), ReadinessProbe: probe("/health/ready"),
		},
		{
			Name: "proxy", Image: "envoyproxy/envoy:v1.31.2", Ports: []corev1.ContainerPort{{Name: "admin", ContainerPort: 9901}},
			Resources: limits("128Mi"), ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(9901)}}},
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
