package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

// Mode is what a webhook path does with error-level findings.
type Mode string

const (
	// Warn admits everything and returns findings as warnings.
	Warn Mode = "warn"
	// Enforce denies objects with error-level findings.
	Enforce Mode = "enforce"
)

// maxReviewBytes bounds a request body; the API server's own request limit
// is 3 MiB, and a review carries the object twice on UPDATE.
const maxReviewBytes = 8 << 20

// Verdicts recorded in metrics and audit annotations.
const (
	verdictAllowed = "allowed" // checked, nothing to say
	verdictWarned  = "warned"
	verdictDenied  = "denied"
	verdictSkipped = "skipped" // not checked: kind, operation or owner
	verdictFailed  = "failed"  // could not be checked
)

// HandlerOptions configure admission handling.
type HandlerOptions struct {
	// CheckControllerOwned also checks objects created by a controller of
	// a checked kind (Pods of ReplicaSets, ReplicaSets of Deployments, Jobs
	// of CronJobs). Off by default: their template was checked when the
	// workload was applied, and warnings on them reach nobody.
	CheckControllerOwned bool
}

// readTimeout bounds reading a review's body, so a client that trickles
// it cannot hold a handler.
const readTimeout = 10 * time.Second

// Handler answers AdmissionReviews for one mode. It implements
// controller-runtime's admission.Handler, and serves HTTP itself so that a
// body that is not an AdmissionReview gets an HTTP 400.
type Handler struct {
	engine  *engine.Engine
	mode    Mode
	opts    HandlerOptions
	metrics *Metrics
	log     *slog.Logger
}

var _ admission.Handler = (*Handler)(nil)

// NewHandler returns the handler for one mode. metrics and log may be nil.
func NewHandler(e *engine.Engine, mode Mode, opts HandlerOptions, m *Metrics, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{engine: e, mode: mode, opts: opts, metrics: m, log: log.With("mode", string(mode))}
}

// ServeHTTP decodes an AdmissionReview, reviews it and writes the answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		http.Error(w, "nobackoff: AdmissionReview requests are POSTed", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		http.Error(w, fmt.Sprintf("nobackoff: Content-Type %q: want application/json", ct), http.StatusUnsupportedMediaType)
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(readTimeout))
	review, err := readReview(r.Body, r.ContentLength)
	if err != nil {
		h.log.Warn("bad admission request", "remote", r.RemoteAddr, "error", err)
		http.Error(w, "nobackoff: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := admission.Request{AdmissionRequest: *review.Request}
	resp, err := h.safeHandle(r.Context(), req, review)
	if err != nil {
		h.log.Error("review failed", "uid", req.UID, "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "error", err)
		h.metrics.review(metricKind(req.Kind.Kind), verdictFailed)
		if h.mode == Enforce {
			// No AdmissionReview: the API server applies the webhook's
			// failurePolicy, as for any webhook failure.
			http.Error(w, "nobackoff: "+err.Error(), http.StatusInternalServerError)
			return
		}
		// Warn mode never denies: admit, and say that nothing was checked.
		resp = admission.Allowed("")
		resp.Warnings = []string{truncate(policy.OneLine("[nobackoff] not checked: "+err.Error()), maxWarningLen)}
	}
	resp.UID = req.UID
	buf := responseBuffers.Get().(*[]byte)
	out, err := appendReviewResponse((*buf)[:0], review.TypeMeta, &resp.AdmissionResponse)
	if err == nil {
		w.Header().Set("Content-Type", "application/json")
		_, err = w.Write(out)
	}
	if err != nil {
		h.log.Error("writing admission response", "error", err)
	}
	if cap(out) <= maxPooledResponse {
		*buf = out
		responseBuffers.Put(buf)
	}
	h.metrics.observeDuration(h.mode, time.Since(start))
}

// responseBuffers hold answers being written; one larger than
// maxPooledResponse (a denial listing hundreds of problems) is left to the
// collector.
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledResponse = 64 << 10

// bodyBuffers hold request bodies while they are decoded: nothing decoded
// keeps a reference into the body (strings and raw objects are copies),
// so one review's buffer serves the next. One larger than maxPooledBody
// is left to the collector.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 8192); return &b }}

const maxPooledBody = 256 << 10

// readReview decodes and validates an AdmissionReview v1 request body.
// length is the declared Content-Length (-1: unknown): the body is read
// into a buffer of that size at once rather than one grown as it comes,
// which would leave several times its size as garbage on every review.
func readReview(body io.Reader, length int64) (*wireReview, error) {
	buf := bodyBuffers.Get().(*[]byte)
	data, err := readAllInto((*buf)[:0], io.LimitReader(body, maxReviewBytes+1), min(max(length, 0)+1, maxReviewBytes+1))
	defer func() {
		if cap(data) <= maxPooledBody {
			*buf = data[:0]
			bodyBuffers.Put(buf)
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if len(data) == 0 {
		return nil, errors.New("empty body: want an admission.k8s.io/v1 AdmissionReview")
	}
	if len(data) > maxReviewBytes {
		return nil, fmt.Errorf("body over %d bytes", maxReviewBytes)
	}
	review, err := unmarshalReview(data)
	if err != nil {
		return nil, fmt.Errorf("body is not an AdmissionReview: %w", err)
	}
	if gvk := review.GroupVersionKind(); gvk != admissionv1.SchemeGroupVersion.WithKind("AdmissionReview") {
		got := "no apiVersion and kind"
		if gvk.Kind != "" || review.APIVersion != "" {
			got = fmt.Sprintf("apiVersion %q, kind %q", review.APIVersion, gvk.Kind)
		}
		return nil, fmt.Errorf("body has %s: want apiVersion admission.k8s.io/v1, kind AdmissionReview", got)
	}
	if review.Request == nil {
		return nil, errors.New("AdmissionReview has no request")
	}
	if review.Request.UID == "" {
		return nil, errors.New("AdmissionReview request has no uid")
	}
	return review, nil
}

// readAllInto is io.ReadAll into b, grown first to hold size bytes (one
// more than the expected length leaves room to see the end).
func readAllInto(b []byte, r io.Reader, size int64) ([]byte, error) {
	if int64(cap(b)) < size {
		b = make([]byte, 0, max(size, 512))
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// safeHandle reviews a request, turning a panic into an error so that one
// bad object never takes the server down. decoded, when set, holds the
// request's objects already decoded.
func (h *Handler) safeHandle(ctx context.Context, req admission.Request, decoded *wireReview) (resp admission.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error reviewing %s %s: %v", req.Kind.Kind, req.Name, p)
		}
	}()
	return h.review(ctx, req, decoded)
}

// Handle reviews one admission request (controller-runtime's
// admission.Handler). A request that cannot be reviewed is answered by the
// mode's rule: admitted with a warning in warn mode, an error in enforce
// mode.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	resp, err := h.safeHandle(ctx, req, nil)
	if err == nil {
		return resp
	}
	if h.mode == Enforce {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	resp = admission.Allowed("")
	resp.Warnings = []string{truncate(policy.OneLine("[nobackoff] not checked: "+err.Error()), maxWarningLen)}
	return resp
}

// review checks one request; an error means it could not be checked.
func (h *Handler) review(ctx context.Context, req admission.Request, decoded *wireReview) (admission.Response, error) {
	gvk := schema.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind}
	skip := func(why string) (admission.Response, error) {
		h.metrics.review(metricKind(gvk.Kind), verdictSkipped)
		return admission.Allowed(why), nil
	}
	ephemeral := gvk.Kind == "Pod" && req.SubResource == "ephemeralcontainers"
	if (req.SubResource != "" && !ephemeral) || !workload.IsKind(gvk) {
		return skip("")
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return skip("")
	}
	object := func(obj any, raw []byte) (*workload.Workload, error) {
		if obj != nil {
			return workload.FromObject(gvk, obj)
		}
		return workload.DecodeUnchecked(gvk, raw, false)
	}
	var pre, preOld any
	if decoded != nil {
		pre, preOld = decoded.object, decoded.oldObject
	}
	w, err := object(pre, req.Object.Raw)
	if err != nil {
		return admission.Response{}, fmt.Errorf("decoding %s: %w", gvk.Kind, err)
	}
	if w.Namespace == "" {
		w.Namespace = req.Namespace
	}
	if w.Name == "" {
		w.Name = req.Name
	}
	if w.ControllerOwned() && !h.opts.CheckControllerOwned {
		return skip("created by a checked controller: its template was checked")
	}
	var old *workload.Workload
	if req.Operation == admissionv1.Update {
		if old, err = object(preOld, req.OldObject.Raw); err != nil {
			return admission.Response{}, fmt.Errorf("decoding the old %s: %w", gvk.Kind, err)
		}
		if equality.Semantic.DeepEqual(old.Spec, w.Spec) {
			return skip("pod spec unchanged")
		}
	}
	// Limits apply to what is checked, not to an unchanged object: an
	// object over them can still be updated (its status, its labels), and
	// fixed.
	if err := workload.CheckLimits(w); err != nil {
		return admission.Response{}, fmt.Errorf("decoding %s: %w", gvk.Kind, err)
	}

	start := time.Now()
	res := h.engine.Review(ctx, w)
	if ephemeral {
		onlyNewEphemeral(&res, old, w)
	}
	resp := h.verdict(w, &res)
	h.metrics.recordFindings(&res)
	h.logReview(ctx, req, w, &res, resp.AuditAnnotations["verdict"], time.Since(start))
	return resp, nil
}

// logReview logs a denial at info level and every review at debug level,
// with what was found where. Warnings are not logged at info level: at a
// busy API server they would be a line per pod, and the audit annotations
// and metrics already hold them.
func (h *Handler) logReview(ctx context.Context, req admission.Request, w *workload.Workload, res *engine.Result, verdict string, took time.Duration) {
	level := slog.LevelDebug
	if verdict == verdictDenied {
		level = slog.LevelInfo
	}
	if !h.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("uid", string(req.UID)), slog.String("kind", w.Kind), slog.String("namespace", w.Namespace),
		slog.String("name", w.Name), slog.String("operation", string(req.Operation)),
		slog.Bool("dryRun", req.DryRun != nil && *req.DryRun), slog.String("verdict", verdict),
		slog.Duration("took", took),
	}
	if len(res.Findings) > 0 {
		attrs = append(attrs, slog.Any("findings", findingRefs(res.Findings)))
	}
	if len(res.Exempted) > 0 {
		attrs = append(attrs, slog.Any("exempted", findingRefs(res.Exempted)))
	}
	if len(res.Invalid) > 0 {
		invalid := make([]string, len(res.Invalid))
		for i, e := range res.Invalid {
			invalid[i] = e.Error()
		}
		attrs = append(attrs, slog.Any("invalid", invalid))
	}
	if len(res.Failures) > 0 {
		failed := make([]string, len(res.Failures))
		for i, f := range res.Failures {
			failed[i] = string(f.Check) + ": " + f.Err.Error()
		}
		attrs = append(attrs, slog.Any("notEvaluated", failed))
	}
	h.log.LogAttrs(ctx, level, "reviewed", attrs...)
}

// findingRefs names findings as check@field, severity included.
func findingRefs(fs []policy.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Severity.String() + " " + string(f.Check) + "@" + f.Field
	}
	return out
}

// onlyNewEphemeral keeps the findings about ephemeral containers added by
// this request: the rest of a running pod was checked when it was created.
func onlyNewEphemeral(res *engine.Result, old, w *workload.Workload) {
	existing := map[string]bool{}
	if old != nil {
		for _, c := range old.Spec.EphemeralContainers {
			existing[c.Name] = true
		}
	}
	prefix := w.SpecPath + ".ephemeralContainers["
	keep := func(fs []policy.Finding) []policy.Finding {
		var out []policy.Finding
		for _, f := range fs {
			if strings.HasPrefix(f.Field, prefix) && !existing[f.Container] {
				out = append(out, f)
			}
		}
		return out
	}
	res.Findings, res.Exempted = keep(res.Findings), keep(res.Exempted)
}

// metricKind bounds the kind label to the kinds nobackoff checks.
func metricKind(kind string) string {
	for _, w := range workload.Kinds() {
		if w.Kind == kind {
			return kind
		}
	}
	return "other"
}

// verdict turns a review result into the response for the handler's mode.
func (h *Handler) verdict(w *workload.Workload, res *engine.Result) admission.Response {
	deny := h.mode == Enforce && res.Count(policy.Error) > 0
	var resp admission.Response
	if deny {
		resp = admission.Denied(DenialMessage(w, res))
		resp.Warnings = Warnings(res, false)
	} else {
		resp = admission.Allowed("")
		resp.Warnings = Warnings(res, true)
	}
	verdict := verdictAllowed
	switch {
	case deny:
		verdict = verdictDenied
	case len(resp.Warnings) > 0:
		verdict = verdictWarned
	}
	resp.AuditAnnotations = auditAnnotations(h.mode, verdict, res)
	h.metrics.review(w.Kind, verdict)
	return resp
}

// auditAnnotations record what was found and what was exempted; the API
// server prefixes each key with the webhook's name.
func auditAnnotations(mode Mode, verdict string, res *engine.Result) map[string]string {
	a := map[string]string{"mode": string(mode), "verdict": verdict}
	list := func(fs []policy.Finding) string {
		parts := make([]string, len(fs))
		for i, f := range fs {
			parts[i] = string(f.Check) + "@" + f.Field
		}
		return truncate(strings.Join(parts, ","), 4096)
	}
	if len(res.Findings) > 0 {
		a["findings"] = list(res.Findings)
	}
	if o := policy.FirstOutcome(res.Findings); o != policy.NoOutcome {
		a["outcome"] = string(o)
	}
	if len(res.Exempted) > 0 {
		a["exempted"] = list(res.Exempted)
	}
	return a
}
