package registrycheck

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the resolver's Prometheus collectors.
type Metrics struct {
	lookups  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	cacheOps *prometheus.CounterVec

	mu       sync.Mutex
	labelled map[string]bool
}

// maxRegistryLabels bounds the registry label's values: registries come
// from pod authors; past this many, new ones are counted as "other".
const maxRegistryLabels = 64

func (m *Metrics) registryLabel(registry string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.labelled[registry] {
		return registry
	}
	if len(m.labelled) >= maxRegistryLabels {
		return "other"
	}
	m.labelled[registry] = true
	return registry
}

func newMetrics() *Metrics {
	return &Metrics{
		labelled: map[string]bool{},
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nobackoff_registry_lookups_total",
			Help: "Registry lookups (requests actually sent) by registry and outcome.",
		}, []string{"registry", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nobackoff_registry_lookup_duration_seconds",
			Help:    "Duration of registry lookups by registry.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10},
		}, []string{"registry"}),
		cacheOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nobackoff_registry_cache_total",
			Help: "Lookup cache hits and misses.",
		}, []string{"result"}),
	}
}

// Collectors lists the collectors to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.lookups, m.duration, m.cacheOps}
}

func (m *Metrics) lookup(registry string, o Outcome, d time.Duration) {
	registry = m.registryLabel(registry)
	m.lookups.WithLabelValues(registry, string(o)).Inc()
	m.duration.WithLabelValues(registry).Observe(d.Seconds())
}

func (m *Metrics) cache(hit bool) {
	if hit {
		m.cacheOps.WithLabelValues("hit").Inc()
	} else {
		m.cacheOps.WithLabelValues("miss").Inc()
	}
}
