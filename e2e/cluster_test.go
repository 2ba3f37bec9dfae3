package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// cluster is etcd and kube-apiserver on loopback, with an admin
// kubeconfig (client certificate in system:masters).
type cluster struct {
	dir        string
	kubectl    string
	kubeconfig string
	// auditLog holds the API server's audit events for Deployments
	// (metadata level: the webhook's audit annotations included).
	auditLog string
}

// freePort is a port on loopback for a process the test starts.
func freePort(t *testing.T) int {
	t.Helper()
	return testregistry.FreePort(t, "127.0.0.1")
}

// startProcess runs a binary until the test ends, logging to a file, and
// kills its whole process group then, whatever happened.
func startProcess(t *testing.T, log string, bin string, args ...string) *exec.Cmd {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_, _ = cmd.Process.Wait()
		f.Close()
	})
	return cmd
}

func waitFor(t *testing.T, what, log string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log)
			if len(out) > 4000 {
				out = out[len(out)-4000:]
			}
			t.Fatalf("%s did not come up within %v; its log ends:\n%s", what, timeout, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func startCluster(t *testing.T, k8sDir string) *cluster {
	t.Helper()
	return startClusterAt(t, k8sDir, "")
}

// startClusterAt starts a cluster whose API server also answers on
// address, the one it advertises (the endpoint of the kubernetes
// Service): pods on a real node reach it there, through kube-proxy. An
// empty address keeps it on loopback alone.
func startClusterAt(t *testing.T, k8sDir, address string) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{dir: dir, kubectl: filepath.Join(k8sDir, "kubectl"), kubeconfig: filepath.Join(dir, "kubeconfig"),
		auditLog: filepath.Join(dir, "audit.log")}
	auditPolicy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(auditPolicy, []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  resources: [{group: apps, resources: [deployments]}]
  verbs: [create]
- level: None
`), 0o600); err != nil {
		t.Fatal(err)
	}

	clientPort, peerPort := freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	etcdLog := filepath.Join(dir, "etcd.log")
	startProcess(t, etcdLog, filepath.Join(k8sDir, "etcd"), "--name", "e2e", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "e2e="+peer,
		"--log-level", "warn")
	waitFor(t, "etcd", etcdLog, time.Minute, func() bool {
		resp, err := http.Get(etcdURL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	ca, err := newPKI()
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "client-ca.crt")
	saKey, saPub := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := ca.writeCA(caFile); err != nil {
		t.Fatal(err)
	}
	if err := serviceAccountKey(saKey, saPub); err != nil {
		t.Fatal(err)
	}
	adminCert, adminKey, err := ca.client("e2e-admin", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	apiPort := freePort(t)
	apiLog := filepath.Join(dir, "kube-apiserver.log")
	bind, advertise := "127.0.0.1", "127.0.0.1"
	if address != "" {
		bind, advertise = "0.0.0.0", address
	}
	startProcess(t, apiLog, filepath.Join(k8sDir, "kube-apiserver"),
		"--etcd-servers", etcdURL, "--bind-address", bind, "--advertise-address", advertise,
		"--secure-port", fmt.Sprint(apiPort), "--cert-dir", filepath.Join(dir, "apiserver-certs"),
		"--client-ca-file", caFile, "--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", saPub,
		"--service-account-signing-key-file", saKey, "--service-cluster-ip-range", "10.96.0.0/24",
		"--allow-privileged=true", "--profiling=false", "--v=1",
		"--audit-policy-file", auditPolicy, "--audit-log-path", c.auditLog)

	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "https://127.0.0.1:%d", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {client-certificate-data: %s, client-key-data: %s}
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
`, apiPort, b64(adminCert), b64(adminKey))
	if err := os.WriteFile(c.kubeconfig, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "kube-apiserver", apiLog, 2*time.Minute, func() bool {
		out, err := c.run("", "get", "--raw", "/readyz")
		return err == nil && strings.TrimSpace(out.stdout) == "ok"
	})
	return c
}

// creations returns the audit annotations of every Deployment created in
// namespace (dry runs excluded), by name, from one read of the audit log.
func (c *cluster) creations(t *testing.T, namespace string) map[string]map[string]string {
	t.Helper()
	data, err := os.ReadFile(c.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]map[string]string{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		var ev struct {
			Verb       string `json:"verb"`
			Stage      string `json:"stage"`
			RequestURI string `json:"requestURI"`
			ObjectRef  struct {
				Resource, Namespace, Name string
			} `json:"objectRef"`
			Annotations map[string]string `json:"annotations"`
		}
		if len(line) == 0 || json.Unmarshal(line, &ev) != nil {
			continue
		}
		if ev.Verb == "create" && ev.Stage == "ResponseComplete" && ev.ObjectRef.Resource == "deployments" &&
			ev.ObjectRef.Namespace == namespace && !strings.Contains(ev.RequestURI, "dryRun") {
			found[ev.ObjectRef.Name] = ev.Annotations
		}
	}
	return found
}

// result is one kubectl run.
type result struct {
	stdout, stderr string
	code           int
}

// run runs kubectl with stdin; err is set only when kubectl could not run.
func (c *cluster) run(stdin string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.kubectl, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
		err = nil
	}
	if err == nil && r.code != 0 && ctx.Err() != nil {
		err = ctx.Err()
	}
	return r, err
}

// must runs kubectl and fails the test on a non-zero exit.
func (c *cluster) must(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r, err := c.run(stdin, args...)
	if err != nil || r.code != 0 {
		t.Fatalf("kubectl %v: exit %d, %v\n%s%s", args, r.code, err, r.stdout, r.stderr)
	}
	return r
}

// waitHTTPS waits for a TLS endpoint trusting pool to answer 200 on path.
func waitHTTPS(t *testing.T, what, log, url string, pool *x509.CertPool) {
	t.Helper()
	waitHTTPSFor(t, what, log, url, pool, time.Minute)
}

// waitHTTPSFor is waitHTTPS with its own timeout.
func waitHTTPSFor(t *testing.T, what, log, url string, pool *x509.CertPool, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: timeout / 10, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	waitFor(t, what, log, timeout, func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
