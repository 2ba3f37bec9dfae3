package registrycheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Outcome is the closed set of answers a registry lookup can give.
type Outcome string

// Outcomes. OK, TagNotFound, RepositoryNotFound, Unauthorized and Forbidden
// are conclusive: the kubelet would meet the same answer. The others are
// inconclusive: the kubelet may still succeed.
const (
	OK                 Outcome = "ok"
	TagNotFound        Outcome = "tag-not-found"
	RepositoryNotFound Outcome = "repository-not-found"
	Unauthorized       Outcome = "unauthorized"
	Forbidden          Outcome = "forbidden"
	RateLimited        Outcome = "rate-limited"
	Unreachable        Outcome = "unreachable"
	TimedOut           Outcome = "timed-out"
)

// Conclusive reports whether the outcome predicts the kubelet's.
func (o Outcome) Conclusive() bool {
	switch o {
	case OK, TagNotFound, RepositoryNotFound, Unauthorized, Forbidden:
		return true
	}
	return false
}

// classify maps a lookup error to an outcome and the HTTP status behind it
// (0 when there was no response). HEAD responses have no body, so registry
// answers are classified by status code alone.
func classify(err error) (Outcome, int) {
	if certificateProblem(err) != nil {
		// Before the status: on loopback and private addresses
		// go-containerregistry also tries plain HTTP, which a TLS server
		// answers with 400.
		return Unreachable, 0
	}
	var lerr *ContentTooLargeError
	if errors.As(err, &lerr) {
		// Content no real image has: the registry answered, but not with
		// anything a node could pull.
		return Unreachable, 0
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch s := terr.StatusCode; {
		case s == http.StatusUnauthorized:
			return Unauthorized, s
		case s == http.StatusForbidden:
			return Forbidden, s
		case s == http.StatusNotFound:
			return TagNotFound, s // refined to RepositoryNotFound by a tag listing
		case s == http.StatusTooManyRequests:
			return RateLimited, s
		case s == http.StatusRequestTimeout || s == http.StatusGatewayTimeout:
			return TimedOut, s
		default:
			return Unreachable, s
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return TimedOut, 0
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return TimedOut, 0
	}
	return Unreachable, 0
}

// cause describes an inconclusive lookup's error for people, without
// credentials or URLs with tokens. host is the registry asked.
func cause(err error, host string) string {
	if cerr := certificateError(err, host); cerr != nil {
		return cerr.Error()
	}
	var aerr *AddressError
	var lerr *ContentTooLargeError
	switch {
	case errors.As(err, &aerr):
		return aerr.Error()
	case errors.As(err, &lerr):
		return lerr.Error()
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return http.StatusText(terr.StatusCode)
	}
	var oerr *net.OpError
	if errors.As(err, &oerr) && oerr.Err != nil {
		return oerr.Op + ": " + oerr.Err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within the lookup budget"
	}
	return err.Error()
}

// CertificateProblem is why a registry's TLS certificate was refused.
type CertificateProblem string

// Certificate problems. A lookup that meets one is Unreachable, so
// inconclusive: the nodes may trust a CA that nobackoff does not, or keep
// another clock.
const (
	// CertificateExpired: the certificate (or a CA's in its chain) expired.
	CertificateExpired CertificateProblem = "certificate-expired"
	// CertificateNotYetValid: its validity starts in the future.
	CertificateNotYetValid CertificateProblem = "certificate-not-yet-valid"
	// CertificateUnknownAuthority: signed by a CA nobackoff does not trust
	// (self-signed included).
	CertificateUnknownAuthority CertificateProblem = "certificate-unknown-authority"
	// CertificateWrongHost: valid for other host names or addresses.
	CertificateWrongHost CertificateProblem = "certificate-wrong-host"
	// CertificateInvalid: refused for another reason (key usage, name
	// constraints, an insecure signature algorithm...).
	CertificateInvalid CertificateProblem = "certificate-invalid"
)

// CertificateError describes a registry TLS certificate that was refused.
// Its fields come from the certificate and the registry's address: never
// from credentials.
type CertificateError struct {
	// Host is the host[:port] whose certificate was refused: the registry
	// asked, or the server it sent the lookup to (a token service).
	Host    string
	Problem CertificateProblem
	// Time is when the certificate expired (CertificateExpired) or becomes
	// valid (CertificateNotYetValid).
	Time time.Time
	// Authority names the intermediate CA certificate, sent by the
	// registry, that expired or is not yet valid; empty when it is the
	// registry's own certificate.
	Authority string
	// Issuer names the untrusted CA (CertificateUnknownAuthority).
	Issuer string
	// Name is the host name or address verified, and ValidFor the names
	// and addresses the certificate holds (CertificateWrongHost).
	Name     string
	ValidFor []string
	// Detail is the verifier's reason (CertificateInvalid).
	Detail string
}

// maxValidFor bounds the names listed in a message: a certificate may hold
// hundreds.
const maxValidFor = 8

func (e *CertificateError) Error() string {
	prefix := e.Host + ": TLS certificate"
	if e.Authority != "" {
		prefix += " of CA " + strconv.QuoteToASCII(e.Authority)
	}
	switch e.Problem {
	case CertificateExpired:
		return prefix + " expired on " + e.Time.UTC().Format(time.DateOnly)
	case CertificateNotYetValid:
		return prefix + " is not valid before " + e.Time.UTC().Format(time.DateOnly)
	case CertificateUnknownAuthority:
		s := prefix + " signed by an unknown authority"
		if e.Issuer != "" {
			s += " " + strconv.QuoteToASCII(e.Issuer)
		}
		return s + " (trust its CA with --registry-ca, or the chart's registries.caBundle)"
	case CertificateWrongHost:
		if len(e.ValidFor) == 0 {
			return prefix + " names no host (the legacy Common Name is not used), not " + e.Name
		}
		names := e.ValidFor
		more := ""
		if len(names) > maxValidFor {
			names, more = names[:maxValidFor], fmt.Sprintf(" and %d more", len(names)-maxValidFor)
		}
		return prefix + " is valid for " + strings.Join(names, ", ") + more + ", not " + e.Name
	}
	return prefix + " refused: " + e.Detail
}

// certificateError finds a refused certificate in a lookup's error; nil
// when there is none. host is the registry asked, reported unless the
// failed request went elsewhere.
func certificateError(err error, host string) *CertificateError {
	cerr := certificateProblem(err)
	if cerr == nil {
		return nil
	}
	cerr.Host = printable(host, 260)
	var uerr *url.Error
	if errors.As(err, &uerr) && certificateProblem(uerr.Err) != nil {
		// Host only: no path or query (tokens), and url.URL.Host holds no
		// user information.
		if u, perr := url.Parse(uerr.URL); perr == nil && u.Host != "" {
			cerr.Host = printable(u.Host, 260)
		}
	}
	return cerr
}

// certificateProblem classifies a certificate verification error, leaving
// Host empty. crypto/tls wraps them in a *tls.CertificateVerificationError;
// go-containerregistry's parallel HTTPS and HTTP pings join errors in a type
// that answers errors.As.
func certificateProblem(err error) *CertificateError {
	if err == nil {
		return nil
	}
	var verr *tls.CertificateVerificationError
	errors.As(err, &verr)
	var ierr x509.CertificateInvalidError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	switch {
	case errors.As(err, &ierr) && ierr.Reason == x509.Expired && ierr.Cert != nil:
		c := ierr.Cert
		e := &CertificateError{Problem: CertificateExpired, Time: c.NotAfter}
		if time.Now().Before(c.NotBefore) {
			e.Problem, e.Time = CertificateNotYetValid, c.NotBefore
		}
		if verr != nil && len(verr.UnverifiedCertificates) > 0 && !c.Equal(verr.UnverifiedCertificates[0]) {
			// An intermediate CA's the registry sent.
			e.Authority = certName(c.Subject.CommonName, c.Subject.String())
		}
		return e
	case errors.As(err, &uerr):
		e := &CertificateError{Problem: CertificateUnknownAuthority}
		if uerr.Cert != nil {
			e.Issuer = certName(uerr.Cert.Issuer.CommonName, uerr.Cert.Issuer.String())
		}
		return e
	case errors.As(err, &herr):
		e := &CertificateError{Problem: CertificateWrongHost, Name: hostName(herr.Host)}
		if c := herr.Certificate; c != nil {
			for _, n := range c.DNSNames {
				e.ValidFor = append(e.ValidFor, hostName(n))
			}
			for _, ip := range c.IPAddresses {
				e.ValidFor = append(e.ValidFor, ip.String())
			}
		}
		return e
	case errors.As(err, &ierr):
		return &CertificateError{Problem: CertificateInvalid, Detail: detail(ierr)}
	case verr != nil && verr.Err != nil:
		return &CertificateError{Problem: CertificateInvalid, Detail: detail(verr.Err)}
	}
	return nil
}

// detail is the verifier's reason for refusing a certificate.
func detail(err error) string {
	return printable(strings.TrimPrefix(err.Error(), "x509: "), 300)
}

// certName is a certificate name's common name, or its whole
// distinguished name without one, bounded (messages quote it).
func certName(cn, dn string) string {
	if cn == "" {
		cn = dn
	}
	if len(cn) > 100 {
		cn = cn[:100] + "..."
	}
	return cn
}

// hostName is a host name from a certificate as listed in a message:
// quoted unless it holds only what host names and addresses do, so that a
// comma or a space cannot blur the list.
func hostName(s string) string {
	if len(s) > 260 {
		s = s[:260] + "..."
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-_*:[]", c) >= 0) {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}

// printable bounds a string a registry chose (names in its certificate)
// and quotes it if it holds anything but printable ASCII, so that it can
// neither forge nor break a message line.
func printable(s string, max int) string {
	if len(s) > max {
		s = s[:max] + "..."
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}
