package e2e

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
)

// hostileRegistry is a registry that answers every manifest with one whose
// configuration blob declares 1 GiB, and serves that blob without end.
func hostileRegistry(t *testing.T) (host, caFile string) {
	t.Helper()
	const configDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`, configDigest, 1<<30)
	manifestDigest := "sha256:" + sha256Hex([]byte(manifest))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.Contains(r.URL.Path, "/manifests/"):
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", manifestDigest)
			w.Header().Set("Content-Length", strconv.Itoa(len(manifest)))
			if r.Method == http.MethodGet {
				_, _ = w.Write([]byte(manifest))
			}
		case strings.Contains(r.URL.Path, "/blobs/"):
			zeros := make([]byte, 64<<10)
			for r.Context().Err() == nil {
				if _, err := w.Write(zeros); err != nil {
					return
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "hostile-ca.pem")
	cert := srv.TLS.Certificates[0].Certificate[0]
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(srv.URL, "https://"), caFile
}

// envChain is a container whose env variables each reference the previous
// one twice: the value doubles at every step.
func envChain(steps int) []corev1.EnvVar {
	env := []corev1.EnvVar{{Name: "A0", Value: strings.Repeat("x", 64)}}
	for i := 1; i <= steps; i++ {
		env = append(env, corev1.EnvVar{Name: fmt.Sprint("A", i), Value: fmt.Sprintf("$(A%d)$(A%d)", i-1, i-1)})
	}
	return append(env, corev1.EnvVar{Name: "JAVA_TOOL_OPTIONS", Value: fmt.Sprintf("-Xmx64m $(A%d)", steps)})
}

// peakRSS is the highest resident set size a running process has had.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	v, ok := highWater(pid)
	if !ok {
		t.Fatalf("no VmHWM for process %d", pid)
	}
	return v
}

// highWater reads a process's VmHWM; ok is false once it has exited.
func highWater(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, true
		}
	}
	return 0, false // a zombie has no memory left to report
}

// testHostile sends the inputs that once ran the server and the CLI out of
// memory: each is answered within the webhook's timeout, never a crash, and
// the process stays under 128 MiB.
func (e *env) testHostile(t *testing.T) {
	const maxRSS = 128 << 20
	nobackoff := tool(t, "NOBACKOFF_BIN")
	hostile, hostileCA := hostileRegistry(t)
	dir, _, pool := localhostCerts(t)
	port := freePort(t)
	log := filepath.Join(dir, "nobackoff.log")
	serve := startProcess(t, log, nobackoff, "serve", "--host", "127.0.0.1", "--port", fmt.Sprint(port),
		"--tls-cert-file", filepath.Join(dir, "tls.crt"), "--tls-key-file", filepath.Join(dir, "tls.key"),
		"--kubeconfig", e.c.kubeconfig, "--registry-ca", joinCAs(t, hostileCA, e.reg.CAFile), "--allow-loopback-registries",
		"--shutdown-delay", "0s")
	waitHTTPS(t, "nobackoff", log, fmt.Sprintf("https://localhost:%d/readyz", port), pool)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	review := func(t *testing.T, path string, spec func(*corev1.PodSpec)) *admissionv1.AdmissionResponse {
		d := benchDeployment(e.registry)
		d.Namespace = "shop-warn"
		d.Spec.Template.Spec.Containers = d.Spec.Template.Spec.Containers[:1]
		d.Spec.Template.Spec.Containers[0].Image = e.registry + "/shop/app:1.0"
		spec(&d.Spec.Template.Spec)
		start := time.Now()
		resp, err := client.Post(fmt.Sprintf("https://localhost:%d%s", port, path), "application/json", bytes.NewReader(benchReview(t, d)))
		if err != nil {
			t.Fatalf("no answer within the webhook's 10 s: %v", err)
		}
		defer resp.Body.Close()
		var out admissionv1.AdmissionReview
		if resp.StatusCode != http.StatusOK {
			t.Logf("HTTP %d after %v", resp.StatusCode, time.Since(start))
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
			t.Fatalf("answer: %v", err)
		}
		t.Logf("answered in %v: allowed %v, warnings %q", time.Since(start).Round(time.Millisecond), out.Response.Allowed, out.Response.Warnings)
		return out.Response
	}
	t.Run("$(VAR) doubling chain", func(t *testing.T) {
		for _, steps := range []int{17, 22, 30} {
			r := review(t, "/validate/warn", func(s *corev1.PodSpec) { s.Containers[0].Env = envChain(steps) })
			if r == nil || !r.Allowed || !strings.Contains(strings.Join(r.Warnings, "\n"), "containers[0].env[") {
				t.Errorf("%d steps: want admitted with a not-evaluated warning naming the env field", steps)
			}
		}
	})
	t.Run("config blob declaring 1 GiB, served without end", func(t *testing.T) {
		r := review(t, "/validate/enforce", func(s *corev1.PodSpec) {
			s.Containers[0].Image = hostile + "/bomb/config:1.0"
			s.Containers[0].Command = nil // the image's entrypoint is then needed
			s.Containers[0].Args = nil
		})
		if r == nil || !r.Allowed || len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], "[image.lookup-inconclusive] ") {
			t.Errorf("want admitted with image.lookup-inconclusive, got %+v", r)
		}
	})
	t.Run("image of 1 MiB", func(t *testing.T) {
		r := review(t, "/validate/warn", func(s *corev1.PodSpec) { s.Containers[0].Image = strings.Repeat("a", 1<<20) })
		if r == nil || !r.Allowed || len(r.Warnings) != 1 {
			t.Errorf("want admitted with one not-checked warning, got %+v", r)
		}
	})
	if rss := peakRSS(t, serve.Process.Pid); rss > maxRSS {
		t.Errorf("server peak RSS %d MiB, over %d MiB", rss>>20, maxRSS>>20)
	} else {
		t.Logf("server peak RSS after the hostile reviews: %d MiB", rss>>20)
	}

	t.Run("CLI", func(t *testing.T) {
		files := t.TempDir()
		// The $(VAR) chain as a 3 KB manifest.
		d := benchDeployment(e.registry)
		d.Spec.Template.Spec.Containers[0].Env = envChain(30)
		chain, _ := json.Marshal(d)
		// One 1 MiB scalar aliased 5,000 times.
		var alias strings.Builder
		fmt.Fprintf(&alias, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a: &a %s\n", strings.Repeat("b", 1<<20))
		for i := range 5000 {
			fmt.Fprintf(&alias, "  k%d: *a\n", i)
		}
		for name, content := range map[string]string{"chain.json": string(chain), "alias.yaml": alias.String()} {
			path := filepath.Join(files, name)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(nobackoff, "check", "--offline", "-f", path)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The kernel's own maximum (rusage) counts the memory of the
			// test process the child was forked from, so the child's
			// high-water mark is read while it runs: it only grows, and a
			// run that grew to gigabytes would take seconds.
			rss := make(chan int64, 1)
			go func() {
				var peak int64
				for {
					v, ok := highWater(cmd.Process.Pid)
					if !ok {
						rss <- peak
						return
					}
					peak = v
					time.Sleep(time.Millisecond)
				}
			}()
			err := cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			peak := <-rss
			t.Logf("%s: exit %d, peak RSS %d MiB, %s", name, code, peak>>20, firstLine(stderr.String()))
			if code != 2 || !strings.Contains(stderr.String(), path) {
				t.Errorf("%s: exit %d (%v), stderr %q: want 2 naming the file", name, code, err, stderr.String())
			}
			if name == "chain.json" && !strings.Contains(stderr.String(), "containers[0].env[") {
				t.Errorf("%s: stderr %q does not name the env field", name, stderr.String())
			}
			if peak == 0 || peak > maxRSS {
				t.Errorf("%s: peak RSS %d MiB: want measured, under %d MiB", name, peak>>20, maxRSS>>20)
			}
		}
	})
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
