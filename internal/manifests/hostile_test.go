package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nobackoff/nobackoff/internal/workload"
)

// aliasBomb is a Pod of about 1 MB whose one 1 MiB scalar is aliased n
// times: expanded, n MiB.
func aliasBomb(n int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata: {name: bomb, namespace: dev}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n")
	b.WriteString("    command: [&big \"" + strings.Repeat("x", 1<<20) + "\"]\n    args:\n")
	for range n {
		b.WriteString("    - *big\n")
	}
	return b.Bytes()
}

// limitErrorOf returns the *workload.LimitError inside an *Error, failing
// the test when err is not that.
func limitErrorOf(t *testing.T, err error) (*Error, *workload.LimitError) {
	t.Helper()
	var me *Error
	var le *workload.LimitError
	if !errors.As(err, &me) || !errors.As(err, &le) {
		t.Fatalf("error %v (%T): want an *Error wrapping a *workload.LimitError", err, err)
	}
	return me, le
}

func TestAliasBombRefusedInBoundedMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bomb.yaml")
	if err := os.WriteFile(path, aliasBomb(5000), 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	docs, errs := Read([]string{path}, nil)
	runtime.ReadMemStats(&after)

	if len(docs) != 0 || len(errs) != 1 {
		t.Fatalf("got %d documents and errors %v: want the bomb refused", len(docs), errs)
	}
	me, le := limitErrorOf(t, errs[0])
	if want := path + ": document 1 (Pod dev/bomb)"; me.Where != want {
		t.Errorf("error at %q, want %q", me.Where, want)
	}
	if le.What != unitExpandedBytes || le.Limit != MaxObjectBytes || le.Got <= le.Limit {
		t.Errorf("limit error %+v: want the expansion over MaxObjectBytes", le)
	}
	// Expanded, the document is 5,000 MiB; refused before expansion, it
	// costs its parse: a few times the 1 MiB file.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("reading the bomb allocated %d MiB: want under 64", alloc>>20)
	}
}

func TestAliasesWithinLimitsAreExpanded(t *testing.T) {
	// Anchors shared by containers, and a merge key: the uses real
	// manifests make of aliases.
	const doc = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: a
        image: nginx:1.27
        env: &env
        - {name: MODE, value: prod}
        - {name: REGION, value: eu}
        resources: &res {limits: {memory: 64Mi}}
      - name: b
        image: nginx:1.27
        env: *env
        resources:
          <<: *res
          requests: {memory: 32Mi}
`
	docs, errs := ReadStream("web.yaml", strings.NewReader(doc))
	if len(errs) != 0 || len(docs) != 1 {
		t.Fatalf("docs %d, errors %v", len(docs), errs)
	}
	var obj struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Env       []map[string]string
						Resources map[string]map[string]string
					}
				}
			}
		}
	}
	if err := json.Unmarshal(docs[0].JSON, &obj); err != nil {
		t.Fatal(err)
	}
	cs := obj.Spec.Template.Spec.Containers
	if len(cs) != 2 || len(cs[1].Env) != 2 || cs[1].Env[1]["value"] != "eu" ||
		cs[1].Resources["limits"]["memory"] != "64Mi" || cs[1].Resources["requests"]["memory"] != "32Mi" {
		t.Errorf("aliases not expanded as written: %s", docs[0].JSON)
	}
}

func TestAliasExpansionRatio(t *testing.T) {
	// A 4 KiB anchor aliased n times in a document of about 4 KiB: 10
	// uses are within MaxAliasExpansion, 20 are not, though both stay far
	// under MaxObjectBytes.
	doc := func(n int) string {
		var b strings.Builder
		b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\nanchor: &a \"" + strings.Repeat("y", 4096) + "\"\nuses:\n")
		for range n - 1 {
			b.WriteString("- *a\n")
		}
		return b.String()
	}
	if _, errs := ReadStream("ok.yaml", strings.NewReader(doc(MaxAliasExpansion))); len(errs) != 0 {
		t.Errorf("%d uses of an anchor refused: %v", MaxAliasExpansion, errs)
	}
	_, errs := ReadStream("over.yaml", strings.NewReader(doc(2*MaxAliasExpansion)))
	if len(errs) != 1 {
		t.Fatalf("errors %v: want the expansion refused", errs)
	}
	me, le := limitErrorOf(t, errs[0])
	if me.Where != "over.yaml: document 1 (ConfigMap cm)" || le.What != unitExpandedBytes || le.Limit >= MaxObjectBytes {
		t.Errorf("error at %q, %+v: want the ratio limit, under MaxObjectBytes", me.Where, le)
	}
}

func TestAliasBadInput(t *testing.T) {
	cases := map[string]string{
		// The anchor is registered before its value is read, so this
		// alias points to the node that contains it.
		"alias inside its own anchor": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &a {b: *a}\n",
		"unknown anchor":              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {b: *nope, c: &a d}\n",
		"nested aliases":              "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			docs, errs := ReadStream("bad.yaml", strings.NewReader(doc))
			if len(docs) != 0 || len(errs) != 1 {
				t.Fatalf("docs %d, errors %v: want one error", len(docs), errs)
			}
			var me *Error
			if !errors.As(errs[0], &me) || !strings.HasPrefix(me.Where, "bad.yaml: document 1") {
				t.Fatalf("error %v (%T): want an *Error at bad.yaml: document 1", errs[0], errs[0])
			}
		})
	}
}

// endless is a reader that never ends: /dev/zero with a manifest's face.
type endless struct{ line []byte }

func (e endless) Read(p []byte) (int, error) {
	n := 0
	for n+len(e.line) <= len(p) {
		n += copy(p[n:], e.line)
	}
	if n == 0 {
		n = copy(p, e.line)
	}
	return n, nil
}

func TestStreamLimits(t *testing.T) {
	// A comment-only document is read and dropped: it costs a parse.
	comments := strings.Repeat("# nothing here\n---\n", MaxManifestDocuments+1)
	cm := func(name string, value string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata: {v: \"" + value + "\"}\n"
	}
	cases := []struct {
		name      string
		in        io.Reader
		wantWhere string
		wantLimit int
		wantWhat  string
	}{
		{"endless stream", endless{[]byte("# padding\n")}, "s.yaml: document 1", MaxManifestBytes, unitBytes},
		{"endless line", endless{[]byte("x")}, "s.yaml: document 1", MaxManifestBytes, unitBytes},
		{"too many documents", strings.NewReader(comments), "s.yaml: document 10001", MaxManifestDocuments, unitDocuments},
		{"document too large", strings.NewReader(cm("big", strings.Repeat("z", MaxDocumentBytes))), "s.yaml: document 1", MaxDocumentBytes, unitBytes},
		// encoding/json writes < as \u003c: 600 KiB of them are 3.6 MiB of JSON.
		{"object too large", strings.NewReader(cm("lt", strings.Repeat("<", 600<<10))), "s.yaml: document 1 (ConfigMap lt)", MaxObjectBytes, unitJSONBytes},
		{"objects too large together", strings.NewReader(strings.Repeat(cm("lt", strings.Repeat("<", 400<<10))+"---\n", 30)),
			"s.yaml: document 28", MaxManifestJSONBytes, unitJSONBytes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := ReadStream("s.yaml", c.in)
			if len(errs) != 1 {
				t.Fatalf("errors %v: want one", errs)
			}
			me, le := limitErrorOf(t, errs[0])
			if me.Where != c.wantWhere || le.Limit != c.wantLimit || le.What != c.wantWhat {
				t.Errorf("error at %q, %+v: want at %q, limit %d %s", me.Where, le, c.wantWhere, c.wantLimit, c.wantWhat)
			}
		})
	}
}

func TestStreamJustUnderLimits(t *testing.T) {
	// MaxManifestDocuments comment-only documents, and a document of
	// exactly MaxDocumentBytes: both read without error.
	comments := strings.Repeat("# nothing here\n---\n", MaxManifestDocuments)
	if _, errs := ReadStream("s.yaml", strings.NewReader(comments)); len(errs) != 0 {
		t.Errorf("%d documents: %v", MaxManifestDocuments, errs)
	}
	head := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\n"
	doc := head + strings.Repeat("#", MaxDocumentBytes-len(head)-1) + "\n"
	docs, errs := ReadStream("s.yaml", strings.NewReader(doc))
	if len(errs) != 0 || len(docs) != 1 {
		t.Errorf("document of %d bytes: docs %d, errors %v", len(doc), len(docs), errs)
	}
}

func TestTypeFieldsAsTheAPIServerReadsThem(t *testing.T) {
	// Field names are case-sensitive and a version is required.
	cases := []struct {
		name, doc string
		wantErrs  int
	}{
		{"capitalised apiVersion", "ApiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", 1},
		{"capitalised kind", "apiVersion: v1\nKind: ConfigMap\nmetadata: {name: x}\n", 1},
		{"group without version", "apiVersion: apps/\nkind: Deployment\nmetadata: {name: x}\n", 1},
		// Items is not items: the List is empty, its kindless item unread.
		{"capitalised items", "apiVersion: v1\nkind: List\nItems: [{apiVersion: v1, Kind: Pod}]\n", 0},
		{"kindless item", "apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, Kind: Pod}]\n", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			docs, errs := ReadStream("t.yaml", strings.NewReader(c.doc))
			if len(docs) != 0 || len(errs) != c.wantErrs {
				t.Fatalf("docs %d, errors %v: want none and %d errors", len(docs), errs, c.wantErrs)
			}
			for _, err := range errs {
				var me *Error
				if !errors.As(err, &me) || !strings.HasPrefix(me.Where, "t.yaml: document 1") {
					t.Errorf("error %v (%T): want an *Error at t.yaml: document 1", err, err)
				}
			}
		})
	}
}
