package webhook

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nobackoff/nobackoff/policy"
)

// expectation is one "# expect: <severity> <field>" line of a fixture.
type expectation struct {
	severity policy.Severity
	field    string
}

func readExpectations(t *testing.T, path string) []expectation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []expectation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "# expect:")
		if !ok {
			continue
		}
		parts := strings.Fields(rest)
		if len(parts) != 2 {
			t.Fatalf("%s: bad expect line %q: want '# expect: <severity> <field>'", path, sc.Text())
		}
		sev, err := policy.ParseSeverity(parts[0])
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, expectation{sev, parts[1]})
	}
	return out
}

func checkFile(t *testing.T, path string) *Report {
	t.Helper()
	docs, errs := ReadManifests([]string{path}, nil)
	rep, cerrs := CheckDocuments(context.Background(), NewEngine(policy.NewCatalog(policy.Options{})), docs)
	for _, e := range append(errs, cerrs...) {
		t.Errorf("%s: unexpected input error: %v", path, e)
	}
	if len(rep.Objects) == 0 {
		t.Fatalf("%s: no workload read", path)
	}
	return rep
}

// TestFixtures holds every check to its fixtures: each fail/ manifest
// produces exactly the findings of its check that it declares, each pass/
// manifest none of them.
func TestFixtures(t *testing.T) {
	root := filepath.Join("..", "testdata")
	known := policy.NewCatalog(policy.Options{}).IDs()
	for _, id := range known {
		for _, kind := range []string{"fail", "pass"} {
			files, _ := filepath.Glob(filepath.Join(root, string(id), kind, "*.yaml"))
			if len(files) == 0 {
				t.Errorf("check %s has no %s fixture under testdata/%s/%s", id, kind, id, kind)
			}
			for _, file := range files {
				t.Run(string(id)+"/"+kind+"/"+filepath.Base(file), func(t *testing.T) {
					var got []expectation
					for _, o := range checkFile(t, file).Objects {
						for _, f := range o.Result.Findings {
							if f.Check == id {
								got = append(got, expectation{f.Severity, f.Field})
							}
						}
					}
					want := readExpectations(t, file)
					if kind == "pass" {
						if len(want) > 0 {
							t.Fatalf("pass fixture declares expectations")
						}
						for _, g := range got {
							t.Errorf("pass fixture produced %s %s at %s", id, g.severity, g.field)
						}
						return
					}
					if len(want) == 0 {
						t.Fatalf("fail fixture declares no '# expect:' line")
					}
					sortExp(got)
					sortExp(want)
					if !equalExp(got, want) {
						t.Errorf("findings of %s:\n got  %v\n want %v", id, got, want)
					}
				})
			}
		}
	}
}

func sortExp(e []expectation) {
	sort.Slice(e, func(i, j int) bool { return e[i].field < e[j].field })
}

func equalExp(a, b []expectation) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHealthyCorpus checks real projects' published manifests: none may
// produce an error-level finding. The corpus sits beside the repository
// (../shared/corpus/healthy); NOBACKOFF_CORPUS points elsewhere.
func TestHealthyCorpus(t *testing.T) {
	dir := os.Getenv("NOBACKOFF_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus", "healthy")
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("healthy corpus not found at %s in CI: %v", dir, err)
		}
		t.Skipf("SKIPPED: healthy corpus not found at %s (set NOBACKOFF_CORPUS): %v", dir, err)
	}
	docs, errs := ReadManifests([]string{dir}, nil)
	rep, cerrs := CheckDocuments(context.Background(), NewEngine(policy.NewCatalog(policy.Options{})), docs)
	for _, e := range append(errs, cerrs...) {
		t.Errorf("corpus input error: %v", e)
	}
	if len(rep.Objects) < 20 {
		t.Fatalf("read only %d workloads from %s", len(rep.Objects), dir)
	}
	for _, o := range rep.Objects {
		for _, f := range o.Result.Findings {
			if f.Severity == policy.Error {
				t.Errorf("%s %s/%s (%s): error-level %s at %s", o.Kind, o.Namespace, o.Name, o.Source, f.Check, f.Field)
			}
		}
	}
}
