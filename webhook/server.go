package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Paths served by the admission server.
const (
	PathWarn    = "/validate/warn"
	PathEnforce = "/validate/enforce"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathMetrics = "/metrics"
)

// ServerOptions configure the admission server.
type ServerOptions struct {
	// Host and Port to listen on; Host empty means every address.
	Host string
	Port int
	// CertFile and KeyFile are the serving certificate and key in PEM.
	// They are re-read when they change on disk.
	CertFile, KeyFile string
	// ShutdownDelay keeps serving, unready, for this long after the stop
	// signal so the Service's endpoints drop the pod before it stops
	// accepting connections. In-flight reviews are then drained.
	ShutdownDelay time.Duration
	Handler       HandlerOptions
	Log           *slog.Logger
	// Prepare, when set, runs before the server turns ready (e.g. waiting
	// for cluster caches); an error stops the server.
	Prepare func(ctx context.Context) error
	// Collectors are registered with the server's metrics.
	Collectors []prometheus.Collector
	// Upkeep, when set, runs beside the server until it stops (e.g. the
	// self-managed certificates' renewal loop).
	Upkeep func(ctx context.Context)
}

// Server is the HTTPS admission server.
type Server struct {
	opts    ServerOptions
	engine  *Engine
	metrics *Metrics
	log     *slog.Logger
	ready   atomic.Bool
	watcher *certwatcher.CertWatcher
	inner   crwebhook.Server
}

// NewServer loads the certificate and prepares the routes. It fails when
// the certificate or key cannot be read.
func NewServer(e *Engine, o ServerOptions) (*Server, error) {
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("a certificate file and a key file are required")
	}
	w, err := certwatcher.New(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading serving certificate: %w", err)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: o, engine: e, metrics: NewMetrics(), log: log, watcher: w}
	for _, c := range o.Collectors {
		if err := s.metrics.registry.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	s.inner = crwebhook.NewServer(crwebhook.Options{
		Host:       o.Host,
		Port:       o.Port,
		WebhookMux: mux,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			c.MinVersion = tls.VersionTLS12
			c.GetCertificate = w.GetCertificate
			// HTTP/2 is not needed for admission and widens the attack
			// surface (rapid reset); the API server speaks HTTP/1.1 too.
			c.NextProtos = []string{"http/1.1"}
		}},
	})
	s.inner.Register(PathWarn, NewHandler(e, Warn, o.Handler, s.metrics, log))
	s.inner.Register(PathEnforce, NewHandler(e, Enforce, o.Handler, s.metrics, log))
	mux.HandleFunc(PathHealthz, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc(PathReadyz, s.readyz)
	mux.Handle(PathMetrics, s.metrics.Handler())
	return s, nil
}

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if err := s.inner.StartedChecker()(r); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// Run serves until ctx is done, then turns unready, waits ShutdownDelay and
// drains in-flight reviews before returning.
func (s *Server) Run(ctx context.Context) error {
	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go func() {
		if err := s.watcher.Start(serveCtx); err != nil {
			s.log.Error("certificate watcher stopped", "error", err)
		}
	}()
	if s.opts.Upkeep != nil {
		go s.opts.Upkeep(serveCtx)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.inner.Start(serveCtx) }()
	if s.opts.Prepare != nil {
		if err := s.opts.Prepare(ctx); err != nil {
			stop()
			<-errc
			return err
		}
	}
	s.ready.Store(true)
	s.log.Info("serving", "host", s.opts.Host, "port", s.opts.Port, "paths", []string{PathWarn, PathEnforce})
	select {
	case err := <-errc:
		s.ready.Store(false)
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	s.log.Info("stopping: unready, then draining", "delay", s.opts.ShutdownDelay.String())
	select {
	case <-time.After(s.opts.ShutdownDelay):
	case err := <-errc:
		return err
	}
	stop()
	err := <-errc
	s.log.Info("stopped")
	return err
}
