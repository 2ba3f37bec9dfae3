package workload_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/fixtures"
	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

// FuzzDecodeWorkload decodes arbitrary JSON as each workload kind and
// reviews what decodes.
func FuzzDecodeWorkload(f *testing.F) {
	kinds := workload.Kinds()
	for _, s := range fixtures.ManifestSeeds() {
		docs, _ := manifests.ReadStream("seed", strings.NewReader(s))
		for _, d := range docs {
			for i, k := range kinds {
				if k.Kind == d.GVK.Kind {
					f.Add(uint8(i), d.JSON, true)
					f.Add(uint8(i), d.JSON, false)
				}
			}
		}
	}
	f.Add(uint8(0), []byte(`{"spec":{"ephemeralContainers":[{"name":"dbg","image":"busybox"}]}}`), false)
	f.Add(uint8(1), []byte(`{"spec":{"template":null}}`), false)
	f.Add(uint8(7), []byte(`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"c","env":[{"name":"A","value":"$(A)$(A)"}]}]}}}}}}`), true)
	// Every check, no registry.
	eng := engine.New(policy.NewCatalog(policy.Options{}))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte, strict bool) {
		gvk := kinds[int(kind)%len(kinds)]
		w, err := workload.Decode(gvk, data, strict)
		if err != nil {
			var le *workload.LimitError
			if errors.As(err, &le) && (!strings.HasPrefix(le.Field, podSpecPath(gvk.Kind)+".") || le.Got <= le.Limit) {
				t.Fatalf("limit error %+v for a %s", le, gvk.Kind)
			}
			return
		}
		if w.Kind != gvk.Kind || w.Meta == nil {
			t.Fatalf("decoded %s as kind %q, meta %v", gvk.Kind, w.Kind, w.Meta)
		}
		if w.Spec == nil {
			// Only a ReplicationController may have no pod template.
			if gvk.Kind != "ReplicationController" {
				t.Fatalf("%s decoded without a pod spec", gvk.Kind)
			}
			return
		}
		if w.SpecPath != podSpecPath(gvk.Kind) {
			t.Fatalf("%s pod spec at %q, want %q", gvk.Kind, w.SpecPath, podSpecPath(gvk.Kind))
		}
		if err := workload.CheckLimits(w); err != nil {
			t.Fatalf("decoded a workload over a limit: %v", err)
		}
		res := eng.Review(context.Background(), w)
		for _, f := range res.Findings {
			if !strings.HasPrefix(f.Field, w.SpecPath+".") {
				t.Errorf("finding %s at %q, outside the pod spec %s", f.Check, f.Field, w.SpecPath)
			}
		}
	})
}
