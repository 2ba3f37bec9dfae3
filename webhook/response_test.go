package webhook

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// writeWire writes v as encoding/json would (its omitempty, null for nil
// slices and maps, HTML escaping, ...), with the v2 implementation: the
// reference the hand-written answer is held to.
func writeWire(w io.Writer, v any) error {
	return json.MarshalWrite(w, v, jsonv1.DefaultOptionsV1())
}

// TestResponseWriterMatchesEncoder: the hand-written answer is the
// encoder's, byte for byte, for admissions, warnings, denials and strings
// that need escaping (control characters, quotes, HTML characters,
// U+2028, invalid UTF-8).
func TestResponseWriterMatchesEncoder(t *testing.T) {
	tm := metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}
	odd := []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr\bbell\fform\x01\x1f", "<html> & co",
		"line\u2028sep\u2029", "bad \xff utf8 \xc3", "caf\u00e9 \u65e5\u672c \U0001F680", "\ufffd kept", "\x7f del"}
	patch := admissionv1.PatchTypeJSONPatch
	cases := []admissionv1.AdmissionResponse{
		{UID: "a", Allowed: true},
		{UID: "b", Allowed: true, Warnings: []string{"[image.tag-not-found] container \"app\": x:1 not found"},
			AuditAnnotations: map[string]string{"verdict": "warned", "mode": "warn", "findings": "a@b,c@d"}},
		{UID: "c", Allowed: false, Result: &metav1.Status{Message: "nobackoff: denied <b>", Reason: metav1.StatusReasonForbidden, Code: 403},
			AuditAnnotations: map[string]string{"verdict": "denied"}, Warnings: []string{"w"}},
		{UID: "d", Allowed: true, Patch: []byte(`[{"op":"add"}]`), PatchType: &patch},
		{UID: "e", Allowed: true, AuditAnnotations: map[string]string{}, Warnings: []string{}},
		{UID: "f", Allowed: true, Result: &metav1.Status{Code: 200}},
		{UID: "g", Allowed: false, Result: &metav1.Status{Status: metav1.StatusFailure, Message: "m", Reason: "R",
			Details: &metav1.StatusDetails{Name: "x"}, Code: 500}},
		{UID: "h", Allowed: false, Result: &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status"}, ListMeta: metav1.ListMeta{ResourceVersion: "1"}}},
		{UID: "i", Allowed: true, Result: &metav1.Status{}},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		pick := func() string { return odd[r.IntN(len(odd))] + odd[r.IntN(len(odd))] }
		c := admissionv1.AdmissionResponse{UID: types.UID("u\x00" + pick()), Allowed: r.IntN(2) == 0, AuditAnnotations: map[string]string{}}
		for range r.IntN(4) {
			c.Warnings = append(c.Warnings, pick())
		}
		for range r.IntN(4) {
			c.AuditAnnotations[pick()] = pick()
		}
		if r.IntN(3) == 0 {
			c.Result = &metav1.Status{Message: pick(), Reason: metav1.StatusReason(pick()), Status: pick(), Code: int32(r.IntN(3)) * 200}
		}
		cases = append(cases, c)
	}
	for i := range cases {
		var want bytes.Buffer
		if err := writeWire(&want, &admissionv1.AdmissionReview{TypeMeta: tm, Response: &cases[i]}); err != nil {
			t.Fatal(err)
		}
		got, err := appendReviewResponse(nil, tm, &cases[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, strings.TrimSpace(want.String()))
		}
	}
}

// TestOnePass: a review's workload objects are decoded in the review's one
// pass, into their kind's type; another kind's object stays raw.
func TestOnePass(t *testing.T) {
	for _, tc := range []struct {
		body       string
		object     bool
		oldObject  bool
		rawOptions bool
	}{
		{`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"apps","version":"v1","kind":"Deployment"},` +
			`"requestKind":{"group":"apps","version":"v1","kind":"Deployment"},"object":{"metadata":{"name":"a"}},"oldObject":{"metadata":{"name":"a"}},` +
			`"options":{"kind":"UpdateOptions"}}}`, true, true, true},
		{`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"ConfigMap"},"object":{"data":{}}}}`,
			false, false, false},
		// The request's kind after its object: read in the usual two passes.
		{`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":{"metadata":{"name":"a"}},` +
			`"kind":{"version":"v1","kind":"Pod"}}}`, false, false, false},
	} {
		review, err := unmarshalReview([]byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if (review.object != nil) != tc.object || (review.oldObject != nil) != tc.oldObject ||
			(len(review.Request.Options.Raw) > 0) != tc.rawOptions {
			t.Errorf("%s: object %T, oldObject %T, options %q", tc.body, review.object, review.oldObject, review.Request.Options.Raw)
		}
		if tc.object && len(review.Request.Object.Raw) > 0 {
			t.Errorf("%s: the object decoded in one pass is also kept raw", tc.body)
		}
	}
}
