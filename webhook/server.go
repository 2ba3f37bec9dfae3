package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"

	"github.com/nobackoff/nobackoff/internal/engine"
)

// Paths served by the admission server.
const (
	PathWarn    = "/validate/warn"
	PathEnforce = "/validate/enforce"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathMetrics = "/metrics"
)

// Connection settings of the admission server.
const (
	// readHeaderTimeout bounds a client that opens a connection and
	// trickles its request line and headers.
	readHeaderTimeout = 10 * time.Second
	// idleTimeout is longer than the API server's own idle timeout for
	// webhook connections (90 s, Go's default), so that it is always the
	// client that closes an idle connection. A server closing one races
	// with a request the client is sending on it, which then fails: POSTs
	// are not retried.
	idleTimeout = 120 * time.Second
	// maxHeaderBytes: an AdmissionReview carries a handful of headers.
	maxHeaderBytes = 64 << 10
	// drainTimeout bounds how long reviews under way may take to finish
	// once the server stops listening: longer than the chart's webhook
	// timeout (10 s), within the pod's termination grace period (30 s)
	// less the shutdown delay.
	drainTimeout = 20 * time.Second
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
	// accepting connections. From the stop signal on, every answer closes
	// its connection, so clients move to other replicas on their next
	// request instead of finding a closed connection. Reviews under way
	// are then finished.
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
	metrics *Metrics
	log     *slog.Logger
	watcher *certwatcher.CertWatcher
	http    *http.Server
	// ready: caches synced and serving, not stopping.
	ready atomic.Bool
	// draining: the stop signal came; every answer closes its connection.
	draining atomic.Bool
	// open counts the connections the server holds.
	open atomic.Int64
}

// NewServer loads the certificate and prepares the routes. It fails when
// the certificate or key cannot be read.
func NewServer(e *engine.Engine, o ServerOptions) (*Server, error) {
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
	s := &Server{opts: o, metrics: NewMetrics(), log: log, watcher: w}
	for _, c := range o.Collectors {
		if err := s.metrics.registry.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle(PathWarn, NewHandler(e, Warn, o.Handler, s.metrics, log))
	mux.Handle(PathEnforce, NewHandler(e, Enforce, o.Handler, s.metrics, log))
	mux.HandleFunc(PathHealthz, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc(PathReadyz, s.readyz)
	mux.Handle(PathMetrics, s.metrics.Handler())
	// HTTP/1.1 only: HTTP/2 is not needed for admission and widens the
	// attack surface (rapid reset); the API server speaks HTTP/1.1 too.
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	s.http = &http.Server{
		Protocols:         protocols,
		Handler:           s.closeWhenDraining(mux),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// net/http reports TLS handshake failures and the like through
		// its own logger: route them into the server's, so that a JSON
		// log stays JSON.
		ErrorLog: slog.NewLogLogger(log.Handler().WithAttrs([]slog.Attr{slog.String("component", "http")}), slog.LevelWarn),
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: w.GetCertificate,
			NextProtos:     []string{"http/1.1"},
		},
		ConnState: s.countConn,
		// Reviews keep their own deadlines: stopping the server lets
		// them finish rather than cancelling them.
		BaseContext: func(net.Listener) context.Context { return context.Background() },
	}
	return s, nil
}

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// closeWhenDraining makes every answer given after the stop signal close
// its connection: the client then opens a new one, which the Service sends
// to a replica that is staying.
func (s *Server) closeWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// countConn keeps the number of open connections for the drain.
func (s *Server) countConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.open.Add(-1)
	}
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// Run serves until ctx is done. Then it turns unready and closes each
// connection after its next answer; after ShutdownDelay it stops
// accepting connections and waits for the reviews under way.
func (s *Server) Run(ctx context.Context) error {
	upkeepCtx, stopUpkeep := context.WithCancel(context.WithoutCancel(ctx))
	defer stopUpkeep()
	go func() {
		if err := s.watcher.Start(upkeepCtx); err != nil {
			s.log.Error("certificate watcher stopped", "error", err)
		}
	}()
	if s.opts.Upkeep != nil {
		go s.opts.Upkeep(upkeepCtx)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port)))
	if err != nil {
		return err
	}
	// Whatever way Run ends, no connection or handler outlives it.
	defer s.http.Close()
	errc := make(chan error, 1)
	go func() { errc <- s.http.ServeTLS(ln, "", "") }()
	if s.opts.Prepare != nil {
		if err := s.opts.Prepare(ctx); err != nil {
			_ = s.http.Close()
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
	s.draining.Store(true)
	s.log.Info("stopping: unready, closing connections after their next answer", "delay", s.opts.ShutdownDelay.String())
	select {
	case <-time.After(s.opts.ShutdownDelay):
	case err := <-errc:
		return err
	}
	// Stop accepting, close the connections left idle through the delay,
	// and let every connection still open finish its request: its answer
	// closes it. http.Server.Shutdown is not used for this, since it drops
	// a request read after it began instead of answering it.
	s.http.SetKeepAlivesEnabled(false)
	_ = ln.Close()
	if serveErr := <-errc; !errors.Is(serveErr, net.ErrClosed) {
		s.log.Warn("serving stopped", "error", serveErr)
	}
	deadline := time.Now().Add(drainTimeout)
	for s.open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.open.Load(); n > 0 {
		s.log.Warn("closing connections still open after the drain timeout", "connections", n)
	}
	err = s.http.Close()
	s.log.Info("stopped")
	return err
}
