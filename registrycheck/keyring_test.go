package registrycheck

// Tests for the keyring, one table per kubelet credential rule.
// The reference is the kubelet's own code: k8s.io/kubernetes
// pkg/credentialprovider/keyring.go (BasicDockerKeyring.Add, URLsMatch,
// isDefaultRegistryMatch, Lookup), pkg/credentialprovider/config.go
// (DockerConfigEntry.UnmarshalJSON, decodeDockerConfigFieldAuth) and
// pkg/credentialprovider/secrets/secrets.go (secretsToTrackedDockerConfigs).
//
// Tests compare structured results only, never message text.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// krAuth is the padded base64 "user:pass" a docker config carries in auth.
func krAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

func krSecret(ns, name string, typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       typ,
		Data:       data,
	}
}

// krConfigJSONSecret is a kubernetes.io/dockerconfigjson secret.
func krConfigJSONSecret(ns, name, content string) *corev1.Secret {
	return krSecret(ns, name, corev1.SecretTypeDockerConfigJson,
		map[string][]byte{corev1.DockerConfigJsonKey: []byte(content)})
}

// krDockercfgSecret is a kubernetes.io/dockercfg secret.
func krDockercfgSecret(ns, name, content string) *corev1.Secret {
	return krSecret(ns, name, corev1.SecretTypeDockercfg,
		map[string][]byte{corev1.DockerConfigKey: []byte(content)})
}

// krUserPass is one registry entry with username and password fields.
func krUserPass(user, pass string) string {
	return fmt.Sprintf(`{"username":%q,"password":%q}`, user, pass)
}

// krAuths builds {"auths":{loc: entry, ...}} from loc, entry pairs.
func krAuths(pairs ...string) string {
	return `{"auths":` + krBare(pairs...) + `}`
}

// krBare builds the bare map {loc: entry, ...} of a .dockercfg.
func krBare(pairs ...string) string {
	if len(pairs)%2 != 0 {
		panic("krBare needs loc, entry pairs")
	}
	parts := make([]string, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		parts = append(parts, fmt.Sprintf("%q:%s", pairs[i], pairs[i+1]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// krProblem returns the SecretError's problem, "" when err is nil, and fails
// the test when err is not a *SecretError.
func krProblem(t *testing.T, err error) SecretProblem {
	t.Helper()
	if err == nil {
		return ""
	}
	var se *SecretError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *SecretError", err, err)
	}
	return se.Problem
}

func krEqualCreds(t *testing.T, what string, got, want []Credential) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d credentials %+v, want %d %+v", what, len(got), got, len(want), want)
		return
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: credential %d = %+v, want %+v (all: got %+v, want %+v)", what, i, got[i], want[i], got, want)
		}
	}
}

// krKeys lists the Key of each credential, in order.
func krKeys(creds []Credential) []string {
	keys := make([]string, len(creds))
	for i, c := range creds {
		keys[i] = c.Key
	}
	return keys
}

// krSkipDiff used to skip cases where keyring.go differed from the
// kubelet; every such case now holds, so it only records why the case exists.
func krSkipDiff(t *testing.T, why string) { t.Helper() }

// Rule 1: only kubernetes.io/dockerconfigjson (key .dockerconfigjson,
// {"auths":{...}}) and kubernetes.io/dockercfg (key .dockercfg, bare map)
// are read; anything else, or the right type without its key or with an
// empty value, is ignored by the kubelet; unreadable JSON fails the pull.
func TestKeyringSecretTypes(t *testing.T) {
	const probe = "registry.example.com/team/app"
	good := krAuths("registry.example.com", krUserPass("u", "p"))
	goodBare := krBare("registry.example.com", krUserPass("u", "p"))
	wantGood := []Credential{{Username: "u", Password: "p", Source: "secret shop/regcred", Key: "registry.example.com"}}

	tests := []struct {
		name        string
		secret      *corev1.Secret
		wantProblem SecretProblem // "" = no error
		wantCreds   []Credential  // Lookup(probe) afterwards
	}{
		{
			name:      "dockerconfigjson with .dockerconfigjson",
			secret:    krConfigJSONSecret("shop", "regcred", good),
			wantCreds: wantGood,
		},
		{
			name:      "dockercfg with .dockercfg bare map",
			secret:    krDockercfgSecret("shop", "regcred", goodBare),
			wantCreds: wantGood,
		},
		{
			// Read as {"auths":...}: a bare map has no "auths", so nothing.
			name:   "dockerconfigjson holding a bare map yields nothing",
			secret: krConfigJSONSecret("shop", "regcred", goodBare),
		},
		{
			// Read as a bare map: the only registry is called "auths".
			name:   "dockercfg holding an auths wrapper yields nothing for the registry",
			secret: krDockercfgSecret("shop", "regcred", good),
		},
		{
			name:   "dockerconfigjson with empty auths",
			secret: krConfigJSONSecret("shop", "regcred", `{"auths":{}}`),
		},
		{
			name:   "dockerconfigjson without auths",
			secret: krConfigJSONSecret("shop", "regcred", `{}`),
		},
		{
			name: "Opaque with a valid .dockerconfigjson",
			secret: krSecret("shop", "regcred", corev1.SecretTypeOpaque,
				map[string][]byte{corev1.DockerConfigJsonKey: []byte(good)}),
			wantProblem: SecretWrongType,
		},
		{
			name: "empty type with a valid .dockerconfigjson",
			secret: krSecret("shop", "regcred", "",
				map[string][]byte{corev1.DockerConfigJsonKey: []byte(good)}),
			wantProblem: SecretWrongType,
		},
		{
			name: "basic-auth type",
			secret: krSecret("shop", "regcred", corev1.SecretTypeBasicAuth,
				map[string][]byte{corev1.DockerConfigJsonKey: []byte(good), "username": []byte("u"), "password": []byte("p")}),
			wantProblem: SecretWrongType,
		},
		{
			name: "custom type with both keys",
			secret: krSecret("shop", "regcred", "example.com/registry",
				map[string][]byte{corev1.DockerConfigJsonKey: []byte(good), corev1.DockerConfigKey: []byte(goodBare)}),
			wantProblem: SecretWrongType,
		},
		{
			name: "dockerconfigjson type with only .dockercfg",
			secret: krSecret("shop", "regcred", corev1.SecretTypeDockerConfigJson,
				map[string][]byte{corev1.DockerConfigKey: []byte(goodBare)}),
			wantProblem: SecretWrongType,
		},
		{
			name: "dockercfg type with only .dockerconfigjson",
			secret: krSecret("shop", "regcred", corev1.SecretTypeDockercfg,
				map[string][]byte{corev1.DockerConfigJsonKey: []byte(good)}),
			wantProblem: SecretWrongType,
		},
		{
			name:        "dockerconfigjson with empty .dockerconfigjson",
			secret:      krConfigJSONSecret("shop", "regcred", ""),
			wantProblem: SecretWrongType,
		},
		{
			name:        "dockercfg with empty .dockercfg",
			secret:      krDockercfgSecret("shop", "regcred", ""),
			wantProblem: SecretWrongType,
		},
		{
			name:        "dockerconfigjson with no data at all",
			secret:      krSecret("shop", "regcred", corev1.SecretTypeDockerConfigJson, nil),
			wantProblem: SecretWrongType,
		},
		{
			name:        "dockerconfigjson invalid JSON",
			secret:      krConfigJSONSecret("shop", "regcred", `{"auths":`),
			wantProblem: SecretMalformed,
		},
		{
			name:        "dockercfg invalid JSON",
			secret:      krDockercfgSecret("shop", "regcred", `not json`),
			wantProblem: SecretMalformed,
		},
		{
			name:        "dockerconfigjson auths of the wrong JSON type",
			secret:      krConfigJSONSecret("shop", "regcred", `{"auths":"registry.example.com"}`),
			wantProblem: SecretMalformed,
		},
		{
			name:        "dockercfg entry of the wrong JSON type",
			secret:      krDockercfgSecret("shop", "regcred", `{"registry.example.com":"u:p"}`),
			wantProblem: SecretMalformed,
		},
		{
			name:        "dockerconfigjson username of the wrong JSON type",
			secret:      krConfigJSONSecret("shop", "regcred", `{"auths":{"registry.example.com":{"username":1}}}`),
			wantProblem: SecretMalformed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKeyring()
			err := k.AddSecret(tc.secret)
			if got := krProblem(t, err); got != tc.wantProblem {
				t.Fatalf("AddSecret problem = %q, want %q (err %v)", got, tc.wantProblem, err)
			}
			if err != nil {
				var se *SecretError
				errors.As(err, &se)
				if se.Namespace != "shop" || se.Name != "regcred" {
					t.Errorf("SecretError names %s/%s, want shop/regcred", se.Namespace, se.Name)
				}
				if errors.Is(err, ErrMalformedAuth) {
					t.Errorf("errors.Is(err, ErrMalformedAuth) = true for a %s secret without an auth field", tc.wantProblem)
				}
			}
			creds, matched := k.Lookup(probe)
			if matched != (len(tc.wantCreds) > 0) {
				t.Errorf("Lookup(%q) matched = %v, want %v", probe, matched, len(tc.wantCreds) > 0)
			}
			krEqualCreds(t, "Lookup("+probe+")", creds, tc.wantCreds)
		})
	}
}

// Rule 2: auth, when present and non-empty, overrides username and
// password; it must be base64 of "user:password" (split at the first ':');
// identitytoken and registrytoken are not read.
func TestKeyringSecretAuthField(t *testing.T) {
	const probe = "registry.example.com/app"
	const src = "secret shop/regcred"
	const key = "registry.example.com"
	entry := func(fields string) string { return krAuths(key, "{"+fields+"}") }
	std := base64.StdEncoding.EncodeToString
	raw := base64.RawStdEncoding.EncodeToString

	tests := []struct {
		name          string
		secret        *corev1.Secret
		wantProblem   SecretProblem
		wantMalformed bool // errors.Is(err, ErrMalformedAuth)
		wantCreds     []Credential
		kubeletDiff   string
	}{
		{
			name:      "username and password",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"username":"u","password":"p"`)),
			wantCreds: []Credential{{Username: "u", Password: "p", Source: src, Key: key}},
		},
		{
			name:      "auth only",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"auth":"`+krAuth("au", "ap")+`"`)),
			wantCreds: []Credential{{Username: "au", Password: "ap", Source: src, Key: key}},
		},
		{
			name:      "auth overrides username and password",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"username":"u","password":"p","auth":"`+krAuth("au", "ap")+`"`)),
			wantCreds: []Credential{{Username: "au", Password: "ap", Source: src, Key: key}},
		},
		{
			name:      "auth overrides in a dockercfg secret too",
			secret:    krDockercfgSecret("shop", "regcred", krBare(key, `{"username":"u","password":"p","auth":"`+krAuth("au", "ap")+`"}`)),
			wantCreds: []Credential{{Username: "au", Password: "ap", Source: src, Key: key}},
		},
		{
			name:      "empty auth falls back to username and password",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"username":"u","password":"p","auth":""`)),
			wantCreds: []Credential{{Username: "u", Password: "p", Source: src, Key: key}},
		},
		{
			name:      "auth password keeps later colons",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"auth":"`+std([]byte("u:p:a:ss"))+`"`)),
			wantCreds: []Credential{{Username: "u", Password: "p:a:ss", Source: src, Key: key}},
		},
		{
			name:      "auth with empty user and password",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"auth":"`+std([]byte(":"))+`"`)),
			wantCreds: []Credential{{Username: "", Password: "", Source: src, Key: key}},
		},
		{
			// 9 bytes: base64 without any "=" (read the same by both encodings).
			name:      "auth needing no padding",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"auth":"`+std([]byte("user:pass"))+`"`)),
			wantCreds: []Credential{{Username: "user", Password: "pass", Source: src, Key: key}},
		},
		{
			name:          "auth is not base64",
			secret:        krConfigJSONSecret("shop", "regcred", entry(`"username":"u","password":"p","auth":"!!not base64!!"`)),
			wantProblem:   SecretMalformed,
			wantMalformed: true,
		},
		{
			name:          "auth is not base64 in a dockercfg secret",
			secret:        krDockercfgSecret("shop", "regcred", krBare(key, `{"auth":"%%%%"}`)),
			wantProblem:   SecretMalformed,
			wantMalformed: true,
		},
		{
			name:          "auth decodes without a colon",
			secret:        krConfigJSONSecret("shop", "regcred", entry(`"auth":"`+std([]byte("userpass"))+`"`)),
			wantProblem:   SecretMalformed,
			wantMalformed: true,
		},
		{
			name:          "auth padded but truncated",
			secret:        krConfigJSONSecret("shop", "regcred", entry(`"auth":"dXNlcjpwdw="`)),
			wantProblem:   SecretMalformed,
			wantMalformed: true,
		},
		{
			name: "bad auth for another registry still fails the secret",
			secret: krConfigJSONSecret("shop", "regcred", krAuths(
				key, krUserPass("u", "p"),
				"other.example.com", `{"auth":"!!"}`)),
			wantProblem:   SecretMalformed,
			wantMalformed: true,
		},
		{
			// The kubelet reads auth with RawStdEncoding unless it ends in
			// "=" (decodeDockerConfigFieldAuth, kubernetes PR #82148): an
			// unpadded auth, as docker-credential-desktop writes, is fine.
			name:        "auth without its padding",
			secret:      krConfigJSONSecret("shop", "regcred", entry(`"auth":"`+raw([]byte("user:pw"))+`"`)),
			wantCreds:   []Credential{{Username: "user", Password: "pw", Source: src, Key: key}},
			kubeletDiff: "kubelet decodes an auth not ending in '=' with base64.RawStdEncoding (pkg/credentialprovider/config.go decodeDockerConfigFieldAuth); keyring.go resolve() uses StdEncoding only and reports SecretMalformed",
		},
		{
			name:      "identitytoken only gives an empty credential",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"identitytoken":"tok"`)),
			wantCreds: []Credential{{Username: "", Password: "", Source: src, Key: key}},
		},
		{
			name:      "registrytoken only gives an empty credential",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"registrytoken":"tok"`)),
			wantCreds: []Credential{{Username: "", Password: "", Source: src, Key: key}},
		},
		{
			name:      "tokens ignored next to username and password",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"username":"u","password":"p","identitytoken":"it","registrytoken":"rt"`)),
			wantCreds: []Credential{{Username: "u", Password: "p", Source: src, Key: key}},
		},
		{
			name:      "tokens ignored next to auth",
			secret:    krConfigJSONSecret("shop", "regcred", entry(`"auth":"`+krAuth("au", "ap")+`","identitytoken":"it"`)),
			wantCreds: []Credential{{Username: "au", Password: "ap", Source: src, Key: key}},
		},
		{
			name:      "empty entry gives an empty credential",
			secret:    krConfigJSONSecret("shop", "regcred", entry(``)),
			wantCreds: []Credential{{Username: "", Password: "", Source: src, Key: key}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			krSkipDiff(t, tc.kubeletDiff)
			k := NewKeyring()
			err := k.AddSecret(tc.secret)
			if got := krProblem(t, err); got != tc.wantProblem {
				t.Fatalf("AddSecret problem = %q, want %q (err %v)", got, tc.wantProblem, err)
			}
			if got := errors.Is(err, ErrMalformedAuth); got != tc.wantMalformed {
				t.Errorf("errors.Is(err, ErrMalformedAuth) = %v, want %v (err %v)", got, tc.wantMalformed, err)
			}
			if err != nil {
				return
			}
			creds, matched := k.Lookup(probe)
			if matched != (len(tc.wantCreds) > 0) {
				t.Errorf("Lookup(%q) matched = %v, want %v", probe, matched, len(tc.wantCreds) > 0)
			}
			krEqualCreds(t, "Lookup("+probe+")", creds, tc.wantCreds)
		})
	}
}

// The kubelet unmarshals a whole secret before adding any of it, and any
// decoding error fails MakeDockerKeyring: no credential of a malformed
// secret is ever looked up.
func TestKeyringSecretMalformedAddsNothing(t *testing.T) {
	krSkipDiff(t, "kubelet: json.Unmarshal of the secret fails before BasicDockerKeyring.Add (pkg/credentialprovider/secrets/secrets.go secretsToTrackedDockerConfigs returns the error), so nothing of a malformed secret is usable; keyring.go add() files the entries sorted before the bad one, then returns the error, leaving them in the keyring")
	k := NewKeyring()
	err := k.AddSecret(krConfigJSONSecret("shop", "regcred", krAuths(
		"a.example.com", krUserPass("u", "p"),
		"b.example.com", `{"auth":"!!"}`)))
	if got := krProblem(t, err); got != SecretMalformed {
		t.Fatalf("AddSecret problem = %q, want %q", got, SecretMalformed)
	}
	if creds, matched := k.Lookup("a.example.com/app"); matched || len(creds) != 0 {
		t.Errorf("Lookup after a malformed secret = %+v, %v; want nothing", creds, matched)
	}
}

// Rule 8: credentials of a secret are labelled "secret <namespace>/<name>",
// and a SecretError names the secret.
func TestKeyringSecretSourceLabel(t *testing.T) {
	tests := []struct {
		name       string
		secret     *corev1.Secret
		wantSource string
	}{
		{"dockerconfigjson", krConfigJSONSecret("shop", "regcred", krAuths("registry.example.com", krUserPass("u", "p"))), "secret shop/regcred"},
		{"dockercfg", krDockercfgSecret("team-b", "legacy", krBare("registry.example.com", krUserPass("u", "p"))), "secret team-b/legacy"},
		{"empty namespace", krConfigJSONSecret("", "bare", krAuths("registry.example.com", krUserPass("u", "p"))), "secret /bare"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKeyring()
			if err := k.AddSecret(tc.secret); err != nil {
				t.Fatalf("AddSecret: %v", err)
			}
			creds, _ := k.Lookup("registry.example.com/app")
			krEqualCreds(t, "Lookup", creds, []Credential{{Username: "u", Password: "p", Source: tc.wantSource, Key: "registry.example.com"}})
		})
	}

	errTests := []struct {
		name        string
		secret      *corev1.Secret
		wantProblem SecretProblem
	}{
		{"wrong type", krSecret("team-b", "opaque", corev1.SecretTypeOpaque, nil), SecretWrongType},
		{"malformed", krConfigJSONSecret("team-b", "broken", "{"), SecretMalformed},
	}
	for _, tc := range errTests {
		t.Run("error "+tc.name, func(t *testing.T) {
			err := NewKeyring().AddSecret(tc.secret)
			var se *SecretError
			if !errors.As(err, &se) {
				t.Fatalf("AddSecret error %v is not a *SecretError", err)
			}
			if se.Namespace != tc.secret.Namespace || se.Name != tc.secret.Name || se.Problem != tc.wantProblem {
				t.Errorf("SecretError = {%s %s %s}, want {%s %s %s}", se.Namespace, se.Name, se.Problem, tc.secret.Namespace, tc.secret.Name, tc.wantProblem)
			}
		})
	}
}

// Rule 3: a config key is normalised like BasicDockerKeyring.Add does:
// https:// assumed when there is no scheme, the scheme then ignored, a
// leading /v1/ or /v2/ dropped, host[:port] plus the remaining path, a
// bare "/" path dropped.
func TestNormaliseKey(t *testing.T) {
	tests := []struct {
		loc    string
		want   string
		wantOK bool
	}{
		{"registry.example.com", "registry.example.com", true},
		{"https://registry.example.com", "registry.example.com", true},
		{"http://registry.example.com", "registry.example.com", true},
		{"registry.example.com/", "registry.example.com", true},
		{"https://registry.example.com/", "registry.example.com", true},
		{"http://registry.example.com/", "registry.example.com", true},
		{"registry.example.com:5000", "registry.example.com:5000", true},
		{"http://registry.example.com:5000", "registry.example.com:5000", true},
		{"https://registry.example.com:443", "registry.example.com:443", true},
		{"localhost:5000", "localhost:5000", true},
		{"10.0.0.1:5000", "10.0.0.1:5000", true},
		{"[::1]:5000", "[::1]:5000", true},
		{"https://index.docker.io/v1/", "index.docker.io", true},
		{"index.docker.io/v1/", "index.docker.io", true},
		{"https://registry.example.com/v2/", "registry.example.com", true},
		{"http://registry.example.com:5000/v2/", "registry.example.com:5000", true},
		{"registry.example.com/team", "registry.example.com/team", true},
		{"https://registry.example.com/team", "registry.example.com/team", true},
		{"registry.example.com/team/", "registry.example.com/team/", true},
		{"registry.example.com:5000/team", "registry.example.com:5000/team", true},
		{"registry.example.com/v2/team", "registry.example.com/team", true},
		{"https://registry.example.com/v1/team/app", "registry.example.com/team/app", true},
		{"registry.example.com/v1", "registry.example.com/v1", true},
		{"registry.example.com/v2", "registry.example.com/v2", true},
		{"registry.example.com/v3/", "registry.example.com/v3/", true},
		{"registry.example.com/team/v2/", "registry.example.com/team/v2/", true},
		{"registry.example.com/v2/v1/", "registry.example.com/v1/", true},
		{"*.example.com", "*.example.com", true},
		{"docker.io", "docker.io", true},
		{"registry-1.docker.io", "registry-1.docker.io", true},
		{"registry.example.com:port", "", false},
		{"registry.example.com/%zz", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.loc, func(t *testing.T) {
			got, ok := normaliseKey(tc.loc)
			if ok != tc.wantOK || (ok && got != tc.want) {
				t.Errorf("normaliseKey(%q) = %q, %v; want %q, %v", tc.loc, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// Rule 3 through the keyring: every spelling of a registry is filed under
// its normalised key, and a key the kubelet cannot parse is skipped without
// failing the secret.
func TestKeyringSecretKeyNormalised(t *testing.T) {
	tests := []struct {
		loc      string
		repo     string
		wantKey  string // "" = no match
		wantNoOK bool
	}{
		{loc: "https://registry.example.com/v2/", repo: "registry.example.com/app", wantKey: "registry.example.com"},
		{loc: "http://registry.example.com", repo: "registry.example.com/app", wantKey: "registry.example.com"},
		{loc: "registry.example.com:5000/v1/", repo: "registry.example.com:5000/app", wantKey: "registry.example.com:5000"},
		{loc: "https://registry.example.com/v2/team", repo: "registry.example.com/team/app", wantKey: "registry.example.com/team"},
		{loc: "registry.example.com/v2/team", repo: "registry.example.com/other/app"},
		{loc: "registry.example.com:port", repo: "registry.example.com/app", wantNoOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.loc+" "+tc.repo, func(t *testing.T) {
			k := NewKeyring()
			content := krAuths(tc.loc, krUserPass("u", "p"), "unrelated.example.org", krUserPass("x", "y"))
			if err := k.AddSecret(krConfigJSONSecret("shop", "regcred", content)); err != nil {
				t.Fatalf("AddSecret: %v", err)
			}
			creds, matched := k.Lookup(tc.repo)
			var want []Credential
			if tc.wantKey != "" {
				want = []Credential{{Username: "u", Password: "p", Source: "secret shop/regcred", Key: tc.wantKey}}
			}
			if matched != (tc.wantKey != "") {
				t.Errorf("matched = %v, want %v", matched, tc.wantKey != "")
			}
			krEqualCreds(t, "Lookup("+tc.repo+")", creds, want)
			if creds, _ := k.Lookup("unrelated.example.org/app"); len(creds) != 1 {
				t.Errorf("the other entry of the secret was not kept: %+v", creds)
			}
		})
	}
}

// Rule 4, the matcher itself (URLsMatch): equal ports, equal number of host
// labels, each key label a glob (so * is exactly one label), and the key's
// path a plain string prefix of the repository path.
func TestKeyMatches(t *testing.T) {
	tests := []struct {
		key, repo string
		want      bool
	}{
		{"registry.example.com", "registry.example.com/team/app", true},
		{"registry.example.com", "registry.example.com/app", true},
		{"registry.example.com", "registry.example.org/app", false},
		// ports
		{"registry.example.com:5000", "registry.example.com/team/app", false},
		{"registry.example.com", "registry.example.com:5000/team/app", false},
		{"registry.example.com:5000", "registry.example.com:5000/team/app", true},
		{"registry.example.com:5001", "registry.example.com:5000/team/app", false},
		{"registry.example.com:443", "registry.example.com/team/app", false},
		{"localhost:5000", "localhost:5000/app", true},
		{"localhost", "localhost:5000/app", false},
		// label counts
		{"example.com", "registry.example.com/app", false},
		{"registry.example.com", "example.com/app", false},
		{"com", "example.com/app", false},
		// globs
		{"*.example.com", "a.example.com/app", true},
		{"*.example.com", "registry.example.com/team/app", true},
		{"*.example.com", "example.com/app", false},
		{"*.example.com", "a.b.example.com/app", false},
		{"*.*.example.com", "a.b.example.com/app", true},
		{"*.example.com", "a.example.org/app", false},
		{"reg*.example.com", "registry.example.com/app", true},
		{"reg*.example.com", "quay.example.com/app", false},
		// "?" starts the URL query once "https://" is prepended, as in the
		// kubelet's ParseSchemelessURL: it is not a glob there.
		{"registr?.example.com", "registry.example.com/app", false},
		{"*", "localhost/app", true},
		{"*", "example.com/app", false},
		{"*.example.com:5000", "a.example.com/app", false},
		{"*.example.com:5000", "a.example.com:5000/app", true},
		{"Registry.example.com", "registry.example.com/app", false},
		// paths: plain string prefix
		{"registry.example.com/team", "registry.example.com/team/app", true},
		{"registry.example.com/team", "registry.example.com/teamwork/app", true},
		{"registry.example.com/team/", "registry.example.com/teamwork/app", false},
		{"registry.example.com/team/", "registry.example.com/team/app", true},
		{"registry.example.com/team", "registry.example.com/other/app", false},
		{"registry.example.com/team/app", "registry.example.com/team/app", true},
		{"registry.example.com/team/app", "registry.example.com/team", false},
		{"registry.example.com/team", "other.example.com/team/app", false},
		{"*.example.com/team", "a.example.com/team/app", true},
		{"*.example.com/team", "a.example.com/other/app", false},
		{"registry.example.com:5000/team", "registry.example.com:5000/team/app", true},
		{"registry.example.com:5000/team", "registry.example.com/team/app", false},
		// Docker Hub keys against the normalised Docker Hub name
		{"docker.io", "docker.io/library/nginx", true},
		{"docker.io/library", "docker.io/library/nginx", true},
		{"docker.io/library", "docker.io/someone/app", false},
		{"index.docker.io", "docker.io/library/nginx", false},
		{"registry-1.docker.io", "docker.io/library/nginx", false},
		{"quay.io", "docker.io/library/nginx", false},
		{"*.io", "docker.io/library/nginx", true},
	}
	for _, tc := range tests {
		t.Run(tc.key+" "+tc.repo, func(t *testing.T) {
			if got := keyMatches(tc.key, tc.repo); got != tc.want {
				t.Errorf("keyMatches(%q, %q) = %v, want %v", tc.key, tc.repo, got, tc.want)
			}
		})
	}
}

// Rule 4 through Lookup: every matching key contributes, keys in
// reverse-sorted order (longer paths on a host first), credentials of one
// key in the order they were added.
func TestKeyringLookupMatching(t *testing.T) {
	type add struct {
		ns, name string
		pairs    []string // loc, username pairs; password is "pw-"+username
	}
	secret := func(a add) *corev1.Secret {
		var kv []string
		for i := 0; i < len(a.pairs); i += 2 {
			kv = append(kv, a.pairs[i], krUserPass(a.pairs[i+1], "pw-"+a.pairs[i+1]))
		}
		return krConfigJSONSecret(a.ns, a.name, krAuths(kv...))
	}
	tests := []struct {
		name      string
		adds      []add
		repo      string
		wantUsers []string // in order; nil = no match
		wantKeys  []string
	}{
		{
			name:      "host key",
			adds:      []add{{"shop", "s1", []string{"registry.example.com", "host"}}},
			repo:      "registry.example.com/team/app",
			wantUsers: []string{"host"},
			wantKeys:  []string{"registry.example.com"},
		},
		{
			name:     "port key does not match an image without port",
			adds:     []add{{"shop", "s1", []string{"registry.example.com:5000", "port"}}},
			repo:     "registry.example.com/team/app",
			wantKeys: nil,
		},
		{
			name: "image with port matches only the key with that port",
			adds: []add{{"shop", "s1", []string{
				"registry.example.com", "noport",
				"registry.example.com:5000", "port5000",
				"registry.example.com:5001", "port5001",
			}}},
			repo:      "registry.example.com:5000/team/app",
			wantUsers: []string{"port5000"},
			wantKeys:  []string{"registry.example.com:5000"},
		},
		{
			name: "label count must be equal",
			adds: []add{{"shop", "s1", []string{
				"example.com", "short",
				"eu.registry.example.com", "long",
			}}},
			repo: "registry.example.com/team/app",
		},
		{
			name: "star is exactly one label",
			adds: []add{{"shop", "s1", []string{"*.example.com", "star"}}},
			repo: "example.com/app",
		},
		{
			name:      "star matches one label",
			adds:      []add{{"shop", "s1", []string{"*.example.com", "star"}}},
			repo:      "a.example.com/app",
			wantUsers: []string{"star"},
			wantKeys:  []string{"*.example.com"},
		},
		{
			name: "star does not match two labels",
			adds: []add{{"shop", "s1", []string{"*.example.com", "star"}}},
			repo: "a.b.example.com/app",
		},
		{
			name:      "path key is a plain string prefix",
			adds:      []add{{"shop", "s1", []string{"registry.example.com/team", "team"}}},
			repo:      "registry.example.com/teamwork/app",
			wantUsers: []string{"team"},
			wantKeys:  []string{"registry.example.com/team"},
		},
		{
			name: "path key of another path",
			adds: []add{{"shop", "s1", []string{"registry.example.com/team", "team"}}},
			repo: "registry.example.com/other/app",
		},
		{
			name: "every matching key contributes, most specific first",
			adds: []add{{"shop", "s1", []string{
				"registry.example.com", "host",
				"*.example.com", "star",
				"registry.example.com/team", "team",
				"registry.example.com/team/app", "app",
				"other.example.com", "other",
				"registry.example.com/else", "else",
				"registry.example.com:5000", "port",
			}}},
			repo:      "registry.example.com/team/app",
			wantUsers: []string{"app", "team", "host", "star"},
			wantKeys:  []string{"registry.example.com/team/app", "registry.example.com/team", "registry.example.com", "*.example.com"},
		},
		{
			name: "order is by key, not by secret order",
			adds: []add{
				{"shop", "first", []string{"registry.example.com", "host"}},
				{"shop", "second", []string{"registry.example.com/team", "team"}},
				{"shop", "third", []string{"*.example.com", "star"}},
			},
			repo:      "registry.example.com/team/app",
			wantUsers: []string{"team", "host", "star"},
			wantKeys:  []string{"registry.example.com/team", "registry.example.com", "*.example.com"},
		},
		{
			name: "same key in several secrets keeps insertion order",
			adds: []add{
				{"shop", "b", []string{"registry.example.com", "fromB"}},
				{"shop", "a", []string{"registry.example.com", "fromA"}},
				{"shop", "c", []string{"registry.example.com/team", "fromC"}},
				{"shop", "d", []string{"registry.example.com", "fromD"}},
			},
			repo:      "registry.example.com/team/app",
			wantUsers: []string{"fromC", "fromB", "fromA", "fromD"},
			wantKeys:  []string{"registry.example.com/team", "registry.example.com", "registry.example.com", "registry.example.com"},
		},
		{
			name: "different spellings of one key share it",
			adds: []add{
				{"shop", "a", []string{"https://registry.example.com/v2/", "a"}},
				{"shop", "b", []string{"registry.example.com", "b"}},
				{"shop", "c", []string{"http://registry.example.com/", "c"}},
			},
			repo:      "registry.example.com/team/app",
			wantUsers: []string{"a", "b", "c"},
			wantKeys:  []string{"registry.example.com", "registry.example.com", "registry.example.com"},
		},
		{
			// Within one secret the kubelet ranges over a Go map (random
			// order); keyring.go sorts the locations for determinism.
			name: "different spellings of one key in one secret",
			adds: []add{{"shop", "s1", []string{
				"registry.example.com", "plain",
				"https://registry.example.com/v2/", "v2",
			}}},
			repo:      "registry.example.com/team/app",
			wantUsers: []string{"v2", "plain"},
			wantKeys:  []string{"registry.example.com", "registry.example.com"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKeyring()
			var want []Credential
			srcOf := map[string]string{}
			for _, a := range tc.adds {
				if err := k.AddSecret(secret(a)); err != nil {
					t.Fatalf("AddSecret %s/%s: %v", a.ns, a.name, err)
				}
				for i := 1; i < len(a.pairs); i += 2 {
					srcOf[a.pairs[i]] = "secret " + a.ns + "/" + a.name
				}
			}
			for i, u := range tc.wantUsers {
				want = append(want, Credential{Username: u, Password: "pw-" + u, Source: srcOf[u], Key: tc.wantKeys[i]})
			}
			creds, matched := k.Lookup(tc.repo)
			if matched != (len(want) > 0) {
				t.Errorf("Lookup(%q) matched = %v, want %v", tc.repo, matched, len(want) > 0)
			}
			if !slices.Equal(krKeys(creds), tc.wantKeys) {
				t.Errorf("Lookup(%q) keys = %q, want %q", tc.repo, krKeys(creds), tc.wantKeys)
			}
			krEqualCreds(t, "Lookup("+tc.repo+")", creds, want)
		})
	}
}

// Rule 5: Docker Hub. A docker.io key matches docker.io/... directly;
// index.docker.io (also spelled https://index.docker.io/v1/) only through
// the fallback taken when no key matched; registry-1.docker.io never.
func TestKeyringDockerHub(t *testing.T) {
	tests := []struct {
		name        string
		locs        []string // each gets user "u<i>"
		repo        string
		wantKeys    []string // nil = no match
		kubeletDiff string
	}{
		{name: "docker.io key matches directly", locs: []string{"docker.io"}, repo: "docker.io/library/nginx", wantKeys: []string{"docker.io"}},
		{name: "https docker.io key", locs: []string{"https://docker.io"}, repo: "docker.io/someone/app", wantKeys: []string{"docker.io"}},
		{name: "index.docker.io v1 URL through the fallback", locs: []string{"https://index.docker.io/v1/"}, repo: "docker.io/library/nginx", wantKeys: []string{"index.docker.io"}},
		{name: "index.docker.io host through the fallback", locs: []string{"index.docker.io"}, repo: "docker.io/library/nginx", wantKeys: []string{"index.docker.io"}},
		{name: "index.docker.io/v1/ without scheme", locs: []string{"index.docker.io/v1/"}, repo: "docker.io/someone/app", wantKeys: []string{"index.docker.io"}},
		{name: "http index.docker.io", locs: []string{"http://index.docker.io/v1/"}, repo: "docker.io/library/nginx", wantKeys: []string{"index.docker.io"}},
		{name: "registry-1.docker.io never matches", locs: []string{"registry-1.docker.io"}, repo: "docker.io/library/nginx"},
		{name: "registry-1.docker.io URL never matches", locs: []string{"https://registry-1.docker.io/v2/"}, repo: "docker.io/library/nginx"},
		{name: "index.docker.io with a path is not the fallback key", locs: []string{"index.docker.io/library"}, repo: "docker.io/library/nginx"},
		{name: "index.docker.io/v1 without slash is not the fallback key", locs: []string{"https://index.docker.io/v1"}, repo: "docker.io/library/nginx"},
		{
			name:     "fallback not used when docker.io matched",
			locs:     []string{"https://index.docker.io/v1/", "docker.io"},
			repo:     "docker.io/library/nginx",
			wantKeys: []string{"docker.io"},
		},
		{
			name:     "fallback not used when a glob matched",
			locs:     []string{"index.docker.io", "*.io"},
			repo:     "docker.io/library/nginx",
			wantKeys: []string{"*.io"},
		},
		{
			name:     "fallback used when only other paths exist",
			locs:     []string{"docker.io/library", "https://index.docker.io/v1/"},
			repo:     "docker.io/someone/app",
			wantKeys: []string{"index.docker.io"},
		},
		{
			name:     "both index.docker.io spellings share the fallback",
			locs:     []string{"index.docker.io", "https://index.docker.io/v1/"},
			repo:     "docker.io/library/nginx",
			wantKeys: []string{"index.docker.io", "index.docker.io"},
		},
		{name: "fallback not for quay.io", locs: []string{"https://index.docker.io/v1/"}, repo: "quay.io/x/y"},
		{name: "fallback not for a dotted host", locs: []string{"https://index.docker.io/v1/"}, repo: "registry.example.com/x"},
		{name: "fallback not for host with port", locs: []string{"https://index.docker.io/v1/"}, repo: "localhost:5000/x"},
		{name: "fallback not for registry-1.docker.io", locs: []string{"https://index.docker.io/v1/"}, repo: "registry-1.docker.io/library/nginx"},
		{
			// distribution/reference normalises localhost/x to "localhost/x"
			// (localhost is a domain), and the kubelet passes that name to
			// Lookup; isDefaultRegistryMatch only looks for '.' or ':'.
			name:        "fallback applies to localhost without port, as in the kubelet",
			locs:        []string{"https://index.docker.io/v1/"},
			repo:        "localhost/x",
			wantKeys:    []string{"index.docker.io"},
			kubeletDiff: "kubelet isDefaultRegistryMatch(\"localhost/x\") is true (only '.' or ':' in the first component make it a host; no localhost special case, pkg/credentialprovider/keyring.go), so index.docker.io credentials are used for localhost/x; keyring.go isDockerHub excludes \"localhost\"",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			krSkipDiff(t, tc.kubeletDiff)
			var pairs []string
			for i, loc := range tc.locs {
				pairs = append(pairs, loc, krUserPass(fmt.Sprintf("u%d", i), "p"))
			}
			k := NewKeyring()
			if err := k.AddSecret(krConfigJSONSecret("shop", "hub", krAuths(pairs...))); err != nil {
				t.Fatalf("AddSecret: %v", err)
			}
			creds, matched := k.Lookup(tc.repo)
			if matched != (len(tc.wantKeys) > 0) {
				t.Errorf("Lookup(%q) matched = %v, want %v (creds %+v)", tc.repo, matched, len(tc.wantKeys) > 0, creds)
			}
			if !slices.Equal(krKeys(creds), tc.wantKeys) {
				t.Errorf("Lookup(%q) keys = %q, want %q", tc.repo, krKeys(creds), tc.wantKeys)
			}
			for _, c := range creds {
				if c.Source != "secret shop/hub" || c.Password != "p" {
					t.Errorf("credential %+v: want source %q, password p", c, "secret shop/hub")
				}
			}
		})
	}
}

// Rule 5, the Docker Hub test itself (isDefaultRegistryMatch).
func TestIsDockerHub(t *testing.T) {
	tests := []struct {
		repo        string
		want        bool
		kubeletDiff string
	}{
		{repo: "docker.io/library/nginx", want: true},
		{repo: "docker.io/someone/app", want: true},
		{repo: "index.docker.io/library/nginx", want: true},
		{repo: "library/nginx", want: true},
		{repo: "nginx", want: true},
		{repo: "quay.io/x/y", want: false},
		{repo: "registry.example.com/x", want: false},
		{repo: "registry-1.docker.io/library/nginx", want: false},
		{repo: "localhost:5000/x", want: false},
		{repo: "myhost:5000/x", want: false},
		{repo: "", want: false},
		{repo: "/x", want: false},
		{
			repo:        "localhost/x",
			want:        true,
			kubeletDiff: "kubelet isDefaultRegistryMatch has no localhost case: !strings.ContainsAny(parts[0], \".:\") is true for \"localhost\"",
		},
	}
	for _, tc := range tests {
		t.Run(tc.repo, func(t *testing.T) {
			krSkipDiff(t, tc.kubeletDiff)
			if got := isDockerHub(tc.repo); got != tc.want {
				t.Errorf("isDockerHub(%q) = %v, want %v", tc.repo, got, tc.want)
			}
		})
	}
}

// Rule 6: no matching key means an anonymous pull: matched false and no
// credentials.
func TestKeyringLookupNoMatch(t *testing.T) {
	populated := func() *Keyring {
		k := NewKeyring()
		content := krAuths(
			"registry.example.com", krUserPass("u", "p"),
			"registry.example.com/team", krUserPass("t", "p"),
			"*.example.org", krUserPass("s", "p"),
			"registry-1.docker.io", krUserPass("r", "p"),
		)
		if err := k.AddSecret(krConfigJSONSecret("shop", "regcred", content)); err != nil {
			t.Fatalf("AddSecret: %v", err)
		}
		return k
	}
	tests := []struct {
		name string
		k    *Keyring
		repo string
	}{
		{"empty keyring", NewKeyring(), "registry.example.com/app"},
		{"empty keyring, Docker Hub", NewKeyring(), "docker.io/library/nginx"},
		{"other host", populated(), "quay.io/x/y"},
		{"other port", populated(), "registry.example.com:5000/app"},
		{"deeper host", populated(), "eu.registry.example.com/app"},
		{"Docker Hub without a hub key", populated(), "docker.io/library/nginx"},
		{"glob needs a label", populated(), "example.org/app"},
		{"keyring after ignored secrets", func() *Keyring {
			k := NewKeyring()
			_ = k.AddSecret(krSecret("shop", "opaque", corev1.SecretTypeOpaque,
				map[string][]byte{corev1.DockerConfigJsonKey: []byte(krAuths("registry.example.com", krUserPass("u", "p")))}))
			_ = k.AddSecret(krConfigJSONSecret("shop", "empty", ""))
			return k
		}(), "registry.example.com/app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds, matched := tc.k.Lookup(tc.repo)
			if matched || len(creds) != 0 {
				t.Errorf("Lookup(%q) = %+v, %v; want no credentials, false", tc.repo, creds, matched)
			}
		})
	}
}

// Rule 7: AddDockerConfig reads a config.json ({"auths":{...}}) under the
// given source label, with the same auth rules as secrets.
func TestKeyringAddDockerConfig(t *testing.T) {
	tests := []struct {
		name          string
		data          string
		source        string
		repo          string
		wantErr       bool
		wantMalformed bool
		wantCreds     []Credential
	}{
		{
			name:      "username and password",
			data:      krAuths("registry.example.com", krUserPass("u", "p")),
			source:    "docker config",
			repo:      "registry.example.com/app",
			wantCreds: []Credential{{Username: "u", Password: "p", Source: "docker config", Key: "registry.example.com"}},
		},
		{
			name:      "auth and custom source",
			data:      krAuths("https://index.docker.io/v1/", `{"auth":"`+krAuth("hub", "hp")+`","identitytoken":"x"}`),
			source:    "node /root/.docker/config.json",
			repo:      "docker.io/library/nginx",
			wantCreds: []Credential{{Username: "hub", Password: "hp", Source: "node /root/.docker/config.json", Key: "index.docker.io"}},
		},
		{
			name:   "bare dockercfg map is not a config.json",
			data:   krBare("registry.example.com", krUserPass("u", "p")),
			source: "docker config",
			repo:   "registry.example.com/app",
		},
		{
			name:    "invalid JSON",
			data:    `{"auths"`,
			source:  "docker config",
			repo:    "registry.example.com/app",
			wantErr: true,
		},
		{
			name:          "bad auth",
			data:          krAuths("registry.example.com", `{"auth":"!!"}`),
			source:        "docker config",
			repo:          "registry.example.com/app",
			wantErr:       true,
			wantMalformed: true,
		},
		{
			name:          "auth without colon",
			data:          krAuths("registry.example.com", `{"auth":"`+base64.StdEncoding.EncodeToString([]byte("nocolon"))+`"}`),
			source:        "docker config",
			repo:          "registry.example.com/app",
			wantErr:       true,
			wantMalformed: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := NewKeyring()
			err := k.AddDockerConfig([]byte(tc.data), tc.source)
			if (err != nil) != tc.wantErr {
				t.Fatalf("AddDockerConfig error = %v, want error %v", err, tc.wantErr)
			}
			if got := errors.Is(err, ErrMalformedAuth); got != tc.wantMalformed {
				t.Errorf("errors.Is(err, ErrMalformedAuth) = %v, want %v", got, tc.wantMalformed)
			}
			var se *SecretError
			if errors.As(err, &se) {
				t.Errorf("AddDockerConfig returned a *SecretError %+v; it is not a secret", se)
			}
			if tc.wantErr {
				return
			}
			creds, matched := k.Lookup(tc.repo)
			if matched != (len(tc.wantCreds) > 0) {
				t.Errorf("matched = %v, want %v", matched, len(tc.wantCreds) > 0)
			}
			krEqualCreds(t, "Lookup("+tc.repo+")", creds, tc.wantCreds)
		})
	}

	t.Run("secret and docker config keep insertion order under one key", func(t *testing.T) {
		k := NewKeyring()
		if err := k.AddSecret(krConfigJSONSecret("shop", "regcred", krAuths("registry.example.com", krUserPass("s", "sp")))); err != nil {
			t.Fatal(err)
		}
		if err := k.AddDockerConfig([]byte(krAuths("https://registry.example.com/v2/", krUserPass("n", "np"))), "docker config"); err != nil {
			t.Fatal(err)
		}
		creds, matched := k.Lookup("registry.example.com/app")
		if !matched {
			t.Fatal("no match")
		}
		krEqualCreds(t, "Lookup", creds, []Credential{
			{Username: "s", Password: "sp", Source: "secret shop/regcred", Key: "registry.example.com"},
			{Username: "n", Password: "np", Source: "docker config", Key: "registry.example.com"},
		})
	})
}

// Rule 7: Fingerprint is stable, depends on username and password only,
// and separates them unambiguously.
func TestCredentialFingerprint(t *testing.T) {
	base := Credential{Username: "u", Password: "secret-pw", Source: "secret shop/a", Key: "registry.example.com"}
	tests := []struct {
		name     string
		a, b     Credential
		wantSame bool
	}{
		{"same credential", base, base, true},
		{"copy", base, Credential{Username: "u", Password: "secret-pw", Source: "secret shop/a", Key: "registry.example.com"}, true},
		{"other source and key", base, Credential{Username: "u", Password: "secret-pw", Source: "docker config", Key: "*.example.com"}, true},
		{"other password", base, Credential{Username: "u", Password: "secret-pX", Source: "secret shop/a", Key: "registry.example.com"}, false},
		{"other username", base, Credential{Username: "v", Password: "secret-pw", Source: "secret shop/a", Key: "registry.example.com"}, false},
		{"empty vs password", Credential{}, Credential{Password: "x"}, false},
		{"boundary moved", Credential{Username: "ab", Password: "c"}, Credential{Username: "a", Password: "bc"}, false},
		{"colon in user vs password", Credential{Username: "a:b", Password: "c"}, Credential{Username: "a", Password: "b:c"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fa, fb := tc.a.Fingerprint(), tc.b.Fingerprint()
			if (fa == fb) != tc.wantSame {
				t.Errorf("Fingerprint %q vs %q: same = %v, want %v", fa, fb, fa == fb, tc.wantSame)
			}
			if fa != tc.a.Fingerprint() {
				t.Errorf("Fingerprint not stable")
			}
		})
	}
	t.Run("does not reveal the password", func(t *testing.T) {
		f := base.Fingerprint()
		if f == "" || strings.Contains(f, base.Password) || strings.Contains(f, base.Username+":") {
			t.Errorf("Fingerprint %q is empty or reveals the credential", f)
		}
	})
	t.Run("through the keyring", func(t *testing.T) {
		k := NewKeyring()
		for i, pw := range []string{"one", "two", "one"} {
			content := krAuths("registry.example.com", krUserPass("u", pw))
			if err := k.AddSecret(krConfigJSONSecret("shop", fmt.Sprintf("s%d", i), content)); err != nil {
				t.Fatal(err)
			}
		}
		creds, _ := k.Lookup("registry.example.com/app")
		if len(creds) != 3 {
			t.Fatalf("got %d credentials, want 3", len(creds))
		}
		if creds[0].Fingerprint() == creds[1].Fingerprint() {
			t.Errorf("different passwords share a fingerprint")
		}
		if creds[0].Fingerprint() != creds[2].Fingerprint() {
			t.Errorf("equal user/password from different secrets have different fingerprints")
		}
	})
}

// The two parsers read their format and nothing else.
func TestParseDockerConfig(t *testing.T) {
	tests := []struct {
		name     string
		parse    func([]byte) (map[string]dockerConfigEntry, error)
		data     string
		wantErr  bool
		wantLocs []string
	}{
		{"json auths", ParseDockerConfigJSON, krAuths("a.example.com", krUserPass("u", "p"), "https://b.example.com/v2/", `{"auth":"x"}`), false, []string{"a.example.com", "https://b.example.com/v2/"}},
		{"json bare map", ParseDockerConfigJSON, krBare("a.example.com", krUserPass("u", "p")), false, nil},
		{"json invalid", ParseDockerConfigJSON, `[`, true, nil},
		{"json extra fields", ParseDockerConfigJSON, `{"auths":{"a.example.com":{}},"credsStore":"desktop","HttpHeaders":{"X":"y"}}`, false, []string{"a.example.com"}},
		{"cfg bare map", ParseDockercfg, krBare("a.example.com", krUserPass("u", "p")), false, []string{"a.example.com"}},
		{"cfg auths wrapper", ParseDockercfg, krAuths("a.example.com", krUserPass("u", "p")), false, []string{"auths"}},
		{"cfg invalid", ParseDockercfg, `{"a.example.com":`, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := tc.parse([]byte(tc.data))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if errors.Is(err, ErrMalformedAuth) {
				t.Errorf("a JSON error must not be ErrMalformedAuth")
			}
			if len(entries) != len(tc.wantLocs) {
				t.Fatalf("got %d entries %v, want %v", len(entries), entries, tc.wantLocs)
			}
			for _, loc := range tc.wantLocs {
				if _, ok := entries[loc]; !ok {
					t.Errorf("entry %q missing from %v", loc, entries)
				}
			}
		})
	}
	t.Run("fields", func(t *testing.T) {
		entries, err := ParseDockerConfigJSON([]byte(krAuths("a.example.com", `{"username":"u","password":"p","auth":"YXU6YXA=","identitytoken":"t"}`)))
		if err != nil {
			t.Fatal(err)
		}
		e := entries["a.example.com"]
		if e.Username != "u" || e.Password != "p" || e.Auth != "YXU6YXA=" {
			t.Errorf("entry = %+v", e)
		}
		u, p, err := e.resolve()
		if err != nil || u != "au" || p != "ap" {
			t.Errorf("resolve = %q, %q, %v; want au, ap, nil", u, p, err)
		}
	})
}
