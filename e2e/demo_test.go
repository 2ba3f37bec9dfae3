package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

	say("\n\033[1m== Install it in your own cluster ==\033[0m")
	say("  helm install nobackoff charts/nobackoff --namespace nobackoff --create-namespace")
	say("  kubectl label namespace <name> nobackoff.io/mode=enforce")
	say("")
	if warned < 5 || r.code != 1 || !strings.Contains(r.stderr, "denied the request") {
		t.Fatalf("demo: %d warnings (want at least 5), enforce exit %d", warned, r.code)
	}
}
