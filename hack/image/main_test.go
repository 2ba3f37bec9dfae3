package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"log"
	"math/big"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// file is one entry read back from a layer or an extracted filesystem.
type file struct {
	hdr  *tar.Header
	data []byte
}

// readTar reads every entry of a tar stream, keyed by its path without a
// leading "./" or "/" and without a trailing slash.
func readTar(t *testing.T, rc io.ReadCloser) map[string]file {
	t.Helper()
	defer rc.Close()
	files := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %v", h.Name, err)
		}
		key := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/"), "/")
		files[key] = file{hdr: h, data: data}
	}
}

// writeCA writes a self-signed CA certificate as PEM and returns its path.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "image test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeFile writes data to a new file in a temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeBinary is what fakeBuild writes for a platform and version.
func fakeBinary(p v1.Platform, version string) []byte {
	return []byte("not really nobackoff " + version + " for " + p.String() + "\n")
}

// fakeBuild is a builder that writes fakeBinary instead of compiling, and
// counts its calls.
func fakeBuild(calls *int) builder {
	return func(_ context.Context, p v1.Platform, version, out string) error {
		*calls++
		return os.WriteFile(out, fakeBinary(p, version), 0o755)
	}
}

func amd64() v1.Platform { return v1.Platform{OS: "linux", Architecture: "amd64"} }
func arm64() v1.Platform { return v1.Platform{OS: "linux", Architecture: "arm64"} }

func buildTestImage(t *testing.T, bin []byte, o Options) v1.Image {
	t.Helper()
	img, err := BuildImage(writeFile(t, "nobackoff", bin), o)
	if err != nil {
		t.Fatalf("BuildImage: %v", err)
	}
	return img
}

func digest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestImageFilesystem(t *testing.T) {
	ca := writeCA(t)
	caBytes, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	bin := []byte("#!fake binary\n")
	img := buildTestImage(t, bin, Options{Version: "v9.8.7", Source: defaultSource, Platform: arm64(), CACertificates: ca})

	files := readTar(t, mutate.Extract(img))
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{
		"etc", "etc/group", "etc/nsswitch.conf", "etc/passwd", "etc/ssl", "etc/ssl/certs",
		"etc/ssl/certs/ca-certificates.crt", "home", "home/nonroot", "nobackoff", "root", "tmp",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("files:\n got %q\nwant %q", names, want)
	}

	for _, c := range []struct {
		path     string
		typ      byte
		mode     int64
		uid, gid int
	}{
		{"nobackoff", tar.TypeReg, 0o755, 0, 0},
		{"tmp", tar.TypeDir, 0o1777, 0, 0},
		{"home/nonroot", tar.TypeDir, 0o700, NonrootID, NonrootID},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0},
		{"etc/ssl/certs", tar.TypeDir, 0o755, 0, 0},
		{"etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, 0},
	} {
		h := files[c.path].hdr
		if h.Typeflag != c.typ || h.Mode&0o7777 != c.mode || h.Uid != c.uid || h.Gid != c.gid {
			t.Errorf("%s: type %c mode %#o owner %d:%d, want type %c mode %#o owner %d:%d",
				c.path, h.Typeflag, h.Mode&0o7777, h.Uid, h.Gid, c.typ, c.mode, c.uid, c.gid)
		}
	}
	if m := files["tmp"].hdr.FileInfo().Mode(); m&os.ModeSticky == 0 {
		t.Errorf("/tmp mode %v: no sticky bit", m)
	}
	for n, f := range files {
		if !f.hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: mtime %v, want the Unix epoch", n, f.hdr.ModTime)
		}
	}

	if got := files["nobackoff"].data; !bytes.Equal(got, bin) {
		t.Errorf("/nobackoff holds %q, want %q", got, bin)
	}
	if got := files["etc/ssl/certs/ca-certificates.crt"].data; !bytes.Equal(got, caBytes) {
		t.Errorf("CA bundle differs from %s", ca)
	}
	passwd := string(files["etc/passwd"].data)
	for _, line := range []string{"root:x:0:0:", "nobody:x:65534:65534:", "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"} {
		if !strings.Contains(passwd, "\n"+line) && !strings.HasPrefix(passwd, line) {
			t.Errorf("/etc/passwd lacks %q:\n%s", line, passwd)
		}
	}
	if group := string(files["etc/group"].data); !strings.Contains(group, "nonroot:x:65532:") {
		t.Errorf("/etc/group lacks nonroot:\n%s", group)
	}
	if ns := string(files["etc/nsswitch.conf"].data); ns != "hosts: files dns\n" {
		t.Errorf("/etc/nsswitch.conf = %q", ns)
	}

	// Two layers: the base, then the binary alone.
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("%d layers, want 2", len(layers))
	}
	top, err := layers[1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	if got := readTar(t, top); len(got) != 1 || got["nobackoff"].hdr == nil {
		t.Errorf("second layer holds %d entries, want only nobackoff", len(got))
	}
}

func TestImageConfigAndMediaTypes(t *testing.T) {
	img := buildTestImage(t, []byte("x"), Options{Version: "v1.2.3", Source: "https://example.com/src", Platform: arm64(), CACertificates: writeCA(t)})

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("User = %q", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/nobackoff"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("Entrypoint %q Cmd %q", c.Entrypoint, c.Cmd)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" {
		t.Errorf("platform %s/%s, want linux/arm64", cf.OS, cf.Architecture)
	}
	if !slices.Equal(c.Env, []string{"PATH=/", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}) {
		t.Errorf("Env = %q", c.Env)
	}
	if c.WorkingDir != "/" {
		t.Errorf("WorkingDir = %q", c.WorkingDir)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.source":  "https://example.com/src",
		"org.opencontainers.image.version": "v1.2.3",
		"org.opencontainers.image.title":   "nobackoff",
	} {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !cf.Created.Equal(time.Unix(0, 0)) || len(cf.History) != 2 || len(cf.RootFS.DiffIDs) != 2 {
		t.Errorf("created %v, %d history entries, %d diff IDs", cf.Created, len(cf.History), len(cf.RootFS.DiffIDs))
	}

	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("manifest %s, config %s", m.MediaType, m.Config.MediaType)
	}
	for i, l := range m.Layers {
		if l.MediaType != types.OCILayer {
			t.Errorf("layer %d: %s", i, l.MediaType)
		}
	}
}

func TestReproducible(t *testing.T) {
	ca := writeCA(t)
	o := Options{Version: "v1", Source: defaultSource, Platform: amd64(), CACertificates: ca}
	bin := []byte("same bytes")

	first := writeFile(t, "nobackoff", bin)
	second := writeFile(t, "other-name", bin)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(second, old, old); err != nil {
		t.Fatal(err)
	}
	a, err := BuildImage(first, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildImage(second, o)
	if err != nil {
		t.Fatal(err)
	}
	if da, db := digest(t, a), digest(t, b); da != db {
		t.Errorf("same input, different digests: %s and %s", da, db)
	}

	o.Platform = arm64()
	c, err := BuildImage(first, o)
	if err != nil {
		t.Fatal(err)
	}
	ia, err := BuildIndex([]v1.Image{a, c})
	if err != nil {
		t.Fatal(err)
	}
	ib, err := BuildIndex([]v1.Image{b, c})
	if err != nil {
		t.Fatal(err)
	}
	if da, db := digest(t, ia), digest(t, ib); da != db {
		t.Errorf("same input, different index digests: %s and %s", da, db)
	}

	o.Version = "v2"
	if d, err := BuildImage(first, o); err != nil {
		t.Fatal(err)
	} else if digest(t, d) == digest(t, c) {
		t.Error("a different version gave the same digest")
	}

	o.Created = old
	img, err := BuildImage(first, o)
	if err != nil {
		t.Fatal(err)
	}
	for n, f := range readTar(t, mutate.Extract(img)) {
		if !f.hdr.ModTime.Equal(old) {
			t.Errorf("%s: mtime %v, want %v", n, f.hdr.ModTime, old)
		}
	}
}

func TestMissingCA(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-ca.crt")
	_, err := BuildImage(writeFile(t, "nobackoff", []byte("x")), Options{Version: "v", Platform: amd64(), CACertificates: missing})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("BuildImage with a missing CA file: %v, want an error naming %s", err, missing)
	}

	// The command fails before compiling anything, naming the flag and the file.
	calls := 0
	cfg, err := parseFlags([]string{"--ca-certificates", missing, "--oci-layout", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = execute(context.Background(), cfg, fakeBuild(&calls), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--ca-certificates") || !strings.Contains(err.Error(), missing) {
		t.Errorf("execute: %v, want an error naming --ca-certificates and %s", err, missing)
	}
	if calls != 0 {
		t.Errorf("built %d binaries before failing", calls)
	}

	notPEM := writeFile(t, "empty.crt", []byte("not a certificate\n"))
	if _, err := BuildImage(writeFile(t, "nobackoff", []byte("x")), Options{Version: "v", Platform: amd64(), CACertificates: notPEM}); err == nil || !strings.Contains(err.Error(), notPEM) {
		t.Errorf("BuildImage with a CA file without certificates: %v, want an error naming %s", err, notPEM)
	}
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--tarball", "out.tar"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.platforms) != 1 || !cfg.platforms[0].Equals(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}) {
		t.Errorf("default platforms %v", cfg.platforms)
	}
	if cfg.version != "dev" || cfg.tag.String() != "ghcr.io/nobackoff/nobackoff:dev" || cfg.caFile != "/etc/ssl/certs/ca-certificates.crt" {
		t.Errorf("defaults: version %q tag %q ca %q", cfg.version, cfg.tag, cfg.caFile)
	}

	cfg, err = parseFlags([]string{"--platform", "linux/amd64, linux/arm/v7", "--version", "v3", "--oci-layout", "d"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.platforms) != 2 || cfg.platforms[1].Variant != "v7" || cfg.tag.String() != "ghcr.io/nobackoff/nobackoff:v3" {
		t.Errorf("platforms %v tag %s", cfg.platforms, cfg.tag)
	}

	for _, c := range []struct {
		args []string
		want []string // substrings of the error
	}{
		{nil, []string{"no output", "--push", "--tarball", "--oci-layout"}},
		{[]string{"--tarball", "x.tar", "--platform", "linux/amd64,linux/arm64"}, []string{"--tarball", "--push or --oci-layout"}},
		{[]string{"--tarball", "x.tar", "--platform", "windows/amd64"}, []string{"windows/amd64", "only linux"}},
		{[]string{"--tarball", "x.tar", "--platform", "linux/amd64,linux/amd64"}, []string{"linux/amd64", "twice"}},
		{[]string{"--tarball", "x.tar", "--platform", "linux/arm/v9"}, []string{"variant"}},
		{[]string{"--tarball", "x.tar", "--registry-ca", "ca.pem"}, []string{"--registry-ca", "--push"}},
		{[]string{"--push", "nobackoff:dev"}, []string{"--push nobackoff:dev"}},
		{[]string{"--push", "localhost:5000/UPPER:dev"}, []string{"--push localhost:5000/UPPER:dev"}},
		{[]string{"--tarball", "x.tar", "--tag", "no spaces:allowed"}, []string{"--tag"}},
		{[]string{"--tarball", "x.tar", "--version", ""}, []string{"--version"}},
		{[]string{"--tarball", "x.tar", "stray"}, []string{"stray"}},
	} {
		_, err := parseFlags(c.args, io.Discard)
		if err == nil {
			t.Errorf("%q: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", c.args, err, w)
			}
		}
	}

	var usage bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, f := range []string{"-platform", "-version", "-tag", "-source", "-ca-certificates", "-push", "-registry-ca", "-insecure", "-tarball", "-oci-layout", "SOURCE_DATE_EPOCH"} {
		if !strings.Contains(usage.String(), f) {
			t.Errorf("-h does not document %s", f)
		}
	}
}

// runFake parses args and runs the command with fakeBuild, returning stdout.
func runFake(t *testing.T, args ...string) string {
	t.Helper()
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	calls := 0
	if err := execute(context.Background(), cfg, fakeBuild(&calls), &out, io.Discard); err != nil {
		t.Fatalf("execute %q: %v", args, err)
	}
	if calls != len(cfg.platforms) {
		t.Errorf("%d builds for %d platforms", calls, len(cfg.platforms))
	}
	return out.String()
}

// expectedImage builds the image runFake produces for a platform.
func expectedImage(t *testing.T, ca, version string, p v1.Platform) v1.Image {
	t.Helper()
	return buildTestImage(t, fakeBinary(p, version), Options{Version: version, Source: defaultSource, Platform: p, CACertificates: ca})
}

func newRegistry(t *testing.T, tls bool) *httptest.Server {
	t.Helper()
	quiet := log.New(io.Discard, "", 0)
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(quiet)))
	srv.Config.ErrorLog = quiet // the failed handshakes TestPushRegistryCA expects
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestPushIndex(t *testing.T) {
	srv := newRegistry(t, false)
	host := strings.TrimPrefix(srv.URL, "http://")
	ca := writeCA(t)
	ref := host + "/nobackoff:multi"

	out := runFake(t, "--platform", "linux/amd64,linux/arm64", "--version", "v0.0.1", "--ca-certificates", ca, "--push", ref, "--insecure")

	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	if desc.MediaType != types.OCIImageIndex {
		t.Fatalf("%s is a %s, want an OCI index", ref, desc.MediaType)
	}
	if !strings.Contains(out, "pushed index "+tag.Name()+"@"+desc.Digest.String()) {
		t.Errorf("output does not report the pushed digest %s:\n%s", desc.Digest, out)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("%d manifests, want 2", len(im.Manifests))
	}
	for i, want := range []v1.Platform{amd64(), arm64()} {
		m := im.Manifests[i]
		if m.Platform == nil || !m.Platform.Equals(want) {
			t.Errorf("manifest %d: platform %v, want %v", i, m.Platform, want)
		}
		if m.MediaType != types.OCIManifestSchema1 {
			t.Errorf("manifest %d: %s", i, m.MediaType)
		}
		if exp := digest(t, expectedImage(t, ca, "v0.0.1", want)); m.Digest != exp {
			t.Errorf("manifest %d: digest %s, want %s", i, m.Digest, exp)
		}
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != want.Architecture || cf.OS != "linux" {
			t.Errorf("manifest %d: config platform %s/%s", i, cf.OS, cf.Architecture)
		}
		if got := readTar(t, mutate.Extract(img))["nobackoff"].data; !bytes.Equal(got, fakeBinary(want, "v0.0.1")) {
			t.Errorf("manifest %d: /nobackoff = %q", i, got)
		}
	}

	// One platform pushes a plain image.
	single := host + "/nobackoff:single"
	runFake(t, "--platform", "linux/arm64", "--ca-certificates", ca, "--push", single)
	singleRef, err := name.ParseReference(single)
	if err != nil {
		t.Fatal(err)
	}
	desc, err = remote.Get(singleRef)
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("%s is a %s, want an OCI image manifest", single, desc.MediaType)
	}
	if exp := digest(t, expectedImage(t, ca, "dev", arm64())); desc.Digest != exp {
		t.Errorf("%s: digest %s, want %s", single, desc.Digest, exp)
	}
}

func TestPushRegistryCA(t *testing.T) {
	srv := newRegistry(t, true)
	host := strings.TrimPrefix(srv.URL, "https://")
	serverCA := writeFile(t, "registry-ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	ca := writeCA(t)
	ref := host + "/nobackoff:tls"

	cfg, err := parseFlags([]string{"--ca-certificates", ca, "--push", ref}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	if err := execute(context.Background(), cfg, fakeBuild(&calls), io.Discard, io.Discard); err == nil {
		t.Error("push to a registry with an unknown CA succeeded without --registry-ca")
	}

	runFake(t, "--ca-certificates", ca, "--push", ref, "--registry-ca", serverCA)
	tag, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Get(tag, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Errorf("get %s after the push: %v", ref, err)
	}
}

func TestTarball(t *testing.T) {
	ca := writeCA(t)
	path := filepath.Join(t.TempDir(), "sub", "dir", "nobackoff.tar")
	out := runFake(t, "--platform", "linux/arm64", "--version", "v5", "--ca-certificates", ca, "--tarball", path, "--tag", "example.com/team/nobackoff:v5")

	want := expectedImage(t, ca, "v5", arm64())
	if !strings.Contains(out, digest(t, want).String()) || !strings.Contains(out, "wrote "+path) {
		t.Errorf("output does not report digest %s and %s:\n%s", digest(t, want), path, out)
	}

	tag, err := name.NewTag("example.com/team/nobackoff:v5")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("read %s by tag: %v", path, err)
	}
	gotCfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	wantCfg, err := want.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if gotCfg != wantCfg {
		t.Errorf("config %s, want %s", gotCfg, wantCfg)
	}
	gotLayers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	wantLayers, err := want.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(gotLayers) != len(wantLayers) {
		t.Fatalf("%d layers, want %d", len(gotLayers), len(wantLayers))
	}
	for i := range gotLayers {
		if g, w := digest(t, gotLayers[i]), digest(t, wantLayers[i]); g != w {
			t.Errorf("layer %d: %s, want %s", i, g, w)
		}
	}
	if got := readTar(t, mutate.Extract(img))["nobackoff"].data; !bytes.Equal(got, fakeBinary(arm64(), "v5")) {
		t.Errorf("/nobackoff = %q", got)
	}

	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{"example.com/team/nobackoff:v5"}) {
		t.Errorf("manifest.json: %+v", m)
	}

	// No partial files are left beside it.
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("%d files in %s, want only the tarball", len(entries), filepath.Dir(path))
	}
}

func TestOCILayout(t *testing.T) {
	ca := writeCA(t)
	dir := filepath.Join(t.TempDir(), "layout")
	out := runFake(t, "--platform", "linux/amd64,linux/arm64", "--version", "v7", "--ca-certificates", ca, "--oci-layout", dir, "--tag", "example.com/nobackoff:v7")

	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("read layout %s: %v", dir, err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index.json names %d manifests, want 1", len(im.Manifests))
	}
	d := im.Manifests[0]
	if d.MediaType != types.OCIImageIndex || d.Annotations["org.opencontainers.image.ref.name"] != "v7" {
		t.Errorf("index.json entry: %s %v", d.MediaType, d.Annotations)
	}
	if !strings.Contains(out, d.Digest.String()) {
		t.Errorf("output does not report %s:\n%s", d.Digest, out)
	}
	idx, err := top.ImageIndex(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	children, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(children.Manifests) != 2 {
		t.Fatalf("%d platforms, want 2", len(children.Manifests))
	}
	for i, want := range []v1.Platform{amd64(), arm64()} {
		m := children.Manifests[i]
		if m.Platform == nil || !m.Platform.Equals(want) {
			t.Errorf("manifest %d: platform %v, want %v", i, m.Platform, want)
		}
		if _, err := idx.Image(m.Digest); err != nil {
			t.Errorf("manifest %d: %v", i, err)
		}
	}

	// One platform: index.json names the image itself, with its platform.
	runFake(t, "--ca-certificates", ca, "--oci-layout", dir)
	top, err = layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if im, err = top.IndexManifest(); err != nil {
		t.Fatal(err)
	}
	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if len(im.Manifests) != 1 || im.Manifests[0].MediaType != types.OCIManifestSchema1 ||
		im.Manifests[0].Platform == nil || !im.Manifests[0].Platform.Equals(host) {
		t.Fatalf("index.json after a single-platform build: %+v", im.Manifests)
	}
	if exp := digest(t, expectedImage(t, ca, "dev", host)); im.Manifests[0].Digest != exp {
		t.Errorf("digest %s, want %s", im.Manifests[0].Digest, exp)
	}
}

// TestGoBuild compiles ./cmd/nobackoff for this machine and checks the
// binary in the tarball is static, of the right architecture and stamped
// with the version.
func TestGoBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles ./cmd/nobackoff")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	if runtime.GOOS != "linux" || machines[runtime.GOARCH] == 0 {
		t.Skipf("host %s/%s", runtime.GOOS, runtime.GOARCH)
	}

	path := filepath.Join(t.TempDir(), "image.tar")
	version := "v0.0.0-image-test"
	cfg, err := parseFlags([]string{"--version", version, "--ca-certificates", writeCA(t), "--tarball", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if err := execute(context.Background(), cfg, goBuild("../..", &stderr), io.Discard, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}

	tag := cfg.tag
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	bin := readTar(t, mutate.Extract(img))["nobackoff"].data
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("/nobackoff is not ELF: %v", err)
	}
	if f.Machine != machines[runtime.GOARCH] {
		t.Errorf("machine %v, want %v", f.Machine, machines[runtime.GOARCH])
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("/nobackoff is dynamically linked (%v)", p.Type)
		}
	}

	exe := writeFile(t, "nobackoff", bin)
	got, err := exec.Command(exe, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("nobackoff version: %v\n%s", err, got)
	}
	if strings.TrimSpace(string(got)) != "nobackoff "+version {
		t.Errorf("nobackoff version printed %q", got)
	}
}
