package policy

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// BenchmarkHeapCheckAtBounds measures resources.heap-exceeds-limit on the
// costliest container the expansion bounds let through: the container's
// whole total spent on one-letter words, every one of them read as a
// launcher option.
func BenchmarkHeapCheckAtBounds(b *testing.B) {
	words := strings.Repeat("a ", maxExpandedValue/2)
	p := podOf(corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "eclipse-temurin:21",
		Env:       env("W", words, "JAVA_TOOL_OPTIONS", "$(W)"),
		Args:      []string{"$(W)", "$(W)"},
		Resources: memLimit("1Gi")}}})
	ch := heapExceedsLimit{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ch.Check(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}
