package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A manifest the API server would reject is bad input: exit 2, with the
// file, the object and the field path on stderr, worded as the API server
// words it.
func TestCheckRejectsWhatTheAPIServerWould(t *testing.T) {
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27.3
        resources: {limits: {memory: 128Mi}}
        volumeMounts:
        - {name: data, mountPath: /usr/share/nginx/html}
`
	dir := t.TempDir()
	bad := filepath.Join(dir, "web.yaml")
	good := filepath.Join(dir, "web-fixed.yaml")
	if err := os.WriteFile(bad, []byte(deployment), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(deployment+"      volumes:\n      - {name: data, emptyDir: {}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	code, _, errOut := runCLI(t, "", "check", "--offline", "-f", bad)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, errOut)
	}
	want := "nobackoff check: " + bad + `: document 1 (Deployment shop/web): spec.template.spec.containers[0].volumeMounts[0].name: Not found: "data"`
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}

	// With its volume declared, the same Deployment is fine.
	if code, out, errOut := runCLI(t, "", "check", "--offline", "-f", good); code != exitOK {
		t.Fatalf("fixed manifest: exit %d; stdout %s; stderr %s", code, out, errOut)
	}
}
