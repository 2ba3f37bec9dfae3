package clusterstate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	nodelisters "k8s.io/client-go/listers/node/v1"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nobackoff/nobackoff/policy"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// InformerCluster is the webhook's ClusterView: informer caches of the
// pull-secret Secrets (the two pull-secret types, by field selector),
// ServiceAccounts and Nodes, and of the names and types of all other
// Secrets: their data is dropped before it is stored, and serves only to
// tell "exists with a type the kubelet ignores" from "does not exist".
//
// With ClusterOptions.Objects it is also an ObjectIndex, from caches of
// ConfigMaps, PersistentVolumeClaims, StorageClasses, PriorityClasses and
// RuntimeClasses, each reduced by a transform to what the object checks
// read before it is stored: names, key names (never values), a claim's
// storageClassName and phase, a StorageClass's default annotations.
//
// It is a SchedulingIndex: Nodes are cached reduced to what the placement
// checks and NodePlatforms read (name, labels, taints, unschedulable,
// allocatable, capacity, the node info's OS and architecture: not the
// images, conditions, addresses or annotations that make most of a Node's
// size); with ClusterOptions.Objects, ResourceQuotas (spec and status)
// and LimitRanges (spec) of all namespaces too.
//
// Memory: a reduced ConfigMap or Secret is about 0.5 KiB plus its key
// names (the struct, its name, namespace, UID and resourceVersion, a small
// map of keys, the store's entry and namespace index), so 10,000 of each
// hold about 10 MiB. The first listing of a kind still decodes every
// object whole before the transform runs: the peak is the size of the
// largest kind's full listing (all ConfigMaps, or all Secrets). Of 1,000
// cloud nodes (13.6 KiB of JSON each, 40 images), the reduced cache costs
// 18 MiB of RSS after the first listing, against 35 MiB kept whole
// (e2e TestNodesMemory).
type InformerCluster struct {
	opts      ClusterOptions
	factories []informers.SharedInformerFactory
	secrets   []corelisters.SecretLister
	others    corelisters.SecretLister
	accounts  corelisters.ServiceAccountLister
	nodes     corelisters.NodeLister

	// Set with Objects only.
	configMaps      corelisters.ConfigMapLister
	claims          corelisters.PersistentVolumeClaimLister
	storageClasses  storagelisters.StorageClassLister
	priorityClasses schedulinglisters.PriorityClassLister
	runtimeClasses  nodelisters.RuntimeClassLister
	quotas          corelisters.ResourceQuotaLister
	limitRanges     corelisters.LimitRangeLister

	synced []cache.InformerSynced
	ready  atomic.Bool

	// nodeGen counts the changes the node informer has seen; nodeSnap
	// holds the sorted nodes and their platforms as of one count, so that
	// reviews do not list and sort every node each time.
	nodeGen  atomic.Uint64
	nodeSnap atomic.Pointer[nodeSnapshot]
}

// nodeSnapshot is the cached nodes, sorted by name, and their platforms.
type nodeSnapshot struct {
	gen       uint64
	nodes     []*corev1.Node
	platforms []registrycheck.Platform
}

// ClusterOptions chooses what an InformerCluster watches besides what the
// registry checks read. The zero value watches nothing more: Object then
// answers PresenceUnknown.
type ClusterOptions struct {
	// Objects watches what the object checks read: ConfigMaps and
	// PersistentVolumeClaims in all namespaces, StorageClasses,
	// PriorityClasses and RuntimeClasses. With the Secrets and
	// ServiceAccounts watched anyway, Object answers for all seven kinds.
	// It also watches what the namespace-policy checks read:
	// ResourceQuotas and LimitRanges in all namespaces (Quotas and
	// LimitRanges are unknown without it).
	Objects bool
	// SecretKeys keeps the key names (never the values) of Secrets of the
	// types other than the pull-secret types. Off, such a Secret is known
	// to exist but not what keys it holds (KeysKnown false). All Secrets
	// are listed and watched either way: the pull-secret checks tell a
	// Secret of a type the kubelet ignores from a missing one. The keys
	// of pull secrets are always known (their data is kept for the
	// keyring).
	SecretKeys bool
}

// Synced reports whether the caches have their first listing; before,
// lookups are inconclusive rather than judged without the pull secrets.
func (c *InformerCluster) Synced() bool { return c.ready.Load() }

// NewInformerCluster prepares the informers; Start runs them.
func NewInformerCluster(client kubernetes.Interface, resync time.Duration, opts ClusterOptions) *InformerCluster {
	c := &InformerCluster{opts: opts}
	for _, t := range []corev1.SecretType{corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg} {
		f := informers.NewSharedInformerFactoryWithOptions(client, resync, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = "type=" + string(t)
		}))
		inf := f.Core().V1().Secrets()
		c.secrets = append(c.secrets, inf.Lister())
		c.synced = append(c.synced, inf.Informer().HasSynced)
		c.factories = append(c.factories, f)
	}
	f := informers.NewSharedInformerFactoryWithOptions(client, resync, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "type!=" + string(corev1.SecretTypeDockerConfigJson) + ",type!=" + string(corev1.SecretTypeDockercfg)
	}))
	others := f.Core().V1().Secrets()
	reduce := secretTypeOnly
	if opts.Objects && opts.SecretKeys {
		reduce = secretKeysOnly
	}
	_ = others.Informer().SetTransform(reduce) // fails only once started
	c.others = others.Lister()
	c.synced = append(c.synced, others.Informer().HasSynced)
	c.factories = append(c.factories, f)

	f = informers.NewSharedInformerFactory(client, resync)
	sa, nodes := f.Core().V1().ServiceAccounts(), f.Core().V1().Nodes()
	c.accounts, c.nodes = sa.Lister(), nodes.Lister()
	_ = nodes.Informer().SetTransform(nodeSchedulingOnly) // fails only once started
	bump := func(any) { c.nodeGen.Add(1) }
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    bump,
		DeleteFunc: bump,
		UpdateFunc: func(old, cur any) {
			if o, ok := old.(*corev1.Node); !ok || o.ResourceVersion != cur.(*corev1.Node).ResourceVersion {
				c.nodeGen.Add(1)
			}
		},
	})
	c.synced = append(c.synced, sa.Informer().HasSynced, nodes.Informer().HasSynced)
	if opts.Objects {
		for _, inf := range []struct {
			informer  cache.SharedIndexInformer
			transform cache.TransformFunc
		}{
			{f.Core().V1().ConfigMaps().Informer(), configMapKeysOnly},
			{f.Core().V1().PersistentVolumeClaims().Informer(), claimClassOnly},
			{f.Storage().V1().StorageClasses().Informer(), storageClassDefaultOnly},
			{f.Scheduling().V1().PriorityClasses().Informer(), classNameOnly},
			{f.Node().V1().RuntimeClasses().Informer(), classNameOnly},
			{f.Core().V1().ResourceQuotas().Informer(), quotaOnly},
			{f.Core().V1().LimitRanges().Informer(), limitRangeOnly},
		} {
			_ = inf.informer.SetTransform(inf.transform) // fails only once started
			c.synced = append(c.synced, inf.informer.HasSynced)
		}
		c.configMaps = f.Core().V1().ConfigMaps().Lister()
		c.claims = f.Core().V1().PersistentVolumeClaims().Lister()
		c.storageClasses = f.Storage().V1().StorageClasses().Lister()
		c.priorityClasses = f.Scheduling().V1().PriorityClasses().Lister()
		c.runtimeClasses = f.Node().V1().RuntimeClasses().Lister()
		c.quotas = f.Core().V1().ResourceQuotas().Lister()
		c.limitRanges = f.Core().V1().LimitRanges().Lister()
	}
	c.factories = append(c.factories, f)
	return c
}

// Start runs the informers until ctx is done and waits for their first
// listing; an error means they did not sync in time.
func (c *InformerCluster) Start(ctx context.Context, timeout time.Duration) error {
	for _, f := range c.factories {
		f.Start(ctx.Done())
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !cache.WaitForCacheSync(wctx.Done(), c.synced...) {
		what := "pull secrets, service accounts, nodes"
		if c.opts.Objects {
			what += ", configmaps, persistentvolumeclaims, storage/priority/runtime classes, resourcequotas, limitranges"
		}
		return fmt.Errorf("cluster caches (%s) did not sync within %v", what, timeout)
	}
	c.ready.Store(true)
	return nil
}

// Nodes implements SchedulingIndex: the cached nodes, sorted by name.
// Unknown before the caches synced, and when the cluster has no node (a
// cluster that makes them on demand: nothing to judge placement by).
func (c *InformerCluster) Nodes() ([]*corev1.Node, bool) {
	if !c.ready.Load() {
		return nil, false
	}
	snap := c.nodeSnapshot()
	if snap == nil || len(snap.nodes) == 0 {
		return nil, false
	}
	return snap.nodes, true
}

// nodeSnapshot returns the nodes as of the informer's latest change,
// listing them again only when one came; nil when they cannot be listed.
// The slices are shared: callers must not modify them.
func (c *InformerCluster) nodeSnapshot() *nodeSnapshot {
	gen := c.nodeGen.Load()
	if snap := c.nodeSnap.Load(); snap != nil && snap.gen == gen {
		return snap
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	snap := &nodeSnapshot{gen: gen, nodes: nodes, platforms: nodePlatforms(nodes)}
	c.nodeSnap.Store(snap)
	return snap
}

// Quotas implements SchedulingIndex: the namespace's ResourceQuotas,
// sorted by name. Unknown before the caches synced or without
// ClusterOptions.Objects.
func (c *InformerCluster) Quotas(namespace string) ([]*corev1.ResourceQuota, bool) {
	if !c.opts.Objects || !c.ready.Load() {
		return nil, false
	}
	list, err := c.quotas.ResourceQuotas(namespace).List(labels.Everything())
	if err != nil {
		return nil, false
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, true
}

// LimitRanges implements SchedulingIndex: the namespace's LimitRanges,
// sorted by name. Unknown before the caches synced or without
// ClusterOptions.Objects.
func (c *InformerCluster) LimitRanges(namespace string) ([]*corev1.LimitRange, bool) {
	if !c.opts.Objects || !c.ready.Load() {
		return nil, false
	}
	list, err := c.limitRanges.LimitRanges(namespace).List(labels.Everything())
	if err != nil {
		return nil, false
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, true
}

// Secret implements ClusterView. A Secret of another type comes back with
// its type and no data (with SecretKeys, its key names with nil values).
func (c *InformerCluster) Secret(namespace, name string) (*corev1.Secret, bool) {
	for _, l := range c.secrets {
		if s, err := l.Secrets(namespace).Get(name); err == nil {
			return s, true
		}
	}
	if s, err := c.others.Secrets(namespace).Get(name); err == nil {
		return s, true
	}
	return nil, false
}

// PullSecretNamespaces implements PullSecretIndex. It walks every pull
// secret the cache holds; it runs only for a secret a pod misses.
func (c *InformerCluster) PullSecretNamespaces(name string) []string {
	var out []string
	for _, l := range c.secrets {
		all, err := l.List(labels.Everything())
		if err != nil {
			continue
		}
		for _, s := range all {
			if s.Name == name {
				out = append(out, s.Namespace)
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// PullSecrets implements PullSecretIndex.
func (c *InformerCluster) PullSecrets(namespace string) []*corev1.Secret {
	var out []*corev1.Secret
	for _, l := range c.secrets {
		if list, err := l.Secrets(namespace).List(labels.Everything()); err == nil {
			out = append(out, list...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return slices.CompactFunc(out, func(a, b *corev1.Secret) bool { return a.Name == b.Name })
}

// Object implements ObjectIndex. Before the caches synced, or without
// ClusterOptions.Objects, nothing is known. An absent namespaced object
// comes with the other namespaces holding one of its kind and name.
func (c *InformerCluster) Object(namespace string, kind policy.ObjectKind, name string) policy.ObjectState {
	if !c.opts.Objects || !c.ready.Load() {
		return policy.ObjectState{}
	}
	present := func(keys []string, known bool) policy.ObjectState {
		return policy.ObjectState{Presence: policy.Present, Keys: keys, KeysKnown: known}
	}
	switch kind {
	case policy.KindConfigMap:
		if cm, err := c.configMaps.ConfigMaps(namespace).Get(name); err == nil {
			st := present(configMapKeys(cm), true)
			st.BinaryKeys = configMapBinaryKeys(cm)
			return st
		}
	case policy.KindSecret:
		for _, l := range c.secrets {
			if s, err := l.Secrets(namespace).Get(name); err == nil {
				return present(secretKeys(s), true)
			}
		}
		if s, err := c.others.Secrets(namespace).Get(name); err == nil {
			if !c.opts.SecretKeys {
				return present(nil, false)
			}
			return present(secretKeys(s), true)
		}
	case policy.KindClaim:
		if pvc, err := c.claims.PersistentVolumeClaims(namespace).Get(name); err == nil {
			st := present(nil, false)
			st.Bound = pvc.Status.Phase == corev1.ClaimBound
			if pvc.Spec.StorageClassName != nil {
				class := *pvc.Spec.StorageClassName
				st.StorageClassName = &class
			}
			return st
		}
	case policy.KindServiceAccount:
		if _, err := c.accounts.ServiceAccounts(namespace).Get(name); err == nil {
			return present(nil, false)
		}
	case policy.KindStorageClass:
		if _, err := c.storageClasses.Get(name); err == nil {
			return present(nil, false)
		}
		all, _ := c.storageClasses.List(labels.Everything())
		return policy.ObjectState{Presence: policy.Absent, Near: nearNames(name, all)}
	case policy.KindPriorityClass:
		if _, err := c.priorityClasses.Get(name); err == nil {
			return present(nil, false)
		}
		all, _ := c.priorityClasses.List(labels.Everything())
		return policy.ObjectState{Presence: policy.Absent, Near: nearNames(name, all)}
	case policy.KindRuntimeClass:
		if _, err := c.runtimeClasses.Get(name); err == nil {
			return present(nil, false)
		}
		all, _ := c.runtimeClasses.List(labels.Everything())
		return policy.ObjectState{Presence: policy.Absent, Near: nearNames(name, all)}
	default:
		return policy.ObjectState{}
	}
	return policy.ObjectState{Presence: policy.Absent, Elsewhere: c.elsewhere(kind, namespace, name)}
}

// elsewhere lists up to policy.MaxOtherNamespaces namespaces other than namespace
// holding an object of the kind and name, sorted. It walks the kind's
// whole cache: it runs only for an object a pod misses.
func (c *InformerCluster) elsewhere(kind policy.ObjectKind, namespace, name string) []string {
	var out []string
	add := func(o metav1.Object) {
		if o.GetName() == name && o.GetNamespace() != namespace {
			out = append(out, o.GetNamespace())
		}
	}
	switch kind {
	case policy.KindConfigMap:
		all, _ := c.configMaps.List(labels.Everything())
		for _, o := range all {
			add(o)
		}
	case policy.KindSecret:
		for _, l := range append(slices.Clip(c.secrets), c.others) {
			all, _ := l.List(labels.Everything())
			for _, o := range all {
				add(o)
			}
		}
	case policy.KindClaim:
		all, _ := c.claims.List(labels.Everything())
		for _, o := range all {
			add(o)
		}
	case policy.KindServiceAccount:
		all, _ := c.accounts.List(labels.Everything())
		for _, o := range all {
			add(o)
		}
	}
	sort.Strings(out)
	out = slices.Compact(out)
	if len(out) > policy.MaxOtherNamespaces {
		out = out[:policy.MaxOtherNamespaces]
	}
	return slices.Clip(out)
}

// DefaultStorageClass implements ObjectIndex by the DefaultStorageClass
// admission plugin's rule: of the classes annotated default (the GA or
// the beta annotation, "true"), the newest; of equally new ones, the first
// by name.
func (c *InformerCluster) DefaultStorageClass() (string, bool) {
	if !c.opts.Objects || !c.ready.Load() {
		return "", false
	}
	all, err := c.storageClasses.List(labels.Everything())
	if err != nil {
		return "", false
	}
	return defaultStorageClass(all), true
}

// ServiceAccount implements ClusterView.
func (c *InformerCluster) ServiceAccount(namespace, name string) (*corev1.ServiceAccount, bool) {
	sa, err := c.accounts.ServiceAccounts(namespace).Get(name)
	return sa, err == nil
}

// NodePlatforms implements ClusterView: the distinct platforms of the
// nodes whose labels match the pod's nodeSelector, narrowed by spec.os.
// Affinity and taints are not considered.
func (c *InformerCluster) NodePlatforms(spec *corev1.PodSpec) []registrycheck.Platform {
	if len(spec.NodeSelector) == 0 {
		if snap := c.nodeSnapshot(); snap != nil {
			return narrowPlatforms(snap.platforms, spec)
		}
		return nil
	}
	nodes, err := c.nodes.List(labels.SelectorFromSet(spec.NodeSelector))
	if err != nil {
		return nil
	}
	return narrowPlatforms(nodePlatforms(nodes), spec)
}

// nodePlatforms returns the distinct platforms of nodes, from their
// kubernetes.io/os and kubernetes.io/arch labels, else their node info.
func nodePlatforms(nodes []*corev1.Node) []registrycheck.Platform {
	seen := map[registrycheck.Platform]bool{}
	var out []registrycheck.Platform
	for _, n := range nodes {
		p := registrycheck.Platform{OS: n.Labels[corev1.LabelOSStable], Architecture: n.Labels[corev1.LabelArchStable]}
		if p.OS == "" {
			p.OS = n.Status.NodeInfo.OperatingSystem
		}
		if p.Architecture == "" {
			p.Architecture = n.Status.NodeInfo.Architecture
		}
		if p.OS == "" || p.Architecture == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}

// ConnectCluster builds the cluster view from a kubeconfig file, or from
// the pod's service account when kubeconfig is empty.
func ConnectCluster(kubeconfig string, resync time.Duration, opts ClusterOptions) (*InformerCluster, error) {
	client, err := KubeClient(kubeconfig)
	if err != nil {
		return nil, err
	}
	return NewInformerCluster(client, resync, opts), nil
}

// KubeClient connects to the cluster with a kubeconfig file, or with the
// pod's service account when kubeconfig is empty.
func KubeClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := RestConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster client: %w", err)
	}
	return client, nil
}

// RestConfig is the connection KubeClient makes, for other clients (the
// Reports'): from a kubeconfig file, or from the pod's service account
// when kubeconfig is empty.
func RestConfig(kubeconfig string) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("cluster connection: %w", err)
	}
	cfg.UserAgent = "nobackoff"
	return cfg, nil
}
