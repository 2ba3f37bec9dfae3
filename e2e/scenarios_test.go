package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func dockerSecret(name, host, user, pass string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %s}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '{"auths":{"%s":{"username":"%s","password":"%s"}}}'}
`, name, host, user, pass)
}

// withPodSpec adds lines to a deployment's pod spec.
func withPodSpec(dep, lines string) string {
	return strings.Replace(dep, "    spec:\n", "    spec:\n"+lines, 1)
}

// ids returns the check IDs leading each warning.
func ids(stderr string) []string {
	var out []string
	for _, w := range warnings(stderr) {
		if i := strings.Index(w, "]"); strings.HasPrefix(w, "[") && i > 0 {
			out = append(out, w[1:i])
		}
	}
	return out
}

func (e *env) testPullSecrets(t *testing.T) {
	ns := []string{"-n", "shop-warn"}
	e.c.must(t, dockerSecret("regcred", e.private, "ci", "s3cret"), append([]string{"apply", "-f", "-"}, ns...)...)
	e.c.must(t, dockerSecret("stale", e.private, "ci", "wrong"), append([]string{"apply", "-f", "-"}, ns...)...)
	e.c.must(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: deployer}\nimagePullSecrets: [{name: regcred}]\n",
		append([]string{"apply", "-f", "-"}, ns...)...)
	image := e.private + "/team/private:1.0"
	withSecret := withPodSpec(deployment("with-secret", image), "      imagePullSecrets: [{name: regcred}]\n")
	// The webhook's caches see the new objects shortly after they exist.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, _ := e.c.run(withSecret, append([]string{"apply", "--dry-run=server", "-f", "-"}, ns...)...)
		if len(warnings(r.stderr)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pull secret never took effect: %s", r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cases := map[string]struct {
		manifest string
		want     string
	}{
		"no secret":        {deployment("no-secret", image), "[image.unauthorized]"},
		"secret on pod":    {withSecret, "[]"},
		"secret on the SA": {withPodSpec(deployment("via-sa", image), "      serviceAccountName: deployer\n"), "[]"},
		"wrong password":   {withPodSpec(deployment("stale", image), "      imagePullSecrets: [{name: stale}]\n"), "[image.unauthorized]"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.c.must(t, c.manifest, append([]string{"apply", "-f", "-"}, ns...)...)
			if got := fmt.Sprint(ids(r.stderr)); got != c.want {
				t.Fatalf("warnings %s, want %s\n%s", got, c.want, r.stderr)
			}
		})
	}
}

func (e *env) testPods(t *testing.T) {
	pod := func(name, owner string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
%s
spec:
  containers:
  - name: app
    image: %s/shop/app:latests
    resources: {limits: {memory: 64Mi}}
`, name, owner, e.registry)
	}
	r := e.c.must(t, pod("bare", ""), "apply", "-n", "shop-warn", "-f", "-")
	if got := fmt.Sprint(ids(r.stderr)); got != "[image.tag-not-found]" {
		t.Errorf("bare pod: %s", got)
	}
	owned := "  ownerReferences:\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-5d9c7, uid: 9f0a3c5e-1111-2222-3333-444455556666, controller: true}"
	r = e.c.must(t, pod("owned", owned), "apply", "-n", "shop-enforce", "-f", "-")
	if len(warnings(r.stderr)) != 0 {
		t.Errorf("a ReplicaSet's pod was checked: %s", r.stderr)
	}
}

func (e *env) testSkip(t *testing.T) {
	dep := strings.Replace(deployment("skipped", e.registry+"/shop/app:latests"),
		"metadata: {name: skipped}", "metadata: {name: skipped, annotations: {nobackoff.io/skip: image.tag-not-found}}", 1)
	r := e.c.must(t, dep, "apply", "-n", "shop-enforce", "-f", "-")
	if len(warnings(r.stderr)) != 0 {
		t.Errorf("skipped check still reported: %s", r.stderr)
	}
}

func (e *env) testPlatforms(t *testing.T) {
	image := e.registry + "/shop/amd64-only:1.0"
	r := e.c.must(t, withPodSpec(deployment("arm", image), "      nodeSelector: {kubernetes.io/arch: arm64}\n"), "apply", "-n", "shop-warn", "-f", "-")
	if got := fmt.Sprint(ids(r.stderr)); got != "[image.platform-mismatch]" {
		t.Errorf("arm64 nodes only: %s", got)
	}
	r = e.c.must(t, withPodSpec(deployment("amd", image), "      nodeSelector: {kubernetes.io/arch: amd64}\n"), "apply", "-n", "shop-warn", "-f", "-")
	if len(warnings(r.stderr)) != 0 {
		t.Errorf("amd64 nodes only: %s", r.stderr)
	}
}
