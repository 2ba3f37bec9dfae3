package policy

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// rl builds a resource list from name, quantity pairs.
func nsList(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// res builds a container's resources.
func nsRes(requests, limits corev1.ResourceList) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: requests, Limits: limits}
}

// limitRange is a LimitRange of the given items.
func nsLimitRange(name string, items ...corev1.LimitRangeItem) *corev1.LimitRange {
	lr := &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: items}}
	lr.Name = name
	return lr
}

// sameList compares resource lists by value, nil and empty alike.
func nsSameList(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

func TestApplyLimitRangeDefaults(t *testing.T) {
	container := corev1.LimitTypeContainer
	tests := []struct {
		name    string
		in      corev1.ResourceRequirements
		ranges  []*corev1.LimitRange
		want    corev1.ResourceRequirements
		changed bool
	}{
		{"no ranges", nsRes(nil, nil), nil, nsRes(nil, nil), false},
		{"a default limit is also the request",
			nsRes(nil, nil),
			[]*corev1.LimitRange{nsLimitRange("lr", corev1.LimitRangeItem{Type: container, Default: nsList("memory", "512Mi")})},
			nsRes(nsList("memory", "512Mi"), nsList("memory", "512Mi")), true},
		{"default and defaultRequest",
			nsRes(nil, nil),
			[]*corev1.LimitRange{nsLimitRange("lr", corev1.LimitRangeItem{Type: container,
				Default: nsList("memory", "512Mi", "cpu", "1"), DefaultRequest: nsList("memory", "256Mi", "cpu", "100m")})},
			nsRes(nsList("memory", "256Mi", "cpu", "100m"), nsList("memory", "512Mi", "cpu", "1")), true},
		{"a limit set is the request, not the defaultRequest",
			nsRes(nil, nsList("memory", "1Gi")),
			[]*corev1.LimitRange{nsLimitRange("lr", corev1.LimitRangeItem{Type: container,
				Default: nsList("memory", "512Mi"), DefaultRequest: nsList("memory", "256Mi")})},
			nsRes(nsList("memory", "1Gi"), nsList("memory", "1Gi")), true},
		{"a request set keeps, the limit is defaulted",
			nsRes(nsList("memory", "128Mi"), nil),
			[]*corev1.LimitRange{nsLimitRange("lr", corev1.LimitRangeItem{Type: container, Default: nsList("memory", "512Mi")})},
			nsRes(nsList("memory", "128Mi"), nsList("memory", "512Mi")), true},
		{"max stands in for default",
			nsRes(nil, nil),
			[]*corev1.LimitRange{nsLimitRange("lr", corev1.LimitRangeItem{Type: container, Max: nsList("memory", "2Gi")})},
			nsRes(nsList("memory", "2Gi"), nsList("memory", "2Gi")), true},
		{"min stands in for defaultRequest",
			nsRes(nil, nil),
			[]*corev1.LimitRange{nsLimitRange("lr", corev1.LimitRangeItem{Type: container, Min: nsList("cpu", "50m")})},
			nsRes(nsList("cpu", "50m"), nil), true},
		{"default wins over min for the request",
			nsRes(nil, nil),
			[]*corev1.LimitRange{nsLimitRange("lr", corev1.LimitRangeItem{Type: container, Min: nsList("cpu", "50m"), Default: nsList("cpu", "1")})},
			nsRes(nsList("cpu", "1"), nsList("cpu", "1")), true},
		{"Pod items set no default",
			nsRes(nil, nil),
			[]*corev1.LimitRange{nsLimitRange("lr", corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: nsList("memory", "2Gi")})},
			nsRes(nil, nil), false},
		{"the first range wins",
			nsRes(nil, nil),
			[]*corev1.LimitRange{
				nsLimitRange("a", corev1.LimitRangeItem{Type: container, Default: nsList("memory", "1Gi")}),
				nsLimitRange("b", corev1.LimitRangeItem{Type: container, Default: nsList("memory", "2Gi", "cpu", "1")}),
			},
			nsRes(nsList("memory", "1Gi", "cpu", "1"), nsList("memory", "1Gi", "cpu", "1")), true},
		{"everything set already",
			nsRes(nsList("memory", "1Gi"), nsList("memory", "1Gi")),
			[]*corev1.LimitRange{nsLimitRange("lr", corev1.LimitRangeItem{Type: container, Default: nsList("memory", "512Mi")})},
			nsRes(nsList("memory", "1Gi"), nsList("memory", "1Gi")), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init", Resources: *tc.in.DeepCopy()}},
				Containers:     []corev1.Container{{Name: "app", Resources: *tc.in.DeepCopy()}},
				EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug"}}},
			}
			before := spec.DeepCopy()
			var rangesBefore []*corev1.LimitRange
			for _, r := range tc.ranges {
				rangesBefore = append(rangesBefore, r.DeepCopy())
			}
			out, changed := ApplyLimitRangeDefaults(spec, tc.ranges)
			if changed != tc.changed {
				t.Errorf("changed = %v, want %v", changed, tc.changed)
			}
			if !reflect.DeepEqual(spec, before) {
				t.Errorf("the input spec was modified: %+v", spec)
			}
			if !reflect.DeepEqual(tc.ranges, rangesBefore) {
				t.Errorf("the ranges were modified")
			}
			if !changed && out != spec {
				t.Errorf("unchanged, yet a copy was returned")
			}
			if changed && out == spec {
				t.Errorf("changed, yet the input was returned")
			}
			for _, c := range []corev1.Container{out.InitContainers[0], out.Containers[0]} {
				if !nsSameList(c.Resources.Requests, tc.want.Requests) || !nsSameList(c.Resources.Limits, tc.want.Limits) {
					t.Errorf("%s: resources = %v / %v, want %v / %v", c.Name,
						c.Resources.Requests, c.Resources.Limits, tc.want.Requests, tc.want.Limits)
				}
			}
			if e := out.EphemeralContainers[0].Resources; len(e.Requests)+len(e.Limits) != 0 {
				t.Errorf("the ephemeral container was defaulted: %+v", e)
			}
		})
	}
}

func TestApplyLimitRangeDefaultsNil(t *testing.T) {
	if out, changed := ApplyLimitRangeDefaults(nil, []*corev1.LimitRange{nil}); out != nil || changed {
		t.Errorf("nil spec: %v, %v", out, changed)
	}
}
