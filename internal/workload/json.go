package workload

import (
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	kjson "sigs.k8s.io/json"
)

// An object is read one of two ways: manifests read by the CLI with the
// API server's strict decoder (sigs.k8s.io/json), whose errors name the
// field as kubectl would; the objects of an AdmissionReview as the
// admission path reads the review, with the encoding/json v2
// implementation (webhook/wire.go says why).

// WireOptions are lenient where encoding/json was, so that no review
// encoding/json accepted is refused: duplicate names keep the last value
// and invalid UTF-8 is replaced.
var WireOptions = json.JoinOptions(
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// UnmarshalWire decodes one JSON value from the admission path.
func UnmarshalWire(data []byte, into any) error {
	return json.Unmarshal(data, into, WireOptions)
}

// UnmarshalStrict decodes an object's JSON as kubectl's default
// server-side validation reads it: unknown and duplicate fields are
// errors, the first one reported.
func UnmarshalStrict(data []byte, into any) error {
	strictErrs, err := kjson.UnmarshalStrict(data, into)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		return strictErrs[0]
	}
	return nil
}

func decodeJSON(data []byte, into any, strict bool) error {
	if !strict {
		return UnmarshalWire(data, into)
	}
	return UnmarshalStrict(data, into)
}
