package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

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

// ParseMode reads a mode name.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Warn, Enforce:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown mode %q (want warn or enforce)", s)
}

// maxReviewBytes bounds a request body; the API server's own request limit
// is 3 MiB, and a review carries the object twice on UPDATE.
const maxReviewBytes = 8 << 20

// Verdicts recorded in metrics and audit annotations.
const (
	verdictAllowed = "allowed" // checked, nothing to say
	verdictWarned  = "warned"
	verdictDenied  = "denied"
	verdictSkipped = "skipped" // not checked: kind, operation or owner
)

// HandlerOptions configure admission handling.
type HandlerOptions struct {
	// CheckControllerOwnedPods also checks Pods created by a controller.
	// Off by default: their template was checked when the workload was
	// applied, and warnings on such pods reach nobody.
	CheckControllerOwnedPods bool
}

// Handler answers AdmissionReviews for one mode. It implements
// controller-runtime's admission.Handler, and serves HTTP itself so that a
// body that is not an AdmissionReview gets an HTTP 400.
type Handler struct {
	engine  *Engine
	mode    Mode
	opts    HandlerOptions
	metrics *Metrics
	log     *slog.Logger
}

var _ admission.Handler = (*Handler)(nil)

// NewHandler returns the handler for one mode. metrics and log may be nil.
func NewHandler(e *Engine, mode Mode, opts HandlerOptions, m *Metrics, log *slog.Logger) *Handler {
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
	review, err := readReview(r.Body)
	if err != nil {
		h.log.Warn("bad admission request", "remote", r.RemoteAddr, "error", err)
		http.Error(w, "nobackoff: "+err.Error(), http.StatusBadRequest)
		return
	}
	req := admission.Request{AdmissionRequest: *review.Request}
	resp := h.safeHandle(r.Context(), req)
	resp.UID = req.UID
	out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: &resp.AdmissionResponse}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(&out); err != nil {
		h.log.Error("writing admission response", "error", err)
	}
	h.metrics.observeDuration(h.mode, time.Since(start))
}

// readReview decodes and validates an AdmissionReview v1 request body.
func readReview(body io.Reader) (*admissionv1.AdmissionReview, error) {
	data, err := io.ReadAll(io.LimitReader(body, maxReviewBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if len(data) == 0 {
		return nil, errors.New("empty body: want an admission.k8s.io/v1 AdmissionReview")
	}
	if len(data) > maxReviewBytes {
		return nil, fmt.Errorf("body over %d bytes", maxReviewBytes)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &review); err != nil {
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
	return &review, nil
}

// safeHandle turns a panic in review code into an error response, so that
// one bad object never takes the server down; with failurePolicy Ignore the
// API server then admits the object.
func (h *Handler) safeHandle(ctx context.Context, req admission.Request) (resp admission.Response) {
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("panic while reviewing", "uid", req.UID, "kind", req.Kind.Kind, "name", req.Name, "panic", p)
			resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("internal error reviewing %s %s", req.Kind.Kind, req.Name))
		}
	}()
	return h.Handle(ctx, req)
}

// Handle reviews one admission request.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	gvk := schema.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind}
	skip := func(why string) admission.Response {
		h.metrics.review(req.Kind.Kind, verdictSkipped)
		return admission.Allowed(why)
	}
	if req.SubResource != "" || !IsWorkloadKind(gvk) {
		return skip("")
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return skip("")
	}
	w, err := DecodeWorkload(gvk, req.Object.Raw, false)
	if err != nil {
		h.log.Warn("undecodable object", "uid", req.UID, "kind", gvk.Kind, "name", req.Name, "error", err)
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decoding %s: %w", gvk.Kind, err))
	}
	if w.Namespace == "" {
		w.Namespace = req.Namespace
	}
	if w.Name == "" {
		w.Name = req.Name
	}
	if w.ControllerOwned() && !h.opts.CheckControllerOwnedPods {
		return skip("controller-owned pod: its template was checked")
	}
	if req.Operation == admissionv1.Update {
		old, err := DecodeWorkload(gvk, req.OldObject.Raw, false)
		if err == nil && equality.Semantic.DeepEqual(old.Spec, w.Spec) {
			return skip("pod spec unchanged")
		}
	}

	res := h.engine.Review(ctx, w)
	resp := h.verdict(w, &res)
	h.metrics.recordFindings(&res)
	h.log.Info("reviewed", "uid", req.UID, "kind", w.Kind, "namespace", w.Namespace, "name", w.Name,
		"operation", req.Operation, "dryRun", req.DryRun != nil && *req.DryRun,
		"verdict", resp.AuditAnnotations["verdict"], "findings", len(res.Findings), "exempted", len(res.Exempted))
	return resp
}

// verdict turns a review result into the response for the handler's mode.
func (h *Handler) verdict(w *Workload, res *Result) admission.Response {
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
func auditAnnotations(mode Mode, verdict string, res *Result) map[string]string {
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
	if len(res.Exempted) > 0 {
		a["exempted"] = list(res.Exempted)
	}
	return a
}
