package report

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nobackoff/nobackoff/internal/clusterstate"
	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/testregistry"
	"github.com/nobackoff/nobackoff/policy"
	"github.com/nobackoff/nobackoff/registrycheck"
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

// fixtureRegistries are the registries the registry checks' fixtures name
// as ${REGISTRY} (open), ${PRIVATE} (basic auth ci:s3cret; locked/app
// answers 403) and ${DOWN} (nothing listens).
type fixtureRegistries struct {
	vars map[string]string
}

func startFixtureRegistries(t *testing.T) *fixtureRegistries {
	t.Helper()
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}
	app := v1.Config{Entrypoint: []string{"/app"}, User: "1000"}
	open := testregistry.New(t)
	for _, tag := range []string{"latest", "1.0"} {
		open.Push("team/app:"+tag, testregistry.Image(t, app, amd64))
	}
	open.PushIndex("team/multi:1.0", app, amd64, arm64)
	open.PushIndex("team/arm64-only:1.0", app, arm64)
	open.Push("team/arm64-single:1.0", testregistry.Image(t, app, arm64))
	open.Push("team/root:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}}, amd64))
	open.Push("team/nobody:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}, User: "nobody"}, amd64))
	open.Push("team/nocmd:1.0", testregistry.Image(t, v1.Config{User: "1000"}, amd64))

	private := testregistry.New(t)
	private.Push("private/app:1.0", testregistry.Image(t, app, amd64))
	private.Push("locked/app:1.0", testregistry.Image(t, app, amd64))
	private.Set(testregistry.Faults{Users: map[string]string{"ci": "s3cret"}, Denied: map[string]bool{"locked/app": true}})

	return &fixtureRegistries{vars: map[string]string{"REGISTRY": open.Host, "PRIVATE": private.Host, "DOWN": "127.0.0.1:1"}}
}

// expand writes a copy of the fixture with the registry hosts filled in.
func (f *fixtureRegistries) expand(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(out, []byte(os.Expand(string(data), func(k string) string { return f.vars[k] })), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// lookupsFor builds registry lookups over the documents' Secrets and
// ServiceAccounts, for nodes of linux/amd64.
func lookupsFor(t *testing.T, docs []manifests.Document) *engine.Lookups {
	t.Helper()
	cluster := clusterstate.NewStaticCluster([]registrycheck.Platform{{OS: "linux", Architecture: "amd64"}})
	for _, err := range cluster.AddDocuments(docs) {
		t.Errorf("reading secrets: %v", err)
	}
	l, err := engine.NewLookups(engine.RegistrySettings{Budget: 5 * time.Second, AllowLoopback: true}, cluster, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// registryCheck reports the checks that need registry lookups.
func registryCheck(id policy.ID) bool {
	return strings.HasPrefix(string(id), "image.") && id != policy.ImageInvalidReference && id != policy.ImageMutableTag
}

func checkFile(t *testing.T, path string, regs *fixtureRegistries) *Report {
	t.Helper()
	eng := engine.New(policy.NewCatalog(policy.Options{}))
	if regs != nil {
		path = regs.expand(t, path)
	}
	docs, errs := manifests.Read([]string{path}, nil)
	if regs != nil {
		eng = eng.WithLookups(lookupsFor(t, docs))
	}
	// The objects in the file are the cluster's state, as for nobackoff
	// check: what it lacks may be in a cluster.
	objects := clusterstate.NewStaticCluster(nil)
	errs = append(errs, objects.AddDocuments(docs)...)
	eng = eng.WithObjects(objects)
	rep, cerrs := CheckDocuments(context.Background(), eng, docs)
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
	root := filepath.Join("..", "..", "testdata")
	known := policy.NewCatalog(policy.Options{}).IDs()
	regs := startFixtureRegistries(t)
	for _, id := range known {
		for _, kind := range []string{"fail", "pass"} {
			files, _ := filepath.Glob(filepath.Join(root, string(id), kind, "*.yaml"))
			if len(files) == 0 {
				t.Errorf("check %s has no %s fixture under testdata/%s/%s", id, kind, id, kind)
			}
			for _, file := range files {
				t.Run(string(id)+"/"+kind+"/"+filepath.Base(file), func(t *testing.T) {
					var got []expectation
					var r *fixtureRegistries
					if registryCheck(id) {
						r = regs
					}
					for _, o := range checkFile(t, file, r).Objects {
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
						// A pass that only holds because nothing could be
						// looked up proves nothing.
						if registryCheck(id) {
							for _, o := range checkFile(t, file, regs).Objects {
								for _, f := range o.Result.Findings {
									if f.Check == policy.ImageLookupInconclusive {
										t.Errorf("pass fixture was inconclusive at %s: %s", f.Field, f.Message)
									}
								}
							}
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
					if !slices.Equal(got, want) {
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

// TestHealthyCorpus checks real projects' published manifests, which run
// fine: the corpus kept in testdata/corpus (sources and commits in its
// SOURCES.md) and the one beside the repository (../shared/corpus/healthy,
// or NOBACKOFF_CORPUS). None may produce an error-level finding; warnings
// must stay under one per five workloads, and each must be one reviewed
// and listed in testdata/corpus/warnings.txt as a real risk — a new
// warning, or a listed one that no longer appears, fails.
func TestHealthyCorpus(t *testing.T) {
	shared := os.Getenv("NOBACKOFF_CORPUS")
	if shared == "" {
		shared = filepath.Join("..", "..", "..", "shared", "corpus", "healthy")
	}
	dirs := []string{filepath.Join("..", "..", "testdata", "corpus")}
	if _, err := os.Stat(shared); err == nil {
		dirs = append(dirs, shared)
	} else if os.Getenv("CI") != "" {
		t.Fatalf("healthy corpus not found at %s in CI: %v", shared, err)
	} else {
		t.Logf("SKIPPED part: healthy corpus not found at %s (set NOBACKOFF_CORPUS): %v", shared, err)
	}
	reviewed := readReviewedWarnings(t, filepath.Join("..", "..", "testdata", "corpus", "warnings.txt"))
	workloads, warnings := 0, map[string]bool{}
	for _, dir := range dirs {
		docs, errs := manifests.Read([]string{dir}, nil)
		// Offline, with the pull secrets of the input judged, as
		// nobackoff check --offline does.
		cluster := clusterstate.NewStaticCluster(nil)
		errs = append(errs, cluster.AddDocuments(docs)...)
		eng := engine.New(policy.NewCatalog(policy.Options{})).WithLookups(&engine.Lookups{Cluster: cluster}).WithObjects(cluster)
		rep, cerrs := CheckDocuments(context.Background(), eng, docs)
		for _, e := range append(errs, cerrs...) {
			t.Errorf("corpus input error: %v", e)
		}
		if len(rep.Objects) < 20 {
			t.Fatalf("read only %d workloads from %s", len(rep.Objects), dir)
		}
		workloads += len(rep.Objects)
		for _, o := range rep.Objects {
			for _, f := range o.Result.Findings {
				switch f.Severity {
				case policy.Error:
					t.Errorf("%s %s/%s (%s): error-level %s at %s", o.Kind, o.Namespace, o.Name, o.Source, f.Check, f.Field)
				case policy.Warning:
					key := fmt.Sprintf("%s %s %s/%s %s %s", filepath.Base(o.Source), o.Kind, o.Namespace, o.Name, f.Check, f.Field)
					warnings[key] = true
					if !reviewed[key] {
						t.Errorf("warning not reviewed (add it to testdata/corpus/warnings.txt with why it is a real risk, or fix the check): %s", key)
					}
				}
			}
		}
	}
	for key := range reviewed {
		if !warnings[key] && len(dirs) > 1 { // every corpus read
			t.Errorf("reviewed warning no longer reported (remove it from testdata/corpus/warnings.txt): %s", key)
		}
	}
	if 5*len(warnings) >= workloads {
		t.Errorf("%d warnings on %d healthy workloads: the budget is under one per five", len(warnings), workloads)
	}
	t.Logf("%d workloads, %d warnings", workloads, len(warnings))
}

// readReviewedWarnings reads the reviewed warnings: one per line, as
// "file kind namespace/name check field — why it is a real risk"; lines
// starting with # are comments.
func readReviewedWarnings(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, why, ok := strings.Cut(line, " — ")
		if !ok || strings.TrimSpace(why) == "" {
			t.Fatalf("%s: %q gives no reason", path, line)
		}
		out[strings.TrimSpace(key)] = true
	}
	return out
}
