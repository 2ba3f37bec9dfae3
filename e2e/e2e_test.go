package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// tool returns a binary the suite needs from its environment variable.
func tool(t *testing.T, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: run the suite with `make test`, which builds the tools", env)
		}
		t.Skipf("SKIPPED: %s not set; `make test` builds the control plane and sets it", env)
	}
	return v
}

// newEnv brings up the whole environment: control plane, registries,
// nobackoff serve registered through the chart's webhook configuration,
// two namespaces (shop-warn, shop-enforce) and nodes of two platforms.
// Everything stops when the test ends.
func newEnv(t *testing.T) *env {
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	helm := tool(t, "NOBACKOFF_HELM_BIN")
	nobackoff := tool(t, "NOBACKOFF_BIN")
	regBin := testregistry.RegistryBinary(t)

	c := startCluster(t, k8sDir)

	// Two registries with TLS, one open and one with htpasswd, holding
	// the images the scenarios name.
	reg := testregistry.StartDistribution(t, regBin, nil)
	private := testregistry.StartDistribution(t, regBin, map[string]string{"ci": "s3cret"})
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	app := v1.Config{Entrypoint: []string{"/app"}, User: "1000"}

	// Images for both node platforms, as an index, except amd64-only.
	pushIndex := func(d *testregistry.Distribution, auth authn.Authenticator, repoTag string) {
		d.PushIndex(t, auth, repoTag, app, amd64, v1.Platform{OS: "linux", Architecture: "arm64"})
	}
	for _, tag := range []string{"latest", "1.0", "2.0"} {
		pushIndex(reg, authn.Anonymous, "shop/app:"+tag)
	}
	reg.Push(t, authn.Anonymous, "shop/amd64-only:1.0", testregistry.Image(t, app, amd64))
	pushIndex(private, &authn.Basic{Username: "ci", Password: "s3cret"}, "team/private:1.0")
	// The images examples/ names (registry.example.com and private.registry.example.com).
	for _, image := range []string{"shop/orders:3.4.1", "shop/billing:4.2.0", "shop/catalog:2.8.3", "shop/renderer:1.14.0", "shop/payments:5.0.2"} {
		pushIndex(reg, authn.Anonymous, image)
	}
	pushIndex(private, &authn.Basic{Username: "ci", Password: "s3cret"}, "team/ledger:2.3.0")
	caFile := joinCAs(t, reg.CAFile, private.CAFile)

	c.must(t, "", "create", "namespace", "shop-warn")
	c.must(t, "", "create", "namespace", "shop-enforce")
	c.must(t, "", "label", "namespace", "shop-enforce", "nobackoff.io/mode=enforce")
	for _, ns := range []string{"shop-warn", "shop-enforce"} {
		c.must(t, "", "create", "serviceaccount", "default", "-n", ns) // no controller-manager here
	}
	serve, port := serveWebhook(t, c, nobackoff, helm, caFile, "shop-warn", reg.Host+"/shop/app:latests")

	// Nodes of two platforms for the platform checks (no kubelet: the
	// objects are enough for nobackoff's node cache).
	addFakeNodes(t, c)

	return &env{c: c, registry: reg.Host, private: private.Host, helm: helm, reg: reg, privateReg: private, serve: serve, port: port, k8sDir: k8sDir}
}

// TestE2E runs every scenario against one environment with the real
// kubectl.
func TestE2E(t *testing.T) {
	e := newEnv(t)
	c, helm, reg, serve, port := e.c, e.helm, e.reg, e.serve, e.port
	t.Run("warn namespace prints warnings and creates", e.testWarn)
	t.Run("enforce namespace denies", e.testEnforce)
	t.Run("healthy deployment prints nothing", e.testHealthy)
	t.Run("pull secrets", e.testPullSecrets)
	t.Run("bare and owned pods", e.testPods)
	t.Run("skip annotation", e.testSkip)
	t.Run("objects that do not exist", e.testObjects)
	t.Run("scheduling: placement, quotas and LimitRanges", e.testSchedule)
	t.Run("platforms of the nodes", e.testPlatforms)
	t.Run("chart objects accepted by the API server", func(t *testing.T) { e.testChartDryRun(t, helm) })
	t.Run("self certificates: racing instances agree", e.testSelfCertsRace)
	t.Run("rolling the webhook: no failed apply", e.testRollout)
	t.Run("hostile input: answered, bounded memory", e.testHostile)
	t.Run("registry stopped: a warning, never a denial", func(t *testing.T) {
		reg.Stop()
		r := c.must(t, deployment("down", reg.Host+"/shop/app:2.0"), "apply", "-n", "shop-enforce", "-f", "-")
		if w := warnings(r.stderr); len(w) != 1 || !strings.HasPrefix(w[0], "[image.lookup-inconclusive] ") {
			t.Fatalf("warnings %q", w)
		}
	})
	t.Run("webhook down: applies go through", func(t *testing.T) {
		_ = syscall.Kill(-serve.Process.Pid, syscall.SIGKILL)
		_, _ = serve.Process.Wait()
		if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			conn.Close()
			t.Fatal("the webhook is still listening")
		}
		start := time.Now()
		r := c.must(t, deployment("nowebhook", reg.Host+"/shop/app:latests"), "apply", "-n", "shop-enforce", "-f", "-")
		t.Logf("apply with the webhook down took %v", time.Since(start))
		if len(warnings(r.stderr)) != 0 {
			t.Errorf("warnings with the webhook down: %q", r.stderr)
		}
	})
	t.Run("chart notes warn about a single replica", func(t *testing.T) {
		out, err := exec.Command(helm, "install", "notes", "../charts/nobackoff", "--namespace", "nobackoff",
			"--dry-run=client", "--kubeconfig", c.kubeconfig, "--set", "replicaCount=1").CombinedOutput()
		if err != nil {
			t.Fatalf("helm install --dry-run: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "WARNING: replicaCount is 1") {
			t.Errorf("no single-replica warning in the notes:\n%s", out)
		}
		out, _ = exec.Command(helm, "install", "notes", "../charts/nobackoff", "--namespace", "nobackoff",
			"--dry-run=client", "--kubeconfig", c.kubeconfig).CombinedOutput()
		if strings.Contains(string(out), "WARNING: replicaCount") {
			t.Error("the single-replica warning shows with 2 replicas")
		}
	})
}

type env struct {
	c                 *cluster
	registry, private string
	helm              string
	reg, privateReg   *testregistry.Distribution
	serve             *exec.Cmd
	k8sDir            string
	port              int
}

// addFakeNodes registers nodesYAML's nodes. They have no kubelet: the API
// server marks them not ready (a NoSchedule taint) and no controller here
// ever clears it; cleared, they stand for ready nodes the placement checks
// can use.
func addFakeNodes(t *testing.T, c *cluster) {
	t.Helper()
	c.must(t, nodesYAML, "apply", "-f", "-")
	c.must(t, "", "taint", "nodes", "node-amd64", "node-arm64", "node.kubernetes.io/not-ready:NoSchedule-")
}

const nodesYAML = `apiVersion: v1
kind: Node
metadata:
  name: node-amd64
  labels: {kubernetes.io/os: linux, kubernetes.io/arch: amd64}
---
apiVersion: v1
kind: Node
metadata:
  name: node-arm64
  labels: {kubernetes.io/os: linux, kubernetes.io/arch: arm64}
`

func deployment(name, image string) string {
	return deploymentYAML(name, "", fmt.Sprintf(`      containers:
      - name: app
        image: %s
        resources: {limits: {memory: 64Mi}}
`, image))
}

// deploymentYAML is a one-replica Deployment whose pods carry the label
// app=name; annotations (flow YAML, may be empty) go on the pod template,
// podSpec is the template's spec indented by 6.
func deploymentYAML(name, annotations, podSpec string) string {
	if annotations == "" {
		annotations = "{}"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  selector: {matchLabels: {app: %s}}
  template:
    metadata:
      labels: {app: %s}
      annotations: %s
    spec:
%s`, name, name, name, annotations, podSpec)
}

func warnings(stderr string) []string {
	var w []string
	for _, l := range strings.Split(stderr, "\n") {
		if rest, ok := strings.CutPrefix(l, "Warning: "); ok {
			w = append(w, rest)
		}
	}
	return w
}

func (e *env) testWarn(t *testing.T) {
	r := e.c.must(t, deployment("typo", e.registry+"/shop/app:latests"), "apply", "-n", "shop-warn", "-f", "-")
	w := warnings(r.stderr)
	if len(w) != 1 || !strings.HasPrefix(w[0], "[image.tag-not-found] ") {
		t.Fatalf("warnings %q", w)
	}
	e.c.must(t, "", "get", "deployment", "typo", "-n", "shop-warn")
}

func (e *env) testEnforce(t *testing.T) {
	for _, dryRun := range []string{"", "--dry-run=server"} {
		args := []string{"apply", "-n", "shop-enforce", "-f", "-"}
		if dryRun != "" {
			args = append(args, dryRun)
		}
		r, err := e.c.run(deployment("typo", e.registry+"/shop/app:latests"), args...)
		if err != nil {
			t.Fatal(err)
		}
		if r.code != 1 || !strings.Contains(r.stderr, "denied the request") ||
			!strings.Contains(r.stderr, "[image.tag-not-found]") || !strings.Contains(r.stderr, "spec.template.spec.containers[0].image") {
			t.Errorf("%s: exit %d\n%s", dryRun, r.code, r.stderr)
		}
	}
	if r, _ := e.c.run("", "get", "deployment", "typo", "-n", "shop-enforce"); r.code == 0 {
		t.Error("the denied Deployment exists")
	}
}

func (e *env) testHealthy(t *testing.T) {
	r := e.c.must(t, deployment("good", e.registry+"/shop/app:1.0"), "apply", "-n", "shop-warn", "-f", "-")
	if w := warnings(r.stderr); len(w) != 0 {
		t.Fatalf("warnings on a healthy Deployment: %q", w)
	}
}

// testChartDryRun: every object the chart renders (self and provided
// certificate modes; cert-manager's kinds need its CRDs) is accepted by the
// API server, CEL of the matchConditions included.
func (e *env) testChartDryRun(t *testing.T, helm string) {
	e.c.must(t, "", "create", "namespace", "nobackoff")
	for _, set := range [][]string{nil, {"certs.mode=provided", "certs.provided.secretName=tls", "certs.provided.caBundle=Q0E="}, {"enforceNamespaces[0]=payments"}} {
		args := []string{"template", "nobackoff", "../charts/nobackoff", "--namespace", "nobackoff"}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		out, err := exec.Command(helm, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("helm template %v: %v\n%s", set, err, out)
		}
		if r, _ := e.c.run(string(out), "apply", "--dry-run=server", "-f", "-"); r.code != 0 {
			t.Errorf("chart %v refused by the API server:\n%s", set, r.stderr)
		}
	}
	// certManager mode: every object but cert-manager's own kinds (their
	// CRDs are not installed here; charts/chart_test.go decodes them into
	// cert-manager's API types instead).
	out, err := exec.Command(helm, "template", "nobackoff", "../charts/nobackoff", "--namespace", "nobackoff", "--set", "certs.mode=certManager").CombinedOutput()
	if err != nil {
		t.Fatalf("helm template certManager: %v\n%s", err, out)
	}
	docs, errs := manifests.Read([]string{"-"}, strings.NewReader(string(out)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var items []json.RawMessage
	for _, d := range docs {
		if d.GVK.Group != "cert-manager.io" {
			items = append(items, d.JSON)
		}
	}
	list, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if r, _ := e.c.run(string(list), "apply", "--dry-run=server", "-f", "-"); r.code != 0 {
		t.Errorf("certManager mode refused by the API server:\n%s", r.stderr)
	}
}
