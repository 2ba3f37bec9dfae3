package registrycheck

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"

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
// credentials or URLs with tokens.
func cause(err error) string {
	var aerr *AddressError
	var lerr *ContentTooLargeError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	switch {
	case errors.As(err, &aerr):
		return aerr.Error()
	case errors.As(err, &lerr):
		return lerr.Error()
	case errors.As(err, &uerr):
		return "TLS: certificate signed by an unknown authority"
	case errors.As(err, &herr):
		return "TLS: " + herr.Error()
	case errors.As(err, &cerr):
		return "TLS: " + cerr.Error()
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
