package registrycheck

// Fuzz targets. Each asserts properties of its function, not only that it
// returns: run one with
//
//	go test ./registrycheck/ -run '^$' -fuzz '^FuzzName$' -fuzztime 10s
//
// Inputs that once broke a property are kept under testdata/fuzz/<target>/
// and run with every `go test`.

import (
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
)

// keySeeds are registry keys as they appear in real docker configs.
var keySeeds = []string{
	"registry.example.com",
	"https://index.docker.io/v1/",
	"index.docker.io",
	"docker.io",
	"http://registry.example.com:5000/v2/",
	"registry.example.com:5000/team",
	"*.dkr.ecr.eu-west-1.amazonaws.com",
	"https://*.example.com/team/",
	"[::1]:5000",
	"localhost:5000",
	"gcr.io/project",
	"registry.example.com/v1/v2/x",
	"https://https://registry.example.com",
	"registry.example.com/a%20b",
	"user@registry.example.com",
	"registry.example.com?x=/v2/",
}

// imageSeeds are image strings as pod authors write them.
var imageSeeds = []string{
	"nginx",
	"nginx:1.27",
	"library/nginx:latest",
	"docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"index.docker.io/bitnami/redis:7.2",
	"registry.example.com/team/app:1.0",
	"registry.example.com:5000/team/app",
	"localhost:5000/app:dev",
	"123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1",
	"[::1]:5000/app:1",
	"gcr.io/project/app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"Nginx:1.27",
	"app::v2",
	"registry.example.com/team/app@sha256:abc",
	"",
}

// normalisedOnce reports whether a key may change when normalised again.
// Normalisation drops a scheme and one leading /v1/ or /v2/, as the
// kubelet's does, so a key whose path still starts with one after that
// (".../v2/v2/x"), or that still reads as a URL ("https://https://host"),
// changes when normalised twice. The kubelet normalises once, and so does
// the keyring; every other key is a fixed point, and keeps matching what
// it matched.
func normalisedOnce(key string) bool {
	_, p, _ := strings.Cut(key, "/")
	p = "/" + p
	return strings.HasPrefix(key, "https://") || strings.HasPrefix(key, "http://") ||
		strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/v2/")
}

// repoUnder is the repository an image named key/app would have, when that
// is a valid image: keys are only ever matched against such names.
func repoUnder(key string) (string, bool) {
	named, err := parseImage(key + "/app")
	if err != nil {
		return "", false
	}
	return named.Name(), true
}

func FuzzNormaliseKey(f *testing.F) {
	for _, k := range keySeeds {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, loc string) {
		key, ok := normaliseKey(loc)
		if !ok {
			return
		}
		repo, valid := repoUnder(key)
		again, ok := normaliseKey(key)
		if !ok {
			// The path is filed %-decoded, as the kubelet files it, so a
			// key with an escaped control character no longer parses. It
			// must then match nothing, rather than something else.
			if valid && keyMatches(key, repo) {
				t.Fatalf("normaliseKey(%q) = %q, which does not parse again but matches %q", loc, key, repo)
			}
			return
		}
		if again != key && !normalisedOnce(key) {
			t.Fatalf("normaliseKey(%q) = %q, then %q", loc, key, again)
		}
		// A key that matches an image matches the images below it.
		if valid && keyMatches(key, repo) && !keyMatches(key, repo+"/sub") {
			t.Fatalf("key %q matches %q but not %q", key, repo, repo+"/sub")
		}
	})
}

func FuzzKeyringLookup(f *testing.F) {
	for i, k := range keySeeds {
		f.Add(k, imageSeeds[i%len(imageSeeds)])
	}
	f.Fuzz(func(t *testing.T, loc, image string) {
		data, err := json.Marshal(map[string]any{"auths": map[string]any{loc: map[string]string{"username": "u", "password": "p"}}})
		if err != nil {
			return
		}
		kr := NewKeyring()
		if err := kr.AddDockerConfig(data, "fuzz"); err != nil {
			t.Fatalf("a config with only username and password was refused: %v", err)
		}
		named, err := parseImage(image)
		if err != nil {
			return
		}
		repo := named.Name()
		creds, matched := kr.Lookup(repo)
		key, ok := normaliseKey(loc)
		direct := ok && (keyMatches(key, repo) || (key == dockerHubKey && isDockerHub(repo)))
		if matched != direct || matched != (len(creds) > 0) {
			t.Fatalf("Lookup(%q) with key %q (from %q): matched %v with %d credentials, keyMatches says %v", repo, key, loc, matched, len(creds), direct)
		}
		for _, c := range creds {
			if c.Key != key || c.Source != "fuzz" || c.Username != "u" || c.Password != "p" {
				t.Fatalf("Lookup(%q) returned %+v for key %q", repo, c, key)
			}
		}
		if !ok || !keyMatches(key, repo) {
			return
		}
		// Properties of a key that matches an image.
		if again, ok := normaliseKey(key); !normalisedOnce(key) && (!ok || !keyMatches(again, repo)) {
			t.Fatalf("key %q matches %q, but normalised again (%q) it does not", key, repo, again)
		}
		if sub := repo + "/sub"; !keyMatches(key, sub) {
			t.Fatalf("key %q matches %q but not %q below it", key, repo, sub)
		}
		if again, _ := kr.Lookup(repo); !slices.Equal(krKeys(again), krKeys(creds)) {
			t.Fatalf("Lookup(%q) changed between calls", repo)
		}
	})
}

func FuzzParseDockerConfig(f *testing.F) {
	f.Add([]byte(`{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}`), true)
	f.Add([]byte(`{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"},"*.example.com/team":{"auth":"dTpw"}}}`), true)
	f.Add([]byte(`{"registry.example.com":{"auth":"dXNlcjpwYXNz","email":"a@example.com"}}`), false)
	f.Add([]byte(`{"auths":{"registry.example.com":{"auth":"not base64!"}}}`), true)
	f.Add([]byte(`{"auths":{"registry.example.com":{"auth":"bm9jb2xvbg=="}}}`), true)
	f.Add([]byte(`{"auths":null}`), true)
	f.Add([]byte(`[]`), false)
	f.Fuzz(func(t *testing.T, data []byte, configJSON bool) {
		typ, dataKey := corev1.SecretTypeDockercfg, corev1.DockerConfigKey
		parse := ParseDockercfg
		if configJSON {
			typ, dataKey = corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey
			parse = ParseDockerConfigJSON
		}
		kr := NewKeyring()
		err := kr.AddSecret(krSecret("shop", "regcred", typ, map[string][]byte{dataKey: data}))
		entries, perr := parse(data)
		if err != nil {
			var serr *SecretError
			if !errors.As(err, &serr) {
				t.Fatalf("error %v (%T) is not a *SecretError", err, err)
			}
			want := SecretMalformed
			if len(data) == 0 {
				want = SecretWrongType
			}
			if serr.Problem != want {
				t.Fatalf("problem %q, want %q (%v)", serr.Problem, want, err)
			}
			if len(kr.index) != 0 || len(kr.creds) != 0 {
				t.Fatalf("a refused secret added %d keys", len(kr.index))
			}
			return
		}
		if perr != nil {
			t.Fatalf("AddSecret accepted what %T refuses: %v", parse, perr)
		}
		// Every readable key is filed once, under its normalised form,
		// and the index lists each filed key once, most specific first.
		want := map[string]int{}
		for loc := range entries {
			if key, ok := normaliseKey(loc); ok {
				want[key]++
			}
		}
		if len(kr.creds) != len(want) || len(kr.index) != len(want) {
			t.Fatalf("%d keys filed, %d indexed, want %d", len(kr.creds), len(kr.index), len(want))
		}
		for key, n := range want {
			if len(kr.creds[key]) != n {
				t.Fatalf("key %q holds %d credentials, want %d", key, len(kr.creds[key]), n)
			}
		}
		if !slices.IsSortedFunc(kr.index, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Fatalf("index not reverse-sorted: %q", kr.index)
		}
	})
}

func FuzzImageReference(f *testing.F) {
	for _, s := range imageSeeds {
		f.Add(s)
	}
	f.Add(strings.Repeat("a", maxReferenceLength+1))
	f.Add("registry.example.com/" + strings.Repeat("a", 256) + ":1")
	r := NewResolver(Options{})
	f.Fuzz(func(t *testing.T, image string) {
		named, err := parseImage(image)
		if len(image) > maxReferenceLength {
			if !errors.Is(err, errReferenceTooLong) {
				t.Fatalf("a %d-character image was not refused as too long: %v", len(image), err)
			}
			return
		}
		// Within the bound, the kubelet's parser decides alone.
		want, werr := reference.ParseNormalizedNamed(image)
		if (err == nil) != (werr == nil) || (err == nil && named.String() != want.String()) {
			t.Fatalf("parseImage(%q) = %v, %v; distribution says %v, %v", image, named, err, want, werr)
		}
		if err != nil {
			return
		}
		// The normal form is itself a valid, stable reference: nothing
		// within the bound normalises past it.
		again, err := parseImage(named.String())
		if err != nil || again.String() != named.String() {
			t.Fatalf("%q normalises to %q, which parses as %v, %v", image, named.String(), again, err)
		}
		tagged := reference.TagNameOnly(named)
		if tagged.Name() != named.Name() {
			t.Fatalf("adding the default tag to %q changed its name to %q", named, tagged.Name())
		}
		// go-containerregistry's reference, when it takes the name, names
		// the same repository and the same tag or digest.
		ref, err := r.ggcrRef(tagged, reference.Domain(tagged))
		if err != nil {
			return
		}
		if ref.Context().RepositoryStr() != reference.Path(tagged) {
			t.Fatalf("%q: go-containerregistry repository %q, distribution path %q", image, ref.Context().RepositoryStr(), reference.Path(tagged))
		}
		switch n := tagged.(type) {
		case reference.Digested:
			if _, ok := ref.(name.Digest); !ok || ref.Identifier() != n.Digest().String() {
				t.Fatalf("%q: identifier %q, want digest %s", image, ref.Identifier(), n.Digest())
			}
		case reference.Tagged:
			if ref.Identifier() != n.Tag() {
				t.Fatalf("%q: identifier %q, want tag %q", image, ref.Identifier(), n.Tag())
			}
		}
	})
}

// refused is guardAddress's decision, failing the test on an error that
// is not an *AddressError.
func refused(t *testing.T, addr string, allowLoopback bool) bool {
	t.Helper()
	err := guardAddress(addr, allowLoopback)
	var aerr *AddressError
	if err != nil && !errors.As(err, &aerr) {
		t.Fatalf("guardAddress(%q) = %v (%T), not an *AddressError", addr, err, err)
	}
	return err != nil
}

func FuzzGuardAddress(f *testing.F) {
	for _, s := range []string{
		"169.254.169.254", "127.0.0.1", "10.1.2.3", "203.0.113.7", "0.0.0.0", "224.0.0.1", "100.100.100.200",
		"::1", "::", "fe80::1", "fd00:ec2::254", "2001:4860:4860::8888", "::ffff:169.254.169.254",
		"64:ff9b::a9fe:a9fe", "64:ff9b:1::7f00:1", "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:5601:5601",
		"2001:db8::5efe:a9fe:a9fe", "::a9fe:a9fe", "::ffff:0:7f00:1",
	} {
		a := netip.MustParseAddr(s)
		f.Add(a.AsSlice(), uint16(443), false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, port uint16, allowLoopback bool) {
		ip, ok := netip.AddrFromSlice(raw)
		if !ok {
			return
		}
		at := func(a netip.Addr) string { return net.JoinHostPort(a.String(), strconv.Itoa(int(port))) }
		decision := refused(t, at(ip), allowLoopback)
		// The same address written otherwise, or with a zone, on another
		// port: the same decision.
		forms := []string{
			net.JoinHostPort(ip.StringExpanded(), strconv.Itoa(int(port))),
			net.JoinHostPort(ip.String(), strconv.Itoa(int(port)^0xffff)),
		}
		if ip.Is6() {
			forms = append(forms, at(ip.WithZone("eth0")))
		}
		if ip.Is4() {
			forms = append(forms, at(netip.AddrFrom16(ip.As16()))) // ::ffff:a.b.c.d
		}
		if ip.Is4In6() {
			forms = append(forms, at(ip.Unmap()))
		}
		for _, s := range forms {
			if got := refused(t, s, allowLoopback); got != decision {
				t.Fatalf("%s refused %v, but %s refused %v", at(ip), decision, s, got)
			}
		}
		// An IPv4 address the guard refuses is refused in every IPv6 form
		// that leads to it; those that may lead elsewhere only for the
		// ranges that matter most.
		if !ip.Is4() {
			return
		}
		v := ip.As4()
		strong := judge(ip, allowLoopback, false) != ""
		for _, form := range ipv6Forms {
			embedded := netip.AddrFrom16(form.build(v))
			exact := form.via != viaLocalNAT64 && form.via != viaISATAP
			if (decision && exact || strong) && !refused(t, at(embedded), allowLoopback) {
				t.Fatalf("%s is refused, but not in its %s form %s", ip, form.name, embedded)
			}
		}
	})
}

func FuzzGuardAddressText(f *testing.F) {
	for _, s := range []string{
		"169.254.169.254:80", "[::ffff:a9fe:a9fe]:80", "[fe80::1%eth0]:443", "[64:ff9b::127.0.0.1]:5000",
		"registry.example.com:443", "127.0.0.1", "[::1]", ":443", "[2001:db8::1]:https", "1.2.3.4:99999",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, address string, allowLoopback bool) {
		decision := refused(t, address, allowLoopback)
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			if !decision {
				t.Fatalf("%q is not host:port, yet was allowed", address)
			}
			return
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			if !decision {
				t.Fatalf("%q is not an IP address, yet was allowed", host)
			}
			return
		}
		// The canonical form of the address decides alike.
		canonical := net.JoinHostPort(ip.String(), port)
		if got := refused(t, canonical, allowLoopback); got != decision {
			t.Fatalf("%q refused %v, its canonical form %q refused %v", address, decision, canonical, got)
		}
	})
}
