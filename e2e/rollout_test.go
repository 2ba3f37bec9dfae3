package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/nobackoff/nobackoff/certs"
)

// service stands in for a Kubernetes Service in front of the webhook's
// replicas: it sends each new connection to a replica whose /readyz
// answered 200 at its last poll (the endpoints controller and kube-proxy
// together), and pipes bytes both ways.
type service struct {
	ln       net.Listener
	backends []string // host:port
	pool     *x509.CertPool
	mu       sync.Mutex
	ready    []bool
	next     int
	// dialFailures counts connections no replica took.
	dialFailures atomic.Int64
	stop         chan struct{}
	wg           sync.WaitGroup
}

func startService(t *testing.T, pool *x509.CertPool, backends ...string) *service {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &service{ln: ln, backends: backends, pool: pool, ready: make([]bool, len(backends)), stop: make(chan struct{})}
	s.wg.Add(2)
	go s.poll()
	go s.accept()
	t.Cleanup(func() {
		close(s.stop)
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *service) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// poll keeps the set of ready replicas, as the endpoints controller does
// (here every 200 ms).
func (s *service) poll() {
	defer s.wg.Done()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool}, DisableKeepAlives: true}}
	for {
		for i, b := range s.backends {
			ok := false
			if resp, err := client.Get("https://localhost:" + strings.Split(b, ":")[1] + "/readyz"); err == nil {
				ok = resp.StatusCode == http.StatusOK
				resp.Body.Close()
			}
			s.mu.Lock()
			s.ready[i] = ok
			s.mu.Unlock()
		}
		select {
		case <-s.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *service) pick() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range s.backends {
		i := s.next % len(s.backends)
		s.next++
		if s.ready[i] {
			return s.backends[i], true
		}
	}
	return "", false
}

func (s *service) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			b, ok := s.pick()
			if !ok {
				s.dialFailures.Add(1)
				return
			}
			up, err := net.Dial("tcp", b)
			if err != nil {
				s.dialFailures.Add(1)
				return
			}
			defer up.Close()
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(up, conn)
			go pipe(conn, up)
			<-done
			<-done
		}()
	}
}

// testRollout rolls two replicas of the webhook, one after the other,
// while kubectl applies run in a loop through an enforce entry with
// failurePolicy Fail: no apply may fail.
func (e *env) testRollout(t *testing.T) {
	c := e.c
	nobackoff := tool(t, "NOBACKOFF_BIN")
	dir, bundle, pool := localhostCerts(t)
	caFile := joinCAs(t, e.reg.CAFile, e.privateReg.CAFile)

	ports := []int{freePort(t), freePort(t)}
	start := func(i, generation int) *exec.Cmd {
		log := filepath.Join(dir, fmt.Sprintf("replica-%d-%d.log", i, generation))
		cmd := startProcess(t, log, nobackoff, "serve", "--host", "127.0.0.1", "--port", fmt.Sprint(ports[i]),
			"--tls-cert-file", filepath.Join(dir, certs.KeyCert), "--tls-key-file", filepath.Join(dir, certs.KeyKey),
			"--kubeconfig", c.kubeconfig, "--registry-ca", caFile, "--allow-loopback-registries",
			"--shutdown-delay", "3s")
		waitHTTPS(t, fmt.Sprintf("replica %d", i), log, fmt.Sprintf("https://localhost:%d/readyz", ports[i]), pool)
		return cmd
	}
	replicas := []*exec.Cmd{start(0, 0), start(1, 0)}
	svc := startService(t, pool, fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]))

	c.must(t, "", "create", "namespace", "rollout")
	// Only the entry below judges this namespace.
	c.must(t, "", "label", "namespace", "rollout", "nobackoff.io/mode=off")
	c.must(t, "", "create", "serviceaccount", "default", "-n", "rollout")
	url := fmt.Sprintf("https://localhost:%d/validate/enforce", svc.port())
	vwc := admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: "rollout"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "rollout.nobackoff.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: bundle.CACert},
			AdmissionReviewVersions: []string{"v1"},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			TimeoutSeconds:          ptr.To[int32](10),
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "rollout"}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
			}},
		}},
	}
	data, _ := json.Marshal(vwc)
	c.must(t, string(data), "apply", "-f", "-")
	t.Cleanup(func() { _, _ = c.run("", "delete", "validatingwebhookconfiguration", "rollout") })
	waitFor(t, "the rollout webhook's registration", filepath.Join(dir, "replica-0-0.log"), time.Minute, func() bool {
		r, err := c.run(deployment("probe", e.registry+"/shop/app:latests"), "apply", "--dry-run=server", "-n", "rollout", "-f", "-")
		return err == nil && r.code != 0 && strings.Contains(r.stderr, "image.tag-not-found")
	})

	// Applies in a loop (applyLoop, below): a healthy Deployment, which
	// the enforce entry must admit every time.
	healthy := deployment("web", e.registry+"/shop/app:1.0")
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// And server-side dry runs from 24 clients at once, as a busy API
	// server sends them: many keep-alive connections to the webhook.
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit
	var dryRuns, dryRunFailures atomic.Int64
	healthyObj := benchDeployment(e.registry)
	healthyObj.Namespace = "rollout"
	healthyObj.Spec.Template.Spec.Containers = healthyObj.Spec.Template.Spec.Containers[:1]
	healthyObj.Spec.Template.Spec.Containers[0].Image = e.registry + "/shop/app:1.0"
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := kubernetes.NewForConfigOrDie(rest.CopyConfig(cfg))
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := client.AppsV1().Deployments("rollout").Create(context.Background(), healthyObj, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				dryRuns.Add(1)
				if err != nil {
					dryRunFailures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	dryRun := func() (result, error) {
		return c.run(healthy, "apply", "--dry-run=server", "-n", "rollout", "-f", "-")
	}
	applies, failures := applyLoop(t, dryRun, func(applied func() int64) {
		waitApplies := func(n int64) {
			deadline := time.Now().Add(5 * time.Minute)
			for applied() < n && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
		}
		waitApplies(30)
		// Roll: stop a replica (SIGTERM, as the kubelet does), wait for it
		// to exit, start its successor, wait until it is ready; then the
		// other.
		for i := range replicas {
			before := applied()
			if err := replicas[i].Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			exited := make(chan *os.ProcessState, 1)
			go func() { state, _ := replicas[i].Process.Wait(); exited <- state }()
			select {
			case state := <-exited:
				if state == nil || !state.Success() {
					t.Fatalf("replica %d did not exit cleanly after SIGTERM: %v", i, state)
				}
			case <-time.After(time.Minute):
				t.Fatalf("replica %d did not stop within a minute of SIGTERM", i)
			}
			replicas[i] = start(i, 1)
			t.Logf("replica %d replaced; %d applies meanwhile", i, applied()-before)
			waitApplies(applied() + 20)
		}
	}, 200)
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		firstFailure.CompareAndSwap(nil, failures[0])
	}
	t.Logf("through the rollout: %d kubectl applies, %d failed; %d dry-run creates from 24 clients, %d failed; connections no replica took: %d",
		applies, len(failures), dryRuns.Load(), dryRunFailures.Load(), svc.dialFailures.Load())
	if n := int64(len(failures)) + dryRunFailures.Load(); n > 0 {
		t.Errorf("%d applies failed during the rollout; first: %v", n, firstFailure.Load())
	}
}
