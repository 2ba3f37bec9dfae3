package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/nobackoff/nobackoff/certs"
	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// TestSideBySide is the side-by-side benchmark of `make bench-serve`:
// nobackoff serve (registry lookups on, caches warm) against a minimal
// webhook that decodes each AdmissionReview and allows it (e2e/allowall,
// the same TLS and HTTP settings), under the same load of a
// three-container Deployment; then the latency a server-side dry run of
// that Deployment gets with no webhook, the minimal one and nobackoff. It
// reports numbers and asserts none of them: the only failures are
// requests that fail.
func TestSideBySide(t *testing.T) {
	if os.Getenv("NOBACKOFF_BENCH") == "" {
		t.Skip("the side-by-side benchmark runs with `make bench-serve` (NOBACKOFF_BENCH=1)")
	}
	rate := envInt(t, "NOBACKOFF_BENCH_RATE", 1000)
	seconds := envInt(t, "NOBACKOFF_BENCH_SECONDS", 2)
	b := startBenchServers(t, nil)
	c, reg, d, body, pool, bundle, servers, allowPort, nbLog := b.c, b.reg, b.d, b.body, b.pool, b.bundle, b.servers, b.allowPort, b.nbLog

	// The machine's speed drifts over a run (other tenants, frequency):
	// the two servers take turns in short rounds, in alternating order,
	// on connections kept open from the warm-up on, and the ratio is the
	// median of the rounds' ratios.
	rounds := envInt(t, "NOBACKOFF_BENCH_ROUNDS", 15)
	var report, dryRuns strings.Builder
	fmt.Fprintf(&report, "\nserver CPU per review, %d reviews/s offered for %d s a turn, 16 keep-alive connections, %d rounds:\n", rate, seconds, rounds)
	fmt.Fprintf(&report, "%-16s %10s %10s %10s %10s %10s\n", "server", "reviews/s", "CPU µs", "p50 ms", "p99 ms", "failed")
	cpu := map[string][]float64{}
	var ratios []float64
	// A first, longer warm-up lets each server's heap reach the size it
	// keeps under this load.
	clients := map[string][]*http.Client{}
	for _, s := range servers {
		clients[s.name] = loadClients(t, pool)
		load(t, clients[s.name], s.url, body, rate, 5*time.Second, s.pid)
	}
	for round := range rounds {
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		per := map[string]float64{}
		for _, k := range order {
			s := servers[k]
			r := load(t, clients[s.name], s.url, body, rate, time.Duration(seconds)*time.Second, s.pid)
			if r.failed > 0 {
				t.Errorf("%s: %d of %d reviews failed", s.name, r.failed, r.done)
			}
			per[s.name] = float64(r.cpu.Microseconds()) / float64(r.done)
			cpu[s.name] = append(cpu[s.name], per[s.name])
			fmt.Fprintf(&report, "%-16s %10.0f %10.1f %10.2f %10.2f %10d   (round %d)\n", s.name,
				float64(r.done)/r.wall.Seconds(), per[s.name], ms(r.percentile(50)), ms(r.percentile(99)), r.failed, round+1)
		}
		ratios = append(ratios, per["nobackoff"]/per["minimal webhook"])
	}
	median := func(v []float64) float64 {
		v = slices.Clone(v)
		slices.Sort(v)
		n := len(v)
		if n%2 == 1 {
			return v[n/2]
		}
		return (v[n/2-1] + v[n/2]) / 2
	}
	fmt.Fprintf(&report, "median CPU per review: minimal webhook %.1f µs, nobackoff %.1f µs\n", median(cpu["minimal webhook"]), median(cpu["nobackoff"]))
	fmt.Fprintf(&report, "nobackoff / minimal CPU per review, median of the rounds' ratios: %.2f (rounds: %s)\n", median(ratios), formatRatios(ratios))
	t.Log(report.String())

	// Server-side dry runs through the real API server.
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	dryRun := func() error {
		_, err := client.AppsV1().Deployments("bench").Create(ctx, d, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	const runs = 300
	fmt.Fprintf(&dryRuns, "\nserver-side dry-run create of the Deployment, %d sequential runs each:\n%-16s %10s %10s %10s\n", runs, "webhook", "p50 ms", "p90 ms", "added p50")
	var base time.Duration
	for _, w := range []struct {
		name, url string
		active    func() bool
	}{
		{"none", "", nil},
		{"minimal webhook", servers[0].url, func() bool {
			before := count(t, allowPort, pool)
			return dryRun() == nil && count(t, allowPort, pool) > before
		}},
		{"nobackoff", servers[1].url, func() bool {
			bad := d.DeepCopy()
			bad.Spec.Template.Spec.Containers[0].Image = reg.Host + "/bench/app:4.2.00"
			warned := false
			c := *cfg
			c.WarningHandler = warningFlag{&warned}
			_, err := kubernetes.NewForConfigOrDie(&c).AppsV1().Deployments("bench").Create(ctx, bad, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err == nil && warned
		}},
	} {
		_ = client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, "bench", metav1.DeleteOptions{})
		if w.url != "" {
			vwc := benchWebhook(w.url, bundle.CACert)
			if _, err := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, w.name+" registration", nbLog, time.Minute, w.active)
		} else {
			time.Sleep(2 * time.Second) // the deletion reaches the API server's webhook cache
		}
		for range 20 {
			_ = dryRun() // warm
		}
		var lat []time.Duration
		for range runs {
			start := time.Now()
			if err := dryRun(); err != nil {
				t.Fatalf("%s: dry run: %v", w.name, err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		p50 := lat[len(lat)/2]
		if w.url == "" {
			base = p50
		}
		fmt.Fprintf(&dryRuns, "%-16s %10.2f %10.2f %10.2f\n", w.name, ms(p50), ms(lat[len(lat)*9/10]), ms(p50-base))
	}
	t.Log(dryRuns.String())
	if out := os.Getenv("NOBACKOFF_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(report.String()+dryRuns.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// benchServers are the two servers of the side-by-side benchmark, the
// minimal webhook first, ready with nobackoff's caches warm for the
// review body carries.
type benchServers struct {
	c         *cluster
	reg       *testregistry.Distribution
	d         *appsv1.Deployment
	body      []byte
	pool      *x509.CertPool
	bundle    *certs.Bundle
	servers   []benchServer
	allowPort int
	nbLog     string
}

type benchServer struct {
	name string
	pid  int
	url  string
}

// startBenchServers starts a control plane, a registry holding the
// Deployment's three images, the minimal webhook and nobackoff serve;
// wrap, when set, turns each server's command line into the one run (a
// profiler's).
func startBenchServers(t *testing.T, wrap func(name, bin string, args []string) (string, []string)) benchServers {
	t.Helper()
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	nobackoff := tool(t, "NOBACKOFF_BIN")
	// Under a profiler the servers run many times slower: they get longer
	// to start and nobackoff a longer budget for its first lookups (once
	// warm, a review looks nothing up).
	ready, budget := time.Minute, "3s"
	if wrap == nil {
		wrap = func(_, bin string, args []string) (string, []string) { return bin, args }
	} else {
		ready, budget = 5*time.Minute, "60s"
	}
	c := startCluster(t, k8sDir)
	reg := testregistry.StartDistribution(t, testregistry.RegistryBinary(t), nil)
	app := v1.Config{Entrypoint: []string{"/app"}, User: "1000"}
	for _, image := range []string{"bench/app:4.2.0", "bench/proxy:1.31.2", "bench/logs:3.1.9"} {
		reg.PushIndex(t, authn.Anonymous, image, app, v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"})
	}
	c.must(t, "", "create", "namespace", "bench")
	c.must(t, "", "create", "serviceaccount", "default", "-n", "bench")
	addFakeNodes(t, c)

	dir, bundle, pool := localhostCerts(t)
	certFile, keyFile := filepath.Join(dir, certs.KeyCert), filepath.Join(dir, certs.KeyKey)

	allowBin := filepath.Join(dir, "allowall")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", allowBin, "./allowall").CombinedOutput(); err != nil {
		t.Fatalf("building the minimal webhook: %v\n%s", err, out)
	}
	allowPort := freePort(t)
	allowLog := filepath.Join(dir, "allowall.log")
	bin, args := wrap("minimal webhook", allowBin, []string{"--port", fmt.Sprint(allowPort), "--tls-cert-file", certFile, "--tls-key-file", keyFile})
	allow := startProcess(t, allowLog, bin, args...)
	waitHTTPSFor(t, "allowall", allowLog, fmt.Sprintf("https://localhost:%d/readyz", allowPort), pool, ready)

	nbPort := freePort(t)
	nbLog := filepath.Join(dir, "nobackoff.log")
	// --memory-limit: the chart's default memory limit, which serve reads
	// from its container's cgroup in a cluster.
	bin, args = wrap("nobackoff", nobackoff, []string{"serve", "--host", "127.0.0.1", "--port", fmt.Sprint(nbPort),
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--kubeconfig", c.kubeconfig,
		"--registry-ca", reg.CAFile, "--allow-loopback-registries", "--shutdown-delay", "0s", "--memory-limit", "256Mi",
		"--registry-timeout", budget})
	nb := startProcess(t, nbLog, bin, args...)
	waitHTTPSFor(t, "nobackoff", nbLog, fmt.Sprintf("https://localhost:%d/readyz", nbPort), pool, ready)

	d := benchDeployment(reg.Host)
	body := benchReview(t, d)
	servers := []benchServer{
		{"minimal webhook", allow.Process.Pid, fmt.Sprintf("https://localhost:%d/validate/warn", allowPort)},
		{"nobackoff", nb.Process.Pid, fmt.Sprintf("https://localhost:%d/validate/warn", nbPort)},
	}
	// The review must be one nobackoff judges with warm lookups: three
	// images found, nothing inconclusive.
	if warnings := reviewWarnings(t, servers[1].url, pool, body); len(warnings) != 0 {
		t.Fatalf("the benchmark Deployment draws warnings %q: it should be healthy", warnings)
	}
	return benchServers{c: c, reg: reg, d: d, body: body, pool: pool, bundle: bundle, servers: servers, allowPort: allowPort, nbLog: nbLog}
}

// TestSideBySideInstructions is the side-by-side benchmark counted in
// instructions rather than time: each server runs under valgrind's
// callgrind, which counts the instructions the process executes, all its
// threads included (the collector's, the TLS code's), the same count for
// the same work whatever else the machine does. Each gets the same warm-up
// of 200 reviews, then 1,000 reviews are sent on one keep-alive
// connection; the count over those, per review, is compared. Both run with
// GOMAXPROCS=1 (see below). It needs valgrind (skipped without) and takes
// under a minute.
func TestSideBySideInstructions(t *testing.T) {
	if os.Getenv("NOBACKOFF_BENCH") == "" {
		t.Skip("the side-by-side benchmark runs with `make bench-serve` (NOBACKOFF_BENCH=1)")
	}
	valgrind, err := exec.LookPath("valgrind")
	if err != nil {
		t.Skip("SKIPPED: no valgrind: the instruction counts need it")
	}
	control, err := exec.LookPath("callgrind_control")
	if err != nil {
		t.Skip("SKIPPED: no callgrind_control")
	}
	// Go's asynchronous preemption signals trip callgrind; the count is
	// the same without them. Valgrind runs one thread at a time: with
	// more than one P the scheduler's idle threads spin for work between
	// reviews, a count that changes from run to run.
	t.Setenv("GODEBUG", "asyncpreemptoff=1")
	t.Setenv("GOMAXPROCS", "1")
	// NOBACKOFF_BENCH_CALLGRIND_DIR keeps the profiles, for
	// callgrind_annotate.
	dir := os.Getenv("NOBACKOFF_BENCH_CALLGRIND_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	outs := map[string]string{}
	b := startBenchServers(t, func(name, bin string, args []string) (string, []string) {
		outs[name] = filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".callgrind")
		return valgrind, append([]string{"--tool=callgrind", "--callgrind-out-file=" + outs[name], bin}, args...)
	})
	const warm, reviews = 200, 1000
	per := map[string]float64{}
	for _, s := range b.servers {
		client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.pool}}}
		post := func(n int) {
			for range n {
				resp, err := client.Post(s.url, "application/json", bytes.NewReader(b.body))
				if err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %s", s.name, resp.Status)
				}
			}
		}
		// Each dump holds the count since the one before: the first ends
		// the start and the warm-up, the second holds the reviews alone.
		dump := func() {
			if out, err := exec.Command(control, "--dump", strconv.Itoa(s.pid)).CombinedOutput(); err != nil {
				t.Fatalf("callgrind_control --dump: %v\n%s", err, out)
			}
		}
		post(warm)
		dump()
		post(reviews)
		dump()
		per[s.name] = float64(callgrindTotal(t, outs[s.name]+".2")) / reviews
	}
	t.Logf("\ninstructions per review over %d reviews on one keep-alive connection (callgrind, all threads):\n"+
		"minimal webhook %.0f\nnobackoff       %.0f\nnobackoff / minimal: %.2f",
		reviews, per["minimal webhook"], per["nobackoff"], per["nobackoff"]/per["minimal webhook"])
}

// callgrindTotal reads the instruction count of a callgrind dump file.
func callgrindTotal(t *testing.T, file string) int64 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "totals: "); ok {
			n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s: no totals line", file)
	return 0
}

type warningFlag struct{ seen *bool }

func (w warningFlag) HandleWarningHeader(code int, _ string, _ string) {
	if code == 299 {
		*w.seen = true
	}
}

func envInt(t *testing.T, name string, dflt int) int {
	v := os.Getenv(name)
	if v == "" {
		return dflt
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func formatRatios(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}

// benchDeployment is a realistic three-container Deployment: an app with
// probes, env and a heap flag, a proxy sidecar and a log shipper.
func benchDeployment(registry string) *appsv1.Deployment {
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}}}
	}
	limits := func(m string) corev1.ResourceRequirements {
		q := resource.MustParse(m)
		return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: q}, Requests: corev1.ResourceList{corev1.ResourceMemory: q}}
	}
	startup := probe("/health/started")
	startup.FailureThreshold = 12 // two minutes for the JVM to start
	labels := map[string]string{"app": "billing"}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "billing", Namespace: "bench", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{
						Name: "app", Image: registry + "/bench/app:4.2.0",
						Command: []string{"java"}, Args: []string{"-Xmx512m", "-jar", "/app/billing.jar"},
						Env:       []corev1.EnvVar{{Name: "SPRING_PROFILES_ACTIVE", Value: "prod"}, {Name: "JAVA_TOOL_OPTIONS", Value: "-XX:+UseG1GC"}},
						Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						Resources: limits("1Gi"), StartupProbe: startup, LivenessProbe: probe("/health/live"),
						ReadinessProbe: probe("/health/ready"),
					},
					{
						Name: "proxy", Image: registry + "/bench/proxy:1.31.2", Ports: []corev1.ContainerPort{{Name: "admin", ContainerPort: 9901}},
						Resources:      limits("128Mi"),
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(9901)}}},
					},
					{Name: "logs", Image: registry + "/bench/logs:3.1.9", Resources: limits("64Mi")},
				}},
			},
		},
	}
}

func benchReview(t *testing.T, d *appsv1.Deployment) []byte {
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:      "bench",
			Kind:     metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			Resource: metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
			Name:     d.Name, Namespace: d.Namespace, Operation: admissionv1.Create,
			Object:   runtime.RawExtension{Raw: raw},
			UserInfo: authenticationv1.UserInfo{Username: "bench"},
			DryRun:   ptr.To(false),
			Options:  runtime.RawExtension{Raw: []byte(`{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}`)},
		},
	}
	body, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func benchWebhook(url string, caBundle []byte) *admissionregistrationv1.ValidatingWebhookConfiguration {
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "bench.nobackoff.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle},
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			TimeoutSeconds:          ptr.To[int32](10),
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
			}},
		}},
	}
}

func reviewWarnings(t *testing.T, url string, pool *x509.CertPool, body []byte) []string {
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
		t.Fatalf("review answer: %v", err)
	}
	return out.Response.Warnings
}

func count(t *testing.T, port int, pool *x509.CertPool) int {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(fmt.Sprintf("https://localhost:%d/count", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

type loadResult struct {
	done, failed int
	lat          []time.Duration
	cpu, wall    time.Duration
}

func (r loadResult) percentile(p int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)*p/100, len(r.lat)-1)]
}

// loadConns is the number of keep-alive connections load uses.
const loadConns = 16

// loadClients are the clients of load, one connection each, kept from
// one run to the next so that no run pays for TLS handshakes.
func loadClients(t *testing.T, pool *x509.CertPool) []*http.Client {
	out := make([]*http.Client, loadConns)
	for i := range out {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 1}
		t.Cleanup(tr.CloseIdleConnections)
		out[i] = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	return out
}

// load posts body at the given rate for d over the clients' keep-alive
// connections and measures the server process's CPU time over the run.
// A request whose turn comes while every connection is busy is sent late,
// so the achieved rate shows when the server cannot keep up.
func load(t *testing.T, clients []*http.Client, url string, body []byte, rate int, d time.Duration, pid int) loadResult {
	t.Helper()
	total := int(d.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	var next atomic.Int64
	var mu sync.Mutex
	res := loadResult{}
	cpu0 := processCPU(t, pid)
	start := time.Now()
	var wg sync.WaitGroup
	for _, client := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			failed := 0
			for {
				i := next.Add(1) - 1
				if i >= int64(total) {
					break
				}
				if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
					time.Sleep(wait)
				}
				sent := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					failed++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed++
					continue
				}
				lat = append(lat, time.Since(sent))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.failed += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	res.cpu = processCPU(t, pid) - cpu0
	res.done = len(res.lat) + res.failed
	slices.Sort(res.lat)
	return res
}

// processCPU is the CPU time a process's threads have used: the run time
// the scheduler counts in /proc/PID/task/*/schedstat, in nanoseconds,
// where /proc/PID/stat's user and system times are sampled on clock ticks
// and charge a whole tick to whatever runs at it. A thread that exits
// takes its time along: the Go runtime keeps its threads.
func processCPU(t *testing.T, pid int) time.Duration {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, task.Name()))
		if err != nil {
			continue // the thread has exited
		}
		fields := strings.Fields(string(b))
		if len(fields) == 0 {
			t.Fatalf("/proc/%d/task/%s/schedstat: %q", pid, task.Name(), b)
		}
		ns, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/task/%s/schedstat: %v", pid, task.Name(), err)
		}
		total += time.Duration(ns)
	}
	return total
}
