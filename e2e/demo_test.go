package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// TestDemo is `make demo`: the failure stories of examples/ applied with
// the real kubectl to a local cluster guarded by nobackoff, then the same
// in an enforce namespace, then what the kubelet made of them. Where a
// real node can run, nobackoff is installed on it with helm, the way a
// user installs it (its image built without Docker); elsewhere it runs as
// a process beside the control plane and the node act is left out. It
// runs only with NOBACKOFF_DEMO=1 and prints for people; its assertions
// keep the demo honest.
func TestDemo(t *testing.T) {
	if os.Getenv("NOBACKOFF_DEMO") == "" {
		t.Skip("the demo runs with NOBACKOFF_DEMO=1 (make demo)")
	}
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	// The examples' images are made of the test application (it answers
	// HTTP on 8080, and stands in for java).
	app := buildTestApp(t)
	d := demoInstalled(t, app, say)
	if d == nil {
		d = demoProcess(t, say)
	}
	c := d.c
	c.must(t, "", "create", "namespace", "shop")
	if !d.node {
		c.must(t, "", "create", "serviceaccount", "default", "-n", "shop") // no controller-manager without the node
	}

	// Spring Boot's orders takes 45 s to answer, payments 30 s.
	cfg := func(env ...string) v1.Config { return v1.Config{Entrypoint: []string{"/app"}, User: "1000", Env: env} }
	for image, conf := range map[string]v1.Config{"shop/orders:3.4.1": cfg("START_DELAY=45s"), "shop/billing:4.2.0": cfg(),
		"shop/catalog:2.8.3": cfg(), "shop/renderer:1.14.0": cfg(), "shop/payments:5.0.2": cfg("START_DELAY=30s")} {
		push(t, d.reg, authn.Anonymous, image, app.index(t, conf, amd64, arm64))
	}
	push(t, d.private, &authn.Basic{Username: "ci", Password: "s3cret"}, "team/ledger:2.3.0", app.index(t, cfg(), amd64, arm64))
	if d.node {
		// A webhook just installed may still be joining its Service's endpoints.
		heapStory(t, c, "shop", func(r result) bool { return slices.Contains(ids(r.stderr), heapCheck) })
	}

	// The examples name registry.example.com; here they point at the local
	// registries. On the node, one replica each: its 2 CPUs hold all the
	// stories' requests that way.
	hosts := strings.NewReplacer("private.registry.example.com", d.private.Host, "registry.example.com", d.reg.Host)
	replicas := regexp.MustCompile(`(?m)^  replicas: [0-9]+$`)
	stories := []string{"typo-image-name.yaml", "missing-tag.yaml", "private-no-secret.yaml", "spring-boot-liveness.yaml",
		"jvm-heap-over-limit.yaml", "renamed-port.yaml", "uppercase-image.yaml", "healthy.yaml"}
	apply := func(file, namespace string) result {
		data, err := os.ReadFile(filepath.Join("..", "examples", file))
		if err != nil {
			t.Fatal(err)
		}
		manifest := hosts.Replace(string(data))
		if d.node {
			manifest = replicas.ReplaceAllString(manifest, "  replicas: 1")
		}
		if namespace != "shop" {
			manifest = strings.ReplaceAll(manifest, "namespace: shop\n", "namespace: "+namespace+"\n")
		}
		say("\n$ kubectl apply -f examples/%s%s", file, map[bool]string{true: " -n " + namespace, false: ""}[namespace != "shop"])
		r, err := c.run(manifest, "apply", "-f", "-")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Print(r.stderr + r.stdout)
		if r.code != 0 {
			say("(exit code %d)", r.code)
		}
		return r
	}

	say("\n\033[1m== Warn mode (namespace shop): the objects are created, kubectl prints why their pods will not come up ==\033[0m")
	warned := 0
	for _, f := range stories {
		warned += len(warnings(apply(f, "shop").stderr))
		if f == "missing-tag.yaml" && d.node {
			// billing-next tells the story of orders-typo again: away with
			// it before the node runs out of CPU for the others.
			c.must(t, "", "delete", "deployment", "billing-next", "-n", "shop", "--wait")
		}
	}

	say("\n\033[1m== Enforce mode (namespace shop-enforce, labelled nobackoff.io/mode=enforce): denied ==\033[0m")
	r := apply("missing-tag.yaml", "shop-enforce")

	if warned < 5 || r.code != 1 || !strings.Contains(r.stderr, "denied the request") {
		t.Fatalf("demo: %d warnings (want at least 5), enforce exit %d", warned, r.code)
	}

	demoNode(t, d, say)

	say("\n\033[1m== Install it in your own cluster ==\033[0m")
	say("  helm install nobackoff charts/nobackoff --namespace nobackoff --create-namespace")
	say("  kubectl label namespace <name> nobackoff.io/mode=enforce")
	say("")
}

// demoCluster is where the demo's stories are applied: a cluster guarded
// by nobackoff, the registries standing for the examples'
// registry.example.com and private.registry.example.com (user ci,
// password s3cret), an enforce namespace shop-enforce, and whether a real
// node runs the pods.
type demoCluster struct {
	c            *cluster
	reg, private *testregistry.Distribution
	node         bool
}

// demoInstalled brings up the demo on a real node with nobackoff
// installed by helm, or returns nil, saying why, when no node can run
// here. The API server and the registries listen on the host's address,
// which the pods reach through their gateway.
func demoInstalled(t *testing.T, app testApp, say func(string, ...any)) *demoCluster {
	why := nodeUnfit()
	if os.Getenv("NOBACKOFF_NODE") == "skip" {
		why = "NOBACKOFF_NODE=skip"
	}
	host := hostIPv4()
	if why == "" && host == "" {
		why = "no IPv4 address for pods to reach the API server at"
	}
	if why != "" {
		say("\033[1;33mNo real node here (%s): nobackoff runs as a process beside the control plane, not installed\033[0m", why)
		return nil
	}
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	helm := tool(t, "NOBACKOFF_HELM_BIN")
	regBin := testregistry.RegistryBinary(t)

	say("\n\033[1m== Starting a local cluster: etcd, kube-apiserver, two registries, and a node (containerd, kubelet, kube-proxy) ==\033[0m")
	c := startClusterAt(t, k8sDir, host)
	reg := testregistry.StartDistributionOn(t, regBin, nil, host)
	private := testregistry.StartDistributionOn(t, regBin, map[string]string{"ci": "s3cret"}, host)
	pushPause(t, reg, app)
	n := startNode(t, c, k8sDir, pauseImage(reg), []nodeRegistry{{reg.Host, reg.CAFile}, {private.Host, private.CAFile}})
	n.startKubeProxy(t, c)
	fmt.Print(c.must(t, "", "get", "nodes").stdout)

	say("\n\033[1m== Installing nobackoff with helm, its image built without Docker and pushed to the local registry ==\033[0m")
	image := reg.Host + "/nobackoff/nobackoff"
	say("$ make image IMAGE_PUSH=%s:demo", image)
	build := exec.Command("make", "--no-print-directory", "image", "IMAGE_DOCKER=", "VERSION=demo",
		"IMAGE_PUSH="+image+":demo", "REGISTRY_CA="+reg.CAFile)
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	cas := joinCAs(t, reg.CAFile, private.CAFile)
	args := []string{"install", "nobackoff", "charts/nobackoff", "--namespace", "nobackoff", "--create-namespace",
		"--set", "image.repository=" + image, "--set", "image.tag=demo", "--set-file", "registries.caBundle=" + cas,
		"--set", "audit.interval=15s", "--wait", "--timeout", "3m"}
	say("$ helm %s", strings.Join(args, " "))
	args[2] = "../charts/nobackoff"
	helmRunner(t, helm, c.kubeconfig, func() string { return describe(c, n, "nobackoff") })(args...)
	waitFor(t, "the CA in the webhook configuration", n.logs["kubelet"], time.Minute, func() bool {
		r, _ := c.run("", "get", "validatingwebhookconfiguration", "nobackoff", "-o", "jsonpath={.webhooks[*].clientConfig.caBundle}")
		return len(strings.Fields(r.stdout)) > 0
	})
	say("$ kubectl get pods -n nobackoff")
	fmt.Print(c.must(t, "", "get", "pods", "-n", "nobackoff").stdout)

	c.must(t, "", "create", "namespace", "shop-enforce")
	c.must(t, "", "label", "namespace", "shop-enforce", "nobackoff.io/mode=enforce")
	return &demoCluster{c: c, reg: reg, private: private, node: true}
}

// demoProcess brings up the demo without a node: the suite's environment,
// nobackoff serve a process registered through the chart's webhook
// configuration.
func demoProcess(t *testing.T, say func(string, ...any)) *demoCluster {
	say("\n\033[1m== Starting a local control plane (etcd, kube-apiserver), two registries and nobackoff ==\033[0m")
	e := newEnv(t)
	return &demoCluster{c: e.c, reg: e.reg, private: e.privateReg}
}

// demoNode is the last act: the node has run the Deployments of namespace
// shop, and the kubelet's verdicts are shown next to what nobackoff said
// before the objects were created.
func demoNode(t *testing.T, d *demoCluster, say func(string, ...any)) {
	say("\n\033[1m== On a real node (containerd, kubelet): what happens to the pods nobackoff warned about ==\033[0m")
	if !d.node {
		say("SKIPPED: no real node in this run")
		return
	}
	c := d.c
	names := strings.Fields(c.must(t, "", "get", "deployments", "-n", "shop", "-o", "jsonpath={.items[*].metadata.name}").stdout)
	predicted := reviews(t, c, "shop", names)
	observed := watchPods(t, c, "shop", names)
	say("\n%-13s %-36s %-27s %-27s %s", "DEPLOYMENT", "NOBACKOFF FOUND", "NOBACKOFF PREDICTED", "THE KUBELET DID", "DETAIL")
	for _, name := range names {
		p, o := predicted[name], observed[name]
		mark := "\033[32m✓\033[0m"
		if p.outcome != o.outcome {
			mark = "\033[31m✗\033[0m"
			t.Errorf("%s: nobackoff predicted %s, the kubelet did %s (%s)", name, p.outcome, o.outcome, o.detail)
		}
		detail := o.detail
		if len(detail) > 60 {
			detail = detail[:57] + "..."
		}
		found := strings.Join(p.ids, ",")
		if found == "" {
			found = "-"
		}
		say("%-13s %-36s %-27s %-27s %s %s", name, found, p.outcome, o.outcome, mark, detail)
	}
	say("\n$ kubectl get pods -n shop")
	fmt.Print(c.must(t, "", "get", "pods", "-n", "shop").stdout)

	// The background pass (every 15 s here, 30 minutes by default) says
	// the same of what now runs, where dashboards and kubectl look.
	say("\n\033[1m== What runs, judged again in the background: the Report of namespace shop and its Events ==\033[0m")
	deadline := time.Now().Add(time.Minute)
	for len(reportOf(t, c, "shop")) == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
	}
	say("$ kubectl get reports -A")
	fmt.Print(c.must(t, "", "get", "reports", "-A").stdout)
	say("\n$ kubectl get events -n shop --field-selector reportingComponent=nobackoff.io/audit")
	fmt.Print(c.must(t, "", "get", "events", "-n", "shop", "--field-selector", "reportingComponent=nobackoff.io/audit").stdout)
	if len(reportOf(t, c, "shop")) == 0 {
		t.Error("no Report for namespace shop a minute after the stories were applied")
	}
}
