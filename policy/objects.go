package policy

// Facts about the objects a pod spec names: ConfigMaps, Secrets, claims,
// classes and its ServiceAccount. The webhook answers from its caches of
// the cluster, the CLI from its input (and a live cluster when asked);
// checks only read them.

// ObjectKind is a kind of object a pod spec refers to by name.
type ObjectKind string

// The kinds the object checks read.
const (
	KindConfigMap      ObjectKind = "ConfigMap"
	KindSecret         ObjectKind = "Secret"
	KindClaim          ObjectKind = "PersistentVolumeClaim"
	KindStorageClass   ObjectKind = "StorageClass"
	KindServiceAccount ObjectKind = "ServiceAccount"
	KindPriorityClass  ObjectKind = "PriorityClass"
	KindRuntimeClass   ObjectKind = "RuntimeClass"
)

// Presence is what is known of an object's existence.
type Presence int

const (
	// PresenceUnknown: nothing can be said (caches not synced yet, a kind
	// not watched, no cluster state at all).
	PresenceUnknown Presence = iota
	// Present: the object exists.
	Present
	// Absent: the cluster does not hold it now.
	Absent
	// NotInInput: the files checked do not hold it; the cluster may.
	NotInInput
)

// ObjectState is what is known of one object.
type ObjectState struct {
	Presence Presence
	// Keys are the data keys of a ConfigMap or Secret, sorted, when
	// KeysKnown: a view may keep no Secret keys.
	Keys      []string
	KeysKnown bool
	// BinaryKeys are a ConfigMap's binaryData keys: a volume's items may
	// name them, an env var may not (the kubelet reads data only).
	BinaryKeys []string
	// StorageClassName is a claim's spec.storageClassName; nil when unset.
	// Bound is set for a claim bound to a volume.
	StorageClassName *string
	Bound            bool
	// Elsewhere lists other namespaces that hold an object of this kind
	// and name (namespaced kinds), sorted, at most MaxOtherNamespaces.
	Elsewhere []string
	// Near lists existing objects of the kind whose names are a slip of
	// the keyboard away (cluster-wide kinds), nearest first.
	Near []string
}

// MaxOtherNamespaces bounds the namespaces a finding names besides the
// pod's (ObjectState.Elsewhere, PullSecretIssue.OtherNamespaces): the
// views of the cluster keep no more.
const MaxOtherNamespaces = 3

// ObjectView answers for the objects of one pod's namespace (and the
// cluster-wide classes). It only reads what is already held.
type ObjectView interface {
	Object(kind ObjectKind, name string) ObjectState
	// DefaultStorageClass is the cluster's default StorageClass ("" when
	// there is none); known is false when it cannot be told.
	DefaultStorageClass() (name string, known bool)
}

// ClaimTemplate is one of a StatefulSet's volumeClaimTemplates.
type ClaimTemplate struct {
	Name             string
	StorageClassName *string
	// Field is its path in the object, e.g. spec.volumeClaimTemplates[0].
	Field string
}
