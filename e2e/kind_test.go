package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nobackoff/nobackoff/internal/clusterstate"
)

// TestKind runs against a kind cluster with the chart installed (`make
// e2e-kind`): the webhook runs in the cluster from the image built by the
// Dockerfile, and the images it looks up are public ones, so it needs
// Docker and internet. Without NOBACKOFF_KIND_KUBECONFIG it is skipped.
func TestKind(t *testing.T) {
	kubeconfig := os.Getenv("NOBACKOFF_KIND_KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("runs with `make e2e-kind` (needs Docker and internet)")
	}
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	c := &cluster{dir: t.TempDir(), kubectl: filepath.Join(k8sDir, "kubectl"), kubeconfig: kubeconfig}
	c.must(t, "", "create", "namespace", "kind-warn")
	c.must(t, "", "create", "namespace", "kind-enforce")
	c.must(t, "", "label", "namespace", "kind-enforce", "nobackoff.io/mode=enforce")

	t.Run("webhook replicas ready", func(t *testing.T) {
		r := c.must(t, "", "get", "deployment", "nobackoff", "-n", "nobackoff", "-o", "jsonpath={.status.readyReplicas}")
		if strings.TrimSpace(r.stdout) != "2" {
			t.Fatalf("ready replicas %q", r.stdout)
		}
	})
	t.Run("self certificates: one Secret, caBundle patched", func(t *testing.T) {
		client, err := clusterstate.KubeClient(kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := client.CoreV1().Secrets("nobackoff").Get(ctx, "nobackoff-tls", metav1.GetOptions{})
		if err != nil {
			t.Skipf("not in self certificate mode: %v", err)
		}
		vwc, err := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "nobackoff", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range vwc.Webhooks {
			if string(w.ClientConfig.CABundle) != string(s.Data["ca.crt"]) {
				t.Errorf("%s: caBundle is not the Secret's CA", w.Name)
			}
		}
	})
	t.Run("warn namespace prints warnings", func(t *testing.T) {
		r := c.must(t, deployment("typo", "docker.io/library/nginx:1.27-alpinee"), "apply", "-n", "kind-warn", "-f", "-")
		if got := ids(r.stderr); len(got) != 1 || got[0] != "image.tag-not-found" {
			t.Fatalf("warnings %q", warnings(r.stderr))
		}
	})
	t.Run("enforce namespace denies", func(t *testing.T) {
		r, err := c.run(deployment("typo", "docker.io/library/nginx:1.27-alpinee"), "apply", "-n", "kind-enforce", "-f", "-")
		if err != nil || r.code != 1 || !strings.Contains(r.stderr, "[image.tag-not-found]") {
			t.Fatalf("exit %d %v\n%s", r.code, err, r.stderr)
		}
	})
	t.Run("healthy deployment prints nothing", func(t *testing.T) {
		r := c.must(t, deployment("good", "docker.io/library/nginx:1.27-alpine"), "apply", "-n", "kind-enforce", "-f", "-")
		if len(warnings(r.stderr)) != 0 {
			t.Fatalf("warnings %q", warnings(r.stderr))
		}
	})
	// Last: it ends with helm uninstall. The same operations as on the
	// local node (chart_node_test.go).
	t.Run("rolling restart, killed pod, upgrade, uninstall", func(t *testing.T) {
		helmRun := helmRunner(t, tool(t, "NOBACKOFF_HELM_BIN"), kubeconfig, func() string { return "" })
		chartOperations(t, c, helmRun, "docker.io/library/nginx:1.27-alpine")
	})
}
