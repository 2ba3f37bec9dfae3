package e2e

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// jreHome finds the Java 17 runtime Debian's openjdk-17-jre-headless
// installs (hack/node-setup.sh).
func jreHome(t *testing.T) string {
	t.Helper()
	homes, _ := filepath.Glob("/usr/lib/jvm/java-17-openjdk-*")
	for _, h := range homes {
		if _, err := os.Stat(filepath.Join(h, "bin", "java")); err == nil {
			return h
		}
	}
	t.Fatal("no Java 17 runtime under /usr/lib/jvm: run hack/node-setup.sh (make node-setup)")
	return ""
}

// jreImage packs the machine's JRE into an image, with the shared
// libraries its programs and libraries load (as ldd lists them), so that
// the truth suite runs a real JVM: the runtime directory with its links
// followed, the libraries, and a /tmp for the JVM's performance data.
func jreImage(t *testing.T, home string, cfg v1.Config) v1.Image {
	t.Helper()
	files := map[string]string{} // path in the image -> file on this machine
	err := filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		st, err := os.Stat(p) // links followed
		if err != nil {
			return nil // a dangling link (an optional part not installed)
		}
		if st.Mode().IsRegular() {
			files[p] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	for p := range files {
		if strings.HasSuffix(p, ".so") || strings.HasSuffix(p, "/bin/java") {
			objects = append(objects, p)
		}
	}
	sort.Strings(objects)
	out, err := exec.Command("ldd", objects...).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("ldd: %v", err)
	}
	lib := regexp.MustCompile(`(?m)(?:=>\s*)?(/[^\s]+)\s+\(0x`)
	for _, m := range lib.FindAllStringSubmatch(string(out), -1) {
		if _, inHome := files[m[1]]; !inHome {
			if real, err := filepath.EvalSymlinks(m[1]); err == nil {
				files[m[1]] = real
			}
		}
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var addDir func(string)
	addDir = func(d string) {
		if d == "/" || d == "." || dirs[d] {
			return
		}
		addDir(filepath.Dir(d))
		dirs[d] = true
		mode := int64(0o755)
		if d == "/tmp" {
			mode = 0o1777
		}
		tarEntry(t, tw, &tar.Header{Name: strings.TrimPrefix(d, "/") + "/", Mode: mode, Typeflag: tar.TypeDir}, nil)
	}
	addDir("/tmp")
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, err := os.ReadFile(files[p])
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(files[p])
		if err != nil {
			t.Fatal(err)
		}
		addDir(filepath.Dir(p))
		tarEntry(t, tw, &tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: int64(st.Mode().Perm()), Typeflag: tar.TypeReg}, data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return oneLayerImage(t, buf.Bytes(), v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, cfg)
}
