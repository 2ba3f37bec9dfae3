package e2e

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// TestAudit: `nobackoff audit` against a live API server holding healthy
// and broken workloads, created without the webhook (as they would be
// before it was installed): exit 1, every broken workload named with its
// check IDs, the healthy ones absent; objects a controller owns, objects
// in namespaces labelled off and in kube-system left out; -n reads one
// namespace; -o json follows check's contract.
func TestAudit(t *testing.T) {
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	nobackoff := tool(t, "NOBACKOFF_BIN")
	regBin := testregistry.RegistryBinary(t)
	c := startCluster(t, k8sDir)
	reg := testregistry.StartDistribution(t, regBin, nil)
	private := testregistry.StartDistribution(t, regBin, map[string]string{"ci": "s3cret"})
	app := v1.Config{Entrypoint: []string{"/app"}, User: "1000"}
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	reg.Push(t, authn.Anonymous, "shop/web:1.0", testregistry.Image(t, app, amd64))
	private.Push(t, &authn.Basic{Username: "ci", Password: "s3cret"}, "team/ledger:2.0", testregistry.Image(t, app, amd64))

	for _, ns := range []string{"team-a", "team-b", "quiet"} {
		c.must(t, "", "create", "namespace", ns)
		c.must(t, "", "create", "serviceaccount", "default", "-n", ns) // no controller-manager here
	}
	c.must(t, "", "label", "namespace", "quiet", "nobackoff.io/mode=off")
	apply := func(ns, manifest string) { c.must(t, manifest, "apply", "-n", ns, "-f", "-") }
	web := reg.Host + "/shop/web:1.0"

	// team-a: healthy, a tag that does not exist, a private image whose
	// pull secret has the right password and one with the wrong one.
	apply("team-a", deployment("healthy", web))
	apply("team-a", deployment("missing-tag", reg.Host+"/shop/web:1.1"))
	apply("team-a", dockerSecret("pull-right", private.Host, "ci", "s3cret"))
	apply("team-a", dockerSecret("pull-wrong", private.Host, "ci", "rotated"))
	apply("team-a", withPodSpec(deployment("ledger", private.Host+"/team/ledger:2.0"), "      imagePullSecrets: [{name: pull-right}]\n"))
	apply("team-a", withPodSpec(deployment("ledger-stale", private.Host+"/team/ledger:2.0"), "      imagePullSecrets: [{name: pull-wrong}]\n"))
	// team-b: a CronJob whose JVM is told to take twice its limit, a
	// healthy bare Pod, and a Pod a ReplicaSet owns (its owner is judged,
	// not it) whose image does not exist.
	apply("team-b", fmt.Sprintf(`apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: report
            image: %s
            command: [java, -Xmx2g, -jar, /app/report.jar]
            resources: {limits: {memory: 1Gi}}
`, web))
	pod := func(name, image, owner string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s%s
spec:
  containers:
  - {name: app, image: %s, resources: {limits: {memory: 64Mi}}}
`, name, owner, image)
	}
	apply("team-b", pod("bare", web, ""))
	apply("team-b", pod("owned", reg.Host+"/shop/nothing:1.0", `
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f, uid: 3f1a7e42-0000-4000-8000-000000000001, controller: true}`))
	// Left out with -A: a namespace labelled off, and kube-system.
	apply("quiet", deployment("ignored", reg.Host+"/shop/web:9.9"))
	apply("kube-system", deployment("system", reg.Host+"/shop/web:9.9"))

	ca := joinCAs(t, reg.CAFile, private.CAFile)
	type got struct{ ns, name, check string }
	found := func(fs []liveFinding, severity string) []got {
		var out []got
		for _, f := range fs {
			if severity == "" || f.Severity == severity {
				out = append(out, got{f.Namespace, f.Name, f.Check})
			}
		}
		sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
		return out
	}

	code, fs, stderr := runCheck(t, nobackoff, "audit", "--kubeconfig", c.kubeconfig, "-A", "--registry-ca", ca, "-o", "json")
	want := []got{
		{"team-a", "ledger-stale", "image.unauthorized"},
		{"team-a", "missing-tag", "image.tag-not-found"},
		{"team-b", "nightly", "resources.heap-exceeds-limit"},
	}
	if code != 1 || !slices.Equal(found(fs, "error"), want) {
		t.Errorf("audit -A: exit %d, errors %v; want exit 1 and %v\nstderr: %s", code, found(fs, "error"), want, stderr)
	}
	for _, f := range fs {
		if f.Name == "healthy" || f.Name == "ledger" || f.Name == "bare" || f.Name == "owned" ||
			f.Namespace == "quiet" || f.Namespace == "kube-system" {
			t.Errorf("audit -A names %s/%s (%s): it is healthy, owned by a controller or left out", f.Namespace, f.Name, f.Check)
		}
		if f.Kind == "" || f.Field == "" || f.Message == "" {
			t.Errorf("finding without kind, field or message: %+v", f)
		}
	}

	// One namespace, and the text report.
	code, fs, stderr = runCheck(t, nobackoff, "audit", "--kubeconfig", c.kubeconfig, "-n", "team-b", "--registry-ca", ca, "-o", "json")
	if want := []got{{"team-b", "nightly", "resources.heap-exceeds-limit"}}; code != 1 || !slices.Equal(found(fs, "error"), want) {
		t.Errorf("audit -n team-b: exit %d, errors %v; want exit 1 and %v\nstderr: %s", code, found(fs, "error"), want, stderr)
	}
	r := runText(t, nobackoff, "audit", "--kubeconfig", c.kubeconfig, "-n", "team-a", "--registry-ca", ca)
	t.Logf("$ nobackoff audit -n team-a\n%s%s", r.stdout, r.stderr)
	if r.code != 1 || !strings.Contains(r.stdout, "Deployment team-a/missing-tag\n") ||
		!strings.Contains(r.stdout, "[image.tag-not-found]") || strings.Contains(r.stdout, "team-a/healthy") {
		t.Errorf("audit -n team-a (text): exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// A namespace with only healthy workloads: exit 0, nothing found.
	c.must(t, "", "delete", "deployment", "missing-tag", "ledger-stale", "-n", "team-a")
	if code, fs, stderr = runCheck(t, nobackoff, "audit", "--kubeconfig", c.kubeconfig, "-n", "team-a", "--registry-ca", ca, "-o", "json"); code != 0 || len(found(fs, "error")) > 0 {
		t.Errorf("audit of healthy team-a: exit %d, errors %v\n%s", code, found(fs, "error"), stderr)
	}
}
