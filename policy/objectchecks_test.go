package policy

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// objectFinding is what these tests compare of a finding.
type objectFinding struct {
	Check    ID
	Severity Severity
	Field    string
	Outcome  Outcome
}

func objectFindings(t *testing.T, p *Pod) []objectFinding {
	t.Helper()
	var out []objectFinding
	for _, ch := range objectChecks() {
		fs, err := ch.Check(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.Message == "" || f.Fix == "" {
				t.Errorf("%s at %s: empty message or fix", f.Check, f.Field)
			}
			out = append(out, objectFinding{f.Check, f.Severity, f.Field, f.Outcome})
		}
	}
	return out
}

func TestObjectChecksAgainstACluster(t *testing.T) {
	cm := func(name string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: name} }
	c := func(mod func(*corev1.Container)) corev1.Container {
		ctr := corev1.Container{Name: "app", Image: "registry.example.com/shop/api:1.0"}
		mod(&ctr)
		return ctr
	}
	keyRef := func(name, key string, optional bool) corev1.EnvVar {
		return corev1.EnvVar{Name: "V", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: cm(name), Key: key, Optional: &optional}}}
	}
	base := tmpl + ".containers[0]."
	tests := []struct {
		name     string
		spec     corev1.PodSpec
		workload bool
		claims   []ClaimTemplate
		objects  *fakeObjects
		want     []objectFinding
	}{
		{name: "env key of a missing ConfigMap", spec: corev1.PodSpec{Containers: []corev1.Container{c(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{keyRef("nope", "K", false)}
		})}}, want: []objectFinding{{ConfigConfigMapNotFound, Warning, base + "env[0].valueFrom.configMapKeyRef.name", CreateContainerConfigError}}},
		{name: "optional reference to a missing ConfigMap", spec: corev1.PodSpec{Containers: []corev1.Container{c(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{keyRef("nope", "K", true)}
		})}}},
		{name: "missing key of an existing ConfigMap", spec: corev1.PodSpec{Containers: []corev1.Container{c(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{keyRef("app-config", "LOG_LEVL", false)}
		})}}, want: []objectFinding{{ConfigKeyNotFound, Error, base + "env[0].valueFrom.configMapKeyRef.key", CreateContainerConfigError}}},
		{name: "optional missing key", spec: corev1.PodSpec{Containers: []corev1.Container{c(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{keyRef("app-config", "LOG_LEVL", true)}
		})}}},
		{name: "init and ephemeral containers read env too", spec: corev1.PodSpec{
			InitContainers: []corev1.Container{c(func(c *corev1.Container) {
				c.Name = "init"
				c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: cm("nope")}}}
			})},
			Containers: []corev1.Container{c(func(*corev1.Container) {})},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox:1.37", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: cm("gone")}}}}}},
		}, want: []objectFinding{
			{ConfigConfigMapNotFound, Warning, tmpl + ".ephemeralContainers[0].envFrom[0].configMapRef.name", CreateContainerConfigError},
			{ConfigSecretNotFound, Warning, tmpl + ".initContainers[0].envFrom[0].secretRef.name", CreateContainerConfigError},
		}},
		{name: "volumes: missing Secret, missing item key, projected ConfigMap; an unmounted one ignored", spec: corev1.PodSpec{
			Containers: []corev1.Container{c(func(c *corev1.Container) {
				c.VolumeMounts = []corev1.VolumeMount{{Name: "tls", MountPath: "/tls"}, {Name: "conf", MountPath: "/conf"},
					{Name: "all", MountPath: "/all"}, {Name: "opt", MountPath: "/opt"},
					{Name: "kube-api-access-x2x9z", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}
			})},
			Volumes: []corev1.Volume{
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "nope"}}},
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cm("app-config"),
					Items: []corev1.KeyToPath{{Key: "PORT", Path: "p"}, {Key: "nginx.conf", Path: "n"}}}}},
				{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cm("gone")}}}}}},
				{Name: "opt", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "nope2", Optional: ptrTo(true)}}},
				{Name: "unused", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cm("gone-too")}}},
				{Name: "kube-api-access-x2x9z", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cm("kube-root-ca.crt")}}}}}},
			},
		}, want: []objectFinding{
			{ConfigConfigMapNotFound, Warning, tmpl + ".volumes[2].projected.sources[0].configMap.name", ContainerCreating},
			{ConfigSecretNotFound, Warning, tmpl + ".volumes[0].secret.secretName", ContainerCreating},
			{ConfigKeyNotFound, Error, tmpl + ".volumes[1].configMap.items[1].key", ContainerCreating},
		}},
		{name: "claims: missing, bound, class missing, no class without a default", objects: func() *fakeObjects {
			o := healthyObjects()
			o.defaultClass = ""
			o.objects[KindClaim]["bound"] = ObjectState{StorageClassName: ptrTo("gone"), Bound: true}
			o.objects[KindClaim]["plain"] = ObjectState{}
			o.objects[KindClaim]["typo"] = ObjectState{StorageClassName: ptrTo("fasst")} // one slip from "fast"
			return o
		}(), spec: corev1.PodSpec{Containers: []corev1.Container{c(func(*corev1.Container) {})}, Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "nope"}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "bound"}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "orphan"}}},
			{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "plain"}}},
			{Name: "e", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "typo"}}},
		}}, want: []objectFinding{
			{VolumeClaimNotFound, Warning, tmpl + ".volumes[0].persistentVolumeClaim.claimName", Pending},
			{VolumeStorageClassNotFound, Warning, tmpl + ".volumes[2].persistentVolumeClaim.claimName", Pending},
			{VolumeStorageClassNotFound, Warning, tmpl + ".volumes[3].persistentVolumeClaim.claimName", Pending},
			{VolumeStorageClassNotFound, Error, tmpl + ".volumes[4].persistentVolumeClaim.claimName", Pending},
		}},
		{name: "StatefulSet claim templates", workload: true, claims: []ClaimTemplate{
			{Name: "data", StorageClassName: ptrTo("fast1"), Field: "spec.volumeClaimTemplates[0]"},
			{Name: "other", StorageClassName: ptrTo("nope"), Field: "spec.volumeClaimTemplates[4]"},
			{Name: "logs", StorageClassName: ptrTo("fast"), Field: "spec.volumeClaimTemplates[1]"},
			{Name: "manual", StorageClassName: ptrTo(""), Field: "spec.volumeClaimTemplates[2]"},
			{Name: "default", Field: "spec.volumeClaimTemplates[3]"},
		}, spec: corev1.PodSpec{Containers: []corev1.Container{c(func(*corev1.Container) {})}},
			want: []objectFinding{
				{VolumeStorageClassNotFound, Error, "spec.volumeClaimTemplates[0].spec.storageClassName", Pending},
				{VolumeStorageClassNotFound, Warning, "spec.volumeClaimTemplates[4].spec.storageClassName", Pending},
			}},
		{name: "workload classes", workload: true, spec: corev1.PodSpec{ServiceAccountName: "nope", PriorityClassName: "nope",
			RuntimeClassName: ptrTo("nope"), Containers: []corev1.Container{c(func(*corev1.Container) {})}},
			want: []objectFinding{
				{PodServiceAccountNotFound, Warning, tmpl + ".serviceAccountName", FailedCreate},
				{PodPriorityClassNotFound, Warning, tmpl + ".priorityClassName", FailedCreate},
				{PodRuntimeClassNotFound, Warning, tmpl + ".runtimeClassName", FailedCreate},
			}},
		{name: "workload classes a slip away from existing ones", workload: true, spec: corev1.PodSpec{PriorityClassName: "highh",
			RuntimeClassName: ptrTo("gvisr"), Containers: []corev1.Container{c(func(*corev1.Container) {})}},
			want: []objectFinding{
				{PodPriorityClassNotFound, Error, tmpl + ".priorityClassName", FailedCreate},
				{PodRuntimeClassNotFound, Error, tmpl + ".runtimeClassName", FailedCreate},
			}},
		{name: "a bare Pod's classes are the API server's to reject", spec: corev1.PodSpec{ServiceAccountName: "nope", PriorityClassName: "nope",
			Containers: []corev1.Container{c(func(*corev1.Container) {})}}},
		{name: "default ServiceAccount and built-in priority classes", workload: true, spec: corev1.PodSpec{ServiceAccountName: "default",
			PriorityClassName: "system-cluster-critical", Containers: []corev1.Container{c(func(*corev1.Container) {})}}},
		{name: "nothing known: nothing said", objects: &fakeObjects{}, spec: corev1.PodSpec{Containers: []corev1.Container{c(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{keyRef("nope", "K", false)}
		})}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := podOf(tc.spec)
			p.Workload, p.ClaimTemplates = tc.workload, tc.claims
			p.Objects = healthyObjects()
			if tc.objects != nil {
				p.Objects = tc.objects
			}
			if tc.name == "nothing known: nothing said" {
				p.Objects = unknownObjects{}
			}
			got := objectFindings(t, p)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("findings\n got  %v\n want %v", got, tc.want)
			}
		})
	}
}

// unknownObjects knows nothing (caches not synced).
type unknownObjects struct{}

func (unknownObjects) Object(ObjectKind, string) ObjectState { return ObjectState{} }
func (unknownObjects) DefaultStorageClass() (string, bool)   { return "", false }

// In the CLI, an object absent from the input is advice; one in another
// namespace of the input is named.
func TestObjectChecksFromInput(t *testing.T) {
	p := podOf(corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/shop/api:1.0",
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}}}})
	p.Objects = inputObjects{elsewhere: []string{"staging"}}
	fs, err := objectMissing{ConfigConfigMapNotFound, KindConfigMap}.Check(context.Background(), p)
	if err != nil || len(fs) != 1 || fs[0].Severity != Info || fs[0].Outcome != NoOutcome {
		t.Fatalf("findings %+v (%v), want one info without an outcome", fs, err)
	}
}

type inputObjects struct{ elsewhere []string }

func (o inputObjects) Object(ObjectKind, string) ObjectState {
	return ObjectState{Presence: NotInInput, Elsewhere: o.elsewhere}
}
func (inputObjects) DefaultStorageClass() (string, bool) { return "", false }

// The kubelet reads an env var from a ConfigMap's data only; a volume's
// items may name binaryData keys too.
func TestBinaryDataKeys(t *testing.T) {
	objects := healthyObjects()
	objects.objects[KindConfigMap]["assets"] = ObjectState{Keys: []string{"index.html"}, KeysKnown: true, BinaryKeys: []string{"logo.png"}}
	p := podOf(corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/shop/web:1.0", Env: []corev1.EnvVar{{Name: "LOGO",
			ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "assets"}, Key: "logo.png"}}}}}},
		InitContainers: []corev1.Container{{Name: "copy", Image: "busybox:1.37", VolumeMounts: []corev1.VolumeMount{{Name: "assets", MountPath: "/a"}}}},
		Volumes: []corev1.Volume{{Name: "assets", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "assets"}, Items: []corev1.KeyToPath{{Key: "logo.png", Path: "logo.png"}}}}}},
	})
	p.Objects = objects
	got := objectFindings(t, p)
	want := []objectFinding{{ConfigKeyNotFound, Error, tmpl + ".containers[0].env[0].valueFrom.configMapKeyRef.key", CreateContainerConfigError}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findings %v, want %v", got, want)
	}
}
