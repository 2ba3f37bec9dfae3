package policy

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nobackoff/nobackoff/internal/textdist"
)

// Checks of the objects a pod spec names. Their severities follow what the
// kubelet and the controllers do: they retry, so an object created a
// moment after the workload (a later file of the same kubectl apply -f
// dir/, a Helm hook, an operator writing a Secret) heals the pod. A
// missing object is therefore a warning, never a denial by default; a
// missing key of an object that exists, or a class named a slip away from
// one the cluster has, is an error: nothing will create it. An object absent from the CLI's input may well be in the
// cluster: advice only. Nothing is said when the state is unknown (the
// webhook's caches not synced yet).

// objectRef is one place where a pod spec names a ConfigMap or a Secret.
type objectRef struct {
	kind     ObjectKind
	name     string
	key      string // "" when the whole object is used
	keyField string // path of the key, for a missing key
	field    string // path of the name
	optional bool
	// container is the container that reads it (env, envFrom); empty for
	// a volume, which the kubelet mounts for the whole pod.
	container *ContainerRef
	outcome   Outcome
}

// configRefs lists the ConfigMaps and Secrets a pod spec names: env
// valueFrom, envFrom, and configMap, secret and projected volumes; once per
// pod for the three checks that read them.
func configRefs(p *Pod) []objectRef {
	if !p.refsDone {
		p.refs, p.refsDone = findConfigRefs(p), true
	}
	return p.refs
}

func findConfigRefs(p *Pod) []objectRef {
	var refs []objectRef
	for _, c := range p.Containers() {
		c := c
		for i, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			base := "env[" + strconv.Itoa(i) + "].valueFrom."
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				refs = append(refs, objectRef{KindConfigMap, r.Name, r.Key, c.Field(base + "configMapKeyRef.key"),
					c.Field(base + "configMapKeyRef.name"), isTrue(r.Optional), &c, CreateContainerConfigError})
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				refs = append(refs, objectRef{KindSecret, r.Name, r.Key, c.Field(base + "secretKeyRef.key"),
					c.Field(base + "secretKeyRef.name"), isTrue(r.Optional), &c, CreateContainerConfigError})
			}
		}
		for i, e := range c.EnvFrom {
			base := "envFrom[" + strconv.Itoa(i) + "]."
			if r := e.ConfigMapRef; r != nil {
				refs = append(refs, objectRef{kind: KindConfigMap, name: r.Name, field: c.Field(base + "configMapRef.name"),
					optional: isTrue(r.Optional), container: &c, outcome: CreateContainerConfigError})
			}
			if r := e.SecretRef; r != nil {
				refs = append(refs, objectRef{kind: KindSecret, name: r.Name, field: c.Field(base + "secretRef.name"),
					optional: isTrue(r.Optional), container: &c, outcome: CreateContainerConfigError})
			}
		}
	}
	volume := func(kind ObjectKind, name string, items []corev1.KeyToPath, optional *bool, base, nameField string) {
		if kind == KindConfigMap && name == rootCAConfigMap {
			return
		}
		refs = append(refs, objectRef{kind: kind, name: name, field: base + "." + nameField, optional: isTrue(optional), outcome: ContainerCreating})
		for j, it := range items {
			refs = append(refs, objectRef{kind: kind, name: name, key: it.Key, keyField: fmt.Sprintf("%s.items[%d].key", base, j),
				field: base + "." + nameField, optional: isTrue(optional), outcome: ContainerCreating})
		}
	}
	// The kubelet sets up only the volumes some container mounts; others
	// it ignores, whatever they name.
	mounted := map[string]bool{}
	for _, c := range p.Containers() {
		for _, m := range c.VolumeMounts {
			mounted[m.Name] = true
		}
		for _, d := range c.VolumeDevices {
			mounted[d.Name] = true
		}
	}
	for i, v := range p.Spec.Volumes {
		if !mounted[v.Name] {
			continue
		}
		base := fmt.Sprintf("%s.volumes[%d]", p.Path, i)
		switch {
		case v.ConfigMap != nil:
			volume(KindConfigMap, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, base+".configMap", "name")
		case v.Secret != nil:
			volume(KindSecret, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, base+".secret", "secretName")
		case v.Projected != nil:
			for j, src := range v.Projected.Sources {
				sb := fmt.Sprintf("%s.projected.sources[%d]", base, j)
				if src.ConfigMap != nil {
					volume(KindConfigMap, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, sb+".configMap", "name")
				}
				if src.Secret != nil {
					volume(KindSecret, src.Secret.Name, src.Secret.Items, src.Secret.Optional, sb+".secret", "name")
				}
			}
		}
	}
	return refs
}

func isTrue(b *bool) bool { return b != nil && *b }

// rootCAConfigMap is the ConfigMap the control plane publishes in every
// namespace, which the API server's ServiceAccount admission mounts into
// every pod (the kube-api-access projected volume): a new namespace gets it
// a moment after it is created, and nothing a user applies names it.
const rootCAConfigMap = "kube-root-ca.crt"

// objectMissing reports ConfigMaps (or Secrets) a pod spec needs that do
// not exist: config.configmap-not-found and config.secret-not-found.
type objectMissing struct {
	id   ID
	kind ObjectKind
}

func (c objectMissing) ID() ID { return c.id }

func (c objectMissing) Check(_ context.Context, p *Pod) ([]Finding, error) {
	if p.Objects == nil {
		return nil, nil
	}
	var out []Finding
	seen := map[string]bool{} // one finding per object and reader
	for _, r := range configRefs(p) {
		if r.kind != c.kind || r.optional || r.key != "" && r.container == nil || r.name == "" {
			continue
		}
		who := "volume"
		if r.container != nil {
			who = "container " + r.container.Name
		}
		if seen[who+"\x00"+r.name] {
			continue
		}
		seen[who+"\x00"+r.name] = true
		st := p.Objects.Object(r.kind, r.name)
		effect := "the container waits in CreateContainerConfigError until it exists"
		if r.container == nil {
			effect = "the pod stays in ContainerCreating (FailedMount) until it exists"
		}
		if f, ok := missingFinding(c.id, r.kind, r.name, r.field, st, effect, r.outcome, r.container); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// missingFinding words a finding about an object that is not there: a
// warning foretelling the state when the cluster lacks it, advice when
// only the input does; nothing when present or unknown.
func missingFinding(id ID, kind ObjectKind, name, field string, st ObjectState, effect string, outcome Outcome, c *ContainerRef) (Finding, bool) {
	f := Finding{Check: id, Field: field, Outcome: outcome}
	if c != nil {
		f.Container, f.Image = c.Name, c.Image
	}
	switch st.Presence {
	case Absent:
		f.Severity = Warning
		f.Message = fmt.Sprintf("%s %q does not exist: %s", kind, name, effect)
		f.Fix = fmt.Sprintf("create %s %q in the same namespace, or fix the name", kind, name)
		if len(st.Elsewhere) > 0 {
			f.Message = fmt.Sprintf("%s %q does not exist here, only in namespace %s: %s", kind, name, strings.Join(st.Elsewhere, ", "), effect)
			f.Fix = fmt.Sprintf("create %s %q in this namespace too (objects are not shared across namespaces)", kind, name)
		}
	case NotInInput:
		f.Severity, f.Outcome = Info, NoOutcome
		f.Message = fmt.Sprintf("%s %q is not in the input; if the cluster lacks it too, %s", kind, name, effect)
		if len(st.Elsewhere) > 0 {
			f.Message += fmt.Sprintf(" (the input has one in namespace %s)", strings.Join(st.Elsewhere, ", "))
		}
		f.Fix = fmt.Sprintf("make sure %s %q exists where this is applied", kind, name)
	default:
		return Finding{}, false
	}
	return f, true
}

// keyMissing reports keys a pod spec reads from a ConfigMap or Secret that
// exists without them: config.key-not-found. The kubelet fails the
// container (env) or the mount (volume items) until the key appears.
type keyMissing struct{}

func (keyMissing) ID() ID { return ConfigKeyNotFound }

func (keyMissing) Check(_ context.Context, p *Pod) ([]Finding, error) {
	if p.Objects == nil {
		return nil, nil
	}
	var out []Finding
	for _, r := range configRefs(p) {
		if r.key == "" || r.optional || r.name == "" {
			continue
		}
		st := p.Objects.Object(r.kind, r.name)
		if st.Presence != Present || !st.KeysKnown || contains(st.Keys, r.key) {
			continue
		}
		if r.container == nil && contains(st.BinaryKeys, r.key) {
			continue // a volume's item may be binary data; an env var may not
		}
		effect := "the container cannot start (CreateContainerConfigError)"
		if r.container == nil {
			effect = "the volume never mounts: the pod stays in ContainerCreating (FailedMount)"
		}
		msg := fmt.Sprintf("%s %q has no key %q: %s", r.kind, r.name, r.key, effect)
		fix := fmt.Sprintf("add key %q to %s %q, or mark the reference optional: true", r.key, r.kind, r.name)
		if len(st.Keys) > 0 {
			keys := textdist.Closest(r.key, st.Keys)
			if len(keys) > 5 {
				keys = append(keys[:5], "...")
			}
			msg += "; its keys: " + strings.Join(keys, ", ")
			fix = fmt.Sprintf("use key %q, or add %q to %s %q", keys[0], r.key, r.kind, r.name)
		}
		f := Finding{Check: ConfigKeyNotFound, Severity: Error, Field: r.keyField, Message: msg, Fix: fix, Outcome: r.outcome}
		if r.container != nil {
			f.Container, f.Image = r.container.Name, r.container.Image
		}
		out = append(out, f)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// claimMissing reports persistentVolumeClaim volumes naming no claim: the
// scheduler leaves the pod Pending ("persistentvolumeclaim not found").
type claimMissing struct{}

func (claimMissing) ID() ID { return VolumeClaimNotFound }

func (claimMissing) Check(_ context.Context, p *Pod) ([]Finding, error) {
	if p.Objects == nil {
		return nil, nil
	}
	var out []Finding
	for i, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName == "" {
			continue
		}
		name := v.PersistentVolumeClaim.ClaimName
		field := fmt.Sprintf("%s.volumes[%d].persistentVolumeClaim.claimName", p.Path, i)
		st := p.Objects.Object(KindClaim, name)
		if f, ok := missingFinding(VolumeClaimNotFound, KindClaim, name, field, st,
			"the pod stays Pending (the scheduler waits for the claim)", Pending, nil); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// storageClassMissing reports claims, of the pod or of a StatefulSet's
// templates, that name a StorageClass the cluster lacks, or name none in
// a cluster without a default: they never bind, the pod stays Pending.
type storageClassMissing struct{}

func (storageClassMissing) ID() ID { return VolumeStorageClassNotFound }

func (storageClassMissing) Check(_ context.Context, p *Pod) ([]Finding, error) {
	if p.Objects == nil {
		return nil, nil
	}
	var out []Finding
	judge := func(what string, class *string, field string) {
		if class != nil && *class == "" {
			return // binds only to a PersistentVolume without a class: made by hand
		}
		if class == nil {
			def, known := p.Objects.DefaultStorageClass()
			if !known || def != "" {
				return
			}
			out = append(out, Finding{Check: VolumeStorageClassNotFound, Severity: Warning, Field: field, Outcome: Pending,
				Message: what + " names no StorageClass and the cluster has no default one: it binds only to a PersistentVolume made for it; otherwise the pod stays Pending",
				Fix:     "set storageClassName to one of the cluster's StorageClasses, or mark one as the default"})
			return
		}
		st := p.Objects.Object(KindStorageClass, *class)
		switch st.Presence {
		case Absent:
			f := Finding{Check: VolumeStorageClassNotFound, Severity: Warning, Field: field, Outcome: Pending,
				Message: fmt.Sprintf("%s names StorageClass %q, which the cluster does not have: the claim does not bind and the pod stays Pending until it exists", what, *class),
				Fix:     "use one of the cluster's StorageClasses (kubectl get storageclass)"}
			if len(st.Near) > 0 {
				f.Severity, f.Suggestion = Error, st.Near[0]
				f.Message += fmt.Sprintf("; did you mean %q?", st.Near[0])
				f.Fix = fmt.Sprintf("use StorageClass %q", st.Near[0])
			}
			out = append(out, f)
		case NotInInput:
			out = append(out, Finding{Check: VolumeStorageClassNotFound, Severity: Info, Field: field,
				Message: fmt.Sprintf("%s names StorageClass %q, which is not in the input; if the cluster lacks it too, the pod stays Pending", what, *class),
				Fix:     fmt.Sprintf("make sure StorageClass %q exists where this is applied", *class)})
		}
	}
	for i, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName == "" {
			continue
		}
		st := p.Objects.Object(KindClaim, v.PersistentVolumeClaim.ClaimName)
		if st.Presence != Present || st.Bound {
			continue
		}
		judge(fmt.Sprintf("claim %q", v.PersistentVolumeClaim.ClaimName), st.StorageClassName,
			fmt.Sprintf("%s.volumes[%d].persistentVolumeClaim.claimName", p.Path, i))
	}
	for _, t := range p.ClaimTemplates {
		field := t.Field + ".spec.storageClassName"
		judge(fmt.Sprintf("volumeClaimTemplate %q", t.Name), t.StorageClassName, field)
	}
	return out, nil
}

// classMissing reports a workload naming a ServiceAccount, PriorityClass
// or RuntimeClass that does not exist: its controller cannot create a
// single pod (FailedCreate). A bare Pod naming one is rejected by the API
// server itself, so only workloads are judged.
type classMissing struct {
	id   ID
	kind ObjectKind
}

func (c classMissing) ID() ID { return c.id }

func (c classMissing) Check(_ context.Context, p *Pod) ([]Finding, error) {
	if p.Objects == nil || !p.Workload {
		return nil, nil
	}
	var name, field string
	switch c.kind {
	case KindServiceAccount:
		name, field = p.Spec.ServiceAccountName, "serviceAccountName"
		if name == "" {
			name, field = p.Spec.DeprecatedServiceAccount, "serviceAccount"
		}
		if name == "default" {
			return nil, nil // made by the controller with every namespace
		}
	case KindPriorityClass:
		name, field = p.Spec.PriorityClassName, "priorityClassName"
		if name == "system-cluster-critical" || name == "system-node-critical" {
			return nil, nil // built in
		}
	case KindRuntimeClass:
		if p.Spec.RuntimeClassName != nil {
			name, field = *p.Spec.RuntimeClassName, "runtimeClassName"
		}
	}
	if name == "" {
		return nil, nil
	}
	st := p.Objects.Object(c.kind, name)
	f, ok := missingFinding(c.id, c.kind, name, p.Path+"."+field, st,
		"the controller cannot create a single pod (FailedCreate) until it exists", FailedCreate, nil)
	if !ok {
		return nil, nil
	}
	// A class that is missing while one of a nearby name exists is a
	// slip: nothing will create it, an error. Otherwise it may come a
	// moment later (a later file of the same kubectl apply -f dir/): a
	// warning, like any missing object.
	if st.Presence == Absent && len(st.Near) > 0 {
		f.Severity, f.Suggestion = Error, st.Near[0]
		f.Message += fmt.Sprintf("; did you mean %q?", st.Near[0])
		f.Fix = fmt.Sprintf("use %s %q", c.kind, st.Near[0])
	}
	return []Finding{f}, nil
}

func objectChecks() []Check {
	return []Check{
		objectMissing{ConfigConfigMapNotFound, KindConfigMap},
		objectMissing{ConfigSecretNotFound, KindSecret},
		keyMissing{},
		claimMissing{},
		storageClassMissing{},
		classMissing{PodServiceAccountNotFound, KindServiceAccount},
		classMissing{PodPriorityClassNotFound, KindPriorityClass},
		classMissing{PodRuntimeClassNotFound, KindRuntimeClass},
	}
}
