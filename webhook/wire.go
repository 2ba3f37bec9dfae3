package webhook

import (
	"errors"
	"io"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/nobackoff/nobackoff/internal/workload"
)

// The admission path reads JSON with the encoding/json v2 implementation:
// the API server sends reviews it serialized itself (canonical field
// names, valid UTF-8, no duplicate names), and v2 decodes them at under
// half the CPU of encoding/json, without its separate validation scan.
// Names match exactly, as the API server's own decoder matches them;
// unknown fields are ignored. The options (workload.WireOptions) are the
// workload decoder's, which reads the objects a review carries the same
// way. Manifests read by the CLI keep the API server's strict decoder
// (sigs.k8s.io/json), whose errors name the field as kubectl would.

// writeWire writes v as encoding/json would (its omitempty, null for nil
// slices and maps, ...) with the v2 implementation.
func writeWire(w io.Writer, v any) error {
	return json.MarshalWrite(w, v, jsonv1.DefaultOptionsV1())
}

// wireReview is an AdmissionReview with the objects it carries already
// decoded when they are workloads: object and oldObject are set, and the
// request's RawExtensions left empty, when the review was read in one pass.
type wireReview struct {
	admissionv1.AdmissionReview
	object, oldObject any
}

// onePass decodes a review and, as they come, the workload objects it
// carries straight into their types, so that an object is read once
// rather than copied as raw JSON and read again. The request's kind comes
// before its objects in what the API server writes; when it does not, the
// objects are kept raw as usual.
type onePass struct {
	kind    *metav1.GroupVersionKind
	review  *wireReview
	options json.Options
}

var onePassPool = sync.Pool{New: func() any {
	p := &onePass{}
	p.options = json.JoinOptions(workload.WireOptions, json.WithUnmarshalers(json.JoinUnmarshalers(
		json.UnmarshalFromFunc(p.requestKind),
		json.UnmarshalFromFunc(p.rawObject),
	)))
	return p
}}

// plainGVK has GroupVersionKind's fields without its unmarshaler.
type plainGVK struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

func (p *onePass) requestKind(dec *jsontext.Decoder, v *metav1.GroupVersionKind) error {
	if dec.StackPointer() != "/request/kind" {
		return errors.ErrUnsupported
	}
	var g plainGVK
	if err := json.UnmarshalDecode(dec, &g); err != nil {
		return err
	}
	*v = metav1.GroupVersionKind(g)
	p.kind = v
	return nil
}

func (p *onePass) rawObject(dec *jsontext.Decoder, _ *runtime.RawExtension) error {
	if p.kind == nil || dec.PeekKind() != '{' {
		return errors.ErrUnsupported
	}
	var into *any
	switch dec.StackPointer() {
	case "/request/object":
		into = &p.review.object
	case "/request/oldObject":
		into = &p.review.oldObject
	default:
		return errors.ErrUnsupported
	}
	obj := workload.NewObject(schema.GroupVersionKind{Group: p.kind.Group, Version: p.kind.Version, Kind: p.kind.Kind})
	if obj == nil {
		return errors.ErrUnsupported
	}
	if err := json.UnmarshalDecode(dec, obj); err != nil {
		return err
	}
	*into = obj
	return nil
}

// unmarshalReview decodes an AdmissionReview body, in one pass when it
// can. Any error in that pass (an object that does not decode as its
// kind) is left to the usual two passes, which read the review first and
// report the object's error as the object's.
func unmarshalReview(data []byte) (*wireReview, error) {
	p := onePassPool.Get().(*onePass)
	review := &wireReview{}
	p.kind, p.review = nil, review
	err := json.Unmarshal(data, &review.AdmissionReview, p.options)
	p.kind, p.review = nil, nil
	onePassPool.Put(p)
	if err == nil {
		return review, nil
	}
	review = &wireReview{}
	if err := workload.UnmarshalWire(data, &review.AdmissionReview); err != nil {
		return nil, err
	}
	return review, nil
}
