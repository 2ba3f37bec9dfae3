package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nobackoff/nobackoff/certs"
	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// reportsCRD is the OpenReports Report CRD the chart installs.
const reportsCRD = "../charts/nobackoff/crds/openreports.io_reports.yaml"

// reportResult is what the assertions read of a Report's result.
type reportResult struct {
	Rule       string            `json:"rule"`
	Result     string            `json:"result"`
	Severity   string            `json:"severity"`
	Properties map[string]string `json:"properties"`
	Resources  []struct {
		Kind, Namespace, Name string
	} `json:"resources"`
}

// reportOf returns the results of the nobackoff Report of a namespace
// (none when there is no Report).
func reportOf(t *testing.T, c *cluster, namespace string) []reportResult {
	t.Helper()
	r, err := c.run("", "get", "reports.openreports.io", "nobackoff", "-n", namespace, "-o", "json", "--ignore-not-found")
	if err != nil || r.code != 0 {
		t.Fatalf("kubectl get reports: %v %s", err, r.stderr)
	}
	if strings.TrimSpace(r.stdout) == "" {
		return nil
	}
	var rep struct {
		Results []reportResult `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	return rep.Results
}

// findingsIn is a Report's results as "workload check" strings, sorted.
func findingsIn(results []reportResult) []string {
	var out []string
	for _, r := range results {
		for _, s := range r.Resources {
			out = append(out, s.Kind+" "+s.Name+" "+r.Rule+" "+r.Result)
		}
	}
	slices.Sort(out)
	return out
}

// eventsFor counts the Events nobackoff recorded on a workload for a check.
func eventsFor(t *testing.T, c *cluster, namespace, kind, name, check string) int {
	t.Helper()
	out := c.must(t, "", "get", "events.events.k8s.io", "-n", namespace, "-o", "json").stdout
	var list struct {
		Items []struct {
			Reason              string `json:"reason"`
			Type                string `json:"type"`
			ReportingController string `json:"reportingController"`
			Regarding           struct{ Kind, Name string }
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Reason == check && e.Type == "Warning" && e.ReportingController == "nobackoff.io/audit" &&
			e.Regarding.Kind == kind && e.Regarding.Name == name {
			n++
		}
	}
	return n
}

// auditors are `nobackoff serve --audit` replicas: their logs, and their
// metrics' addresses with the pool that trusts their certificate.
type auditors struct {
	logs    []string
	metrics []string
	pool    *x509.CertPool
}

// startAuditors runs n `nobackoff serve --audit` replicas electing on one
// Lease, each with extra arguments.
func startAuditors(t *testing.T, c *cluster, n int, caFile string, extra ...string) *auditors {
	t.Helper()
	nobackoff := tool(t, "NOBACKOFF_BIN")
	dir, _, pool := localhostCerts(t)
	c.must(t, "", "create", "namespace", "nobackoff")
	a := &auditors{pool: pool}
	for i := range n {
		log := filepath.Join(dir, fmt.Sprintf("replica-%d.log", i))
		port := freePort(t)
		args := append([]string{"serve", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
			"--tls-cert-file", filepath.Join(dir, certs.KeyCert), "--tls-key-file", filepath.Join(dir, certs.KeyKey),
			"--kubeconfig", c.kubeconfig, "--registry-ca", caFile, "--allow-loopback-registries",
			"--shutdown-delay", "0s", "--log-format", "text", "--namespace", "nobackoff",
			"--pod-name", fmt.Sprintf("replica-%d", i), "--audit"}, extra...)
		startProcess(t, log, nobackoff, args...)
		a.logs = append(a.logs, log)
		a.metrics = append(a.metrics, fmt.Sprintf("https://localhost:%d/metrics", port))
	}
	return a
}

// metric sums a metric's samples whose labels include labels (e.g.
// `namespace="drift"`) over all the replicas.
func (a *auditors) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.pool}}}
	sum := 0.0
	for _, u := range a.metrics {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
	lines:
		for _, line := range strings.Split(string(body), "\n") {
			series, value, ok := strings.Cut(line, " ")
			if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
				continue
			}
			for _, l := range labels {
				if !strings.Contains(series, l) {
					continue lines
				}
			}
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("%s: %q", u, line)
			}
			sum += v
		}
	}
	return sum
}

// passes counts the background passes done, in all the logs.
func passes(logs []string) int {
	n := 0
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		n += strings.Count(string(data), "background pass done")
	}
	return n
}

// waitPasses waits until k more passes than now are done.
func waitPasses(t *testing.T, logs []string, k int, timeout time.Duration) {
	t.Helper()
	want := passes(logs) + k
	waitFor(t, fmt.Sprintf("%d more background passes", k), logs[0], timeout, func() bool { return passes(logs) >= want })
}

// TestAuditDrift: with two `serve --audit` replicas running passes every
// few seconds, a healthy workload whose tag is deleted from the real
// registry, and one whose registry password changes behind its pull
// secret, appear in their namespace's Report with one Event each, and
// `nobackoff audit` exits 1; fixed, the results go and audit exits 0.
// One replica leads: one set of results, one Event per finding.
func TestAuditDrift(t *testing.T) {
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	nobackoff := tool(t, "NOBACKOFF_BIN")
	regBin := testregistry.RegistryBinary(t)
	c := startCluster(t, k8sDir)
	c.must(t, "", "apply", "-f", reportsCRD)
	c.must(t, "", "wait", "--for", "condition=Established", "crd/reports.openreports.io", "--timeout", "60s")
	reg := testregistry.StartDistribution(t, regBin, nil)
	private := testregistry.StartDistribution(t, regBin, map[string]string{"ci": "s3cret"})
	app := v1.Config{Entrypoint: []string{"/app"}, User: "1000"}
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	webImage := testregistry.Image(t, app, amd64)
	reg.Push(t, authn.Anonymous, "shop/web:1.0", webImage)
	private.Push(t, &authn.Basic{Username: "ci", Password: "s3cret"}, "team/ledger:2.0", testregistry.Image(t, app, amd64))

	const ns = "drift"
	c.must(t, "", "create", "namespace", ns)
	c.must(t, "", "create", "serviceaccount", "default", "-n", ns)
	c.must(t, dockerSecret("ledger-pull", private.Host, "ci", "s3cret"), "apply", "-n", ns, "-f", "-")
	c.must(t, deployment("web", reg.Host+"/shop/web:1.0"), "apply", "-n", ns, "-f", "-")
	c.must(t, withPodSpec(deployment("ledger", private.Host+"/team/ledger:2.0"), "      imagePullSecrets: [{name: ledger-pull}]\n"),
		"apply", "-n", ns, "-f", "-")

	ca := joinCAs(t, reg.CAFile, private.CAFile)
	auditors := startAuditors(t, c, 2, ca, "--audit-interval", "3s")
	logs := auditors.logs
	waitPasses(t, logs, 1, 2*time.Minute)
	if got := reportOf(t, c, ns); len(got) != 0 {
		t.Fatalf("healthy workloads reported: %v", findingsIn(got))
	}
	audit := func() int {
		code, _, stderr := runCheck(t, nobackoff, "audit", "--kubeconfig", c.kubeconfig, "-n", ns, "--registry-ca", ca, "-o", "json")
		if code == 2 {
			t.Fatalf("audit: exit 2: %s", stderr)
		}
		return code
	}
	if code := audit(); code != 0 {
		t.Fatalf("audit of healthy workloads: exit %d", code)
	}

	// story is one drift: break it, wait for its result and Event, check
	// they stay single through another pass, fix it, wait for the result
	// to go.
	story := func(name, kind, workload, check string, breakIt, fixIt func()) {
		t.Run(name, func(t *testing.T) {
			breakIt()
			want := []string{kind + " " + workload + " " + check + " fail"}
			waitFor(t, name+": the Report's result", logs[0], time.Minute, func() bool {
				return slices.Equal(findingsIn(reportOf(t, c, ns)), want)
			})
			waitFor(t, name+": its Event", logs[0], 30*time.Second, func() bool { return eventsFor(t, c, ns, kind, workload, check) > 0 })
			t.Logf("$ kubectl get reports -A\n%s$ kubectl get events -n %s\n%s", c.must(t, "", "get", "reports", "-A").stdout,
				ns, c.must(t, "", "get", "events", "-n", ns).stdout)
			if code := audit(); code != 1 {
				t.Errorf("audit after %s: exit %d, want 1", name, code)
			}
			waitPasses(t, logs, 2, time.Minute)
			if got := findingsIn(reportOf(t, c, ns)); !slices.Equal(got, want) {
				t.Errorf("%s: results %v after two more passes, want %v (one replica writes)", name, got, want)
			}
			if n := eventsFor(t, c, ns, kind, workload, check); n != 1 {
				t.Errorf("%s: %d Events, want 1 (recorded when the finding first appears)", name, n)
			}
			// The leader's gauge counts the workload; the other replica's holds none.
			series := []string{`namespace="drift"`, `check="` + check + `"`, `severity="error"`}
			if n := auditors.metric(t, "nobackoff_audit_workloads", series...); n != 1 {
				t.Errorf("%s: nobackoff_audit_workloads%v sums to %v over the replicas, want 1", name, series, n)
			}
			fixIt()
			waitFor(t, name+": the result to go", logs[0], time.Minute, func() bool { return len(reportOf(t, c, ns)) == 0 })
			waitPasses(t, logs, 1, time.Minute)
			if n := auditors.metric(t, "nobackoff_audit_workloads", series...); n != 0 {
				t.Errorf("%s fixed: nobackoff_audit_workloads%v sums to %v, want 0", name, series, n)
			}
			if code := audit(); code != 0 {
				t.Errorf("audit after %s was fixed: exit %d, want 0", name, code)
			}
		})
	}
	story("tag deleted", "Deployment", "web", "image.tag-not-found",
		func() { deleteTag(t, reg, "shop/web", "1.0") },
		func() { reg.Push(t, authn.Anonymous, "shop/web:1.0", webImage) })
	story("password changed", "Deployment", "ledger", "image.unauthorized",
		func() { private.Restart(t, map[string]string{"ci": "changed"}) },
		func() { private.Restart(t, map[string]string{"ci": "s3cret"}) })

	// One replica held the Lease; the other ran no pass.
	if leaders := auditors.metric(t, "nobackoff_audit_leader"); leaders != 1 {
		t.Errorf("nobackoff_audit_leader sums to %v over the replicas, want 1", leaders)
	}
	if n := auditors.metric(t, "nobackoff_audit_registry_requests_total"); n < 1 {
		t.Errorf("nobackoff_audit_registry_requests_total is %v", n)
	}
	if ts := auditors.metric(t, "nobackoff_audit_last_pass_timestamp_seconds"); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("nobackoff_audit_last_pass_timestamp_seconds is %v", ts)
	}
	holder := c.must(t, "", "get", "lease", "nobackoff-audit", "-n", "nobackoff", "-o", "jsonpath={.spec.holderIdentity}").stdout
	ran := 0
	for _, l := range logs {
		if data, _ := os.ReadFile(l); strings.Contains(string(data), "background pass done") {
			ran++
		}
	}
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, "background pass") && !strings.Contains(line, "level=INFO") {
				t.Errorf("%s: %s", filepath.Base(l), line)
			}
		}
	}
	if ran != 1 || (holder != "replica-0" && holder != "replica-1") {
		t.Errorf("%d replicas ran passes, Lease held by %q; want one, replica-0 or replica-1", ran, holder)
	}
}

// deleteTag removes a tag from a distribution registry: its manifest,
// by digest, with the tags that point to it.
func deleteTag(t *testing.T, d *testregistry.Distribution, repo, tag string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: d.CAPool}}}
	req, _ := http.NewRequest(http.MethodHead, fmt.Sprintf("https://%s/v2/%s/manifests/%s", d.Host, repo, tag), nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	digest := resp.Header.Get("Docker-Content-Digest")
	if resp.StatusCode != http.StatusOK || digest == "" {
		t.Fatalf("HEAD %s:%s: %s, digest %q", repo, tag, resp.Status, digest)
	}
	req, _ = http.NewRequest(http.MethodDelete, fmt.Sprintf("https://%s/v2/%s/manifests/%s", d.Host, repo, digest), nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE %s@%s: %s", repo, digest, resp.Status)
	}
}

// TestAuditRate: one background pass over 200 workloads sharing 20
// images sends the registry no more requests than the configured rate
// allows over the pass (counted in the registry's access log), and
// judges all of them.
func TestAuditRate(t *testing.T) {
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	regBin := testregistry.RegistryBinary(t)
	c := startCluster(t, k8sDir)
	c.must(t, "", "apply", "-f", reportsCRD)
	reg := testregistry.StartDistribution(t, regBin, nil)
	app := v1.Config{Entrypoint: []string{"/app"}, User: "1000"}
	img := testregistry.Image(t, app, v1.Platform{OS: "linux", Architecture: "amd64"})
	for i := range 20 {
		reg.Push(t, authn.Anonymous, fmt.Sprintf("shop/svc-%d:1.0", i), img)
	}
	const ns = "fleet"
	c.must(t, "", "create", "namespace", ns)
	c.must(t, "", "create", "serviceaccount", "default", "-n", ns)
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "---\n%s", strings.Replace(deployment(fmt.Sprintf("svc-%d", i), fmt.Sprintf("%s/shop/svc-%d:1.0", reg.Host, i%20)),
			"metadata: {name:", fmt.Sprintf("metadata: {namespace: %s, name:", ns), 1))
	}
	c.must(t, b.String(), "apply", "-f", "-")

	const perMinute = 240
	before := reg.Requests(t)
	logs := startAuditors(t, c, 1, reg.CAFile, "--audit-interval", "1h", "--audit-registry-requests-per-minute", strconv.Itoa(perMinute)).logs
	waitPasses(t, logs, 1, 3*time.Minute)
	sent := reg.Requests(t) - before

	data, _ := os.ReadFile(logs[0])
	m := regexp.MustCompile(`background pass done.* workloads=([0-9]+) .*registryRequests=([0-9]+) took=([^ \n]+)`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("no pass summary in the log:\n%s", data)
	}
	took, err := time.ParseDuration(m[3])
	if err != nil {
		t.Fatal(err)
	}
	// The bucket holds a second's worth; past it, the rate over the pass.
	allowed := perMinute/60 + int(float64(perMinute)*took.Minutes()) + 1
	t.Logf("one pass over %s workloads: %d requests at the registry (%s by nobackoff's count) in %v; the rate allows %d",
		m[1], sent, m[2], took, allowed)
	if m[1] != "200" {
		t.Errorf("the pass judged %s workloads, want 200", m[1])
	}
	if sent > allowed {
		t.Errorf("%d registry requests in %v: over %d/min", sent, took, perMinute)
	}
	if sent < 20 {
		t.Errorf("%d registry requests for 20 images: the registry's count is not read", sent)
	}
}
