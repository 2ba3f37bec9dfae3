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
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/nobackoff/nobackoff/internal/engine"
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
	srv, err := NewServer(engine.New(policy.NewCatalog(policy.Options{})), ServerOptions{
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

// TestServerStopUnderLoad stops the server while keep-alive clients post
// reviews without pause: from the stop signal on, answers close their
// connections, and no request that reached the server fails. Requests
// refused at connect time after the listener closed never left the client
// (behind a Service they go to another replica).
func TestServerStopUnderLoad(t *testing.T) {
	ts := startTestServer(t, time.Second)
	addr, pool, cancel, done := ts.addr, ts.pool, ts.stop, ts.done
	probe := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	waitFor(t, "readyz", func() bool {
		resp, err := probe.Get("https://" + addr + PathReadyz)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	review, err := os.ReadFile(filepath.Join("..", "testdata", "admission", "deployment-create.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sent, answered, closing, sentAndFailed atomic.Int64
	var firstFailure atomic.Value
	stopping := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			defer client.CloseIdleConnections()
			for {
				// Set on the transport's goroutines.
				var wrote, reused atomic.Bool
				trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) { wrote.Store(i.Err == nil) },
					GotConn: func(i httptrace.GotConnInfo) { reused.Store(i.Reused) }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
					http.MethodPost, "https://"+addr+PathWarn, bytes.NewReader(review))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if wrote.Load() {
					sent.Add(1)
				}
				if err != nil {
					if wrote.Load() {
						sentAndFailed.Add(1)
						firstFailure.CompareAndSwap(nil, fmt.Sprintf("%v (reused connection %v)", err, reused.Load()))
					}
					return // refused: the server has stopped listening
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					sentAndFailed.Add(1)
					firstFailure.CompareAndSwap(nil, resp.Status)
				}
				answered.Add(1)
				select {
				case <-stopping:
					if resp.Close {
						closing.Add(1)
					}
				default:
				}
			}
		}()
	}
	waitFor(t, "load", func() bool { return answered.Load() > 200 })
	close(stopping)
	cancel()
	select {
	case err := <-done:
		done <- err // for the cleanup
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("server did not stop")
	}
	wg.Wait()
	t.Logf("requests sent %d, answered %d, answered with Connection: close while stopping %d", sent.Load(), answered.Load(), closing.Load())
	if n := sentAndFailed.Load(); n > 0 {
		t.Errorf("%d requests that reached the server failed, first: %v", n, firstFailure.Load())
	}
	if closing.Load() == 0 {
		t.Error("no answer closed its connection while stopping")
	}
}

// TestServerLogsJSON: net/http's own messages (here a failed TLS
// handshake) reach the server's log, so a JSON log stays JSON.
func TestServerLogsJSON(t *testing.T) {
	ts := startTestServer(t, 0)
	logs := ts.logs
	waitFor(t, "the handshake failure in the log", func() bool {
		if conn, err := net.Dial("tcp", ts.addr); err == nil {
			fmt.Fprint(conn, "GET / HTTP/1.1\r\n\r\n") // plain HTTP on the TLS port
			_, _ = io.Copy(io.Discard, conn)
			conn.Close()
		}
		return strings.Contains(logs.String(), `"component":"http"`)
	})
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
}

// testServer is a Server on a free loopback port with a self-signed
// certificate and a JSON log in memory; it stops when the test ends.
type testServer struct {
	addr string
	pool *x509.CertPool
	logs *syncBuffer
	stop context.CancelFunc
	done chan error
}

func startTestServer(t *testing.T, delay time.Duration) *testServer {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ts := &testServer{pool: writeCert(t, certFile, keyFile, 1), logs: &syncBuffer{}, done: make(chan error, 1)}
	port := freePort(t)
	ts.addr = "127.0.0.1:" + strconv.Itoa(port)
	srv, err := NewServer(engine.New(policy.NewCatalog(policy.Options{})), ServerOptions{
		Host: "127.0.0.1", Port: port, CertFile: certFile, KeyFile: keyFile, ShutdownDelay: delay,
		Log: slog.New(slog.NewJSONHandler(ts.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.stop = cancel
	go func() { ts.done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ts.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ts
}

// syncBuffer is a bytes.Buffer safe for a logger and a test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
