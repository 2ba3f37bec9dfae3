package policy

import (
	"regexp"
	"strings"
	"testing"

	"github.com/distribution/reference"
)

func FuzzParseImage(f *testing.F) {
	host := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	for _, s := range []string{
		"nginx", "nginx:1.27", "docker.io/library/nginx", "index.docker.io/library/nginx:1.27", "bitnami/redis:7.2",
		"localhost:5000/a/b:tag", "localhost/app", "registry.example.com:8443/team/sub/app:V1.2-rc_3", "ghcr.io/acme/api",
		"nginx@" + sha, "nginx:latest@" + sha, "gcr.io/p/app:1.0@" + sha, "[::1]:5000/app:1", "NGINX:1.27", "acme/MyApp:1",
		" nginx:1.27", "nginx::1", "nginx:", "nginx@sha256:abc", strings.Repeat("a1", 32), "my app:1", "/nginx",
		"my_reg.io/app", "Registry.Example.com/app", "nginx@sha512:" + strings.Repeat("a", 128),
		// Near the bounds: the longest path, tag, digest and host, and one more.
		strings.Repeat("a", 247), strings.Repeat("a", 248),
		"r.io/" + strings.Repeat("a", 255), "r.io/" + strings.Repeat("a", 256), "nginx:" + strings.Repeat("a", 128),
		host + ":65535/" + strings.Repeat("a", 255) + ":" + strings.Repeat("t", 128) + "@sha512:" + strings.Repeat("f", 128),
		host + "x:1/app", strings.Repeat("h", 300) + ".io/app:1", strings.Repeat("h", 300) + ".io/App:1",
		strings.Repeat("h", 300) + "/app", strings.Repeat("H", 300) + "/app", strings.Repeat("h_", 150) + ".io/app",
		"[" + strings.Repeat("0", 300) + "]/app", strings.Repeat("h", 300) + ".io:" + strings.Repeat("9", 10) + "/a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, image string) {
		got, err := ParseImage(image)

		// The same verdict and parts as the kubelet's parser, which
		// ParseImage may skip only where the length alone decides.
		named, libErr := reference.ParseNormalizedNamed(image)
		if (err == nil) != (libErr == nil) {
			t.Fatalf("ParseImage(%q) error = %v, distribution/reference's = %v", image, err, libErr)
		}
		if err != nil {
			if got != (ImageRef{}) {
				t.Fatalf("ParseImage(%q) = %+v alongside its error", image, got)
			}
			return
		}
		want := ImageRef{Name: named.Name(), Domain: reference.Domain(named), Path: reference.Path(named)}
		if tagged, ok := named.(reference.Tagged); ok {
			want.Tag = tagged.Tag()
		}
		if digested, ok := named.(reference.Digested); ok {
			want.Digest = digested.Digest().String()
		}
		if got != want {
			t.Fatalf("ParseImage(%q) = %+v, distribution/reference reads %+v", image, got, want)
		}

		// The parts joined again read the same.
		joined := got.Name
		if got.Tag != "" {
			joined += ":" + got.Tag
		}
		if got.Digest != "" {
			joined += "@" + got.Digest
		}
		if again, err := ParseImage(joined); err != nil || again != got {
			t.Fatalf("ParseImage(%q) = %+v, %v; want %+v from %q", joined, again, err, got, image)
		}

		// What follows the host is within the bound ParseImage relies on.
		if rest := strings.TrimPrefix(joined, got.Domain+"/"); len(rest) > maxImageRemainder {
			t.Fatalf("ParseImage(%q): %d characters after the host, above %d", image, len(rest), maxImageRemainder)
		}
	})
}

func FuzzRegistryHost(f *testing.F) {
	for _, s := range []string{
		"docker.io", "localhost:5000", "registry.example.com:8443", "[::1]", "[::1]:5000", "[fe80::1%eth0]", "[]",
		"a", "-a", "a-", "a--b", "a..b", ".a", "a.", "a:", ":5000", "a:b", "a:1:2", "[::1]x", "[::1]:", "UPPER.Case",
		"my_reg.io", "héllo.io", "a.b.c.d.e", "[0:0]:0",
	} {
		f.Add(s)
	}
	anchored := regexp.MustCompile(`^(?:` + reference.DomainRegexp.String() + `)$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validRegistryHost(s), anchored.MatchString(s); got != want {
			t.Fatalf("validRegistryHost(%q) = %v, distribution/reference's DomainRegexp says %v", s, got, want)
		}
	})
}
