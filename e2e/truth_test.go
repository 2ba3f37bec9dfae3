package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"

	"github.com/nobackoff/nobackoff/internal/testregistry"
	"github.com/nobackoff/nobackoff/policy"
)

// The truth suite: every failure the catalog predicts on a single node,
// applied through the webhook in a warn namespace, then held against what
// the kubelet really does with the pod.

// Observed states are named as the outcomes nobackoff predicts
// (policy.Outcome), plus Ready, and Unsettled for a pod that reached no
// final state before the deadline.
const (
	outReady       = "Ready"
	outUnsettled   = "Unsettled"
	truthNamespace = "truth"
	// crashRestarts restarts make a crash loop.
	crashRestarts = 2
	// notReadyAfter running without turning Ready: never Ready.
	notReadyAfter = 45 * time.Second
	// stuckCreatingAfter in ContainerCreating with the kubelet's warning
	// (FailedMount) repeated, or this long with it once: stuck.
	stuckCreatingAfter = 30 * time.Second
	observeDeadline    = 4 * time.Minute
	// recoverWithin: a pod whose cause was removed turns Ready within this.
	recoverWithin = 90 * time.Second
)

type truthCase struct {
	name, story string
	// namespace is where the Deployment goes: truthNamespace when empty
	// (the rows of quotas and LimitRanges need namespaces of their own).
	namespace   string
	pod         string // the pod template's spec, YAML indented by 6
	annotations string // the pod template's annotations, flow YAML
	// then, when set, is done once the pod settled; the pod must then
	// turn Ready.
	then *truthStep
}

// truthStep removes a case's cause after the pod settled: the manifest
// applied, and what it does in the table's words.
type truthStep struct{ what, apply string }

type truthRow struct {
	truthCase
	warned    []string
	predicted string
	observed  string
	detail    string
	// after is the state the pod reached once then was done, in afterIn.
	after   observation
	afterIn time.Duration
}

func (r truthRow) agree() bool { return r.predicted == r.observed }

// ns is the case's namespace, def when it names none.
func (tc truthCase) ns(def string) string {
	if tc.namespace != "" {
		return tc.namespace
	}
	return def
}

func TestTruth(t *testing.T) {
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	helm := tool(t, "NOBACKOFF_HELM_BIN")
	nobackoff := tool(t, "NOBACKOFF_BIN")
	regBin := testregistry.RegistryBinary(t)
	nodeSkip(t)
	began := time.Now()

	c := startCluster(t, k8sDir)
	reg := testregistry.StartDistribution(t, regBin, nil)
	private := testregistry.StartDistribution(t, regBin, map[string]string{"ci": "s3cret"})
	pushTruthImages(t, reg, private)
	caFile := joinCAs(t, reg.CAFile, private.CAFile)

	n := startNode(t, c, k8sDir, pauseImage(reg),
		[]nodeRegistry{{reg.Host, reg.CAFile}, {private.Host, private.CAFile}})
	t.Logf("node up after %v", time.Since(began).Round(time.Second))

	c.must(t, "", "create", "namespace", truthNamespace)
	waitFor(t, "the default ServiceAccount", n.logs["kube-controller-manager"], time.Minute, func() bool {
		r, _ := c.run("", "get", "serviceaccount", "default", "-n", truthNamespace)
		return r.code == 0
	})
	c.must(t, truthSecrets(private.Host)+"---\n"+truthObjects(filepath.Join(n.dir, "volumes", "manual")), "apply", "-n", truthNamespace, "-f", "-")
	// Known to the webhook's caches from their first sync: the namespaces
	// of the quota rows, the Node without kubelet of the placement rows.
	truthPolicyNamespaces(t, c, n)
	c.must(t, truthGPUNodeYAML, "apply", "-f", "-")
	serveWebhook(t, c, nobackoff, helm, caFile, truthNamespace, reg.Host+"/truth/app:no-such-tag")
	// The webhook judges a claim by its phase: the one bound by hand must be.
	waitFor(t, "claim data-manual bound", n.logs["kube-controller-manager"], time.Minute, func() bool {
		r, _ := c.run("", "get", "pvc", "data-manual", "-n", truthNamespace, "-o", "jsonpath={.status.phase}")
		return r.stdout == "Bound"
	})

	rows := runTruth(t, c, slices.Concat(truthCases(reg.Host, private.Host), truthObjectCases(reg.Host), truthScheduleCases(reg.Host)))
	table := truthTable(rows, n.versions())
	t.Logf("\n%s", table)
	var details strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&details, "\n%s: %s (%s)", r.name, r.observed, r.detail)
	}
	t.Logf("what the cluster reported:%s", details.String())
	t.Logf("truth suite: %v in all (node, registries and webhook included)", time.Since(began).Round(time.Second))
	for _, r := range rows {
		if !r.agree() {
			t.Errorf("%s: nobackoff predicted %s (%s), the kubelet did %s (%s)", r.name, r.predicted,
				strings.Join(r.warned, ", "), r.observed, r.detail)
		}
		if r.predicted == outReady && len(r.warned) > 0 {
			t.Errorf("%s: a healthy control got warnings %v", r.name, r.warned)
		}
		if r.then != nil {
			if r.after.outcome != outReady {
				t.Errorf("%s: once %s, the pod did not turn Ready within %v: %s (%s)", r.name, r.then.what, recoverWithin,
					r.after.outcome, r.after.detail)
			} else {
				t.Logf("%s: Ready %v after %s", r.name, r.afterIn.Round(time.Second), r.then.what)
			}
		}
	}
	if out := os.Getenv("NOBACKOFF_TRUTH_OUT"); out != "" {
		if !t.Failed() {
			if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	} else if kept, err := os.ReadFile("../docs/truth.md"); err != nil || string(kept) != table {
		t.Errorf("docs/truth.md is not this table (%v): run `make truth-table`", err)
	}
}

// runTruth applies every case as a Deployment, recording the warnings
// kubectl printed, then watches the pods until each has reached a state
// (or the deadline passes) and reads their final states.
func runTruth(t *testing.T, c *cluster, cases []truthCase) []truthRow {
	t.Helper()
	rows := make([]truthRow, len(cases))
	for i, tc := range cases {
		r := c.must(t, truthDeployment(tc), "apply", "-n", tc.ns(truthNamespace), "-f", "-")
		rows[i] = truthRow{truthCase: tc}
		for _, w := range warnings(r.stderr) {
			id, _, ok := strings.Cut(strings.TrimPrefix(w, "["), "]")
			if !ok || !strings.HasPrefix(w, "[") {
				t.Fatalf("%s: a warning without a check ID: %q", tc.name, w)
			}
			rows[i].warned = append(rows[i].warned, id)
		}
	}
	byNamespace := map[string][]string{}
	for _, tc := range cases {
		ns := tc.ns(truthNamespace)
		byNamespace[ns] = append(byNamespace[ns], tc.name)
	}
	predicted := map[string]webhookReview{}
	for ns, names := range byNamespace {
		for name, r := range reviews(t, c, ns, names) {
			predicted[name] = r
		}
	}
	watched := watchCases(t, c, truthNamespace, cases)
	for i := range rows {
		w := watched[rows[i].name]
		rows[i].predicted = predicted[rows[i].name].outcome
		rows[i].observed, rows[i].detail = w.first.outcome, w.first.detail
		if !w.first.settled {
			rows[i].observed, rows[i].detail = outUnsettled, "last "+w.first.outcome+": "+w.first.detail
		}
		rows[i].after, rows[i].afterIn = w.after, w.afterIn
	}
	return rows
}

// webhookReview is what the webhook recorded for a Deployment's creation
// in its audit annotations: the outcome it foretold (Ready when none) and
// the IDs of its findings.
type webhookReview struct {
	outcome string
	ids     []string
}

// reviews reads the webhook's reviews of the named Deployments from the
// API server's audit log; each must have been reviewed.
func reviews(t *testing.T, c *cluster, namespace string, names []string) map[string]webhookReview {
	t.Helper()
	created := c.creations(t, namespace)
	out := map[string]webhookReview{}
	for _, name := range names {
		ann, ok := created[name]
		if !ok {
			t.Fatalf("%s: no audit event for its creation", name)
		}
		r, reviewed := webhookReview{outcome: outReady}, false
		for k, v := range ann {
			switch {
			case strings.HasSuffix(k, "/verdict"):
				reviewed = true
			case strings.HasSuffix(k, "/outcome"):
				r.outcome = v
			case strings.HasSuffix(k, "/findings"):
				for _, f := range strings.Split(v, ",") {
					if id, _, _ := strings.Cut(f, "@"); !slices.Contains(r.ids, id) {
						r.ids = append(r.ids, id)
					}
				}
			}
		}
		if !reviewed {
			t.Fatalf("%s: the webhook did not review it (audit annotations %v)", name, ann)
		}
		sort.Strings(r.ids)
		out[name] = r
	}
	return out
}

// observation is a pod's state as the kubelet left it.
type observation struct {
	outcome, detail string
	settled         bool
}

// watched is what became of one case: the state its pod settled in (or
// its last state at the deadline), then, for a case with a step, the
// state it reached once the step was done and when.
type watched struct {
	first   observation
	stepAt  time.Time
	after   observation
	afterIn time.Duration
	done    bool
}

// watchPods polls the pods of the named Deployments until each has
// reached a final state, or the deadline passes, and returns their last
// states.
func watchPods(t *testing.T, c *cluster, namespace string, names []string) map[string]observation {
	t.Helper()
	cases := make([]truthCase, len(names))
	for i, name := range names {
		cases[i].name = name
	}
	out := map[string]observation{}
	for name, w := range watchCases(t, c, namespace, cases) {
		out[name] = w.first
	}
	return out
}

// watchCases polls the Deployments of the cases (in namespace, or their
// own) until each pod has reached a final state, or the deadline passes. A
// case with a step has it done as soon as its pod settled, then is watched
// until its pod turns Ready (or recoverWithin passes).
func watchCases(t *testing.T, c *cluster, namespace string, cases []truthCase) map[string]*watched {
	t.Helper()
	out := map[string]*watched{}
	for _, tc := range cases {
		out[tc.name] = &watched{}
	}
	deadline := time.Now().Add(observeDeadline)
	for {
		apps := map[string]map[string]*appState{}
		settled := true
		for _, tc := range cases {
			w := out[tc.name]
			if w.done {
				continue
			}
			ns := tc.ns(namespace)
			if apps[ns] == nil {
				apps[ns] = readApps(t, c, ns)
			}
			a := apps[ns][tc.name]
			if a == nil {
				a = &appState{}
			}
			outcome, detail, done := observe(a)
			switch {
			case w.stepAt.IsZero():
				w.first = observation{outcome, detail, done}
				if done && tc.then != nil {
					c.must(t, tc.then.apply, "apply", "-n", ns, "-f", "-")
					w.stepAt = time.Now()
				} else {
					w.done = done
				}
			case outcome == outReady && done:
				w.after, w.afterIn, w.done = observation{outcome, detail, done}, time.Since(w.stepAt), true
			default:
				w.after = observation{outcome, detail, done}
				w.done = time.Since(w.stepAt) > recoverWithin
			}
			settled = settled && w.done
		}
		if settled || time.Now().After(deadline) {
			return out
		}
		time.Sleep(time.Second)
	}
}

// podsByApp reads a namespace's pods by their app label.
func podsByApp(t *testing.T, c *cluster, namespace string) map[string]*corev1.Pod {
	t.Helper()
	var list corev1.PodList
	getJSON(t, c, &list, "get", "pods", "-n", namespace, "-o", "json")
	pods := map[string]*corev1.Pod{}
	for i := range list.Items {
		p := &list.Items[i]
		if app := p.Labels["app"]; app != "" && p.DeletionTimestamp == nil {
			pods[app] = p
		}
	}
	return pods
}

// observe classifies what became of a Deployment's pod, and whether that
// state is final: no pod (its ReplicaSet's FailedCreate), not scheduled,
// volumes never mounted, then the container's states as the kubelet left
// them.
func observe(a *appState) (outcome, detail string, settled bool) {
	p := a.pod
	if p == nil {
		if f := replicaFailure(a.rs); f != nil && f.Reason == "FailedCreate" {
			return string(policy.FailedCreate), f.Reason + ": " + firstLine(f.Message), true
		}
		return "no pod", "no pod", false
	}
	if u := unschedulable(p); u != nil {
		// Final once the scheduler names why (FailedScheduling: no node
		// fits, matches or is tolerated), and why each claim of the pod
		// does not bind is known: the scheduler says it does not exist, or
		// the claim has a warning.
		msg, _, _ := strings.Cut(u.Message, ". ") // the nodes' reasons, not preemption's
		detail, settled := "Unschedulable: "+firstLine(msg), schedulingCause(u.Message) != ""
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim == nil {
				continue
			}
			claim := v.PersistentVolumeClaim.ClaimName
			if e := a.lastEvent("PersistentVolumeClaim", claim); e != nil {
				detail += fmt.Sprintf("; claim %s: %s: %s", claim, e.Reason, firstLine(e.Message))
			} else if !strings.Contains(u.Message, fmt.Sprintf("persistentvolumeclaim %q not found", claim)) {
				settled = false
			}
		}
		return string(policy.Pending), detail, settled
	}
	if len(p.Status.ContainerStatuses) == 0 {
		return "no container", string(p.Status.Phase), false
	}
	s := p.Status.ContainerStatuses[0]
	for _, term := range []*corev1.ContainerStateTerminated{s.State.Terminated, s.LastTerminationState.Terminated} {
		if term != nil && term.Reason == "OOMKilled" {
			return string(policy.OOMKilled), fmt.Sprintf("terminated OOMKilled (exit %d), %d restarts", term.ExitCode, s.RestartCount), true
		}
	}
	if s.RestartCount >= crashRestarts {
		detail := fmt.Sprintf("%d restarts", s.RestartCount)
		if term := s.LastTerminationState.Terminated; term != nil {
			detail += fmt.Sprintf(", last exit %d (%s)", term.ExitCode, term.Reason)
		}
		return string(policy.CrashLoopBackOff), detail, true
	}
	if w := s.State.Waiting; w != nil {
		switch w.Reason {
		case "InvalidImageName":
			return string(policy.InvalidImageName), w.Reason, true
		case "ErrImagePull", "ImagePullBackOff":
			return string(policy.ImagePullBackOff), w.Reason + ": " + firstLine(w.Message), true
		case "CreateContainerConfigError":
			return string(policy.CreateContainerConfigError), w.Reason + ": " + firstLine(w.Message), true
		case "CreateContainerError":
			return string(policy.CreateContainerError), w.Reason + ": " + firstLine(w.Message), true
		case "CrashLoopBackOff", "RunContainerError":
			return w.Reason, firstLine(w.Message), false
		case "ContainerCreating":
			// Stuck when the kubelet's warning about the pod's volumes or
			// sandbox repeats, or stays stuckCreatingAfter.
			e := a.lastEvent("Pod", p.Name, "FailedMount", "FailedAttachVolume", "FailedCreatePodSandBox")
			if e == nil {
				return w.Reason, "no warning yet", false
			}
			stuck := e.Count >= 2 || time.Since(e.FirstTimestamp.Time) >= stuckCreatingAfter
			return string(policy.ContainerCreating), fmt.Sprintf("%s (x%d): %s", e.Reason, e.Count, firstLine(e.Message)), stuck
		case "PodInitializing":
			return w.Reason, w.Reason, false
		}
		// Not one of the kubelet's reasons: its error in their place.
		return string(policy.StuckWaiting), "waiting: " + firstLine(w.Reason), true
	}
	if run := s.State.Running; run != nil {
		if s.Ready {
			return outReady, fmt.Sprintf("Running, Ready, %d restarts", s.RestartCount), s.RestartCount == 0
		}
		up := time.Since(run.StartedAt.Time)
		return string(policy.NeverReady), fmt.Sprintf("Running %v, not Ready, %d restarts", up.Round(time.Second), s.RestartCount), up >= notReadyAfter
	}
	return "not running", "container not running", false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func truthDeployment(tc truthCase) string {
	return deploymentYAML(tc.name, tc.annotations, tc.pod)
}

// truthSecrets: pull secrets for the private registry, right, wrong and of
// the wrong type, and a ServiceAccount holding the right one.
func truthSecrets(private string) string {
	cfg := func(user, pass string) string {
		auth := b64([]byte(user + ":" + pass))
		return b64([]byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, private, auth)))
	}
	var b strings.Builder
	for _, s := range []struct{ name, typ, config string }{
		{"pull-right", "kubernetes.io/dockerconfigjson", cfg("ci", "s3cret")},
		{"pull-wrong", "kubernetes.io/dockerconfigjson", cfg("ci", "wrong")},
		{"pull-opaque", "Opaque", cfg("ci", "s3cret")},
		{"pull-malformed", "kubernetes.io/dockerconfigjson", b64([]byte(fmt.Sprintf(`{"auths":{%q:{"auth":"not base64!"}}}`, private)))},
	} {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata: {name: %s}\ntype: %s\ndata: {.dockerconfigjson: %s}\n---\n", s.name, s.typ, s.config)
	}
	b.WriteString("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: puller}\nimagePullSecrets: [{name: pull-right}]\n")
	return b.String()
}

// container renders the one container of a case's pod.
func container(image string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "      containers:\n      - name: app\n        image: %s\n", image)
	b.WriteString("        ports: [{name: http, containerPort: 8080}]\n")
	hasResources := false
	for _, e := range extra {
		hasResources = hasResources || strings.HasPrefix(e, "resources:")
		b.WriteString("        " + e + "\n")
	}
	if !hasResources {
		b.WriteString("        resources: {limits: {memory: 64Mi}}\n")
	}
	return b.String()
}

const (
	jvmReadiness = "readinessProbe: {tcpSocket: {port: http}, periodSeconds: 2}"
	readiness    = "readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 2}"
	liveness     = "livenessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 2, failureThreshold: 3}"
)

func truthCases(reg, private string) []truthCase {
	app := reg + "/truth/app:1.0"
	return []truthCase{
		{name: "healthy", story: "multi-arch image, non-root, probes on a declared port",
			pod: "      securityContext: {runAsNonRoot: true}\n" + container(app, readiness, liveness)},
		{name: "invalid-reference", story: "repository name in capitals",
			pod: container(reg + "/Truth/App:1.0")},
		{name: "tag-not-found", story: "tag 1.1 was never pushed",
			pod: container(reg + "/truth/app:1.1")},
		{name: "repository-not-found", story: "repository truth/api does not exist",
			pod: container(reg + "/truth/api:1.0")},
		{name: "private-no-secret", story: "private image, no pull secret",
			pod: container(private + "/team/app:1.0")},
		{name: "private-wrong-secret", story: "private image, wrong password in the pull secret",
			pod: "      imagePullSecrets: [{name: pull-wrong}]\n" + container(private+"/team/app:1.0")},
		{name: "private-right-secret", story: "private image, right pull secret",
			pod: "      imagePullSecrets: [{name: pull-right}]\n" + container(private+"/team/app:1.0", readiness)},
		{name: "serviceaccount-secret", story: "private image, right secret only on the ServiceAccount",
			pod: "      serviceAccountName: puller\n" + container(private+"/team/app:1.0", readiness)},
		{name: "template-wrong-sa-right", story: "wrong secret on the pod, right one on its ServiceAccount (no union)",
			pod: "      serviceAccountName: puller\n      imagePullSecrets: [{name: pull-wrong}]\n" + container(private+"/team/app:1.0")},
		{name: "secret-wrong-type", story: "right credentials in a secret of type Opaque",
			pod: "      imagePullSecrets: [{name: pull-opaque}]\n" + container(private+"/team/app:1.0")},
		{name: "secret-malformed", story: "public image not yet on the node, pull secret with an auth that is not base64",
			pod: "      imagePullSecrets: [{name: pull-malformed}]\n" + container(reg+"/truth/app:2.0")},
		{name: "platform-index", story: "index with arm64 only, on an amd64 node",
			pod: container(reg + "/truth/app:arm64-only")},
		{name: "platform-single", story: "single-arch arm64 image, on an amd64 node",
			pod: container(reg + "/truth/arm64:1.0")},
		{name: "runs-as-root", story: "runAsNonRoot, image user root",
			pod: "      securityContext: {runAsNonRoot: true}\n" + container(reg+"/truth/app:root")},
		{name: "no-command", story: "image without Entrypoint or Cmd, no command in the pod",
			pod: container(reg + "/truth/app:no-entrypoint")},
		{name: "command-in-pod", story: "image without Entrypoint or Cmd, command in the pod",
			pod: container(reg+"/truth/app:no-entrypoint", `command: ["/app"]`, readiness)},
		{name: "liveness-too-aggressive", story: "app answers after 30 s, liveness kills after 6 s, no startupProbe",
			annotations: `{nobackoff.io/expected-startup-seconds: "30"}`,
			pod:         container(app, `env: [{name: START_DELAY, value: 30s}]`, readiness, liveness)},
		{name: "slow-starter", story: "app answers after 15 s, startupProbe allows 60 s",
			annotations: `{nobackoff.io/expected-startup-seconds: "15"}`,
			pod: container(app, `env: [{name: START_DELAY, value: 15s}]`, readiness, liveness,
				"startupProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 2, failureThreshold: 30}")},
		{name: "readiness-port-name", story: "readinessProbe on port name \"web\", the container declares \"http\"",
			pod: container(app, "readinessProbe: {httpGet: {path: /, port: web}, periodSeconds: 2}")},
		{name: "heap-over-limit", story: "JAVA_TOOL_OPTIONS -Xmx256m, memory limit 64Mi",
			pod: container(app, "env: [{name: JAVA_TOOL_OPTIONS, value: -Xmx256m}]")},
		{name: "heap-within-limit", story: "JAVA_TOOL_OPTIONS -Xmx32m, memory limit 128Mi",
			pod: container(app, "env: [{name: JAVA_TOOL_OPTIONS, value: -Xmx32m}]", "resources: {limits: {memory: 128Mi}}", readiness)},
		{name: "jvm-heap-at-limit", story: "OpenJDK 17, JAVA_TOOL_OPTIONS -Xms512m -Xmx512m -XX:+AlwaysPreTouch (every heap page touched, as in a full heap), memory limit 512Mi",
			pod: container(reg+"/truth/jre:17", `env: [{name: JAVA_TOOL_OPTIONS, value: "-Xms512m -Xmx512m -XX:+AlwaysPreTouch"}]`,
				"resources: {limits: {memory: 512Mi}}", jvmReadiness)},
		{name: "jvm-heap-three-quarters", story: "the same JVM with -Xms384m -Xmx384m (75% of the limit) touched, memory limit 512Mi",
			pod: container(reg+"/truth/jre:17", `env: [{name: JAVA_TOOL_OPTIONS, value: "-Xms384m -Xmx384m -XX:+AlwaysPreTouch"}]`,
				"resources: {limits: {memory: 512Mi}}", jvmReadiness)},
		{name: "java-opts-unread", story: "JAVA_OPTS -Xmx256m, memory limit 64Mi, image Entrypoint starts java directly",
			pod: container(reg+"/truth/app:java", "env: [{name: JAVA_OPTS, value: -Xmx256m}]", readiness)},
		{name: "command-builtin", story: "command [\"exit\", \"1\"]: a shell builtin, not a program",
			pod: container(app, `command: ["exit", "1"]`)},
		{name: "command-one-element", story: "command [\"/app -listen :8080\"]: a whole command line in one element",
			pod: container(app, `command: ["/app -listen :8080"]`)},
	}
}

// truthTable renders the rows as the Markdown kept in docs/truth.md.
func truthTable(rows []truthRow, versions string) string {
	var b strings.Builder
	b.WriteString("# Predictions held against a real kubelet\n\n")
	b.WriteString("Generated by `make truth-table` (the truth suite of `make test`, e2e/truth_test.go). Each workload is a\n")
	b.WriteString("Deployment applied with kubectl through the nobackoff webhook in a warn namespace; the pod then runs on a\n")
	fmt.Fprintf(&b, "real node (%s). *Predicted* is the outcome the webhook recorded in its audit\n", versions)
	b.WriteString("annotation `outcome` (the earliest pod state its findings foretell; Ready when none does); *observed* is\n")
	b.WriteString("the state the cluster reported. FailedCreate: the ReplicaSet could not create the pod. Pending: the\n")
	b.WriteString("scheduler left the pod unschedulable. ContainerCreating: the kubelet could not mount its volumes.\n")
	b.WriteString("NeverReady: running, never Ready. StuckWaiting: the container waits for good with the kubelet's error\n")
	b.WriteString("in place of a reason. A row with a second step (its cause removed once the pod settled) observes the\n")
	b.WriteString("state before the step, then what the pod became after it; precision and recall count the first.\n")
	fmt.Fprintf(&b, "The rows of ResourceQuotas and LimitRanges run in warn namespaces of their own (%s, %s);\n",
		truthQuotaNamespace, truthLimitsNamespace)
	fmt.Fprintf(&b, "the placement rows also meet a second Node without kubelet, %s, labelled %s=gpu\n", truthGPUNode, truthPoolLabel)
	fmt.Fprintf(&b, "and tainted dedicated=gpu:NoSchedule, and %s:NoSchedule so that no pod lands on it.\n\n", truthNoKubelet)
	b.WriteString("| workload | story | nobackoff warned | predicted | observed | agree |\n|---|---|---|---|---|---|\n")
	tp, predictedPos, observedPos := 0, 0, 0
	for _, r := range rows {
		warned := "—"
		if len(r.warned) > 0 {
			ids := append([]string(nil), r.warned...)
			sort.Strings(ids)
			warned = "`" + strings.Join(ids, "`, `") + "`"
		}
		agree := "yes"
		if !r.agree() {
			agree = "**no**"
		}
		observed := r.observed
		if r.then != nil {
			observed += fmt.Sprintf(", then %s once %s", r.after.outcome, r.then.what)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.name, r.story, warned, r.predicted, observed, agree)
		if r.predicted != outReady {
			predictedPos++
		}
		if r.observed != outReady {
			observedPos++
		}
		if r.predicted != outReady && r.agree() {
			tp++
		}
	}
	ratio := func(a, b int) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f%% (%d/%d)", 100*float64(a)/float64(b), a, b)
	}
	fmt.Fprintf(&b, "\nPrecision (predicted failures that happened as predicted): %s.  \n", ratio(tp, predictedPos))
	fmt.Fprintf(&b, "Recall (failures that happened and were predicted as they happened): %s.  \n", ratio(tp, observedPos))
	agreeing := 0
	for _, r := range rows {
		if r.agree() {
			agreeing++
		}
	}
	fmt.Fprintf(&b, "Agreement over all workloads, healthy controls included: %s.\n", ratio(agreeing, len(rows)))
	return b.String()
}

// versions names what runs the node.
func (n *node) versions() string {
	v := "kubelet " + kubeVersion(n.k8sDir)
	for _, cmd := range [][]string{{"containerd", "--version"}, {"runc", "--version"}} {
		out, err := exec.Command(cmd[0], cmd[1:]...).Output()
		if err != nil {
			continue
		}
		f := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
		if len(f) >= 3 {
			v += ", " + cmd[0] + " " + strings.TrimSuffix(strings.Split(f[2], "~")[0], "+ds1")
		}
	}
	return v
}

func kubeVersion(k8sDir string) string {
	out, err := exec.Command(filepath.Join(k8sDir, "kubelet"), "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "Kubernetes ")
}

// testApp is the test application built for amd64 and arm64.
type testApp map[string]string // arch -> binary

func buildTestApp(t *testing.T) testApp {
	t.Helper()
	app := testApp{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, arch := range []string{"amd64", "arm64"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(t.TempDir(), "app-"+arch)
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./testapp")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
			if b, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("go build testapp for %s: %v\n%s", arch, err, b)
				return
			}
			mu.Lock()
			app[arch] = out
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return app
}

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}
)

func (a testApp) image(t *testing.T, p v1.Platform, cfg v1.Config) v1.Image {
	t.Helper()
	return appImage(t, a[p.Architecture], p, cfg)
}

func (a testApp) index(t *testing.T, cfg v1.Config, platforms ...v1.Platform) v1.ImageIndex {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	for _, p := range platforms {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: a.image(t, p, cfg), Descriptor: v1.Descriptor{Platform: &p}})
	}
	return idx
}

// pushTruthImages pushes the images the truth cases name: single-arch and
// multi-arch, root and non-root, with and without an entrypoint.
func pushTruthImages(t *testing.T, reg, private *testregistry.Distribution) {
	t.Helper()
	app := buildTestApp(t)
	nonRoot := v1.Config{Entrypoint: []string{"/app"}, User: "1000"}
	anon := authn.Anonymous
	ci := &authn.Basic{Username: "ci", Password: "s3cret"}
	pushPause(t, reg, app)
	push(t, reg, anon, "truth/app:1.0", app.index(t, nonRoot, amd64, arm64))
	push(t, reg, anon, "truth/app:2.0", app.index(t, nonRoot, amd64, arm64))
	push(t, reg, anon, "truth/app:root", app.index(t, v1.Config{Entrypoint: []string{"/app"}}, amd64, arm64))
	push(t, reg, anon, "truth/app:no-entrypoint", app.index(t, v1.Config{User: "1000"}, amd64, arm64))
	push(t, reg, anon, "truth/app:arm64-only", app.index(t, nonRoot, arm64))
	push(t, reg, anon, "truth/arm64:1.0", app.image(t, arm64, nonRoot))
	// Started the way Jib's and distroless images start java: no launch
	// script, so nothing reads JAVA_OPTS.
	push(t, reg, anon, "truth/app:java", app.index(t, v1.Config{Entrypoint: []string{"/usr/bin/java", "-jar", "/app.jar"}, User: "1000"}, amd64, arm64))
	push(t, private, ci, "team/app:1.0", app.index(t, nonRoot, amd64, arm64))
	// A real JVM: Debian's OpenJDK 17 running the RMI registry, a program
	// of the JRE that listens on 8080 and runs until stopped.
	jre := jreHome(t)
	push(t, reg, anon, "truth/jre:17", jreImage(t, jre, v1.Config{User: "1000",
		Entrypoint: []string{jre + "/bin/java", "-m", "java.rmi/sun.rmi.registry.RegistryImpl", "8080"}}))
}

// pushPause pushes the pod sandbox image the node runs: the test
// application in -pause mode.
func pushPause(t *testing.T, d *testregistry.Distribution, app testApp) {
	t.Helper()
	push(t, d, authn.Anonymous, "truth/pause:1.0", app.image(t, amd64, v1.Config{Entrypoint: []string{"/app", "-pause"}, User: "65535"}))
}

func pauseImage(d *testregistry.Distribution) string { return d.Host + "/truth/pause:1.0" }

// appImage is one layer holding the test application as /app and as
// /usr/bin/java (where it reads -Xmx from its arguments as a JVM would).
func appImage(t *testing.T, bin string, p v1.Platform, cfg v1.Config) v1.Image {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tarEntry(t, tw, &tar.Header{Name: "app", Mode: 0o755, Typeflag: tar.TypeReg}, data)
	tarEntry(t, tw, &tar.Header{Name: "usr/", Mode: 0o755, Typeflag: tar.TypeDir}, nil)
	tarEntry(t, tw, &tar.Header{Name: "usr/bin/", Mode: 0o755, Typeflag: tar.TypeDir}, nil)
	tarEntry(t, tw, &tar.Header{Name: "usr/bin/java", Mode: 0o755, Typeflag: tar.TypeReg}, data)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return oneLayerImage(t, buf.Bytes(), p, cfg)
}

// tarEntry writes one entry of a layer, dated at the epoch so that the
// same content makes the same layer.
func tarEntry(t *testing.T, tw *tar.Writer, h *tar.Header, data []byte) {
	t.Helper()
	h.ModTime = time.Unix(0, 0)
	if h.Typeflag == tar.TypeReg {
		h.Size = int64(len(data))
	}
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	if h.Typeflag == tar.TypeReg {
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
}

// oneLayerImage is an image of one layer (a tar) for a platform.
func oneLayerImage(t *testing.T, layerTar []byte, p v1.Platform, cfg v1.Config) v1.Image {
	t.Helper()
	layer, err := tarball.LayerFromReader(bytes.NewReader(layerTar))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: p.OS, Architecture: p.Architecture, Config: cfg,
		RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		t.Fatal(err)
	}
	return img
}

// push writes an image or an index to a registry as repoTag.
func push(t *testing.T, d *testregistry.Distribution, auth authn.Authenticator, repoTag string, obj any) {
	t.Helper()
	ref, err := name.ParseReference(d.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithTransport(d.Transport()), remote.WithAuth(auth)}
	switch o := obj.(type) {
	case v1.Image:
		err = remote.Write(ref, o, opts...)
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, o, opts...)
	}
	if err != nil {
		t.Fatalf("push %s: %v", repoTag, err)
	}
}
