package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nobackoff/nobackoff/certs"
	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// TestChartOnNode installs the chart the way a user does, on the real
// node: the image built without a Docker engine (hack/image) and pushed to
// the suite's registry, pulled by the node's containerd; the chart's two
// replicas behind their Service, which the API server reaches through
// kube-proxy's rules; the self-managed certificates patched into the
// webhook configuration. Then a kubectl story warns in a warn namespace
// and is denied in an enforce one, served from inside the cluster, and
// helm uninstall leaves nothing behind.
func TestChartOnNode(t *testing.T) {
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	helm := tool(t, "NOBACKOFF_HELM_BIN")
	nodeSkip(t)
	began := time.Now()

	c := startClusterAt(t, k8sDir, hostAddress(t))
	reg := testregistry.StartDistribution(t, testregistry.RegistryBinary(t), nil)
	pushPause(t, reg, buildTestApp(t))
	// `make image` as without a Docker engine (IMAGE_DOCKER= forces that
	// path where one answers), pushing to the registry the node pulls from.
	image := reg.Host + "/nobackoff/nobackoff"
	build := exec.Command("make", "--no-print-directory", "image", "IMAGE_DOCKER=", "VERSION=e2e",
		"IMAGE_PUSH="+image+":e2e", "REGISTRY_CA="+reg.CAFile)
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}

	n := startNode(t, c, k8sDir, pauseImage(reg), []nodeRegistry{{reg.Host, reg.CAFile}})
	n.startKubeProxy(t, c)
	t.Logf("node and kube-proxy up after %v", time.Since(began).Round(time.Second))

	helmRun := helmRunner(t, helm, c.kubeconfig, func() string { return describe(c, n, "nobackoff") })
	// failurePolicy Fail on the enforce entry: every failed call to the
	// webhook is a failed apply there.
	helmRun("install", "nobackoff", "../charts/nobackoff", "--namespace", "nobackoff", "--create-namespace",
		"--set", "image.repository="+image, "--set", "image.tag=e2e", "--set", "failurePolicy.enforce=Fail",
		"--wait", "--timeout", "3m")
	ready := c.must(t, "", "get", "deployment", "nobackoff", "-n", "nobackoff", "-o", "jsonpath={.status.readyReplicas}").stdout
	if ready != "2" {
		t.Fatalf("%s replicas ready, want 2\n%s", ready, describe(c, n, "nobackoff"))
	}
	waitFor(t, "the CA in the webhook configuration", n.logs["kubelet"], time.Minute, func() bool {
		r, _ := c.run("", "get", "validatingwebhookconfiguration", "nobackoff", "-o", "jsonpath={.webhooks[*].clientConfig.caBundle}")
		return len(strings.Fields(r.stdout)) > 0
	})
	t.Logf("chart installed and serving after %v", time.Since(began).Round(time.Second))

	chartOperations(t, c, helmRun, reg.Host+"/truth/pause:1.0")

	// certs.mode=provided: the platform team's own TLS Secret and CA.
	bundle, err := certs.Fresh([]string{"nobackoff.nobackoff.svc"}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(crt, bundle.Cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, bundle.Key, 0o600); err != nil {
		t.Fatal(err)
	}
	c.must(t, "", "create", "secret", "tls", "webhook-tls", "-n", "nobackoff", "--cert", crt, "--key", key)
	helmRun("install", "nobackoff", "../charts/nobackoff", "--namespace", "nobackoff",
		"--set", "image.repository="+image, "--set", "image.tag=e2e",
		"--set", "certs.mode=provided", "--set", "certs.provided.secretName=webhook-tls",
		"--set", "certs.provided.caBundle="+b64(bundle.CACert), "--wait", "--timeout", "3m")
	if r := heapStory(t, c, "shop-enforce", func(r result) bool { return r.code != 0 }); r.code == 0 ||
		!strings.Contains(r.stderr, "denied the request") || !strings.Contains(r.stderr, "["+heapCheck+"]") {
		t.Errorf("certs.mode=provided: the enforce namespace answers exit %d, want a denial naming %s:\n%s", r.code, heapCheck, r.stderr)
	}
	helmRun("uninstall", "nobackoff", "--namespace", "nobackoff", "--wait", "--timeout", "2m")
	t.Logf("chart on the node: %v in all", time.Since(began).Round(time.Second))
}

// helmRunner runs helm against a cluster, failing the test with helm's
// output and what more says when a command fails.
func helmRunner(t *testing.T, helm, kubeconfig string, more func() string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, err := exec.Command(helm, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s\n%s", strings.Join(args, " "), err, out, more())
		}
		return string(out)
	}
}

// heapCheck is the check of the story chartOperations tells: a JVM told
// to take twice its memory limit, an error whatever the registry says.
const heapCheck = "resources.heap-exceeds-limit"

// heapStory applies examples/jvm-heap-over-limit.yaml to namespace with
// --dry-run=server until done says the answer is the one awaited, or a
// minute has passed: a webhook just installed or reconfigured may still
// be joining its Service's endpoints, or answering with its old settings.
func heapStory(t *testing.T, c *cluster, namespace string, done func(result) bool) result {
	t.Helper()
	story, err := os.ReadFile(filepath.Join("..", "examples", "jvm-heap-over-limit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := strings.ReplaceAll(string(story), "namespace: shop\n", "namespace: "+namespace+"\n")
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := c.run(manifest, "apply", "--dry-run=server", "-f", "-")
		if err != nil {
			t.Fatal(err)
		}
		if done(r) || time.Now().After(deadline) {
			return r
		}
		time.Sleep(2 * time.Second)
	}
}

// chartOperations is what a platform team does with the installed chart
// (release nobackoff in namespace nobackoff, installed with
// failurePolicy.enforce=Fail), on the local node and on kind alike: a
// warning and a denial; a rolling restart while applies run in a loop,
// after which the background pass of the new leader reports a workload
// that was already there; a pod killed; helm upgrade of a check's
// severity; helm uninstall, which must leave nothing (the Reports
// included). healthyImage is an image the webhook admits.
func chartOperations(t *testing.T, c *cluster, helmRun func(args ...string) string, healthyImage string) {
	t.Helper()
	// A JVM told to take twice its memory limit: an error, whatever the
	// registry says, in both modes.
	c.must(t, "", "create", "namespace", "shop")
	c.must(t, "", "create", "namespace", "shop-enforce")
	c.must(t, "", "label", "namespace", "shop-enforce", "nobackoff.io/mode=enforce")
	judged := func(r result) bool { return r.code != 0 || slices.Contains(ids(r.stderr), heapCheck) }
	if r := heapStory(t, c, "shop", judged); r.code != 0 || !slices.Contains(ids(r.stderr), heapCheck) {
		t.Errorf("warn namespace: exit %d, warnings %v; want %s warned and the object admitted\n%s",
			r.code, ids(r.stderr), heapCheck, r.stderr)
	}
	if r := heapStory(t, c, "shop-enforce", judged); r.code == 0 || !strings.Contains(r.stderr, "denied the request") ||
		!strings.Contains(r.stderr, "["+heapCheck+"]") {
		t.Errorf("enforce namespace: exit %d, want a denial naming %s\n%s", r.code, heapCheck, r.stderr)
	}

	// A rolling restart while applies run in a loop through the enforce
	// entry: the Service's endpoints, readiness, the PDB and the shutdown
	// delay must keep every one of them answered.
	healthy := deploymentYAML("web", "", `      containers:
      - name: web
        image: `+healthyImage+`
        resources: {limits: {memory: 64Mi}}
`)
	dryRun := func() (result, error) {
		return c.run(healthy, "apply", "--dry-run=server", "-n", "shop-enforce", "-f", "-")
	}
	if r, err := dryRun(); err != nil || r.code != 0 {
		t.Fatalf("a healthy Deployment refused in the enforce namespace: %v\n%s", err, r.stderr)
	}
	// A workload already running when the webhook's pods start (scaled
	// to zero, it takes no room on the node): the new leader's first
	// background pass reports it.
	c.must(t, strings.Replace(deploymentYAML("reporting", "", `      containers:
      - name: reporting
        image: `+healthyImage+`
        command: [java, -Xmx2g, -jar, /app/reporting.jar]
        resources: {limits: {memory: 1Gi}}
`), "spec:\n", "spec:\n  replicas: 0\n", 1), "apply", "-n", "shop", "-f", "-")
	applies, failures := applyLoop(t, dryRun, func(func() int64) {
		c.must(t, "", "rollout", "restart", "deployment", "nobackoff", "-n", "nobackoff")
		c.must(t, "", "rollout", "status", "deployment", "nobackoff", "-n", "nobackoff", "--timeout", "3m")
	}, 200)
	t.Logf("rolling restart: %d applies through the enforce entry, %d failed", applies, len(failures))
	if len(failures) > 0 {
		t.Errorf("rolling restart: %d of %d applies failed; first: %s", len(failures), applies, failures[0])
	}

	// The background pass, from the chart's RBAC, Lease and CRD: one of
	// the webhook's pods leads, and the Report of shop names the workload.
	deadline := time.Now().Add(2 * time.Minute)
	var reported []string
	for time.Now().Before(deadline) {
		if reported = findingsIn(reportOf(t, c, "shop")); slices.Contains(reported, "Deployment reporting "+heapCheck+" fail") {
			break
		}
		time.Sleep(2 * time.Second)
	}
	holder := c.must(t, "", "get", "lease", "nobackoff-audit", "-n", "nobackoff", "-o", "jsonpath={.spec.holderIdentity}").stdout
	if !slices.Contains(reported, "Deployment reporting "+heapCheck+" fail") || !strings.HasPrefix(holder, "nobackoff-") {
		t.Errorf("background pass: Report of shop %v, Lease held by %q; want reporting's %s from a webhook pod", reported, holder, heapCheck)
	}

	// One pod killed outright: the other answers.
	// The pods of the restart's old ReplicaSet may still be in their
	// shutdown delay: wait for the two of the new one alone.
	var pods []string
	deadline = time.Now().Add(time.Minute)
	for {
		pods = nil
		out := c.must(t, "", "get", "pods", "-n", "nobackoff", "-l", "app.kubernetes.io/name=nobackoff",
			"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.metadata.deletionTimestamp}{"\n"}{end}`).stdout
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[1] == "Running" {
				pods = append(pods, f[0])
			}
		}
		if len(pods) == 2 && !strings.Contains(out, "Pending") || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(pods) != 2 {
		t.Fatalf("%d webhook pods running and not terminating, want 2: %v", len(pods), pods)
	}
	c.must(t, "", "delete", "pod", pods[0], "-n", "nobackoff", "--grace-period=0", "--force")
	applies, failures = applyLoop(t, dryRun, func(func() int64) { time.Sleep(10 * time.Second) }, 20)
	t.Logf("a webhook pod killed: %d applies in the next 10 s, %d failed", applies, len(failures))
	if len(failures) > 0 {
		t.Errorf("with one webhook pod killed, %d of %d applies failed; first: %s", len(failures), applies, failures[0])
	}
	c.must(t, "", "rollout", "status", "deployment", "nobackoff", "-n", "nobackoff", "--timeout", "3m")

	// helm upgrade with a check's severity lowered: the enforce namespace
	// now admits the story, with its warning.
	helmRun("upgrade", "nobackoff", "../charts/nobackoff", "--namespace", "nobackoff", "--reuse-values",
		"--set", `checks.severity.resources\.heap-exceeds-limit=warning`, "--wait", "--timeout", "3m")
	if r := heapStory(t, c, "shop-enforce", func(r result) bool { return r.code == 0 }); r.code != 0 || !slices.Contains(ids(r.stderr), heapCheck) {
		t.Errorf("after helm upgrade with %s at warning, the enforce namespace answers exit %d, warnings %v:\n%s",
			heapCheck, r.code, ids(r.stderr), r.stderr)
	}

	// helm uninstall: no webhook configuration, Secret or RBAC left.
	helmRun("uninstall", "nobackoff", "--namespace", "nobackoff", "--wait", "--timeout", "2m")
	for _, kind := range []string{"validatingwebhookconfigurations", "clusterroles", "clusterrolebindings"} {
		if left := c.must(t, "", "get", kind, "-l", "app.kubernetes.io/instance=nobackoff", "-o", "name").stdout; strings.TrimSpace(left) != "" {
			t.Errorf("left after helm uninstall: %s", left)
		}
	}
	if r, _ := c.run("", "get", "validatingwebhookconfiguration", "nobackoff"); r.code == 0 {
		t.Error("the webhook configuration nobackoff is left after helm uninstall")
	}
	// The Reports are owned by the webhook configuration: they go with it.
	deadline = time.Now().Add(time.Minute)
	for len(reportOf(t, c, "shop")) > 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
	}
	if got := reportOf(t, c, "shop"); len(got) > 0 {
		t.Errorf("the Report of shop is left a minute after helm uninstall: %v", findingsIn(got))
	}
	// The Secret of the self-managed certificates is nobackoff's, not the
	// chart's: it goes with its owner, the webhook configuration, once the
	// garbage collector sees it gone.
	left := func() []string {
		out := c.must(t, "", "get", "secrets,roles,rolebindings,serviceaccounts,services,deployments", "-n", "nobackoff", "-o", "name").stdout
		var ours []string
		for _, name := range strings.Fields(out) {
			if strings.Contains(name, "nobackoff") {
				ours = append(ours, name)
			}
		}
		return ours
	}
	deadline = time.Now().Add(time.Minute)
	for len(left()) > 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
	}
	if l := left(); len(l) > 0 {
		t.Errorf("left in the release namespace a minute after helm uninstall: %v", l)
	}
}

// applyLoop runs apply from four goroutines while during runs (it is told
// how many have run so far), and at least min times in all; it returns how
// many ran and the failures.
func applyLoop(t *testing.T, apply func() (result, error), during func(applied func() int64), min int) (int64, []string) {
	t.Helper()
	var applies atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := apply()
				applies.Add(1)
				if err != nil || r.code != 0 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%v %s", err, strings.TrimSpace(r.stderr)))
					mu.Unlock()
				}
			}
		}()
	}
	during(applies.Load)
	for applies.Load() < int64(min) {
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	return applies.Load(), failures
}

// hostAddress is an IPv4 address of this machine that pods on the node
// reach through their gateway: the first global address of an interface
// that is up and not the node's bridge.
func hostAddress(t *testing.T) string {
	t.Helper()
	addr := hostIPv4()
	if addr == "" {
		t.Skip("no global IPv4 address for the pods to reach the API server at")
	}
	return addr
}

// hostIPv4 is hostAddress's address, or "" when this machine has none.
func hostIPv4() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || i.Name == nodeBridge {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return ""
}

// describe is what to look at when the chart does not come up: its pods,
// their events, and the end of their containers' logs as the node keeps
// them.
func describe(c *cluster, n *node, namespace string) string {
	var b strings.Builder
	for _, args := range [][]string{
		{"get", "pods,endpointslices", "-n", namespace, "-o", "wide"},
		{"get", "events", "-n", namespace, "--sort-by", ".lastTimestamp"},
	} {
		r, _ := c.run("", args...)
		b.WriteString("$ kubectl " + strings.Join(args, " ") + "\n" + r.stdout + r.stderr + "\n")
	}
	logs, _ := filepath.Glob(filepath.Join(n.dir, "pod-logs", namespace+"_*", "*", "*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		b.WriteString("== " + l + "\n" + strings.Join(lines[max(0, len(lines)-20):], "\n") + "\n")
	}
	return b.String()
}
