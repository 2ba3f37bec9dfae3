package webhook

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

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

// noUnmarshalers clears the type-specific unmarshalers of a decoder.
var noUnmarshalers = json.WithUnmarshalers(nil)

var onePassPool = sync.Pool{New: func() any {
	p := &onePass{}
	p.options = json.JoinOptions(workload.WireOptions, json.WithUnmarshalers(json.JoinUnmarshalers(
		json.UnmarshalFromFunc(p.requestKind),
		json.UnmarshalFromFunc(p.rawObject),
	)))
	return p
}}

// requestKind reads the request's kind; other kinds (requestKind) are
// read as usual. Which field is being read is told by its address: the
// decoder has made the request before it reads the request's fields.
func (p *onePass) requestKind(dec *jsontext.Decoder, v *metav1.GroupVersionKind) error {
	if r := p.review.Request; r == nil || v != &r.Kind {
		return errors.ErrUnsupported
	}
	// Three strings, read without the reflective decoder; anything else
	// there (null, other types) is left to it.
	if dec.PeekKind() != '{' {
		return errors.ErrUnsupported
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	var g metav1.GroupVersionKind
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		var field *string
		switch name.String() {
		case "group":
			field = &g.Group
		case "version":
			field = &g.Version
		case "kind":
			field = &g.Kind
		}
		switch {
		case field == nil: // another name: ignored, as the decoder ignores it
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		case dec.PeekKind() == 'n': // null: the zero value, as the decoder reads it
			if _, err := dec.ReadToken(); err != nil {
				return err
			}
			*field = ""
			continue
		case dec.PeekKind() != '"':
			// The decoder refuses it: so does the one pass, and the two
			// passes report it.
			return fmt.Errorf("request kind: %s is not a string", name.String())
		}
		value, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*field = value.String()
	}
	if _, err := dec.ReadToken(); err != nil { // the closing brace
		return err
	}
	*v = g
	p.kind = v
	return nil
}

// rawObject reads the request's object or oldObject into its type, when
// the request's kind is known and a workload's.
func (p *onePass) rawObject(dec *jsontext.Decoder, v *runtime.RawExtension) error {
	r := p.review.Request
	if p.kind == nil || r == nil || dec.PeekKind() != '{' {
		return errors.ErrUnsupported
	}
	var into *any
	switch v {
	case &r.Object:
		into = &p.review.object
	case &r.OldObject:
		into = &p.review.oldObject
	default:
		return errors.ErrUnsupported
	}
	obj := workload.NewObject(schema.GroupVersionKind{Group: p.kind.Group, Version: p.kind.Version, Kind: p.kind.Kind})
	if obj == nil {
		return errors.ErrUnsupported
	}
	// Inside the object none of the review's own unmarshalers apply:
	// without them the decoder does not look each value's type up among
	// them (a sync.Map read per value, 5% of a review's CPU).
	if err := json.UnmarshalDecode(dec, obj, noUnmarshalers); err != nil {
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

// appendReviewResponse appends the AdmissionReview answering a request as
// encoding/json writes it, byte for byte (the tests compare the two):
// written by hand, it costs a fraction of the reflective encoder on every
// review. A Result (a denial's status), a patch or a patch type go through
// the encoder, in encoding/json's format.
func appendReviewResponse(b []byte, tm metav1.TypeMeta, r *admissionv1.AdmissionResponse) ([]byte, error) {
	b = append(b, '{')
	if tm.Kind != "" {
		b = append(b, `"kind":`...)
		b = appendJSONString(b, tm.Kind)
		b = append(b, ',')
	}
	if tm.APIVersion != "" {
		b = append(b, `"apiVersion":`...)
		b = appendJSONString(b, tm.APIVersion)
		b = append(b, ',')
	}
	b = append(b, `"response":{"uid":`...)
	b = appendJSONString(b, string(r.UID))
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, r.Allowed)
	if st := r.Result; st != nil && r.Patch == nil && r.PatchType == nil && st.TypeMeta == (metav1.TypeMeta{}) &&
		st.ListMeta.SelfLink == "" && st.ResourceVersion == "" && st.Continue == "" && st.RemainingItemCount == nil && st.Details == nil {
		// The status every answer carries (controller-runtime's Allowed
		// sets code 200; a denial its message, reason and code).
		b = append(b, `,"status":{"metadata":{}`...)
		for _, f := range []struct{ name, value string }{{"status", st.Status}, {"message", st.Message}, {"reason", string(st.Reason)}} {
			if f.value != "" {
				b = append(b, ',', '"')
				b = append(b, f.name...)
				b = append(b, '"', ':')
				b = appendJSONString(b, f.value)
			}
		}
		if st.Code != 0 {
			b = append(b, `,"code":`...)
			b = strconv.AppendInt(b, int64(st.Code), 10)
		}
		b = append(b, '}')
	} else if r.Result != nil || r.Patch != nil || r.PatchType != nil {
		rest, err := json.Marshal(struct {
			Result    *metav1.Status         `json:"status,omitempty"`
			Patch     []byte                 `json:"patch,omitempty"`
			PatchType *admissionv1.PatchType `json:"patchType,omitempty"`
		}{r.Result, r.Patch, r.PatchType}, jsonv1.DefaultOptionsV1())
		if err != nil {
			return nil, err
		}
		if len(rest) > 2 { // not {}
			b = append(b, ',')
			b = append(b, rest[1:len(rest)-1]...)
		}
	}
	if len(r.AuditAnnotations) > 0 {
		b = append(b, `,"auditAnnotations":{`...)
		keys := make([]string, 0, len(r.AuditAnnotations))
		for k := range r.AuditAnnotations {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, r.AuditAnnotations[k])
		}
		b = append(b, '}')
	}
	if len(r.Warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range r.Warnings {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, w)
		}
		b = append(b, ']')
	}
	return append(b, "}}"...), nil
}

// appendJSONString appends s as a JSON string the way encoding/json
// writes it: HTML-sensitive characters and U+2028/U+2029 escaped, invalid
// UTF-8 replaced with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case utf8.RuneError:
				b = utf8.AppendRune(b, utf8.RuneError)
			default:
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
