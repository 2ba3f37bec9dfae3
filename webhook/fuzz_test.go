package webhook

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

// FuzzReadReview feeds arbitrary bodies to the AdmissionReview decoder and
// what decodes to the review a warn-mode handler makes of it.
func FuzzReadReview(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "testdata", "admission", "deployment-create.json")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"", "hello", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"UPDATE","subResource":"ephemeralcontainers",` +
			`"object":{"spec":{"containers":[{"name":"a","image":"nginx"}],"ephemeralContainers":[{"name":"d","image":"busybox"}]}},"oldObject":{"spec":{"containers":[{"name":"a","image":"nginx"}]}}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"apps","version":"v1","kind":"Deployment"},"operation":"CREATE",` +
			`"object":{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"x","uid":"y","controller":true}]},"spec":{"replicas":"two"}}}}`,
		// The request's kind read by hand: a number, a null, an unknown
		// name, a second kind.
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"apps","version":"v1","kind":5},"object":{}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":null,"version":"v1","kind":"Pod","x":[1]},"kind":{"version":"v1","kind":"Job"},"object":{"spec":{}}}}`,
	} {
		f.Add([]byte(s))
	}
	h := NewHandler(engine.New(policy.NewCatalog(policy.Options{})), Warn, HandlerOptions{CheckControllerOwned: true}, nil, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		review, err := readReview(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			return
		}
		if review.Request == nil || review.Request.UID == "" ||
			review.GroupVersionKind() != admissionv1.SchemeGroupVersion.WithKind("AdmissionReview") {
			t.Fatalf("accepted review %+v", review)
		}
		// An object decoded in the review's one pass is the object the
		// two passes decode.
		if review.object != nil {
			var twoPass admissionv1.AdmissionReview
			if err := workload.UnmarshalWire(body, &twoPass); err != nil {
				t.Fatalf("one pass read what two passes refuse: %v", err)
			}
			gvk := schema.GroupVersionKind{Group: twoPass.Request.Kind.Group, Version: twoPass.Request.Kind.Version, Kind: twoPass.Request.Kind.Kind}
			obj := workload.NewObject(gvk)
			if err := workload.UnmarshalWire(twoPass.Request.Object.Raw, obj); err != nil {
				t.Fatalf("one pass decoded an object two passes refuse: %v", err)
			}
			if !equality.Semantic.DeepEqual(review.object, obj) {
				t.Fatalf("one pass decoded %+v, two passes %+v", review.object, obj)
			}
		}
		// review, not safeHandle: a panic must fail here, not be turned
		// into an error.
		resp, err := h.review(context.Background(), admission.Request{AdmissionRequest: *review.Request}, review)
		if err == nil && !resp.Allowed {
			t.Fatalf("warn mode denied: %+v", resp.Result)
		}
	})
}
