package policy

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestFirstOutcome(t *testing.T) {
	f := func(id ID, o Outcome) Finding { return Finding{Check: id, Outcome: o} }
	tests := []struct {
		name     string
		findings []Finding
		want     Outcome
	}{
		{"none", nil, NoOutcome},
		{"risks only", []Finding{f(ImageMutableTag, NoOutcome), f(ResourcesMemoryLimitMissing, NoOutcome)}, NoOutcome},
		{"pull before config", []Finding{f(ImageRunsAsRoot, CreateContainerConfigError), f(ImageTagNotFound, ImagePullBackOff)}, ImagePullBackOff},
		{"name before all", []Finding{f(ProbePortNotFound, NeverReady), f(ImageInvalidReference, InvalidImageName)}, InvalidImageName},
		{"secret before pull", []Finding{f(ImageUnauthorized, ImagePullBackOff), f(ImagePullSecretMissing, StuckWaiting)}, StuckWaiting},
		{"OOM before the probes", []Finding{f(ProbeLivenessTooAggressive, CrashLoopBackOff), f(ResourcesHeapExceedsLimit, OOMKilled)}, OOMKilled},
	}
	for _, tt := range tests {
		if got := FirstOutcome(tt.findings); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Every check that fails a pod at start-up names the state; risks do not.
func TestCheckOutcomes(t *testing.T) {
	risks := map[ID]bool{ImageMutableTag: true, ImageLookupInconclusive: true, ImagePullSecretMissing: true,
		ProbeLivenessEqualsReadines: true, ProbePortNotDeclared: true, ProbeTimeoutExceedsPeriod: true,
		ResourcesMemoryLimitMissing: true,
		// Some replicas run; a DaemonSet that runs nowhere has no pod to be in a state.
		ScheduleAntiAffinityReplicas: true, ScheduleDaemonSetNoNode: true}
	for id := range PublishedIDs() {
		if _, ok := checkOutcomes[id]; ok == risks[id] {
			t.Errorf("%s: outcome %q, risk %v", id, checkOutcomes[id], risks[id])
		}
	}
}

// A check's findings may foretell different states: a single-arch image
// is pulled and fails to exec; a liveness probe on an undeclared port is
// silently off.
func TestFindingOutcomes(t *testing.T) {
	c := ContainerRef{Container: &corev1.Container{Name: "app", Image: "r.example/app:1"}, Kind: Regular, Path: tmpl + ".containers[0]"}
	for _, tt := range []struct {
		index bool
		want  Outcome
	}{{true, ImagePullBackOff}, {false, CrashLoopBackOff}} {
		l := &ImageLookup{Outcome: LookupOK, Platforms: &PlatformFacts{Index: tt.index, Offered: []string{"linux/arm64"},
			Candidates: []string{"linux/amd64"}, Unsupported: []string{"linux/amd64"}}}
		if f := platformMismatch(nil, c, l); f == nil || f.Outcome != tt.want {
			t.Errorf("index %v: %+v, want outcome %q", tt.index, f, tt.want)
		}
	}

	probe := func() *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("web")}}}
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "r.example/app:1",
		Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		LivenessProbe:  probe(),
		ReadinessProbe: probe(),
		StartupProbe:   probe()}}}
	fs, err := checkByID(t, Options{}, ProbePortNotFound).Check(context.Background(), podOf(spec))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Outcome{}
	for _, f := range fs {
		got[f.Field] = f.Outcome
	}
	wantOut := map[string]Outcome{
		tmpl + ".containers[0].livenessProbe.httpGet.port":  NoOutcome,
		tmpl + ".containers[0].readinessProbe.httpGet.port": NeverReady,
		tmpl + ".containers[0].startupProbe.httpGet.port":   NeverReady,
	}
	if len(got) != len(wantOut) {
		t.Fatalf("findings %v", got)
	}
	for field, o := range wantOut {
		if g, ok := got[field]; !ok || g != o {
			t.Errorf("%s: outcome %q (found %v), want %q", field, g, ok, o)
		}
	}
}
