package audit

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	orclient "github.com/openreports/reports-api/pkg/client/clientset/versioned"
	"golang.org/x/time/rate"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// BackgroundOptions configure the background pass of `nobackoff serve`.
type BackgroundOptions struct {
	Client kubernetes.Interface
	// Reports writes OpenReports; nil writes none.
	Reports orclient.Interface
	// ReportsOwner, when set, names the ValidatingWebhookConfiguration
	// that owns the Reports: they go with it (helm uninstall).
	ReportsOwner string
	// Events, when set, records an Event on a workload when one of its
	// findings first appears.
	Events bool
	// Engine is the admission path's: the same catalog, caches and shared
	// lookups.
	Engine *engine.Engine
	Scope  Scope
	// Interval is the time from the start of a pass to the start of the
	// next. Default 30m.
	Interval time.Duration
	// RequestsPerMinute bounds the registry requests of the passes (a
	// token bucket holding a second's worth). 0: no bound.
	RequestsPerMinute int
	// LookupTimeout bounds the registry lookups of one workload. Default
	// 60s.
	LookupTimeout time.Duration
	// Concurrency bounds the workloads reviewed at once. Default 2: the
	// request rate, not the concurrency, sets the pace of a pass, and
	// fewer lookups sharing the rate each wait less.
	Concurrency int
	// Ready reports whether the engine's cluster view has synced; passes
	// wait for it. Nil: always ready.
	Ready func() bool
	// LeaseNamespace and LeaseName name the coordination.k8s.io Lease
	// the replicas elect the one that runs the passes with; Identity
	// names this replica in it.
	LeaseNamespace, LeaseName, Identity string
	Log                                 *slog.Logger
}

// Background runs passes over the workloads of a cluster, on one replica
// at a time: each pass lists them, reviews them with the admission path's
// engine, writes a Report per namespace holding what it found, records an
// Event for each finding that was not there before, and updates the
// metrics.
type Background struct {
	o       BackgroundOptions
	limiter *rate.Limiter
	metrics *Metrics
	// leadMu lets one leadership term run at a time: client-go starts a
	// term's work without waiting for the last one's to end.
	leadMu sync.Mutex
	// seen holds the findings of the last pass (or, when leadership was
	// just taken, those of the Reports found): a finding not in it is new.
	seen map[string]bool
	// last holds the last pass's findings by workload: a workload whose
	// image lookups were inconclusive keeps its image findings.
	last map[string][]found
	// owner is the Reports' owner reference, once ReportsOwner is found.
	owner *metav1.OwnerReference
}

// NewBackground returns the background pass with its defaults applied.
func NewBackground(o BackgroundOptions) *Background {
	if o.Interval <= 0 {
		o.Interval = 30 * time.Minute
	}
	if o.LookupTimeout <= 0 {
		o.LookupTimeout = time.Minute
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	b := &Background{o: o, metrics: newMetrics()}
	if o.RequestsPerMinute > 0 {
		b.limiter = rate.NewLimiter(rate.Limit(float64(o.RequestsPerMinute)/60), max(1, o.RequestsPerMinute/60))
	}
	return b
}

// Metrics are the passes' metrics, for registration.
func (b *Background) Metrics() *Metrics { return b.metrics }

// Run takes part in the election until ctx is done; while this replica
// leads, it runs a pass every Interval.
func (b *Background) Run(ctx context.Context) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: b.o.LeaseNamespace, Name: b.o.LeaseName},
		Client:     b.o.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: b.o.Identity},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, Name: b.o.LeaseName, ReleaseOnCancel: true,
			LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					b.leadMu.Lock()
					defer b.leadMu.Unlock()
					if ctx.Err() == nil {
						b.lead(ctx)
					}
				},
				OnStoppedLeading: func() {
					b.metrics.leading(false)
					b.o.Log.Info("background pass: no longer leading", "identity", b.o.Identity)
				},
			},
		})
		if err != nil {
			b.o.Log.Error("background pass: cannot take part in the election", "error", err)
			return
		}
		le.Run(ctx)
	}
}

// lead runs the passes while this replica leads.
func (b *Background) lead(ctx context.Context) {
	b.metrics.leading(true)
	b.o.Log.Info("background pass: leading", "identity", b.o.Identity, "interval", b.o.Interval.String())
	b.seen, b.last = b.reported(ctx), nil
	for {
		if b.o.Reports != nil && b.o.ReportsOwner != "" && b.owner == nil {
			b.owner = b.findOwner(ctx)
		}
		for b.o.Ready != nil && !b.o.Ready() {
			if !sleep(ctx, time.Second) {
				return
			}
		}
		start := time.Now()
		if err := b.Pass(ctx); err != nil && ctx.Err() == nil {
			b.o.Log.Warn("background pass failed", "error", err)
		}
		if !sleep(ctx, time.Until(start.Add(b.o.Interval))) {
			return
		}
	}
}

// sleep waits d, or less when ctx ends first; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Pass judges every workload in scope once, and publishes what it found.
func (b *Background) Pass(ctx context.Context) error {
	start := time.Now()
	listed, err := List(ctx, b.o.Client, b.o.Scope)
	if err != nil {
		return err
	}
	// Answers cached before the pass are asked again, once: a tag deleted
	// or a password changed since the last pass is seen in this one.
	bg := &registrycheck.Background{Limiter: b.limiter, LookupTimeout: b.o.LookupTimeout, Since: start}
	rep, errs := Review(registrycheck.WithBackground(ctx, bg), b.o.Engine, listed, b.o.Concurrency, nil)
	if ctx.Err() != nil {
		// Leadership lost or stopping: a pass cut short publishes nothing.
		return fmt.Errorf("background pass cut short: %w", ctx.Err())
	}
	for _, e := range append(listed.Skipped, errs...) {
		b.o.Log.Info("background pass: not judged in full", "error", e)
	}
	fs, unsure := findingsOf(listed, rep)
	fs = b.keepWhereUnsure(fs, unsure)
	if b.o.Reports != nil {
		if err := b.writeReports(ctx, fs, start); err != nil {
			b.o.Log.Warn("background pass: reports not written", "error", err)
		}
	}
	if b.o.Events {
		b.recordEvents(ctx, fs)
	}
	b.seen, b.last = map[string]bool{}, map[string][]found{}
	for _, f := range fs {
		b.seen[f.key()] = true
		b.last[f.workload()] = append(b.last[f.workload()], f)
	}
	b.metrics.pass(fs, len(listed.Workloads), start, time.Since(start), bg.Sent())
	b.o.Log.Info("background pass done", "workloads", len(listed.Workloads), "findings", len(fs),
		"inconclusive", len(unsure), "registryRequests", bg.Sent(), "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// keepWhereUnsure gives a workload whose image lookups were inconclusive
// this pass (a registry down, the pass's own rate) the image findings the
// last pass had for it: what could not be told is not taken as fixed,
// and no Event says it again when it is told once more.
func (b *Background) keepWhereUnsure(fs []found, unsure map[string]bool) []found {
	if len(unsure) == 0 || b.last == nil {
		return fs
	}
	for w := range unsure {
		for _, f := range b.last[w] {
			if f.f.Check.Category() == "image" && !slices.ContainsFunc(fs, func(g found) bool { return g.key() == f.key() }) {
				fs = append(fs, f)
			}
		}
	}
	return fs
}

// findOwner is the owner reference of the Reports: the webhook
// configuration named ReportsOwner; nil (Reports without an owner) when it
// cannot be read.
func (b *Background) findOwner(ctx context.Context) *metav1.OwnerReference {
	vwc, err := b.o.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, b.o.ReportsOwner, metav1.GetOptions{})
	if err != nil {
		b.o.Log.Info("background pass: the Reports' owner cannot be read; they stay after it goes", "owner", b.o.ReportsOwner, "error", err)
		return nil
	}
	return &metav1.OwnerReference{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration",
		Name: vwc.Name, UID: vwc.UID}
}
