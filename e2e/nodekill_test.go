package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// TestNodeKilled: a run killed outright (SIGKILL, no cleanup of its own)
// while its node runs pods leaves nothing behind. The node runs in a
// child process, this test binary again (TestNodeChild); the child reports
// its node's folder once a pod runs, and is killed.
func TestNodeKilled(t *testing.T) {
	tool(t, "NOBACKOFF_K8S_DIR")
	testregistry.RegistryBinary(t)
	nodeSkip(t)
	report := filepath.Join(t.TempDir(), "node-dir")
	child := exec.Command(os.Args[0], "-test.run", "^TestNodeChild$", "-test.v")
	child.Env = append(os.Environ(), "NOBACKOFF_NODE_CHILD="+report)
	log := filepath.Join(t.TempDir(), "child.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	child.Stdout, child.Stderr = f, f
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = child.Wait(); close(exited) }()
	t.Cleanup(func() { _ = child.Process.Kill() })

	var dir string
	waitFor(t, "the child's node and its pod", log, 4*time.Minute, func() bool {
		select {
		case <-exited:
			return true // waitFor then reads an empty report and fails below
		default:
		}
		b, _ := os.ReadFile(report)
		dir = strings.TrimSpace(string(b))
		return dir != ""
	})
	if dir == "" {
		out, _ := os.ReadFile(log)
		t.Fatalf("the child ended before its node ran a pod:\n%s", out)
	}
	created, _ := os.ReadFile(filepath.Join(dir, "created-paths"))
	shims, _ := exec.Command("pgrep", "-f", "--", dir+"/").Output()
	if len(strings.Fields(string(shims))) == 0 {
		t.Fatal("no process of the node is running: nothing to test")
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited

	deadline := time.Now().Add(2 * time.Minute)
	for {
		left := nodeLeftovers(dir)
		for _, p := range strings.Fields(string(created)) {
			if _, err := os.Stat(p); err == nil {
				left = append(left, p+", created by the node")
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 minutes after the run was killed, still there:\n%s", strings.Join(left, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	os.Remove(dir + ".clean.log")
}

// TestNodeChild is TestNodeKilled's child: a control plane, a registry and
// a node running one pod; it reports the node's folder and waits to be
// killed.
func TestNodeChild(t *testing.T) {
	report := os.Getenv("NOBACKOFF_NODE_CHILD")
	if report == "" {
		t.Skip("the child of TestNodeKilled")
	}
	k8sDir := tool(t, "NOBACKOFF_K8S_DIR")
	c := startCluster(t, k8sDir)
	reg := testregistry.StartDistribution(t, testregistry.RegistryBinary(t), nil)
	app := buildTestApp(t)
	pushPause(t, reg, app)
	push(t, reg, authn.Anonymous, "truth/app:1.0", app.index(t, v1.Config{Entrypoint: []string{"/app"}, User: "1000"}, amd64, arm64))
	n := startNode(t, c, k8sDir, pauseImage(reg), []nodeRegistry{{reg.Host, reg.CAFile}})
	c.must(t, "", "create", "namespace", "kill")
	waitFor(t, "the default ServiceAccount", n.logs["kube-controller-manager"], time.Minute, func() bool {
		r, _ := c.run("", "get", "serviceaccount", "default", "-n", "kill")
		return r.code == 0
	})
	c.must(t, deployment("app", reg.Host+"/truth/app:1.0"), "apply", "-n", "kill", "-f", "-")
	waitFor(t, "a running pod", n.logs["kubelet"], 2*time.Minute, func() bool {
		r, _ := c.run("", "get", "pods", "-n", "kill", "-o", "jsonpath={.items[*].status.phase}")
		return r.stdout == "Running"
	})
	if err := os.WriteFile(report, []byte(n.dir), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Minute) // until killed
	t.Fatal("TestNodeKilled did not kill its child")
}
