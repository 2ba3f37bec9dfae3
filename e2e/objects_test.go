package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// withContainer adds lines to the first container of a deployment.
func withContainer(dep, lines string) string {
	return strings.Replace(dep, "        resources: {limits: {memory: 64Mi}}\n", "        resources: {limits: {memory: 64Mi}}\n"+lines, 1)
}

// testObjects: objects a Deployment names that the cluster lacks, through
// kubectl apply. A missing object warns in both modes (it may come a moment
// later); a missing key of an existing ConfigMap, or a PriorityClass a slip
// away from one the cluster has, is denied in enforce; kubectl apply -f
// dir/ of a Deployment whose ConfigMap and PriorityClass come later in the
// directory is never denied.
func (e *env) testObjects(t *testing.T) {
	image := e.registry + "/shop/app:1.0"
	envFrom := func(name, cm string) string {
		return withContainer(deployment(name, image), "        envFrom: [{configMapRef: {name: "+cm+"}}]\n")
	}
	keyRef := func(name, cm, key string) string {
		return withContainer(deployment(name, image), fmt.Sprintf(
			"        env: [{name: LEVEL, valueFrom: {configMapKeyRef: {name: %s, key: %s}}}]\n", cm, key))
	}
	apply := func(t *testing.T, ns, manifest string) result {
		t.Helper()
		r, err := e.c.run(manifest, "apply", "-n", ns, "-f", "-")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	t.Run("missing ConfigMap warns in both modes", func(t *testing.T) {
		for _, ns := range []string{"shop-warn", "shop-enforce"} {
			r := apply(t, ns, envFrom("settings-missing", "no-such-settings"))
			if r.code != 0 || fmt.Sprint(ids(r.stderr)) != "[config.configmap-not-found]" {
				t.Errorf("%s: exit %d, warnings %v\n%s", ns, r.code, ids(r.stderr), r.stderr)
			}
		}
	})

	t.Run("missing key of an existing ConfigMap is denied in enforce", func(t *testing.T) {
		e.c.must(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-settings}\ndata: {LOG_LEVEL: info}\n",
			"apply", "-n", "shop-enforce", "-f", "-")
		// The webhook's caches see the ConfigMap shortly after it exists.
		var r result
		deadline := time.Now().Add(30 * time.Second)
		for {
			r = apply(t, "shop-enforce", keyRef("key-typo", "web-settings", "LOG_LEVL"))
			if r.code != 0 && strings.Contains(r.stderr, "[config.key-not-found]") || time.Now().After(deadline) {
				break
			}
			e.c.run("", "delete", "deployment", "key-typo", "-n", "shop-enforce", "--ignore-not-found")
			time.Sleep(300 * time.Millisecond)
		}
		if r.code != 1 || !strings.Contains(r.stderr, "denied the request") ||
			!strings.Contains(r.stderr, "spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef.key") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		if r := apply(t, "shop-enforce", keyRef("key-right", "web-settings", "LOG_LEVEL")); r.code != 0 || len(warnings(r.stderr)) != 0 {
			t.Errorf("the right key: exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("classes and service accounts", func(t *testing.T) {
		// A class that may come a moment later warns; one a slip away from
		// a class the cluster has is denied.
		e.c.must(t, "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: batch-high}\nvalue: 1000\n", "apply", "-f", "-")
		r := apply(t, "shop-enforce", withPodSpec(deployment("no-priority", image), "      priorityClassName: no-such-priority\n"))
		if r.code != 0 || fmt.Sprint(ids(r.stderr)) != "[pod.priorityclass-not-found]" {
			t.Errorf("missing PriorityClass: exit %d\n%s", r.code, r.stderr)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			r = apply(t, "shop-enforce", withPodSpec(deployment("priority-typo", image), "      priorityClassName: batch-hihg\n"))
			if r.code != 0 || time.Now().After(deadline) {
				break
			}
			e.c.run("", "delete", "deployment", "priority-typo", "-n", "shop-enforce", "--ignore-not-found")
			time.Sleep(300 * time.Millisecond)
		}
		if r.code != 1 || !strings.Contains(r.stderr, "[pod.priorityclass-not-found]") {
			t.Errorf("PriorityClass a slip from batch-high: exit %d\n%s", r.code, r.stderr)
		}
		r = apply(t, "shop-enforce", withPodSpec(deployment("no-account", image), "      serviceAccountName: no-such-account\n"))
		if r.code != 0 || fmt.Sprint(ids(r.stderr)) != "[pod.serviceaccount-not-found]" {
			t.Errorf("missing ServiceAccount: exit %d, warnings %v\n%s", r.code, ids(r.stderr), r.stderr)
		}
	})

	t.Run("apply -f dir/ with the ConfigMap and the PriorityClass in later files is never denied", func(t *testing.T) {
		dir := t.TempDir()
		files := map[string]string{
			"a-deployment.yaml": withPodSpec(keyRef("dir-app", "dir-settings", "LEVEL"), "      priorityClassName: dir-priority\n"),
			"b-configmap.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dir-settings}\ndata: {LEVEL: debug}\n",
			"c-priority.yaml":   "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: dir-priority}\nvalue: 100\n",
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		r, err := e.c.run("", "apply", "-n", "shop-enforce", "-f", dir)
		if err != nil {
			t.Fatal(err)
		}
		if r.code != 0 || fmt.Sprint(ids(r.stderr)) != "[config.configmap-not-found pod.priorityclass-not-found]" {
			t.Fatalf("first apply: exit %d, warnings %v\n%s", r.code, ids(r.stderr), r.stderr)
		}
		// Applied again once the webhook has seen the ConfigMap: silent.
		deadline := time.Now().Add(30 * time.Second)
		for {
			r, _ = e.c.run("", "apply", "-n", "shop-enforce", "--dry-run=server", "-f", dir)
			if r.code == 0 && len(warnings(r.stderr)) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		if r.code != 0 || len(warnings(r.stderr)) != 0 {
			t.Errorf("second apply: exit %d\n%s", r.code, r.stderr)
		}
	})
}
