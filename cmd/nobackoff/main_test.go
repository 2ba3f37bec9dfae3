package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// jsonFinding mirrors the documented JSON contract of `check -o json`.
type jsonFinding struct {
	Check, Severity, Kind, Namespace, Name, Container, Image, Field, Message, Fix string
}

func decodeReport(t *testing.T, out string) []jsonFinding {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if string(raw["findings"]) == "null" || raw["findings"] == nil {
		t.Fatalf("findings must be a list, never null or absent: %s", out)
	}
	var entries []map[string]any
	if err := json.Unmarshal(raw["findings"], &entries); err != nil {
		t.Fatal(err)
	}
	var fs []jsonFinding
	for _, e := range entries {
		for _, key := range []string{"check", "severity", "kind", "namespace", "name", "container", "image", "field", "message", "fix"} {
			if _, ok := e[key].(string); !ok {
				t.Fatalf("finding lacks string field %q: %v", key, e)
			}
		}
		s := func(k string) string { return e[k].(string) }
		fs = append(fs, jsonFinding{s("check"), s("severity"), s("kind"), s("namespace"), s("name"), s("container"), s("image"), s("field"), s("message"), s("fix")})
	}
	return fs
}

func TestCheckExamples(t *testing.T) {
	code, out, errOut := runCLI(t, "", "check", "--offline", "-f", filepath.Join("..", "..", "examples"), "-o", "json")
	if code != exitFindings {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitFindings, errOut)
	}
	var got []string
	for _, f := range decodeReport(t, out) {
		got = append(got, f.Severity+" "+f.Check+" "+f.Kind+" "+f.Namespace+"/"+f.Name+" "+f.Container+" "+f.Field)
	}
	sort.Strings(got)
	want := []string{
		"error image.invalid-reference Deployment shop/storefront web spec.template.spec.containers[0].image",
		"error probe.port-not-found Deployment shop/catalog catalog spec.template.spec.containers[0].readinessProbe.httpGet.port",
		"error resources.heap-exceeds-limit Deployment shop/billing billing spec.template.spec.containers[0].env[0].value",
		"error resources.heap-exceeds-limit StatefulSet shop/renderer renderer spec.template.spec.containers[0].env[0].value",
		"warning probe.liveness-too-aggressive Deployment shop/orders orders spec.template.spec.containers[0].livenessProbe",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCheckTextOutput(t *testing.T) {
	code, out, _ := runCLI(t, "", "check", "--offline", "-f", filepath.Join("..", "..", "examples", "renamed-port.yaml"))
	if code != exitFindings {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Deployment shop/catalog", "[probe.port-not-found]", "spec.template.spec.containers[0].readinessProbe.httpGet.port", "fix: "} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckCleanInputExitsZero(t *testing.T) {
	code, out, errOut := runCLI(t, "", "check", "--offline", "-f", filepath.Join("..", "..", "examples", "healthy.yaml"), "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	if fs := decodeReport(t, out); len(fs) != 0 {
		t.Fatalf("findings on the healthy example: %v", fs)
	}
}

const listOnStdin = `{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"}},
 {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"dev"},
  "spec":{"containers":[{"name":"c","image":"NGINX","resources":{"limits":{"memory":"64Mi"}}}]}}]}`

func TestCheckStdinAndLists(t *testing.T) {
	code, out, errOut := runCLI(t, listOnStdin, "check", "--offline", "-f", "-", "-o", "json")
	if code != exitFindings {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	fs := decodeReport(t, out)
	if len(fs) != 1 || fs[0].Check != "image.invalid-reference" || fs[0].Kind != "Pod" || fs[0].Namespace != "dev" || fs[0].Field != "spec.containers[0].image" {
		t.Fatalf("findings %+v", fs)
	}
}

func TestCheckBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	deploy := func(extra string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop" + extra
	}
	cases := []struct {
		name string
		args []string
		// wantErr are the parts stderr must name: file, document, object, field.
		wantErr []string
	}{
		{"missing file", []string{"-f", filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml", "no such file"}},
		{"yaml syntax", []string{"-f", write("syntax.yaml", "apiVersion: v1\nkind: Pod\n---\nkind: [unclosed\n")}, []string{"syntax.yaml: document 2"}},
		{"wrong field type", []string{"-f", write("type.yaml", deploy("}\nspec:\n  replicas: two\n"))},
			[]string{"type.yaml: document 2 (Deployment shop/web)", "spec.replicas"}},
		{"unknown field", []string{"-f", write("unknown.yaml", deploy("}\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: nginx:1\n        livenesProbe: {}\n"))},
			[]string{"unknown.yaml: document 2 (Deployment shop/web)", "livenesProbe"}},
		{"missing kind", []string{"-f", write("nokind.yaml", "apiVersion: v1\nmetadata: {name: x}\n")}, []string{"nokind.yaml: document 1", "kind"}},
		{"retired api version", []string{"-f", write("old.yaml", "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: old}\n")},
			[]string{"old.yaml: document 1 (Deployment old)", "apps/v1"}},
		{"bad annotation", []string{"-f", write("anno.yaml", deploy(", annotations: {nobackoff.io/expected-startup-seconds: soon}}\n"))},
			[]string{"anno.yaml: document 2 (Deployment shop/web)", "metadata.annotations[nobackoff.io/expected-startup-seconds]"}},
		{"scalar document", []string{"-f", write("scalar.yaml", "just a string\n")}, []string{"scalar.yaml: document 1", "not a Kubernetes object"}},
		{"no -f", []string{}, []string{"-f PATH"}},
		{"bad output", []string{"-f", "-", "-o", "xml"}, []string{"-o"}},
		{"bad startup flag", []string{"-f", "-", "--expected-startup", "cobol=5"}, []string{"--expected-startup"}},
		{"bad severity flag", []string{"-f", "-", "--severity", "image.nope=info"}, []string{"--severity"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "", append([]string{"check", "--offline"}, c.args...)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, errOut)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not name %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestCheckFlagsApply(t *testing.T) {
	spring := filepath.Join("..", "..", "examples", "spring-boot-liveness.yaml")
	// With JVM apps declared to start in 10 s, the 15 s budget is enough.
	code, out, _ := runCLI(t, "", "check", "--offline", "-f", spring, "-o", "json", "--expected-startup", "jvm=10")
	if code != exitOK || len(decodeReport(t, out)) != 0 {
		t.Fatalf("--expected-startup not applied: exit %d, %s", code, out)
	}
	// Raising the probe warning to an error makes the exit code 1.
	code, out, _ = runCLI(t, "", "check", "--offline", "-f", spring, "-o", "json", "--severity", "probe.liveness-too-aggressive=error")
	fs := decodeReport(t, out)
	if code != exitFindings || len(fs) != 1 || fs[0].Severity != "error" {
		t.Fatalf("--severity not applied: exit %d, %+v", code, fs)
	}
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := runCLI(t, "", "version"); code != exitOK || !strings.HasPrefix(out, "nobackoff ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, _ := runCLI(t, ""); code != exitUsage {
		t.Fatalf("no command: exit %d", code)
	}
	if code, _, errOut := runCLI(t, "", "frobnicate"); code != exitUsage || !strings.Contains(errOut, "frobnicate") {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
}
