package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestDemo is `make demo`: the failure stories of examples/ applied with
// the real kubectl to a local cluster guarded by nobackoff, then the same
// in an enforce namespace. It runs only with NOBACKOFF_DEMO=1 and prints
// for people; its assertions keep the demo honest.
func TestDemo(t *testing.T) {
	if os.Getenv("NOBACKOFF_DEMO") == "" {
		t.Skip("the demo runs with NOBACKOFF_DEMO=1 (make demo)")
	}
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	say("\n\033[1m== Starting a local control plane (etcd, kube-apiserver), two registries and nobackoff ==\033[0m")
	e := newEnv(t)
	e.c.must(t, "", "create", "namespace", "shop")
	e.c.must(t, "", "create", "serviceaccount", "default", "-n", "shop") // the controller-manager comes in act 3

	// The examples' images, made of the test application (it answers HTTP
	// on 8080, and stands in for java): Spring Boot's orders takes 45 s to
	// answer, payments 30 s.
	app := buildTestApp(t)
	cfg := func(env ...string) v1.Config { return v1.Config{Entrypoint: []string{"/app"}, User: "1000", Env: env} }
	for image, c := range map[string]v1.Config{"shop/orders:3.4.1": cfg("START_DELAY=45s"), "shop/billing:4.2.0": cfg(),
		"shop/catalog:2.8.3": cfg(), "shop/renderer:1.14.0": cfg(), "shop/payments:5.0.2": cfg("START_DELAY=30s")} {
		push(t, e.reg, authn.Anonymous, image, app.index(t, c, amd64, arm64))
	}
	push(t, e.privateReg, &authn.Basic{Username: "ci", Password: "s3cret"}, "team/ledger:2.3.0", app.index(t, cfg(), amd64, arm64))
	pushPause(t, e.reg, app)

	// The examples name registry.example.com; here they point at the local registries.
	hosts := strings.NewReplacer("private.registry.example.com", e.private, "registry.example.com", e.registry)
	stories := []string{"typo-image-name.yaml", "missing-tag.yaml", "private-no-secret.yaml", "spring-boot-liveness.yaml",
		"jvm-heap-over-limit.yaml", "renamed-port.yaml", "uppercase-image.yaml", "healthy.yaml"}
	apply := func(file, namespace string) result {
		data, err := os.ReadFile(filepath.Join("..", "examples", file))
		if err != nil {
			t.Fatal(err)
		}
		manifest := hosts.Replace(string(data))
		if namespace != "shop" {
			manifest = strings.ReplaceAll(manifest, "namespace: shop\n", "namespace: "+namespace+"\n")
		}
		say("\n$ kubectl apply -f examples/%s%s", file, map[bool]string{true: " -n " + namespace, false: ""}[namespace != "shop"])
		r, err := e.c.run(manifest, "apply", "-f", "-")
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
	}

	say("\n\033[1m== Enforce mode (namespace shop-enforce, labelled nobackoff.io/mode=enforce): denied ==\033[0m")
	r := apply("missing-tag.yaml", "shop-enforce")

	if warned < 5 || r.code != 1 || !strings.Contains(r.stderr, "denied the request") {
		t.Fatalf("demo: %d warnings (want at least 5), enforce exit %d", warned, r.code)
	}

	demoNode(t, e, say)

	say("\n\033[1m== Install it in your own cluster ==\033[0m")
	say("  helm install nobackoff charts/nobackoff --namespace nobackoff --create-namespace")
	say("  kubectl label namespace <name> nobackoff.io/mode=enforce")
	say("")
}

// demoNode is the last act: a real node joins, the Deployments of namespace
// shop get their pods, and the kubelet's verdicts are shown next to what
// nobackoff said before the objects were created.
func demoNode(t *testing.T, e *env, say func(string, ...any)) {
	say("\n\033[1m== On a real node (containerd, kubelet): what happens to the pods nobackoff warned about ==\033[0m")
	if os.Getenv("NOBACKOFF_NODE") == "skip" {
		say("SKIPPED: NOBACKOFF_NODE=skip")
		return
	}
	if why := nodeUnfit(); why != "" {
		say("SKIPPED: a real node cannot run here (%s)", why)
		return
	}
	// The node objects of the platform scenarios have no kubelet: away with them.
	e.c.must(t, "", "delete", "node", "node-amd64", "node-arm64")
	// One replica each, and billing-next (the same story as orders-typo) left
	// out: the node has 2 CPUs for all the requests.
	e.c.must(t, "", "delete", "deployment", "billing-next", "-n", "shop")
	e.c.must(t, "", "scale", "deployment", "--all", "--replicas=1", "-n", "shop")
	startNode(t, e.c, e.k8sDir, pauseImage(e.reg),
		[]nodeRegistry{{e.reg.Host, e.reg.CAFile}, {e.privateReg.Host, e.privateReg.CAFile}})
	say("a node joined the cluster; the controller-manager and the scheduler create and place the pods...")

	names := strings.Fields(e.c.must(t, "", "get", "deployments", "-n", "shop", "-o", "jsonpath={.items[*].metadata.name}").stdout)
	predicted := reviews(t, e.c, "shop", names)
	observed := watchPods(t, e.c, "shop", names)
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
	fmt.Print(e.c.must(t, "", "get", "pods", "-n", "shop").stdout)
}
