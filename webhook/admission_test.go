package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/fixtures"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

var deploymentKind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
var podKind = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}

func reviewBody(t testing.TB, op admissionv1.Operation, kind metav1.GroupVersionKind, obj, old runtime.Object) []byte {
	t.Helper()
	raw := func(o runtime.Object) runtime.RawExtension {
		if o == nil {
			return runtime.RawExtension{}
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return runtime.RawExtension{Raw: b}
	}
	ns, name := "", ""
	if m, ok := obj.(metav1.Object); ok {
		ns, name = m.GetNamespace(), m.GetName()
	}
	r := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("7f0b2b4e-1d5c-4a57-9d0e-1c6f5d8e2a01"), Kind: kind, RequestKind: &kind,
			Namespace: ns, Name: name, Operation: op, Object: raw(obj), OldObject: raw(old), DryRun: ptr.To(false),
		},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newHandler(mode Mode, opts HandlerOptions) *Handler {
	return NewHandler(engine.New(policy.NewCatalog(policy.Options{})), mode, opts, NewMetrics(), nil)
}

// post sends a body to the handler and decodes the AdmissionResponse.
// serveReview posts an AdmissionReview body to a handler; safe from any
// goroutine.
func serveReview(h http.Handler, body []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	return rec
}

func post(t testing.TB, h http.Handler, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	rec := serveReview(h, body)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("response is not an AdmissionReview: %v", err)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response == nil {
		t.Fatalf("bad response envelope: %s", rec.Body)
	}
	if out.Response.UID != "7f0b2b4e-1d5c-4a57-9d0e-1c6f5d8e2a01" {
		t.Fatalf("response uid %q does not echo the request", out.Response.UID)
	}
	return out.Response
}

var warningID = regexp.MustCompile(`^\[([a-z0-9.-]+)\] `)

// warningIDs extracts the check IDs that lead each warning.
func warningIDs(t testing.TB, warnings []string) []string {
	t.Helper()
	var ids []string
	for _, w := range warnings {
		m := warningID.FindStringSubmatch(w)
		if m == nil {
			t.Fatalf("warning without a [check-id] prefix: %q", w)
		}
		ids = append(ids, m[1])
	}
	sort.Strings(ids)
	return ids
}

func TestWarnModeAllowsWithWarnings(t *testing.T) {
	resp := post(t, newHandler(Warn, HandlerOptions{}), reviewBody(t, admissionv1.Create, deploymentKind, fixtures.Deployment(), nil))
	if !resp.Allowed {
		t.Fatalf("warn mode denied: %+v", resp.Result)
	}
	got := warningIDs(t, resp.Warnings)
	want := []string{"image.invalid-reference", "probe.liveness-equals-readiness"} // info never reaches kubectl
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("warnings %v, want %v", got, want)
	}
	if resp.AuditAnnotations["verdict"] != verdictWarned || resp.AuditAnnotations["mode"] != "warn" {
		t.Errorf("audit annotations %v", resp.AuditAnnotations)
	}
	if !strings.Contains(resp.AuditAnnotations["findings"], "image.invalid-reference@spec.template.spec.containers[0].image") {
		t.Errorf("audit findings %q lack the invalid image", resp.AuditAnnotations["findings"])
	}
	if o := resp.AuditAnnotations["outcome"]; o != string(policy.InvalidImageName) {
		t.Errorf("audit outcome %q, want %s", o, policy.InvalidImageName)
	}
}

func TestEnforceModeDenies(t *testing.T) {
	resp := post(t, newHandler(Enforce, HandlerOptions{}), reviewBody(t, admissionv1.Create, deploymentKind, fixtures.Deployment(), nil))
	if resp.Allowed {
		t.Fatal("enforce mode allowed an object with an error-level finding")
	}
	if resp.Result == nil || resp.Result.Code != http.StatusForbidden {
		t.Fatalf("denial result %+v, want code 403", resp.Result)
	}
	// The denial names each error finding with its field path; warnings
	// carry the warning-level rest.
	if !strings.Contains(resp.Result.Message, "[image.invalid-reference]") ||
		!strings.Contains(resp.Result.Message, "spec.template.spec.containers[0].image") ||
		!strings.Contains(resp.Result.Message, "fix: ") {
		t.Errorf("denial message lacks check, field or fix: %q", resp.Result.Message)
	}
	if got := warningIDs(t, resp.Warnings); fmt.Sprint(got) != "[probe.liveness-equals-readiness]" {
		t.Errorf("warnings with a denial: %v", got)
	}
	if resp.AuditAnnotations["verdict"] != verdictDenied {
		t.Errorf("verdict %q", resp.AuditAnnotations["verdict"])
	}
}

func TestEnforceModeAllowsWarningsOnly(t *testing.T) {
	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
	resp := post(t, newHandler(Enforce, HandlerOptions{}), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
	if !resp.Allowed {
		t.Fatalf("denied without error findings: %v", resp.Result)
	}
	if got := warningIDs(t, resp.Warnings); fmt.Sprint(got) != "[probe.liveness-equals-readiness]" {
		t.Errorf("warnings %v", got)
	}
}

func TestDryRunAnsweredTheSame(t *testing.T) {
	var r admissionv1.AdmissionReview
	if err := json.Unmarshal(reviewBody(t, admissionv1.Create, deploymentKind, fixtures.Deployment(), nil), &r); err != nil {
		t.Fatal(err)
	}
	r.Request.DryRun = ptr.To(true)
	body, _ := json.Marshal(r)
	if resp := post(t, newHandler(Enforce, HandlerOptions{}), body); resp.Allowed {
		t.Fatal("dry-run review allowed where the real one is denied")
	}
}

func TestUpdateChecksOnlyChangedPodSpecs(t *testing.T) {
	old := fixtures.Deployment()
	scaled := fixtures.Deployment()
	scaled.Spec.Replicas = ptr.To[int32](5)
	scaled.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-11-22T00:00:00Z"}
	h := newHandler(Enforce, HandlerOptions{})
	if resp := post(t, h, reviewBody(t, admissionv1.Update, deploymentKind, scaled, old)); !resp.Allowed || len(resp.Warnings) > 0 {
		t.Fatalf("unchanged pod spec: allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
	}
	changed := fixtures.Deployment()
	changed.Spec.Template.Spec.Containers[1].Image = "envoyproxy/envoy:v1.32.0"
	if resp := post(t, h, reviewBody(t, admissionv1.Update, deploymentKind, changed, old)); resp.Allowed {
		t.Fatal("changed pod spec with an invalid image was allowed in enforce mode")
	}
}

func controllerOwnedPod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web-5d9c7-abcde", Namespace: "shop", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d9c7", UID: "u1", Controller: ptr.To(true),
		}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "NGINX:1.27"}}},
	}
}

func TestControllerOwnedPods(t *testing.T) {
	body := reviewBody(t, admissionv1.Create, podKind, controllerOwnedPod(), nil)
	if resp := post(t, newHandler(Enforce, HandlerOptions{}), body); !resp.Allowed || len(resp.Warnings) > 0 {
		t.Fatalf("controller-owned pod checked by default: allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
	}
	if resp := post(t, newHandler(Enforce, HandlerOptions{CheckControllerOwned: true}), body); resp.Allowed {
		t.Fatal("CheckControllerOwned did not check the pod")
	}
	bare := controllerOwnedPod()
	bare.OwnerReferences = nil
	if resp := post(t, newHandler(Enforce, HandlerOptions{}), reviewBody(t, admissionv1.Create, podKind, bare, nil)); resp.Allowed {
		t.Fatal("bare pod with an invalid image allowed in enforce mode")
	}
}

func TestNotCheckedRequests(t *testing.T) {
	h := newHandler(Enforce, HandlerOptions{})
	svc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: metav1.ObjectMeta{Name: "web"}}
	cases := map[string][]byte{
		"unknown kind": reviewBody(t, admissionv1.Create, metav1.GroupVersionKind{Version: "v1", Kind: "Service"}, svc, nil),
		"delete":       reviewBody(t, admissionv1.Delete, deploymentKind, fixtures.Deployment(), nil),
		"old version":  reviewBody(t, admissionv1.Create, metav1.GroupVersionKind{Group: "apps", Version: "v1beta1", Kind: "Deployment"}, fixtures.Deployment(), nil),
	}
	var sub admissionv1.AdmissionReview
	_ = json.Unmarshal(reviewBody(t, admissionv1.Update, deploymentKind, fixtures.Deployment(), fixtures.Deployment()), &sub)
	sub.Request.SubResource = "scale"
	cases["subresource"], _ = json.Marshal(sub)
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if resp := post(t, h, body); !resp.Allowed || len(resp.Warnings) > 0 {
				t.Fatalf("allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
			}
		})
	}
}

func TestSkipAnnotation(t *testing.T) {
	d := fixtures.Deployment()
	d.Annotations = map[string]string{policy.SkipAnnotation: "image.invalid-reference"}
	d.Spec.Template.Annotations = map[string]string{policy.SkipAnnotation: "probe.liveness-equals-readiness, image.mutable-tag"}
	resp := post(t, newHandler(Enforce, HandlerOptions{}), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
	if !resp.Allowed || len(resp.Warnings) > 0 {
		t.Fatalf("exempted findings still reported: allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
	}
	ex := resp.AuditAnnotations["exempted"]
	for _, id := range []string{"image.invalid-reference", "probe.liveness-equals-readiness", "image.mutable-tag"} {
		if !strings.Contains(ex, id+"@") {
			t.Errorf("audit exempted %q lacks %s", ex, id)
		}
	}

	d.Annotations[policy.SkipAnnotation] = "all"
	d.Spec.Template.Annotations = nil
	if resp := post(t, newHandler(Enforce, HandlerOptions{}), reviewBody(t, admissionv1.Create, deploymentKind, d, nil)); !resp.Allowed {
		t.Fatal("skip all did not exempt")
	}
}

func TestInvalidAnnotationsWarnNotDeny(t *testing.T) {
	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
	d.Spec.Template.Annotations = map[string]string{
		policy.SkipAnnotation:            "probe.liveness-equals-readiness,image.no-such-check",
		policy.ExpectedStartupAnnotation: "soon",
	}
	resp := post(t, newHandler(Enforce, HandlerOptions{}), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
	if !resp.Allowed {
		t.Fatalf("denied for a bad annotation: %v", resp.Result)
	}
	// The known ID still applies; both bad annotations are reported.
	if got := warningIDs(t, resp.Warnings); fmt.Sprint(got) != "[nobackoff nobackoff]" {
		t.Fatalf("warnings %v", got)
	}
	for i, field := range []string{
		"spec.template.metadata.annotations[nobackoff.io/skip]",
		"spec.template.metadata.annotations[nobackoff.io/expected-startup-seconds]",
	} {
		if !strings.Contains(resp.Warnings[i], field) {
			t.Errorf("warning %q does not name %s", resp.Warnings[i], field)
		}
	}
}

func TestWarningLimits(t *testing.T) {
	d := fixtures.Deployment()
	var cs []corev1.Container
	for i := range 60 {
		cs = append(cs, corev1.Container{Name: fmt.Sprintf("container-with-a-long-name-%02d-%s", i, strings.Repeat("x", 30)), Image: "NGINX:1",
			LivenessProbe: fixtures.SameProbe(), ReadinessProbe: fixtures.SameProbe()})
	}
	d.Spec.Template.Spec.Containers = cs
	resp := post(t, newHandler(Warn, HandlerOptions{}), reviewBody(t, admissionv1.Create, deploymentKind, d, nil))
	total := 0
	for _, w := range resp.Warnings {
		if len(w) > maxWarningLen {
			t.Errorf("warning of %d characters: %q", len(w), w)
		}
		if strings.ContainsAny(w, "\n\r") {
			t.Errorf("multi-line warning %q", w)
		}
		total += len(w)
	}
	if total > maxWarningsTotal {
		t.Errorf("warnings total %d characters, over %d", total, maxWarningsTotal)
	}
	// 120 findings (invalid image and identical probes per container) cannot
	// fit: the last warning counts the rest.
	last := resp.Warnings[len(resp.Warnings)-1]
	var more int
	if _, err := fmt.Sscanf(last, "[nobackoff] %d more findings", &more); err != nil {
		t.Fatalf("last warning %q does not count the overflow: %v", last, err)
	}
	if shown := len(resp.Warnings) - 1; shown+more != 120 {
		t.Errorf("%d shown + %d counted != 120 findings", shown, more)
	}
}

func TestMalformedRequests(t *testing.T) {
	h := newHandler(Warn, HandlerOptions{})
	cases := []struct {
		name, method, ctype, body string
		code                      int
	}{
		{"not json", http.MethodPost, "application/json", "hello", http.StatusBadRequest},
		{"empty", http.MethodPost, "application/json", "", http.StatusBadRequest},
		{"wrong kind", http.MethodPost, "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}`, http.StatusBadRequest},
		{"old version", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"1"}}`, http.StatusBadRequest},
		{"no request", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, http.StatusBadRequest},
		{"no uid", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`, http.StatusBadRequest},
		{"wrong type", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}}`, http.StatusBadRequest},
		{"yaml", http.MethodPost, "application/yaml", "apiVersion: v1", http.StatusUnsupportedMediaType},
		{"get", http.MethodGet, "", "", http.StatusMethodNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(c.method, "/validate/warn", strings.NewReader(c.body))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			h.ServeHTTP(rec, req)
			if rec.Code != c.code {
				t.Fatalf("status %d, want %d (%s)", rec.Code, c.code, rec.Body)
			}
			if !strings.HasPrefix(rec.Body.String(), "nobackoff: ") {
				t.Errorf("error body %q does not say who answered", rec.Body)
			}
		})
	}
}

// panicking is a check that fails the way a bug would.
type panicking struct{}

func (panicking) ID() policy.ID { return "test.panics" }

func (panicking) Check(context.Context, *policy.Pod) ([]policy.Finding, error) { panic("boom") }

// TestFailuresNeverDenyInWarnMode: a review that cannot be done is admitted
// with a warning in warn mode; in enforce mode the answer is an HTTP 500,
// so the API server applies the webhook's failurePolicy.
func TestFailuresNeverDenyInWarnMode(t *testing.T) {
	undecodable := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"7f0b2b4e-1d5c-4a57-9d0e-1c6f5d8e2a01",
		"kind":{"group":"apps","version":"v1","kind":"Deployment"},"operation":"CREATE","object":{"spec":{"replicas":"two"}}}}`)
	panicky := engine.New(policy.NewCatalogOf([]policy.Check{panicking{}}, nil))
	cases := map[string]struct {
		eng  *engine.Engine
		body []byte
	}{
		"undecodable object": {engine.New(policy.NewCatalog(policy.Options{})), undecodable},
		"panicking check":    {panicky, reviewBody(t, admissionv1.Create, deploymentKind, fixtures.Deployment(), nil)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			warn := NewHandler(c.eng, Warn, HandlerOptions{}, NewMetrics(), nil)
			resp := post(t, warn, c.body)
			if !resp.Allowed || fmt.Sprint(warningIDs(t, resp.Warnings)) != "[nobackoff]" {
				t.Fatalf("warn mode: allowed=%v warnings=%v", resp.Allowed, resp.Warnings)
			}
			rec := serveReview(NewHandler(c.eng, Enforce, HandlerOptions{}, NewMetrics(), nil), c.body)
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("enforce mode: HTTP %d, want 500 so that failurePolicy decides", rec.Code)
			}
		})
	}
}

func TestControllerOwnedWorkloads(t *testing.T) {
	owned := func(obj metav1.Object, apiVersion, kind string) {
		obj.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: "owner", UID: "u", Controller: ptr.To(true)}})
	}
	rs := fixtures.Deployment() // same shape as a ReplicaSet's spec
	rsKind := metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}
	owned(rs, "apps/v1", "Deployment")
	rs.Kind = "ReplicaSet"

	job := &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: metav1.ObjectMeta{Name: "report-123", Namespace: "shop"},
		Spec: batchv1.JobSpec{Template: fixtures.Deployment().Spec.Template}}
	owned(job, "batch/v1", "CronJob")
	jobKind := metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}

	operatorPod := controllerOwnedPod()
	owned(operatorPod, "kafka.strimzi.io/v1beta2", "StrimziPodSet")

	h := newHandler(Enforce, HandlerOptions{})
	if resp := post(t, h, reviewBody(t, admissionv1.Create, rsKind, rs, nil)); !resp.Allowed {
		t.Error("a Deployment's ReplicaSet was judged again (and denied)")
	}
	if resp := post(t, h, reviewBody(t, admissionv1.Create, jobKind, job, nil)); !resp.Allowed {
		t.Error("a CronJob's Job was judged again (and denied)")
	}
	if resp := post(t, h, reviewBody(t, admissionv1.Create, podKind, operatorPod, nil)); resp.Allowed {
		t.Error("a Pod of an operator's controller, never checked before, was skipped")
	}
}

func TestEphemeralContainers(t *testing.T) {
	old := controllerOwnedPod()
	old.OwnerReferences = nil // a running bare pod with an invalid image (checked at creation)
	updated := old.DeepCopy()
	updated.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "BUSYBOX"}}}
	var r admissionv1.AdmissionReview
	if err := json.Unmarshal(reviewBody(t, admissionv1.Update, podKind, updated, old), &r); err != nil {
		t.Fatal(err)
	}
	r.Request.SubResource = "ephemeralcontainers"
	body, _ := json.Marshal(r)
	resp := post(t, newHandler(Warn, HandlerOptions{}), body)
	got := resp.AuditAnnotations["findings"]
	if got != "image.invalid-reference@spec.ephemeralContainers[0].image" {
		t.Fatalf("findings %q: want only the new ephemeral container's", got)
	}
}

// TestOverLimitAdmission: the webhook does not check a workload over a
// limit; warn mode says so in a warning, enforce mode answers HTTP 500 so
// that the webhook's failurePolicy decides.
func TestOverLimitAdmission(t *testing.T) {
	d := fixtures.Deployment()
	d.Spec.Template.Spec.Containers[1].Image = strings.Repeat("x", workload.MaxImageBytes+1)
	body := reviewBody(t, admissionv1.Create, deploymentKind, d, nil)

	resp := post(t, newHandler(Warn, HandlerOptions{}), body)
	if !resp.Allowed || fmt.Sprint(warningIDs(t, resp.Warnings)) != "[nobackoff]" {
		t.Fatalf("warn mode: allowed=%v warnings=%v: want admitted with one not-checked warning", resp.Allowed, resp.Warnings)
	}
	if rec := serveReview(newHandler(Enforce, HandlerOptions{}), body); rec.Code != http.StatusInternalServerError {
		t.Fatalf("enforce mode: HTTP %d, want 500", rec.Code)
	}

	// An UPDATE that leaves such a pod spec as it is (labels, replicas) is
	// not checked, so the limits do not stand in its way.
	updated := d.DeepCopy()
	updated.Labels = map[string]string{"team": "shop"}
	update := reviewBody(t, admissionv1.Update, deploymentKind, updated, d)
	if rec := serveReview(newHandler(Enforce, HandlerOptions{}), update); rec.Code != http.StatusOK {
		t.Fatalf("enforce mode, unchanged spec: HTTP %d, want 200", rec.Code)
	}
	if resp := post(t, newHandler(Enforce, HandlerOptions{}), update); !resp.Allowed || len(resp.Warnings) != 0 {
		t.Fatalf("enforce mode, unchanged spec: allowed=%v warnings=%v: want admitted, not checked", resp.Allowed, resp.Warnings)
	}
}
