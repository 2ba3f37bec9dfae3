package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/nobackoff/nobackoff/policy"
)

// limitCase sets one list or string of a pod spec to n entries or bytes;
// at n = limit the spec must pass, at limit+1 fail at field.
type limitCase struct {
	name  string
	limit int
	field string // under the pod spec's path
	set   func(s *corev1.PodSpec, n int)
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func limitCases() []limitCase {
	first := func(s *corev1.PodSpec) *corev1.Container { return &s.Containers[0] }
	return []limitCase{
		{"containers", MaxContainers, "containers[256]", func(s *corev1.PodSpec, n int) {
			s.Containers = nil
			for _, name := range names("c", n) {
				s.Containers = append(s.Containers, corev1.Container{Name: name, Image: "nginx:1.27"})
			}
		}},
		{"containers of all kinds", MaxContainers, "ephemeralContainers[6]", func(s *corev1.PodSpec, n int) {
			// 100 init and 150 regular containers, the rest ephemeral.
			s.Containers = nil
			for _, name := range names("i", 100) {
				s.InitContainers = append(s.InitContainers, corev1.Container{Name: name, Image: "busybox:1.36"})
			}
			for _, name := range names("c", 150) {
				s.Containers = append(s.Containers, corev1.Container{Name: name, Image: "nginx:1.27"})
			}
			for _, name := range names("e", n-250) {
				s.EphemeralContainers = append(s.EphemeralContainers, corev1.EphemeralContainer{
					EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox:1.36"}})
			}
		}},
		{"image", MaxImageBytes, "containers[0].image", func(s *corev1.PodSpec, n int) {
			first(s).Image = "registry.example.com/" + strings.Repeat("a", n-len("registry.example.com/"))
		}},
		{"init container image", MaxImageBytes, "initContainers[0].image", func(s *corev1.PodSpec, n int) {
			s.InitContainers = []corev1.Container{{Name: "init", Image: strings.Repeat("b", n)}}
		}},
		{"ephemeral container image", MaxImageBytes, "ephemeralContainers[1].image", func(s *corev1.PodSpec, n int) {
			s.EphemeralContainers = []corev1.EphemeralContainer{
				{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox:1.36"}},
				{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug2", Image: strings.Repeat("b", n)}},
			}
		}},
		{"command entry", MaxArgBytes, "containers[0].command[1]", func(s *corev1.PodSpec, n int) {
			first(s).Command = []string{"sh", strings.Repeat("c", n)}
		}},
		{"args entry", MaxArgBytes, "containers[0].args[0]", func(s *corev1.PodSpec, n int) {
			first(s).Args = []string{strings.Repeat("a", n)}
		}},
		{"command and args", MaxCommandBytes, "containers[0].args[8]", func(s *corev1.PodSpec, n int) {
			// Entries of a sixteenth of the total, 8 in command, the rest in args.
			const size = MaxCommandBytes / 16
			entry := strings.Repeat("a", size)
			c := first(s)
			for range 8 {
				c.Command = append(c.Command, entry)
			}
			for left := n - 8*size; left > 0; left -= size {
				c.Args = append(c.Args, entry[:min(left, size)])
			}
		}},
		{"env", MaxEnv, "containers[0].env", func(s *corev1.PodSpec, n int) {
			for _, name := range names("V", n) {
				first(s).Env = append(first(s).Env, corev1.EnvVar{Name: name, Value: "1"})
			}
		}},
		{"env entry", MaxEnvBytes, "containers[0].env[1]", func(s *corev1.PodSpec, n int) {
			first(s).Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "SCRIPT", Value: strings.Repeat("v", n-len("SCRIPT"))}}
		}},
		{"envFrom", MaxEnvFrom, "containers[0].envFrom", func(s *corev1.PodSpec, n int) {
			for _, name := range names("cm", n) {
				first(s).EnvFrom = append(first(s).EnvFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}})
			}
		}},
		{"ports", MaxPorts, "containers[0].ports", func(s *corev1.PodSpec, n int) {
			for i := range n {
				first(s).Ports = append(first(s).Ports, corev1.ContainerPort{ContainerPort: int32(1024 + i%60000), Protocol: corev1.ProtocolUDP})
			}
		}},
		{"volumes", MaxVolumes, "volumes", func(s *corev1.PodSpec, n int) {
			for _, name := range names("v", n) {
				s.Volumes = append(s.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			}
		}},
		{"imagePullSecrets", MaxPullSecrets, "imagePullSecrets", func(s *corev1.PodSpec, n int) {
			for _, name := range names("s", n) {
				s.ImagePullSecrets = append(s.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
			}
		}},
	}
}

// podSpec is a one-container spec with everything else empty.
func podSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}}
}

// workloadJSON wraps a pod spec in an object of the kind.
func workloadJSON(t *testing.T, gvk schema.GroupVersionKind, spec corev1.PodSpec) []byte {
	t.Helper()
	tm := metav1.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}
	om := metav1.ObjectMeta{Name: "w", Namespace: "ns"}
	tpl := corev1.PodTemplateSpec{Spec: spec}
	var obj any
	switch gvk.Kind {
	case "Pod":
		obj = &corev1.Pod{TypeMeta: tm, ObjectMeta: om, Spec: spec}
	case "ReplicationController":
		obj = &corev1.ReplicationController{TypeMeta: tm, ObjectMeta: om, Spec: corev1.ReplicationControllerSpec{Template: &tpl}}
	case "Deployment":
		obj = &appsv1.Deployment{TypeMeta: tm, ObjectMeta: om, Spec: appsv1.DeploymentSpec{Template: tpl}}
	case "StatefulSet":
		obj = &appsv1.StatefulSet{TypeMeta: tm, ObjectMeta: om, Spec: appsv1.StatefulSetSpec{Template: tpl}}
	case "DaemonSet":
		obj = &appsv1.DaemonSet{TypeMeta: tm, ObjectMeta: om, Spec: appsv1.DaemonSetSpec{Template: tpl}}
	case "ReplicaSet":
		obj = &appsv1.ReplicaSet{TypeMeta: tm, ObjectMeta: om, Spec: appsv1.ReplicaSetSpec{Template: tpl}}
	case "Job":
		obj = &batchv1.Job{TypeMeta: tm, ObjectMeta: om, Spec: batchv1.JobSpec{Template: tpl}}
	case "CronJob":
		obj = &batchv1.CronJob{TypeMeta: tm, ObjectMeta: om, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tpl}}}}
	default:
		t.Fatalf("no object for %s", gvk)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var deploymentGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}

func TestWorkloadLimits(t *testing.T) {
	for _, c := range limitCases() {
		t.Run(c.name, func(t *testing.T) {
			at := podSpec()
			c.set(&at, c.limit)
			if _, err := DecodeWorkload(deploymentGVK, workloadJSON(t, deploymentGVK, at), true); err != nil {
				t.Fatalf("at the limit (%d): %v", c.limit, err)
			}
			over := podSpec()
			c.set(&over, c.limit+1)
			w, err := DecodeWorkload(deploymentGVK, workloadJSON(t, deploymentGVK, over), true)
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("over the limit: workload %v, error %v (%T): want a *LimitError", w != nil, err, err)
			}
			want := LimitError{Field: "spec.template.spec." + c.field, What: le.What, Limit: c.limit, Got: c.limit + 1}
			if *le != want {
				t.Errorf("limit error %+v, want %+v", *le, want)
			}
		})
	}
}

func TestWorkloadLimitsNameEachKindsPath(t *testing.T) {
	spec := podSpec()
	spec.Containers[0].Image = strings.Repeat("x", MaxImageBytes+1)
	for _, gvk := range WorkloadKinds() {
		t.Run(gvk.Kind, func(t *testing.T) {
			w, err := DecodeWorkload(gvk, workloadJSON(t, gvk, spec), true)
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("workload %v, error %v: want a *LimitError", w != nil, err)
			}
			// The field path is the one checks use for this kind.
			if want := podSpecPath(gvk.Kind) + ".containers[0].image"; le.Field != want {
				t.Errorf("field %q, want %q", le.Field, want)
			}
		})
	}
}

// podSpecPath is the field path of the pod spec in an object of the kind,
// as the API documents it.
func podSpecPath(kind string) string {
	switch kind {
	case "Pod":
		return "spec"
	case "CronJob":
		return "spec.jobTemplate.spec.template.spec"
	}
	return "spec.template.spec"
}

// TestOverLimitAdmission: the webhook does not check a workload over a
// limit; warn mode says so in a warning, enforce mode answers HTTP 500 so
// that the webhook's failurePolicy decides.
func TestOverLimitAdmission(t *testing.T) {
	d := deployment()
	d.Spec.Template.Spec.Containers[1].Image = strings.Repeat("x", MaxImageBytes+1)
	body := reviewBody(t, admissionv1.Create, deploymentKind, d, nil)

	resp := post(t, newHandler(Warn, HandlerOptions{}), body)
	if !resp.Allowed || fmt.Sprint(warningIDs(t, resp.Warnings)) != "[nobackoff]" {
		t.Fatalf("warn mode: allowed=%v warnings=%v: want admitted with one not-checked warning", resp.Allowed, resp.Warnings)
	}
	if rec := serveReview(newHandler(Enforce, HandlerOptions{}), body); rec.Code != http.StatusInternalServerError {
		t.Fatalf("enforce mode: HTTP %d, want 500", rec.Code)
	}

	// An UPDATE that leaves such a pod spec as it is (labels, replicas) is
	// not checked, so the limits do not stand in its way.
	updated := d.DeepCopy()
	updated.Labels = map[string]string{"team": "shop"}
	update := reviewBody(t, admissionv1.Update, deploymentKind, updated, d)
	if rec := serveReview(newHandler(Enforce, HandlerOptions{}), update); rec.Code != http.StatusOK {
		t.Fatalf("enforce mode, unchanged spec: HTTP %d, want 200", rec.Code)
	}
	if resp := post(t, newHandler(Enforce, HandlerOptions{}), update); !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("enforce mode, unchanged spec: allowed=%v warnings=%v: want admitted, not checked", resp.Allowed, resp.Warnings)
	}
}

func TestLimitErrorThroughCheckDocuments(t *testing.T) {
	// The CLI's path: the error is a *ManifestError naming the object and
	// wrapping the *LimitError with its field.
	spec := podSpec()
	spec.Containers[0].Env = []corev1.EnvVar{{Name: "BIG", Value: strings.Repeat("v", MaxEnvBytes)}}
	docs, errs := readStream("app.yaml", strings.NewReader(string(workloadJSON(t, deploymentGVK, spec))))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	rep, errs := CheckDocuments(t.Context(), NewEngine(policy.NewCatalog(policy.Options{})), docs)
	if len(rep.Objects) != 0 || len(errs) != 1 {
		t.Fatalf("objects %d, errors %v: want the workload refused", len(rep.Objects), errs)
	}
	me, le := limitErrorOf(t, errs[0])
	if me.Where != "app.yaml: document 1 (Deployment ns/w)" || le.Field != "spec.template.spec.containers[0].env[0]" || le.Limit != MaxEnvBytes {
		t.Errorf("error at %q, %+v", me.Where, le)
	}
}
