// Command image builds the nobackoff container image without a Docker engine.
//
// It produces the layout of the repository's Dockerfile: a static
// (CGO_ENABLED=0) binary at /nobackoff on a minimal non-root base, run as
// 65532:65532 with ENTRYPOINT ["/nobackoff"] and CMD ["serve"]. The base is
// assembled here rather than pulled: /etc/passwd and /etc/group with root,
// nobody and nonroot, /etc/nsswitch.conf, the build machine's CA bundle, /tmp
// and /home/nonroot. Every layer is written deterministically, so the same
// binary, CA bundle and flags always give the same image digest.
//
// Run it from the repository root:
//
//	go run ./hack/image --version v1.2.3 --tarball bin/image/nobackoff.tar
//	go run ./hack/image --platform linux/amd64,linux/arm64 --push localhost:5000/nobackoff:dev
//
// `go run ./hack/image -h` documents every flag.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// BinaryPath is where the nobackoff binary lives in the image.
	BinaryPath = "/nobackoff"
	// CABundlePath is where the CA bundle lives in the image.
	CABundlePath = "/etc/ssl/certs/ca-certificates.crt"
	// NonrootID is the uid and gid the image runs as (distroless's nonroot).
	NonrootID = 65532

	defaultRepository = "ghcr.io/nobackoff/nobackoff"
	defaultSource     = "https://github.com/nobackoff/nobackoff"
	mainPackage       = "./cmd/nobackoff"
)

// Options describe one platform's image apart from the binary in it.
type Options struct {
	// Version is the image's org.opencontainers.image.version label.
	Version string
	// Source is the image's org.opencontainers.image.source label.
	Source string
	// Platform is the OS, architecture and variant recorded in the config.
	Platform v1.Platform
	// CACertificates is the path, on the build machine, of the PEM bundle
	// copied to /etc/ssl/certs/ca-certificates.crt.
	CACertificates string
	// Created is the config's creation time and the mtime of every file in
	// the layers. The zero value means the Unix epoch.
	Created time.Time
}

func (o Options) created() time.Time {
	if o.Created.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return o.Created.UTC()
}

// BuildImage assembles the image for one platform from the binary at
// binary: the base layer, a layer holding only /nobackoff, and the config.
// It runs no compiler; the binary must already be built for o.Platform.
func BuildImage(binary string, o Options) (v1.Image, error) {
	if o.Platform.OS == "" || o.Platform.Architecture == "" {
		return nil, fmt.Errorf("platform %q: need an OS and an architecture", o.Platform.String())
	}
	ca, err := ReadCABundle(o.CACertificates)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	mtime := o.created()

	base, err := BaseLayer(ca, mtime)
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	app, err := BinaryLayer(bin, mtime)
	if err != nil {
		return nil, fmt.Errorf("binary layer: %w", err)
	}

	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created:   v1.Time{Time: mtime},
			CreatedBy: "hack/image: passwd, group, nsswitch.conf, CA certificates, /tmp, /home/nonroot",
		}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{
			Created:   v1.Time{Time: mtime},
			CreatedBy: "hack/image: " + BinaryPath,
		}},
	)
	if err != nil {
		return nil, err
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: mtime}
	cf.OS = o.Platform.OS
	cf.Architecture = o.Platform.Architecture
	cf.Variant = o.Platform.Variant
	cf.OSVersion = o.Platform.OSVersion
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", NonrootID, NonrootID),
		Entrypoint: []string{BinaryPath},
		Cmd:        []string{"serve"},
		Env:        []string{"PATH=/", "SSL_CERT_FILE=" + CABundlePath},
		WorkingDir: "/",
		Labels: map[string]string{
			"org.opencontainers.image.source":  o.Source,
			"org.opencontainers.image.version": o.Version,
			"org.opencontainers.image.title":   "nobackoff",
		},
	}
	return mutate.ConfigFile(img, cf)
}

// BuildIndex returns an OCI image index of imgs, each described by the
// platform in its config.
func BuildIndex(imgs []v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	adds := make([]mutate.IndexAddendum, 0, len(imgs))
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		p := cf.Platform()
		if p == nil {
			return nil, errors.New("image config names no platform")
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

// ReadCABundle reads the PEM CA bundle at path and checks that it holds at
// least one certificate.
func ReadCABundle(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("no CA certificates file given")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return b, nil
}

// entry is one file or directory of a layer.
type entry struct {
	path     string // absolute, without a trailing slash
	dir      bool
	mode     int64 // permission bits, with the sticky bit as 0o1000
	uid, gid int
	data     []byte
}

// BaseLayer returns the layer of the non-root base: users and groups, name
// resolution, CA certificates and the writable directories.
func BaseLayer(caBundle []byte, mtime time.Time) (v1.Layer, error) {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\n" +
		"nobody:x:65534:\n" +
		"nonroot:x:65532:\n"
	return layerOf([]entry{
		{path: "/etc", dir: true, mode: 0o755},
		{path: "/etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "/etc/group", mode: 0o644, data: []byte(group)},
		{path: "/etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{path: "/etc/ssl", dir: true, mode: 0o755},
		{path: "/etc/ssl/certs", dir: true, mode: 0o755},
		{path: CABundlePath, mode: 0o644, data: caBundle},
		{path: "/home", dir: true, mode: 0o755},
		{path: "/home/nonroot", dir: true, mode: 0o700, uid: NonrootID, gid: NonrootID},
		{path: "/root", dir: true, mode: 0o700},
		{path: "/tmp", dir: true, mode: 0o1777},
	}, mtime)
}

// BinaryLayer returns the layer holding only /nobackoff, owned by root and
// mode 0755.
func BinaryLayer(binary []byte, mtime time.Time) (v1.Layer, error) {
	return layerOf([]entry{{path: BinaryPath, mode: 0o755, data: binary}}, mtime)
}

// layerOf writes entries, sorted by path, as a gzipped tar with every mtime
// set to mtime, and returns it as an OCI layer. The same entries and mtime
// always give the same bytes.
func layerOf(entries []entry, mtime time.Time) (v1.Layer, error) {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.path, b.path) })

	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		h := &tar.Header{
			Name:    strings.TrimPrefix(e.path, "/"),
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", e.path, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("%s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}

	// compress/gzip writes no name and no mtime unless told to, so the
	// compressed bytes depend only on the tar.
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	compressed := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// config is what the command line asks for.
type config struct {
	platforms  []v1.Platform
	version    string
	tag        name.Tag
	source     string
	caFile     string
	created    time.Time
	push       string
	registryCA string
	insecure   bool
	tarball    string
	ociLayout  string
}

// platformList is the value of --platform.
type platformList []v1.Platform

func (l *platformList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, p := range *l {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (l *platformList) Set(v string) error {
	var out platformList
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := v1.ParsePlatform(s)
		if err != nil {
			return err
		}
		if p.OS != "linux" {
			return fmt.Errorf("%s: only linux images can be built", s)
		}
		if p.Architecture == "" {
			return fmt.Errorf("%s: no architecture", s)
		}
		if _, err := goVariantEnv(*p); err != nil {
			return err
		}
		if slices.ContainsFunc(out, func(q v1.Platform) bool { return q.Equals(*p) }) {
			return fmt.Errorf("%s: named twice", s)
		}
		out = append(out, *p)
	}
	if len(out) == 0 {
		return errors.New("no platform")
	}
	*l = out
	return nil
}

// parseFlags reads the command line. It returns flag.ErrHelp after printing
// the usage for -h.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(stderr)

	platforms := platformList{{OS: "linux", Architecture: runtime.GOARCH}}
	cfg := &config{}
	var tag string
	fs.Var(&platforms, "platform", "comma-separated `os/arch[/variant]` list to build, e.g. linux/amd64,linux/arm64 (only linux)")
	fs.StringVar(&cfg.version, "version", "dev", "version stamped into the binary (-X main.version) and the org.opencontainers.image.version label")
	fs.StringVar(&tag, "tag", "", "`reference` naming the image in --tarball and --oci-layout (default "+defaultRepository+":VERSION)")
	fs.StringVar(&cfg.source, "source", defaultSource, "org.opencontainers.image.source label")
	fs.StringVar(&cfg.caFile, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "PEM `file` on this machine copied to "+CABundlePath+" in the image")
	fs.StringVar(&cfg.push, "push", "", "push to this registry `reference`, e.g. localhost:5000/nobackoff:dev (an image index when several platforms are built); credentials come from the Docker config and credential helpers")
	fs.StringVar(&cfg.registryCA, "registry-ca", "", "PEM `file` of a CA trusted, besides the system's, for the --push registry's TLS certificate")
	fs.BoolVar(&cfg.insecure, "insecure", false, "let --push talk plain HTTP to the registry (localhost and loopback addresses fall back to it without this flag)")
	fs.StringVar(&cfg.tarball, "tarball", "", "write a docker-save `file` for `docker load` and `ctr -n k8s.io images import` (single platform only)")
	fs.StringVar(&cfg.ociLayout, "oci-layout", "", "write an OCI image layout `dir` whose index.json names the image (or the index of all platforms) by --tag; replaces an index.json already there")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./hack/image [flags]

Builds the nobackoff container image without a Docker engine. For each
platform it runs go build on %s (CGO_ENABLED=0, -trimpath,
-ldflags "-s -w -X main.version=VERSION"), puts the binary at %s on a
minimal non-root base (user %d:%d) and writes the result to at least one
of --push, --tarball and --oci-layout. Run it from the repository root.

SOURCE_DATE_EPOCH, when set, is the image's creation time and the mtime of
its files (default: the Unix epoch).

Flags:
`, mainPackage, BinaryPath, NonrootID, NonrootID)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	cfg.platforms = platforms

	if cfg.version == "" {
		return nil, errors.New("--version: empty")
	}
	if tag == "" {
		tag = defaultRepository + ":" + cfg.version
	}
	t, err := name.NewTag(tag)
	if err != nil {
		return nil, fmt.Errorf("--tag %s: %w", tag, err)
	}
	cfg.tag = t

	if cfg.push == "" && cfg.tarball == "" && cfg.ociLayout == "" {
		return nil, errors.New("no output: give at least one of --push, --tarball and --oci-layout")
	}
	if cfg.tarball != "" && len(cfg.platforms) > 1 {
		return nil, fmt.Errorf("--tarball holds one platform, but --platform names %d (%s): use --push or --oci-layout for a multi-platform image, or one --platform per tarball",
			len(cfg.platforms), platforms.String())
	}
	if cfg.push == "" && (cfg.registryCA != "" || cfg.insecure) {
		return nil, errors.New("--registry-ca and --insecure only apply to --push")
	}
	if cfg.push != "" {
		if _, err := pushTag(cfg.push, cfg.insecure); err != nil {
			return nil, err
		}
	}

	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%s: not a number of seconds", s)
		}
		cfg.created = time.Unix(sec, 0).UTC()
	}
	return cfg, nil
}

// pushTag parses the --push reference, which must name its registry and tag.
func pushTag(ref string, insecure bool) (name.Tag, error) {
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	t, err := name.NewTag(ref, opts...)
	if err != nil {
		return name.Tag{}, fmt.Errorf("--push %s: %w", ref, err)
	}
	return t, nil
}

// builder compiles the nobackoff binary for platform p, stamped with
// version, into the file out.
type builder func(ctx context.Context, p v1.Platform, version, out string) error

// goBuild returns a builder that runs go build on ./cmd/nobackoff in the
// module rooted at dir, the way the Dockerfile does.
func goBuild(dir string, stderr io.Writer) builder {
	return func(ctx context.Context, p v1.Platform, version, out string) error {
		variant, err := goVariantEnv(p)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
			"-ldflags", "-s -w -X main.version="+version, "-o", out, mainPackage)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
		cmd.Env = append(cmd.Env, variant...)
		cmd.Stdout = stderr
		cmd.Stderr = stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s for %s: %w", mainPackage, p.String(), err)
		}
		return nil
	}
}

// goVariantEnv maps a platform variant to the go build environment that
// selects it.
func goVariantEnv(p v1.Platform) ([]string, error) {
	v := p.Variant
	switch {
	case v == "":
		return nil, nil
	case p.Architecture == "arm" && (v == "v5" || v == "v6" || v == "v7"):
		return []string{"GOARM=" + strings.TrimPrefix(v, "v")}, nil
	case p.Architecture == "arm64" && v == "v8":
		return nil, nil
	case p.Architecture == "amd64" && (v == "v1" || v == "v2" || v == "v3" || v == "v4"):
		return []string{"GOAMD64=" + v}, nil
	}
	return nil, fmt.Errorf("%s: unsupported variant %q", p.String(), v)
}

// builtImage is the image of one platform.
type builtImage struct {
	platform v1.Platform
	image    v1.Image
}

// execute builds the binaries with build, assembles the images and writes
// every requested output, reporting on stdout.
func execute(ctx context.Context, cfg *config, build builder, stdout, stderr io.Writer) error {
	// A missing CA bundle fails before anything is compiled.
	if _, err := ReadCABundle(cfg.caFile); err != nil {
		return fmt.Errorf("--ca-certificates: %w", err)
	}

	tmp, err := os.MkdirTemp("", "nobackoff-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var built []builtImage
	for _, p := range cfg.platforms {
		bin := filepath.Join(tmp, strings.ReplaceAll(p.String(), "/", "-"), "nobackoff")
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "building %s for %s\n", mainPackage, p.String())
		if err := build(ctx, p, cfg.version, bin); err != nil {
			return err
		}
		img, err := BuildImage(bin, Options{
			Version:        cfg.version,
			Source:         cfg.source,
			Platform:       p,
			CACertificates: cfg.caFile,
			Created:        cfg.created,
		})
		if err != nil {
			return fmt.Errorf("image for %s: %w", p.String(), err)
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		size, err := imageSize(img)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "image %-14s %s  %d bytes compressed\n", p.String(), d, size)
		built = append(built, builtImage{platform: p, image: img})
	}

	imgs := make([]v1.Image, len(built))
	for i, b := range built {
		imgs[i] = b.image
	}
	var idx v1.ImageIndex
	if len(built) > 1 {
		if idx, err = BuildIndex(imgs); err != nil {
			return err
		}
		d, err := idx.Digest()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "index %s  %d platforms\n", d, len(built))
	}

	if cfg.push != "" {
		if err := push(ctx, cfg, imgs, idx, stdout); err != nil {
			return err
		}
	}
	if cfg.tarball != "" {
		if err := writeTarball(cfg.tarball, cfg.tag, imgs[0], stdout); err != nil {
			return fmt.Errorf("--tarball %s: %w", cfg.tarball, err)
		}
	}
	if cfg.ociLayout != "" {
		if err := writeLayout(cfg.ociLayout, cfg.tag, built, idx, stdout); err != nil {
			return fmt.Errorf("--oci-layout %s: %w", cfg.ociLayout, err)
		}
	}
	return nil
}

// imageSize is the size of the manifest, the config and the compressed layers.
func imageSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	size, err := img.Size()
	if err != nil {
		return 0, err
	}
	size += m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size, nil
}

// push uploads the image, or the index when there are several, to cfg.push.
func push(ctx context.Context, cfg *config, imgs []v1.Image, idx v1.ImageIndex, stdout io.Writer) error {
	tag, err := pushTag(cfg.push, cfg.insecure)
	if err != nil {
		return err
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	if cfg.registryCA != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		b, err := os.ReadFile(cfg.registryCA)
		if err != nil {
			return fmt.Errorf("--registry-ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("--registry-ca %s: no PEM certificate in it", cfg.registryCA)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithTransport(tr),
	}

	var d v1.Hash
	what := "image"
	if idx != nil {
		what = "index"
		err = remote.WriteIndex(tag, idx, opts...)
		if err == nil {
			d, err = idx.Digest()
		}
	} else {
		err = remote.Write(tag, imgs[0], opts...)
		if err == nil {
			d, err = imgs[0].Digest()
		}
	}
	if err != nil {
		return fmt.Errorf("--push %s: %w", cfg.push, err)
	}
	fmt.Fprintf(stdout, "pushed %s %s@%s\n", what, tag.Name(), d)
	return nil
}

// writeTarball writes img, tagged tag, as a docker-save tarball at path.
// The file appears only once complete.
func writeTarball(path string, tag name.Tag, img v1.Image, stdout io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := tarball.Write(tag, img, f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (docker-save tarball, %s, %d bytes)\n", path, tag.Name(), st.Size())
	return nil
}

// writeLayout writes an OCI image layout at dir whose index.json names, by
// tag, the single image or the index of all platforms.
func writeLayout(dir string, tag name.Tag, built []builtImage, idx v1.ImageIndex, stdout io.Writer) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	annotations := layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag.TagStr(),
		"io.containerd.image.name":          tag.Name(),
	})
	var d v1.Hash
	if idx != nil {
		if err := p.AppendIndex(idx, annotations); err != nil {
			return err
		}
		d, err = idx.Digest()
	} else {
		if err := p.AppendImage(built[0].image, annotations, layout.WithPlatform(built[0].platform)); err != nil {
			return err
		}
		d, err = built[0].image.Digest()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (OCI layout, %s -> %s)\n", dir, tag.TagStr(), d)
	return nil
}

// run is the command: flags in args, report on stdout, progress on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return execute(ctx, cfg, goBuild(".", stderr), stdout, stderr)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}
