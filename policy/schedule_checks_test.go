package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// plView is a SchedulingView over a fixed list of nodes.
type plView struct {
	nodes   []*corev1.Node
	unknown bool
}

func (v plView) Nodes() ([]*corev1.Node, bool)             { return v.nodes, !v.unknown }
func (v plView) Quotas() ([]*corev1.ResourceQuota, bool)   { return nil, false }
func (v plView) LimitRanges() ([]*corev1.LimitRange, bool) { return nil, false }
func plNodes(nodes ...*corev1.Node) SchedulingView         { return plView{nodes: nodes} }
func plTolerate(key, value string, e corev1.TaintEffect) corev1.Toleration {
	op := corev1.TolerationOpEqual
	if value == "" {
		op = corev1.TolerationOpExists
	}
	return corev1.Toleration{Key: key, Operator: op, Value: value, Effect: e}
}

// plNode is a linux node with the given allocatable CPU and memory and
// 110 pods.
func plNode(name, cpu, mem string, mods ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelHostname: name, corev1.LabelOSStable: "linux"}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
			corev1.ResourcePods: resource.MustParse("110")}},
	}
	for _, m := range mods {
		m(n)
	}
	return n
}

func plLabels(kv ...string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func plTaint(key, value string, e corev1.TaintEffect) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: e})
	}
}

func plCordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

func plAlloc(name corev1.ResourceName, q string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		if q == "" {
			delete(n.Status.Allocatable, name)
			return
		}
		n.Status.Allocatable[name] = resource.MustParse(q)
	}
}

func plRequests(kv ...string) corev1.ResourceRequirements {
	l := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return corev1.ResourceRequirements{Requests: l}
}

// plPod is a workload template of one container requesting cpu and 1Gi,
// labelled app=web, three replicas, on the given nodes.
func plPod(cpu string, view SchedulingView, mods ...func(*Pod)) *Pod {
	p := podOf(corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/web:1.0",
		Resources: plRequests("cpu", cpu, "memory", "1Gi")}}})
	p.Workload, p.Scheduling, p.Labels, p.Replicas = true, view, map[string]string{"app": "web"}, 3
	for _, m := range mods {
		m(p)
	}
	return p
}

func plRequired(terms ...corev1.NodeSelectorTerm) func(*Pod) {
	return func(p *Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
}

func plExpr(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func plAntiAffinity(topology string, sel map[string]string, mods ...func(*corev1.PodAffinityTerm)) func(*Pod) {
	return func(p *Pod) {
		t := corev1.PodAffinityTerm{TopologyKey: topology, LabelSelector: &metav1.LabelSelector{MatchLabels: sel}}
		for _, m := range mods {
			m(&t)
		}
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{t}}}
	}
}

var placementIDs = []ID{ScheduleNoMatchingNode, ScheduleTaintsNotTolerated, ScheduleRequestsExceedNodes,
	ScheduleAntiAffinityReplicas, ScheduleDaemonSetNoNode}

// plWant is the structured part of a placement finding.
type plWant struct {
	ID        ID
	Severity  Severity
	Field     string
	Container string
	Outcome   Outcome
}

func (w plWant) String() string {
	return fmt.Sprintf("{%s %s %s container=%q outcome=%q}", w.ID, w.Severity, w.Field, w.Container, w.Outcome)
}

// runPlacement runs the five placement checks of the catalog built with
// opts and checks the invariants of their findings.
func runPlacement(t *testing.T, opts Options, p *Pod) ([]plWant, []Finding) {
	t.Helper()
	var got []plWant
	var all []Finding
	for _, id := range placementIDs {
		for _, f := range run(t, opts, id, p) {
			if f.Check != id || f.Message == "" || f.Fix == "" {
				t.Errorf("%s: malformed finding %+v", id, f)
			}
			if f.Container != "" {
				if img, ok := imageOf(p, f.Container); !ok || img != f.Image {
					t.Errorf("%s: container %q image %q, not the pod's", id, f.Container, f.Image)
				}
			}
			got = append(got, plWant{f.Check, f.Severity, f.Field, f.Container, f.Outcome})
			all = append(all, f)
		}
	}
	return got, all
}

func TestPlacementChecks(t *testing.T) {
	const c0 = tmpl + ".containers[0]"
	two4 := func(mods ...func(*corev1.Node)) SchedulingView {
		return plNodes(plNode("node-a", "4", "16Gi", mods...), plNode("node-b", "4", "16Gi", mods...))
	}
	gpu := plTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)
	ds := func(p *Pod) { p.DaemonSet, p.Replicas = true, 0 }
	tolerate := func(tols ...corev1.Toleration) func(*Pod) {
		return func(p *Pod) { p.Spec.Tolerations = tols }
	}
	selector := func(kv ...string) func(*Pod) {
		return func(p *Pod) {
			p.Spec.NodeSelector = map[string]string{}
			for i := 0; i+1 < len(kv); i += 2 {
				p.Spec.NodeSelector[kv[i]] = kv[i+1]
			}
		}
	}
	noMatch := func(field string) plWant {
		return plWant{ScheduleNoMatchingNode, Warning, tmpl + "." + field, "", Pending}
	}
	tainted := plWant{ScheduleTaintsNotTolerated, Warning, tmpl + ".tolerations", "", Pending}
	exceeds := func(field, container string) plWant {
		return plWant{ScheduleRequestsExceedNodes, Warning, field, container, Pending}
	}
	tooBig := exceeds(c0+".resources.requests.cpu", "app")
	tooBigOf := func(r string) plWant { return exceeds(c0+".resources.requests."+r, "app") }

	tests := []struct {
		name  string
		pod   *Pod
		fixed bool
		want  []plWant
	}{
		// Nothing known, nothing said.
		{"no scheduling view", plPod("64", nil), false, nil},
		{"nodes unknown", plPod("64", plView{unknown: true}), false, nil},
		{"no nodes", plPod("64", plNodes()), false, nil},
		{"fits", plPod("2", two4()), false, nil},
		{"fits exactly", plPod("4", two4()), false, nil},

		// Resources, each node judged empty.
		{"cpu exceeds every node", plPod("6", two4()), false, []plWant{tooBig}},
		{"cpu exceeds, nodes fixed", plPod("6", two4()), true,
			[]plWant{{ScheduleRequestsExceedNodes, Error, c0 + ".resources.requests.cpu", "app", Pending}}},
		{"memory exceeds", plPod("1", two4(), func(p *Pod) {
			p.Spec.Containers[0].Resources = plRequests("memory", "20Gi")
		}), false, []plWant{tooBigOf("memory")}},
		{"one larger node fits", plPod("6", plNodes(plNode("node-a", "4", "16Gi"), plNode("node-b", "8", "16Gi"))), false, nil},
		{"no node has both", plPod("6", plNodes(plNode("node-a", "8", "4Gi"), plNode("node-b", "2", "32Gi")), func(p *Pod) {
			p.Spec.Containers[0].Resources = plRequests("cpu", "6", "memory", "8Gi")
		}), false, []plWant{tooBigOf("memory")}},
		{"gpu no node lists", plPod("1", two4(), func(p *Pod) {
			p.Spec.Containers[0].Resources = plRequests("cpu", "1", "nvidia.com/gpu", "1")
		}), false, []plWant{tooBigOf("nvidia.com/gpu")}},
		{"gpu a node offers", plPod("1", plNodes(plNode("node-a", "4", "16Gi"), plNode("node-b", "4", "16Gi", plAlloc("nvidia.com/gpu", "2"))), func(p *Pod) {
			p.Spec.Containers[0].Resources = plRequests("cpu", "1", "nvidia.com/gpu", "2")
		}), false, nil},
		{"gpu too many", plPod("1", plNodes(plNode("node-a", "4", "16Gi", plAlloc("nvidia.com/gpu", "1"))), func(p *Pod) {
			p.Spec.Containers[0].Resources = plRequests("cpu", "1", "nvidia.com/gpu", "2")
		}), false, []plWant{tooBigOf("nvidia.com/gpu")}},
		{"ephemeral-storage the node does not list is not judged", plPod("1", two4(), func(p *Pod) {
			p.Spec.Containers[0].Resources = plRequests("ephemeral-storage", "500Gi")
		}), false, nil},
		{"ephemeral-storage exceeds", plPod("1", two4(plAlloc(corev1.ResourceEphemeralStorage, "100Gi")), func(p *Pod) {
			p.Spec.Containers[0].Resources = plRequests("ephemeral-storage", "500Gi")
		}), false, []plWant{tooBigOf("ephemeral-storage")}},
		{"a node without status is not judged", plPod("64", plNodes(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "bare"}})), false, nil},
		{"no pod slot", plPod("1", two4(plAlloc(corev1.ResourcePods, "0"))), false, []plWant{exceeds(tmpl, "")}},
		{"the init container's peak", plPod("1", two4(), func(p *Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "registry.example.com/migrate:1", Resources: plRequests("cpu", "6")}}
		}), false, []plWant{exceeds(tmpl+".initContainers[0].resources.requests.cpu", "migrate")}},
		{"the container asking most", plPod("3", two4(), func(p *Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "registry.example.com/side:1", Resources: plRequests("cpu", "2")})
		}), false, []plWant{tooBig}},
		{"a limit standing in for the request", plPod("1", two4(), func(p *Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("6")}}
		}), false, []plWant{exceeds(c0+".resources.limits.cpu", "app")}},
		{"pod-level requests", plPod("1", two4(), func(p *Pod) {
			p.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("6")}}
		}), false, []plWant{exceeds(tmpl+".resources.requests.cpu", "")}},

		// The pod's choice of nodes.
		{"nodeSelector no node carries", plPod("1", two4(plLabels("disktype", "ssd")), selector("disktype", "nvme")), false, []plWant{noMatch("nodeSelector")}},
		{"nodeSelector, nodes fixed", plPod("1", two4(), selector("disktype", "nvme")), true,
			[]plWant{{ScheduleNoMatchingNode, Error, tmpl + ".nodeSelector", "", Pending}}},
		{"nodeSelector one node carries", plPod("1", plNodes(plNode("node-a", "4", "16Gi"), plNode("node-b", "4", "16Gi", plLabels("disktype", "ssd"))),
			selector("disktype", "ssd")), false, nil},
		{"nodeSelector, all labels needed", plPod("1", plNodes(plNode("node-a", "4", "16Gi", plLabels("disktype", "ssd")), plNode("node-b", "4", "16Gi", plLabels("zone", "b"))),
			selector("disktype", "ssd", "zone", "b")), false, []plWant{noMatch("nodeSelector")}},
		{"the selection stage comes first", plPod("64", two4(gpu), selector("disktype", "nvme")), false, []plWant{noMatch("nodeSelector")}},
		{"affinity In, no value matches", plPod("1", two4(plLabels("zone", "a")), plRequired(plExpr("zone", corev1.NodeSelectorOpIn, "b", "c"))), false,
			[]plWant{noMatch("affinity.nodeAffinity")}},
		{"affinity In, a value matches", plPod("1", two4(plLabels("zone", "a")), plRequired(plExpr("zone", corev1.NodeSelectorOpIn, "a", "c"))), false, nil},
		{"affinity NotIn", plPod("1", two4(plLabels("zone", "a")), plRequired(plExpr("zone", corev1.NodeSelectorOpNotIn, "a"))), false,
			[]plWant{noMatch("affinity.nodeAffinity")}},
		{"affinity NotIn, label absent", plPod("1", two4(), plRequired(plExpr("zone", corev1.NodeSelectorOpNotIn, "a"))), false, nil},
		{"affinity Exists", plPod("1", two4(), plRequired(plExpr("gpu", corev1.NodeSelectorOpExists))), false,
			[]plWant{noMatch("affinity.nodeAffinity")}},
		{"affinity DoesNotExist", plPod("1", two4(plLabels("spot", "true")), plRequired(plExpr("spot", corev1.NodeSelectorOpDoesNotExist))), false,
			[]plWant{noMatch("affinity.nodeAffinity")}},
		{"affinity Gt integer compare", plPod("1", two4(plLabels("gen", "9")), plRequired(plExpr("gen", corev1.NodeSelectorOpGt, "10"))), false,
			[]plWant{noMatch("affinity.nodeAffinity")}},
		{"affinity Lt integer compare", plPod("1", two4(plLabels("gen", "9")), plRequired(plExpr("gen", corev1.NodeSelectorOpLt, "10"))), false, nil},
		{"affinity terms ORed", plPod("1", two4(plLabels("zone", "a")), plRequired(plExpr("zone", corev1.NodeSelectorOpIn, "b"), plExpr("zone", corev1.NodeSelectorOpIn, "a"))), false, nil},
		{"affinity expressions ANDed", plPod("1", two4(plLabels("zone", "a")), plRequired(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}, {Key: "gpu", Operator: corev1.NodeSelectorOpExists}}})), false,
			[]plWant{noMatch("affinity.nodeAffinity")}},
		{"affinity empty term matches nothing", plPod("1", two4(), plRequired(corev1.NodeSelectorTerm{})), false,
			[]plWant{noMatch("affinity.nodeAffinity")}},
		{"affinity matchFields metadata.name", plPod("1", two4(), plRequired(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-b"}}}})), false, nil},
		{"affinity matchFields no such node", plPod("1", two4(), plRequired(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-z"}}}})), false,
			[]plWant{noMatch("affinity.nodeAffinity")}},
		// The scheduler ignores spec.os: the kubelet rejects the pod; no Pending foretold.
		{"os", plPod("1", two4(), func(p *Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} }), false,
			[]plWant{{ScheduleNoMatchingNode, Warning, tmpl + ".os.name", "", NoOutcome}}},
		{"nodeName no such node", plPod("1", two4(), func(p *Pod) { p.Spec.NodeName = "node-z" }), false, []plWant{noMatch("nodeName")}},
		{"nodeName too small", plPod("6", two4(), func(p *Pod) { p.Spec.NodeName = "node-b" }), false, []plWant{tooBig}},
		{"nodeName bypasses the cordon and NoSchedule taints", plPod("1", two4(plCordoned, gpu), func(p *Pod) { p.Spec.NodeName = "node-b" }), false, nil},
		{"nodeName on a NoExecute taint", plPod("1", two4(plTaint("dedicated", "db", corev1.TaintEffectNoExecute)), func(p *Pod) { p.Spec.NodeName = "node-b" }), false,
			[]plWant{tainted}},

		// Taints and cordons.
		{"taint not tolerated", plPod("1", two4(gpu)), false, []plWant{tainted}},
		{"taint, nodes fixed", plPod("1", two4(gpu)), true, []plWant{{ScheduleTaintsNotTolerated, Error, tmpl + ".tolerations", "", Pending}}},
		{"taint tolerated Equal", plPod("1", two4(gpu), tolerate(plTolerate("dedicated", "gpu", corev1.TaintEffectNoSchedule))), false, nil},
		{"taint, wrong value", plPod("1", two4(gpu), tolerate(plTolerate("dedicated", "db", corev1.TaintEffectNoSchedule))), false, []plWant{tainted}},
		{"taint, wrong effect", plPod("1", two4(gpu), tolerate(plTolerate("dedicated", "gpu", corev1.TaintEffectNoExecute))), false, []plWant{tainted}},
		{"taint tolerated Exists", plPod("1", two4(gpu), tolerate(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists})), false, nil},
		{"taint tolerated by empty key Exists", plPod("1", two4(gpu), tolerate(corev1.Toleration{Operator: corev1.TolerationOpExists})), false, nil},
		{"Equal without operator", plPod("1", two4(gpu), tolerate(corev1.Toleration{Key: "dedicated", Value: "gpu"})), false, nil},
		{"NoExecute not tolerated", plPod("1", two4(plTaint("dedicated", "db", corev1.TaintEffectNoExecute))), false, []plWant{tainted}},
		{"PreferNoSchedule does not filter", plPod("1", two4(plTaint("dedicated", "gpu", corev1.TaintEffectPreferNoSchedule))), false, nil},
		{"one node untainted", plPod("1", plNodes(plNode("node-a", "4", "16Gi", gpu), plNode("node-b", "4", "16Gi"))), false, nil},
		{"the selected node is tainted", plPod("1", plNodes(plNode("node-a", "4", "16Gi"), plNode("node-b", "4", "16Gi", gpu, plLabels("pool", "gpu"))),
			selector("pool", "gpu")), false, []plWant{tainted}},
		{"cordoned", plPod("1", two4(plCordoned)), false, []plWant{tainted}},
		{"cordon tolerated", plPod("1", two4(plCordoned), tolerate(plTolerate(corev1.TaintNodeUnschedulable, "", corev1.TaintEffectNoSchedule))), false, nil},
		{"taints before fit", plPod("64", two4(gpu)), false, []plWant{tainted}},
		{"tolerated, then too small", plPod("6", two4(gpu), tolerate(plTolerate("dedicated", "gpu", corev1.TaintEffectNoSchedule))), false, []plWant{tooBig}},

		// Required anti-affinity against its own replicas.
		{"anti-affinity, more replicas than nodes", plPod("1", two4(), plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "web"})), false,
			[]plWant{{ScheduleAntiAffinityReplicas, Warning, tmpl + ".affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]", "", NoOutcome}}},
		{"anti-affinity, as many replicas as nodes", plPod("1", two4(), plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "web"}),
			func(p *Pod) { p.Replicas = 2 }), false, nil},
		{"anti-affinity, replicas unknown", plPod("1", two4(), plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "web"}),
			func(p *Pod) { p.Replicas = 0 }), false, nil},
		{"anti-affinity, other pods", plPod("1", two4(), plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "db"})), false, nil},
		{"anti-affinity, per zone", plPod("1", two4(), plAntiAffinity(corev1.LabelTopologyZone, map[string]string{"app": "web"})), false, nil},
		{"anti-affinity, other namespaces", plPod("1", two4(), plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "web"},
			func(t *corev1.PodAffinityTerm) { t.Namespaces = []string{"other"} })), false, nil},
		{"anti-affinity, all namespaces", plPod("1", two4(), plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "web"},
			func(t *corev1.PodAffinityTerm) { t.NamespaceSelector = &metav1.LabelSelector{} })), false,
			[]plWant{{ScheduleAntiAffinityReplicas, Warning, tmpl + ".affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]", "", NoOutcome}}},
		{"anti-affinity, only fitting nodes count", plPod("6", plNodes(plNode("node-a", "4", "16Gi"), plNode("node-b", "8", "16Gi"), plNode("node-c", "8", "16Gi")),
			plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "web"})), false,
			[]plWant{{ScheduleAntiAffinityReplicas, Warning, tmpl + ".affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]", "", NoOutcome}}},
		{"anti-affinity, no node at all", plPod("64", two4(), plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "web"})), false, []plWant{tooBig}},

		// DaemonSets.
		{"DaemonSet on some nodes", plPod("1", plNodes(plNode("node-a", "4", "16Gi"), plNode("node-b", "4", "16Gi", plLabels("pool", "edge"))),
			ds, selector("pool", "edge")), false, nil},
		{"DaemonSet selecting no node", plPod("1", two4(), ds, selector("pool", "edge")), false,
			[]plWant{{ScheduleDaemonSetNoNode, Warning, tmpl + ".nodeSelector", "", NoOutcome}}},
		{"DaemonSet on tainted nodes", plPod("1", two4(gpu), ds), false,
			[]plWant{{ScheduleDaemonSetNoNode, Warning, tmpl + ".tolerations", "", NoOutcome}}},
		{"DaemonSet on cordoned nodes", plPod("1", two4(plCordoned), ds), false, nil},
		{"DaemonSet on a not-ready node", plPod("1", two4(plTaint(corev1.TaintNodeNotReady, "", corev1.TaintEffectNoExecute),
			plTaint(corev1.TaintNodeDiskPressure, "", corev1.TaintEffectNoSchedule)), ds), false, nil},
		{"DaemonSet, network-unavailable without hostNetwork", plPod("1", two4(plTaint(corev1.TaintNodeNetworkUnavailable, "", corev1.TaintEffectNoSchedule)), ds), false,
			[]plWant{{ScheduleDaemonSetNoNode, Warning, tmpl + ".tolerations", "", NoOutcome}}},
		{"DaemonSet, network-unavailable with hostNetwork", plPod("1", two4(plTaint(corev1.TaintNodeNetworkUnavailable, "", corev1.TaintEffectNoSchedule)), ds,
			func(p *Pod) { p.Spec.HostNetwork = true }), false, nil},
		{"DaemonSet too large for its nodes", plPod("6", two4(), ds), false, []plWant{tooBig}},
		{"DaemonSet with anti-affinity", plPod("1", two4(), ds, plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "web"}),
			func(p *Pod) { p.Replicas = 5 }), false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := runPlacement(t, Options{NodesFixed: tc.fixed}, tc.pod)
			same := len(got) == len(tc.want)
			for i := 0; same && i < len(got); i++ {
				same = got[i] == tc.want[i]
			}
			if !same {
				t.Errorf("findings:\n got  %v\n want %v", got, tc.want)
			}
		})
	}
}

// The messages read like the scheduler's FailedScheduling event and say
// what would fit.
func TestPlacementMessages(t *testing.T) {
	nodes := plNodes(
		plNode("node-a", "4", "16Gi", plLabels("pool", "general")),
		plNode("node-b", "8", "32Gi", plLabels("pool", "general")),
		plNode("node-c", "16", "64Gi", plLabels("pool", "gpu"), plTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)),
	)
	tests := []struct {
		name     string
		pod      *Pod
		fixed    bool
		message  []string
		fix      []string
		excluded []string
	}{
		{"too large", plPod("12", nodes), false,
			[]string{"0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu",
				"requests 12 CPU; the largest node, node-b, has 8", "cluster autoscaling assumed"},
			[]string{"at most 8 CPU", "at least 12 CPU"}, []string{"(the cluster's nodes are fixed)"}},
		{"too large, fixed", plPod("12", nodes), true, []string{"the cluster's nodes are fixed"}, nil, []string{"autoscaling"}},
		{"memory", plPod("1", nodes, func(p *Pod) { p.Spec.Containers[0].Resources = plRequests("memory", "40Gi") }), false,
			[]string{"requests 40Gi memory; the largest node, node-b, has 32Gi"}, nil, nil},
		{"selector", plPod("1", nodes, func(p *Pod) { p.Spec.NodeSelector = map[string]string{"pool": "highmem"} }), false,
			[]string{"0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector",
				"no node has pool=highmem (nodes have pool: general, gpu)"},
			[]string{"pool: general", "kubectl label node <node> pool=highmem"}, nil},
		{"taint", plPod("1", nodes, func(p *Pod) { p.Spec.NodeSelector = map[string]string{"pool": "gpu"} }), false,
			[]string{"0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector",
				"node node-c has taint {dedicated: gpu}:NoSchedule"},
			[]string{"tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]", "node-c"}, nil},
		{"cordon", plPod("1", plNodes(plNode("node-a", "4", "16Gi", plCordoned))), false,
			[]string{"1 node(s) were unschedulable"}, []string{"kubectl uncordon node-a"}, []string{"tolerations"}},
		{"gpu", plPod("1", nodes, func(p *Pod) { p.Spec.Containers[0].Resources = plRequests("nvidia.com/gpu", "1") }), false,
			[]string{"no eligible node offers nvidia.com/gpu"}, nil, nil},
		{"nodeName", plPod("1", nodes, func(p *Pod) { p.Spec.NodeName = "node-bb" }), false,
			[]string{`no node is named "node-bb"`}, []string{"node-b"}, nil},
		{"anti-affinity", plPod("1", nodes, plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "web"}), func(p *Pod) { p.Replicas = 5 }), false,
			[]string{"3 of 5 replicas stay Pending", "2 of the 3 nodes"}, []string{"lower replicas to 2"}, nil},
		{"daemonset", plPod("1", nodes, func(p *Pod) { p.DaemonSet = true; p.Spec.NodeSelector = map[string]string{"pool": "edge"} }), false,
			[]string{"the DaemonSet runs nothing: none of the 3 nodes is eligible"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, fs := runPlacement(t, Options{NodesFixed: tc.fixed}, tc.pod)
			if len(fs) != 1 {
				t.Fatalf("%d findings, want 1: %+v", len(fs), fs)
			}
			for _, s := range tc.message {
				if !strings.Contains(fs[0].Message, s) {
					t.Errorf("message %q lacks %q", fs[0].Message, s)
				}
			}
			for _, s := range tc.fix {
				if !strings.Contains(fs[0].Fix, s) {
					t.Errorf("fix %q lacks %q", fs[0].Fix, s)
				}
			}
			for _, s := range tc.excluded {
				if strings.Contains(fs[0].Message, s) || strings.Contains(fs[0].Fix, s) {
					t.Errorf("finding %q / %q mentions %q", fs[0].Message, fs[0].Fix, s)
				}
			}
		})
	}
}

func TestPlacementChecksDoNotModifyTheInputs(t *testing.T) {
	n := plNode("node-a", "4", "16Gi", plTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule))
	before := n.DeepCopy()
	p := plPod("6", plNodes(n), func(p *Pod) {
		p.DaemonSet = true
		p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	})
	spec := p.Spec.DeepCopy()
	for _, id := range placementIDs {
		if _, err := checkByID(t, Options{}, id).Check(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.Spec.Tolerations) != 1 || !equalSpecs(p.Spec, spec) || n.String() != before.String() {
		t.Error("a placement check modified its inputs")
	}
}

func equalSpecs(a, b *corev1.PodSpec) bool { return a.String() == b.String() }
