package webhook

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nobackoff/nobackoff/internal/engine"
)

// Metrics are nobackoff's Prometheus metrics, kept in their own registry.
// A nil *Metrics records nothing.
type Metrics struct {
	registry *prometheus.Registry
	reviews  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	found    *prometheus.CounterVec
}

// NewMetrics creates the metrics and a registry holding them and the Go and
// process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nobackoff_reviews_total",
			Help: "Admission reviews by object kind and verdict (allowed, warned, denied, skipped).",
		}, []string{"kind", "verdict"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nobackoff_review_duration_seconds",
			Help: "Time to answer one AdmissionReview, by mode.",
			// From a warm-cache answer (well under a millisecond) to the
			// API server's longest webhook timeout (30 s).
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30},
		}, []string{"mode"}),
		found: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nobackoff_findings_total",
			Help: "Findings reported, by check ID and severity (exempted findings excluded).",
		}, []string{"check", "severity"}),
	}
	m.registry.MustRegister(m.reviews, m.duration, m.found,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

func (m *Metrics) review(kind, verdict string) {
	if m != nil {
		m.reviews.WithLabelValues(kind, verdict).Inc()
	}
}

func (m *Metrics) observeDuration(mode Mode, d time.Duration) {
	if m != nil {
		m.duration.WithLabelValues(string(mode)).Observe(d.Seconds())
	}
}

func (m *Metrics) recordFindings(res *engine.Result) {
	if m == nil {
		return
	}
	for _, f := range res.Findings {
		m.found.WithLabelValues(string(f.Check), f.Severity.String()).Inc()
	}
}
