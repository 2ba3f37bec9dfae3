package webhook

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
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nobackoff/nobackoff/registrycheck"
)

// InformerCluster is the webhook's ClusterView: informer caches of the
// pull-secret Secrets (the two pull-secret types, by field selector),
// ServiceAccounts and Nodes, and of the names and types of all other
// Secrets: their data is dropped before it is stored, and serves only to
// tell "exists with a type the kubelet ignores" from "does not exist".
type InformerCluster struct {
	factories []informers.SharedInformerFactory
	secrets   []corelisters.SecretLister
	others    corelisters.SecretLister
	accounts  corelisters.ServiceAccountLister
	nodes     corelisters.NodeLister
	synced    []cache.InformerSynced
	ready     atomic.Bool
}

// Synced reports whether the caches have their first listing; before,
// lookups are inconclusive rather than judged without the pull secrets.
func (c *InformerCluster) Synced() bool { return c.ready.Load() }

// NewInformerCluster prepares the informers; Start runs them.
func NewInformerCluster(client kubernetes.Interface, resync time.Duration) *InformerCluster {
	c := &InformerCluster{}
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
	_ = others.Informer().SetTransform(secretTypeOnly) // fails only once started
	c.others = others.Lister()
	c.synced = append(c.synced, others.Informer().HasSynced)
	c.factories = append(c.factories, f)

	f = informers.NewSharedInformerFactory(client, resync)
	sa, nodes := f.Core().V1().ServiceAccounts(), f.Core().V1().Nodes()
	c.accounts, c.nodes = sa.Lister(), nodes.Lister()
	c.synced = append(c.synced, sa.Informer().HasSynced, nodes.Informer().HasSynced)
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
		return fmt.Errorf("cluster caches (pull secrets, service accounts, nodes) did not sync within %v", timeout)
	}
	c.ready.Store(true)
	return nil
}

// secretTypeOnly keeps a Secret's name, namespace and type: what a
// Secret of a type the kubelet ignores is needed for.
func secretTypeOnly(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil // a deletion tombstone
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, UID: s.UID, ResourceVersion: s.ResourceVersion},
		Type:       s.Type,
	}, nil
}

// Secret implements ClusterView. A Secret of another type comes back with
// its type and no data.
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

// ServiceAccount implements ClusterView.
func (c *InformerCluster) ServiceAccount(namespace, name string) (*corev1.ServiceAccount, bool) {
	sa, err := c.accounts.ServiceAccounts(namespace).Get(name)
	return sa, err == nil
}

// NodePlatforms implements ClusterView: the distinct platforms of the
// nodes whose labels match the pod's nodeSelector, narrowed by spec.os.
// Affinity and taints are not considered.
func (c *InformerCluster) NodePlatforms(spec *corev1.PodSpec) []registrycheck.Platform {
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
func ConnectCluster(kubeconfig string, resync time.Duration) (*InformerCluster, error) {
	client, err := KubeClient(kubeconfig)
	if err != nil {
		return nil, err
	}
	return NewInformerCluster(client, resync), nil
}

// KubeClient connects to the cluster with a kubeconfig file, or with the
// pod's service account when kubeconfig is empty.
func KubeClient(kubeconfig string) (kubernetes.Interface, error) {
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
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster client: %w", err)
	}
	return client, nil
}
