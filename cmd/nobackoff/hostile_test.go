//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runWithin runs the CLI and fails the test if it has not returned within
// 20 s: a guard against hanging forever, not a timing assertion.
func runWithin(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		c := run(args, strings.NewReader(""), &out, &errb)
		done <- result{c, out.String(), errb.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.stdout, r.stderr
	case <-time.After(20 * time.Second):
		t.Fatalf("nobackoff %v still running after 20 s", args)
		return 0, "", ""
	}
}

func TestCheckRefusesAliasBomb(t *testing.T) {
	// One 1 MiB scalar aliased 5,000 times: a 1 MB file that would expand
	// to 5 GB.
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata: {name: bomb}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n")
	b.WriteString("    command: [&big \"" + strings.Repeat("x", 1<<20) + "\"]\n    args:\n")
	for range 5000 {
		b.WriteString("    - *big\n")
	}
	path := filepath.Join(t.TempDir(), "bomb.yaml")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runWithin(t, "check", "--offline", "-f", path)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, errOut)
	}
	if !strings.Contains(errOut, path+": document 1 (Pod bomb)") {
		t.Errorf("stderr does not name the file and object:\n%.500s", errOut)
	}
}

func TestCheckDirectoryWithNamedPipe(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "x.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("SKIPPED: mkfifo: %v", err)
	}
	code, out, errOut := runWithin(t, "check", "--offline", "-f", dir)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, errOut)
	}
	if !strings.Contains(errOut, fifo+": ") {
		t.Errorf("stderr does not name the pipe %s:\n%s", fifo, errOut)
	}
	// The regular file beside it was still read.
	if !strings.Contains(out, "1 object read") {
		t.Errorf("report:\n%s", out)
	}
}

func TestCheckNamedPipeGivenExplicitly(t *testing.T) {
	// -f <(kustomize build) hands over a pipe: it is read.
	fifo := filepath.Join(t.TempDir(), "in")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("SKIPPED: mkfifo: %v", err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = f.WriteString(listOnStdin)
	}()
	code, out, errOut := runWithin(t, "check", "--offline", "-f", fifo, "-o", "json")
	if code != exitFindings {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitFindings, errOut)
	}
	if fs := decodeReport(t, out); len(fs) != 1 || fs[0].Check != "image.invalid-reference" {
		t.Fatalf("findings %+v", fs)
	}
}

func TestCheckWorkloadOverLimit(t *testing.T) {
	// An image longer than any valid reference by far: refused as input,
	// located to the field.
	path := filepath.Join(t.TempDir(), "long.yaml")
	doc := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    spec:\n" +
		"      containers:\n      - {name: a, image: \"" + strings.Repeat("a", 100_000) + "\"}\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runWithin(t, "check", "--offline", "-f", path)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, errOut)
	}
	want := path + ": document 1 (Deployment shop/web): spec.template.spec.containers[0].image"
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr does not name %q:\n%.500s", want, errOut)
	}
}
