package policy

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Facts about where a pod may run and the namespace policy it meets: the
// cluster's nodes, and the ResourceQuotas and LimitRanges of its
// namespace. The webhook answers from its caches, the CLI from its input
// (and a live cluster when asked); checks only read them.

// SchedulingView answers for the nodes a pod may land on and its
// namespace's ResourceQuotas and LimitRanges. It only reads what is held.
type SchedulingView interface {
	// Nodes lists the cluster's nodes; known is false when nothing is
	// known of them: the placement checks then say nothing.
	Nodes() (nodes []*corev1.Node, known bool)
	// Quotas lists the ResourceQuotas of the pod's namespace, with their
	// status (used); known is false when they cannot be told.
	Quotas() (quotas []*corev1.ResourceQuota, known bool)
	// LimitRanges lists the LimitRanges of the pod's namespace.
	LimitRanges() (ranges []*corev1.LimitRange, known bool)
}

// EffectiveRequests is what the scheduler reserves for a pod spec: the
// regular containers and the sidecars (init containers with restartPolicy
// Always) summed; each other init container at its peak, with the sidecars
// started before it; the larger of the two; plus the pod's overhead. A
// pod-level spec.resources.requests replaces the containers' sum for the
// resources it names. A container that sets a limit but no request
// requests its limit (the API server defaults it so).
func EffectiveRequests(spec *corev1.PodSpec) corev1.ResourceList {
	var podLevel corev1.ResourceList
	if spec.Resources != nil {
		podLevel = spec.Resources.Requests
	}
	out := podTotal(spec, containerRequests, podLevel)
	addList(out, spec.Overhead)
	return out
}

// podTotal is a pod's total of a per-container amount (requests, limits)
// as the scheduler and the quota count it: the regular containers and the
// sidecars summed; each other init container at its peak, with the
// sidecars started before it; the larger of the two; a pod-level amount
// replacing the sum for the resources it names. The overhead is the
// caller's to add.
func podTotal(spec *corev1.PodSpec, of func(*corev1.Container) corev1.ResourceList, podLevel corev1.ResourceList) corev1.ResourceList {
	regular := corev1.ResourceList{}
	for i := range spec.Containers {
		addList(regular, of(&spec.Containers[i]))
	}
	sidecars := corev1.ResourceList{}
	initPeak := corev1.ResourceList{}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		amount := of(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addList(sidecars, amount)
			continue
		}
		during := amount.DeepCopy()
		if during == nil {
			during = corev1.ResourceList{}
		}
		addList(during, sidecars)
		maxList(initPeak, during)
	}
	addList(regular, sidecars)
	out := regular
	maxList(out, initPeak)
	for name, q := range podLevel {
		out[name] = q.DeepCopy()
	}
	return out
}

// containerRequests is a container's requests, with the limit standing in
// for a request it does not set.
func containerRequests(c *corev1.Container) corev1.ResourceList {
	// Most containers request what they limit, or more: their requests
	// are the answer, read and never written by podTotal.
	merged := false
	for name := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; !ok {
			merged = true
			break
		}
	}
	if !merged {
		return c.Resources.Requests
	}
	out := make(corev1.ResourceList, len(c.Resources.Limits)+len(c.Resources.Requests))
	for name, q := range c.Resources.Limits {
		out[name] = q.DeepCopy()
	}
	for name, q := range c.Resources.Requests {
		out[name] = q.DeepCopy()
	}
	return out
}

func addList(into, add corev1.ResourceList) {
	for name, q := range add {
		v := into[name]
		v.Add(q)
		into[name] = v
	}
}

func maxList(into, other corev1.ResourceList) {
	for name, q := range other {
		if v, ok := into[name]; !ok || q.Cmp(v) > 0 {
			into[name] = q.DeepCopy()
		}
	}
}

// quantityOf is a list's quantity of a resource, zero when absent.
func quantityOf(l corev1.ResourceList, name corev1.ResourceName) resource.Quantity {
	if q, ok := l[name]; ok {
		return q
	}
	return resource.Quantity{}
}
