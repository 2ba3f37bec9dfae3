package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The truth rows of placement and namespace policy: a pod no node fits,
// matches or tolerates (the scheduler leaves it Pending), a pod a
// ResourceQuota or a LimitRange refuses (its ReplicaSet records
// FailedCreate), and their controls.

const (
	// truthGPUNode is a Node without kubelet: labelled as a pool of its
	// own and tainted dedicated=gpu, it is where the placement rows meet a
	// taint. A second taint, truthNoKubelet, keeps every pod off it from
	// its creation, tolerations or not: the node lifecycle controller
	// marks it unreachable only a minute after (first removing the
	// not-ready taint the API server gives a new Node).
	truthGPUNode   = "truth-gpu"
	truthPoolLabel = "truth.nobackoff.io/pool"
	truthNoKubelet = "truth.nobackoff.io/no-kubelet"
	// truthQuotaNamespace holds a ResourceQuota on limits.memory;
	// truthLimitsNamespace one too, with a LimitRange that supplies a
	// default memory limit and caps it.
	truthQuotaNamespace  = "truth-quota"
	truthLimitsNamespace = "truth-limits"
)

var truthGPUNodeYAML = fmt.Sprintf(`apiVersion: v1
kind: Node
metadata:
  name: %s
  labels: {kubernetes.io/os: linux, kubernetes.io/arch: amd64, kubernetes.io/hostname: %s, %s: gpu}
spec:
  taints: [{key: dedicated, value: gpu, effect: NoSchedule}, {key: %s, effect: NoSchedule}]
`, truthGPUNode, truthGPUNode, truthPoolLabel, truthNoKubelet)

// truthPolicyObjects: the namespaces of the quota rows, their
// ResourceQuotas and LimitRange.
var truthPolicyObjects = fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: memory, namespace: %[1]s}
spec: {hard: {limits.memory: 256Mi}}
---
apiVersion: v1
kind: Namespace
metadata: {name: %[2]s}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: memory, namespace: %[2]s}
spec: {hard: {limits.memory: 1Gi}}
---
apiVersion: v1
kind: LimitRange
metadata: {name: memory, namespace: %[2]s}
spec: {limits: [{type: Container, default: {memory: 64Mi}, max: {memory: 128Mi}}]}
`, truthQuotaNamespace, truthLimitsNamespace)

// truthPolicyNamespaces makes the namespaces of the quota rows and waits
// until pods can be made there: their default ServiceAccount exists, and
// the quota controller has counted their quotas (until then the API
// server refuses every pod with "status unknown for quota").
func truthPolicyNamespaces(t *testing.T, c *cluster, n *node) {
	t.Helper()
	c.must(t, truthPolicyObjects, "apply", "-f", "-")
	for _, ns := range []string{truthQuotaNamespace, truthLimitsNamespace} {
		waitFor(t, "the default ServiceAccount of "+ns, n.logs["kube-controller-manager"], time.Minute, func() bool {
			r, _ := c.run("", "get", "serviceaccount", "default", "-n", ns)
			return r.code == 0
		})
		waitFor(t, "quota memory of "+ns+" counted", n.logs["kube-controller-manager"], time.Minute, func() bool {
			r, _ := c.run("", "get", "resourcequota", "memory", "-n", ns, "-o", "jsonpath={.status.used}")
			return strings.Contains(r.stdout, "limits.memory")
		})
	}
}

// schedulingCauses are the scheduler's reasons for leaving a pod Pending
// (its FailedScheduling event, repeated in the PodScheduled condition),
// as it words them per node or for the pod.
var schedulingCauses = []string{
	"Insufficient ", "Too many pods",
	"didn't match Pod's node affinity/selector", "didn't match the requested node name", "didn't match Pod's OS",
	"untolerated taint", "were unschedulable",
	"didn't match pod affinity", "didn't match pod anti-affinity", "didn't satisfy existing pods anti-affinity",
	"didn't match pod topology spread constraints",
	"persistentvolumeclaim", "PersistentVolumeClaim", "volume node affinity conflict", "didn't find available persistent volumes",
}

// schedulingCause is the first of the scheduler's reasons a message of
// its names, "" for none (not yet judged, or a reason not known here).
func schedulingCause(msg string) string {
	for _, c := range schedulingCauses {
		if strings.Contains(msg, c) {
			return c
		}
	}
	return ""
}

func truthScheduleCases(reg string) []truthCase {
	app := reg + "/truth/app:1.0"
	return []truthCase{
		{name: "requests-exceed-node", story: "requests cpu: 500, far above what the node has allocatable",
			pod: container(app, `resources: {requests: {cpu: "500"}, limits: {memory: 64Mi}}`, readiness)},
		{name: "request-fits", story: "requests cpu: 100m, which the node has",
			pod: container(app, "resources: {requests: {cpu: 100m}, limits: {memory: 64Mi}}", readiness)},
		{name: "node-selector-unmatched", story: "nodeSelector disktype=ssd, a label no node carries",
			pod: "      nodeSelector: {disktype: ssd}\n" + container(app, readiness)},
		{name: "taint-not-tolerated", story: fmt.Sprintf("nodeSelector %s=gpu: only node %s, tainted dedicated=gpu:NoSchedule, which the pod does not tolerate", truthPoolLabel, truthGPUNode),
			pod: fmt.Sprintf("      nodeSelector: {%s: gpu}\n", truthPoolLabel) + container(app, readiness)},
		{name: "toleration-matches", story: fmt.Sprintf("tolerates dedicated=gpu:NoSchedule, no nodeSelector: %s stays out (its other taint), the real node takes it", truthGPUNode),
			pod: "      tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]\n" + container(app, readiness)},

		{name: "quota-must-specify", namespace: truthQuotaNamespace,
			story: "namespace with a ResourceQuota on limits.memory (256Mi); no memory limit on the container",
			pod:   container(app, "resources: {}", readiness)},
		{name: "quota-exceeded", namespace: truthQuotaNamespace,
			story: "namespace with a ResourceQuota limits.memory 256Mi; memory limit 512Mi",
			pod:   container(app, "resources: {limits: {memory: 512Mi}}", readiness)},
		{name: "quota-room", namespace: truthQuotaNamespace,
			story: "namespace with a ResourceQuota limits.memory 256Mi; memory limit 64Mi",
			pod:   container(app, readiness)},
		{name: "limitrange-default", namespace: truthLimitsNamespace,
			story: "namespace with a ResourceQuota on limits.memory (1Gi) and a LimitRange defaulting the memory limit to 64Mi; no memory limit on the container",
			pod:   container(app, "resources: {}", readiness)},
		{name: "limitrange-max", namespace: truthLimitsNamespace,
			story: "namespace with a LimitRange of max memory 128Mi; memory limit 256Mi",
			pod:   container(app, "resources: {limits: {memory: 256Mi}}", readiness)},
	}
}
