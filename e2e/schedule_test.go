package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// scheduleNodes are the env's Node objects the placement stories give
// allocatable resources to, and the tainted one they add.
var scheduleNodes = []string{"node-amd64", "node-arm64"}

const scheduleGPUNode = "node-gpu"

// nodeState is what the placement stories change of a Node, to put back.
type nodeState struct {
	Taints      json.RawMessage `json:"taints"`
	Allocatable json.RawMessage `json:"allocatable"`
	Capacity    json.RawMessage `json:"capacity"`
}

// readNodeState reads a Node's taints, allocatable and capacity as JSON
// (null when unset).
func readNodeState(t *testing.T, c *cluster, name string) nodeState {
	t.Helper()
	var n struct {
		Spec struct {
			Taints json.RawMessage `json:"taints"`
		} `json:"spec"`
		Status struct {
			Allocatable json.RawMessage `json:"allocatable"`
			Capacity    json.RawMessage `json:"capacity"`
		} `json:"status"`
	}
	getJSON(t, c, &n, "get", "node", name, "-o", "json")
	orNull := func(m json.RawMessage) json.RawMessage {
		if len(m) == 0 {
			return json.RawMessage("null")
		}
		return m
	}
	return nodeState{orNull(n.Spec.Taints), orNull(n.Status.Allocatable), orNull(n.Status.Capacity)}
}

// setNodeState writes a Node's taints, then its allocatable and capacity
// (the status subresource).
func setNodeState(t *testing.T, c *cluster, name string, s nodeState) {
	t.Helper()
	c.must(t, "", "patch", "node", name, "--type=merge", "-p", fmt.Sprintf(`{"spec":{"taints":%s}}`, s.Taints))
	c.must(t, "", "patch", "node", name, "--subresource=status", "--type=merge", "-p",
		fmt.Sprintf(`{"status":{"allocatable":%s,"capacity":%s}}`, s.Allocatable, s.Capacity))
}

// prepareScheduleNodes makes the env's nodes look as a kubelet leaves
// them: allocatable resources (4 CPUs, 16Gi), none of the condition taints
// the API server puts on a Node created without kubelet
// (node.kubernetes.io/not-ready, which no controller-manager removes
// here); and adds node-gpu, labelled pool=gpu and tainted
// dedicated=gpu:NoSchedule. All is put back when the test ends.
func (e *env) prepareScheduleNodes(t *testing.T) {
	t.Helper()
	const resources = `{"cpu":"4","memory":"16Gi","pods":"110"}`
	for _, name := range scheduleNodes {
		before := readNodeState(t, e.c, name)
		t.Cleanup(func() { setNodeState(t, e.c, name, before) })
		var taints []map[string]any
		_ = json.Unmarshal(before.Taints, &taints)
		kept := []map[string]any{}
		for _, taint := range taints {
			if key, _ := taint["key"].(string); !strings.HasPrefix(key, "node.kubernetes.io/") {
				kept = append(kept, taint)
			}
		}
		keptJSON, _ := json.Marshal(kept)
		setNodeState(t, e.c, name, nodeState{keptJSON, json.RawMessage(resources), json.RawMessage(resources)})
	}
	e.c.must(t, fmt.Sprintf(`apiVersion: v1
kind: Node
metadata:
  name: %s
  labels: {kubernetes.io/os: linux, kubernetes.io/arch: amd64, pool: gpu}
`, scheduleGPUNode), "apply", "-f", "-")
	t.Cleanup(func() { e.c.must(t, "", "delete", "node", scheduleGPUNode, "--ignore-not-found") })
	setNodeState(t, e.c, scheduleGPUNode, nodeState{
		json.RawMessage(`[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]`),
		json.RawMessage(`{"cpu":"8","memory":"32Gi","pods":"110"}`), json.RawMessage(`{"cpu":"8","memory":"32Gi","pods":"110"}`)})
}

// testSchedule: placement and namespace-policy findings through kubectl
// apply. A pod no node fits, matches or tolerates is a warning in both
// modes (the cluster is assumed to add nodes); a Deployment a namespace's
// ResourceQuota refuses pods to is a warning in warn, a denial in enforce.
func (e *env) testSchedule(t *testing.T) {
	image := e.registry + "/shop/app:1.0"
	apply := func(t *testing.T, ns, manifest string, extra ...string) result {
		t.Helper()
		r, err := e.c.run(manifest, append([]string{"apply", "-n", ns, "-f", "-"}, extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// awaitCaches applies manifest with --dry-run=server until the warning
	// or denial names want: the webhook's caches have seen the change.
	awaitCaches := func(t *testing.T, ns, manifest, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := apply(t, ns, manifest, "--dry-run=server")
			if strings.Contains(r.stderr, "["+want+"]") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the webhook never saw the change (no %s): exit %d\n%s", want, r.code, r.stderr)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	withResources := func(name, resources string) string {
		return strings.Replace(deployment(name, image), "resources: {limits: {memory: 64Mi}}", "resources: "+resources, 1)
	}

	e.prepareScheduleNodes(t)

	t.Run("placement warns in both modes", func(t *testing.T) {
		cpu := withResources("cpu-hungry", `{requests: {cpu: "64"}, limits: {memory: 64Mi}}`)
		awaitCaches(t, "shop-warn", cpu, "schedule.requests-exceed-nodes")
		cases := []struct {
			story, manifest, want string
		}{
			{"requests more CPU than any node", cpu, "[schedule.requests-exceed-nodes]"},
			{"requests what a node has", withResources("cpu-fits", `{requests: {cpu: "2"}, limits: {memory: 64Mi}}`), "[]"},
			{"nodeSelector no node carries", withPodSpec(deployment("ssd-only", image), "      nodeSelector: {disktype: ssd}\n"), "[schedule.no-matching-node]"},
			{"selects a tainted node, no toleration", withPodSpec(deployment("gpu-untolerated", image), "      nodeSelector: {pool: gpu}\n"), "[schedule.taints-not-tolerated]"},
			{"selects a tainted node, tolerates it", withPodSpec(deployment("gpu-tolerated", image),
				"      nodeSelector: {pool: gpu}\n      tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]\n"), "[]"},
		}
		for _, ns := range []string{"shop-warn", "shop-enforce"} {
			for _, tc := range cases {
				r := apply(t, ns, tc.manifest)
				if got := fmt.Sprint(ids(r.stderr)); r.code != 0 || got != tc.want {
					t.Errorf("%s, %s: exit %d, warnings %s, want %s\n%s", ns, tc.story, r.code, got, tc.want, r.stderr)
				}
			}
		}
	})

	t.Run("a quota on limits.memory: warned in warn, denied in enforce", func(t *testing.T) {
		quota := "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: memory}\nspec: {hard: {limits.memory: 1Gi}}\n"
		noLimit := withResources("no-memory-limit", "{}")
		for _, ns := range []string{"quota-warn", "quota-enforce"} {
			e.c.must(t, "", "create", "namespace", ns)
			if ns == "quota-enforce" {
				e.c.must(t, "", "label", "namespace", ns, "nobackoff.io/mode=enforce")
			}
			e.c.must(t, quota, "apply", "-n", ns, "-f", "-")
			awaitCaches(t, ns, noLimit, "quota.must-specify")
		}
		r := apply(t, "quota-warn", noLimit)
		if got := fmt.Sprint(ids(r.stderr)); r.code != 0 || got != "[quota.must-specify]" {
			t.Errorf("warn: exit %d, warnings %v\n%s", r.code, got, r.stderr)
		}
		r = apply(t, "quota-enforce", noLimit)
		if r.code != 1 || !strings.Contains(r.stderr, "denied the request") || !strings.Contains(r.stderr, "[quota.must-specify]") ||
			!strings.Contains(r.stderr, "spec.template.spec.containers[0].resources.limits.memory") {
			t.Errorf("enforce: exit %d\n%s", r.code, r.stderr)
		}
		if r, _ := e.c.run("", "get", "deployment", "no-memory-limit", "-n", "quota-enforce"); r.code == 0 {
			t.Error("the denied Deployment exists")
		}
		if r := apply(t, "quota-enforce", deployment("memory-limit", image)); r.code != 0 || len(warnings(r.stderr)) != 0 {
			t.Errorf("with a memory limit: exit %d\n%s", r.code, r.stderr)
		}
	})
}
