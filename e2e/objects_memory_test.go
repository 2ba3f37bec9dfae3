package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestClusterStateMemory measures what the webhook's caches of the
// cluster's objects cost: nobackoff serve with 10,000 ConfigMaps and
// 10,000 Secrets of 1 KiB of values each in the API server, with its
// object caches off and on. It reports numbers (`make bench-serve`) and
// asserts none.
func TestClusterStateMemory(t *testing.T) {
	if os.Getenv("NOBACKOFF_BENCH") == "" {
		t.Skip("the cluster-state memory measurement runs with `make bench-serve` (NOBACKOFF_BENCH=1)")
	}
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	nobackoff := tool(t, "NOBACKOFF_BIN")
	n := envInt(t, "NOBACKOFF_BENCH_OBJECTS", 10000)

	c := startCluster(t, k8sDir)
	client := unlimitedClient(t, c)
	ctx := context.Background()
	namespaces := 10
	for i := range namespaces {
		c.must(t, "", "create", "namespace", fmt.Sprintf("mem-%d", i))
	}
	value := strings.Repeat("x", 1024)
	began := time.Now()
	inParallel(t, n, func(i int) error {
		ns := fmt.Sprintf("mem-%d", i%namespaces)
		meta := metav1.ObjectMeta{Name: fmt.Sprintf("obj-%05d", i), Namespace: ns}
		if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: meta,
			Data: map[string]string{"config.yaml": value, "LOG_LEVEL": "info"}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{"password": []byte(value), "user": []byte("app")}}, metav1.CreateOptions{})
		return err
	})
	t.Logf("created %d ConfigMaps and %d Secrets in %v", n, n, time.Since(began).Round(time.Second))

	dir, _, pool := localhostCerts(t)
	var report strings.Builder
	fmt.Fprintf(&report, "\nnobackoff serve with %d ConfigMaps and %d Secrets (1 KiB of values each):\n", n, n)
	for _, state := range []string{"false", "true"} {
		report.WriteString(serveMemory(t, c, dir, pool, "--cluster-state="+state, nobackoff, "--cluster-state="+state))
	}
	t.Log(report.String())
}

// residentSet reads a process's VmRSS.
func residentSet(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for process %d", pid)
	return 0
}

// unlimitedClient is a client of the cluster without a client-side rate
// limit, for tests that create many objects.
func unlimitedClient(t *testing.T, c *cluster) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	return kubernetes.NewForConfigOrDie(cfg)
}

// inParallel runs do for 0..n-1 on 32 goroutines; the test fails on the
// first error.
func inParallel(t *testing.T, n int, do func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	var failed sync.Once
	var first error
	jobs := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := do(i); err != nil {
					failed.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}
