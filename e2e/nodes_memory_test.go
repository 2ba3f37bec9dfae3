package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nobackoff/nobackoff/certs"
)

// TestNodesMemory measures what the webhook's cache of the cluster's nodes
// costs: nobackoff serve before and after 1,000 Nodes shaped like a cloud
// provider's (a dozen labels, a taint, allocatable and capacity,
// conditions, addresses, 40 images) are created in the API server, with
// --cluster-state off and on (nodes are watched either way). With
// NOBACKOFF_BENCH_BASELINE_BIN, another build (e.g. one without the node
// transform) is measured the same way. It reports numbers (`make
// bench-serve`) and asserts none.
func TestNodesMemory(t *testing.T) {
	if os.Getenv("NOBACKOFF_BENCH") == "" {
		t.Skip("the nodes memory measurement runs with `make bench-serve` (NOBACKOFF_BENCH=1)")
	}
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	nobackoff := tool(t, "NOBACKOFF_BIN")
	n := envInt(t, "NOBACKOFF_BENCH_NODES", 1000)

	c := startCluster(t, k8sDir)
	client := unlimitedClient(t, c)
	ctx := context.Background()

	dir, _, pool := localhostCerts(t)
	var report strings.Builder
	measure := func(label, bin string, args ...string) {
		t.Helper()
		report.WriteString(serveMemory(t, c, dir, pool, label, bin, args...))
	}
	baseline := os.Getenv("NOBACKOFF_BENCH_BASELINE_BIN")

	fmt.Fprintf(&report, "\nnobackoff serve, no node:\n")
	measure("--cluster-state=false", nobackoff, "--cluster-state=false")
	measure("--cluster-state=true", nobackoff, "--cluster-state=true")

	began := time.Now()
	var sizeMu sync.Mutex
	var bytes int64
	inParallel(t, n, func(i int) error {
		node := benchNode(i)
		created, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if len(created.Status.Allocatable) == 0 || len(created.Status.Images) == 0 {
			// The API server may drop the status on create.
			node.ResourceVersion = created.ResourceVersion
			if created, err = client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		b, _ := json.Marshal(created)
		sizeMu.Lock()
		bytes += int64(len(b))
		sizeMu.Unlock()
		return nil
	})
	t.Logf("created %d Nodes in %v", n, time.Since(began).Round(time.Second))

	fmt.Fprintf(&report, "nobackoff serve, %d Nodes of %.1f KiB of JSON each (%d MiB in all):\n", n,
		float64(bytes)/float64(n)/1024, bytes>>20)
	measure("--cluster-state=false", nobackoff, "--cluster-state=false")
	measure("--cluster-state=true", nobackoff, "--cluster-state=true")
	if baseline != "" {
		measure("baseline --cluster-state=true", baseline, "--cluster-state=true")
	}
	t.Log(report.String())
}

// heapInUse reads go_memstats_heap_inuse_bytes from a metrics endpoint
// (-1 when it cannot be read).
func heapInUse(t *testing.T, url string, pool *x509.CertPool) float64 {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
			var f float64
			fmt.Sscanf(v, "%g", &f)
			return f
		}
	}
	return -1
}

// benchNode is a Node as a cloud provider's kubelet and controllers
// leave it.
func benchNode(i int) *corev1.Node {
	name := fmt.Sprintf("ip-10-%d-%d-%d.eu-west-1.compute.internal", i/65536%256, i/256%256, i%256)
	zone := []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}[i%3]
	arch := []string{"amd64", "arm64"}[i%2]
	instance := []string{"m6i.2xlarge", "m7g.2xlarge"}[i%2]
	q := resource.MustParse
	var images []corev1.ContainerImage
	for j := range 40 {
		repo := fmt.Sprintf("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team-%02d/service-%02d", j%7, j)
		images = append(images, corev1.ContainerImage{
			Names:     []string{fmt.Sprintf("%s@sha256:%064x", repo, i*100+j), fmt.Sprintf("%s:v1.%d.%d", repo, j, i%10)},
			SizeBytes: int64(50_000_000 + j*1_000_000),
		})
	}
	now := metav1.Now()
	condition := func(typ corev1.NodeConditionType, status corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: status, LastHeartbeatTime: now, LastTransitionTime: now, Reason: reason, Message: msg}
	}
	resources := corev1.ResourceList{corev1.ResourceCPU: q("8"), corev1.ResourceMemory: q("32386664Ki"), corev1.ResourcePods: q("58"),
		corev1.ResourceEphemeralStorage: q("104845292Ki"), "hugepages-1Gi": q("0"), "hugepages-2Mi": q("0"), "attachable-volumes-aws-ebs": q("25")}
	allocatable := resources.DeepCopy()
	allocatable[corev1.ResourceCPU] = q("7910m")
	allocatable[corev1.ResourceMemory] = q("31369832Ki")
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{
				corev1.LabelHostname: name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: arch,
				"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch,
				corev1.LabelInstanceTypeStable: instance, "beta.kubernetes.io/instance-type": instance,
				corev1.LabelTopologyZone: zone, corev1.LabelTopologyRegion: "eu-west-1",
				"failure-domain.beta.kubernetes.io/zone": zone, "failure-domain.beta.kubernetes.io/region": "eu-west-1",
				"eks.amazonaws.com/nodegroup": fmt.Sprintf("pool-%d", i%4), "karpenter.sh/capacity-type": "on-demand",
				"team": fmt.Sprintf("team-%d", i%5),
			},
			Annotations: map[string]string{
				"alpha.kubernetes.io/provided-node-ip":                   "10.0.0.1",
				"node.alpha.kubernetes.io/ttl":                           "0",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
				"csi.volume.kubernetes.io/nodeid":                        fmt.Sprintf(`{"ebs.csi.aws.com":"i-%017x","efs.csi.aws.com":"i-%017x"}`, i, i),
			}},
		Spec: corev1.NodeSpec{ProviderID: fmt.Sprintf("aws:///%s/i-%017x", zone, i), PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 100+i/256%100, i%256),
			Taints: []corev1.Taint{{Key: "dedicated", Value: fmt.Sprintf("team-%d", i%5), Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Capacity: resources, Allocatable: allocatable,
			Conditions: []corev1.NodeCondition{
				condition(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
				condition(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
				condition(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
				condition(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
			},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.0.%d.%d", i/256%256, i%256)},
				{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalDNS, Address: name}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo: corev1.NodeSystemInfo{MachineID: fmt.Sprintf("ec2%029x", i), SystemUUID: fmt.Sprintf("ec2%029x", i),
				BootID: fmt.Sprintf("%032x", i), KernelVersion: "6.1.119-129.201.amzn2023." + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch],
				OSImage: "Amazon Linux 2023.6.20241212", ContainerRuntimeVersion: "containerd://1.7.23", KubeletVersion: "v1.36.3-eks-1234567",
				KubeProxyVersion: "", OperatingSystem: "linux", Architecture: arch},
			Images: images,
		},
	}
}

// serveMemory starts nobackoff serve (bin) against the cluster, waits for
// it to be ready and settle after its first listings, and reports a line:
// how long it took, its RSS, its peak and the Go heap in use.
func serveMemory(t *testing.T, c *cluster, dir string, pool *x509.CertPool, label, bin string, args ...string) string {
	t.Helper()
	port := freePort(t)
	logFile := filepath.Join(dir, "serve-"+strings.NewReplacer(" ", "-", "=", "-", ",", "").Replace(label)+".log")
	start := time.Now()
	p := startProcess(t, logFile, bin, append([]string{"serve", "--host", "127.0.0.1", "--port", fmt.Sprint(port),
		"--tls-cert-file", filepath.Join(dir, certs.KeyCert), "--tls-key-file", filepath.Join(dir, certs.KeyKey),
		"--kubeconfig", c.kubeconfig, "--shutdown-delay", "0s"}, args...)...)
	defer func() {
		_ = p.Process.Kill()
		_ = p.Wait()
	}()
	waitHTTPS(t, "nobackoff", logFile, fmt.Sprintf("https://localhost:%d/readyz", port), pool)
	ready := time.Since(start)
	time.Sleep(5 * time.Second) // settle after the first listing
	rss := residentSet(t, p.Process.Pid)
	return fmt.Sprintf("  %-30s ready after %4.1f s, RSS %4d MiB, peak %4d MiB, Go heap in use %5.1f MiB\n", label,
		ready.Seconds(), rss>>20, peakRSS(t, p.Process.Pid)>>20, heapInUse(t, fmt.Sprintf("https://localhost:%d/metrics", port), pool)/(1<<20))
}
