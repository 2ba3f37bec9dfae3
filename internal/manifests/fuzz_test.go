package manifests_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/fixtures"
	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/report"
	"github.com/nobackoff/nobackoff/policy"
)

// FuzzReadManifests feeds arbitrary bytes to the manifest reader and the
// CLI's review of what it read.
func FuzzReadManifests(f *testing.F) {
	for _, s := range fixtures.ManifestSeeds() {
		f.Add([]byte(s))
	}
	// What the CLI reviews with offline: every check, no registry.
	eng := engine.New(policy.NewCatalog(policy.Options{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		docs, errs := manifests.ReadStream("fuzz.yaml", bytes.NewReader(data))
		runtime.ReadMemStats(&after)
		// The YAML parsers cost a few hundred bytes per node, and a node
		// can be two bytes of text; nothing may cost more than that.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20+1024*uint64(len(data)) {
			t.Errorf("%d bytes of input allocated %d MiB", len(data), alloc>>20)
		}
		for _, err := range errs {
			var me *manifests.Error
			if !errors.As(err, &me) || !strings.HasPrefix(me.Where, "fuzz.yaml: document ") {
				t.Fatalf("error %v (%T): want a *manifests.Error located in fuzz.yaml", err, err)
			}
		}
		held := 0
		for _, d := range docs {
			switch {
			case d.Source != "fuzz.yaml" || d.Index < 1 || d.Item < 0:
				t.Fatalf("document at %s", d.Where())
			case d.GVK.Kind == "" || d.GVK.Version == "":
				t.Fatalf("%s: document without apiVersion or kind", d.Where())
			case !json.Valid(d.JSON):
				t.Fatalf("%s: JSON %q is not valid", d.Where(), d.JSON)
			case len(d.JSON) > manifests.MaxObjectBytes:
				t.Fatalf("%s: %d bytes of JSON", d.Where(), len(d.JSON))
			}
			held += len(d.JSON)
		}
		if held > manifests.MaxManifestJSONBytes {
			t.Fatalf("%d bytes of JSON held", held)
		}
		// What the CLI does next: every error it reports is located.
		_, cerrs := report.CheckDocuments(context.Background(), eng, docs)
		for _, err := range cerrs {
			var me *manifests.Error
			if !errors.As(err, &me) {
				t.Fatalf("check error %v (%T): want a *manifests.Error", err, err)
			}
		}
	})
}
