package policy

import (
	"context"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// fakeNamespaceView is a SchedulingView of a namespace's quotas and limit
// ranges; it knows no nodes.
type fakeNamespaceView struct {
	quotas        []*corev1.ResourceQuota
	ranges        []*corev1.LimitRange
	quotasUnknown bool
	rangesUnknown bool
}

func (f *fakeNamespaceView) Nodes() ([]*corev1.Node, bool) { return nil, false }

func (f *fakeNamespaceView) Quotas() ([]*corev1.ResourceQuota, bool) {
	return f.quotas, !f.quotasUnknown
}

func (f *fakeNamespaceView) LimitRanges() ([]*corev1.LimitRange, bool) {
	return f.ranges, !f.rangesUnknown
}

// quota is a ResourceQuota with spec.hard and status.used.
func nsQuota(name string, hard, used corev1.ResourceList) *corev1.ResourceQuota {
	q := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: hard}, Status: corev1.ResourceQuotaStatus{Hard: hard, Used: used}}
	q.Name = name
	return q
}

// nsWant is what a namespace-check test compares of a finding.
type nsWant struct {
	sev       Severity
	field     string
	container string
}

// nsCase is one table entry: a spec, the namespace, the findings wanted,
// and a text some finding's message holds.
type nsCase struct {
	name     string
	spec     corev1.PodSpec
	view     *fakeNamespaceView // nil: nothing known
	bare     bool               // a Pod, not a workload template
	want     []nsWant
	contains string
}

func runNamespaceCases(t *testing.T, id ID, cases []nsCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pod{Spec: &tc.spec, Path: tmpl, Workload: !tc.bare}
			if tc.bare {
				p.Path = "spec"
			}
			if tc.view != nil {
				p.Scheduling = tc.view
				// As the engine does before any check.
				if ranges, ok := tc.view.LimitRanges(); ok && len(ranges) > 0 {
					if spec, changed := ApplyLimitRangeDefaults(p.Spec, ranges); changed {
						p.Spec, p.Written = spec, p.Spec
					}
				}
			}
			before := tc.spec.DeepCopy()
			fs := run(t, Options{}, id, p)
			var got []nsWant
			for _, f := range fs {
				got = append(got, nsWant{f.Severity, f.Field, f.Container})
				if f.Check != id || f.Outcome != FailedCreate || f.Message == "" || f.Fix == "" {
					t.Errorf("finding %+v: want check %s, outcome FailedCreate, a message and a fix", f, id)
				}
				if f.Container != "" {
					if img, ok := imageOf(p, f.Container); !ok || img != f.Image {
						t.Errorf("finding names container %q image %q, not the pod's", f.Container, f.Image)
					}
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("findings:\n got  %v\n want %v\n%+v", got, tc.want, fs)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("finding %d:\n got  %v\n want %v", i, got[i], tc.want[i])
				}
			}
			if tc.contains != "" {
				found := false
				for _, f := range fs {
					found = found || strings.Contains(f.Message, tc.contains)
				}
				if !found {
					t.Errorf("no message holds %q: %+v", tc.contains, fs)
				}
			}
			if !reflect.DeepEqual(&tc.spec, before) {
				t.Errorf("the check modified the spec")
			}
		})
	}
}

func nsContainer(name string, r corev1.ResourceRequirements) corev1.Container {
	return corev1.Container{Name: name, Image: "registry.example.com/" + name + ":1", Resources: r}
}

func nsSidecar(name string, r corev1.ResourceRequirements) corev1.Container {
	c := nsContainer(name, r)
	c.RestartPolicy = &always
	return c
}

func TestQuotaMustSpecify(t *testing.T) {
	memQuota := func() *fakeNamespaceView {
		return &fakeNamespaceView{quotas: []*corev1.ResourceQuota{nsQuota("mem", nsList("limits.memory", "8Gi"), nsList("limits.memory", "1Gi"))}}
	}
	withDefault := memQuota()
	withDefault.ranges = []*corev1.LimitRange{nsLimitRange("defaults", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: nsList("memory", "512Mi")})}
	scoped := nsQuota("scoped", nsList("limits.memory", "8Gi"), nil)
	scoped.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort}
	selected := nsQuota("selected", nsList("limits.memory", "8Gi"), nil)
	selected.Spec.ScopeSelector = &corev1.ScopeSelector{}
	noMem := corev1.PodSpec{
		InitContainers: []corev1.Container{nsSidecar("sidecar", nsRes(nil, nil))},
		Containers:     []corev1.Container{nsContainer("app", nsRes(nsList("memory", "256Mi"), nil)), nsContainer("web", memLimit("1Gi"))},
	}
	runNamespaceCases(t, QuotaMustSpecify, []nsCase{
		{name: "nothing known", spec: noMem},
		{name: "quotas unknown", spec: noMem, view: &fakeNamespaceView{quotasUnknown: true, quotas: memQuota().quotas}},
		{name: "no quota", spec: noMem, view: &fakeNamespaceView{}},
		{name: "limits.memory missing on two containers", spec: noMem, view: memQuota(),
			want:     []nsWant{{Error, tmpl + ".initContainers[0].resources.limits.memory", "sidecar"}},
			contains: "failed quota: mem: must specify limits.memory for: app,sidecar"},
		{name: "a bare Pod is rejected at creation", spec: noMem, view: memQuota(), bare: true,
			want:     []nsWant{{Error, "spec.initContainers[0].resources.limits.memory", "sidecar"}},
			contains: "the API server rejects the Pod"},
		{name: "a LimitRange default supplies the limit", spec: noMem, view: withDefault},
		{name: "every container sets it", view: memQuota(), spec: corev1.PodSpec{
			Containers: []corev1.Container{nsContainer("app", memLimit("1Gi")), nsContainer("web", memLimit("2Gi"))}}},
		{name: "a limit stands for the request", spec: corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", memLimit("1Gi"))}},
			view: &fakeNamespaceView{quotas: []*corev1.ResourceQuota{nsQuota("q", nsList("requests.memory", "8Gi", "memory", "8Gi"), nil)}}},
		{name: "a request does not stand for the limit", spec: corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", nsRes(nsList("cpu", "1"), nil))}},
			view: &fakeNamespaceView{quotas: []*corev1.ResourceQuota{nsQuota("cpu", nsList("cpu", "10", "limits.cpu", "20"), nil)}},
			want: []nsWant{{Error, tmpl + ".containers[0].resources.limits.cpu", "app"}}, contains: "must specify limits.cpu for: app"},
		{name: "plain cpu means its request", spec: corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", memLimit("1Gi"))}},
			view: &fakeNamespaceView{quotas: []*corev1.ResourceQuota{nsQuota("cpu", nsList("cpu", "10"), nil)}},
			want: []nsWant{{Error, tmpl + ".containers[0].resources.requests.cpu", "app"}}, contains: "must specify cpu for: app"},
		{name: "two resources, two quotas", spec: corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", nsRes(nil, nil))}},
			view: &fakeNamespaceView{quotas: []*corev1.ResourceQuota{
				nsQuota("a", nsList("requests.cpu", "10", "requests.memory", "10Gi"), nil), nsQuota("b", nsList("limits.memory", "10Gi"), nil)}},
			want:     []nsWant{{Error, tmpl + ".containers[0].resources.requests.cpu", "app"}, {Error, tmpl + ".containers[0].resources.limits.memory", "app"}},
			contains: "must specify requests.cpu for: app; requests.memory for: app"},
		{name: "scoped quotas are not judged", spec: noMem,
			view: &fakeNamespaceView{quotas: []*corev1.ResourceQuota{scoped, selected}}},
		{name: "quotas on other resources ask nothing", spec: noMem,
			view: &fakeNamespaceView{quotas: []*corev1.ResourceQuota{nsQuota("n", nsList("pods", "10", "requests.nvidia.com/gpu", "2", "requests.storage", "1Ti"), nil)}}},
		{name: "ephemeral containers are not counted", view: memQuota(), spec: corev1.PodSpec{
			Containers: []corev1.Container{nsContainer("app", memLimit("1Gi"))},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox:1"}}}}},
	})
}

func TestQuotaExceeded(t *testing.T) {
	q := func(name string, hard, used corev1.ResourceList) *fakeNamespaceView {
		return &fakeNamespaceView{quotas: []*corev1.ResourceQuota{nsQuota(name, hard, used)}}
	}
	one := func(r corev1.ResourceRequirements) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", r)}}
	}
	gpu := corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", memLimit("1Gi")), nsContainer("cuda", nsRes(nil, nsList("nvidia.com/gpu", "2")))}}
	defaulted := q("req", nsList("requests.memory", "512Mi"), nil)
	defaulted.ranges = []*corev1.LimitRange{nsLimitRange("defaults", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: nsList("memory", "1Gi")})}
	runNamespaceCases(t, QuotaExceeded, []nsCase{
		{name: "nothing known", spec: one(memLimit("2Gi"))},
		{name: "fits", spec: one(memLimit("1Gi")), view: q("q", nsList("limits.memory", "8Gi"), nsList("limits.memory", "7Gi"))},
		{name: "exceeds what is left", spec: one(memLimit("2Gi")), view: q("q", nsList("limits.memory", "8Gi"), nsList("limits.memory", "7Gi")),
			want:     []nsWant{{Warning, tmpl + ".containers[0].resources.limits.memory", "app"}},
			contains: "exceeded quota: q, requested: limits.memory=2Gi, used: limits.memory=7Gi, limited: limits.memory=8Gi"},
		{name: "never fits", spec: one(memLimit("10Gi")), view: q("q", nsList("limits.memory", "8Gi"), nil),
			want: []nsWant{{Error, tmpl + ".containers[0].resources.limits.memory", "app"}}, contains: "used: limits.memory=0"},
		{name: "a bare Pod", spec: one(memLimit("10Gi")), view: q("q", nsList("limits.memory", "8Gi"), nil), bare: true,
			want: []nsWant{{Error, "spec.containers[0].resources.limits.memory", "app"}}, contains: "rejects the Pod"},
		{name: "the requests of all containers", view: q("q", nsList("requests.memory", "1Gi"), nsList("requests.memory", "0")),
			spec: corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", nsRes(nsList("memory", "600Mi"), nil)), nsContainer("web", nsRes(nsList("memory", "600Mi"), nil))}},
			want: []nsWant{{Error, tmpl + ".containers[0].resources.requests.memory", "app"}}},
		{name: "the pods quota is full", spec: one(memLimit("1Gi")), view: q("count", nsList("pods", "10"), nsList("pods", "10")),
			want: []nsWant{{Warning, tmpl, ""}}, contains: "requested: pods=1, used: pods=10, limited: pods=10"},
		{name: "no pods at all", spec: one(memLimit("1Gi")), view: q("none", nsList("count/pods", "0"), nil),
			want: []nsWant{{Error, tmpl, ""}}},
		{name: "an extended resource", spec: gpu, view: q("gpu", nsList("requests.nvidia.com/gpu", "2"), nsList("requests.nvidia.com/gpu", "1")),
			want: []nsWant{{Warning, tmpl + ".containers[1].resources.limits.nvidia.com/gpu", "cuda"}}},
		{name: "the field is where the spec as written sets it", spec: gpu, view: func() *fakeNamespaceView {
			v := q("gpu", nsList("requests.nvidia.com/gpu", "2"), nsList("requests.nvidia.com/gpu", "1"))
			v.ranges = []*corev1.LimitRange{nsLimitRange("defaults", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Default: nsList("cpu", "1")})}
			return v
		}(), want: []nsWant{{Warning, tmpl + ".containers[1].resources.limits.nvidia.com/gpu", "cuda"}}},
		{name: "a LimitRange default counts", spec: one(nsRes(nil, nil)), view: defaulted,
			want: []nsWant{{Error, tmpl + ".containers[0].resources.requests.memory", "app"}}},
		{name: "scoped quotas are not judged", spec: one(memLimit("10Gi")), view: func() *fakeNamespaceView {
			v := q("q", nsList("limits.memory", "8Gi"), nil)
			v.quotas[0].Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
			return v
		}()},
		{name: "resources the pod does not ask are not judged", spec: one(memLimit("1Gi")),
			view: q("q", nsList("requests.storage", "1Gi", "limits.cpu", "1"), nsList("requests.storage", "5Gi", "limits.cpu", "3"))},
	})
}

func TestLimitRangeViolated(t *testing.T) {
	ct := corev1.LimitTypeContainer
	view := func(items ...corev1.LimitRangeItem) *fakeNamespaceView {
		return &fakeNamespaceView{ranges: []*corev1.LimitRange{nsLimitRange("limits", items...)}}
	}
	one := func(r corev1.ResourceRequirements) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", r)}}
	}
	runNamespaceCases(t, LimitRangeViolated, []nsCase{
		{name: "nothing known", spec: one(memLimit("2Gi"))},
		{name: "ranges unknown", spec: one(memLimit("2Gi")), view: &fakeNamespaceView{rangesUnknown: true,
			ranges: view(corev1.LimitRangeItem{Type: ct, Max: nsList("memory", "1Gi")}).ranges}},
		{name: "limit above max", spec: one(memLimit("2Gi")), view: view(corev1.LimitRangeItem{Type: ct, Max: nsList("memory", "1Gi")}),
			want:     []nsWant{{Error, tmpl + ".containers[0].resources.limits.memory", "app"}},
			contains: "maximum memory usage per Container is 1Gi, but limit is 2Gi (LimitRange limits)"},
		{name: "a bare Pod", spec: one(memLimit("2Gi")), view: view(corev1.LimitRangeItem{Type: ct, Max: nsList("memory", "1Gi")}), bare: true,
			want: []nsWant{{Error, "spec.containers[0].resources.limits.memory", "app"}}, contains: "the API server rejects the Pod"},
		{name: "no limit takes max as default", spec: one(nsRes(nil, nil)), view: view(corev1.LimitRangeItem{Type: ct, Max: nsList("memory", "1Gi")})},
		{name: "a request above max", spec: one(nsRes(nsList("memory", "2Gi"), nil)), view: view(corev1.LimitRangeItem{Type: ct, Max: nsList("memory", "1Gi")}),
			want: []nsWant{{Error, tmpl + ".containers[0].resources.requests.memory", "app"}}, contains: "but request is 2Gi"},
		{name: "request below min", spec: one(nsRes(nsList("cpu", "50m"), nil)), view: view(corev1.LimitRangeItem{Type: ct, Min: nsList("cpu", "100m")}),
			want: []nsWant{{Error, tmpl + ".containers[0].resources.requests.cpu", "app"}}, contains: "minimum cpu usage per Container is 100m, but request is 50m"},
		{name: "within min and max", spec: one(nsRes(nsList("cpu", "200m"), nsList("cpu", "1"))),
			view: view(corev1.LimitRangeItem{Type: ct, Min: nsList("cpu", "100m"), Max: nsList("cpu", "2")})},
		{name: "ratio too high", spec: one(nsRes(nsList("cpu", "100m"), nsList("cpu", "1"))), view: view(corev1.LimitRangeItem{Type: ct, MaxLimitRequestRatio: nsList("cpu", "2")}),
			want: []nsWant{{Error, tmpl + ".containers[0].resources.limits.cpu", "app"}}, contains: "cpu max limit to request ratio per Container is 2, but provided ratio is 10.00"},
		{name: "ratio with nothing set", spec: one(nsRes(nil, nil)), view: view(corev1.LimitRangeItem{Type: ct, MaxLimitRequestRatio: nsList("cpu", "2")}),
			want: []nsWant{{Error, tmpl + ".containers[0].resources.requests.cpu", "app"}}, contains: "no request is specified"},
		{name: "ratio within", spec: one(nsRes(nsList("cpu", "500m"), nsList("cpu", "1"))), view: view(corev1.LimitRangeItem{Type: ct, MaxLimitRequestRatio: nsList("cpu", "2")})},
		{name: "init containers are held to it", view: view(corev1.LimitRangeItem{Type: ct, Max: nsList("memory", "1Gi")}),
			spec: corev1.PodSpec{InitContainers: []corev1.Container{nsContainer("migrate", memLimit("4Gi"))}, Containers: []corev1.Container{nsContainer("app", memLimit("1Gi"))}},
			want: []nsWant{{Error, tmpl + ".initContainers[0].resources.limits.memory", "migrate"}}},
		{name: "ephemeral containers are not", view: view(corev1.LimitRangeItem{Type: ct, Max: nsList("memory", "1Gi")}),
			spec: corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", memLimit("1Gi"))},
				EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug", Image: "busybox:1", Resources: memLimit("4Gi")}}}}},
		{name: "the pod's sum above a Pod max", view: view(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: nsList("memory", "1Gi")}),
			spec: corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", memLimit("512Mi")), nsContainer("web", memLimit("768Mi"))}},
			want: []nsWant{{Error, tmpl + ".containers[0].resources.limits.memory", "app"}}, contains: "maximum memory usage per Pod is 1Gi, but limit is"},
		{name: "a Pod max with a container without limit", view: view(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: nsList("memory", "1Gi")}),
			spec: corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", memLimit("512Mi")), nsContainer("web", nsRes(nil, nil))}},
			want: []nsWant{{Error, tmpl + ".containers[1].resources.limits.memory", "web"}}, contains: "No limit is specified"},
		{name: "a Pod max met", view: view(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: nsList("memory", "1Gi")}),
			spec: corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", memLimit("512Mi")), nsContainer("web", memLimit("512Mi"))}}},
		{name: "a Pod max met with a Container default", view: view(
			corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: nsList("memory", "1Gi")},
			corev1.LimitRangeItem{Type: ct, Default: nsList("memory", "256Mi")}),
			spec: corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", memLimit("512Mi")), nsContainer("web", nsRes(nil, nil))}}},
		{name: "a Pod min with nothing requested", view: view(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Min: nsList("cpu", "100m")}),
			spec: one(memLimit("1Gi")),
			want: []nsWant{{Error, tmpl + ".containers[0].resources.requests.cpu", "app"}}, contains: "minimum cpu usage per Pod is 100m. No request is specified"},
		{name: "an empty pod against a Pod min", view: view(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Min: nsList("cpu", "100m")}),
			spec: corev1.PodSpec{Containers: []corev1.Container{}, InitContainers: []corev1.Container{}},
			want: []nsWant{{Error, tmpl, ""}}},
		{name: "an init container's peak counts for a Pod max", view: view(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: nsList("memory", "1Gi")}),
			spec: corev1.PodSpec{InitContainers: []corev1.Container{nsContainer("migrate", memLimit("2Gi"))}, Containers: []corev1.Container{nsContainer("app", memLimit("512Mi"))}},
			want: []nsWant{{Error, tmpl + ".initContainers[0].resources.limits.memory", "migrate"}}},
	})
}

// The namespace checks as the catalog test drives them: the good pod of
// TestEveryCheckFailsAndPasses (one container "app" with a 1Gi memory
// limit) fails each under its namespace, once.
func TestNamespaceChecksOnTheCatalogPod(t *testing.T) {
	views := map[ID]*fakeNamespaceView{
		QuotaMustSpecify: {quotas: []*corev1.ResourceQuota{nsQuota("cpu", nsList("limits.cpu", "4"), nil)}},
		QuotaExceeded:    {quotas: []*corev1.ResourceQuota{nsQuota("mem", nsList("limits.memory", "8Gi"), nsList("limits.memory", "7500Mi"))}},
		LimitRangeViolated: {ranges: []*corev1.LimitRange{nsLimitRange("small",
			corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: nsList("memory", "512Mi")})}},
	}
	for id, v := range views {
		p := podOf(corev1.PodSpec{Containers: []corev1.Container{nsContainer("app", memLimit("1Gi"))}})
		p.Workload = true
		if fs := run(t, Options{}, id, p); len(fs) != 0 {
			t.Errorf("%s without a namespace view: %+v", id, fs)
		}
		p.Scheduling = v
		fs := run(t, Options{}, id, p)
		if len(fs) != 1 || fs[0].Container != "app" || fs[0].Outcome != FailedCreate {
			t.Errorf("%s: %+v, want one finding on app", id, fs)
		}
	}
}

func TestNamespaceChecksInTheCatalog(t *testing.T) {
	known := NewCatalog(Options{}).Known()
	for _, id := range []ID{QuotaMustSpecify, QuotaExceeded, LimitRangeViolated} {
		if !known[id] {
			t.Errorf("the catalog lacks %s", id)
		}
	}
	// Nothing known of the namespace: nothing said.
	for _, ch := range namespaceChecks() {
		fs, err := ch.Check(context.Background(), podOf(richSpec()))
		if err != nil || len(fs) != 0 {
			t.Errorf("%s without a view: %v, %v", ch.ID(), fs, err)
		}
	}
}
