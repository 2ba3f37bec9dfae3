package audit

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxNamespaceLabels bounds the namespace label of the workloads gauge:
// past it, namespaces are counted under "_other".
const maxNamespaceLabels = 200

// Metrics are the background passes' metrics. Only the replica that
// leads sets the workload gauges; the others hold none.
type Metrics struct {
	workloads  *prometheus.GaugeVec
	checked    prometheus.Gauge
	lastPass   prometheus.Gauge
	duration   prometheus.Gauge
	requests   prometheus.Counter
	leader     prometheus.Gauge
	collectors []prometheus.Collector
}

func newMetrics() *Metrics {
	m := &Metrics{
		workloads: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nobackoff_audit_workloads",
			Help: "Workloads with a finding, by namespace, check and severity, as of the last background pass."},
			[]string{"namespace", "check", "severity"}),
		checked: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nobackoff_audit_workloads_checked",
			Help: "Workloads judged by the last background pass."}),
		lastPass: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nobackoff_audit_last_pass_timestamp_seconds",
			Help: "When the last full background pass started (Unix time)."}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nobackoff_audit_pass_duration_seconds",
			Help: "How long the last background pass took."}),
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: "nobackoff_audit_registry_requests_total",
			Help: "HTTP requests the background passes sent to registries."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "nobackoff_audit_leader",
			Help: "1 while this replica runs the background passes."}),
	}
	m.collectors = []prometheus.Collector{m.workloads, m.checked, m.lastPass, m.duration, m.requests, m.leader}
	return m
}

// Collectors returns the metrics for registration.
func (m *Metrics) Collectors() []prometheus.Collector { return m.collectors }

func (m *Metrics) leading(yes bool) {
	if yes {
		m.leader.Set(1)
		return
	}
	m.leader.Set(0)
	m.workloads.Reset()
}

// pass records a pass: each workload counts once per check and severity.
func (m *Metrics) pass(fs []found, checked int, start time.Time, took time.Duration, requests int64) {
	type label struct{ namespace, check, severity string }
	counted := map[string]bool{}
	counts := map[label]int{}
	namespaces := map[string]bool{}
	for _, f := range fs {
		ns := f.subject.Namespace
		if !namespaces[ns] && len(namespaces) >= maxNamespaceLabels {
			ns = "_other"
		} else {
			namespaces[ns] = true
		}
		k := f.workload() + "|" + string(f.f.Check) + "|" + f.f.Severity.String()
		if counted[k] {
			continue
		}
		counted[k] = true
		counts[label{ns, string(f.f.Check), f.f.Severity.String()}]++
	}
	m.workloads.Reset()
	for l, n := range counts {
		m.workloads.WithLabelValues(l.namespace, l.check, l.severity).Set(float64(n))
	}
	m.checked.Set(float64(checked))
	m.lastPass.Set(float64(start.Unix()))
	m.duration.Set(took.Seconds())
	m.requests.Add(float64(requests))
}
