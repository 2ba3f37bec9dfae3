package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// liveDeployment names a ConfigMap, a claim and a PriorityClass; it has
// no namespace.
const liveDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      priorityClassName: low
      containers:
      - name: app
        image: registry.example.com/app:1.0
        resources: {limits: {memory: 64Mi}}
        envFrom: [{configMapRef: {name: settings}}]
      volumes:
      - {name: data, persistentVolumeClaim: {claimName: data}}
`

// writeKubeconfig writes a kubeconfig with contexts "one" (no namespace)
// and "two" (namespace team) for server.
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: %q}
users:
- name: u
  user: {token: t}
contexts:
- name: one
  context: {cluster: c, user: u}
- name: two
  context: {cluster: c, user: u, namespace: team}
current-context: one
`, server)
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckKubeconfigUsage(t *testing.T) {
	kc := writeKubeconfig(t, "http://127.0.0.1:1")
	for _, args := range [][]string{
		{"--context", "one"},
		{"--kubeconfig", filepath.Join(t.TempDir(), "missing")},
		{"--kubeconfig", kc, "--context", "three"},
	} {
		code, _, errOut := runCLI(t, liveDeployment, append([]string{"check", "--offline", "-f", "-"}, args...)...)
		if code != exitUsage || !strings.Contains(errOut, "--") {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, errOut)
		}
	}
}

// A cluster that cannot be reached: nothing judged from it, said once.
func TestCheckKubeconfigUnreachable(t *testing.T) {
	kc := writeKubeconfig(t, "http://127.0.0.1:1")
	code, out, errOut := runCLI(t, liveDeployment, "check", "--offline", "-f", "-", "-o", "json", "--kubeconfig", kc)
	if code != exitOK || strings.Count(errOut, "level=WARN") != 1 || !strings.Contains(errOut, "cannot read the cluster") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	for _, f := range decodeReport(t, out) {
		if strings.Contains(f.Check, "not-found") {
			t.Errorf("judged without the cluster: %+v", f)
		}
	}
}

// An API server that holds nothing, and forbids lists: every object is
// absent, read in the context's namespace; the forbidden list of
// StorageClasses is said once.
func TestCheckKubeconfigAbsent(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if parts[len(parts)-2] == "storageclasses" || parts[len(parts)-1] == "storageclasses" || r.URL.Query().Has("fieldSelector") {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"forbidden"}`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"%s not found"}`, parts[len(parts)-1])
	}))
	defer srv.Close()
	kc := writeKubeconfig(t, srv.URL)
	code, out, errOut := runCLI(t, liveDeployment, "check", "--offline", "-f", "-", "-o", "json", "--kubeconfig", kc, "--context", "two")
	if code != exitOK {
		t.Fatalf("exit %d, want %d (missing objects and classes warn)\n%s", code, exitOK, errOut)
	}
	var got []string
	for _, f := range decodeReport(t, out) {
		got = append(got, f.Severity+" "+f.Check+" "+f.Field)
	}
	sort.Strings(got)
	want := []string{
		"warning config.configmap-not-found spec.template.spec.containers[0].envFrom[0].configMapRef.name",
		"warning pod.priorityclass-not-found spec.template.spec.priorityClassName",
		"warning volume.claim-not-found spec.template.spec.volumes[0].persistentVolumeClaim.claimName",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(paths)
	for _, p := range []string{
		"GET /api/v1/namespaces/team/configmaps/settings",
		"GET /api/v1/namespaces/team/persistentvolumeclaims/data",
		"GET /apis/scheduling.k8s.io/v1/priorityclasses/low",
		"GET /api/v1/configmaps",
	} {
		if i := sort.SearchStrings(paths, p); i == len(paths) || paths[i] != p {
			t.Errorf("no %s among %v", p, paths)
		}
	}
	for _, p := range paths {
		if !strings.HasPrefix(p, "GET ") {
			t.Errorf("%s: the cluster is only read", p)
		}
	}
}
