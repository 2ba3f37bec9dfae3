package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// registryFinding is the part of a JSON finding these tests compare.
type registryFinding struct {
	Check, Severity, Name, Field, Suggestion, Message string
}

// realRegistries runs two distribution registries with TLS, one open and
// one with htpasswd auth (ci:s3cret), with the images the tests name.
type realRegistries struct {
	open, private *testregistry.Distribution
	caFile        string
	dockerConfig  string
}

func startRealRegistries(t *testing.T) *realRegistries {
	t.Helper()
	bin := testregistry.RegistryBinary(t)
	r := &realRegistries{
		open:    testregistry.StartDistribution(t, bin, nil),
		private: testregistry.StartDistribution(t, bin, map[string]string{"ci": "s3cret"}),
	}
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	app := v1.Config{Entrypoint: []string{"/app"}, User: "1000"}
	anon := authn.Anonymous
	r.open.Push(t, anon, "shop/app:latest", testregistry.Image(t, app, amd64))
	r.open.Push(t, anon, "shop/app:1.0", testregistry.Image(t, app, amd64))
	r.open.Push(t, anon, "shop/root:1.0", testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}}, amd64))
	r.open.Push(t, anon, "shop/noentry:1.0", testregistry.Image(t, v1.Config{User: "1000"}, amd64))
	r.private.Push(t, &authn.Basic{Username: "ci", Password: "s3cret"}, "team/private-app:1.0", testregistry.Image(t, app, amd64))
	// An index for amd64 and 386, not arm64.
	r.open.PushIndex(t, anon, "shop/x86-only:1.0", app, amd64, v1.Platform{OS: "linux", Architecture: "386"})

	// One CA file for both registries, and an empty docker config so the
	// developer's own does not take part.
	dir := t.TempDir()
	var cas []byte
	for _, f := range []string{r.open.CAFile, r.private.CAFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cas = append(cas, b...)
	}
	r.caFile, r.dockerConfig = filepath.Join(dir, "cas.pem"), filepath.Join(dir, "config.json")
	if err := os.WriteFile(r.caFile, cas, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.dockerConfig, []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// check runs `nobackoff check` on a manifest with ${OPEN} and ${PRIVATE}
// filled in and returns the exit code and findings other than
// resources.memory-limit-missing.
func (r *realRegistries) check(t *testing.T, manifest string, extra ...string) (int, []registryFinding) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "manifest.yaml")
	text := os.Expand(manifest, func(k string) string {
		return map[string]string{"OPEN": r.open.Host, "PRIVATE": r.private.Host}[k]
	})
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"check", "-f", file, "-o", "json", "--registry-ca", r.caFile, "--docker-config", r.dockerConfig}, extra...)
	code, out, errOut := runCLI(t, "", args...)
	if code == exitUsage {
		t.Fatalf("exit 2: %s", errOut)
	}
	var rep struct{ Findings []registryFinding }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var fs []registryFinding
	for _, f := range rep.Findings {
		if f.Check != "resources.memory-limit-missing" {
			fs = append(fs, f)
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name+fs[i].Check < fs[j].Name+fs[j].Check })
	return code, fs
}

func deploymentYAML(name, image, podSpec, containerSpec string) string {
	return `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: shop}
spec:
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec:
` + podSpec + `      containers:
      - name: app
        image: ` + image + `
` + containerSpec
}

const secretsYAML = `---
apiVersion: v1
kind: Secret
metadata: {name: regcred, namespace: shop}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '{"auths":{"${PRIVATE}":{"username":"ci","password":"s3cret"}}}'}
---
apiVersion: v1
kind: Secret
metadata: {name: stale, namespace: shop}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '{"auths":{"${PRIVATE}":{"username":"ci","password":"wrong"}}}'}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: shop}
imagePullSecrets: [{name: regcred}]
`

// TestCheckAgainstRealRegistries holds `nobackoff check` to the registry
// acceptance list, against distribution's registry with TLS and htpasswd.
func TestCheckAgainstRealRegistries(t *testing.T) {
	r := startRealRegistries(t)
	priv := "${PRIVATE}/team/private-app:1.0"
	manifest := secretsYAML +
		deploymentYAML("tag-typo", "${OPEN}/shop/app:latests", "", "") +
		deploymentYAML("repo-typo", "${OPEN}/shop/ap:1.0", "", "") +
		deploymentYAML("private-no-secret", priv, "", "") +
		deploymentYAML("private-right-secret", priv, "      imagePullSecrets: [{name: regcred}]\n", "") +
		deploymentYAML("private-wrong-password", priv, "      imagePullSecrets: [{name: stale}]\n", "") +
		deploymentYAML("private-secret-on-sa", priv, "      serviceAccountName: deployer\n", "") +
		deploymentYAML("private-wrong-on-template-right-on-sa", priv, "      serviceAccountName: deployer\n      imagePullSecrets: [{name: stale}]\n", "") +
		deploymentYAML("root-user", "${OPEN}/shop/root:1.0", "      securityContext: {runAsNonRoot: true}\n", "") +
		deploymentYAML("root-user-with-uid", "${OPEN}/shop/root:1.0", "      securityContext: {runAsNonRoot: true, runAsUser: 1000}\n", "") +
		deploymentYAML("no-entrypoint", "${OPEN}/shop/noentry:1.0", "", "") +
		deploymentYAML("healthy", "${OPEN}/shop/app:1.0", "", "")

	code, fs := r.check(t, manifest)
	if code != exitFindings {
		t.Errorf("exit %d, want 1", code)
	}
	got := map[string][]registryFinding{}
	for _, f := range fs {
		got[f.Name] = append(got[f.Name], f)
	}
	want := map[string]string{
		"tag-typo":                              "image.tag-not-found",
		"repo-typo":                             "image.repository-not-found",
		"private-no-secret":                     "image.unauthorized",
		"private-right-secret":                  "",
		"private-wrong-password":                "image.unauthorized",
		"private-secret-on-sa":                  "",
		"private-wrong-on-template-right-on-sa": "image.unauthorized",
		"root-user":                             "image.runs-as-root",
		"root-user-with-uid":                    "",
		"no-entrypoint":                         "image.no-command",
		"healthy":                               "",
	}
	for name, check := range want {
		var ids []string
		for _, f := range got[name] {
			ids = append(ids, f.Check+" "+f.Severity)
		}
		wantIDs := ""
		if check != "" {
			wantIDs = check + " error"
		}
		if strings.Join(ids, ",") != wantIDs {
			t.Errorf("%s: findings %v, want [%s]", name, ids, wantIDs)
		}
	}
	if f := got["tag-typo"]; len(f) == 1 && f[0].Suggestion != "latest" {
		t.Errorf("tag typo suggestion %q, want latest", f[0].Suggestion)
	}
	if f := got["repo-typo"]; len(f) == 1 && f[0].Suggestion != r.open.Host+"/shop/app" {
		t.Errorf("repository typo suggestion %q, want %s/shop/app", f[0].Suggestion, r.open.Host)
	}
	for _, name := range []string{"private-wrong-password", "private-wrong-on-template-right-on-sa"} {
		if f := got[name]; len(f) == 1 && !strings.Contains(f[0].Message, "secret shop/stale") {
			t.Errorf("%s: the finding does not name the secret tried: %q", name, f[0].Message)
		}
	}

	t.Run("platform", func(t *testing.T) {
		image := deploymentYAML("x86", "${OPEN}/shop/x86-only:1.0", "", "")
		if _, fs := r.check(t, image, "--platform", "linux/arm64"); len(fs) != 1 || fs[0].Check != "image.platform-mismatch" || fs[0].Severity != "error" {
			t.Errorf("arm64 nodes: %+v", fs)
		}
		if _, fs := r.check(t, image, "--platform", "linux/amd64"); len(fs) != 0 {
			t.Errorf("amd64 nodes: %+v", fs)
		}
		if _, fs := r.check(t, image, "--platform", "linux/amd64,linux/arm64"); len(fs) != 1 || fs[0].Severity != "warning" {
			t.Errorf("mixed nodes: %+v", fs)
		}
	})

	t.Run("insecure registry: TLS without verification", func(t *testing.T) {
		image := deploymentYAML("insecure", "${OPEN}/shop/app:1.0", "", "")
		file := filepath.Join(t.TempDir(), "m.yaml")
		_ = os.WriteFile(file, []byte(strings.ReplaceAll(image, "${OPEN}", r.open.Host)), 0o600)
		// Without the CA the certificate is not trusted: inconclusive.
		code, out, _ := runCLI(t, "", "check", "-f", file, "-o", "json", "--docker-config", r.dockerConfig)
		if code != exitOK || !strings.Contains(out, `"image.lookup-inconclusive"`) {
			t.Fatalf("untrusted CA: exit %d %s", code, out)
		}
		code, out, _ = runCLI(t, "", "check", "-f", file, "-o", "json", "--docker-config", r.dockerConfig, "--insecure-registry", r.open.Host)
		if code != exitOK || strings.Contains(out, `"image.`) {
			t.Fatalf("--insecure-registry: exit %d %s", code, out)
		}
	})

	t.Run("docker config stands in for node credentials", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "config.json")
		_ = os.WriteFile(cfg, []byte(`{"auths":{"`+r.private.Host+`":{"auth":"Y2k6czNjcmV0"}}}`), 0o600)
		image := deploymentYAML("node-creds", priv, "", "")
		code, fs := r.check(t, image, "--docker-config", cfg)
		if code != exitOK || len(fs) != 0 {
			t.Fatalf("exit %d findings %+v", code, fs)
		}
	})

	t.Run("node credential registries make auth failures inconclusive", func(t *testing.T) {
		code, fs := r.check(t, deploymentYAML("node-glob", priv, "", ""), "--node-credentials", "127.0.0.1:*")
		if code != exitOK || len(fs) != 1 || fs[0].Check != "image.lookup-inconclusive" {
			t.Fatalf("exit %d findings %+v", code, fs)
		}
	})

	t.Run("registry stalls", func(t *testing.T) {
		// Accepts connections and never answers: the budget decides.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		file := filepath.Join(t.TempDir(), "m.yaml")
		_ = os.WriteFile(file, []byte(deploymentYAML("stalled", l.Addr().String()+"/shop/app:1.0", "", "")), 0o600)
		start := time.Now()
		code, out, _ := runCLI(t, "", "check", "-f", file, "-o", "json", "--docker-config", r.dockerConfig, "--registry-timeout", "2s")
		t.Logf("stalled registry: answered in %v (budget 2s)", time.Since(start))
		if code != exitOK || !strings.Contains(out, `"image.lookup-inconclusive"`) {
			t.Fatalf("exit %d %s", code, out)
		}
	})

	t.Run("registry down", func(t *testing.T) {
		r.open.Stop()
		start := time.Now()
		code, fs := r.check(t, deploymentYAML("down", "${OPEN}/shop/app:1.0", "", ""), "--registry-timeout", "3s")
		t.Logf("registry down: answered in %v (budget 3s)", time.Since(start))
		if code != exitOK || len(fs) != 1 || fs[0].Check != "image.lookup-inconclusive" || fs[0].Severity != "warning" {
			t.Fatalf("exit %d, findings %+v", code, fs)
		}
	})
}

// TestCheckReadsTheImagesEntrypoint: with lookups, the image's Entrypoint
// decides whether a launch script reads JVM_OPTS and which word of args is
// the program; offline, neither can be told.
func TestCheckReadsTheImagesEntrypoint(t *testing.T) {
	r := startRealRegistries(t)
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	r.open.Push(t, authn.Anonymous, "shop/jib:1.0", testregistry.Image(t, v1.Config{User: "1000",
		Entrypoint: []string{"java", "-cp", "@/app/jib-classpath-file", "com.example.Ledger"}}, amd64))
	r.open.Push(t, authn.Anonymous, "shop/script:1.0", testregistry.Image(t, v1.Config{User: "1000",
		Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"start"}}, amd64))
	heap := "        env: [{name: JVM_OPTS, value: -Xms256m -Xmx512m}]\n        resources: {limits: {memory: 512Mi}}\n"
	manifest := deploymentYAML("jib", "${OPEN}/shop/jib:1.0", "", heap) +
		deploymentYAML("script", "${OPEN}/shop/script:1.0", "", heap) +
		deploymentYAML("builtin-in-args", "${OPEN}/shop/noentry:1.0", "", "        args: [export, A=1]\n")

	for _, tc := range []struct {
		name string
		args []string
		want map[string]string
	}{
		{"lookups", nil, map[string]string{
			"jib":             "",
			"script":          "resources.heap-exceeds-limit warning",
			"builtin-in-args": "command.not-found error",
		}},
		{"offline", []string{"--offline"}, map[string]string{
			"jib":             "resources.heap-exceeds-limit info",
			"script":          "resources.heap-exceeds-limit info",
			"builtin-in-args": "",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, fs := r.check(t, manifest, tc.args...)
			got := map[string][]string{}
			for _, f := range fs {
				if f.Check != "image.mutable-tag" {
					got[f.Name] = append(got[f.Name], f.Check+" "+f.Severity)
				}
			}
			for name, want := range tc.want {
				if strings.Join(got[name], ",") != want {
					t.Errorf("%s: findings %v, want [%s]", name, got[name], want)
				}
			}
		})
	}
}
