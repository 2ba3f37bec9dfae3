package audit

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	orfake "github.com/openreports/reports-api/pkg/client/clientset/versioned/fake"

	"github.com/nobackoff/nobackoff/policy"
)

func finding(ns, name string, check policy.ID, sev policy.Severity) found {
	return found{
		subject: corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name, UID: types.UID("uid-" + name)},
		f: policy.Finding{Check: check, Severity: sev, Field: "spec.template.spec.containers[0].image", Container: "app",
			Message: "gone", Fix: "push it"},
	}
}

// TestReportsFollowThePasses: each pass leaves one Report per namespace
// with findings, holding exactly them (fail for errors, warn for
// warnings), owned as told; a namespace whose findings are fixed loses
// its Report; a new leader reads what the Reports already say.
func TestReportsFollowThePasses(t *testing.T) {
	ctx := context.Background()
	reports := orfake.NewSimpleClientset()
	b := NewBackground(BackgroundOptions{Client: fake.NewClientset(), Reports: reports})
	b.owner = &metav1.OwnerReference{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration", Name: "nobackoff", UID: "vwc"}
	rules := func(ns string) []string {
		r, err := reports.OpenreportsV1alpha1().Reports(ns).Get(ctx, reportName, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		var out []string
		for _, res := range r.Results {
			out = append(out, res.Subjects[0].Name+" "+res.Rule+" "+string(res.Result)+" "+string(res.Severity))
		}
		slices.Sort(out)
		if len(r.OwnerReferences) != 1 || r.OwnerReferences[0].UID != "vwc" || r.Summary.Fail+r.Summary.Warn != len(out) {
			t.Errorf("Report %s: owners %v, summary %+v for %d results", ns, r.OwnerReferences, r.Summary, len(out))
		}
		return out
	}

	first := []found{
		finding("shop", "web", policy.ImageTagNotFound, policy.Error),
		finding("shop", "api", "config.configmap-not-found", policy.Warning),
		finding("team", "ledger", policy.ImageUnauthorized, policy.Error),
	}
	if err := b.writeReports(ctx, first, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, want := rules("shop"), []string{"api config.configmap-not-found warn medium", "web image.tag-not-found fail high"}; !slices.Equal(got, want) {
		t.Errorf("shop: %v, want %v", got, want)
	}
	if got := rules("team"); !slices.Equal(got, []string{"ledger image.unauthorized fail high"}) {
		t.Errorf("team: %v", got)
	}

	// A new leader knows what was said.
	seen := b.reported(ctx)
	for _, f := range first {
		if !seen[f.key()] {
			t.Errorf("reported() misses %s", f.key())
		}
	}

	// Next pass: web fixed, team clean.
	if err := b.writeReports(ctx, first[1:2], time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := rules("shop"); !slices.Equal(got, []string{"api config.configmap-not-found warn medium"}) {
		t.Errorf("shop after web was fixed: %v", got)
	}
	if _, err := reports.OpenreportsV1alpha1().Reports("team").Get(ctx, reportName, metav1.GetOptions{}); err == nil {
		t.Error("team's Report stays with nothing to report")
	}
}

// TestEventsOncePerFinding: an Event for each finding not seen in the
// last pass, none for one already seen.
func TestEventsOncePerFinding(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	b := NewBackground(BackgroundOptions{Client: client, Events: true, Identity: "replica-0"})
	web := finding("shop", "web", policy.ImageTagNotFound, policy.Error)
	api := finding("shop", "api", "config.configmap-not-found", policy.Warning)
	b.seen = map[string]bool{api.key(): true}
	b.recordEvents(ctx, []found{web, api})
	list, err := client.EventsV1().Events("shop").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("%d Events, want 1 (web's)", len(list.Items))
	}
	e := list.Items[0]
	if e.Reason != string(policy.ImageTagNotFound) || e.Type != corev1.EventTypeWarning || e.Regarding.Name != "web" ||
		e.ReportingController != eventController || e.ReportingInstance != "replica-0" || e.Action == "" || e.EventTime.IsZero() {
		t.Errorf("Event %+v", e)
	}
}

// TestUnsureKeepsImageFindings: a workload whose lookups were inconclusive
// keeps the image findings of the last pass; its other findings are this
// pass's.
func TestUnsureKeepsImageFindings(t *testing.T) {
	b := NewBackground(BackgroundOptions{Client: fake.NewClientset()})
	tag := finding("shop", "web", policy.ImageTagNotFound, policy.Error)
	heap := finding("shop", "web", policy.ResourcesHeapExceedsLimit, policy.Error)
	other := finding("shop", "api", policy.ImageTagNotFound, policy.Error)
	b.last = map[string][]found{tag.workload(): {tag, heap}, other.workload(): {other}}
	got := b.keepWhereUnsure(nil, map[string]bool{tag.workload(): true})
	if len(got) != 1 || got[0].key() != tag.key() {
		t.Errorf("kept %v, want only web's %s", got, policy.ImageTagNotFound)
	}
	if got := b.keepWhereUnsure([]found{tag}, map[string]bool{tag.workload(): true}); len(got) != 1 {
		t.Errorf("a finding seen again is kept twice: %v", got)
	}
	if got := b.keepWhereUnsure(nil, nil); len(got) != 0 {
		t.Errorf("kept %v with nothing unsure", got)
	}
}
