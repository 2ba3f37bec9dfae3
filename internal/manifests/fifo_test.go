//go:build unix

package manifests

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"

// readWithin runs Read and fails the test if it has not returned
// within 20 s: a guard against hanging forever, not a timing assertion.
func readWithin(t *testing.T, paths ...string) ([]Document, []error) {
	t.Helper()
	type result struct {
		docs []Document
		errs []error
	}
	done := make(chan result, 1)
	go func() {
		d, e := Read(paths, nil)
		done <- result{d, e}
	}()
	select {
	case r := <-done:
		return r.docs, r.errs
	case <-time.After(20 * time.Second):
		t.Fatalf("Read(%v) still blocked after 20 s", paths)
		return nil, nil
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("SKIPPED: mkfifo: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// whereOf returns the Where of each error, failing on errors that are not
// *Error.
func whereOf(t *testing.T, errs []error) []string {
	t.Helper()
	var out []string
	for _, err := range errs {
		var me *Error
		if !errors.As(err, &me) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		out = append(out, me.Where)
	}
	return out
}

func TestDirectoryReadsRegularFilesOnly(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), configMap)
	fifo := filepath.Join(dir, "b.yaml")
	mkfifo(t, fifo)
	if err := os.Symlink("a.yaml", filepath.Join(dir, "c.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("b.yaml", filepath.Join(dir, "d.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "e.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("e.yaml", filepath.Join(dir, "f.yaml")); err != nil {
		t.Fatal(err)
	}
	// A named pipe without a manifest's name is not a manifest: ignored,
	// as any such file is.
	mkfifo(t, filepath.Join(dir, "notes"))

	docs, errs := readWithin(t, dir)
	var read []string
	for _, d := range docs {
		read = append(read, d.Source)
	}
	wantRead := []string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "c.yaml")}
	if len(read) != 2 || read[0] != wantRead[0] || read[1] != wantRead[1] {
		t.Errorf("read %v, want %v", read, wantRead)
	}
	got := whereOf(t, errs)
	want := []string{fifo, filepath.Join(dir, "d.yaml"), filepath.Join(dir, "f.yaml")}
	if len(got) != len(want) {
		t.Fatalf("errors at %v, want at %v (%v)", got, want, errs)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("error %d at %q, want %q", i, got[i], want[i])
		}
	}
}

func TestDirectoryNamedThroughALink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(real, "a.yaml"), configMap)
	link := filepath.Join(dir, "link")
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	docs, errs := readWithin(t, link)
	if len(errs) != 0 || len(docs) != 1 || docs[0].Source != filepath.Join(link, "a.yaml") {
		t.Fatalf("docs %+v, errors %v: want link/a.yaml read", docs, errs)
	}
}

func TestNamedPipeReadWhenNamed(t *testing.T) {
	// -f <(helm template ...) and -f /dev/stdin name a pipe on purpose.
	fifo := filepath.Join(t.TempDir(), "in")
	mkfifo(t, fifo)
	go func() {
		// Opening blocks until the reader opens its end.
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = f.WriteString(configMap)
	}()
	docs, errs := readWithin(t, fifo)
	if len(errs) != 0 || len(docs) != 1 || docs[0].Name != "cfg" {
		t.Fatalf("docs %+v, errors %v", docs, errs)
	}
}

func TestRegularFileReplacedByPipe(t *testing.T) {
	// A file listed as regular and then replaced by a named pipe is
	// refused once open, not waited on.
	fifo := filepath.Join(t.TempDir(), "x.yaml")
	mkfifo(t, fifo)
	done := make(chan []error, 1)
	go func() {
		_, errs := readFile(fifo, false)
		done <- errs
	}()
	select {
	case errs := <-done:
		if got := whereOf(t, errs); len(got) != 1 || got[0] != fifo {
			t.Fatalf("errors %v: want one at %s", errs, fifo)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("readFile on a named pipe still blocked after 20 s")
	}
}

func TestNamedSocketRefused(t *testing.T) {
	// Not a file, a directory or a pipe: an error, not a silent pass.
	sock := filepath.Join(t.TempDir(), "s.yaml")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("SKIPPED: socket: %v", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Skipf("SKIPPED: bind %s: %v", sock, err)
	}
	_, errs := readWithin(t, sock)
	if got := whereOf(t, errs); len(got) != 1 || got[0] != sock {
		t.Fatalf("errors %v: want one at %s", errs, sock)
	}
}
