package workload_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/nobackoff/nobackoff/internal/workload"
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
		{"containers", workload.MaxContainers, "containers[256]", func(s *corev1.PodSpec, n int) {
			s.Containers = nil
			for _, name := range names("c", n) {
				s.Containers = append(s.Containers, corev1.Container{Name: name, Image: "nginx:1.27"})
			}
		}},
		{"containers of all kinds", workload.MaxContainers, "ephemeralContainers[6]", func(s *corev1.PodSpec, n int) {
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
		{"image", workload.MaxImageBytes, "containers[0].image", func(s *corev1.PodSpec, n int) {
			first(s).Image = "registry.example.com/" + strings.Repeat("a", n-len("registry.example.com/"))
		}},
		{"init container image", workload.MaxImageBytes, "initContainers[0].image", func(s *corev1.PodSpec, n int) {
			s.InitContainers = []corev1.Container{{Name: "init", Image: strings.Repeat("b", n)}}
		}},
		{"ephemeral container image", workload.MaxImageBytes, "ephemeralContainers[1].image", func(s *corev1.PodSpec, n int) {
			s.EphemeralContainers = []corev1.EphemeralContainer{
				{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox:1.36"}},
				{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug2", Image: strings.Repeat("b", n)}},
			}
		}},
		{"command entry", workload.MaxArgBytes, "containers[0].command[1]", func(s *corev1.PodSpec, n int) {
			first(s).Command = []string{"sh", strings.Repeat("c", n)}
		}},
		{"args entry", workload.MaxArgBytes, "containers[0].args[0]", func(s *corev1.PodSpec, n int) {
			first(s).Args = []string{strings.Repeat("a", n)}
		}},
		{"command and args", workload.MaxCommandBytes, "containers[0].args[8]", func(s *corev1.PodSpec, n int) {
			// Entries of a sixteenth of the total, 8 in command, the rest in args.
			const size = workload.MaxCommandBytes / 16
			entry := strings.Repeat("a", size)
			c := first(s)
			for range 8 {
				c.Command = append(c.Command, entry)
			}
			for left := n - 8*size; left > 0; left -= size {
				c.Args = append(c.Args, entry[:min(left, size)])
			}
		}},
		{"env", workload.MaxEnv, "containers[0].env", func(s *corev1.PodSpec, n int) {
			for _, name := range names("V", n) {
				first(s).Env = append(first(s).Env, corev1.EnvVar{Name: name, Value: "1"})
			}
		}},
		{"env entry", workload.MaxEnvBytes, "containers[0].env[1]", func(s *corev1.PodSpec, n int) {
			first(s).Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "SCRIPT", Value: strings.Repeat("v", n-len("SCRIPT"))}}
		}},
		{"envFrom", workload.MaxEnvFrom, "containers[0].envFrom", func(s *corev1.PodSpec, n int) {
			for _, name := range names("cm", n) {
				first(s).EnvFrom = append(first(s).EnvFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}})
			}
		}},
		{"ports", workload.MaxPorts, "containers[0].ports", func(s *corev1.PodSpec, n int) {
			for i := range n {
				first(s).Ports = append(first(s).Ports, corev1.ContainerPort{ContainerPort: int32(1024 + i%60000), Protocol: corev1.ProtocolUDP})
			}
		}},
		{"volumes", workload.MaxVolumes, "volumes", func(s *corev1.PodSpec, n int) {
			for _, name := range names("v", n) {
				s.Volumes = append(s.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			}
		}},
		{"imagePullSecrets", workload.MaxPullSecrets, "imagePullSecrets", func(s *corev1.PodSpec, n int) {
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
			if _, err := workload.Decode(deploymentGVK, workloadJSON(t, deploymentGVK, at), true); err != nil {
				t.Fatalf("at the limit (%d): %v", c.limit, err)
			}
			over := podSpec()
			c.set(&over, c.limit+1)
			w, err := workload.Decode(deploymentGVK, workloadJSON(t, deploymentGVK, over), true)
			var le *workload.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("over the limit: workload %v, error %v (%T): want a *workload.LimitError", w != nil, err, err)
			}
			want := workload.LimitError{Field: "spec.template.spec." + c.field, What: le.What, Limit: c.limit, Got: c.limit + 1}
			if *le != want {
				t.Errorf("limit error %+v, want %+v", *le, want)
			}
		})
	}
}

func TestWorkloadLimitsNameEachKindsPath(t *testing.T) {
	spec := podSpec()
	spec.Containers[0].Image = strings.Repeat("x", workload.MaxImageBytes+1)
	for _, gvk := range workload.Kinds() {
		t.Run(gvk.Kind, func(t *testing.T) {
			w, err := workload.Decode(gvk, workloadJSON(t, gvk, spec), true)
			var le *workload.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("workload %v, error %v: want a *workload.LimitError", w != nil, err)
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
