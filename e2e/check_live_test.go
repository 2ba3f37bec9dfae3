package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// liveFinding is what the assertions read of `nobackoff check -o json`.
type liveFinding struct {
	Check     string `json:"check"`
	Severity  string `json:"severity"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Field     string `json:"field"`
	Message   string `json:"message"`
	Outcome   string `json:"outcome"`
}

// runCheck runs the real CLI binary; stdout is its JSON report.
func runCheck(t *testing.T, bin string, args ...string) (code int, findings []liveFinding, stderr string) {
	t.Helper()
	r := runText(t, bin, args...)
	var rep struct {
		Findings []liveFinding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("nobackoff %v: exit %d, output is not JSON: %v\n%s\n%s", args, r.code, err, r.stdout, r.stderr)
	}
	return r.code, rep.Findings, r.stderr
}

// runText runs the real CLI binary for its text output.
func runText(t *testing.T, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("nobackoff %v: %v", args, err)
	}
	return r
}

// TestCheckLive: `nobackoff check --kubeconfig` reads what the workloads
// name from a live API server (nothing is applied): each missing
// ConfigMap, claim, StorageClass, ServiceAccount or PriorityClass is
// foretold with its outcome, a missing key of a ConfigMap the cluster
// holds is an error, objects the cluster holds give no finding; with
// credentials that may read nothing, nothing is judged and stderr says
// what could not be read.
func TestCheckLive(t *testing.T) {
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	nobackoff := tool(t, "NOBACKOFF_BIN")
	c := startCluster(t, k8sDir)

	const ns, other = "live-shop", "live-other"
	c.must(t, "", "create", "namespace", ns)
	c.must(t, "", "create", "namespace", other)
	c.must(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-settings}\ndata: {LOG_LEVEL: info}\n", "apply", "-n", ns, "-f", "-")
	c.must(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared-settings}\ndata: {MODE: a}\n", "apply", "-n", other, "-f", "-")
	c.must(t, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: orphan-data}
spec:
  storageClassName: no-such-class
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`, "apply", "-n", ns, "-f", "-")

	// A context whose namespace is live-shop: the Deployments name none.
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	data, err := os.ReadFile(c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c.must(t, "", "config", "set-context", "live", "--cluster", "e2e", "--user", "admin", "--namespace", ns, "--kubeconfig", kc)

	image := "registry.example.com/shop/app:1.0"
	keyRef := func(name, cm, key string) string {
		return withContainer(deployment(name, image), fmt.Sprintf(
			"        env: [{name: LEVEL, valueFrom: {configMapKeyRef: {name: %s, key: %s}}}]\n", cm, key))
	}
	claim := func(name, claim string) string {
		return withPodSpec(deployment(name, image), "      volumes: [{name: data, persistentVolumeClaim: {claimName: "+claim+"}}]\n")
	}
	inOther := func(dep string) string {
		return strings.Replace(dep, "metadata: {name: ", "metadata: {namespace: "+other+", name: ", 1)
	}
	docs := []string{
		keyRef("configmap-missing", "no-such-settings", "LEVEL"),
		withContainer(deployment("configmap-elsewhere", image), "        envFrom: [{configMapRef: {name: shared-settings}}]\n"),
		claim("claim-missing", "no-such-claim"),
		claim("storageclass-missing", "orphan-data"),
		withPodSpec(deployment("serviceaccount-missing", image), "      serviceAccountName: no-such-account\n"),
		withPodSpec(deployment("priorityclass-missing", image), "      priorityClassName: no-such-priority\n"),
		keyRef("key-missing", "web-settings", "LOG_LEVL"),
		keyRef("configmap-present", "web-settings", "LOG_LEVEL"),
		inOther(withContainer(deployment("configmap-present-there", image), "        envFrom: [{configMapRef: {name: shared-settings}}]\n")),
	}
	file := filepath.Join(t.TempDir(), "deployments.yaml")
	if err := os.WriteFile(file, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}

	code, findings, stderr := runCheck(t, nobackoff, "check", "--offline", "--kubeconfig", kc, "--context", "live", "-f", file, "-o", "json")
	if code != 1 {
		t.Errorf("exit %d, want 1 (key-not-found is an error)\n%s", code, stderr)
	}
	if strings.Contains(stderr, "level=WARN") {
		t.Errorf("the admin may read everything, yet:\n%s", stderr)
	}
	c0 := "spec.template.spec.containers[0]."
	want := map[string][]string{
		"configmap-missing":      {"config.configmap-not-found warning CreateContainerConfigError " + c0 + "env[0].valueFrom.configMapKeyRef.name"},
		"configmap-elsewhere":    {"config.configmap-not-found warning CreateContainerConfigError " + c0 + "envFrom[0].configMapRef.name"},
		"claim-missing":          {"volume.claim-not-found warning Pending spec.template.spec.volumes[0].persistentVolumeClaim.claimName"},
		"storageclass-missing":   {"volume.storageclass-not-found warning Pending spec.template.spec.volumes[0].persistentVolumeClaim.claimName"},
		"serviceaccount-missing": {"pod.serviceaccount-not-found warning FailedCreate spec.template.spec.serviceAccountName"},
		"priorityclass-missing":  {"pod.priorityclass-not-found warning FailedCreate spec.template.spec.priorityClassName"},
		"key-missing":            {"config.key-not-found error CreateContainerConfigError " + c0 + "env[0].valueFrom.configMapKeyRef.key"},
	}
	got := map[string][]string{}
	for _, f := range findings {
		got[f.Name] = append(got[f.Name], fmt.Sprintf("%s %s %s %s", f.Check, f.Severity, f.Outcome, f.Field))
		switch f.Name {
		case "configmap-elsewhere":
			if !strings.Contains(f.Message, "only in namespace "+other) {
				t.Errorf("configmap-elsewhere: the message names no other namespace: %s", f.Message)
			}
		case "storageclass-missing":
			if !strings.Contains(f.Message, `"no-such-class"`) {
				t.Errorf("storageclass-missing: %s", f.Message)
			}
		case "key-missing":
			if !strings.Contains(f.Message, "LOG_LEVEL") {
				t.Errorf("key-missing: the message names no existing key: %s", f.Message)
			}
		}
	}
	for _, name := range []string{"configmap-missing", "configmap-elsewhere", "claim-missing", "storageclass-missing",
		"serviceaccount-missing", "priorityclass-missing", "key-missing", "configmap-present", "configmap-present-there"} {
		sort.Strings(got[name])
		if fmt.Sprint(got[name]) != fmt.Sprint(want[name]) {
			t.Errorf("%s: findings\n  %v\nwant\n  %v", name, got[name], want[name])
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", stderr)
	}

	t.Run("credentials that may read nothing", func(t *testing.T) {
		c.must(t, "", "create", "serviceaccount", "viewer", "-n", ns)
		token := strings.TrimSpace(c.must(t, "", "create", "token", "viewer", "-n", ns).stdout)
		c.must(t, "", "config", "set-credentials", "viewer", "--token", token, "--kubeconfig", kc)
		c.must(t, "", "config", "set-context", "viewer", "--cluster", "e2e", "--user", "viewer", "--namespace", ns, "--kubeconfig", kc)
		code, findings, stderr := runCheck(t, nobackoff, "check", "--offline", "--kubeconfig", kc, "--context", "viewer", "-f", file, "-o", "json")
		if code != 0 {
			t.Errorf("exit %d, want 0: nothing could be read, nothing is judged\n%s", code, stderr)
		}
		for _, f := range findings {
			if strings.HasSuffix(f.Check, "-not-found") {
				t.Errorf("judged without reading: %+v", f)
			}
		}
		for _, what := range []string{"cannot read configmaps (namespace " + ns + ")", "cannot read persistentvolumeclaims (namespace " + ns + ")",
			"cannot read priorityclasses (cluster-wide)", "reason=Forbidden"} {
			if !strings.Contains(stderr, what) {
				t.Errorf("stderr does not say %q:\n%s", what, stderr)
			}
		}
		// Three ConfigMaps of live-shop could not be read: said once.
		if n := strings.Count(stderr, "cannot read configmaps (namespace "+ns+")"); n != 1 {
			t.Errorf("said %d times that configmaps of %s cannot be read, want once:\n%s", n, ns, stderr)
		}
	})
}
