package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

func TestParseImageValid(t *testing.T) {
	tests := []struct {
		in   string
		want ImageRef
	}{
		{"nginx", ImageRef{Name: "docker.io/library/nginx", Domain: "docker.io", Path: "library/nginx"}},
		{"nginx:1.27", ImageRef{Name: "docker.io/library/nginx", Domain: "docker.io", Path: "library/nginx", Tag: "1.27"}},
		{"nginx:latest", ImageRef{Name: "docker.io/library/nginx", Domain: "docker.io", Path: "library/nginx", Tag: "latest"}},
		{"docker.io/library/nginx", ImageRef{Name: "docker.io/library/nginx", Domain: "docker.io", Path: "library/nginx"}},
		{"index.docker.io/library/nginx:1.27", ImageRef{Name: "docker.io/library/nginx", Domain: "docker.io", Path: "library/nginx", Tag: "1.27"}},
		{"bitnami/redis:7.2", ImageRef{Name: "docker.io/bitnami/redis", Domain: "docker.io", Path: "bitnami/redis", Tag: "7.2"}},
		{"localhost:5000/a/b:tag", ImageRef{Name: "localhost:5000/a/b", Domain: "localhost:5000", Path: "a/b", Tag: "tag"}},
		{"localhost/app", ImageRef{Name: "localhost/app", Domain: "localhost", Path: "app"}},
		{"registry.example.com:8443/team/sub/app:V1.2-rc_3", ImageRef{Name: "registry.example.com:8443/team/sub/app", Domain: "registry.example.com:8443", Path: "team/sub/app", Tag: "V1.2-rc_3"}},
		{"ghcr.io/acme/api", ImageRef{Name: "ghcr.io/acme/api", Domain: "ghcr.io", Path: "acme/api"}},
		{"nginx@" + sha, ImageRef{Name: "docker.io/library/nginx", Domain: "docker.io", Path: "library/nginx", Digest: sha}},
		{"nginx:latest@" + sha, ImageRef{Name: "docker.io/library/nginx", Domain: "docker.io", Path: "library/nginx", Tag: "latest", Digest: sha}},
		{"gcr.io/p/app:1.0@" + sha, ImageRef{Name: "gcr.io/p/app", Domain: "gcr.io", Path: "p/app", Tag: "1.0", Digest: sha}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseImage(tc.in)
			if err != nil {
				t.Fatalf("ParseImage(%q): unexpected error %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseImage(%q)\n got  %+v\n want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseImageInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"uppercase repository", "NGINX:1.27"},
		{"uppercase path component", "acme/MyApp:1"},
		{"leading space", " nginx:1.27"},
		{"trailing space", "nginx:1.27 "},
		{"trailing newline", "nginx:1.27\n"},
		{"double colon", "nginx::1"},
		{"empty tag", "nginx:"},
		{"short digest", "nginx@sha256:abc"},
		{"unknown digest algorithm only", "nginx@sha256"},
		{"64 hex characters as name", strings.Repeat("a1", 32)},
		{"tag too long", "nginx:" + strings.Repeat("a", 129)},
		{"tag starting with dot", "nginx:.1"},
		{"space inside", "my app:1"},
		{"leading slash", "/nginx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseImage(tc.in)
			if err == nil {
				t.Fatalf("ParseImage(%q) = %+v, want an error", tc.in, got)
			}
			if got != (ImageRef{}) {
				t.Errorf("ParseImage(%q) returned %+v alongside its error, want the zero ImageRef", tc.in, got)
			}
		})
	}
}

func TestLowerRepository(t *testing.T) {
	tests := []struct{ in, want string }{
		{"NGINX:1.27", "nginx:1.27"},
		{"NGINX", "nginx"},
		{"Acme/App:V1", "acme/app:V1"},
		{"localhost:5000/App", "localhost:5000/app"},
		{"Registry.Example.com:5000/Team/App:Mixed@" + sha, "registry.example.com:5000/team/app:Mixed@" + sha},
		{"App@" + sha, "app@" + sha},
	}
	for _, tc := range tests {
		if got := lowerRepository(tc.in); got != tc.want {
			t.Errorf("lowerRepository(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestImageInvalidReference(t *testing.T) {
	tests := []struct {
		name string
		spec corev1.PodSpec
		path string // pod path; tmpl when empty
		want []want
	}{
		{
			name: "valid images in every kind of container",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1.36"}},
				Containers:     []corev1.Container{{Name: "app", Image: "nginx@" + sha}, {Name: "side", Image: "localhost:5000/a/b:tag"}},
				EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug", Image: "busybox"}}},
			},
		},
		{
			name: "uppercase in a regular container",
			spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "NGINX:1.27"}}},
			want: []want{{Error, tmpl + ".containers[0].image", "app"}},
		},
		{
			name: "empty image",
			spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: ""}}},
			want: []want{{Error, tmpl + ".containers[0].image", "app"}},
		},
		{
			name: "whitespace in the second container",
			spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "nginx"}, {Name: "b", Image: " nginx:1.27"}}},
			want: []want{{Error, tmpl + ".containers[1].image", "b"}},
		},
		{
			name: "init container",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "ok", Image: "busybox"}, {Name: "migrate", Image: "nginx::1"}},
				Containers:     []corev1.Container{{Name: "app", Image: "nginx"}},
			},
			want: []want{{Error, tmpl + ".initContainers[1].image", "migrate"}},
		},
		{
			name: "ephemeral container",
			spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: "nginx"}},
				EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug", Image: "nginx@sha256:abc"}}},
			},
			want: []want{{Error, tmpl + ".ephemeralContainers[0].image", "debug"}},
		},
		{
			name: "every kind at once, init first then regular then ephemeral",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "i", Image: "Busybox"}},
				Containers:     []corev1.Container{{Name: "c", Image: strings.Repeat("ab", 32)}},
				EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "e", Image: "busybox "}}},
			},
			want: []want{
				{Error, tmpl + ".initContainers[0].image", "i"},
				{Error, tmpl + ".containers[0].image", "c"},
				{Error, tmpl + ".ephemeralContainers[0].image", "e"},
			},
		},
		{
			name: "reference longer than any valid one",
			spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "nginx"}, {Name: "b", Image: strings.Repeat("a/", 1<<19) + "a"}}},
			want: []want{{Error, tmpl + ".containers[1].image", "b"}},
		},
		{
			// The kubelet takes the name; its pull fails, which is for the
			// registry lookup to say.
			name: "host longer than any DNS name, well formed",
			spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: strings.Repeat("h", 1<<20) + ".io/app:1"}}},
		},
		{
			name: "pod path is honoured",
			path: "spec.jobTemplate.spec.template.spec",
			spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "NGINX"}}},
			want: []want{{Error, "spec.jobTemplate.spec.template.spec.containers[0].image", "app"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := podOf(tc.spec)
			if tc.path != "" {
				p.Path = tc.path
			}
			runAndAssert(t, Options{}, ImageInvalidReference, p, tc.want)
		})
	}
}

func TestImageMutableTag(t *testing.T) {
	one := func(image string) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}
	}
	field := tmpl + ".containers[0].image"
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []want
	}{
		{"no tag", one("nginx"), []want{{Info, field, "app"}}},
		{"latest", one("nginx:latest"), []want{{Info, field, "app"}}},
		{"latest on a private registry with port", one("localhost:5000/team/app:latest"), []want{{Info, field, "app"}}},
		{"no tag on a private registry", one("registry.example.com/team/app"), []want{{Info, field, "app"}}},
		{"version tag", one("nginx:1.27"), nil},
		{"tag that only contains latest", one("nginx:latest-alpine"), nil},
		{"digest only", one("nginx@" + sha), nil},
		{"latest pinned by digest", one("nginx:latest@" + sha), nil},
		{"invalid reference is left to image.invalid-reference", one("NGINX:latest"), nil},
		{"empty image is left to image.invalid-reference", one(""), nil},
		{
			name: "init container without a tag",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
				Containers:     []corev1.Container{{Name: "app", Image: "nginx:1.27"}, {Name: "side", Image: "envoyproxy/envoy:latest"}},
			},
			want: []want{
				{Info, tmpl + ".initContainers[0].image", "init"},
				{Info, tmpl + ".containers[1].image", "side"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runAndAssert(t, Options{}, ImageMutableTag, podOf(tc.spec), tc.want)
		})
	}
}

func TestParseImageLength(t *testing.T) {
	// host is a DNS name of the longest length there is, 253 characters.
	host := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	longest := host + ":65535/" + strings.Repeat("a", 255) + ":" + strings.Repeat("t", 128) + "@sha512:" + strings.Repeat("f", 128)
	const mib = 1 << 20
	tests := []struct {
		name  string
		in    string
		valid bool
		// byLength: rejected on its length alone, without the parser.
		byLength bool
	}{
		{name: "the longest valid reference", in: longest, valid: true},
		{name: "one-word name at the path bound", in: strings.Repeat("a", 247), valid: true},
		{name: "one-word name past the path bound", in: strings.Repeat("a", 248)},
		{name: "path past the bound", in: "r.io/" + strings.Repeat("a", 256)},
		{name: "tag past the bound", in: "nginx:" + strings.Repeat("a", 129)},
		{name: "1 MiB one-word name", in: strings.Repeat("a", mib), byLength: true},
		{name: "1 MiB path", in: strings.Repeat("a/", mib/2) + "a", byLength: true},
		{name: "1 MiB tag", in: "nginx:" + strings.Repeat("a", mib), byLength: true},
		{name: "1 MiB digest", in: "r.io/app@sha256:" + strings.Repeat("a", mib), byLength: true},
		{name: "1 MiB first component that is no host", in: strings.Repeat("h", mib) + "/app", byLength: true},
		{name: "1 MiB malformed host", in: strings.Repeat("h_", mib/2) + ".io/app", byLength: true},
		// distribution/reference sets no bound on a host: the kubelet takes
		// the name, and its pull fails.
		{name: "1 MiB well-formed host", in: strings.Repeat("h", mib) + ".io/app:1", valid: true},
		{name: "1 MiB well-formed host, uppercase repository", in: strings.Repeat("h", mib) + ".io/App:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseImage(tc.in)
			if (err == nil) != tc.valid {
				t.Fatalf("ParseImage error = %v, want valid: %v", err, tc.valid)
			}
			var long *referenceTooLongError
			if errors.As(err, &long) != tc.byLength {
				t.Errorf("ParseImage error = %v, want rejected on length alone: %v", err, tc.byLength)
			}
			if len(tc.in) > 4096 {
				return // distribution/reference's parser is what is too slow to compare with
			}
			named, libErr := reference.ParseNormalizedNamed(tc.in)
			if (libErr == nil) != tc.valid {
				t.Fatalf("distribution/reference error = %v, want valid: %v", libErr, tc.valid)
			}
			if tc.valid && (got.Name != named.Name() || got.Path != reference.Path(named)) {
				t.Errorf("ParseImage = %+v, distribution/reference reads %s", got, named)
			}
		})
	}

	// A well-formed long host is read as the parser would read it.
	longHost := strings.Repeat("h", 1<<20) + ".io"
	got, err := ParseImage(longHost + "/team/app:1@" + sha)
	want := ImageRef{Name: longHost + "/team/app", Domain: longHost, Path: "team/app", Tag: "1", Digest: sha}
	if err != nil || got != want {
		t.Errorf("ParseImage(<1 MiB host>/team/app:1@sha): host of %d characters, path %q, tag %q, digest %q, error %v; want %q, %q, %q",
			len(got.Domain), got.Path, got.Tag, got.Digest, err, want.Path, want.Tag, want.Digest)
	}
}
