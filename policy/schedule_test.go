package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestEffectiveRequests(t *testing.T) {
	req := func(cpu, mem string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}
	}
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name     string
		spec     corev1.PodSpec
		cpu, mem string
	}{
		{"containers summed", corev1.PodSpec{Containers: []corev1.Container{{Resources: req("500m", "1Gi")}, {Resources: req("250m", "256Mi")}}}, "750m", "1280Mi"},
		{"init peak above the containers", corev1.PodSpec{
			InitContainers: []corev1.Container{{Resources: req("2", "512Mi")}},
			Containers:     []corev1.Container{{Resources: req("500m", "1Gi")}}}, "2", "1Gi"},
		{"sidecar counted with the containers and the later init containers", corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Resources: req("100m", "64Mi"), RestartPolicy: &always},
				{Resources: req("1", "128Mi")},
			},
			Containers: []corev1.Container{{Resources: req("500m", "1Gi")}}}, "1100m", "1088Mi"},
		{"a limit stands in for a missing request", corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("2Gi")}}}}}, "2", "2Gi"},
		{"overhead added", corev1.PodSpec{Containers: []corev1.Container{{Resources: req("1", "1Gi")}},
			Overhead: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("120Mi")}}, "1250m", "1144Mi"},
		{"pod-level requests replace the sum", corev1.PodSpec{Containers: []corev1.Container{{Resources: req("1", "1Gi")}, {Resources: req("1", "1Gi")}},
			Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}}}, "1500m", "2Gi"},
	}
	for _, tc := range tests {
		got := EffectiveRequests(&tc.spec)
		cpu, mem := quantityOf(got, corev1.ResourceCPU), quantityOf(got, corev1.ResourceMemory)
		if cpu.Cmp(resource.MustParse(tc.cpu)) != 0 || mem.Cmp(resource.MustParse(tc.mem)) != 0 {
			t.Errorf("%s: cpu %s memory %s, want %s and %s", tc.name, cpu.String(), mem.String(), tc.cpu, tc.mem)
		}
	}
}
