package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodContainers(t *testing.T) {
	onFailure := corev1.ContainerRestartPolicy("OnFailure")
	p := &Pod{Path: "spec.jobTemplate.spec.template.spec", Spec: &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "i0"}, {Name: "i1", RestartPolicy: &always}, {Name: "i2", RestartPolicy: &onFailure}},
		Containers:     []corev1.Container{{Name: "c0"}, {Name: "c1"}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "e0", Image: "busybox", LivenessProbe: httpProbe("/", port(1))}}},
	}}
	type row struct {
		name            string
		kind            ContainerKind
		path            string
		sidecar, probed bool
	}
	base := "spec.jobTemplate.spec.template.spec"
	want := []row{
		{"i0", Init, base + ".initContainers[0]", false, false},
		{"i1", Init, base + ".initContainers[1]", true, true},
		{"i2", Init, base + ".initContainers[2]", false, false},
		{"c0", Regular, base + ".containers[0]", false, true},
		{"c1", Regular, base + ".containers[1]", false, true},
		{"e0", Ephemeral, base + ".ephemeralContainers[0]", false, false},
	}
	got := p.Containers()
	if len(got) != len(want) {
		t.Fatalf("Containers() gave %d containers, want %d", len(got), len(want))
	}
	for i, c := range got {
		r := row{c.Name, c.Kind, c.Path, c.Sidecar(), c.Probed()}
		if r != want[i] {
			t.Errorf("container %d = %+v, want %+v", i, r, want[i])
		}
	}
	// Ephemeral containers keep their fields.
	if e := got[5]; e.Image != "busybox" || e.LivenessProbe == nil {
		t.Errorf("ephemeral container lost its fields: %+v", e.Container)
	}
	// Regular and init containers point into the spec itself.
	if got[3].Container != &p.Spec.Containers[0] || got[0].Container != &p.Spec.InitContainers[0] {
		t.Error("Containers() copies regular or init containers instead of pointing into the spec")
	}
}

func TestContainerRefFieldAndFinding(t *testing.T) {
	c := ContainerRef{Container: &corev1.Container{Name: "app", Image: "nginx:1.27"}, Kind: Regular, Path: tmpl + ".containers[2]"}
	for _, tc := range []struct{ sub, want string }{
		{"", tmpl + ".containers[2]"},
		{"image", tmpl + ".containers[2].image"},
		{"livenessProbe.httpGet.port", tmpl + ".containers[2].livenessProbe.httpGet.port"},
	} {
		if got := c.Field(tc.sub); got != tc.want {
			t.Errorf("Field(%q) = %q, want %q", tc.sub, got, tc.want)
		}
	}
	f := c.Finding(ImageMutableTag, Warning, "image", "msg", "fix")
	want := Finding{Check: ImageMutableTag, Severity: Warning, Field: tmpl + ".containers[2].image",
		Container: "app", Image: "nginx:1.27", Message: "msg", Fix: "fix"}
	if f != want {
		t.Errorf("Finding = %+v, want %+v", f, want)
	}
}
