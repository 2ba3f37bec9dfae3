package registrycheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

var serial atomic.Int64

// certTemplate is a certificate valid from notBefore to notAfter.
func certTemplate(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
	}
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	tmpl := certTemplate(cn, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	return issueCA(t, tmpl, nil)
}

// issueCA makes a CA from tmpl, signed by parent (self-signed when nil).
func issueCA(t *testing.T, tmpl *x509.Certificate, parent *testCA) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// serving issues a serving certificate for the names (host names or IP
// addresses), valid from notBefore to notAfter; chain is sent after it.
func (ca *testCA) serving(t *testing.T, notBefore, notAfter time.Time, names []string, chain ...*testCA) tls.Certificate {
	t.Helper()
	return ca.issue(t, servingTemplate(notBefore, notAfter, names), chain...)
}

func servingTemplate(notBefore, notAfter time.Time, names []string) *x509.Certificate {
	tmpl := certTemplate("registry", notBefore, notAfter)
	tmpl.KeyUsage, tmpl.ExtKeyUsage = x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return tmpl
}

// issue signs tmpl; chain is sent after it.
func (ca *testCA) issue(t *testing.T, tmpl *x509.Certificate, chain ...*testCA) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	out := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.cert.Raw)
	}
	return out
}

// tlsRegistry is go-containerregistry's in-memory registry served over TLS
// on loopback with the certificate in cert, which a test may change: every
// request is a new connection, so a new handshake.
type tlsRegistry struct {
	Host string
	cert atomic.Pointer[tls.Certificate]
}

func newTLSRegistry(t *testing.T, cert tls.Certificate) *tlsRegistry {
	t.Helper()
	r := &tlsRegistry{}
	r.cert.Store(&cert)
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	// httptest's own certificate would win over GetCertificate for
	// clients that send no server name (IP addresses).
	srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{Certificates: []tls.Certificate{*r.cert.Load()}, MinVersion: tls.VersionTLS12}, nil
	}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes
	srv.Config.SetKeepAlivesEnabled(false)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "https://")
	return r
}

// push writes an image whatever the certificate.
func (r *tlsRegistry) push(t *testing.T, repoTag string) {
	t.Helper()
	ref, err := name.ParseReference(r.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the test's own push
	if err := remote.Write(ref, testregistry.Image(t, v1.Config{Entrypoint: []string{"/app"}}, amd64), remote.WithTransport(tr)); err != nil {
		t.Fatal(err)
	}
}

func TestResolveRefusedCertificates(t *testing.T) {
	ca := newTestCA(t, "nobackoff test CA")
	untrusted := newTestCA(t, "Untrusted Corp CA")
	// Certificates hold times to the second, in UTC.
	now := time.Now().UTC().Truncate(time.Second)
	before, after := now.Add(-time.Hour), now.Add(time.Hour)
	expiredOn, validFrom := now.Add(-24*time.Hour), now.Add(48*time.Hour)
	loopback := []string{"127.0.0.1"}
	oldCA := issueCA(t, func() *x509.Certificate {
		c := certTemplate("Old Intermediate CA", now.Add(-72*time.Hour), expiredOn)
		c.IsCA, c.BasicConstraintsValid, c.KeyUsage = true, true, x509.KeyUsageCertSign
		return c
	}(), ca)

	cases := []struct {
		name string
		cert tls.Certificate
		// want is nil for a certificate that is accepted.
		want *CertificateError
	}{
		{"trusted", ca.serving(t, before, after, loopback), nil},
		{"expired", ca.serving(t, now.Add(-72*time.Hour), expiredOn, loopback),
			&CertificateError{Problem: CertificateExpired, Time: expiredOn}},
		{"not yet valid", ca.serving(t, validFrom, validFrom.Add(time.Hour), loopback),
			&CertificateError{Problem: CertificateNotYetValid, Time: validFrom}},
		{"unknown authority", untrusted.serving(t, before, after, loopback),
			&CertificateError{Problem: CertificateUnknownAuthority, Issuer: "Untrusted Corp CA"}},
		{"other host names", ca.serving(t, before, after, []string{"a.example", "b.example"}),
			&CertificateError{Problem: CertificateWrongHost, Name: "127.0.0.1", ValidFor: []string{"a.example", "b.example"}}},
		{"client certificate", ca.issue(t, func() *x509.Certificate {
			c := servingTemplate(before, after, loopback)
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			return c
		}()), &CertificateError{Problem: CertificateInvalid, Detail: "certificate specifies an incompatible key usage"}},
		{"expired intermediate", oldCA.serving(t, before, after, loopback, oldCA),
			&CertificateError{Problem: CertificateExpired, Time: expiredOn, Authority: "Old Intermediate CA"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := newTLSRegistry(t, c.cert)
			reg.push(t, "team/app:1.0")
			// Credentials that must not show in what is reported.
			kr := keyringOf(t, pullSecret("regcred", reg.Host, "ci-user", "hunter2-s3cret"))
			res := newTestResolver(Options{RootCAs: ca.pool}).Resolve(context.Background(), reg.Host+"/team/app:1.0", kr)
			if c.want == nil {
				if res.Outcome != OK || res.TLS != nil {
					t.Fatalf("trusted certificate: %s (TLS %+v)", res.Attempt, res.TLS)
				}
				return
			}
			want := *c.want
			want.Host = reg.Host
			if res.Outcome != Unreachable || res.Outcome.Conclusive() || res.Status != 0 || res.TLS == nil {
				t.Fatalf("got %s (TLS %+v), want unreachable with a certificate problem", res.Attempt, res.TLS)
			}
			if !reflect.DeepEqual(*res.TLS, want) {
				t.Fatalf("certificate problem\n got %+v\nwant %+v", *res.TLS, want)
			}
			if res.Cause != res.TLS.Error() || !strings.HasPrefix(res.Cause, reg.Host+": TLS certificate") {
				t.Errorf("cause %q, want the certificate problem %q", res.Cause, res.TLS.Error())
			}
			if want.Problem == CertificateWrongHost && !strings.Contains(res.Cause, "a.example, b.example") {
				t.Errorf("cause %q does not list the certificate's names", res.Cause)
			}
			for _, s := range []string{res.Cause, res.Attempt.String()} {
				if strings.Contains(s, "hunter2") || strings.Contains(s, "ci-user") {
					t.Errorf("credentials in %q", s)
				}
			}
			t.Logf("%s", res.Cause)
		})
	}
}

// A certificate refused while reading content the HEAD found is named the
// same way.
func TestInspectRefusedCertificate(t *testing.T) {
	ca := newTestCA(t, "nobackoff test CA")
	now := time.Now().UTC().Truncate(time.Second)
	reg := newTLSRegistry(t, ca.serving(t, now.Add(-time.Hour), now.Add(time.Hour), []string{"127.0.0.1"}))
	reg.push(t, "team/app:1.0")
	r := newTestResolver(Options{RootCAs: ca.pool})
	ctx := context.Background()
	res := r.Resolve(ctx, reg.Host+"/team/app:1.0", nil)
	if res.Outcome != OK {
		t.Fatalf("%s", res.Attempt)
	}
	expiredOn := now.Add(-time.Hour)
	cert := ca.serving(t, now.Add(-2*time.Hour), expiredOn, []string{"127.0.0.1"})
	reg.cert.Store(&cert)
	_, err := r.Inspect(ctx, res, []Platform{{OS: "linux", Architecture: "amd64"}}, true)
	var ierr *InspectError
	if !errors.As(err, &ierr) {
		t.Fatalf("got %v, want an *InspectError", err)
	}
	want := CertificateError{Host: reg.Host, Problem: CertificateExpired, Time: expiredOn}
	if ierr.Outcome != Unreachable || ierr.TLS == nil || !reflect.DeepEqual(*ierr.TLS, want) {
		t.Fatalf("got %s %+v, want unreachable with %+v", ierr.Outcome, ierr.TLS, want)
	}
}

func TestCertificateErrorText(t *testing.T) {
	day := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	many := []string{"a.example", "b.example", "c", "d", "e", "f", "g", "h", "i", "j"}
	cases := []struct {
		e    CertificateError
		want string
	}{
		{CertificateError{Host: "registry.example.com:5000", Problem: CertificateExpired, Time: day},
			"registry.example.com:5000: TLS certificate expired on 2026-01-02"},
		{CertificateError{Host: "r:5000", Problem: CertificateExpired, Time: day, Authority: "Old CA"},
			`r:5000: TLS certificate of CA "Old CA" expired on 2026-01-02`},
		{CertificateError{Host: "r", Problem: CertificateNotYetValid, Time: day},
			"r: TLS certificate is not valid before 2026-01-02"},
		{CertificateError{Host: "r", Problem: CertificateUnknownAuthority, Issuer: "Corp CA"},
			`r: TLS certificate signed by an unknown authority "Corp CA" (trust its CA with --registry-ca, or the chart's registries.caBundle)`},
		{CertificateError{Host: "r", Problem: CertificateWrongHost, Name: "registry.example.com", ValidFor: []string{"a.example", "b.example"}},
			"r: TLS certificate is valid for a.example, b.example, not registry.example.com"},
		{CertificateError{Host: "r", Problem: CertificateWrongHost, Name: "r", ValidFor: many},
			"r: TLS certificate is valid for a.example, b.example, c, d, e, f, g, h and 2 more, not r"},
		{CertificateError{Host: "r", Problem: CertificateInvalid, Detail: "certificate specifies an incompatible key usage"},
			"r: TLS certificate refused: certificate specifies an incompatible key usage"},
		{CertificateError{Host: "r", Problem: CertificateWrongHost, Name: "r"},
			"r: TLS certificate names no host (the legacy Common Name is not used), not r"},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
	if got := hostName("evil.example,\nWarning: fake"); got != `"evil.example,\nWarning: fake"` {
		t.Errorf("hostile name listed as %s", got)
	}
}
