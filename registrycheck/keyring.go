package registrycheck

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Credential is one username/password pair a pull may be attempted with.
type Credential struct {
	Username string
	Password string
	// Source names where it came from: "secret shop/regcred",
	// "docker config".
	Source string
	// Key is the registry key it was filed under, as normalised.
	Key string
}

// Fingerprint identifies the credential in cache keys without revealing it.
func (c Credential) Fingerprint() string {
	h := sha256.Sum256([]byte(c.Username + "\x00" + c.Password))
	return hex.EncodeToString(h[:8])
}

// Anonymous is the source of lookups made without credentials.
const Anonymous = "anonymous"

// dockerConfigEntry is one registry entry of a docker config. Like the
// kubelet, nobackoff reads username, password and auth; auth, when present,
// wins over username and password. identitytoken and registrytoken are
// ignored, as the kubelet ignores them.
type dockerConfigEntry struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// ErrMalformedAuth marks a pull secret whose auth field is not valid base64
// "user:password": the kubelet then fails every pull of the pod.
var ErrMalformedAuth = errors.New("malformed auth")

func (e *dockerConfigEntry) resolve() (user, pass string, err error) {
	if e.Auth == "" {
		return e.Username, e.Password, nil
	}
	// Like the kubelet, accept auth without its base64 padding (some
	// credential helpers write it so).
	enc := base64.RawStdEncoding
	if strings.HasSuffix(strings.TrimSpace(e.Auth), "=") {
		enc = base64.StdEncoding
	}
	raw, err := enc.DecodeString(e.Auth)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrMalformedAuth, err)
	}
	u, p, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", fmt.Errorf("%w: decoded auth has no ':' between user and password", ErrMalformedAuth)
	}
	return u, p, nil
}

// ParseDockerConfigJSON reads the content of a .dockerconfigjson key or of a
// docker config.json: {"auths": {"registry": {...}}}.
func ParseDockerConfigJSON(data []byte) (map[string]dockerConfigEntry, error) {
	var cfg struct {
		Auths map[string]dockerConfigEntry `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, err
	}
	return cfg.Auths, nil
}

// ParseDockercfg reads the content of a .dockercfg key: the bare map.
func ParseDockercfg(data []byte) (map[string]dockerConfigEntry, error) {
	var cfg map[string]dockerConfigEntry
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// SecretProblem says why the kubelet cannot use a referenced pull secret.
type SecretProblem string

// Problems with a pull secret, as the kubelet sees them.
const (
	// SecretMissing: the secret does not exist. The kubelet skips it (event
	// FailedToRetrieveImagePullSecret).
	SecretMissing SecretProblem = "missing"
	// SecretWrongType: not kubernetes.io/dockerconfigjson or
	// kubernetes.io/dockercfg, or the type's key is absent. Ignored.
	SecretWrongType SecretProblem = "wrong-type"
	// SecretMalformed: the content cannot be read (bad JSON, bad base64
	// auth). The kubelet fails every pull of the pod.
	SecretMalformed SecretProblem = "malformed"
)

// SecretError is a pull secret the kubelet cannot use.
type SecretError struct {
	Namespace, Name string
	Problem         SecretProblem
	Err             error
}

func (e *SecretError) Error() string {
	msg := fmt.Sprintf("pull secret %s/%s: %s", e.Namespace, e.Name, e.Problem)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SecretError) Unwrap() error { return e.Err }

// Keyring holds registry credentials and finds the ones that apply to an
// image, following the kubelet's matching rules.
type Keyring struct {
	creds map[string][]Credential
	// index lists the keys reverse-sorted, so that more specific keys
	// (longer paths on the same host) come first.
	index []string
}

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring { return &Keyring{creds: map[string][]Credential{}} }

// AddSecret adds the credentials of a pull secret. Secrets of other types,
// or without their type's key, are ignored by the kubelet: they yield a
// SecretError with SecretWrongType and add nothing. Unreadable content
// yields SecretMalformed.
func (k *Keyring) AddSecret(s *corev1.Secret) error {
	fail := func(p SecretProblem, err error) error {
		return &SecretError{Namespace: s.Namespace, Name: s.Name, Problem: p, Err: err}
	}
	var entries map[string]dockerConfigEntry
	var err error
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		data := s.Data[corev1.DockerConfigJsonKey]
		if len(data) == 0 {
			return fail(SecretWrongType, fmt.Errorf("no %s data", corev1.DockerConfigJsonKey))
		}
		entries, err = ParseDockerConfigJSON(data)
	case corev1.SecretTypeDockercfg:
		data := s.Data[corev1.DockerConfigKey]
		if len(data) == 0 {
			return fail(SecretWrongType, fmt.Errorf("no %s data", corev1.DockerConfigKey))
		}
		entries, err = ParseDockercfg(data)
	default:
		return fail(SecretWrongType, fmt.Errorf("type %q is not %s or %s", s.Type, corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg))
	}
	if err != nil {
		return fail(SecretMalformed, err)
	}
	if err := k.add(entries, "secret "+s.Namespace+"/"+s.Name); err != nil {
		return fail(SecretMalformed, err)
	}
	return nil
}

// AddDockerConfig adds the credentials of a docker config.json (as the
// CLI's stand-in for the node's credentials).
func (k *Keyring) AddDockerConfig(data []byte, source string) error {
	entries, err := ParseDockerConfigJSON(data)
	if err != nil {
		return err
	}
	return k.add(entries, source)
}

// add files entries under their normalised keys. An entry whose auth
// cannot be decoded fails the whole set, as it fails the kubelet's pull.
func (k *Keyring) add(entries map[string]dockerConfigEntry, source string) error {
	// Sorted for a deterministic order among entries of one source.
	locs := make([]string, 0, len(entries))
	for loc := range entries {
		locs = append(locs, loc)
	}
	sort.Strings(locs)
	// Read every entry before adding any: a set with one unreadable entry
	// contributes nothing, as in the kubelet.
	var add []Credential
	for _, loc := range locs {
		e := entries[loc]
		user, pass, err := e.resolve()
		if err != nil {
			return fmt.Errorf("registry %q: %w", loc, err)
		}
		key, ok := normaliseKey(loc)
		if !ok {
			continue // the kubelet logs and skips keys it cannot parse
		}
		add = append(add, Credential{Username: user, Password: pass, Source: source, Key: key})
	}
	for _, c := range add {
		if _, seen := k.creds[c.Key]; !seen {
			k.index = append(k.index, c.Key)
		}
		k.creds[c.Key] = append(k.creds[c.Key], c)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(k.index)))
	return nil
}

// normaliseKey turns a config key into the kubelet's form: scheme dropped
// (https:// assumed), a leading /v1/ or /v2/ dropped, host[:port] plus the
// remaining path.
func normaliseKey(loc string) (string, bool) {
	v := loc
	if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", false
	}
	p := u.Path
	if strings.HasPrefix(p, "/v2/") || strings.HasPrefix(p, "/v1/") {
		p = p[3:]
	}
	if p != "" && p != "/" {
		return u.Host + p, true
	}
	return u.Host, true
}

// Fingerprint identifies what the keyring holds (keys, credentials and
// where they came from) without revealing it: keyrings with the same
// fingerprint answer every Lookup the same. An empty keyring's is "".
func (k *Keyring) Fingerprint() string {
	if k == nil || len(k.creds) == 0 {
		return ""
	}
	h := sha256.New()
	for _, key := range slices.Sorted(maps.Keys(k.creds)) {
		for _, c := range k.creds[key] {
			for _, s := range []string{key, c.Source, c.Username, c.Password} {
				h.Write([]byte(s))
				h.Write([]byte{0})
			}
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// dockerHubKey is the key the kubelet falls back to for Docker Hub images
// when no other key matched ("index.docker.io" and
// "https://index.docker.io/v1/" both normalise to it).
const dockerHubKey = "index.docker.io"

// Lookup returns the credentials to try for an image repository (the
// normalised name, e.g. docker.io/library/nginx), in the kubelet's order.
// matched is false when no key applies: the pull is then anonymous.
func (k *Keyring) Lookup(repo string) (creds []Credential, matched bool) {
	for _, key := range k.index {
		if keyMatches(key, repo) {
			creds = append(creds, k.creds[key]...)
		}
	}
	if len(creds) > 0 {
		return creds, true
	}
	if isDockerHub(repo) {
		if c, ok := k.creds[dockerHubKey]; ok {
			return append([]Credential(nil), c...), true
		}
	}
	return nil, false
}

// isDockerHub reports whether the kubelet treats a repository as Docker
// Hub's for the fallback key.
func isDockerHub(repo string) bool {
	first, _, hasSlash := strings.Cut(repo, "/")
	if first == "" {
		return false
	}
	if !hasSlash || first == "docker.io" || first == "index.docker.io" {
		return true
	}
	// No exception for "localhost": the kubelet makes none here.
	return !strings.ContainsAny(first, ".:")
}

// keyMatches applies the kubelet's URL glob rules: equal ports, the same
// number of host labels with each label a glob (so * matches exactly one
// label), and the key's path a plain string prefix of the repository path.
func keyMatches(key, repo string) bool {
	k, err1 := url.Parse("https://" + key)
	r, err2 := url.Parse("https://" + repo)
	if err1 != nil || err2 != nil {
		return false
	}
	kLabels, kPort := splitHost(k.Host)
	rLabels, rPort := splitHost(r.Host)
	if kPort != rPort || len(kLabels) != len(rLabels) || !strings.HasPrefix(r.Path, k.Path) {
		return false
	}
	for i := range kLabels {
		if ok, err := path.Match(kLabels[i], rLabels[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

func splitHost(hostport string) (labels []string, port string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	return strings.Split(host, "."), port
}
