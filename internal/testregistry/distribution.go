package testregistry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// Distribution is a real registry process (distribution's `registry`),
// serving TLS on loopback (or an address of the machine's) with a
// certificate from its own CA, optionally with htpasswd authentication.
type Distribution struct {
	// Host is 127.0.0.1:port, or the address StartDistributionOn was given
	// with the port.
	Host string
	// CAFile is the PEM file of the CA that signed its certificate.
	CAFile string
	// CAPool holds the same CA.
	CAPool *x509.CertPool
	cmd    *exec.Cmd
	log    string
	logf   *os.File
	bin    string
	dir    string
}

// RegistryBinary returns the registry binary the tests use, from
// NOBACKOFF_REGISTRY_BIN (set by `make test`). Without it the test is
// skipped, loudly; under CI it fails.
func RegistryBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("NOBACKOFF_REGISTRY_BIN")
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("NOBACKOFF_REGISTRY_BIN is not set: run the tests with `make test`, which builds the registry")
		}
		t.Skip("SKIPPED: NOBACKOFF_REGISTRY_BIN not set; `make test` builds distribution's registry and sets it")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("registry binary: %v", err)
	}
	return bin
}

// StartDistribution runs the registry until the test ends. users, when not
// nil, enables htpasswd authentication with those user/password pairs.
func StartDistribution(t testing.TB, bin string, users map[string]string) *Distribution {
	t.Helper()
	return StartDistributionOn(t, bin, users, "127.0.0.1")
}

// StartDistributionOn is StartDistribution listening on ip, an IP address
// of this machine (its certificate names it), so that pods reach the
// registry through their gateway where loopback would be their own.
func StartDistributionOn(t testing.TB, bin string, users map[string]string, ip string) *Distribution {
	t.Helper()
	addr := net.ParseIP(ip)
	if addr == nil {
		t.Fatalf("registry address %q is not an IP address", ip)
	}
	d := &Distribution{bin: bin, dir: t.TempDir()}
	d.log = filepath.Join(d.dir, "registry.log")
	d.CAFile = filepath.Join(d.dir, "ca.crt")
	d.CAPool = writeServingCert(t, d.CAFile, filepath.Join(d.dir, "tls.crt"), filepath.Join(d.dir, "tls.key"), addr)

	d.Host = net.JoinHostPort(ip, strconv.Itoa(FreePort(t, ip)))
	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	d.logf = logf
	t.Cleanup(func() { d.Stop(); logf.Close() })
	d.start(t, users)
	return d
}

// Restart stops the registry and starts it again at the same address with
// the same content, now with users (nil: no authentication): a password
// changed behind the pull secrets that hold the old one.
func (d *Distribution) Restart(t testing.TB, users map[string]string) {
	t.Helper()
	d.Stop()
	d.start(t, users)
}

// start writes the configuration, starts the process and waits until it
// answers.
func (d *Distribution) start(t testing.TB, users map[string]string) {
	t.Helper()
	auth := ""
	if users != nil {
		var lines []string
		for u, p := range users {
			h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, u+":"+string(h))
		}
		htpasswd := filepath.Join(d.dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: nobackoff-test\n    path: %s\n", htpasswd)
	}
	// The access log (one line per request, on stdout) is what Requests
	// counts.
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  tls:
    certificate: %s
    key: %s
%s`, filepath.Join(d.dir, "data"), d.Host, filepath.Join(d.dir, "tls.crt"), filepath.Join(d.dir, "tls.key"), auth)
	configFile := filepath.Join(d.dir, "config.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(d.bin, "serve", configFile)
	// Killed with the test process, even when that is killed itself.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d.cmd.Stdout, d.cmd.Stderr = d.logf, d.logf
	// The registry reports nothing anywhere unless configured to.
	d.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: d.CAPool}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("https://" + d.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(d.log)
			t.Fatalf("registry did not come up at %s: %v\n%s", d.Host, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Requests counts the requests the registry has answered, from its
// access log (the readiness probes of start included).
func (d *Distribution) Requests(t testing.TB) int {
	t.Helper()
	data, err := os.ReadFile(d.log)
	if err != nil {
		t.Fatal(err)
	}
	return len(accessLine.FindAll(data, -1))
}

// accessLine is a request line of the access log (combined log format).
var accessLine = regexp.MustCompile(`(?m)"(GET|HEAD|POST|PUT|PATCH|DELETE) /v2/[^"]* HTTP/[0-9.]+" [0-9]{3} `)

// Stop ends the registry process; lookups then find nothing listening.
func (d *Distribution) Stop() {
	if d.cmd != nil && d.cmd.Process != nil && d.cmd.ProcessState == nil {
		_ = d.cmd.Process.Kill()
		_, _ = d.cmd.Process.Wait()
	}
}

// Transport trusts the registry's CA.
func (d *Distribution) Transport() http.RoundTripper {
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: d.CAPool}}
}

// writeServingCert writes a CA and a serving certificate for ip signed by
// it, and returns a pool holding the CA.
func writeServingCert(t testing.TB, caFile, certFile, keyFile string, ip net.IP) *x509.CertPool {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nobackoff test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip.String()},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{ip}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{
		caFile: {Type: "CERTIFICATE", Bytes: caDER}, certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kder},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool
}

// Push writes an image as repoTag, authenticating with auth.
func (d *Distribution) Push(t testing.TB, auth authn.Authenticator, repoTag string, img v1.Image) {
	t.Helper()
	ref, err := name.ParseReference(d.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(d.Transport()), remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
}

// PushIndex writes a multi-platform index of images with cfg as repoTag.
func (d *Distribution) PushIndex(t testing.TB, auth authn.Authenticator, repoTag string, cfg v1.Config, platforms ...v1.Platform) {
	t.Helper()
	ref, err := name.ParseReference(d.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, Index(t, cfg, platforms...), remote.WithTransport(d.Transport()), remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
}
