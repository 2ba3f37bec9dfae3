package clusterstate

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nobackoff/nobackoff/internal/manifests"
)

// The input's Nodes are the cluster's nodes (also inside a List); its
// ResourceQuotas and LimitRanges are the namespaces' policy, by namespace
// as written.
func TestStaticSchedulingIndex(t *testing.T) {
	empty := staticFrom(t, "")
	if nodes, known := empty.Nodes(); known || len(nodes) != 0 {
		t.Errorf("no Node in the input: Nodes() = %v, %v; want none, unknown", nodes, known)
	}
	if q, known := empty.Quotas("shop"); !known || len(q) != 0 {
		t.Errorf("no quota in the input: Quotas = %v, %v; want none, known", q, known)
	}
	if lr, known := empty.LimitRanges("shop"); !known || len(lr) != 0 {
		t.Errorf("no LimitRange in the input: LimitRanges = %v, %v; want none, known", lr, known)
	}

	s := staticFrom(t, `
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {kubernetes.io/arch: arm64}
spec:
  taints: [{key: gpu, value: "true", effect: NoSchedule}]
status:
  allocatable: {cpu: "4", memory: 16Gi}
  nodeInfo: {operatingSystem: linux, architecture: arm64}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: n2}
  spec: {unschedulable: true}
  status:
    allocatable: {cpu: "2"}
- apiVersion: v1
  kind: ResourceQuota
  metadata: {name: compute, namespace: shop}
  spec:
    hard: {requests.cpu: "10"}
  status:
    hard: {requests.cpu: "10"}
    used: {requests.cpu: "9"}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: bare}
spec:
  hard: {pods: "5"}
---
apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: shop}
spec:
  limits:
  - type: Container
    max: {memory: 1Gi}
`)
	nodes, known := s.Nodes()
	if !known || len(nodes) != 2 {
		t.Fatalf("Nodes() = %d nodes, known %v; want 2, known", len(nodes), known)
	}
	n1, n2 := nodes[0], nodes[1]
	if n1.Name != "n1" || n1.Labels[corev1.LabelArchStable] != "arm64" || len(n1.Spec.Taints) != 1 ||
		n1.Status.Allocatable.Memory().String() != "16Gi" || n1.Status.NodeInfo.Architecture != "arm64" {
		t.Errorf("n1 = %+v", n1)
	}
	if n2.Name != "n2" || !n2.Spec.Unschedulable || n2.Status.Allocatable.Cpu().String() != "2" {
		t.Errorf("n2 = %+v", n2)
	}

	q, known := s.Quotas("shop")
	if !known || len(q) != 1 || q[0].Name != "compute" {
		t.Fatalf("Quotas(shop) = %v, %v", q, known)
	}
	if used := q[0].Status.Used[corev1.ResourceRequestsCPU]; used.String() != "9" {
		t.Errorf("Quotas(shop) used requests.cpu = %s, want 9", used.String())
	}
	if q, known := s.Quotas(""); !known || len(q) != 1 || q[0].Name != "bare" {
		t.Errorf(`Quotas("") = %v, %v; want the quota written without a namespace`, q, known)
	}
	if q, known := s.Quotas("other"); !known || len(q) != 0 {
		t.Errorf("Quotas(other) = %v, %v; want none, known", q, known)
	}
	lr, known := s.LimitRanges("shop")
	if !known || len(lr) != 1 || lr[0].Name != "limits" || lr[0].Spec.Limits[0].Max.Memory().String() != "1Gi" {
		t.Errorf("LimitRanges(shop) = %v, %v", lr, known)
	}
	if lr, known := s.LimitRanges(""); !known || len(lr) != 0 {
		t.Errorf(`LimitRanges("") = %v, %v; want none, known`, lr, known)
	}
}

// A malformed Node is reported, not taken.
func TestStaticNodeMalformed(t *testing.T) {
	docs, errs := manifests.Read([]string{"-"}, strings.NewReader("apiVersion: v1\nkind: Node\nmetadata: {name: bad}\nspec: {unschedulable: maybe}\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	s := NewStaticCluster(nil)
	if errs := s.AddDocuments(docs); len(errs) != 1 {
		t.Errorf("errors = %v, want one", errs)
	}
	if _, known := s.Nodes(); known {
		t.Error("a malformed Node counted as known nodes")
	}
}
