package clusterstate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/report"
	"github.com/nobackoff/nobackoff/policy"
)

// syncLog is a logger whose output can be read while it is written.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *syncLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(s, nil)) }

// liveObjects is a cluster: namespace shop holds most of what pod specs
// name, other holds a ConfigMap shop lacks.
func liveObjects() []runtime.Object {
	fast, none := "fast", "none"
	old := metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	newer := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	return []runtime.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Data: map[string]string{"LOG_LEVEL": "info"},
			BinaryData: map[string][]byte{"logo.png": {1}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "settings"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "third", Name: "settings"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{"password": []byte("s3cret")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "regcred"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "ghcr"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &fast}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orphan"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &none}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "builder", Labels: map[string]string{"a": "b"}},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard", CreationTimestamp: old,
			Annotations: map[string]string{defaultClassAnnotation: "true"}}},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast", CreationTimestamp: newer,
			Annotations: map[string]string{betaDefaultClassAnnotation: "true"}}},
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000},
		&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "gvisor"}, Handler: "runsc"},
	}
}

// staticFrom reads YAML documents into a StaticCluster.
func staticFrom(t *testing.T, yaml string) *StaticCluster {
	t.Helper()
	s := NewStaticCluster(nil)
	if yaml == "" {
		return s
	}
	docs, errs := manifests.Read([]string{"-"}, strings.NewReader(yaml))
	errs = append(errs, s.AddDocuments(docs)...)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return s
}

// emptyNil makes an object state's empty lists nil, for comparison.
func emptyNil(st policy.ObjectState) policy.ObjectState {
	for _, l := range []*[]string{&st.Keys, &st.BinaryKeys, &st.Elsewhere} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return st
}

// gets counts the API calls a fake client received.
func gets(client *fake.Clientset) int { return len(client.Actions()) }

// Objects absent from the input are read from the cluster: present with
// their keys, a claim's class and phase, classes; absent ones with the
// other namespaces holding one; each asked once.
func TestLiveClusterObjects(t *testing.T) {
	client := fake.NewSimpleClientset(liveObjects()...)
	input := staticFrom(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-input}\ndata: {A: a}\n")
	l := NewLiveCluster(input, client, LiveOptions{Namespace: "shop"})

	fast := "fast"
	cases := []struct {
		ns   string
		kind policy.ObjectKind
		name string
		want policy.ObjectState
	}{
		{"shop", policy.KindConfigMap, "web", policy.ObjectState{Presence: policy.Present, Keys: []string{"LOG_LEVEL"}, KeysKnown: true, BinaryKeys: []string{"logo.png"}}},
		{"", policy.KindConfigMap, "web", policy.ObjectState{Presence: policy.Present, Keys: []string{"LOG_LEVEL"}, KeysKnown: true, BinaryKeys: []string{"logo.png"}}},
		{"shop", policy.KindConfigMap, "from-input", policy.ObjectState{Presence: policy.Present, Keys: []string{"A"}, KeysKnown: true}},
		{"shop", policy.KindConfigMap, "settings", policy.ObjectState{Presence: policy.Absent, Elsewhere: []string{"other", "third"}}},
		{"other", policy.KindConfigMap, "settings", policy.ObjectState{Presence: policy.Present, Keys: []string{}, KeysKnown: true, BinaryKeys: []string{}}},
		{"shop", policy.KindConfigMap, "nowhere", policy.ObjectState{Presence: policy.Absent}},
		{"shop", policy.KindSecret, "db", policy.ObjectState{Presence: policy.Present, Keys: []string{"password"}, KeysKnown: true}},
		{"shop", policy.KindSecret, "ghcr", policy.ObjectState{Presence: policy.Absent, Elsewhere: []string{"ci"}}},
		{"shop", policy.KindClaim, "data", policy.ObjectState{Presence: policy.Present, StorageClassName: &fast, Bound: true}},
		{"shop", policy.KindClaim, "nope", policy.ObjectState{Presence: policy.Absent}},
		{"shop", policy.KindServiceAccount, "builder", policy.ObjectState{Presence: policy.Present}},
		{"shop", policy.KindServiceAccount, "nobody", policy.ObjectState{Presence: policy.Absent}},
		{"shop", policy.KindStorageClass, "fast", policy.ObjectState{Presence: policy.Present}},
		{"shop", policy.KindStorageClass, "none", policy.ObjectState{Presence: policy.Absent}},
		{"shop", policy.KindPriorityClass, "high", policy.ObjectState{Presence: policy.Present}},
		{"shop", policy.KindPriorityClass, "low", policy.ObjectState{Presence: policy.Absent}},
		{"shop", policy.KindRuntimeClass, "gvisor", policy.ObjectState{Presence: policy.Present}},
		{"shop", policy.KindRuntimeClass, "kata", policy.ObjectState{Presence: policy.Absent}},
	}
	for _, c := range cases {
		got := l.Object(c.ns, c.kind, c.name)
		if !reflect.DeepEqual(emptyNil(got), emptyNil(c.want)) {
			t.Errorf("Object(%q, %s, %q) = %#v, want %#v", c.ns, c.kind, c.name, got, c.want)
		}
	}
	if def, known := l.DefaultStorageClass(); def != "fast" || !known {
		t.Errorf("DefaultStorageClass() = %q, %v; want the newest default, fast", def, known)
	}
	calls := gets(client)
	for _, c := range cases {
		l.Object(c.ns, c.kind, c.name)
	}
	l.DefaultStorageClass()
	if gets(client) != calls || l.Calls() != calls {
		t.Errorf("asking again made %d more API calls (counted %d)", gets(client)-calls, l.Calls())
	}
	for _, a := range client.Actions() {
		if v := a.GetVerb(); v != "get" && v != "list" {
			t.Errorf("a %s call: the cluster is only read", v)
		}
	}
}

// The registry lookups' view: pull secrets keep their data, other Secrets
// only their key names; ServiceAccounts their pull secrets.
func TestLiveClusterSecrets(t *testing.T) {
	client := fake.NewSimpleClientset(liveObjects()...)
	l := NewLiveCluster(staticFrom(t, ""), client, LiveOptions{Namespace: "shop"})
	s, ok := l.Secret("", "regcred")
	if !ok || s.Type != corev1.SecretTypeDockerConfigJson || string(s.Data[corev1.DockerConfigJsonKey]) != `{"auths":{}}` {
		t.Errorf("pull secret: %v %+v", ok, s)
	}
	s, ok = l.Secret("shop", "db")
	if !ok || s.Type != corev1.SecretTypeOpaque || len(s.Data) != 1 || s.Data["password"] != nil {
		t.Errorf("opaque secret must keep key names only: %v %+v", ok, s)
	}
	if _, ok := l.Secret("shop", "nope"); ok {
		t.Error("a missing secret was found")
	}
	sa, ok := l.ServiceAccount("shop", "builder")
	if !ok || len(sa.ImagePullSecrets) != 1 || sa.ImagePullSecrets[0].Name != "regcred" || sa.Labels != nil {
		t.Errorf("service account: %v %+v", ok, sa)
	}
	if got := l.PullSecretNamespaces("ghcr"); fmt.Sprint(got) != "[ci]" {
		t.Errorf("PullSecretNamespaces(ghcr) = %v", got)
	}
	if got := l.PullSecrets(""); len(got) != 1 || got[0].Name != "regcred" {
		t.Errorf("PullSecrets(shop) = %v", got)
	}
}

// What the input holds is present without asking the cluster; its
// default StorageClass wins over the cluster's.
func TestLiveClusterInputFirst(t *testing.T) {
	client := fake.NewSimpleClientset(liveObjects()...)
	input := staticFrom(t, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: new-data, namespace: shop}
spec: {storageClassName: local}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: x
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner}
`)
	l := NewLiveCluster(input, client, LiveOptions{Namespace: "shop"})
	if st := l.Object("shop", policy.KindClaim, "new-data"); st.Presence != policy.Present {
		t.Errorf("claim of the input: %+v", st)
	}
	if st := l.Object("shop", policy.KindStorageClass, "local"); st.Presence != policy.Present {
		t.Errorf("class of the input: %+v", st)
	}
	if st := l.Object("shop", policy.KindServiceAccount, "runner"); st.Presence != policy.Present {
		t.Errorf("namespace-less ServiceAccount of the input, context namespace shop: %+v", st)
	}
	if def, known := l.DefaultStorageClass(); def != "local" || !known {
		t.Errorf("DefaultStorageClass() = %q, %v; want the input's", def, known)
	}
	if n := gets(client); n != 0 {
		t.Errorf("%d API calls for objects of the input: %v", n, client.Actions())
	}
}

// Forbidden reads are unknown, said once per resource and namespace; a
// forbidden list across namespaces names no other namespace, quietly.
func TestLiveClusterForbidden(t *testing.T) {
	client := fake.NewSimpleClientset(liveObjects()...)
	client.PrependReactor("get", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, a.(k8stesting.GetAction).GetName(), errors.New("RBAC"))
	})
	client.PrependReactor("list", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", errors.New("RBAC"))
	})
	var log syncLog
	l := NewLiveCluster(staticFrom(t, ""), client, LiveOptions{Namespace: "shop", Log: log.logger()})
	for _, name := range []string{"web", "settings", "web"} {
		if st := l.Object("shop", policy.KindConfigMap, name); st.Presence != policy.PresenceUnknown {
			t.Errorf("forbidden ConfigMap %s: %+v", name, st)
		}
	}
	if st := l.Object("shop", policy.KindSecret, "ghcr"); st.Presence != policy.Absent || st.Elsewhere != nil {
		t.Errorf("secret, list forbidden: %+v", st)
	}
	if st := l.Object("shop", policy.KindSecret, "db"); st.Presence != policy.Present {
		t.Errorf("secrets can still be read: %+v", st)
	}
	out := log.String()
	if n := strings.Count(out, "level=WARN"); n != 1 || !strings.Contains(out, "cannot read configmaps (namespace shop)") ||
		!strings.Contains(out, "reason=Forbidden") {
		t.Errorf("want one warning about configmaps:\n%s", out)
	}
}

// A cluster that cannot be reached is said once and asked nothing more.
func TestLiveClusterUnreachable(t *testing.T) {
	client := fake.NewSimpleClientset()
	client.PrependReactor("*", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	})
	var log syncLog
	l := NewLiveCluster(staticFrom(t, ""), client, LiveOptions{Log: log.logger()})
	for _, kind := range []policy.ObjectKind{policy.KindConfigMap, policy.KindClaim, policy.KindStorageClass, policy.KindPriorityClass} {
		if st := l.Object("", kind, "x"); st.Presence != policy.PresenceUnknown {
			t.Errorf("%s: %+v", kind, st)
		}
	}
	if _, known := l.DefaultStorageClass(); known {
		t.Error("default StorageClass known")
	}
	if n := gets(client); n != 1 {
		t.Errorf("%d API calls, want 1: %v", n, client.Actions())
	}
	if out := log.String(); strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "connection refused") {
		t.Errorf("want one warning:\n%s", out)
	}
}

// The number of API calls is bounded; past it, objects are unknown.
func TestLiveClusterBounds(t *testing.T) {
	client := fake.NewSimpleClientset(liveObjects()...)
	var log syncLog
	l := NewLiveCluster(staticFrom(t, ""), client, LiveOptions{Namespace: "shop", MaxCalls: 2, Log: log.logger()})
	l.Object("shop", policy.KindConfigMap, "web")
	l.Object("shop", policy.KindPriorityClass, "high")
	if st := l.Object("shop", policy.KindRuntimeClass, "gvisor"); st.Presence != policy.PresenceUnknown {
		t.Errorf("past the bound: %+v", st)
	}
	if st := l.Object("shop", policy.KindConfigMap, "web"); st.Presence != policy.Present {
		t.Errorf("answers before the bound are kept: %+v", st)
	}
	if n := gets(client); n != 2 {
		t.Errorf("%d API calls, want 2", n)
	}
	if out := log.String(); strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "stopped reading the cluster") {
		t.Errorf("want one warning:\n%s", out)
	}

	// A call that does not answer in time is abandoned: it counts as
	// unreachable.
	slow := fake.NewSimpleClientset()
	slow.PrependReactor("get", "priorityclasses", func(k8stesting.Action) (bool, runtime.Object, error) {
		time.Sleep(50 * time.Millisecond)
		return true, nil, context.DeadlineExceeded
	})
	l = NewLiveCluster(staticFrom(t, ""), slow, LiveOptions{CallTimeout: 10 * time.Millisecond})
	if st := l.Object("", policy.KindPriorityClass, "high"); st.Presence != policy.PresenceUnknown {
		t.Errorf("timed out: %+v", st)
	}
}

// Reviews asking the same object at once make one call.
func TestLiveClusterConcurrent(t *testing.T) {
	client := fake.NewSimpleClientset(liveObjects()...)
	client.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		time.Sleep(20 * time.Millisecond)
		return false, nil, nil
	})
	l := NewLiveCluster(staticFrom(t, ""), client, LiveOptions{Namespace: "shop"})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st := l.Object("shop", policy.KindConfigMap, "web"); st.Presence != policy.Present {
				t.Errorf("%+v", st)
			}
		}()
	}
	wg.Wait()
	if n := gets(client); n != 1 {
		t.Errorf("%d API calls, want 1", n)
	}
}

// Through the engine: each missing object foretold with its outcome.
func TestLiveClusterFindings(t *testing.T) {
	client := fake.NewSimpleClientset(liveObjects()...)
	yaml := `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      serviceAccountName: nobody
      priorityClassName: highh
      containers:
      - name: app
        image: registry.example.com/app:1.0
        resources: {limits: {memory: 64Mi}}
        env:
        - {name: A, valueFrom: {configMapKeyRef: {name: web, key: LOG_LEVL}}}
        - {name: B, valueFrom: {configMapKeyRef: {name: settings, key: b}}}
        - {name: C, valueFrom: {configMapKeyRef: {name: web, key: LOG_LEVEL}}}
      volumes:
      - {name: a, persistentVolumeClaim: {claimName: nope}}
      - {name: b, persistentVolumeClaim: {claimName: orphan}}
      - {name: c, persistentVolumeClaim: {claimName: data}}
`
	docs, errs := manifests.Read([]string{"-"}, strings.NewReader(yaml))
	input := NewStaticCluster(nil)
	errs = append(errs, input.AddDocuments(docs)...)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	l := NewLiveCluster(input, client, LiveOptions{Namespace: "shop"})
	eng, err := engine.FromSettings(engine.CatalogSettings{})
	if err != nil {
		t.Fatal(err)
	}
	rep, errs := report.CheckDocuments(context.Background(), eng.WithLookups(&engine.Lookups{Cluster: l}).WithObjects(l), docs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, f := range rep.Objects[0].Result.Findings {
		if strings.HasPrefix(string(f.Check), "config.") || strings.HasPrefix(string(f.Check), "volume.") || strings.HasPrefix(string(f.Check), "pod.") {
			got = append(got, fmt.Sprintf("%s %s %s %s", f.Check, f.Severity, f.Outcome, f.Field))
		}
	}
	want := []string{
		"config.configmap-not-found warning CreateContainerConfigError spec.template.spec.containers[0].env[1].valueFrom.configMapKeyRef.name",
		"config.key-not-found error CreateContainerConfigError spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef.key",
		"volume.claim-not-found warning Pending spec.template.spec.volumes[0].persistentVolumeClaim.claimName",
		"volume.storageclass-not-found warning Pending spec.template.spec.volumes[1].persistentVolumeClaim.claimName",
		"pod.serviceaccount-not-found warning FailedCreate spec.template.spec.serviceAccountName",
		"pod.priorityclass-not-found error FailedCreate spec.template.spec.priorityClassName", // one slip from "high"
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range rep.Objects[0].Result.Findings {
		if f.Check == policy.ConfigConfigMapNotFound && !strings.Contains(f.Message, "only in namespace other, third") {
			t.Errorf("message names no other namespace: %s", f.Message)
		}
	}
}

// schedulingLive is a cluster with two nodes and, in shop, a quota (with
// its status) and a LimitRange; ci has a quota.
func schedulingLive() []runtime.Object {
	return []runtime.Object{
		fullNode("b", "amd64", map[string]string{"pool": "web"}),
		fullNode("a", "arm64", map[string]string{"pool": "web"}),
		&corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "compute"},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")}},
			Status: corev1.ResourceQuotaStatus{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5")},
				Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("4")}}},
		&corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "compute"}},
		&corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "limits"}},
	}
}

func quotaNames(qs []*corev1.ResourceQuota) string {
	var n []string
	for _, q := range qs {
		n = append(n, q.Namespace+"/"+q.Name)
	}
	return fmt.Sprint(n)
}

// Nodes are listed once, quotas and LimitRanges once per namespace; the
// input's are layered over them.
func TestLiveClusterScheduling(t *testing.T) {
	client := fake.NewSimpleClientset(schedulingLive()...)
	input := staticFrom(t, `
apiVersion: v1
kind: Node
metadata: {name: c}
---
apiVersion: v1
kind: Node
metadata: {name: b, labels: {pool: batch}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute}
spec:
  hard: {pods: "10"}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: objects, namespace: shop}
spec:
  hard: {count/configmaps: "10"}
---
apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits: [{type: Container, default: {memory: 256Mi}}]
`)
	l := NewLiveCluster(input, client, LiveOptions{Namespace: "shop"})
	for range 2 {
		nodes, known := l.Nodes()
		var names []string
		for _, n := range nodes {
			names = append(names, n.Name+":"+n.Labels["pool"])
			if n.Status.Images != nil || n.Annotations != nil {
				t.Errorf("node %s kept more than the checks read", n.Name)
			}
		}
		if !known || fmt.Sprint(names) != "[a:web b:batch c:]" {
			t.Errorf("Nodes() = %v, %v; want the cluster's with the input's over them", names, known)
		}
	}
	// "" is the context's namespace, shop: the input's quota written
	// without a namespace replaces the cluster's of its name, and keeps
	// the cluster's status.
	for _, ns := range []string{"shop", ""} {
		qs, known := l.Quotas(ns)
		if !known || quotaNames(qs) != "[/compute shop/objects]" {
			t.Fatalf("Quotas(%q) = %s, %v", ns, quotaNames(qs), known)
		}
		if hard := qs[0].Spec.Hard[corev1.ResourcePods]; hard.String() != "10" {
			t.Errorf("the input's quota lost its spec: %s", hard.String())
		}
		if used := qs[0].Status.Used[corev1.ResourcePods]; used.String() != "4" {
			t.Errorf("the input's quota lacks the cluster's status: used %s", used.String())
		}
	}
	if qs, known := l.Quotas("ci"); !known || quotaNames(qs) != "[ci/compute]" {
		t.Errorf("Quotas(ci) = %s, %v", quotaNames(qs), known)
	}
	if qs, known := l.Quotas("empty"); !known || len(qs) != 0 {
		t.Errorf("Quotas(empty) = %s, %v; want none, known", quotaNames(qs), known)
	}
	lrs, known := l.LimitRanges("shop")
	if !known || len(lrs) != 2 || lrs[0].Name != "defaults" || lrs[1].Name != "limits" {
		t.Errorf("LimitRanges(shop) = %v, %v", lrs, known)
	}
	// One call each: nodes, quotas of shop, ci and empty, LimitRanges of
	// shop.
	if n := gets(client); n != 5 {
		t.Errorf("%d API calls, want 5: %v", n, client.Actions())
	}
	for _, a := range client.Actions() {
		if a.GetVerb() != "list" {
			t.Errorf("%s %s: only lists", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

// Listings are read page by page.
func TestLiveClusterNodesPaged(t *testing.T) {
	client := fake.NewSimpleClientset()
	client.PrependReactor("list", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		opts := a.(k8stesting.ListActionImpl).ListOptions
		if opts.Limit != livePage {
			t.Errorf("limit %d", opts.Limit)
		}
		if opts.Continue == "" {
			return true, &corev1.NodeList{ListMeta: metav1.ListMeta{Continue: "page2"},
				Items: []corev1.Node{*fullNode("n1", "amd64", nil)}}, nil
		}
		return true, &corev1.NodeList{Items: []corev1.Node{*fullNode("n2", "amd64", nil)}}, nil
	})
	l := NewLiveCluster(staticFrom(t, ""), client, LiveOptions{})
	if nodes, known := l.Nodes(); !known || len(nodes) != 2 {
		t.Errorf("Nodes() = %d, %v; want both pages", len(nodes), known)
	}
	if n := gets(client); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
	// A cluster without a node tells nothing of placement.
	l = NewLiveCluster(staticFrom(t, ""), fake.NewSimpleClientset(), LiveOptions{})
	if _, known := l.Nodes(); known {
		t.Error("no node: known")
	}
}

// Forbidden listings are unknown, said once each; the input's objects do
// not stand in for a cluster that cannot be read.
func TestLiveClusterSchedulingForbidden(t *testing.T) {
	client := fake.NewSimpleClientset(schedulingLive()...)
	for _, res := range []string{"nodes", "resourcequotas", "limitranges"} {
		client.PrependReactor("list", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: res}, "", errors.New("RBAC"))
		})
	}
	var log syncLog
	l := NewLiveCluster(staticFrom(t, "apiVersion: v1\nkind: Node\nmetadata: {name: c}\n"), client, LiveOptions{Namespace: "shop", Log: log.logger()})
	for range 2 {
		if _, known := l.Nodes(); known {
			t.Error("nodes known")
		}
		if _, known := l.Quotas("shop"); known {
			t.Error("quotas known")
		}
		if _, known := l.LimitRanges(""); known {
			t.Error("LimitRanges known")
		}
	}
	out := log.String()
	for _, want := range []string{"cannot read nodes (cluster-wide)", "cannot read resourcequotas (namespace shop)", "cannot read limitranges (namespace shop)"} {
		if strings.Count(out, want) != 1 {
			t.Errorf("want one %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "level=WARN"); n != 3 {
		t.Errorf("%d warnings, want 3:\n%s", n, out)
	}
	if n := gets(client); n != 3 {
		t.Errorf("%d calls, want 3 (each answer kept)", n)
	}

	// Unreachable: said once, nothing more asked.
	down := fake.NewSimpleClientset()
	down.PrependReactor("*", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	})
	log = syncLog{}
	l = NewLiveCluster(staticFrom(t, ""), down, LiveOptions{Log: log.logger()})
	l.Nodes()
	if _, known := l.Quotas("shop"); known {
		t.Error("quotas known, cluster unreachable")
	}
	if _, known := l.LimitRanges("shop"); known {
		t.Error("LimitRanges known, cluster unreachable")
	}
	if n := gets(down); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	if out := log.String(); strings.Count(out, "level=WARN") != 1 {
		t.Errorf("want one warning:\n%s", out)
	}
}
