package webhook

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/nobackoff/nobackoff/policy"
)

// writeCert writes a self-signed serving certificate for 127.0.0.1 with the
// given serial and returns its pool.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "nobackoff-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Write to temporary names and rename, as a Secret volume update does.
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(file+".tmp", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// servedSerial connects and returns the serial of the certificate served.
func servedSerial(addr string) (int64, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServer(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	pool := writeCert(t, certFile, keyFile, 1)
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	srv, err := NewServer(NewEngine(policy.NewCatalog(policy.Options{})), ServerOptions{
		Host: "127.0.0.1", Port: port, CertFile: certFile, KeyFile: keyFile, ShutdownDelay: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(path string) (int, string) {
		resp, err := client.Get("https://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "readyz", func() bool { code, _ := get(PathReadyz); return code == http.StatusOK })
	if code, _ := get(PathHealthz); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}

	review, err := os.ReadFile(filepath.Join("..", "testdata", "admission", "deployment-create.json"))
	if err != nil {
		t.Fatal(err)
	}
	postReview := func(path string, body []byte) (*http.Response, *admissionv1.AdmissionReview) {
		resp, err := client.Post("https://"+addr+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out admissionv1.AdmissionReview
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
		}
		return resp, &out
	}

	t.Run("warn path", func(t *testing.T) {
		_, out := postReview(PathWarn, review)
		if !out.Response.Allowed || len(out.Response.Warnings) == 0 {
			t.Fatalf("warn path: allowed=%v warnings=%v", out.Response.Allowed, out.Response.Warnings)
		}
	})
	t.Run("enforce path", func(t *testing.T) {
		_, out := postReview(PathEnforce, review)
		if out.Response.Allowed || out.Response.Result.Code != http.StatusForbidden {
			t.Fatalf("enforce path: allowed=%v result=%+v", out.Response.Allowed, out.Response.Result)
		}
	})
	t.Run("bad body", func(t *testing.T) {
		resp, _ := postReview(PathWarn, []byte(`{"hello":"world"}`))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("tls 1.1 refused", func(t *testing.T) {
		_, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11})
		if err == nil {
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
	t.Run("metrics", func(t *testing.T) {
		code, body := get(PathMetrics)
		if code != http.StatusOK {
			t.Fatalf("metrics %d", code)
		}
		for _, want := range []string{
			`nobackoff_reviews_total{kind="Deployment",verdict="warned"} 1`,
			`nobackoff_reviews_total{kind="Deployment",verdict="denied"} 1`,
			`nobackoff_review_duration_seconds_bucket{mode="warn",le="10"} 1`,
			`nobackoff_findings_total{check="resources.heap-exceeds-limit",severity="error"} 2`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
	t.Run("certificate reload", func(t *testing.T) {
		pool = writeCert(t, certFile, keyFile, 2)
		waitFor(t, "the renewed certificate to be served", func() bool {
			s, err := servedSerial(addr)
			return err == nil && s == 2
		})
	})
	t.Run("shutdown drains in-flight reviews", func(t *testing.T) {
		// Start a review whose body is only half sent when the stop
		// signal arrives; it must still be answered.
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		half := len(review) / 2
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", PathEnforce, addr, len(review))
		if _, err := conn.Write(review[:half]); err != nil {
			t.Fatal(err)
		}
		cancel()
		// Unready while the shutdown delay runs, then stopped.
		insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := insecure.Get("https://" + addr + PathReadyz)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("readyz during shutdown delay: %d", resp.StatusCode)
		}
		time.Sleep(500 * time.Millisecond) // past the delay: the server is draining
		if _, err := conn.Write(review[half:]); err != nil {
			t.Fatal(err)
		}
		inflight, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("in-flight review dropped: %v", err)
		}
		var out admissionv1.AdmissionReview
		if err := json.NewDecoder(inflight.Body).Decode(&out); err != nil || inflight.StatusCode != http.StatusOK || out.Response.Allowed {
			t.Fatalf("in-flight review: status %d, err %v, response %+v", inflight.StatusCode, err, out.Response)
		}
		select {
		case err := <-done:
			done <- err
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("server did not stop")
		}
		if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			t.Error("still accepting connections after shutdown")
		}
	})
}
