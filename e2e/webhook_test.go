package e2e

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"

	"github.com/nobackoff/nobackoff/certs"
)

// joinCAs writes the registries' CA certificates into one file, for
// nobackoff's --registry-ca.
func joinCAs(t *testing.T, files ...string) string {
	t.Helper()
	var cas []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cas = append(cas, b...)
	}
	out := filepath.Join(t.TempDir(), "registries.pem")
	if err := os.WriteFile(out, cas, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// localhostCerts writes a fresh CA and serving certificate for localhost
// into a temporary folder (certs' file names) and returns the folder, the
// bundle and a pool trusting its CA.
func localhostCerts(t *testing.T) (string, *certs.Bundle, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	bundle, err := certs.Fresh([]string{"localhost"}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.WriteFiles(dir, bundle); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle.CACert)
	return dir, bundle, pool
}

// serveWebhook runs `nobackoff serve` with a certificate for localhost from
// the certs package, registers it through the chart's own webhook
// configuration (pointed at the local process) and waits until an apply
// in namespace gets its warning for badImage, a tag that does not exist.
func serveWebhook(t *testing.T, c *cluster, nobackoff, helm, caFile, namespace, badImage string) (*exec.Cmd, int) {
	t.Helper()
	dir, bundle, pool := localhostCerts(t)
	port := freePort(t)
	serveLog := filepath.Join(dir, "nobackoff.log")
	serve := startProcess(t, serveLog, nobackoff, "serve", "--host", "127.0.0.1", "--port", fmt.Sprint(port),
		"--tls-cert-file", filepath.Join(dir, certs.KeyCert), "--tls-key-file", filepath.Join(dir, certs.KeyKey),
		"--kubeconfig", c.kubeconfig, "--registry-ca", caFile, "--allow-loopback-registries",
		"--shutdown-delay", "0s", "--log-format", "text")
	waitHTTPS(t, "nobackoff", serveLog, fmt.Sprintf("https://localhost:%d/readyz", port), pool)

	out, err := exec.Command(helm, "template", "nobackoff", "../charts/nobackoff", "--namespace", "nobackoff",
		"--show-only", "templates/webhook.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := yaml.Unmarshal(out, &vwc); err != nil {
		t.Fatal(err)
	}
	for i := range vwc.Webhooks {
		path := *vwc.Webhooks[i].ClientConfig.Service.Path
		url := fmt.Sprintf("https://localhost:%d%s", port, path)
		vwc.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: bundle.CACert}
	}
	data, _ := json.Marshal(vwc)
	c.must(t, string(data), "apply", "-f", "-")

	// The webhook configuration takes effect asynchronously.
	waitFor(t, "webhook registration", serveLog, time.Minute, func() bool {
		r, _ := c.run(deployment("probe", badImage), "apply", "--dry-run=server", "-n", namespace, "-f", "-")
		return strings.Contains(r.stderr, "Warning: [image.tag-not-found]")
	})
	return serve, port
}
