package policy

import (
	"context"
	"fmt"
	"github.com/nobackoff/nobackoff/internal/textdist"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// tmpl is the pod spec path of a workload template, used by most tests.
const tmpl = "spec.template.spec"

// sha is a well-formed sha256 digest for image references.
const sha = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// want is the structured part of a finding that tests compare: never the
// message text.
type want struct {
	Severity  Severity
	Field     string
	Container string
}

func (w want) String() string {
	return fmt.Sprintf("{%s %s container=%q}", w.Severity, w.Field, w.Container)
}

// podOf wraps a spec the way the webhook does for a workload template.
func podOf(spec corev1.PodSpec) *Pod {
	return &Pod{Spec: &spec, Path: tmpl}
}

// checkByID selects one check of a catalog built with opts.
func checkByID(t *testing.T, opts Options, id ID) Check {
	t.Helper()
	for _, ch := range NewCatalog(opts).Checks() {
		if ch.ID() == id {
			return ch
		}
	}
	t.Fatalf("check %s is not in the catalog", id)
	return nil
}

// run runs one check of the catalog built with opts on p.
func run(t *testing.T, opts Options, id ID, p *Pod) []Finding {
	t.Helper()
	fs, err := checkByID(t, opts, id).Check(context.Background(), p)
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", id, err)
	}
	return fs
}

// imageOf returns the image of the container with that name anywhere in the
// pod, and whether there is one.
func imageOf(p *Pod, name string) (string, bool) {
	for _, c := range p.Containers() {
		if c.Name == name {
			return c.Image, true
		}
	}
	return "", false
}

// assertFindings compares the findings of check id with want, in order, on
// their structured fields, and checks the invariants every finding keeps.
func assertFindings(t *testing.T, id ID, p *Pod, got []Finding, wants []want) {
	t.Helper()
	for i, f := range got {
		if f.Check != id {
			t.Errorf("finding %d: Check = %q, want %q", i, f.Check, id)
		}
		if f.Message == "" {
			t.Errorf("finding %d (%s): empty Message", i, f.Field)
		}
		if f.Fix == "" {
			t.Errorf("finding %d (%s): empty Fix", i, f.Field)
		}
		if f.Container == "" && podLevel[f.Check] {
			// About the pod (its pull secrets, volumes, classes), not one container.
		} else if img, ok := imageOf(p, f.Container); !ok {
			t.Errorf("finding %d: Container %q is not a container of the pod", i, f.Container)
		} else if f.Image != img {
			t.Errorf("finding %d: Image = %q, want the container's image %q", i, f.Image, img)
		}
	}
	gotW := make([]want, len(got))
	for i, f := range got {
		gotW[i] = want{Severity: f.Severity, Field: f.Field, Container: f.Container}
	}
	same := len(gotW) == len(wants)
	for i := 0; same && i < len(wants); i++ {
		same = gotW[i] == wants[i]
	}
	if !same {
		t.Errorf("%s findings:\n got  %v\n want %v", id, gotW, wants)
	}
}

// runAndAssert runs check id with opts on p and compares the findings.
func runAndAssert(t *testing.T, opts Options, id ID, p *Pod, wants []want) {
	t.Helper()
	assertFindings(t, id, p, run(t, opts, id, p), wants)
}

// memLimit is a resources block with only a memory limit.
func memLimit(q string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)}}
}

func httpProbe(path string, port intstr.IntOrString) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port}}}
}

func tcpProbe(port intstr.IntOrString) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}}}
}

func grpcProbe(port int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: port}}}
}

func execProbe(cmd ...string) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}}
}

// timed sets a probe's initialDelaySeconds, periodSeconds and
// failureThreshold (0 leaves the API server default).
func timed(p *corev1.Probe, initialDelay, period, failure int32) *corev1.Probe {
	p.InitialDelaySeconds, p.PeriodSeconds, p.FailureThreshold = initialDelay, period, failure
	return p
}

func port(n int) intstr.IntOrString { return intstr.FromInt(n) }

func named(s string) intstr.IntOrString { return intstr.FromString(s) }

func ports(ps ...corev1.ContainerPort) []corev1.ContainerPort { return ps }

func cport(name string, n int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: n}
}

func env(kv ...string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, corev1.EnvVar{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// fromSecret is an env var whose value the webhook cannot know.
func fromSecret(name string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}}
}

var always = corev1.ContainerRestartPolicyAlways

// fakeObjects is an ObjectView over a fixed set of objects: what is not
// listed is Absent.
type fakeObjects struct {
	objects        map[ObjectKind]map[string]ObjectState
	defaultClass   string
	defaultUnknown bool
}

func (f *fakeObjects) Object(kind ObjectKind, name string) ObjectState {
	if st, ok := f.objects[kind][name]; ok {
		st.Presence = Present
		return st
	}
	st := ObjectState{Presence: Absent}
	switch kind {
	case KindStorageClass, KindPriorityClass, KindRuntimeClass:
		var names []string
		for n := range f.objects[kind] {
			names = append(names, n)
		}
		st.Near = textdist.Near(name, names)
	}
	return st
}

func (f *fakeObjects) DefaultStorageClass() (string, bool) { return f.defaultClass, !f.defaultUnknown }

// healthyObjects holds what the catalog test's good pod names.
func healthyObjects() *fakeObjects {
	return &fakeObjects{defaultClass: "fast", objects: map[ObjectKind]map[string]ObjectState{
		KindConfigMap:      {"app-config": {Keys: []string{"LOG_LEVEL", "PORT"}, KeysKnown: true}},
		KindSecret:         {"app-secret": {Keys: []string{"password"}, KeysKnown: true}},
		KindClaim:          {"data": {StorageClassName: ptrTo("fast")}, "orphan": {StorageClassName: ptrTo("slow")}},
		KindStorageClass:   {"fast": {}},
		KindServiceAccount: {"api": {}},
		KindPriorityClass:  {"high": {}},
		KindRuntimeClass:   {"gvisor": {}},
	}}
}

// podLevel are the checks whose findings may be about the pod rather than
// one container.
var podLevel = map[ID]bool{ImagePullSecretMissing: true, ConfigConfigMapNotFound: true, ConfigSecretNotFound: true,
	ConfigKeyNotFound: true, VolumeClaimNotFound: true, VolumeStorageClassNotFound: true, PodServiceAccountNotFound: true,
	PodPriorityClassNotFound: true, PodRuntimeClassNotFound: true, QuotaExceeded: true, LimitRangeViolated: true,
	ScheduleNoMatchingNode: true, ScheduleTaintsNotTolerated: true, ScheduleRequestsExceedNodes: true,
	ScheduleAntiAffinityReplicas: true, ScheduleDaemonSetNoNode: true}
