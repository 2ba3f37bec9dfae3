package clusterstate

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fullNode is a Node with what a real one carries besides what the
// checks read: images, conditions, addresses, annotations.
func fullNode(name, arch string, labels map[string]string) *corev1.Node {
	m := fullMeta("", name)
	m.Labels = labels
	return &corev1.Node{ObjectMeta: m,
		Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/24", ProviderID: "aws:///i-1",
			Taints: []corev1.Taint{{Key: "gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3900m"), corev1.ResourceMemory: resource.MustParse("15Gi")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}},
			Images:      []corev1.ContainerImage{{Names: []string{"registry.k8s.io/pause:3.10"}, SizeBytes: 300000}},
			NodeInfo: corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: arch, KernelVersion: "6.1",
				KubeletVersion: "v1.36.0", MachineID: "m"},
		}}
}

// The node, quota and LimitRange transforms keep what the checks read.
func TestSchedulingTransforms(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "n1", ResourceVersion: "7", UID: "u-1"}
	node := fullNode("n1", "arm64", map[string]string{corev1.LabelArchStable: "arm64"})
	want := &corev1.Node{ObjectMeta: meta, Spec: corev1.NodeSpec{Taints: node.Spec.Taints}}
	want.Labels = node.Labels
	want.Status.Capacity, want.Status.Allocatable = node.Status.Capacity, node.Status.Allocatable
	want.Status.NodeInfo = corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "arm64"}
	cordoned := fullNode("n1", "amd64", nil)
	cordoned.Spec.Unschedulable = true
	wantCordoned := &corev1.Node{ObjectMeta: meta, Spec: corev1.NodeSpec{Taints: cordoned.Spec.Taints, Unschedulable: true}}
	wantCordoned.Status.Capacity, wantCordoned.Status.Allocatable = cordoned.Status.Capacity, cordoned.Status.Allocatable
	wantCordoned.Status.NodeInfo = corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64"}

	quota := &corev1.ResourceQuota{ObjectMeta: fullMeta("shop", "compute"),
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("10")},
			Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort}},
		Status: corev1.ResourceQuotaStatus{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("10")},
			Used: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("9")}}}
	lr := &corev1.LimitRange{ObjectMeta: fullMeta("shop", "limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}}}}
	nsMeta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "shop", Name: name, ResourceVersion: "7", UID: "u-1"}
	}
	for _, tc := range []struct {
		name      string
		transform func(any) (any, error)
		in, want  any
	}{
		{"node", nodeSchedulingOnly, node, want},
		{"cordoned node", nodeSchedulingOnly, cordoned, wantCordoned},
		{"quota", quotaOnly, quota, &corev1.ResourceQuota{ObjectMeta: nsMeta("compute"), Spec: quota.Spec, Status: quota.Status}},
		{"limitrange", limitRangeOnly, lr, &corev1.LimitRange{ObjectMeta: nsMeta("limits"), Spec: lr.Spec}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertTransform(t, tc.transform, tc.in, tc.want)
		})
	}
}

// schedulingObjects is a cluster of three nodes (one labelled arm64, one
// known as amd64 by its node info only, one cordoned), a quota and a
// LimitRange in shop.
func schedulingObjects() []runtime.Object {
	cordoned := fullNode("c-cordoned", "amd64", map[string]string{corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64", "pool": "batch"})
	cordoned.Spec.Unschedulable = true
	return []runtime.Object{
		fullNode("b-arm", "arm64", map[string]string{corev1.LabelOSStable: "linux", corev1.LabelArchStable: "arm64", "pool": "web"}),
		fullNode("a-info-only", "amd64", map[string]string{"pool": "web"}),
		cordoned,
		&corev1.ResourceQuota{ObjectMeta: fullMeta("shop", "compute"),
			Spec:   corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")}},
			Status: corev1.ResourceQuotaStatus{Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")}}},
		&corev1.ResourceQuota{ObjectMeta: fullMeta("shop", "a-objects"),
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/configmaps": resource.MustParse("5")}}},
		&corev1.ResourceQuota{ObjectMeta: fullMeta("ci", "compute")},
		&corev1.LimitRange{ObjectMeta: fullMeta("shop", "limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}}}},
	}
}

func TestInformerClusterScheduling(t *testing.T) {
	client := fake.NewSimpleClientset(schedulingObjects()...)
	c := NewInformerCluster(client, 0, ClusterOptions{Objects: true})
	if _, known := c.Nodes(); known {
		t.Error("nodes known before the caches synced")
	}
	if _, known := c.Quotas("shop"); known {
		t.Error("quotas known before the caches synced")
	}
	if _, known := c.LimitRanges("shop"); known {
		t.Error("LimitRanges known before the caches synced")
	}
	startCluster(t, c)

	nodes, known := c.Nodes()
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
		if n.Status.Images != nil || n.Status.Conditions != nil || n.Annotations != nil || n.ManagedFields != nil {
			t.Errorf("node %s kept more than the checks read: %+v", n.Name, n)
		}
	}
	if !known || fmt.Sprint(names) != "[a-info-only b-arm c-cordoned]" {
		t.Errorf("Nodes() = %v, %v", names, known)
	}
	if !nodes[2].Spec.Unschedulable || len(nodes[1].Spec.Taints) != 1 || nodes[1].Status.Allocatable.Cpu().String() != "3900m" {
		t.Errorf("nodes lost what the checks read: %+v", nodes)
	}

	quotas, known := c.Quotas("shop")
	if !known || len(quotas) != 2 || quotas[0].Name != "a-objects" || quotas[1].Name != "compute" {
		t.Fatalf("Quotas(shop) = %v, %v", quotas, known)
	}
	if used := quotas[1].Status.Used[corev1.ResourcePods]; used.String() != "5" {
		t.Errorf("quota status lost: used pods %s", used.String())
	}
	if q, known := c.Quotas("empty"); !known || len(q) != 0 {
		t.Errorf("Quotas(empty) = %v, %v; want none, known", q, known)
	}
	if lr, known := c.LimitRanges("shop"); !known || len(lr) != 1 || lr[0].Spec.Limits[0].Max.Memory().String() != "1Gi" {
		t.Errorf("LimitRanges(shop) = %v, %v", lr, known)
	}
	if lr, known := c.LimitRanges("ci"); !known || len(lr) != 0 {
		t.Errorf("LimitRanges(ci) = %v, %v; want none, known", lr, known)
	}

	// NodePlatforms still reads the reduced nodes: labels first, the node
	// info for a node without them; the nodeSelector narrows.
	for _, tc := range []struct {
		selector map[string]string
		want     string
	}{
		{nil, "[linux/amd64 linux/arm64]"},
		{map[string]string{"pool": "web"}, "[linux/amd64 linux/arm64]"},
		{map[string]string{corev1.LabelArchStable: "arm64"}, "[linux/arm64]"},
		{map[string]string{"pool": "batch"}, "[linux/amd64]"},
		{map[string]string{"pool": "none"}, "[]"},
	} {
		got := c.NodePlatforms(&corev1.PodSpec{NodeSelector: tc.selector})
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if sort.Strings(s); fmt.Sprint(s) != tc.want {
			t.Errorf("NodePlatforms(%v) = %v, want %s", tc.selector, s, tc.want)
		}
	}

	// Watched: a quota created later is seen, reduced.
	late := &corev1.ResourceQuota{ObjectMeta: fullMeta("ci", "late")}
	if _, err := client.CoreV1().ResourceQuotas("ci").Create(context.Background(), late, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if q, _ := c.Quotas("ci"); len(q) == 2 {
			if q[1].Name != "late" || q[1].Labels != nil {
				t.Errorf("watched quota: %+v", q[1])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a quota created after the sync never reached the cache")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Without Objects the nodes are known, quotas and LimitRanges are not,
// and neither is listed or watched.
func TestInformerClusterSchedulingWithoutObjects(t *testing.T) {
	client := fake.NewSimpleClientset(schedulingObjects()...)
	c := NewInformerCluster(client, 0, ClusterOptions{})
	startCluster(t, c)
	if nodes, known := c.Nodes(); !known || len(nodes) != 3 {
		t.Errorf("Nodes() = %d, %v; want 3, known", len(nodes), known)
	}
	if _, known := c.Quotas("shop"); known {
		t.Error("quotas known without Objects")
	}
	if _, known := c.LimitRanges("shop"); known {
		t.Error("LimitRanges known without Objects")
	}
	for _, a := range client.Actions() {
		if r := a.GetResource().Resource; r == "resourcequotas" || r == "limitranges" {
			t.Errorf("%s %s without Objects", a.GetVerb(), r)
		}
	}
}

// A cluster without a node says nothing of nodes: there is nothing to
// judge placement by.
func TestInformerClusterNoNodes(t *testing.T) {
	client := fake.NewSimpleClientset()
	c := NewInformerCluster(client, 0, ClusterOptions{Objects: true})
	startCluster(t, c)
	if nodes, known := c.Nodes(); known || len(nodes) != 0 {
		t.Errorf("Nodes() = %v, %v; want unknown", nodes, known)
	}
	if _, known := c.Quotas("shop"); !known {
		t.Error("no quota in a synced cluster should be known")
	}
}

// Forbidden to list quotas, the caches never sync: Start fails, and the
// quotas stay unknown.
func TestInformerClusterQuotasForbidden(t *testing.T) {
	client := fake.NewSimpleClientset()
	client.PrependReactor("list", "resourcequotas", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, fmt.Errorf("resourcequotas is forbidden")
	})
	c := NewInformerCluster(client, 0, ClusterOptions{Objects: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Start(ctx, 300*time.Millisecond); err == nil {
		t.Fatal("Start succeeded without the quotas listed")
	}
	if _, known := c.Quotas("shop"); known {
		t.Error("quotas known without a listing")
	}
}
