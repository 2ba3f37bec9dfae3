package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// namespaceChecks are the namespace-policy checks: ResourceQuotas and
// LimitRanges, as the API server's admission applies them to the pods a
// controller creates.
//
// The ReplicaSet, Job or StatefulSet is admitted; each pod it creates then
// meets the LimitRanger plugin (defaults, then min, max and ratio) and the
// ResourceQuota plugin (every container must set what a quota tracks, and
// the pod must fit what is left). A refused pod is never created: the
// controller records FailedCreate and retries, with zero pods. A bare Pod
// is refused by the same plugins at kubectl apply. The checks judge the
// spec with the namespace's LimitRange defaults applied (again, when the
// engine already did: applying them twice changes nothing).
func namespaceChecks() []Check {
	return []Check{quotaMustSpecify{}, quotaExceeded{}, limitRangeViolated{}}
}

// admittedContainer is a container (init or regular; ephemeral containers
// are not counted by either plugin) with its resources as admission sees
// them: the LimitRange defaults applied.
type admittedContainer struct {
	ref ContainerRef
	res corev1.ResourceRequirements
	// written is the container's resources as the manifest writes them,
	// for the field a finding points at.
	written corev1.ResourceRequirements
}

// admitted is the pod spec as admission sees it, and its containers in
// the order of p.Containers(). The LimitRange defaults are already in the
// spec: the engine applies them before any check runs.
func admitted(p *Pod) (*corev1.PodSpec, []admittedContainer) {
	spec, written := p.Spec, p.Spec
	if p.Written != nil {
		written = p.Written
	}
	var out []admittedContainer
	init, regular := 0, 0
	for _, c := range p.Containers() {
		switch c.Kind {
		case Init:
			out = append(out, admittedContainer{c, spec.InitContainers[init].Resources, written.InitContainers[init].Resources})
			init++
		case Regular:
			out = append(out, admittedContainer{c, spec.Containers[regular].Resources, written.Containers[regular].Resources})
			regular++
		}
	}
	return spec, out
}

// refusal says who refuses the pod, to start a message.
func refusal(p *Pod) string {
	if p.Workload {
		return "the controller cannot create a single pod (FailedCreate, zero pods)"
	}
	return "the API server rejects the Pod at creation"
}

// nsFinding starts a finding about a container, or about the pod when c is
// nil (field is then a path of its own).
func nsFinding(p *Pod, c *ContainerRef, id ID, sev Severity, field, msg, fix string) Finding {
	var f Finding
	if c != nil {
		f = c.Finding(id, sev, field, msg, fix)
	} else {
		f = Finding{Check: id, Severity: sev, Field: field, Message: msg, Fix: fix}
	}
	f.Outcome = FailedCreate
	return f
}

// quotaApplies reports whether the check can tell that a quota counts the
// pod. A quota with scopes or a scopeSelector counts only some pods
// (Terminating, BestEffort, a PriorityClass, cross-namespace affinity);
// telling which needs more of the pod and the quota than is judged here,
// so such quotas are left out rather than guessed at.
func quotaApplies(q *corev1.ResourceQuota) bool {
	return q != nil && len(q.Spec.Scopes) == 0 && q.Spec.ScopeSelector == nil
}

// quotaHard is what a quota allows: spec.hard, which the quota controller
// copies into status.hard (the plugin reads the latter), else status.hard.
func quotaHard(q *corev1.ResourceQuota) corev1.ResourceList {
	if len(q.Spec.Hard) > 0 {
		return q.Spec.Hard
	}
	return q.Status.Hard
}

// mustSpecify are the resources a quota obliges every container to set
// when it tracks them (the API server's backward-compatible rule: any
// other resource is just counted).
var mustSpecify = map[corev1.ResourceName]bool{
	corev1.ResourceCPU: true, corev1.ResourceMemory: true,
	corev1.ResourceRequestsCPU: true, corev1.ResourceRequestsMemory: true,
	corev1.ResourceLimitsCPU: true, corev1.ResourceLimitsMemory: true,
}

// computeUsage is the quota usage of requests and limits, under every name
// a quota may track them: cpu and requests.cpu for the cpu request,
// limits.cpu for its limit, and so on; hugepages also by their own name;
// an extended resource as requests.<name> only. pods is 1.
func computeUsage(requests, limits corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := requests[r]; ok {
			out[r] = q.DeepCopy()
			out[corev1.DefaultResourceRequestsPrefix+r] = q.DeepCopy()
		}
		if q, ok := limits[r]; ok {
			out[corev1.ResourceName("limits.")+r] = q.DeepCopy()
		}
	}
	for r, q := range requests {
		if strings.HasPrefix(string(r), corev1.ResourceHugePagesPrefix) {
			out[r] = q.DeepCopy()
			out[corev1.DefaultResourceRequestsPrefix+r] = q.DeepCopy()
		}
		if extendedResource(r) {
			out[corev1.DefaultResourceRequestsPrefix+r] = q.DeepCopy()
		}
	}
	return out
}

// extendedResource reports a resource outside the kubernetes.io domain,
// such as nvidia.com/gpu.
func extendedResource(r corev1.ResourceName) bool {
	s := string(r)
	return strings.Contains(s, "/") && !strings.Contains(s, corev1.ResourceDefaultNamespacePrefix) &&
		!strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix)
}

// podLimits is what a pod limits, as the quota counts it: the regular
// containers and the sidecars summed, each other init container at its
// peak with the sidecars started before it, the larger of the two; a
// pod-level limit replaces the sum; the overhead is added to the
// resources some container limits.
func podLimits(spec *corev1.PodSpec) corev1.ResourceList {
	var podLevel corev1.ResourceList
	if spec.Resources != nil {
		podLevel = spec.Resources.Limits
	}
	out := podTotal(spec, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Limits }, podLevel)
	for name, q := range spec.Overhead {
		if v, ok := out[name]; ok {
			v.Add(q)
			out[name] = v
		}
	}
	return out
}

// podQuotaUsage is what one pod adds to a quota's usage.
func podQuotaUsage(spec *corev1.PodSpec) corev1.ResourceList {
	out := computeUsage(EffectiveRequests(spec), podLimits(spec))
	out[corev1.ResourceName("count/pods")] = resource.MustParse("1")
	return out
}

// resourceField is where a container sets what a quota name counts:
// resources.limits.memory for limits.memory; for memory and
// requests.memory, resources.requests.memory, or resources.limits.memory
// when the spec as written sets only the limit (the request defaults to
// it). written is the container as written, admitted with the LimitRange
// defaults applied; set says whether the latter holds a value. ok is false
// for a name no container field sets (pods).
func resourceField(written, admitted corev1.ResourceRequirements, name corev1.ResourceName) (field string, set, ok bool) {
	s := string(name)
	if base, found := strings.CutPrefix(s, "limits."); found {
		_, set = admitted.Limits[corev1.ResourceName(base)]
		return "resources.limits." + base, set, true
	}
	base := corev1.ResourceName(strings.TrimPrefix(s, corev1.DefaultResourceRequestsPrefix))
	if base == corev1.ResourcePods || strings.HasPrefix(string(base), "count/") {
		return "", false, false
	}
	_, req := admitted.Requests[base]
	_, lim := admitted.Limits[base]
	set = req || lim
	if !hasName(written.Requests, base) && (hasName(written.Limits, base) || lim && !req) {
		return "resources.limits." + string(base), set, true
	}
	return "resources.requests." + string(base), set, true
}

func hasName(l corev1.ResourceList, name corev1.ResourceName) bool {
	_, ok := l[name]
	return ok
}

func sortedNames[V any](m map[corev1.ResourceName]V) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// quotaMustSpecify: a quota tracks cpu or memory requests or limits, and a
// container does not set them, even after the LimitRange defaults. The
// API server refuses every such pod until the spec changes: an error.
type quotaMustSpecify struct{}

func (quotaMustSpecify) ID() ID { return QuotaMustSpecify }

func (quotaMustSpecify) Check(_ context.Context, p *Pod) ([]Finding, error) {
	if p.Scheduling == nil {
		return nil, nil
	}
	quotas, known := p.Scheduling.Quotas()
	if !known || len(quotas) == 0 {
		return nil, nil
	}
	_, containers := admitted(p)
	var out []Finding
	for _, q := range quotas {
		if !quotaApplies(q) {
			continue
		}
		required := map[corev1.ResourceName]bool{}
		for name := range quotaHard(q) {
			if mustSpecify[name] {
				required[name] = true
			}
		}
		if len(required) == 0 {
			continue
		}
		missing := map[corev1.ResourceName][]string{}
		var first *admittedContainer
		var firstName corev1.ResourceName
		for i := range containers {
			c := &containers[i]
			has := computeUsage(containerRequests(&corev1.Container{Resources: c.res}), c.res.Limits)
			for _, name := range sortedNames(required) {
				if _, ok := has[name]; ok {
					continue
				}
				missing[name] = append(missing[name], c.ref.Name)
				if first == nil {
					first, firstName = c, name
				}
			}
		}
		if first == nil {
			continue
		}
		var parts []string
		for _, name := range sortedNames(missing) {
			names := missing[name]
			sort.Strings(names)
			parts = append(parts, fmt.Sprintf("%s for: %s", name, strings.Join(names, ",")))
		}
		field, _, _ := resourceField(first.written, first.res, firstName)
		msg := fmt.Sprintf("%s: failed quota: %s: must specify %s", refusal(p), q.Name, strings.Join(parts, "; "))
		fix := fmt.Sprintf("set %s on every container (quota %s tracks it), or give the namespace a LimitRange whose default sets it", field[len("resources."):], q.Name)
		out = append(out, nsFinding(p, &first.ref, QuotaMustSpecify, Error, field, msg, fix))
	}
	return out, nil
}

// quotaExceeded: one pod asks more than a quota has left. When the pod
// alone asks more than the quota allows, it never fits: an error. When it
// only exceeds what the namespace's other pods leave, it fits once they
// shrink or go: a warning.
type quotaExceeded struct{}

func (quotaExceeded) ID() ID { return QuotaExceeded }

func (quotaExceeded) Check(_ context.Context, p *Pod) ([]Finding, error) {
	if p.Scheduling == nil {
		return nil, nil
	}
	quotas, known := p.Scheduling.Quotas()
	if !known || len(quotas) == 0 {
		return nil, nil
	}
	spec, containers := admitted(p)
	usage := podQuotaUsage(spec)
	var out []Finding
	for _, q := range quotas {
		if !quotaApplies(q) {
			continue
		}
		hard := quotaHard(q)
		var exceeded []corev1.ResourceName
		never := false
		for _, name := range sortedNames(hard) {
			req, ok := usage[name]
			if !ok {
				continue
			}
			total := quantityOf(q.Status.Used, name)
			total.Add(req)
			limit := hard[name]
			if total.Cmp(limit) <= 0 {
				continue
			}
			exceeded = append(exceeded, name)
			if req.Cmp(limit) > 0 {
				never = true
			}
		}
		if len(exceeded) == 0 {
			continue
		}
		pretty := func(l corev1.ResourceList) string {
			parts := make([]string, len(exceeded))
			for i, name := range exceeded {
				v := quantityOf(l, name)
				parts[i] = fmt.Sprintf("%s=%s", name, v.String())
			}
			return strings.Join(parts, ",")
		}
		detail := fmt.Sprintf("exceeded quota: %s, requested: %s, used: %s, limited: %s",
			q.Name, pretty(usage), pretty(q.Status.Used), pretty(hard))
		sev := Warning
		var msg, fix string
		if never {
			sev = Error
			msg = fmt.Sprintf("%s: %s; one pod alone asks more than the quota allows", refusal(p), detail)
			fix = fmt.Sprintf("lower the pod's %s, or raise quota %s's hard limit", exceeded[0], q.Name)
		} else {
			msg = fmt.Sprintf("%s until the namespace frees quota: %s", refusal(p), detail)
			fix = fmt.Sprintf("free quota %s (scale other workloads down) or raise its hard limit, or lower the pod's %s", q.Name, exceeded[0])
		}
		// The field: the first container setting the first exceeded
		// resource a container sets; the pod when none does (pods).
		var who *ContainerRef
		field := p.Path
		for _, name := range exceeded {
			for i := range containers {
				if f, set, ok := resourceField(containers[i].written, containers[i].res, name); ok && set {
					who, field = &containers[i].ref, f
					break
				}
			}
			if who != nil {
				break
			}
		}
		out = append(out, nsFinding(p, who, QuotaExceeded, sev, field, msg, fix))
	}
	return out, nil
}

// limitRangeViolated: a container, or the pod's sum, breaks a LimitRange's
// min, max or maxLimitRequestRatio once its defaults are applied. The
// LimitRanger plugin refuses every such pod: an error.
type limitRangeViolated struct{}

func (limitRangeViolated) ID() ID { return LimitRangeViolated }

// violation is one constraint a LimitRange item puts on a set of requests
// and limits that they break, in the API server's words.
type violation struct {
	msg string
	// limits: the limit is at fault (else the request); missing: it is
	// not set at all.
	limits, missing bool
}

func (limitRangeViolated) Check(_ context.Context, p *Pod) ([]Finding, error) {
	if p.Scheduling == nil {
		return nil, nil
	}
	ranges, known := p.Scheduling.LimitRanges()
	if !known || len(ranges) == 0 {
		return nil, nil
	}
	_, containers := admitted(p)
	var out []Finding
	for _, lr := range ranges {
		if lr == nil {
			continue
		}
		for i := range lr.Spec.Limits {
			item := defaultedItem(&lr.Spec.Limits[i])
			switch item.Type {
			case corev1.LimitTypeContainer:
				for j := range containers {
					c := &containers[j]
					for _, v := range itemViolations(item, c.res.Requests, c.res.Limits) {
						out = append(out, limitRangeFinding(p, lr, item, v.violation, &c.ref, v.sub()))
					}
				}
			case corev1.LimitTypePod:
				requests, limits := podSums(containers)
				for _, v := range itemViolations(item, requests, limits) {
					// The field: a container that lacks the value, or the
					// first that sets it.
					var who *ContainerRef
					field := p.Path
					for j := range containers {
						c := &containers[j]
						list := c.res.Requests
						if v.limits {
							list = c.res.Limits
						}
						if _, set := list[v.name]; set != v.missing {
							who, field = &c.ref, v.sub()
							break
						}
					}
					out = append(out, limitRangeFinding(p, lr, item, v.violation, who, field))
				}
			}
		}
	}
	return out, nil
}

// namedViolation is a violation of one resource.
type namedViolation struct {
	violation
	name corev1.ResourceName
}

// sub is the field of a container at fault, below the container.
func (v namedViolation) sub() string {
	if v.limits {
		return "resources.limits." + string(v.name)
	}
	return "resources.requests." + string(v.name)
}

// itemViolations applies one item's min, max and ratio to requests and
// limits, as the LimitRanger plugin does, resources in order.
func itemViolations(item *corev1.LimitRangeItem, requests, limits corev1.ResourceList) []namedViolation {
	var out []namedViolation
	kind := item.Type
	for _, name := range sortedNames(item.Min) {
		min := item.Min[name]
		req, hasReq := requests[name]
		lim, hasLim := limits[name]
		switch {
		case !hasReq:
			out = append(out, namedViolation{violation{fmt.Sprintf("minimum %s usage per %s is %s. No request is specified.", name, kind, min.String()), false, true}, name})
		case req.Cmp(min) < 0:
			out = append(out, namedViolation{violation{fmt.Sprintf("minimum %s usage per %s is %s, but request is %s.", name, kind, min.String(), req.String()), false, false}, name})
		case hasLim && lim.Cmp(min) < 0:
			out = append(out, namedViolation{violation{fmt.Sprintf("minimum %s usage per %s is %s, but limit is %s.", name, kind, min.String(), lim.String()), true, false}, name})
		}
	}
	for _, name := range sortedNames(item.Max) {
		max := item.Max[name]
		req, hasReq := requests[name]
		lim, hasLim := limits[name]
		switch {
		case !hasLim:
			out = append(out, namedViolation{violation{fmt.Sprintf("maximum %s usage per %s is %s. No limit is specified.", name, kind, max.String()), true, true}, name})
		case lim.Cmp(max) > 0:
			out = append(out, namedViolation{violation{fmt.Sprintf("maximum %s usage per %s is %s, but limit is %s.", name, kind, max.String(), lim.String()), true, false}, name})
		case hasReq && req.Cmp(max) > 0:
			out = append(out, namedViolation{violation{fmt.Sprintf("maximum %s usage per %s is %s, but request is %s.", name, kind, max.String(), req.String()), false, false}, name})
		}
	}
	for _, name := range sortedNames(item.MaxLimitRequestRatio) {
		ratio := item.MaxLimitRequestRatio[name]
		req, hasReq := requests[name]
		lim, hasLim := limits[name]
		switch {
		case !hasReq || req.IsZero():
			out = append(out, namedViolation{violation{fmt.Sprintf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0.", name, kind, ratio.String()), false, true}, name})
		case !hasLim || lim.IsZero():
			out = append(out, namedViolation{violation{fmt.Sprintf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0.", name, kind, ratio.String()), true, true}, name})
		default:
			observed := lim.AsApproximateFloat64() / req.AsApproximateFloat64()
			if observed > ratio.AsApproximateFloat64() {
				out = append(out, namedViolation{violation{fmt.Sprintf("%s max limit to request ratio per %s is %s, but provided ratio is %.2f.", name, kind, ratio.String(), observed), true, false}, name})
			}
		}
	}
	return out
}

// podSums are a pod's requests and limits as a Pod-type LimitRange item
// sees them: the regular containers summed, a resource only when every
// one of them sets it; then each init container's value where larger.
func podSums(containers []admittedContainer) (requests, limits corev1.ResourceList) {
	sum := func(get func(corev1.ResourceRequirements) corev1.ResourceList) corev1.ResourceList {
		out := corev1.ResourceList{}
		var regular []corev1.ResourceList
		for _, c := range containers {
			if c.ref.Kind == Regular {
				regular = append(regular, get(c.res))
			}
		}
		for _, l := range regular {
			for name := range l {
				if _, done := out[name]; done {
					continue
				}
				total, all := resource.Quantity{}, true
				for _, o := range regular {
					q, ok := o[name]
					if !ok {
						all = false
						break
					}
					total.Add(q)
				}
				if all {
					out[name] = total
				}
			}
		}
		for _, c := range containers {
			if c.ref.Kind != Init {
				continue
			}
			for name, q := range get(c.res) {
				if v, ok := out[name]; !ok || q.Cmp(v) > 0 {
					out[name] = q.DeepCopy()
				}
			}
		}
		return out
	}
	return sum(func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Requests }),
		sum(func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Limits })
}

func limitRangeFinding(p *Pod, lr *corev1.LimitRange, item *corev1.LimitRangeItem, v violation, who *ContainerRef, field string) Finding {
	msg := fmt.Sprintf("%s: %s (LimitRange %s)", refusal(p), strings.TrimSuffix(v.msg, "."), lr.Name)
	var fix string
	switch {
	case item.Type == corev1.LimitTypePod:
		fix = fmt.Sprintf("bring the containers' requests and limits within LimitRange %s's Pod bounds, or change the LimitRange", lr.Name)
	case v.missing:
		fix = fmt.Sprintf("set the value LimitRange %s requires on the container", lr.Name)
	default:
		fix = fmt.Sprintf("bring the container's value within LimitRange %s's bounds, or change the LimitRange", lr.Name)
	}
	return nsFinding(p, who, LimitRangeViolated, Error, field, msg, fix)
}
