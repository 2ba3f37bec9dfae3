package clusterstate

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/nobackoff/nobackoff/policy"
)

// fullMeta is metadata with everything a transform must drop.
func fullMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "7", UID: "u-1",
		Labels: map[string]string{"team": "shop"}, Annotations: map[string]string{"note": "secret-ish"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}, Finalizers: []string{"f"}}
}

// Each transform keeps names, key names, a claim's class and phase and a
// StorageClass's default annotations: never a value.
func TestObjectTransforms(t *testing.T) {
	class := "fast"
	cases := []struct {
		name      string
		transform func(any) (any, error)
		in, want  any
	}{
		{"secret keys", secretKeysOnly,
			&corev1.Secret{ObjectMeta: fullMeta("shop", "db"), Type: corev1.SecretTypeOpaque,
				Data: map[string][]byte{"password": []byte("s3cret"), "user": []byte("admin")}, StringData: map[string]string{"token": "t"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", ResourceVersion: "7", UID: "u-1"},
				Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": nil, "user": nil}}},
		{"secret without data", secretKeysOnly,
			&corev1.Secret{ObjectMeta: fullMeta("shop", "empty"), Type: corev1.SecretTypeOpaque},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "empty", ResourceVersion: "7", UID: "u-1"}, Type: corev1.SecretTypeOpaque}},
		{"configmap keys", configMapKeysOnly,
			&corev1.ConfigMap{ObjectMeta: fullMeta("shop", "app"), Data: map[string]string{"app.yaml": "port: 8080"},
				BinaryData: map[string][]byte{"logo.png": {0x89, 'P'}}, Immutable: new(bool)},
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "app", ResourceVersion: "7", UID: "u-1"},
				Data: map[string]string{"app.yaml": ""}, BinaryData: map[string][]byte{"logo.png": nil}}},
		{"claim", claimClassOnly,
			&corev1.PersistentVolumeClaim{ObjectMeta: fullMeta("shop", "data"),
				Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class, VolumeName: "pv-1",
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
				Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}},
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "data", ResourceVersion: "7", UID: "u-1"},
				Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}},
		{"storage class", storageClassDefaultOnly,
			&storagev1.StorageClass{ObjectMeta: func() metav1.ObjectMeta {
				m := fullMeta("", "fast")
				m.Annotations[betaDefaultClassAnnotation] = "true"
				m.CreationTimestamp = metav1.Unix(100, 0)
				return m
			}(), Provisioner: "ebs.csi.aws.com", Parameters: map[string]string{"type": "gp3"}},
			&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast", ResourceVersion: "7", UID: "u-1",
				CreationTimestamp: metav1.Unix(100, 0), Annotations: map[string]string{betaDefaultClassAnnotation: "true"}}}},
		{"priority class", classNameOnly,
			&schedulingv1.PriorityClass{ObjectMeta: fullMeta("", "high"), Value: 1000, Description: "d"},
			&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high", ResourceVersion: "7", UID: "u-1"}}},
		{"runtime class", classNameOnly,
			&nodev1.RuntimeClass{ObjectMeta: fullMeta("", "gvisor"), Handler: "runsc"},
			&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "gvisor", ResourceVersion: "7", UID: "u-1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertTransform(t, tc.transform, tc.in, tc.want)
		})
	}
}

// typeSelectingClient is a fake clientset that, like the API server,
// honours the field selectors on Secrets' type the informers list and
// watch with (the fake ignores field selectors).
func typeSelectingClient(objs ...runtime.Object) *fake.Clientset {
	client := fake.NewSimpleClientset(objs...)
	keep := func(sel fields.Selector, obj runtime.Object) bool {
		s, ok := obj.(*corev1.Secret)
		return !ok || sel == nil || sel.Matches(fields.Set{"type": string(s.Type)})
	}
	client.PrependReactor("list", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		la := action.(k8stesting.ListActionImpl)
		obj, err := client.Tracker().List(la.GetResource(), la.GetKind(), la.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		list := obj.(*corev1.SecretList)
		var items []corev1.Secret
		for _, s := range list.Items {
			if keep(la.ListRestrictions.Fields, &s) {
				items = append(items, s)
			}
		}
		list.Items = items
		return true, list, nil
	})
	client.PrependWatchReactor("secrets", func(action k8stesting.Action) (bool, watch.Interface, error) {
		wa := action.(k8stesting.WatchActionImpl)
		w, err := client.Tracker().Watch(wa.GetResource(), wa.GetNamespace(), wa.ListOptions)
		if err != nil {
			return true, nil, err
		}
		return true, watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
			return e, keep(wa.WatchRestrictions.Fields, e.Object)
		}), nil
	})
	return client
}

func objectsCluster() []runtime.Object {
	fast, standard := "fast", "standard"
	cm := func(ns, name string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Data: map[string]string{"b.yaml": "value-b", "a.yaml": "value-a"}, BinaryData: map[string][]byte{"c.bin": []byte("value-c")}}
	}
	sc := func(name string, created int64, annotations map[string]string) *storagev1.StorageClass {
		return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Unix(created, 0),
			Annotations: annotations}, Provisioner: "p"}
	}
	return []runtime.Object{
		cm("shop", "app"), cm("a", "settings"), cm("b", "settings"), cm("c", "settings"), cm("d", "settings"),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{"user": []byte("value-user"), "password": []byte("value-password")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "db"}, Type: corev1.SecretTypeBasicAuth,
			Data: map[string][]byte{"username": []byte("value-u")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "regcred"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "build", Name: "ghcr"}, Type: corev1.SecretTypeDockercfg,
			Data: map[string][]byte{corev1.DockerConfigKey: []byte(`{}`)}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &fast, VolumeName: "pv-1"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "scratch"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "cache"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &standard}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "default"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "builder"}},
		sc("fast", 100, nil),
		sc("old-default", 100, map[string]string{defaultClassAnnotation: "true"}),
		sc("beta-default", 200, map[string]string{betaDefaultClassAnnotation: "true"}),
		sc("not-default", 300, map[string]string{defaultClassAnnotation: "false"}),
		&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000},
		&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "gvisor"}, Handler: "runsc"},
	}
}

func startCluster(t *testing.T, c *InformerCluster) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := c.Start(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestInformerClusterObjects(t *testing.T) {
	client := typeSelectingClient(objectsCluster()...)
	c := NewInformerCluster(client, 0, ClusterOptions{Objects: true, SecretKeys: true})
	if st := c.Object("shop", policy.KindConfigMap, "app"); st.Presence != policy.PresenceUnknown {
		t.Errorf("before the caches synced: %+v, want PresenceUnknown", st)
	}
	if _, known := c.DefaultStorageClass(); known {
		t.Error("default StorageClass known before the caches synced")
	}
	startCluster(t, c)
	fast := "fast"
	for _, tc := range []struct {
		ns   string
		kind policy.ObjectKind
		name string
		want policy.ObjectState
	}{
		{"shop", policy.KindConfigMap, "app", policy.ObjectState{Presence: policy.Present, Keys: []string{"a.yaml", "b.yaml"}, KeysKnown: true, BinaryKeys: []string{"c.bin"}}},
		{"shop", policy.KindConfigMap, "settings", policy.ObjectState{Presence: policy.Absent, Elsewhere: []string{"a", "b", "c"}}},
		{"a", policy.KindConfigMap, "settings", policy.ObjectState{Presence: policy.Present, Keys: []string{"a.yaml", "b.yaml"}, KeysKnown: true, BinaryKeys: []string{"c.bin"}}},
		{"shop", policy.KindConfigMap, "nothing", policy.ObjectState{Presence: policy.Absent}},
		{"shop", policy.KindSecret, "db", policy.ObjectState{Presence: policy.Present, Keys: []string{"password", "user"}, KeysKnown: true}},
		{"shop", policy.KindSecret, "regcred", policy.ObjectState{Presence: policy.Present, Keys: []string{corev1.DockerConfigJsonKey}, KeysKnown: true}},
		{"shop", policy.KindSecret, "ghcr", policy.ObjectState{Presence: policy.Absent, Elsewhere: []string{"build"}}},
		{"build", policy.KindSecret, "db", policy.ObjectState{Presence: policy.Absent, Elsewhere: []string{"ci", "shop"}}},
		{"shop", policy.KindClaim, "data", policy.ObjectState{Presence: policy.Present, StorageClassName: &fast, Bound: true}},
		{"shop", policy.KindClaim, "scratch", policy.ObjectState{Presence: policy.Present}},
		{"shop", policy.KindClaim, "cache", policy.ObjectState{Presence: policy.Absent, Elsewhere: []string{"ci"}}},
		{"shop", policy.KindServiceAccount, "default", policy.ObjectState{Presence: policy.Present}},
		{"shop", policy.KindServiceAccount, "builder", policy.ObjectState{Presence: policy.Absent, Elsewhere: []string{"ci"}}},
		{"shop", policy.KindStorageClass, "fast", policy.ObjectState{Presence: policy.Present}},
		{"", policy.KindStorageClass, "slow", policy.ObjectState{Presence: policy.Absent}},
		{"shop", policy.KindPriorityClass, "high", policy.ObjectState{Presence: policy.Present}},
		{"shop", policy.KindPriorityClass, "low", policy.ObjectState{Presence: policy.Absent}},
		{"shop", policy.KindRuntimeClass, "gvisor", policy.ObjectState{Presence: policy.Present}},
		{"shop", policy.KindRuntimeClass, "kata", policy.ObjectState{Presence: policy.Absent}},
		{"shop", policy.ObjectKind("Service"), "web", policy.ObjectState{}},
	} {
		if got := c.Object(tc.ns, tc.kind, tc.name); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Object(%s, %s, %s) = %+v, want %+v", tc.ns, tc.kind, tc.name, got, tc.want)
		}
	}
	// Both annotations count; of two defaults, the newest.
	if name, known := c.DefaultStorageClass(); name != "beta-default" || !known {
		t.Errorf("DefaultStorageClass() = %q, %v, want beta-default", name, known)
	}
	// The pull-secret view is unchanged: a Secret of another type comes
	// back with its type, for the wrong-type finding.
	if s, ok := c.Secret("shop", "db"); !ok || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("Secret(shop, db) = %+v, %v", s, ok)
	}
	if s, ok := c.Secret("shop", "regcred"); !ok || string(s.Data[corev1.DockerConfigJsonKey]) != `{"auths":{}}` {
		t.Errorf("the pull secret lost its data: %+v", s)
	}

	// No value is held: every cached ConfigMap and every Secret of
	// another type than the pull-secret types has key names only.
	cms, _ := c.configMaps.List(labels.Everything())
	secrets, _ := c.others.List(labels.Everything())
	if len(cms) != 5 || len(secrets) != 2 {
		t.Fatalf("%d ConfigMaps and %d other Secrets cached, want 5 and 2", len(cms), len(secrets))
	}
	for _, cm := range cms {
		for k, v := range cm.Data {
			if v != "" {
				t.Errorf("ConfigMap %s/%s holds the value of %s", cm.Namespace, cm.Name, k)
			}
		}
		for k, v := range cm.BinaryData {
			if v != nil {
				t.Errorf("ConfigMap %s/%s holds the value of %s", cm.Namespace, cm.Name, k)
			}
		}
	}
	for _, s := range secrets {
		if len(s.Data) == 0 {
			t.Errorf("Secret %s/%s lost its key names", s.Namespace, s.Name)
		}
		for k, v := range s.Data {
			if v != nil {
				t.Errorf("Secret %s/%s holds the value of %s", s.Namespace, s.Name, k)
			}
		}
	}
	claims, _ := c.claims.List(labels.Everything())
	for _, pvc := range claims {
		if pvc.Spec.VolumeName != "" || pvc.Labels != nil {
			t.Errorf("claim %s/%s kept more than its class and phase: %+v", pvc.Namespace, pvc.Name, pvc)
		}
	}
	classes, _ := c.storageClasses.List(labels.Everything())
	for _, sc := range classes {
		if sc.Provisioner != "" {
			t.Errorf("StorageClass %s kept more than its default annotations: %+v", sc.Name, sc)
		}
	}

	// Objects that arrive by the watch are reduced too.
	ctx := context.Background()
	if _, err := client.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "late"},
		Data: map[string]string{"k": "value-k"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Secrets("shop").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "late"},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"k": []byte("value-k")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Object("shop", policy.KindConfigMap, "late").Presence != policy.Present || c.Object("shop", policy.KindSecret, "late").Presence != policy.Present {
		if time.Now().After(deadline) {
			t.Fatal("objects created after the sync never reached the caches")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cm, _ := c.configMaps.ConfigMaps("shop").Get("late"); !reflect.DeepEqual(cm.Data, map[string]string{"k": ""}) {
		t.Errorf("watched ConfigMap holds %v", cm.Data)
	}
	if s, _ := c.others.Secrets("shop").Get("late"); !reflect.DeepEqual(s.Data, map[string][]byte{"k": nil}) {
		t.Errorf("watched Secret holds %v", s.Data)
	}
	for _, l := range c.secrets {
		if _, err := l.Secrets("shop").Get("late"); err == nil {
			t.Error("an Opaque Secret reached a pull-secret cache")
		}
	}
}

// Without Secret keys a Secret of another type is known to exist, not
// what it holds; pull secrets keep their keys.
func TestInformerClusterWithoutSecretKeys(t *testing.T) {
	c := NewInformerCluster(typeSelectingClient(objectsCluster()...), 0, ClusterOptions{Objects: true})
	startCluster(t, c)
	for _, tc := range []struct {
		ns, name string
		want     policy.ObjectState
	}{
		{"shop", "db", policy.ObjectState{Presence: policy.Present}},
		{"shop", "regcred", policy.ObjectState{Presence: policy.Present, Keys: []string{corev1.DockerConfigJsonKey}, KeysKnown: true}},
		{"shop", "nothing", policy.ObjectState{Presence: policy.Absent}},
	} {
		if got := c.Object(tc.ns, policy.KindSecret, tc.name); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Object(%s, Secret, %s) = %+v, want %+v", tc.ns, tc.name, got, tc.want)
		}
	}
	secrets, _ := c.others.List(labels.Everything())
	for _, s := range secrets {
		if s.Data != nil {
			t.Errorf("Secret %s/%s kept its keys: %v", s.Namespace, s.Name, s.Data)
		}
	}
}

// Without Objects the cluster says nothing of objects, and watches none
// of the kinds only the object checks read.
func TestInformerClusterWithoutObjects(t *testing.T) {
	c := NewInformerCluster(typeSelectingClient(objectsCluster()...), 0, ClusterOptions{SecretKeys: true})
	startCluster(t, c)
	for _, kind := range []policy.ObjectKind{policy.KindConfigMap, policy.KindSecret, policy.KindClaim, policy.KindServiceAccount,
		policy.KindStorageClass, policy.KindPriorityClass, policy.KindRuntimeClass} {
		if got := c.Object("shop", kind, "x"); got.Presence != policy.PresenceUnknown {
			t.Errorf("Object(%s) = %+v, want PresenceUnknown", kind, got)
		}
	}
	if _, known := c.DefaultStorageClass(); known {
		t.Error("default StorageClass known without the classes watched")
	}
	if c.configMaps != nil || c.storageClasses != nil {
		t.Error("object informers set up without Objects")
	}
	secrets, _ := c.others.List(labels.Everything())
	for _, s := range secrets {
		if s.Data != nil {
			t.Errorf("Secret %s/%s kept its keys without Objects: %v", s.Namespace, s.Name, s.Data)
		}
	}
	if got := fmt.Sprint(c.PullSecretNamespaces("regcred")); got != "[shop]" {
		t.Errorf("PullSecretNamespaces(regcred) = %s", got)
	}
}

// assertTransform holds an informer transform to its output: exactly want,
// its input untouched, a deletion tombstone passed through.
func assertTransform(t *testing.T, transform func(any) (any, error), in, want any) {
	t.Helper()
	before := in.(runtime.Object).DeepCopyObject()
	got, err := transform(in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(in, before) {
		t.Error("the transform changed its input")
	}
	tomb := cacheTombstone{}
	if got, _ := transform(tomb); got != tomb {
		t.Error("a tombstone was changed")
	}
}
