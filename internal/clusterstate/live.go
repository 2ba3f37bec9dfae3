package clusterstate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nobackoff/nobackoff/internal/textdist"
	"github.com/nobackoff/nobackoff/policy"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// LiveOptions bounds what a LiveCluster asks of the API server.
type LiveOptions struct {
	// Namespace is where objects without a namespace go, as kubectl
	// would put them: the kubeconfig context's namespace. Default
	// "default".
	Namespace string
	// MaxCalls bounds the API calls made. Default 1000.
	MaxCalls int
	// CallTimeout bounds one API call. Default 5s.
	CallTimeout time.Duration
	// Budget bounds all API calls together, from the first. Default 60s.
	Budget time.Duration
	// Log receives, once each, what could not be read. May be nil.
	Log *slog.Logger
	// PlatformsFromNodes takes the platforms images must serve from the
	// cluster's nodes (those a pod's nodeSelector picks), as the webhook's
	// informers do, rather than from the input's; the input's stand in
	// when the nodes cannot be listed.
	PlatformsFromNodes bool
}

// LiveCluster is the CLI's view when given a kubeconfig: the input's
// objects layered over a live cluster's. An object in the input is
// present (it is applied with it); any other is read from the API server,
// read-only (get and list), once, within LiveOptions' bounds. What cannot
// be read (forbidden, unreachable, out of budget) is PresenceUnknown, and
// logged once at warn level. Of ConfigMaps and Secrets only the key names
// are kept, never a value, except the data of pull secrets (the two
// types the kubelet reads), which the registry lookups authenticate with.
// For the scheduling checks it lists the nodes once, and the
// ResourceQuotas and LimitRanges of each namespace asked once, each
// reduced to what the checks read, the input's layered over them.
type LiveCluster struct {
	input  *StaticCluster
	client kubernetes.Interface
	opts   LiveOptions

	mu       sync.Mutex
	answers  map[string]*liveAnswer
	calls    int
	deadline time.Time
	stopped  bool // no more calls: unreachable, unauthorized or out of budget
	warned   map[string]bool
}

// liveAnswer is one cached answer; done is closed once v is set, so that
// concurrent reviews asking the same thing wait for one call.
type liveAnswer struct {
	done chan struct{}
	v    any
}

// liveObject is what is kept of one object read.
type liveObject struct {
	state  policy.ObjectState
	secret *corev1.Secret         // KindSecret: reduced (see LiveCluster)
	sa     *corev1.ServiceAccount // KindServiceAccount: name and pull secrets
}

// liveNamed is an object of a given name found in some namespace.
type liveNamed struct {
	namespace string
	typ       corev1.SecretType // Secrets only
}

// liveClasses is the cluster's StorageClasses.
type liveClasses struct {
	names        map[string]bool
	defaultClass string
	known        bool
}

// errStopped is returned for a call not made: the bounds are reached or
// the cluster cannot be reached.
var errStopped = errors.New("no more API calls")

// NewLiveCluster layers input over the cluster client reaches.
func NewLiveCluster(input *StaticCluster, client kubernetes.Interface, opts LiveOptions) *LiveCluster {
	if opts.Namespace == "" {
		opts.Namespace = metav1.NamespaceDefault
	}
	if opts.MaxCalls <= 0 {
		opts.MaxCalls = 1000
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 5 * time.Second
	}
	if opts.Budget <= 0 {
		opts.Budget = 60 * time.Second
	}
	return &LiveCluster{input: input, client: client, opts: opts, answers: map[string]*liveAnswer{}, warned: map[string]bool{}}
}

// LiveClient connects to the cluster of a kubeconfig file's context (its
// current context when kubeContext is empty), as kubectl would. namespace
// is the context's namespace, else "default".
func LiveClient(kubeconfig, kubeContext string) (client kubernetes.Interface, namespace string, err error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules() // $KUBECONFIG, else ~/.kube/config
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: kubeContext})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	namespace, _, err = cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	cfg.UserAgent = "nobackoff"
	// The calls are few and bounded; client-go's default of 5 per second
	// would make a large input wait for nothing.
	cfg.QPS, cfg.Burst = 50, 100
	client, err = kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("cluster client: %w", err)
	}
	return client, namespace, nil
}

// Namespace is where objects without a namespace are looked for.
func (l *LiveCluster) Namespace() string { return l.opts.Namespace }

// Calls is the number of API calls made so far.
func (l *LiveCluster) Calls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// ns is the namespace an object of namespace goes to.
func (l *LiveCluster) ns(namespace string) string {
	if namespace == "" {
		return l.opts.Namespace
	}
	return namespace
}

// inputNamespaces are the namespaces, as written in the input, of objects
// that land in the same namespace as namespace: one without a namespace
// goes to the context's.
func (l *LiveCluster) inputNamespaces(namespace string) []string {
	switch namespace {
	case "":
		return []string{"", l.opts.Namespace}
	case l.opts.Namespace:
		return []string{namespace, ""}
	}
	return []string{namespace}
}

// clusterWide reports the kinds that have no namespace.
func clusterWide(kind policy.ObjectKind) bool {
	switch kind {
	case policy.KindStorageClass, policy.KindPriorityClass, policy.KindRuntimeClass:
		return true
	}
	return false
}

// Object implements ObjectIndex: the input first, then the cluster. An
// object absent from both comes with the other namespaces holding one of
// its kind and name (the cluster's, at most a few, and the input's).
func (l *LiveCluster) Object(namespace string, kind policy.ObjectKind, name string) policy.ObjectState {
	var inputElsewhere []string
	for _, ns := range l.inputNamespaces(namespace) {
		st := l.input.Object(ns, kind, name)
		if st.Presence == policy.Present {
			return st
		}
		inputElsewhere = append(inputElsewhere, st.Elsewhere...)
	}
	ns := l.ns(namespace)
	if clusterWide(kind) {
		if kind == policy.KindStorageClass {
			return l.storageClass(name)
		}
		ns = ""
	}
	st := l.object(kind, ns, name).state
	if st.Presence == policy.Absent && clusterWide(kind) {
		if names := l.classNames(kind); names.known {
			st.Near = textdist.Near(name, names.items)
		}
	}
	if st.Presence != policy.Absent || clusterWide(kind) {
		return st
	}
	var where []string
	for _, n := range l.named(kind, name) {
		where = append(where, n.namespace)
	}
	for _, n := range inputElsewhere {
		where = append(where, l.ns(n))
	}
	where = slices.DeleteFunc(where, func(n string) bool { return n == ns })
	sort.Strings(where)
	where = slices.Compact(where)
	if len(where) > policy.MaxOtherNamespaces {
		where = where[:policy.MaxOtherNamespaces]
	}
	st.Elsewhere = slices.Clip(where)
	return st
}

// DefaultStorageClass implements ObjectIndex: a default in the input (the
// newest once applied), else the cluster's.
func (l *LiveCluster) DefaultStorageClass() (string, bool) {
	if name, ok := l.input.DefaultStorageClass(); ok {
		return name, true
	}
	c := l.classes()
	return c.defaultClass, c.known
}

// Secret implements ClusterView: the input's, else the cluster's. A
// Secret of a type other than the pull-secret types comes back with its
// key names only.
func (l *LiveCluster) Secret(namespace, name string) (*corev1.Secret, bool) {
	for _, ns := range l.inputNamespaces(namespace) {
		if s, ok := l.input.Secret(ns, name); ok {
			return s, true
		}
	}
	s := l.object(policy.KindSecret, l.ns(namespace), name).secret
	return s, s != nil
}

// ServiceAccount implements ClusterView: the input's, else the cluster's.
func (l *LiveCluster) ServiceAccount(namespace, name string) (*corev1.ServiceAccount, bool) {
	for _, ns := range l.inputNamespaces(namespace) {
		if sa, ok := l.input.ServiceAccount(ns, name); ok {
			return sa, true
		}
	}
	sa := l.object(policy.KindServiceAccount, l.ns(namespace), name).sa
	return sa, sa != nil
}

// NodePlatforms implements ClusterView: the input's platforms, or with
// PlatformsFromNodes those of the cluster's nodes the pod may run on.
func (l *LiveCluster) NodePlatforms(spec *corev1.PodSpec) []registrycheck.Platform {
	if l.opts.PlatformsFromNodes {
		if nodes, ok := l.Nodes(); ok {
			sel := labels.SelectorFromSet(spec.NodeSelector)
			var eligible []*corev1.Node
			for _, n := range nodes {
				if sel.Matches(labels.Set(n.Labels)) {
					eligible = append(eligible, n)
				}
			}
			return narrowPlatforms(nodePlatforms(eligible), spec)
		}
	}
	return l.input.NodePlatforms(spec)
}

// PullSecretNamespaces implements PullSecretIndex: the input's and the
// cluster's.
func (l *LiveCluster) PullSecretNamespaces(name string) []string {
	out := l.input.PullSecretNamespaces(name)
	for _, n := range l.named(policy.KindSecret, name) {
		if n.typ == corev1.SecretTypeDockerConfigJson || n.typ == corev1.SecretTypeDockercfg {
			out = append(out, n.namespace)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// PullSecrets implements PullSecretIndex: the input's, then the cluster's
// of other names.
func (l *LiveCluster) PullSecrets(namespace string) []*corev1.Secret {
	var out []*corev1.Secret
	seen := map[string]bool{}
	for _, ns := range l.inputNamespaces(namespace) {
		for _, s := range l.input.PullSecrets(ns) {
			if !seen[s.Name] {
				seen[s.Name] = true
				out = append(out, s)
			}
		}
	}
	ns := l.ns(namespace)
	live := l.answer("pull\x00"+ns, func() any {
		var all []*corev1.Secret
		for _, t := range []corev1.SecretType{corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg} {
			var list *corev1.SecretList
			err := l.call(func(ctx context.Context) (err error) {
				list, err = l.client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{
					FieldSelector: fields.OneTermEqualSelector("type", string(t)).String()})
				return err
			})
			if err != nil {
				l.failed("secrets", ns, err)
				continue
			}
			for i := range list.Items {
				if s := &list.Items[i]; s.Type == t {
					all = append(all, reducedSecret(s))
				}
			}
		}
		return all
	}).([]*corev1.Secret)
	for _, s := range live {
		if !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// answer returns the answer cached under key, computing it once.
func (l *LiveCluster) answer(key string, compute func() any) any {
	l.mu.Lock()
	a, ok := l.answers[key]
	if !ok {
		a = &liveAnswer{done: make(chan struct{})}
		l.answers[key] = a
	}
	l.mu.Unlock()
	if ok {
		<-a.done
		return a.v
	}
	defer close(a.done)
	a.v = compute()
	return a.v
}

// call makes one API call within the bounds, or none (errStopped).
func (l *LiveCluster) call(f func(ctx context.Context) error) error {
	l.mu.Lock()
	now := time.Now()
	if l.deadline.IsZero() {
		l.deadline = now.Add(l.opts.Budget)
	}
	if !l.stopped && (l.calls >= l.opts.MaxCalls || !now.Before(l.deadline)) {
		l.stopped = true
		l.mu.Unlock()
		l.warn("bounds", "stopped reading the cluster: objects not read yet are not judged",
			"calls", l.opts.MaxCalls, "budget", l.opts.Budget)
		return errStopped
	}
	if l.stopped {
		l.mu.Unlock()
		return errStopped
	}
	l.calls++
	timeout := min(l.opts.CallTimeout, l.deadline.Sub(now))
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return f(ctx)
}

// failed records a call that did not answer. Forbidden (and other refusals
// by the API server) are said once per resource and namespace; a cluster
// that cannot be reached, or refuses the credentials, is said once and
// asked nothing more.
func (l *LiveCluster) failed(resource, namespace string, err error) {
	if errors.Is(err, errStopped) {
		return
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || apierrors.IsUnauthorized(err) {
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		l.warn("unreachable", "cannot read the cluster: objects not in the input are not judged", "err", err)
		return
	}
	where := "namespace " + namespace
	if namespace == "" {
		where = "cluster-wide"
	}
	l.warn(resource+"\x00"+namespace, fmt.Sprintf("cannot read %s (%s) from the cluster: their checks say nothing", resource, where),
		"reason", string(apierrors.ReasonForError(err)), "err", err)
}

// warn logs msg once per key.
func (l *LiveCluster) warn(key, msg string, args ...any) {
	l.mu.Lock()
	seen := l.warned[key]
	l.warned[key] = true
	l.mu.Unlock()
	if !seen && l.opts.Log != nil {
		l.opts.Log.Warn(msg, args...)
	}
}

// resourceOf names a kind's API resource.
func resourceOf(kind policy.ObjectKind) string {
	switch kind {
	case policy.KindConfigMap:
		return "configmaps"
	case policy.KindSecret:
		return "secrets"
	case policy.KindClaim:
		return "persistentvolumeclaims"
	case policy.KindServiceAccount:
		return "serviceaccounts"
	case policy.KindStorageClass:
		return "storageclasses"
	case policy.KindPriorityClass:
		return "priorityclasses"
	case policy.KindRuntimeClass:
		return "runtimeclasses"
	}
	return string(kind)
}

// object reads one object of the cluster (namespace "" for cluster-wide
// kinds), once.
func (l *LiveCluster) object(kind policy.ObjectKind, namespace, name string) liveObject {
	return l.answer("object\x00"+string(kind)+"\x00"+namespace+"\x00"+name, func() any {
		var out liveObject
		err := l.call(func(ctx context.Context) error {
			var err error
			out, err = l.get(ctx, kind, namespace, name)
			return err
		})
		switch {
		case err == nil:
			out.state.Presence = policy.Present
		case apierrors.IsNotFound(err):
			out = liveObject{state: policy.ObjectState{Presence: policy.Absent}}
		default:
			l.failed(resourceOf(kind), namespace, err)
			out = liveObject{} // PresenceUnknown
		}
		return out
	}).(liveObject)
}

// get reads one object and keeps what the checks need of it.
func (l *LiveCluster) get(ctx context.Context, kind policy.ObjectKind, namespace, name string) (liveObject, error) {
	get := metav1.GetOptions{}
	var out liveObject
	switch kind {
	case policy.KindConfigMap:
		cm, err := l.client.CoreV1().ConfigMaps(namespace).Get(ctx, name, get)
		if err != nil {
			return out, err
		}
		out.state.Keys, out.state.KeysKnown = keysOf(nil, cm.Data), true
		out.state.BinaryKeys = keysOf(cm.BinaryData, nil)
	case policy.KindSecret:
		s, err := l.client.CoreV1().Secrets(namespace).Get(ctx, name, get)
		if err != nil {
			return out, err
		}
		out.state.Keys, out.state.KeysKnown = secretKeys(s), true
		out.secret = reducedSecret(s)
	case policy.KindClaim:
		pvc, err := l.client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, name, get)
		if err != nil {
			return out, err
		}
		if c := pvc.Spec.StorageClassName; c != nil {
			class := *c
			out.state.StorageClassName = &class
		}
		out.state.Bound = pvc.Status.Phase == corev1.ClaimBound
	case policy.KindServiceAccount:
		sa, err := l.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, get)
		if err != nil {
			return out, err
		}
		out.sa = &corev1.ServiceAccount{ObjectMeta: reducedMeta(&sa.ObjectMeta), ImagePullSecrets: sa.ImagePullSecrets}
	case policy.KindPriorityClass:
		if _, err := l.client.SchedulingV1().PriorityClasses().Get(ctx, name, get); err != nil {
			return out, err
		}
	case policy.KindRuntimeClass:
		if _, err := l.client.NodeV1().RuntimeClasses().Get(ctx, name, get); err != nil {
			return out, err
		}
	default:
		return out, fmt.Errorf("kind %s is not read", kind)
	}
	return out, nil
}

// reducedSecret keeps a Secret's name, namespace and type, and its data
// for the pull-secret types, its key names only for the others.
func reducedSecret(s *corev1.Secret) *corev1.Secret {
	if isPullSecret(s) {
		return &corev1.Secret{ObjectMeta: reducedMeta(&s.ObjectMeta), Type: s.Type, Data: s.Data}
	}
	out, _ := secretKeysOnly(s)
	return out.(*corev1.Secret)
}

// named lists the namespaces holding an object of a namespaced kind and
// name (a list across all namespaces by metadata.name), once; nothing
// when that may not be listed.
func (l *LiveCluster) named(kind policy.ObjectKind, name string) []liveNamed {
	return l.answer("named\x00"+string(kind)+"\x00"+name, func() any {
		opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), Limit: 500}
		var out []liveNamed
		err := l.call(func(ctx context.Context) error {
			add := func(m metav1.ObjectMeta, typ corev1.SecretType) {
				if m.Name == name { // a fake client ignores the selector
					out = append(out, liveNamed{m.Namespace, typ})
				}
			}
			core := l.client.CoreV1()
			switch kind {
			case policy.KindConfigMap:
				list, err := core.ConfigMaps("").List(ctx, opts)
				if err != nil {
					return err
				}
				for i := range list.Items {
					add(list.Items[i].ObjectMeta, "")
				}
			case policy.KindSecret:
				list, err := core.Secrets("").List(ctx, opts)
				if err != nil {
					return err
				}
				for i := range list.Items {
					add(list.Items[i].ObjectMeta, list.Items[i].Type)
				}
			case policy.KindClaim:
				list, err := core.PersistentVolumeClaims("").List(ctx, opts)
				if err != nil {
					return err
				}
				for i := range list.Items {
					add(list.Items[i].ObjectMeta, "")
				}
			case policy.KindServiceAccount:
				list, err := core.ServiceAccounts("").List(ctx, opts)
				if err != nil {
					return err
				}
				for i := range list.Items {
					add(list.Items[i].ObjectMeta, "")
				}
			}
			return nil
		})
		if err != nil {
			if apierrors.IsForbidden(err) {
				if l.opts.Log != nil {
					l.opts.Log.Debug("cannot list across namespaces: other namespaces are not named",
						"resource", resourceOf(kind), "err", err)
				}
				return []liveNamed(nil)
			}
			l.failed(resourceOf(kind), "", err)
			return []liveNamed(nil)
		}
		return out
	}).([]liveNamed)
}

// classes lists the cluster's StorageClasses, once.
func (l *LiveCluster) classes() liveClasses {
	return l.answer("storageclasses", func() any {
		var list *storagev1.StorageClassList
		err := l.call(func(ctx context.Context) (err error) {
			list, err = l.client.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
			return err
		})
		if err != nil {
			l.failed("storageclasses", "", err)
			return liveClasses{}
		}
		c := liveClasses{names: map[string]bool{}, known: true}
		classes := make([]*storagev1.StorageClass, len(list.Items))
		for i := range list.Items {
			classes[i] = &list.Items[i]
			c.names[list.Items[i].Name] = true
		}
		c.defaultClass = defaultStorageClass(classes)
		return c
	}).(liveClasses)
}

// storageClass is a StorageClass's state, from the one listing.
func (l *LiveCluster) storageClass(name string) policy.ObjectState {
	c := l.classes()
	switch {
	case !c.known:
		return policy.ObjectState{}
	case c.names[name]:
		return policy.ObjectState{Presence: policy.Present}
	}
	names := make([]string, 0, len(c.names))
	for n := range c.names {
		names = append(names, n)
	}
	return policy.ObjectState{Presence: policy.Absent, Near: textdist.Near(name, names)}
}

// classNames lists the names of the cluster's PriorityClasses or
// RuntimeClasses, once; known is false when they cannot be read.
func (l *LiveCluster) classNames(kind policy.ObjectKind) liveList[string] {
	return l.answer("names\x00"+string(kind), func() any {
		var names []string
		err := l.call(func(ctx context.Context) error {
			switch kind {
			case policy.KindPriorityClass:
				list, err := l.client.SchedulingV1().PriorityClasses().List(ctx, metav1.ListOptions{})
				if err != nil {
					return err
				}
				for i := range list.Items {
					names = append(names, list.Items[i].Name)
				}
			case policy.KindRuntimeClass:
				list, err := l.client.NodeV1().RuntimeClasses().List(ctx, metav1.ListOptions{})
				if err != nil {
					return err
				}
				for i := range list.Items {
					names = append(names, list.Items[i].Name)
				}
			}
			return nil
		})
		if err != nil {
			l.failed(resourceOf(kind), "", err)
			return liveList[string]{}
		}
		return liveList[string]{items: names, known: true}
	}).(liveList[string])
}

// livePage is the page size of the scheduling listings.
const livePage = 500

// liveList is one cached listing: the objects, reduced, and whether the
// listing succeeded.
type liveList[T any] struct {
	items []T
	known bool
}

// listAll lists a resource page by page, each page one call within the
// bounds; known is false when a page could not be read.
func listAll[T any](l *LiveCluster, resource, namespace string, page func(ctx context.Context, opts metav1.ListOptions) ([]T, string, error)) liveList[T] {
	var out []T
	opts := metav1.ListOptions{Limit: livePage}
	for {
		var items []T
		var next string
		err := l.call(func(ctx context.Context) (err error) {
			items, next, err = page(ctx, opts)
			return err
		})
		if err != nil {
			l.failed(resource, namespace, err)
			return liveList[T]{}
		}
		out = append(out, items...)
		if next == "" {
			return liveList[T]{items: out, known: true}
		}
		opts.Continue = next
	}
}

// Nodes implements SchedulingIndex: the cluster's nodes (one listing,
// each node reduced to what the placement checks read), with the input's
// Nodes added or replacing those of the same name. Unknown when the
// nodes cannot be read (forbidden, unreachable, out of budget: said once)
// or there is none.
func (l *LiveCluster) Nodes() ([]*corev1.Node, bool) {
	live := l.answer("nodes", func() any {
		return listAll(l, "nodes", "", func(ctx context.Context, opts metav1.ListOptions) ([]*corev1.Node, string, error) {
			list, err := l.client.CoreV1().Nodes().List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return reduceAll[corev1.Node, *corev1.Node](list.Items, nodeSchedulingOnly), list.Continue, nil
		})
	}).(liveList[*corev1.Node])
	if !live.known {
		return nil, false
	}
	input, _ := l.input.Nodes()
	out := layered(live.items, input, func(n *corev1.Node) string { return n.Name })
	return out, len(out) > 0
}

// Quotas implements SchedulingIndex: the ResourceQuotas of the namespace
// in the cluster (one listing, with their status), with the input's added
// or replacing those of the same name; an input quota without a status
// keeps the cluster's (what is used does not change with an apply).
// Unknown when the cluster's cannot be read.
func (l *LiveCluster) Quotas(namespace string) ([]*corev1.ResourceQuota, bool) {
	ns := l.ns(namespace)
	live := l.answer("quotas\x00"+ns, func() any {
		return listAll(l, "resourcequotas", ns, func(ctx context.Context, opts metav1.ListOptions) ([]*corev1.ResourceQuota, string, error) {
			list, err := l.client.CoreV1().ResourceQuotas(ns).List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return reduceAll[corev1.ResourceQuota, *corev1.ResourceQuota](list.Items, quotaOnly), list.Continue, nil
		})
	}).(liveList[*corev1.ResourceQuota])
	if !live.known {
		return nil, false
	}
	var input []*corev1.ResourceQuota
	for _, n := range l.inputNamespaces(namespace) {
		q, _ := l.input.Quotas(n)
		input = append(input, q...)
	}
	byName := map[string]*corev1.ResourceQuota{}
	for _, q := range live.items {
		byName[q.Name] = q
	}
	for i, q := range input {
		if c, ok := byName[q.Name]; ok && len(q.Status.Used) == 0 && len(q.Status.Hard) == 0 {
			merged := *q
			merged.Status = c.Status
			input[i] = &merged
		}
	}
	return layered(live.items, input, func(q *corev1.ResourceQuota) string { return q.Name }), true
}

// LimitRanges implements SchedulingIndex: the LimitRanges of the
// namespace in the cluster (one listing), with the input's added or
// replacing those of the same name. Unknown when the cluster's cannot be
// read.
func (l *LiveCluster) LimitRanges(namespace string) ([]*corev1.LimitRange, bool) {
	ns := l.ns(namespace)
	live := l.answer("limitranges\x00"+ns, func() any {
		return listAll(l, "limitranges", ns, func(ctx context.Context, opts metav1.ListOptions) ([]*corev1.LimitRange, string, error) {
			list, err := l.client.CoreV1().LimitRanges(ns).List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return reduceAll[corev1.LimitRange, *corev1.LimitRange](list.Items, limitRangeOnly), list.Continue, nil
		})
	}).(liveList[*corev1.LimitRange])
	if !live.known {
		return nil, false
	}
	var input []*corev1.LimitRange
	for _, n := range l.inputNamespaces(namespace) {
		lr, _ := l.input.LimitRanges(n)
		input = append(input, lr...)
	}
	return layered(live.items, input, func(lr *corev1.LimitRange) string { return lr.Name }), true
}

// layered is the cluster's objects with the input's added or replacing
// those of the same name, sorted by name; a new slice (the cached one is
// shared).
func layered[T any](live, input []T, name func(T) string) []T {
	out := make([]T, 0, len(live)+len(input))
	replaced := map[string]bool{}
	for _, o := range input {
		replaced[name(o)] = true
	}
	for _, o := range live {
		if !replaced[name(o)] {
			out = append(out, o)
		}
	}
	last := map[string]T{} // of a name written twice, the later is applied last
	for _, o := range input {
		last[name(o)] = o
	}
	for _, o := range input {
		if v, ok := last[name(o)]; ok {
			out = append(out, v)
			delete(last, name(o))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return name(out[i]) < name(out[j]) })
	return out
}
