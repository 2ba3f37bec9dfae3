package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The truth rows of the objects a pod spec names: ConfigMaps, Secrets,
// claims, classes and ServiceAccounts that do not exist, keys missing from
// objects that do, and controls.

// truthObjects are made in the truth namespace before any Deployment: a
// ConfigMap and a Secret with some keys, a claim naming a StorageClass the
// cluster lacks (the node has no provisioner: no claim binds but to a
// volume made by hand), a claim bound to a hostPath volume made by hand
// under dir, both of class "manual", which is no StorageClass (as in
// Kubernetes' own tutorial), and a PriorityClass and a RuntimeClass
// (containerd's runc handler) for the controls.
func truthObjects(dir string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {LEVEL: info, app.properties: "level=info\n"}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
type: Opaque
stringData: {PASSWORD: s3cret}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-fast}
spec: {storageClassName: fast-ssd, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: truth-manual}
spec:
  storageClassName: manual
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: %q, type: DirectoryOrCreate}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-manual}
spec: {storageClassName: manual, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: truth-high}
value: 1000
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: runc}
handler: runc
`, dir)
}

// truthEnvRef is an env entry reading one key of a ConfigMap or a Secret.
func truthEnvRef(kind, name, key string, optional bool) string {
	ref := "configMapKeyRef"
	if kind == "Secret" {
		ref = "secretKeyRef"
	}
	opt := ""
	if optional {
		opt = ", optional: true"
	}
	return fmt.Sprintf("{name: %s, valueFrom: {%s: {name: %s, key: %s%s}}}", key, ref, name, key, opt)
}

// truthMount mounts the pod's volume "files" (the kubelet ignores a
// volume no container mounts).
const truthMount = "volumeMounts: [{name: files, mountPath: /etc/app}]"

func truthObjectCases(reg string) []truthCase {
	app := reg + "/truth/app:1.0"
	volume := func(source string) string { return "      volumes: [{name: files, " + source + "}]\n" }
	return []truthCase{
		{name: "configmap-missing-env", story: "env from a key of ConfigMap app-settings, which does not exist",
			pod: container(app, "env: ["+truthEnvRef("ConfigMap", "app-settings", "LEVEL", false)+"]", readiness)},
		{name: "configmap-key-missing", story: "env from key LOG_LEVEL of ConfigMap app-config, which holds LEVEL and app.properties",
			pod: container(app, "env: ["+truthEnvRef("ConfigMap", "app-config", "LOG_LEVEL", false)+"]", readiness)},
		{name: "secret-missing-envfrom", story: "envFrom Secret app-credentials, which does not exist",
			pod: container(app, "envFrom: [{secretRef: {name: app-credentials}}]", readiness)},
		{name: "configmap-volume-missing", story: "configMap volume of ConfigMap app-files, which does not exist",
			pod: volume("configMap: {name: app-files}") + container(app, truthMount, readiness)},
		{name: "configmap-volume-unmounted", story: "configMap volume of ConfigMap app-files, which does not exist, mounted by no container",
			pod: volume("configMap: {name: app-files}") + container(app, readiness)},
		{name: "configmap-volume-key-missing", story: "configMap volume of app-config, items key app.yaml, which it does not hold",
			pod: volume("configMap: {name: app-config, items: [{key: app.yaml, path: app.yaml}]}") + container(app, truthMount, readiness)},
		{name: "claim-missing", story: "persistentVolumeClaim volume of claim data, which does not exist",
			pod: volume("persistentVolumeClaim: {claimName: data}") + container(app, truthMount, readiness)},
		{name: "claim-class-missing", story: "claim data-fast names StorageClass fast-ssd, which the cluster does not have",
			pod: volume("persistentVolumeClaim: {claimName: data-fast}") + container(app, truthMount, readiness)},
		{name: "serviceaccount-missing", story: "serviceAccountName deployer, which does not exist",
			pod: "      serviceAccountName: deployer\n" + container(app, readiness)},
		{name: "priorityclass-missing", story: "priorityClassName high-priority, which the cluster does not have",
			pod: "      priorityClassName: high-priority\n" + container(app, readiness)},
		{name: "runtimeclass-missing", story: "runtimeClassName gvisor, which the cluster does not have",
			pod: "      runtimeClassName: gvisor\n" + container(app, readiness)},
		{name: "optional-missing", story: "optional env key, envFrom and configMap volume of objects that do not exist",
			pod: "      volumes: [{name: files, configMap: {name: app-files, optional: true}}]\n" +
				container(app, "env: ["+truthEnvRef("ConfigMap", "app-settings", "LEVEL", true)+"]",
					"envFrom: [{secretRef: {name: app-credentials, optional: true}}]", truthMount, readiness)},
		{name: "objects-present", story: "env from keys of ConfigMap app-config and Secret app-secret, envFrom app-config, its volume with items key app.properties",
			pod: volume("configMap: {name: app-config, items: [{key: app.properties, path: app.properties}]}") +
				container(app, "env: ["+truthEnvRef("ConfigMap", "app-config", "LEVEL", false)+", "+truthEnvRef("Secret", "app-secret", "PASSWORD", false)+"]",
					"envFrom: [{configMapRef: {name: app-config}}]", truthMount, readiness)},
		{name: "claim-bound-manual-class", story: "claim data-manual, bound to a volume made by hand, both of class manual, which is no StorageClass",
			pod: volume("persistentVolumeClaim: {claimName: data-manual}") + container(app, truthMount, readiness)},
		{name: "classes-present", story: "priorityClassName truth-high and runtimeClassName runc, which exist",
			pod: "      priorityClassName: truth-high\n      runtimeClassName: runc\n" + container(app, readiness)},
		{name: "configmap-created-later", story: "env from a key of ConfigMap late-config, which does not exist when applied",
			pod: container(app, "env: ["+truthEnvRef("ConfigMap", "late-config", "LEVEL", false)+"]", readiness),
			then: &truthStep{what: "the ConfigMap is created",
				apply: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late-config}\ndata: {LEVEL: info}\n"}},
	}
}

// appState is what the cluster shows of one case's Deployment: its pod,
// its ReplicaSet, and the warning events about the pod and its claims.
type appState struct {
	pod    *corev1.Pod
	rs     *appsv1.ReplicaSet
	events []corev1.Event
}

// readApps reads a namespace's pods, ReplicaSets and warning events by
// the app label of the pod templates.
func readApps(t *testing.T, c *cluster, namespace string) map[string]*appState {
	t.Helper()
	apps := map[string]*appState{}
	app := func(name string) *appState {
		if apps[name] == nil {
			apps[name] = &appState{}
		}
		return apps[name]
	}
	for name, p := range podsByApp(t, c, namespace) {
		app(name).pod = p
	}
	var sets appsv1.ReplicaSetList
	getJSON(t, c, &sets, "get", "replicasets", "-n", namespace, "-o", "json")
	for i := range sets.Items {
		if name := sets.Items[i].Labels["app"]; name != "" {
			app(name).rs = &sets.Items[i]
		}
	}
	var events corev1.EventList
	getJSON(t, c, &events, "get", "events", "-n", namespace, "--field-selector", "type=Warning", "-o", "json")
	for _, a := range apps {
		if a.pod == nil {
			continue
		}
		claims := map[string]bool{}
		for _, v := range a.pod.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				claims[v.PersistentVolumeClaim.ClaimName] = true
			}
		}
		for _, e := range events.Items {
			o := e.InvolvedObject
			if o.Kind == "Pod" && o.Name == a.pod.Name && o.UID == a.pod.UID || o.Kind == "PersistentVolumeClaim" && claims[o.Name] {
				a.events = append(a.events, e)
			}
		}
	}
	return apps
}

func getJSON(t *testing.T, c *cluster, into any, args ...string) {
	t.Helper()
	r := c.must(t, "", args...)
	if err := json.Unmarshal([]byte(r.stdout), into); err != nil {
		t.Fatalf("kubectl %v: %v", args, err)
	}
}

// replicaFailure is a ReplicaSet's ReplicaFailure condition when true.
func replicaFailure(rs *appsv1.ReplicaSet) *appsv1.ReplicaSetCondition {
	if rs == nil {
		return nil
	}
	for i, c := range rs.Status.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
			return &rs.Status.Conditions[i]
		}
	}
	return nil
}

// unschedulable is a pod's PodScheduled condition when the scheduler
// found it unschedulable.
func unschedulable(p *corev1.Pod) *corev1.PodCondition {
	for i, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// lastEvent is the latest of the events about an object of a kind with
// one of the reasons (any reason when none is given).
func (a *appState) lastEvent(kind, name string, reasons ...string) *corev1.Event {
	var last *corev1.Event
	for i, e := range a.events {
		if e.InvolvedObject.Kind != kind || e.InvolvedObject.Name != name {
			continue
		}
		if len(reasons) > 0 && !slices.Contains(reasons, e.Reason) {
			continue
		}
		if last == nil || !e.LastTimestamp.Before(&last.LastTimestamp) {
			last = &a.events[i]
		}
	}
	return last
}
