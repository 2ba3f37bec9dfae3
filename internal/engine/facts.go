package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// ClusterView is what the registry checks read from the cluster: pull
// secrets, ServiceAccounts and the platforms of the nodes a pod can land
// on. The webhook backs it with informers; the CLI with its input files,
// alone or layered over a live cluster (package clusterstate holds all
// three).
type ClusterView interface {
	// Secret returns a Secret; ok is false when it does not exist. A
	// Secret of a type other than the pull-secret types may come back
	// without its data.
	Secret(namespace, name string) (s *corev1.Secret, ok bool)
	// ServiceAccount returns a ServiceAccount; ok is false when unknown.
	ServiceAccount(namespace, name string) (sa *corev1.ServiceAccount, ok bool)
	// NodePlatforms returns the platforms of the nodes a pod with this spec
	// can land on; none when unknown.
	NodePlatforms(spec *corev1.PodSpec) []registrycheck.Platform
}

// PullSecretIndex is what a ClusterView may also answer, to say where a
// pull secret the pod misses is, or which one it forgot to attach.
type PullSecretIndex interface {
	// PullSecretNamespaces lists the namespaces holding a pull secret of
	// this name, sorted.
	PullSecretNamespaces(name string) []string
	// PullSecrets lists the pull secrets of a namespace.
	PullSecrets(namespace string) []*corev1.Secret
}

// ObjectIndex is what a ClusterView may also answer: the objects a pod
// spec names, for the object checks. Reads only what is held (caches, the
// input); PresenceUnknown when it cannot tell.
type ObjectIndex interface {
	// Object is the state of a namespaced object (namespace is ignored
	// for cluster-wide kinds: StorageClass, PriorityClass, RuntimeClass).
	Object(namespace string, kind policy.ObjectKind, name string) policy.ObjectState
	// DefaultStorageClass is the default StorageClass ("" when none);
	// known is false when it cannot be told.
	DefaultStorageClass() (name string, known bool)
}

// SchedulingIndex is what a ClusterView may also answer: the nodes, and
// the ResourceQuotas and LimitRanges of a namespace, for the scheduling
// and namespace-policy checks. known is false when it cannot tell.
type SchedulingIndex interface {
	Nodes() (nodes []*corev1.Node, known bool)
	Quotas(namespace string) (quotas []*corev1.ResourceQuota, known bool)
	LimitRanges(namespace string) (ranges []*corev1.LimitRange, known bool)
}

// Lookups gathers registry facts for reviews.
type Lookups struct {
	// Resolver looks images up. Without one, only the pull secrets the
	// cluster view holds are judged (the CLI's --offline).
	Resolver *registrycheck.Resolver
	Cluster  ClusterView
	// NodeKeyring stands in for the nodes' own credentials, tried after
	// the pod's pull secrets fail (the CLI's --docker-config). May be nil.
	NodeKeyring *registrycheck.Keyring
	// Budget bounds all lookups of one review. Default 3s.
	Budget time.Duration
	// Log receives a warning for every inconclusive lookup. May be nil.
	Log *slog.Logger
	// PodSecretsFinal is set in the webhook: a Pod reaching it already
	// has its final imagePullSecrets (the ServiceAccount admission plugin
	// copied the ServiceAccount's in at creation), so only workload
	// templates fall back to the ServiceAccount.
	PodSecretsFinal bool

	// found remembers the facts of images found, for as long as every
	// registry answer behind them stays in the resolver's cache: the same
	// lookup would give the same facts, and most reviews name images
	// seen moments before.
	foundMu sync.Mutex
	found   map[string]foundImage
}

type foundImage struct {
	facts *policy.ImageLookup // shared: never modified
	until time.Time
}

// maxFound bounds the images whose facts are remembered.
const maxFound = 4096

// foundKey identifies a lookup: the image, the credentials it may use and
// what was asked of it.
func foundKey(image, keyring string, platforms []registrycheck.Platform, wantConfig bool) string {
	var b strings.Builder
	b.Grow(len(image) + 1 + len(keyring) + 24*len(platforms) + 7)
	b.WriteString(image)
	b.WriteByte(0)
	b.WriteString(keyring)
	for _, p := range platforms {
		b.WriteByte(0)
		b.WriteString(p.String())
	}
	if wantConfig {
		b.WriteString("\x00config")
	}
	return b.String()
}

// recall returns the facts remembered for key.
func (l *Lookups) recall(key string) (*policy.ImageLookup, bool) {
	l.foundMu.Lock()
	f, ok := l.found[key]
	l.foundMu.Unlock()
	if !ok || !l.Resolver.Now().Before(f.until) {
		return nil, false
	}
	c := *f.facts
	return &c, true
}

func (l *Lookups) remember(key string, facts *policy.ImageLookup, until time.Time) {
	if until.IsZero() {
		return
	}
	c := *facts
	l.foundMu.Lock()
	defer l.foundMu.Unlock()
	if l.found == nil || len(l.found) >= maxFound {
		l.found = map[string]foundImage{}
	}
	l.found[key] = foundImage{facts: &c, until: until}
}

// syncer is a ClusterView that can say whether it has its data yet.
type syncer interface{ Synced() bool }

// gather fills the pod's registry facts. It never fails: what cannot be
// learnt in time becomes an inconclusive fact.
func (l *Lookups) gather(ctx context.Context, w *workload.Workload, pod *policy.Pod) {
	pod.Images = map[string]*policy.ImageLookup{}
	if s, ok := l.Cluster.(syncer); ok && !s.Synced() {
		// Without the pull secrets nothing is conclusive yet.
		for _, c := range pod.Containers() {
			pod.Images[c.Image] = &policy.ImageLookup{Outcome: policy.LookupTimedOut, Cause: "nobackoff's cluster caches are still syncing"}
		}
		return
	}
	kr, attached, issues, unknown, malformed := l.keyring(w)
	pod.PullSecretIssues = issues
	if l.Resolver == nil {
		pod.Images = nil // secrets only: the registry checks stay silent
		return
	}
	if malformed {
		return // every pull of the pod fails; the secret finding says why
	}
	platforms := l.Cluster.NodePlatforms(w.Spec)

	type job struct {
		image      string
		wantConfig bool
	}
	jobs := map[string]*job{}
	var order []string
	for _, c := range pod.Containers() {
		if c.ImagePullPolicy == corev1.PullNever || c.Image == "" {
			continue
		}
		if _, err := c.ImageRef(); err != nil {
			continue // image.invalid-reference says it
		}
		j, ok := jobs[c.Image]
		if !ok {
			j = &job{image: c.Image}
			jobs[c.Image] = j
			order = append(order, c.Image)
		}
		j.wantConfig = j.wantConfig || needsConfig(w.Spec, c)
	}
	// Images whose facts are remembered need no lookup; the others are
	// looked up side by side, the first on this goroutine.
	results := make([]*policy.ImageLookup, len(order))
	fingerprint := kr.Fingerprint()
	bg := registrycheck.BackgroundOf(ctx)
	fresh := bg != nil && !bg.Since.IsZero()
	var todo []int
	for i, image := range order {
		// A pass that wants answers newer than its start asks the
		// resolver, whose cache knows when each answer was given; facts
		// remembered here may rest on older ones.
		if fresh {
			todo = append(todo, i)
		} else if facts, ok := l.recall(foundKey(image, fingerprint, platforms, jobs[image].wantConfig)); ok {
			results[i] = facts
		} else {
			todo = append(todo, i)
		}
	}
	if len(todo) > 0 {
		budget := l.Budget
		if budget <= 0 {
			budget = 3 * time.Second
		}
		if bg != nil && bg.LookupTimeout > 0 {
			budget = bg.LookupTimeout // nobody waits: the admission budget does not bind
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	look := func(i int) {
		image := order[i]
		facts, until := l.lookup(ctx, image, kr, platforms, jobs[image].wantConfig)
		l.remember(foundKey(image, fingerprint, platforms, jobs[image].wantConfig), facts, until)
		results[i] = facts
	}
	var wg sync.WaitGroup
	for _, i := range todo[min(1, len(todo)):] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			look(i)
		}()
	}
	if len(todo) > 0 {
		look(todo[0])
	}
	wg.Wait()
	for i, image := range order {
		results[i].CredentialsUnknown = unknown
		pod.Images[image] = l.withUnattached(w, results[i], attached)
	}
}

// withUnattached adds to an authorization failure the pull secrets of the
// namespace that hold credentials for the registry but that the pod does
// not use. The facts may be shared: a copy is returned.
func (l *Lookups) withUnattached(w *workload.Workload, facts *policy.ImageLookup, attached map[string]bool) *policy.ImageLookup {
	idx, ok := l.Cluster.(PullSecretIndex)
	if !ok || (facts.Outcome != policy.LookupUnauthorized && facts.Outcome != policy.LookupForbidden) || facts.Repository == "" {
		return facts
	}
	var names []string
	for _, s := range idx.PullSecrets(w.Namespace) {
		if attached[s.Name] {
			continue
		}
		kr := registrycheck.NewKeyring()
		if kr.AddSecret(s) != nil {
			continue
		}
		if _, matched := kr.Lookup(facts.Repository); matched {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return facts
	}
	sort.Strings(names)
	out := *facts
	out.Unattached = names
	if len(w.Spec.ImagePullSecrets) == 0 {
		out.ServiceAccount = serviceAccountOf(w.Spec)
	}
	return &out
}

// serviceAccountOf is the ServiceAccount a pod spec runs as.
func serviceAccountOf(spec *corev1.PodSpec) string {
	if spec.ServiceAccountName != "" {
		return spec.ServiceAccountName
	}
	if spec.DeprecatedServiceAccount != "" {
		return spec.DeprecatedServiceAccount
	}
	return "default"
}

// needsConfig reports whether a check needs the image configuration: the
// container names no command of its own (the image's Entrypoint then
// decides what runs: whether there is a program at all, which word of args
// is the program, whether a launch script reads JAVA_OPTS), or must run as
// non-root without a UID of its own.
func needsConfig(spec *corev1.PodSpec, c policy.ContainerRef) bool {
	if len(c.Command) == 0 {
		return true
	}
	nonRoot, uid := false, false
	if s := spec.SecurityContext; s != nil {
		nonRoot, uid = s.RunAsNonRoot != nil && *s.RunAsNonRoot, s.RunAsUser != nil
	}
	if s := c.SecurityContext; s != nil {
		if s.RunAsNonRoot != nil {
			nonRoot = *s.RunAsNonRoot
		}
		uid = uid || s.RunAsUser != nil
	}
	return nonRoot && !uid
}

// keyring builds the pod's keyring by the kubelet's rule: the pod's own
// imagePullSecrets when it lists any, else its ServiceAccount's (never
// both). Secrets that cannot be used are reported; a malformed one fails
// every pull of the pod. unknown is set when a referenced secret or a named
// ServiceAccount was not found: the credentials are then not all known.
func (l *Lookups) keyring(w *workload.Workload) (kr *registrycheck.Keyring, attached map[string]bool, issues []policy.PullSecretIssue, unknown, malformed bool) {
	kr, attached = registrycheck.NewKeyring(), map[string]bool{}
	type ref struct{ name, field, sa string }
	var refs []ref
	for i, s := range w.Spec.ImagePullSecrets {
		refs = append(refs, ref{s.Name, fmt.Sprintf("%s.imagePullSecrets[%d]", w.SpecPath, i), ""})
	}
	if len(refs) == 0 && !(l.PodSecretsFinal && w.Kind == "Pod") {
		saName := serviceAccountOf(w.Spec)
		if sa, ok := l.Cluster.ServiceAccount(w.Namespace, saName); ok {
			for _, s := range sa.ImagePullSecrets {
				refs = append(refs, ref{s.Name, w.SpecPath + ".serviceAccountName", saName})
			}
		} else if saName != "default" {
			unknown = true // its secrets, if any, are not known
		}
	}
	idx, _ := l.Cluster.(PullSecretIndex)
	for _, r := range refs {
		attached[r.name] = true
		issue := policy.PullSecretIssue{Name: r.name, Field: r.field, ServiceAccount: r.sa, Namespace: w.Namespace}
		s, ok := l.Cluster.Secret(w.Namespace, r.name)
		if !ok {
			if l.Resolver == nil {
				continue // secrets only: one not in the input may well be in the cluster
			}
			issue.Problem = policy.SecretMissing
			if idx != nil {
				for _, ns := range idx.PullSecretNamespaces(r.name) {
					if ns != w.Namespace && len(issue.OtherNamespaces) < policy.MaxOtherNamespaces {
						issue.OtherNamespaces = append(issue.OtherNamespaces, ns)
					}
				}
			}
			issues = append(issues, issue)
			unknown = true
			continue
		}
		err := kr.AddSecret(s)
		var serr *registrycheck.SecretError
		if errors.As(err, &serr) {
			issue.Detail = serr.Err.Error()
			switch serr.Problem {
			case registrycheck.SecretMalformed:
				issue.Problem, malformed = policy.SecretMalformed, true
			default:
				issue.Problem = policy.SecretWrongType
			}
			issues = append(issues, issue)
		}
	}
	return kr, attached, issues, unknown, malformed
}

// lookup resolves one image with the pod's credentials, then, if those
// fail, with the node's stand-in credentials, and reads the platforms and
// configuration the checks need. until is how long the same lookup would
// find the same facts in the resolver's cache (an image found with the
// pod's credentials, its content read); zero when it would not.
func (l *Lookups) lookup(ctx context.Context, image string, kr *registrycheck.Keyring, platforms []registrycheck.Platform, wantConfig bool) (facts *policy.ImageLookup, until time.Time) {
	start := time.Now()
	res := l.Resolver.Resolve(ctx, image, kr)
	until = res.CachedUntil()
	if l.NodeKeyring != nil && (res.Outcome == registrycheck.Unauthorized || res.Outcome == registrycheck.Forbidden) {
		if _, ok := l.NodeKeyring.Lookup(res.Repository); ok {
			if alt := l.Resolver.Resolve(ctx, image, l.NodeKeyring); alt.Outcome.Conclusive() {
				res = alt
			}
		}
	}
	if l.Log != nil {
		level := slog.LevelDebug
		if !res.Outcome.Conclusive() {
			level = slog.LevelWarn
		}
		l.Log.Log(ctx, level, "registry lookup", "image", image, "registry", res.Registry, "outcome", string(res.Outcome),
			"status", res.Status, "cause", res.Cause, "credentials", res.Source, "attempts", len(res.Attempts),
			"took", time.Since(start))
	}
	out := &policy.ImageLookup{
		Outcome: policy.LookupOutcome(res.Outcome), Status: res.Status, Repository: res.Repository,
		Source: res.Source, CredentialsMatched: res.CredentialsMatched, NodeCredentials: res.NodeCredentials,
		Suggestion: res.Suggestion, Cause: res.Cause, MaybeMissing: res.MaybeMissing,
	}
	if res.TLS != nil {
		out.Certificate = string(res.TLS.Problem)
	}
	for _, a := range res.Attempts {
		out.Tried = append(out.Tried, a.Source)
	}
	if res.Outcome != registrycheck.OK || (len(platforms) == 0 && !wantConfig) {
		return out, until
	}
	info, err := l.Resolver.Inspect(ctx, res, platforms, wantConfig)
	if err != nil {
		// The image exists, but what it holds could not be read in time or
		// within the content limits: the checks that need it cannot judge.
		out.ContentUnread = true
		var ierr *registrycheck.InspectError
		if errors.As(err, &ierr) {
			out.Outcome, out.Status, out.Cause = policy.LookupOutcome(ierr.Outcome), ierr.Status, ierr.Cause
			if ierr.TLS != nil {
				out.Certificate = string(ierr.TLS.Problem)
			}
		} else {
			out.Outcome, out.Cause = policy.LookupUnreachable, err.Error()
		}
		if l.Log != nil {
			l.Log.Warn("inconclusive image content read", "image", image, "registry", res.Registry,
				"outcome", string(out.Outcome), "status", out.Status, "cause", out.Cause)
		}
		return out, time.Time{}
	}
	if len(platforms) > 0 {
		pf := &policy.PlatformFacts{Index: info.Index}
		for _, p := range info.Platforms {
			pf.Offered = append(pf.Offered, p.String())
		}
		for _, want := range platforms {
			pf.Candidates = append(pf.Candidates, want.String())
			runs := false
			for _, have := range info.Platforms {
				runs = runs || want.Runs(have)
			}
			if !runs {
				pf.Unsupported = append(pf.Unsupported, want.String())
			}
		}
		out.Platforms = pf
	}
	if info.Config != nil {
		out.Config = &policy.ImageConfig{User: info.Config.User, Entrypoint: info.Config.Entrypoint, Cmd: info.Config.Cmd}
	}
	return out, until
}
