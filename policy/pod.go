package policy

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Pod is one pod spec under review and what is known about it.
type Pod struct {
	// Spec is the pod spec. Checks never modify it.
	Spec *corev1.PodSpec
	// Written is the spec as the manifest writes it, when Spec has the
	// namespace's LimitRange defaults applied; nil when they are the same.
	// Findings point at fields where Written sets them.
	Written *corev1.PodSpec
	// Path is the field path of Spec within the reviewed object: "spec" for
	// a Pod, "spec.template.spec" for most workloads and
	// "spec.jobTemplate.spec.template.spec" for a CronJob.
	Path string
	// ExpectedStartup is the start time declared with the
	// nobackoff.io/expected-startup-seconds annotation; where it says
	// nothing, checks fall back to the runtime defaults.
	ExpectedStartup ExpectedStartup
	// Images holds registry facts by image reference as written; nil when
	// no lookup was made (offline, or pull policy Never): the registry
	// checks then say nothing.
	Images map[string]*ImageLookup
	// PullSecretIssues lists pull secrets the kubelet cannot use.
	PullSecretIssues []PullSecretIssue
	// Objects answers for the ConfigMaps, Secrets, claims, classes and
	// ServiceAccount the spec names; nil when nothing is known of them:
	// the object checks then say nothing.
	Objects ObjectView
	// Workload is set when the spec is a workload's pod template (its
	// controller creates the pods), unset for a Pod.
	Workload bool
	// ClaimTemplates are a StatefulSet's volumeClaimTemplates: each pod
	// gets a claim of each.
	ClaimTemplates []ClaimTemplate
	// Scheduling answers for the nodes and the namespace's quotas and
	// limit ranges; nil when nothing is known of them: the scheduling and
	// namespace-policy checks then say nothing.
	Scheduling SchedulingView
	// Labels are the pod's labels (the template's for a workload), for
	// the pod's own anti-affinity.
	Labels map[string]string
	// Replicas is how many pods the workload wants (1 for a Pod, a Job's
	// parallelism, 0 when not known); DaemonSet is set for a DaemonSet,
	// which runs one pod on every node it may use.
	Replicas  int32
	DaemonSet bool
	// ParseImage, when set, stands in for the package's ParseImage (e.g.
	// one that remembers answers across reviews); it must answer the same.
	ParseImage func(image string) (ImageRef, error)

	// containers is Containers' answer, built on first use: every check
	// walks the containers, and each container's image is parsed once for
	// all of them. Checks run one after the other on a Pod, which is
	// not safe for concurrent use.
	containers []ContainerRef
	// refs and placed are configRefs' and judgePlacement's answers, built
	// on first use: several checks read each.
	refs       []objectRef
	refsDone   bool
	placed     *placement
	placedDone bool
	probes     []containerProbe
	probesDone bool
}

// Check is one entry of the catalog.
type Check interface {
	// ID is the check's stable identifier.
	ID() ID
	// Check returns the findings for one pod spec. An error means the check
	// could not be evaluated; it never means the pod is bad.
	Check(ctx context.Context, pod *Pod) ([]Finding, error)
}

// ContainerKind tells where in the pod spec a container is declared.
type ContainerKind int

const (
	// Regular containers are listed under containers.
	Regular ContainerKind = iota
	// Init containers are listed under initContainers; some of them are
	// sidecars (restartPolicy: Always).
	Init
	// Ephemeral containers are listed under ephemeralContainers.
	Ephemeral
)

// ContainerRef is a container together with its place in the object.
type ContainerRef struct {
	*corev1.Container
	Kind ContainerKind
	// Path is the container's field path, e.g. spec.template.spec.containers[1].
	Path string
	// parsed is the container's image parsed, when Pod.Containers made
	// the reference.
	parsed *parsedImage
}

// parsedImage is ParseImage's answer for one image.
type parsedImage struct {
	ref ImageRef
	err error
}

// ImageRef is ParseImage of the container's image, parsed once when the
// Pod listed its containers.
func (c ContainerRef) ImageRef() (ImageRef, error) {
	if c.parsed != nil {
		return c.parsed.ref, c.parsed.err
	}
	return ParseImage(c.Image)
}

// Sidecar reports whether the container is an init container that keeps
// running beside the regular ones; those may have probes.
func (c ContainerRef) Sidecar() bool {
	return c.Kind == Init && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// Probed reports whether the container can carry liveness, readiness and
// startup probes: regular containers and sidecars.
func (c ContainerRef) Probed() bool { return c.Kind == Regular || c.Sidecar() }

// Field joins a sub-path onto the container's path.
func (c ContainerRef) Field(sub string) string {
	if sub == "" {
		return c.Path
	}
	return c.Path + "." + sub
}

// Finding starts a finding about this container.
func (c ContainerRef) Finding(id ID, sev Severity, field, msg, fix string) Finding {
	return Finding{
		Check: id, Severity: sev, Field: c.Field(field),
		Container: c.Name, Image: c.Image, Message: msg, Fix: fix, Outcome: checkOutcomes[id],
	}
}

// Containers lists every container of the pod, init containers first, in
// declaration order. The slice is shared: callers must not modify it.
func (p *Pod) Containers() []ContainerRef {
	if p.containers != nil {
		return p.containers
	}
	s := p.Spec
	out := make([]ContainerRef, 0, len(s.InitContainers)+len(s.Containers)+len(s.EphemeralContainers))
	parse := p.ParseImage
	if parse == nil {
		parse = ParseImage
	}
	add := func(c *corev1.Container, kind ContainerKind, list string, i int) {
		ref, err := parse(c.Image)
		path := p.Path + "." + list + "[" + strconv.Itoa(i) + "]"
		out = append(out, ContainerRef{Container: c, Kind: kind, Path: path, parsed: &parsedImage{ref: ref, err: err}})
	}
	for i := range s.InitContainers {
		add(&s.InitContainers[i], Init, "initContainers", i)
	}
	for i := range s.Containers {
		add(&s.Containers[i], Regular, "containers", i)
	}
	for i := range s.EphemeralContainers {
		// EphemeralContainerCommon has exactly Container's fields.
		c := corev1.Container(s.EphemeralContainers[i].EphemeralContainerCommon)
		add(&c, Ephemeral, "ephemeralContainers", i)
	}
	p.containers = out
	return out
}
