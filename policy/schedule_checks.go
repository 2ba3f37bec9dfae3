package policy

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/nobackoff/nobackoff/internal/textdist"
)

// The placement checks judge each node of the cluster the way
// kube-scheduler's filters do, as if the node were empty (the pods already
// running are ignored: they come and go, a node's size does not). A pod
// that no node passes stays Pending; where the cluster may add nodes
// (cluster autoscaling, Karpenter) that is a warning, where its nodes are
// fixed an error. Nothing is said when the nodes are not known.

// placeRule is one filter a node may fail, in kube-scheduler's order
// (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity); the OS is
// the kubelet's own admission check, judged last.
type placeRule int

const (
	ruleUnschedulable placeRule = iota
	ruleNodeName
	ruleTaints
	ruleNodeSelector
	ruleNodeAffinity
	ruleOS
	numPlaceRules
)

// selectionRules are the rules of the pod's own choice of nodes, in the
// order a tie between them is blamed.
var placeSelectionRules = []placeRule{ruleNodeName, ruleNodeSelector, ruleNodeAffinity, ruleOS}

// nodeJudgement is what one node makes of the pod.
type nodeJudgement struct {
	node  *corev1.Node
	fails [numPlaceRules]bool
	// untolerated are the node's NoSchedule and NoExecute taints the pod
	// does not tolerate, in the node's order.
	untolerated []corev1.Taint
	// short lists the resources the node cannot give the pod even empty,
	// for a node that passes every filter.
	short []corev1.ResourceName
}

func (j *nodeJudgement) selectedOut() bool {
	return j.fails[ruleNodeName] || j.fails[ruleNodeSelector] || j.fails[ruleNodeAffinity] || j.fails[ruleOS]
}

func (j *nodeJudgement) blocked() bool { return j.fails[ruleUnschedulable] || j.fails[ruleTaints] }

// eligible: the node passes every filter but the resources.
func (j *nodeJudgement) eligible() bool { return !j.selectedOut() && !j.blocked() }

// firstReason is the scheduler's reason for rejecting the node (the first
// filter it fails), "" when it passes them all.
func (j *nodeJudgement) firstReason() string {
	switch {
	case j.fails[ruleUnschedulable]:
		return "node(s) were unschedulable"
	case j.fails[ruleNodeName]:
		return "node(s) didn't match the requested node name"
	case j.fails[ruleTaints]:
		return "node(s) had untolerated taint " + taintBraces(j.untolerated[0])
	case j.fails[ruleNodeSelector] || j.fails[ruleNodeAffinity]:
		return "node(s) didn't match Pod's node affinity/selector"
	case j.fails[ruleOS]:
		return "node(s) didn't match Pod's OS (kubernetes.io/os)"
	}
	return ""
}

func taintBraces(t corev1.Taint) string {
	if t.Value == "" {
		return "{" + t.Key + "}"
	}
	return "{" + t.Key + ": " + t.Value + "}"
}

// placement is every node's judgement of one pod spec.
type placement struct {
	pod *Pod
	// direct: spec.nodeName is set, so the scheduler is bypassed and the
	// kubelet admits the pod: cordons and NoSchedule taints do not apply.
	direct      bool
	tolerations []corev1.Toleration
	requests    corev1.ResourceList
	resources   []corev1.ResourceName // requested, in reporting order
	nodes       []nodeJudgement
}

// daemonSetTolerations are the tolerations the DaemonSet controller adds
// to every pod it creates.
func daemonSetTolerations(spec *corev1.PodSpec) []corev1.Toleration {
	tol := func(key string, effect corev1.TaintEffect) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}
	}
	out := []corev1.Toleration{
		tol(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute),
		tol(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute),
		tol(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule),
		tol(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule),
		tol(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule),
		tol(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule),
	}
	if spec.HostNetwork {
		out = append(out, tol(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule))
	}
	return out
}

// judgePlacement judges every node, once per pod for all the placement
// checks; nil when the nodes are not known.
func judgePlacement(p *Pod) *placement {
	if !p.placedDone {
		p.placed, p.placedDone = placeOnNodes(p), true
	}
	return p.placed
}

// placeOnNodes is judgePlacement's work.
func placeOnNodes(p *Pod) *placement {
	if p.Scheduling == nil {
		return nil
	}
	nodes, known := p.Scheduling.Nodes()
	if !known || len(nodes) == 0 {
		return nil
	}
	s := p.Spec
	pl := &placement{pod: p, direct: s.NodeName != "", requests: EffectiveRequests(s)}
	// The API server's DefaultTolerationSeconds admission gives every pod
	// NoExecute tolerations of not-ready and unreachable nodes.
	pl.tolerations = append(append([]corev1.Toleration(nil), s.Tolerations...),
		corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute})
	if p.DaemonSet {
		pl.tolerations = append(pl.tolerations, daemonSetTolerations(s)...)
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := pl.requests[name]; ok && q.Sign() > 0 {
			pl.resources = append(pl.resources, name)
		}
	}
	var other []corev1.ResourceName
	for name, q := range pl.requests {
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourcePods:
			continue
		}
		if q.Sign() > 0 {
			other = append(other, name)
		}
	}
	sort.Slice(other, func(i, j int) bool { return other[i] < other[j] })
	pl.resources = append(pl.resources, other...)

	var terms []corev1.NodeSelectorTerm
	required := false
	if a := s.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		required = true
		terms = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	for _, n := range nodes {
		if n == nil {
			continue
		}
		j := nodeJudgement{node: n}
		if n.Spec.Unschedulable && !pl.direct {
			j.fails[ruleUnschedulable] = !pl.tolerates(corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
		}
		j.fails[ruleNodeName] = pl.direct && n.Name != s.NodeName
		for _, t := range n.Spec.Taints {
			if t.Effect != corev1.TaintEffectNoExecute && (t.Effect != corev1.TaintEffectNoSchedule || pl.direct) {
				continue
			}
			if !pl.tolerates(t) {
				j.untolerated = append(j.untolerated, t)
			}
		}
		j.fails[ruleTaints] = len(j.untolerated) > 0
		for k, v := range s.NodeSelector {
			if got, ok := n.Labels[k]; !ok || got != v {
				j.fails[ruleNodeSelector] = true
				break
			}
		}
		if required {
			j.fails[ruleNodeAffinity] = !anyNodeTermMatches(terms, n)
		}
		if s.OS != nil && s.OS.Name != "" {
			if os, ok := n.Labels[corev1.LabelOSStable]; ok && os != string(s.OS.Name) {
				j.fails[ruleOS] = true
			}
		}
		if j.eligible() {
			j.short = pl.shortOn(n)
		}
		pl.nodes = append(pl.nodes, j)
	}
	if len(pl.nodes) == 0 {
		return nil
	}
	return pl
}

func (pl *placement) tolerates(t corev1.Taint) bool {
	for i := range pl.tolerations {
		// Lt and Gt tolerations pass validation only where the feature
		// is on, so they are judged as written.
		if pl.tolerations[i].ToleratesTaint(logr.Discard(), &t, true) {
			return true
		}
	}
	return false
}

// anyTermMatches: required node affinity's terms are ORed.
func anyNodeTermMatches(terms []corev1.NodeSelectorTerm, n *corev1.Node) bool {
	for _, t := range terms {
		if nodeTermMatches(t, n) {
			return true
		}
	}
	return false
}

// termMatches: a term's requirements are ANDed; an empty term matches
// nothing; a malformed requirement makes its term match nothing (the
// scheduler skips terms it cannot parse).
func nodeTermMatches(t corev1.NodeSelectorTerm, n *corev1.Node) bool {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return false
	}
	for _, r := range t.MatchExpressions {
		if !nodeRequirementMatches(r, n.Labels) {
			return false
		}
	}
	for _, r := range t.MatchFields {
		// Only metadata.name, with In or NotIn and one value.
		if r.Key != "metadata.name" || len(r.Values) != 1 {
			return false
		}
		switch r.Operator {
		case corev1.NodeSelectorOpIn:
			if n.Name != r.Values[0] {
				return false
			}
		case corev1.NodeSelectorOpNotIn:
			if n.Name == r.Values[0] {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func nodeRequirementMatches(r corev1.NodeSelectorRequirement, nodeLabels map[string]string) bool {
	v, has := nodeLabels[r.Key]
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return len(r.Values) > 0 && has && contains(r.Values, v)
	case corev1.NodeSelectorOpNotIn:
		return len(r.Values) > 0 && (!has || !contains(r.Values, v))
	case corev1.NodeSelectorOpExists:
		return len(r.Values) == 0 && has
	case corev1.NodeSelectorOpDoesNotExist:
		return len(r.Values) == 0 && !has
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 || !has {
			return false
		}
		want, err1 := strconv.ParseInt(r.Values[0], 10, 64)
		got, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == corev1.NodeSelectorOpGt {
			return got > want
		}
		return got < want
	}
	return false
}

// standardResource: a node that does not list cpu, memory,
// ephemeral-storage or pods (a Node written by hand) says nothing of them;
// one that does not list an extended resource has none of it.
func placeStandardResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage || name == corev1.ResourcePods
}

// allocatable is the node's allocatable quantity of a resource; known is
// false when the node does not tell.
func nodeAllocatable(n *corev1.Node, name corev1.ResourceName) (q resource.Quantity, known bool) {
	alloc := n.Status.Allocatable
	if len(alloc) == 0 {
		return resource.Quantity{}, false
	}
	if q, ok := alloc[name]; ok {
		return q, true
	}
	return resource.Quantity{}, !placeStandardResource(name)
}

// shortOn lists what the empty node cannot give the pod: one pod slot,
// then each requested resource.
func (pl *placement) shortOn(n *corev1.Node) []corev1.ResourceName {
	var out []corev1.ResourceName
	if q, known := nodeAllocatable(n, corev1.ResourcePods); known && q.Value() < 1 {
		out = append(out, corev1.ResourcePods)
	}
	for _, name := range pl.resources {
		if q, known := nodeAllocatable(n, name); known {
			req := pl.requests[name]
			if req.Cmp(q) > 0 {
				out = append(out, name)
			}
		}
	}
	return out
}

// summary words the nodes' verdicts as the scheduler's FailedScheduling
// event does: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s)
// didn't match Pod's node affinity/selector".
func (pl *placement) summary() string {
	return fmt.Sprintf("0/%d nodes are available: %s", len(pl.nodes), pl.reasons())
}

func (pl *placement) reasons() string {
	counts := map[string]int{}
	for _, j := range pl.nodes {
		if r := j.firstReason(); r != "" {
			counts[r]++
			continue
		}
		for _, name := range j.short {
			if name == corev1.ResourcePods {
				counts["Too many pods"]++
			} else {
				counts["Insufficient "+string(name)]++
			}
		}
	}
	parts := make([]string, 0, len(counts))
	for r, c := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", c, r))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// placeStage is where the pod's placement stops.
type placeStage int

const (
	stagePlaced    placeStage = iota // some node passes every filter and fits
	stageSelection                   // no node is of the pod's choice
	stageTaints                      // the chosen nodes are all tainted or cordoned
	stageFit                         // the nodes left are all too small
)

func (pl *placement) placeStage() placeStage {
	chosen, passing := false, false
	for _, j := range pl.nodes {
		if !j.selectedOut() {
			chosen = true
		}
		if j.eligible() {
			passing = true
			if len(j.short) == 0 {
				return stagePlaced
			}
		}
	}
	switch {
	case !chosen:
		return stageSelection
	case !passing:
		return stageTaints
	}
	return stageFit
}

// pendingClause says what becomes of the pod, with the assumption made
// about the cluster's nodes.
func placePending(fixed bool, which string) string {
	if fixed {
		return "the pod stays Pending (the cluster's nodes are fixed)"
	}
	return "the pod stays Pending unless the cluster adds a node that " + which +
		" (cluster autoscaling assumed; if the cluster's nodes are fixed, --cluster-autoscales=false or checks.clusterAutoscales: false makes this an error)"
}

func placeSeverity(fixed bool) Severity {
	if fixed {
		return Error
	}
	return Warning
}

// selectionBlame is the rule of the pod's choice that keeps it off the
// most nodes (among the node it names, when it names an existing one),
// its field, what the nodes offer instead, and the fix.
func (pl *placement) selectionBlame() (field, hint, fix string) {
	s, path := pl.pod.Spec, pl.pod.Path
	var scope []*nodeJudgement
	for i := range pl.nodes {
		if !pl.nodes[i].fails[ruleNodeName] {
			scope = append(scope, &pl.nodes[i])
		}
	}
	if len(scope) == 0 {
		var names []string
		for _, j := range pl.nodes {
			names = append(names, j.node.Name)
		}
		names = textdist.Closest(s.NodeName, names)
		return path + ".nodeName", fmt.Sprintf("no node is named %q (nodes: %s)", s.NodeName, placeList(names, 3)),
			fmt.Sprintf("set nodeName to an existing node (%s), or remove it and let the scheduler choose", names[0])
	}
	best, bestCount := ruleNodeSelector, -1
	for _, r := range placeSelectionRules[1:] {
		c := 0
		for _, j := range scope {
			if j.fails[r] {
				c++
			}
		}
		if c > bestCount {
			best, bestCount = r, c
		}
	}
	if bestCount < len(scope) {
		// Each rule leaves some node, but no node meets them all.
		var names []string
		for _, r := range placeSelectionRules[1:] {
			for _, j := range scope {
				if j.fails[r] {
					names = append(names, placeRuleName(r))
					break
				}
			}
		}
		return path + "." + placeRuleField(best), "no node meets all of " + strings.Join(names, ", ") + " at once",
			"make " + strings.Join(names, " and ") + " agree on a node that exists, or label a node to meet them all"
	}
	nodes := make([]*corev1.Node, len(scope))
	for i, j := range scope {
		nodes[i] = j.node
	}
	switch best {
	case ruleNodeSelector:
		// Suggest what the nodes that would take the pod carry.
		var open []*corev1.Node
		for _, j := range scope {
			if !j.blocked() && len(pl.shortOn(j.node)) == 0 {
				open = append(open, j.node)
			}
		}
		hint, fix = nodeSelectorHint(s.NodeSelector, nodes, open)
	case ruleNodeAffinity:
		hint = nodeAffinityHint(s.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms, nodes)
		fix = "relax the required node affinity to labels the nodes carry, or label a node to match (kubectl label node)"
	case ruleOS:
		oses := nodeLabelValues(nodes, corev1.LabelOSStable)
		hint = fmt.Sprintf("the pod needs %s; nodes run %s", s.OS.Name, strings.Join(oses, ", "))
		fix = fmt.Sprintf("set os.name to the nodes' OS (%s), or add %s nodes", strings.Join(oses, ", "), s.OS.Name)
	}
	return path + "." + placeRuleField(best), hint, fix
}

// placeRuleNames name each placement rule in a message (name) and at its
// field under the pod spec (field).
var placeRuleNames = map[placeRule]struct{ name, field string }{
	ruleNodeName:     {"nodeName", "nodeName"},
	ruleNodeSelector: {"nodeSelector", "nodeSelector"},
	ruleNodeAffinity: {"the required node affinity", "affinity.nodeAffinity"},
	ruleOS:           {"os.name", "os.name"},
}

func placeRuleName(r placeRule) string { return placeRuleNames[r].name }

func placeRuleField(r placeRule) string { return placeRuleNames[r].field }

// labelValues lists the values the nodes give a label, sorted.
func nodeLabelValues(nodes []*corev1.Node, key string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range nodes {
		if v, ok := n.Labels[key]; ok && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func placeList(items []string, max int) string {
	if len(items) > max {
		return strings.Join(items[:max], ", ") + ", ..."
	}
	return strings.Join(items, ", ")
}

// selectorHint names the labels of the nodeSelector no node carries, with
// the values the nodes do give those keys; the fix suggests a value the
// open nodes (untainted, large enough) carry, if any.
func nodeSelectorHint(sel map[string]string, nodes, open []*corev1.Node) (hint, fix string) {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var hints []string
	var wanted []string
	fix = ""
	for _, k := range keys {
		wanted = append(wanted, k+"="+sel[k])
		if contains(nodeLabelValues(nodes, k), sel[k]) {
			continue
		}
		vals := nodeLabelValues(nodes, k)
		if len(vals) == 0 {
			hints = append(hints, fmt.Sprintf("no node has label %s", k))
			continue
		}
		hints = append(hints, fmt.Sprintf("no node has %s=%s (nodes have %s: %s)", k, sel[k], k, placeList(vals, 5)))
		if fix == "" {
			if good := nodeLabelValues(open, k); len(good) > 0 {
				vals = good
			}
			fix = fmt.Sprintf("select %s: %s (or another value the nodes carry)", k, textdist.Closest(sel[k], vals)[0])
		}
	}
	if len(hints) == 0 {
		hints = append(hints, "no node has all of "+strings.Join(wanted, ", "))
	}
	label := "kubectl label node <node> " + strings.Join(wanted, " ")
	if fix == "" {
		fix = "select labels the nodes carry, or label a node: " + label
	} else {
		fix += ", or label a node: " + label
	}
	return strings.Join(hints, "; "), fix
}

// affinityHint names, for each label key the required node affinity
// reads, the values the nodes give it.
func nodeAffinityHint(terms []corev1.NodeSelectorTerm, nodes []*corev1.Node) string {
	seen := map[string]bool{}
	var keys []string
	for _, t := range terms {
		for _, r := range t.MatchExpressions {
			if !seen[r.Key] {
				seen[r.Key] = true
				keys = append(keys, r.Key)
			}
		}
	}
	sort.Strings(keys)
	var hints []string
	for _, k := range keys {
		if vals := nodeLabelValues(nodes, k); len(vals) > 0 {
			hints = append(hints, fmt.Sprintf("nodes have %s: %s", k, placeList(vals, 5)))
		} else {
			hints = append(hints, "no node has label "+k)
		}
	}
	if len(hints) == 0 {
		return "no node matches any of its nodeSelectorTerms"
	}
	return strings.Join(hints, "; ")
}

// taintBlame words what keeps the pod off the nodes of its choice: the
// tolerations to add for the node needing fewest, or the cordon.
func (pl *placement) taintBlame() (hint, fix string) {
	var best *nodeJudgement
	rank := func(j *nodeJudgement) (int, int) {
		bad := 0
		if j.fails[ruleUnschedulable] {
			bad = 1
		}
		for _, t := range j.untolerated {
			if nodeConditionTaint(t.Key) {
				bad = 1
			}
		}
		return bad, len(j.untolerated)
	}
	for i := range pl.nodes {
		j := &pl.nodes[i]
		if j.selectedOut() {
			continue
		}
		if best == nil {
			best = j
			continue
		}
		b1, n1 := rank(j)
		b2, n2 := rank(best)
		if b1 < b2 || b1 == b2 && (n1 < n2 || n1 == n2 && j.node.Name < best.node.Name) {
			best = j
		}
	}
	name := best.node.Name
	var tols, conds, fixes []string
	for _, t := range best.untolerated {
		switch {
		case t.Key == corev1.TaintNodeUnschedulable:
			// The cordon's own taint: uncordoning removes it.
		case nodeConditionTaint(t.Key):
			conds = append(conds, t.Key)
		case t.Value == "":
			tols = append(tols, fmt.Sprintf("{key: %s, operator: Exists, effect: %s}", t.Key, t.Effect))
		default:
			tols = append(tols, fmt.Sprintf("{key: %s, operator: Equal, value: %s, effect: %s}", t.Key, t.Value, t.Effect))
		}
	}
	var what []string
	if len(tols) > 0 {
		fixes = append(fixes, "add tolerations: ["+strings.Join(tols, ", ")+"]")
		var taints []string
		for _, t := range best.untolerated {
			taints = append(taints, taintBraces(t)+":"+string(t.Effect))
		}
		what = append(what, fmt.Sprintf("node %s has taint %s", name, strings.Join(taints, ", ")))
	}
	if best.fails[ruleUnschedulable] || best.node.Spec.Unschedulable && placeHasTaint(best.untolerated, corev1.TaintNodeUnschedulable) {
		fixes = append(fixes, fmt.Sprintf("uncordon it (kubectl uncordon %s)", name))
		what = append(what, fmt.Sprintf("node %s is cordoned", name))
	}
	if len(conds) > 0 {
		fixes = append(fixes, "it must recover from "+strings.Join(conds, ", "))
	}
	fix = fmt.Sprintf("to run on node %s: %s", name, strings.Join(fixes, "; "))
	return strings.Join(what, "; "), fix
}

// nodeConditionTaint: taints the node lifecycle controller sets for a
// node's condition; a pod should not tolerate them to get scheduled.
func nodeConditionTaint(key string) bool {
	return strings.HasPrefix(key, "node.kubernetes.io/") || strings.HasPrefix(key, "node.cloudprovider.kubernetes.io/")
}

func placeHasTaint(taints []corev1.Taint, key string) bool {
	for _, t := range taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// fitBlame words why no eligible node fits: the resource that exceeds
// even the largest node, else the node that comes closest.
func (pl *placement) fitBlame() (name corev1.ResourceName, msg, fix string) {
	var eligible []*nodeJudgement
	for i := range pl.nodes {
		if pl.nodes[i].eligible() {
			eligible = append(eligible, &pl.nodes[i])
		}
	}
	order := append([]corev1.ResourceName{corev1.ResourcePods}, pl.resources...)
	for _, r := range order {
		var largest *corev1.Node
		var most resource.Quantity
		known := false
		for _, j := range eligible {
			q, ok := nodeAllocatable(j.node, r)
			if !ok {
				continue
			}
			if !known || q.Cmp(most) > 0 {
				largest, most, known = j.node, q, true
			}
		}
		if !known {
			continue
		}
		if r == corev1.ResourcePods {
			if most.Value() < 1 {
				return r, "no eligible node takes a pod (allocatable pods: 0)", "fix the nodes' pod capacity (kubelet maxPods)"
			}
			continue
		}
		req := pl.requests[r]
		if req.Cmp(most) <= 0 {
			continue
		}
		if most.Sign() == 0 && !placeStandardResource(r) && !anyNodeLists(eligible, r) {
			return r, fmt.Sprintf("requests %s; no eligible node offers %s", placeAmount(r, req), r),
				fmt.Sprintf("add nodes offering %s (with its device plugin), or drop the request", r)
		}
		return r, fmt.Sprintf("requests %s; the largest node, %s, has %s allocatable", placeAmount(r, req), largest.Name, placeQty(r, most)),
			fmt.Sprintf("request at most %s, or add nodes with at least %s allocatable", placeAmount(r, most), placeAmount(r, req))
	}
	// Every resource fits some node, but no node has them all.
	sort.SliceStable(eligible, func(a, b int) bool {
		if len(eligible[a].short) != len(eligible[b].short) {
			return len(eligible[a].short) < len(eligible[b].short)
		}
		return eligible[a].node.Name < eligible[b].node.Name
	})
	var parts []string
	for _, j := range eligible {
		var lacks []string
		for _, r := range j.short {
			q, _ := nodeAllocatable(j.node, r)
			lacks = append(lacks, fmt.Sprintf("%s (has %s of %s)", r, placeQty(r, q), placeQty(r, pl.requests[r])))
		}
		parts = append(parts, fmt.Sprintf("%s lacks %s", j.node.Name, strings.Join(lacks, ", ")))
	}
	name = eligible[0].short[0]
	return name, "no node has room for all its requests at once, even empty: " + placeList(parts, 3),
		fmt.Sprintf("lower the %s request to fit node %s, or add larger nodes", name, eligible[0].node.Name)
}

func anyNodeLists(js []*nodeJudgement, r corev1.ResourceName) bool {
	for _, j := range js {
		if _, ok := j.node.Status.Allocatable[r]; ok {
			return true
		}
	}
	return false
}

// amount is a quantity with its resource: "6 CPU", "20Gi memory".
func placeAmount(r corev1.ResourceName, q resource.Quantity) string {
	if r == corev1.ResourceCPU {
		return placeQty(r, q) + " CPU"
	}
	return placeQty(r, q) + " " + string(r)
}

// bare is a quantity for people: cores for CPU, binary units for bytes.
func placeQty(r corev1.ResourceName, q resource.Quantity) string {
	switch {
	case r == corev1.ResourceCPU:
		m := q.MilliValue()
		if m%1000 == 0 {
			return strconv.FormatInt(m/1000, 10)
		}
		return strconv.FormatFloat(float64(m)/1000, 'f', -1, 64)
	case r == corev1.ResourceMemory || r == corev1.ResourceEphemeralStorage || strings.HasPrefix(string(r), corev1.ResourceHugePagesPrefix):
		b := q.Value()
		for _, u := range []struct {
			suffix string
			size   int64
		}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
			if b >= u.size {
				if b%u.size == 0 {
					return strconv.FormatInt(b/u.size, 10) + u.suffix
				}
				return strconv.FormatFloat(float64(b)/float64(u.size), 'f', 1, 64) + u.suffix
			}
		}
		return strconv.FormatInt(b, 10)
	}
	return q.String()
}

// fitField is where the request of a resource is written, e.g.
// spec.template.spec.containers[0].resources.requests.cpu: the pod-level
// requests when they name it, else the container asking most of it.
func (pl *placement) fitField(r corev1.ResourceName) (field string, c *ContainerRef) {
	p := pl.pod
	if p.Spec.Resources != nil {
		if _, ok := p.Spec.Resources.Requests[r]; ok {
			return p.Path + ".resources.requests." + string(r), nil
		}
	}
	var best *ContainerRef
	var most resource.Quantity
	for _, ref := range p.Containers() {
		if ref.Kind == Ephemeral {
			continue
		}
		q, ok := containerRequests(ref.Container)[r]
		if ok && q.Sign() > 0 && (best == nil || q.Cmp(most) > 0) {
			best, most = &ref, q
		}
	}
	if best == nil {
		if _, ok := p.Spec.Overhead[r]; ok {
			return p.Path + ".overhead." + string(r), nil
		}
		return p.Path, nil
	}
	if _, ok := best.Resources.Requests[r]; ok {
		return best.Field("resources.requests." + string(r)), best
	}
	return best.Field("resources.limits." + string(r)), best
}

// placementCheck is one of the placement checks.
type placementCheck struct {
	id    ID
	fixed bool
}

func (c placementCheck) ID() ID { return c.id }

func (c placementCheck) Check(_ context.Context, p *Pod) ([]Finding, error) {
	pl := judgePlacement(p)
	if pl == nil {
		return nil, nil
	}
	st := pl.placeStage()
	sev := placeSeverity(c.fixed)
	switch c.id {
	case ScheduleNoMatchingNode:
		if p.DaemonSet || st != stageSelection {
			return nil, nil
		}
		field, hint, fix := pl.selectionBlame()
		f := Finding{Check: c.id, Severity: sev, Field: field, Outcome: Pending,
			Message: fmt.Sprintf("%s: %s; %s", pl.summary(), placePending(c.fixed, "matches"), hint), Fix: fix}
		if strings.HasSuffix(field, ".os.name") {
			// The scheduler does not filter on spec.os: the pod may be
			// bound to a node of another OS, whose kubelet rejects it.
			f.Outcome = NoOutcome
			f.Message += " (the scheduler ignores spec.os: the pod may be bound to such a node and rejected by its kubelet)"
		}
		return []Finding{f}, nil
	case ScheduleTaintsNotTolerated:
		if p.DaemonSet || st != stageTaints {
			return nil, nil
		}
		hint, fix := pl.taintBlame()
		return []Finding{{Check: c.id, Severity: sev, Field: p.Path + ".tolerations", Outcome: Pending,
			Message: fmt.Sprintf("%s: %s; %s", pl.summary(), placePending(c.fixed, "it tolerates"), hint), Fix: fix}}, nil
	case ScheduleRequestsExceedNodes:
		if st != stageFit {
			return nil, nil
		}
		r, why, fix := pl.fitBlame()
		field, ref := pl.fitField(r)
		clause := placePending(c.fixed, "fits")
		if p.DaemonSet {
			clause = "its pods stay Pending on every node it selects" + strings.TrimPrefix(clause, "the pod stays Pending")
		}
		f := Finding{Check: c.id, Severity: sev, Field: field, Outcome: Pending,
			Message: fmt.Sprintf("%s: %s; %s", pl.summary(), clause, why), Fix: fix}
		if ref != nil {
			f.Container, f.Image = ref.Name, ref.Image
		}
		return []Finding{f}, nil
	case ScheduleDaemonSetNoNode:
		if !p.DaemonSet || st != stageSelection && st != stageTaints {
			return nil, nil
		}
		field, hint, fix := p.Path+".tolerations", "", ""
		if st == stageSelection {
			field, hint, fix = pl.selectionBlame()
		} else {
			hint, fix = pl.taintBlame()
		}
		none := fmt.Sprintf("none of the %d nodes is eligible", len(pl.nodes))
		if len(pl.nodes) == 1 {
			none = "the cluster's only node is not eligible"
		}
		return []Finding{{Check: c.id, Severity: Warning, Field: field,
			Message: fmt.Sprintf("the DaemonSet runs nothing: %s (%s); %s", none, pl.reasons(), hint),
			Fix:     fix}}, nil
	case ScheduleAntiAffinityReplicas:
		return pl.antiAffinity(c.fixed), nil
	}
	return nil, nil
}

// antiAffinity reports a workload whose required pod anti-affinity on the
// hostname keeps its own pods one per node, with more replicas than nodes
// that take one: the extra replicas stay Pending.
func (pl *placement) antiAffinity(fixed bool) []Finding {
	p := pl.pod
	if p.DaemonSet || p.Replicas <= 1 || p.Spec.Affinity == nil || p.Spec.Affinity.PodAntiAffinity == nil {
		return nil
	}
	index := -1
	for i, t := range p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if t.TopologyKey == corev1.LabelHostname && selectsItself(t, p.Labels) {
			index = i
			break
		}
	}
	if index < 0 {
		return nil
	}
	domains := map[string]bool{}
	for _, j := range pl.nodes {
		if j.eligible() && len(j.short) == 0 {
			host, ok := j.node.Labels[corev1.LabelHostname]
			if !ok {
				host = j.node.Name // the kubelet sets it, normally to the node's name
			}
			domains[host] = true
		}
	}
	n := int32(len(domains))
	if n == 0 || p.Replicas <= n {
		return nil // no node at all is another check's finding
	}
	more := "unless the cluster adds nodes (cluster autoscaling assumed)"
	if fixed {
		more = "(the cluster's nodes are fixed)"
	}
	return []Finding{{Check: ScheduleAntiAffinityReplicas, Severity: Warning,
		Field: fmt.Sprintf("%s.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[%d]", p.Path, index),
		Message: fmt.Sprintf("%d of %d replicas stay Pending %s: the required pod anti-affinity on %s allows one per node, and %d of the %d nodes can take one",
			p.Replicas-n, p.Replicas, more, corev1.LabelHostname, n, len(pl.nodes)),
		Fix: fmt.Sprintf("lower replicas to %d, or make the anti-affinity preferredDuringSchedulingIgnoredDuringExecution (or a topologySpreadConstraint with whenUnsatisfiable: ScheduleAnyway)", n)}}
}

// selectsItself: the term's labelSelector, in the pod's own namespace,
// matches the pod's own labels.
func selectsItself(t corev1.PodAffinityTerm, own map[string]string) bool {
	if t.LabelSelector == nil || len(own) == 0 {
		return false
	}
	if len(t.Namespaces) > 0 {
		return false // the pod's namespace is not known here
	}
	if ns := t.NamespaceSelector; ns != nil && (len(ns.MatchLabels) > 0 || len(ns.MatchExpressions) > 0) {
		return false
	}
	for _, k := range t.MismatchLabelKeys {
		if _, ok := own[k]; ok || k == "pod-template-hash" {
			return false // "key notin (own value)" never matches itself
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return false
	}
	return sel.Matches(labels.Set(own))
}

// scheduleChecks are the placement checks: whether the pod fits a node.
func scheduleChecks(o Options) []Check {
	return []Check{
		placementCheck{ScheduleNoMatchingNode, o.NodesFixed},
		placementCheck{ScheduleTaintsNotTolerated, o.NodesFixed},
		placementCheck{ScheduleRequestsExceedNodes, o.NodesFixed},
		placementCheck{ScheduleAntiAffinityReplicas, o.NodesFixed},
		placementCheck{ScheduleDaemonSetNoNode, o.NodesFixed},
	}
}
