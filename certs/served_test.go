package certs

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// TestRenewedCertificateServedWithoutRestart: self mode renews inside the
// window, writes the files, and a server using the same reloading as
// `nobackoff serve` presents the new certificate on the next handshake.
func TestRenewedCertificateServedWithoutRestart(t *testing.T) {
	now := time.Now()
	store := &memStore{}
	dir := t.TempDir()
	s := &SelfManaged{Manager: manager(store, &now), Dir: dir, Interval: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := certwatcher.New(filepath.Join(dir, KeyCert), filepath.Join(dir, KeyKey))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = w.Start(ctx) }()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: w.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	served := func() string {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return ""
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	first := served()
	if first == "" {
		t.Fatal("nothing served")
	}
	now = now.Add(ServingValidity - RenewBefore + time.Hour) // inside the renewal window
	if err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ := store.Get(ctx)
	renewed := leafOf(t, bundleOf(stored)).SerialNumber.String()
	if renewed == first {
		t.Fatal("not renewed")
	}
	deadline := time.Now().Add(20 * time.Second)
	for served() != renewed {
		if time.Now().After(deadline) {
			t.Fatalf("still serving %s, want the renewed %s", served(), renewed)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
