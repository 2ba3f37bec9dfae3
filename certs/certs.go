package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Validity periods and the renewal window (CA 10 years, serving
// certificate 1 year, renewed 90 days ahead).
const (
	CAValidity      = 10 * 365 * 24 * time.Hour
	ServingValidity = 365 * 24 * time.Hour
	RenewBefore     = 90 * 24 * time.Hour
	// clockSkew back-dates certificates so that nodes whose clocks lag
	// accept them at once.
	clockSkew = 5 * time.Minute
)

// Keys of the Secret.
const (
	KeyCACert = "ca.crt"
	KeyCAKey  = "ca.key"
	KeyCert   = "tls.crt"
	KeyKey    = "tls.key"
)

// Bundle is the certificate material, PEM-encoded. CACert may hold more
// than one CA during a CA rollover: the newest first.
type Bundle struct {
	CACert, CAKey, Cert, Key []byte
}

// newKey returns a fresh P-256 key and a random serial number.
func newKey() (*ecdsa.PrivateKey, *big.Int, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return key, serial, err
}

// encodePair PEM-encodes a certificate and its key.
func encodePair(der []byte, key *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// newCA creates a self-signed CA valid from now.
func newCA(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, serial, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "nobackoff webhook CA"},
		NotBefore: now.Add(-clockSkew), NotAfter: now.Add(CAValidity),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return encodePair(der, key)
}

// issue signs a serving certificate for the DNS names with the CA.
func issue(caCertPEM, caKeyPEM []byte, dnsNames []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	ca, err := tls.X509KeyPair(firstPEM(caCertPEM), caKeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("CA key pair: %w", err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	key, serial, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(ServingValidity)
	if notAfter.After(caCert.NotAfter) {
		notAfter = caCert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: dnsNames[0]}, DNSNames: dnsNames,
		NotBefore: now.Add(-clockSkew), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, ca.PrivateKey)
	if err != nil {
		return nil, nil, err
	}
	return encodePair(der, key)
}

// firstPEM returns the first PEM block of data, re-encoded.
func firstPEM(data []byte) []byte {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil
	}
	return pem.EncodeToMemory(b)
}

// State says what a bundle needs.
type State int

const (
	// Valid: nothing to do.
	Valid State = iota
	// RenewServing: the serving certificate is in its renewal window, or
	// does not cover the DNS names: issue a new one from the same CA.
	RenewServing
	// Replace: unreadable, inconsistent or a CA near its end: start over
	// with a new CA (the old one is kept in the bundle while it is valid).
	Replace
)

// Inspect decides what a bundle needs at time now for the DNS names.
func Inspect(b *Bundle, dnsNames []string, now time.Time) (State, error) {
	caPair, err := tls.X509KeyPair(firstPEM(b.CACert), b.CAKey)
	if err != nil {
		return Replace, fmt.Errorf("CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caPair.Certificate[0])
	if err != nil {
		return Replace, fmt.Errorf("CA: %w", err)
	}
	if !ca.IsCA || now.Add(RenewBefore).After(ca.NotAfter) {
		return Replace, errors.New("CA is not a CA or is near its end")
	}
	pair, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		return RenewServing, fmt.Errorf("serving key pair: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return RenewServing, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range dnsNames {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now}); err != nil {
			return RenewServing, fmt.Errorf("serving certificate for %s: %w", name, err)
		}
	}
	if now.Add(RenewBefore).After(leaf.NotAfter) {
		return RenewServing, errors.New("serving certificate in its renewal window")
	}
	return Valid, nil
}

// Fresh creates a new bundle: a new CA and a serving certificate, keeping
// still-valid CAs of previous (an earlier bundle, may be nil) after the
// new one so that clients that trust them keep working during a rollover.
func Fresh(dnsNames []string, now time.Time, previous *Bundle) (*Bundle, error) {
	caCert, caKey, err := newCA(now)
	if err != nil {
		return nil, err
	}
	cert, key, err := issue(caCert, caKey, dnsNames, now)
	if err != nil {
		return nil, err
	}
	b := &Bundle{CACert: caCert, CAKey: caKey, Cert: cert, Key: key}
	if previous != nil {
		b.CACert = append(b.CACert, stillValidCAs(previous.CACert, now)...)
	}
	return b, nil
}

// Renew issues a new serving certificate from the bundle's CA.
func Renew(b *Bundle, dnsNames []string, now time.Time) (*Bundle, error) {
	cert, key, err := issue(b.CACert, b.CAKey, dnsNames, now)
	if err != nil {
		return nil, err
	}
	return &Bundle{CACert: b.CACert, CAKey: b.CAKey, Cert: cert, Key: key}, nil
}

// stillValidCAs returns the CA certificates in data that are unexpired.
func stillValidCAs(data []byte, now time.Time) []byte {
	var out bytes.Buffer
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			return out.Bytes()
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil && c.IsCA && now.Before(c.NotAfter) {
			_ = pem.Encode(&out, blk)
		}
	}
}
