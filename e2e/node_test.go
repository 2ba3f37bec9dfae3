package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A real node joins the local control plane: containerd (runc, CNI
// plugins) from Debian's packages, the kubelet, kube-controller-manager and
// kube-scheduler built at the pinned version. Everything it starts lives
// under one folder and is removed by hack/node-clean.sh, also when the
// suite's process dies: a reaper started with the node waits for the
// suite's end of a pipe to close.

// nodeBridge is the CNI bridge of the node; one node runs on a machine at
// a time (nodeLock).
const (
	nodeBridge = "nobackoff0"
	nodeName   = "truth-node"
	nodeSubnet = "10.244.0.0/24"
	nodeLock   = "nobackoff-node.lock"
)

// nodeSkip is the documented switch for machines that cannot run a node
// (no root, no cgroups): NOBACKOFF_NODE=skip.
func nodeSkip(t *testing.T) {
	t.Helper()
	if os.Getenv("NOBACKOFF_NODE") == "skip" {
		msg := "SKIPPED: the real-node suite (NOBACKOFF_NODE=skip): no prediction was held against a kubelet in this run"
		fmt.Fprintf(os.Stderr, "\n\033[1;33m%s\033[0m\n\n", msg)
		t.Skip(msg)
	}
	if why := nodeUnfit(); why != "" {
		t.Fatalf("a real node cannot run here (%s); set NOBACKOFF_NODE=skip to run without it", why)
	}
}

// nodeUnfit says why this machine cannot run a node, or "" when it can:
// root, a memory cgroup and what `make node-setup` installs.
func nodeUnfit() string {
	var why []string
	if os.Geteuid() != 0 {
		why = append(why, "not running as root")
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		if _, err2 := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err2 != nil {
			why = append(why, "no memory cgroup")
		}
	}
	for _, bin := range []string{"containerd", "ctr", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			why = append(why, bin+" not installed (make node-setup)")
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat("/usr/lib/cni/" + plugin); err != nil {
			why = append(why, "CNI plugin "+plugin+" not installed (make node-setup)")
		}
	}
	return strings.Join(why, ", ")
}

type node struct {
	dir    string
	sock   string
	k8sDir string
	logs   map[string]string
	// iptablesClean: no KUBE-* chain existed before the node started, so
	// the kubelet's and kube-proxy's are the node's to remove.
	iptablesClean bool
}

// reapKubeChains removes the kubelet's and kube-proxy's iptables chains
// that an earlier node left behind: KUBE-* chains while no kubelet or
// kube-proxy runs on the machine. hack/node-clean.sh does it, on a folder
// that says the chains are the node's.
func reapKubeChains(t *testing.T, k8sDir string) {
	t.Helper()
	if !kubeChains() {
		return
	}
	for _, name := range []string{"kubelet", "kube-proxy"} {
		if exec.Command("pgrep", "-x", name).Run() == nil {
			return // someone's node runs: its chains are its own
		}
	}
	dir, err := os.MkdirTemp("", "nobackoff-node-chains-")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"iptables.clean": "left by an earlier node\n", "kube-proxy.bin": filepath.Join(k8sDir, "kube-proxy")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script, _ := filepath.Abs("../hack/node-clean.sh")
	if out, err := exec.Command(script, dir).CombinedOutput(); err != nil {
		t.Fatalf("removing the iptables chains an earlier node left: %v\n%s", err, out)
	}
	if kubeChains() {
		t.Logf("KUBE-* iptables chains remain that no node of this suite made; they are left alone")
	}
}

// kubeChains reports whether iptables has KUBE-* chains in the filter or
// nat table (the kubelet's and kube-proxy's).
func kubeChains() bool {
	for _, table := range []string{"nat", "filter"} {
		if out, _ := exec.Command("iptables", "-w", "-t", table, "-S").Output(); strings.Contains(string(out), "-N KUBE-") {
			return true
		}
	}
	return false
}

// nodeRegistry is a registry the node pulls from, with the CA it trusts.
type nodeRegistry struct{ host, caFile string }

// startNode starts a node with what `make node-setup` installed and waits
// until it is Ready. pause is the sandbox image (pushPause).
func startNode(t *testing.T, c *cluster, k8sDir, pause string, registries []nodeRegistry) *node {
	t.Helper()
	nodeSkip(t)
	for _, bin := range []string{"kubelet", "kube-controller-manager", "kube-scheduler"} {
		if _, err := os.Stat(filepath.Join(k8sDir, bin)); err != nil {
			t.Fatalf("%v: `make test` builds it", err)
		}
	}
	lockNode(t)
	reapLeftovers(t)

	dir, err := os.MkdirTemp("", "nobackoff-node-")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{dir: dir, sock: filepath.Join(dir, "containerd.sock"), k8sDir: k8sDir, logs: map[string]string{}}
	for _, sub := range []string{"pids", "cni", "certs.d", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n.write(t, "pids/suite.pid", fmt.Sprint(os.Getpid()))
	reapKubeChains(t, k8sDir)
	if n.iptablesClean = !kubeChains(); n.iptablesClean {
		n.write(t, "iptables.clean", "no KUBE-* chains before the node started\n")
	}
	n.write(t, "bridge", nodeBridge)
	n.saveSysctls(t)
	n.recordCreatedPaths(t)
	n.startReaper(t)

	n.writeContainerdConfig(t, pause, registries)
	n.start(t, "containerd", "containerd", "--config", filepath.Join(dir, "containerd.toml"))
	waitFor(t, "containerd", n.logs["containerd"], time.Minute, func() bool {
		return exec.Command("ctr", "--address", n.sock, "version").Run() == nil
	})

	n.writeKubeletConfig(t)
	n.start(t, "kubelet", filepath.Join(k8sDir, "kubelet"), "--config", filepath.Join(dir, "kubelet.yaml"),
		"--kubeconfig", c.kubeconfig, "--root-dir", filepath.Join(dir, "kubelet"), "--cert-dir", filepath.Join(dir, "kubelet-pki"),
		"--hostname-override", nodeName, "--node-ip", "127.0.0.1", "--v", "2")
	apiserverCA := filepath.Join(c.dir, "apiserver-certs", "apiserver.crt")
	n.start(t, "kube-controller-manager", filepath.Join(k8sDir, "kube-controller-manager"),
		"--kubeconfig", c.kubeconfig, "--controllers", "*,-nodeipam", "--leader-elect=false",
		"--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(freePort(t)), "--root-ca-file", apiserverCA,
		"--use-service-account-credentials=false", "--v", "1")
	n.start(t, "kube-scheduler", filepath.Join(k8sDir, "kube-scheduler"),
		"--kubeconfig", c.kubeconfig, "--leader-elect=false",
		"--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(freePort(t)), "--v", "1")

	waitFor(t, "the node", n.logs["kubelet"], 2*time.Minute, func() bool {
		r, _ := c.run("", "get", "node", nodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return r.stdout == "True"
	})
	return n
}

// startKubeProxy runs kube-proxy in iptables mode on the node's host: the
// API server reaches a webhook behind a Service through its rules (the
// node is the API server's host), and pods reach the API server through
// the kubernetes Service. It leaves the kernel's conntrack settings and
// route_localnet alone, and the reaper removes its rules (kube-proxy
// --cleanup). It returns when the kubernetes Service has its rule.
func (n *node) startKubeProxy(t *testing.T, c *cluster) {
	t.Helper()
	bin := filepath.Join(n.k8sDir, "kube-proxy")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%v: `make test` builds it", err)
	}
	n.write(t, "kube-proxy.bin", bin)
	n.start(t, "kube-proxy", bin, "--kubeconfig", c.kubeconfig, "--hostname-override", nodeName,
		"--proxy-mode", "iptables", "--cluster-cidr", nodeSubnet,
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--healthz-bind-address", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--conntrack-max-per-core", "0", "--conntrack-tcp-timeout-established", "0",
		"--conntrack-tcp-timeout-close-wait", "0", "--iptables-localhost-nodeports=false", "--v", "1")
	waitFor(t, "kube-proxy's rules", n.logs["kube-proxy"], time.Minute, func() bool {
		out, _ := exec.Command("iptables", "-w", "-t", "nat", "-S", "KUBE-SERVICES").Output()
		return strings.Contains(string(out), "default/kubernetes:https")
	})
}

func (n *node) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(n.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs one of the node's processes with a pid file for the reaper.
// It dies with the suite (SIGKILL on the parent's death) and is stopped by
// the reaper otherwise.
func (n *node) start(t *testing.T, name, bin string, args ...string) {
	t.Helper()
	log := filepath.Join(n.dir, "logs", name+".log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { _ = cmd.Wait() }()
	n.logs[name] = log
	n.write(t, "pids/"+name+".pid", fmt.Sprint(cmd.Process.Pid))
}

// sysctls the kubelet sets when it starts; the reaper puts them back.
var kubeletSysctls = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

func (n *node) saveSysctls(t *testing.T) {
	t.Helper()
	var b strings.Builder
	for _, k := range kubeletSysctls {
		if v, err := os.ReadFile("/proc/sys/" + k); err == nil {
			fmt.Fprintf(&b, "%s %s\n", k, strings.TrimSpace(string(v)))
		}
	}
	n.write(t, "sysctl.saved", b.String())
}

// Folders outside the node's own that its programs create whatever they
// are told: containerd's shim sockets, the CNI plugins' cache, the
// kubelet's device-plugin socket and log links. Those that do not exist
// yet are removed with the node.
var nodeOutsidePaths = []string{"/run/containerd", "/var/lib/cni", "/var/lib/kubelet", "/var/log/containers"}

func (n *node) recordCreatedPaths(t *testing.T) {
	t.Helper()
	var created []string
	for _, p := range nodeOutsidePaths {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			created = append(created, p)
		}
	}
	n.write(t, "created-paths", strings.Join(created, "\n")+"\n")
}

// startReaper starts hack/node-clean.sh --on-eof in its own process group:
// it outlives the suite's process and cleans the node when the pipe it
// reads closes, on a normal end or a kill. The test's cleanup closes the
// pipe, waits for the reaper and asserts nothing is left.
func (n *node) startReaper(t *testing.T) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(os.TempDir(), filepath.Base(n.dir)+".clean.log"))
	if err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("../hack/node-clean.sh")
	cmd := exec.Command(script, "--on-eof", n.dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Cleanup(func() {
		created, _ := os.ReadFile(filepath.Join(n.dir, "created-paths"))
		w.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node-clean.sh: %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Errorf("node-clean.sh did not finish in 2 minutes")
		}
		log.Close()
		if out, _ := os.ReadFile(log.Name()); len(strings.TrimSpace(string(out))) > 0 {
			t.Logf("node-clean.sh:\n%s", out)
		}
		os.Remove(log.Name())
		for _, left := range nodeLeftovers(n.dir) {
			t.Errorf("left over after the node stopped: %s", left)
		}
		if n.iptablesClean && kubeChains() {
			t.Errorf("left over after the node stopped: the kubelet's or kube-proxy's iptables chains (KUBE-*)")
		}
		for _, p := range strings.Fields(string(created)) {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("left over after the node stopped: %s, created by the node", p)
			}
		}
	})
}

// nodeLeftovers lists what a node under dir left behind: processes naming
// dir, mounts under it, the CNI bridge, the folder itself.
func nodeLeftovers(dir string) []string {
	var left []string
	if out, _ := exec.Command("pgrep", "-a", "-f", "--", dir+"/").Output(); len(out) > 0 {
		left = append(left, "processes: "+strings.TrimSpace(string(out)))
	}
	for _, name := range []string{"containerd", "kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy"} {
		if out, _ := exec.Command("pgrep", "-a", "-x", name).Output(); len(out) > 0 {
			left = append(left, "process: "+strings.TrimSpace(string(out)))
		}
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(mi), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
				left = append(left, "mount: "+f[4])
			}
		}
	}
	if exec.Command("ip", "link", "show", nodeBridge).Run() == nil {
		left = append(left, "network interface: "+nodeBridge)
	}

	if _, err := os.Stat(dir); err == nil {
		left = append(left, "folder: "+dir)
	}
	return left
}

// lockNode holds a machine-wide lock for the node's lifetime (one bridge,
// one subnet); the kernel drops it when the suite's process dies.
func lockNode(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), nodeLock), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Minute)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			t.Fatal("another run's node has held the lock for 30 minutes")
		}
		time.Sleep(time.Second)
	}
	t.Cleanup(func() { f.Close() })
}

// reapLeftovers cleans nodes of earlier runs whose suite process is gone
// (a run killed before its reaper could finish).
func reapLeftovers(t *testing.T) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "nobackoff-node-*"))
	for _, d := range dirs {
		if base, ok := strings.CutSuffix(d, ".clean.log"); ok {
			if _, err := os.Stat(base); os.IsNotExist(err) {
				os.Remove(d) // the reaper's log of a run killed before it could read it
			}
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "pids", "suite.pid")); err == nil {
			var pid int
			if _, err := fmt.Sscan(string(b), &pid); err == nil && syscall.Kill(pid, 0) == nil {
				continue // still running (its reaper will clean it)
			}
		}
		if out, err := exec.Command("../hack/node-clean.sh", d).CombinedOutput(); err != nil {
			t.Logf("cleaning %s left by an earlier run: %v\n%s", d, err, out)
		}
	}
}

func (n *node) writeContainerdConfig(t *testing.T, pause string, registries []nodeRegistry) {
	t.Helper()
	for _, r := range registries {
		hostDir := filepath.Join(n.dir, "certs.d", r.host)
		if err := os.MkdirAll(hostDir, 0o755); err != nil {
			t.Fatal(err)
		}
		// No `server =` line: a 404 must not fall through to a host without the CA.
		n.write(t, filepath.Join("certs.d", r.host, "hosts.toml"), fmt.Sprintf(`[host."https://%s"]
  capabilities = ["pull", "resolve"]
  ca = %q
`, r.host, r.caFile))
	}
	n.write(t, "cni/10-nobackoff.conflist", fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "nobackoff",
  "plugins": [{
    "type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}
  }]
}
`, nodeBridge, nodeSubnet, filepath.Join(n.dir, "cni-ipam")))
	d := n.dir
	n.write(t, "containerd.toml", fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = %q
[ttrpc]
  address = %q
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = %q
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, d+"/containerd/root", d+"/containerd/state", n.sock, n.sock+".ttrpc", d+"/opt", pause,
		d+"/runc", d+"/cni", d+"/certs.d"))
}

func (n *node) writeKubeletConfig(t *testing.T) {
	t.Helper()
	n.write(t, "kubelet.yaml", fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://%s
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
evictionHard: {}
podLogsDir: %s
serializeImagePulls: false
registerNode: true
`, freePort(t), freePort(t), n.sock, filepath.Join(n.dir, "pod-logs")))
}
