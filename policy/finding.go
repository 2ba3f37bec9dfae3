package policy

import (
	"fmt"
	"strings"
	"unicode"
)

// ID is the stable identifier of a check. IDs are public API: users put them
// in the nobackoff.io/skip annotation and in configuration, so they never
// change once released.
type ID string

// Category is the family of a check: the part of its ID before the dot
// (image, probe, resources, config, volume, pod, schedule, quota,
// limitrange, command).
func (id ID) Category() string {
	c, _, _ := strings.Cut(string(id), ".")
	return c
}

// The check catalog. README.md's catalog table says what each one predicts.
const (
	ImageInvalidReference       ID = "image.invalid-reference"
	ImageMutableTag             ID = "image.mutable-tag"
	ProbeLivenessTooAggressive  ID = "probe.liveness-too-aggressive"
	ProbeLivenessEqualsReadines ID = "probe.liveness-equals-readiness"
	ProbePortNotFound           ID = "probe.port-not-found"
	ProbePortNotDeclared        ID = "probe.port-not-declared"
	ProbeTimeoutExceedsPeriod   ID = "probe.timeout-exceeds-period"
	ResourcesMemoryLimitMissing ID = "resources.memory-limit-missing"
	ResourcesHeapExceedsLimit   ID = "resources.heap-exceeds-limit"

	ImageTagNotFound        ID = "image.tag-not-found"
	ImageRepositoryNotFound ID = "image.repository-not-found"
	ImageUnauthorized       ID = "image.unauthorized"
	ImageForbidden          ID = "image.forbidden"
	ImagePullSecretMissing  ID = "image.pull-secret-missing"
	ImagePlatformMismatch   ID = "image.platform-mismatch"
	ImageLookupInconclusive ID = "image.lookup-inconclusive"
	ImageNoCommand          ID = "image.no-command"
	ImageRunsAsRoot         ID = "image.runs-as-root"

	CommandNotFound ID = "command.not-found"

	ConfigConfigMapNotFound    ID = "config.configmap-not-found"
	ConfigSecretNotFound       ID = "config.secret-not-found"
	ConfigKeyNotFound          ID = "config.key-not-found"
	VolumeClaimNotFound        ID = "volume.claim-not-found"
	VolumeStorageClassNotFound ID = "volume.storageclass-not-found"
	PodServiceAccountNotFound  ID = "pod.serviceaccount-not-found"
	PodPriorityClassNotFound   ID = "pod.priorityclass-not-found"
	PodRuntimeClassNotFound    ID = "pod.runtimeclass-not-found"

	ScheduleNoMatchingNode       ID = "schedule.no-matching-node"
	ScheduleTaintsNotTolerated   ID = "schedule.taints-not-tolerated"
	ScheduleRequestsExceedNodes  ID = "schedule.requests-exceed-nodes"
	ScheduleAntiAffinityReplicas ID = "schedule.anti-affinity-replicas"
	ScheduleDaemonSetNoNode      ID = "schedule.daemonset-no-node"
	QuotaMustSpecify             ID = "quota.must-specify"
	QuotaExceeded                ID = "quota.exceeded"
	LimitRangeViolated           ID = "limitrange.violated"
)

// PublishedIDs is every check ID of the published catalog, including
// checks this build may not run: a skip annotation written for them is
// valid everywhere.
func PublishedIDs() map[ID]bool {
	ids := map[ID]bool{}
	for _, id := range []ID{
		ImageInvalidReference, ImageMutableTag, ProbeLivenessTooAggressive, ProbeLivenessEqualsReadines,
		ProbePortNotFound, ProbePortNotDeclared, ProbeTimeoutExceedsPeriod, ResourcesMemoryLimitMissing,
		ResourcesHeapExceedsLimit, ImageTagNotFound, ImageRepositoryNotFound, ImageUnauthorized, ImageForbidden,
		ImagePullSecretMissing, ImagePlatformMismatch, ImageLookupInconclusive, ImageNoCommand, ImageRunsAsRoot,
		CommandNotFound, ConfigConfigMapNotFound, ConfigSecretNotFound, ConfigKeyNotFound, VolumeClaimNotFound,
		VolumeStorageClassNotFound, PodServiceAccountNotFound, PodPriorityClassNotFound, PodRuntimeClassNotFound,
		ScheduleNoMatchingNode, ScheduleTaintsNotTolerated, ScheduleRequestsExceedNodes, ScheduleAntiAffinityReplicas,
		ScheduleDaemonSetNoNode, QuotaMustSpecify, QuotaExceeded, LimitRangeViolated,
	} {
		ids[id] = true
	}
	return ids
}

// Severity says how sure nobackoff is that a finding stops a pod from
// coming up.
type Severity int

const (
	// Info is advice. It is shown by the CLI and never sent to kubectl.
	Info Severity = iota
	// Warning is a real risk: the pod may come up, but something is likely
	// to go wrong.
	Warning
	// Error means the pod will not come up. Enforce mode denies it.
	Error
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity reads a severity name as written in configuration.
func ParseSeverity(s string) (Severity, error) {
	for _, v := range []Severity{Info, Warning, Error} {
		if strings.EqualFold(s, v.String()) {
			return v, nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (want info, warning or error)", s)
}

// MarshalText writes the severity's name, so JSON output reads "error".
func (s Severity) MarshalText() ([]byte, error) {
	if s < Info || s > Error {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Finding is one problem found in one pod spec. It is data: rendering to
// text for kubectl, denials and the CLI happens at the edges.
type Finding struct {
	Check    ID
	Severity Severity
	// Field is the full field path of the offending value in the object
	// under review, e.g. spec.template.spec.containers[0].livenessProbe.
	Field string
	// Container and Image name the container concerned, when there is one.
	Container string
	Image     string
	// Message says what is wrong and what will happen, in one line.
	Message string
	// Fix says what to change, in one line.
	Fix string
	// Suggestion is the closest existing name (a tag, a repository) when
	// the finding is about a name that does not exist.
	Suggestion string
	// Outcome is the pod state the finding foretells, if any.
	Outcome Outcome
}

// Line renders the finding as one line, as kubectl's warnings, the
// webhook's denials and `nobackoff check`'s text report show it:
// [check] container "app": message
func (f Finding) Line() string {
	var b strings.Builder
	b.WriteString("[")
	b.WriteString(string(f.Check))
	b.WriteString("] ")
	if f.Container != "" {
		fmt.Fprintf(&b, "container %q: ", f.Container)
	}
	b.WriteString(f.Message)
	return OneLine(b.String())
}

// OneLine makes text safe for a single header line: control characters
// become spaces.
func OneLine(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
