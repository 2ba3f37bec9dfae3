package policy

import (
	corev1 "k8s.io/api/core/v1"
)

// The LimitRanger admission plugin's defaulting, as the API server applies
// it to every pod it admits (plugin/pkg/admission/limitranger). Two
// defaulting passes meet there:
//
//   - the API server's own defaulting of a Pod, when the object is decoded
//     (before any admission): a container that sets a limit but no request
//     requests its limit;
//   - then LimitRanger, for each LimitRange of the namespace in turn: a
//     container's missing limit takes the Container-type item's default,
//     its missing request the item's defaultRequest.
//
// A LimitRange is itself defaulted when it is stored: a Container-type
// item without a default takes its max as default, and one without a
// defaultRequest takes its default, else its min. A LimitRange read from
// the API server carries those already; one read from a manifest does not,
// so they are applied here too (doing it twice changes nothing).
//
// So a container that sets nothing, in a namespace whose LimitRange only
// says default: {memory: 512Mi}, gets a memory limit of 512Mi and a
// request of 512Mi; one that sets limits.memory: 1Gi requests 1Gi, never
// the defaultRequest. Ephemeral containers are never defaulted.
// Pod-level resources (spec.resources) are left as written.

// containerDefaults is what LimitRanger sets on a container from one
// LimitRange: the limits and the requests it fills in where missing.
type containerDefaults struct {
	limits, requests corev1.ResourceList
}

// limitRangeDefaults reads the Container-type items of a LimitRange, with
// the API server's defaulting of the items applied. Later items override
// earlier ones for a resource, as in the plugin.
func limitRangeDefaults(lr *corev1.LimitRange) containerDefaults {
	d := containerDefaults{limits: corev1.ResourceList{}, requests: corev1.ResourceList{}}
	for i := range lr.Spec.Limits {
		item := defaultedItem(&lr.Spec.Limits[i])
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		for k, v := range item.DefaultRequest {
			d.requests[k] = v.DeepCopy()
		}
		for k, v := range item.Default {
			d.limits[k] = v.DeepCopy()
		}
	}
	return d
}

// defaultedItem is a LimitRange item as the API server stores it: for a
// Container-type item, default falls back to max, defaultRequest to
// default, then to min. The item given is not modified.
func defaultedItem(in *corev1.LimitRangeItem) *corev1.LimitRangeItem {
	if in.Type != corev1.LimitTypeContainer {
		return in
	}
	item := in.DeepCopy()
	if item.Default == nil {
		item.Default = corev1.ResourceList{}
	}
	if item.DefaultRequest == nil {
		item.DefaultRequest = corev1.ResourceList{}
	}
	for k, v := range item.Max {
		if _, ok := item.Default[k]; !ok {
			item.Default[k] = v.DeepCopy()
		}
	}
	for k, v := range item.Default {
		if _, ok := item.DefaultRequest[k]; !ok {
			item.DefaultRequest[k] = v.DeepCopy()
		}
	}
	for k, v := range item.Min {
		if _, ok := item.DefaultRequest[k]; !ok {
			item.DefaultRequest[k] = v.DeepCopy()
		}
	}
	return item
}

// ApplyLimitRangeDefaults returns the pod spec as the API server would
// store a pod made from it in a namespace with these LimitRanges: the
// containers' and init containers' missing limits and requests filled in
// from the ranges' defaults (see above), after the API server's own
// defaulting of requests to limits. When something changed, out is a deep
// copy and changed is true; otherwise spec itself is returned. spec and
// the ranges are never modified.
func ApplyLimitRangeDefaults(spec *corev1.PodSpec, ranges []*corev1.LimitRange) (out *corev1.PodSpec, changed bool) {
	if spec == nil {
		return spec, false
	}
	var defaults []containerDefaults
	for _, lr := range ranges {
		if lr == nil {
			continue
		}
		if d := limitRangeDefaults(lr); len(d.limits)+len(d.requests) > 0 {
			defaults = append(defaults, d)
		}
	}
	if len(defaults) == 0 {
		return spec, false
	}
	out = spec.DeepCopy()
	apply := func(c *corev1.Container) {
		r := &c.Resources
		// The API server's defaulting of the Pod, before admission.
		for k, v := range r.Limits {
			if _, ok := r.Requests[k]; !ok {
				if r.Requests == nil {
					r.Requests = corev1.ResourceList{}
				}
				r.Requests[k] = v.DeepCopy()
				changed = true
			}
		}
		// LimitRanger, one LimitRange after the other.
		for _, d := range defaults {
			for k, v := range d.limits {
				if _, ok := r.Limits[k]; !ok {
					if r.Limits == nil {
						r.Limits = corev1.ResourceList{}
					}
					r.Limits[k] = v.DeepCopy()
					changed = true
				}
			}
			for k, v := range d.requests {
				if _, ok := r.Requests[k]; !ok {
					if r.Requests == nil {
						r.Requests = corev1.ResourceList{}
					}
					r.Requests[k] = v.DeepCopy()
					changed = true
				}
			}
		}
	}
	for i := range out.InitContainers {
		apply(&out.InitContainers[i])
	}
	for i := range out.Containers {
		apply(&out.Containers[i])
	}
	if !changed {
		return spec, false
	}
	return out, true
}
