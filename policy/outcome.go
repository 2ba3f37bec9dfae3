package policy

// Outcome is the pod state a finding foretells: what the kubelet reports
// once the pod is created. Findings that name a risk rather than a
// start-up failure (a mutable tag, a missing limit, identical probes) have
// none. The values are the kubelet's own reasons, except NeverReady.
type Outcome string

const (
	NoOutcome        Outcome = ""
	InvalidImageName Outcome = "InvalidImageName"
	// StuckWaiting: the container waits for good, the kubelet's error in
	// place of a reason (a pull secret it cannot read, when the image has
	// to be pulled).
	StuckWaiting               Outcome = "StuckWaiting"
	ImagePullBackOff           Outcome = "ImagePullBackOff"
	CreateContainerConfigError Outcome = "CreateContainerConfigError"
	CreateContainerError       Outcome = "CreateContainerError"
	OOMKilled                  Outcome = "OOMKilled"
	CrashLoopBackOff           Outcome = "CrashLoopBackOff"
	// NeverReady: the container runs but never turns Ready.
	NeverReady Outcome = "NeverReady"
	// FailedCreate: the workload's controller cannot create a single pod
	// (the reason its ReplicaSet, Job or StatefulSet records).
	FailedCreate Outcome = "FailedCreate"
	// Pending: the pod is never scheduled.
	Pending Outcome = "Pending"
	// ContainerCreating: the pod is scheduled but its volumes never mount
	// (FailedMount events), so no container starts.
	ContainerCreating Outcome = "ContainerCreating"
)

// outcomeStages orders outcomes as a pod meets them: its creation by the
// controller, its scheduling, its volumes, then, on the kubelet, the image
// name, the pull secrets, the pull, the container's configuration, its
// creation, then its life. A pod stops at the first stage that fails.
var outcomeStages = []Outcome{FailedCreate, Pending, ContainerCreating, InvalidImageName, StuckWaiting, ImagePullBackOff,
	CreateContainerConfigError, CreateContainerError, OOMKilled, CrashLoopBackOff, NeverReady}

// checkOutcomes are the outcomes of checks whose findings always foretell
// the same state; a check may set another on a finding (platforms:
// exec format error for a single-arch image).
var checkOutcomes = map[ID]Outcome{
	ImageInvalidReference:   InvalidImageName,
	ImageTagNotFound:        ImagePullBackOff,
	ImageRepositoryNotFound: ImagePullBackOff,
	ImageUnauthorized:       ImagePullBackOff,
	ImageForbidden:          ImagePullBackOff,
	ImagePlatformMismatch:   ImagePullBackOff,
	ImageRunsAsRoot:         CreateContainerConfigError,
	ImageNoCommand:          CreateContainerError,
	CommandNotFound:         CrashLoopBackOff,
	// A volume's missing ConfigMap or Secret foretells ContainerCreating,
	// set on its finding.
	ConfigConfigMapNotFound:     CreateContainerConfigError,
	ConfigSecretNotFound:        CreateContainerConfigError,
	ConfigKeyNotFound:           CreateContainerConfigError,
	VolumeClaimNotFound:         Pending,
	VolumeStorageClassNotFound:  Pending,
	PodServiceAccountNotFound:   FailedCreate,
	PodPriorityClassNotFound:    FailedCreate,
	PodRuntimeClassNotFound:     FailedCreate,
	ScheduleNoMatchingNode:      Pending,
	ScheduleTaintsNotTolerated:  Pending,
	ScheduleRequestsExceedNodes: Pending,
	QuotaMustSpecify:            FailedCreate,
	QuotaExceeded:               FailedCreate,
	LimitRangeViolated:          FailedCreate,
	ProbeLivenessTooAggressive:  CrashLoopBackOff,
	ProbePortNotFound:           NeverReady,
	ResourcesHeapExceedsLimit:   OOMKilled,
}

// FirstOutcome is the state a pod with these findings ends in: the
// earliest stage any of them foretells, or NoOutcome when none does.
// Exempted findings are not passed here.
func FirstOutcome(findings []Finding) Outcome {
	best := len(outcomeStages)
	for _, f := range findings {
		for i, o := range outcomeStages {
			if f.Outcome == o && i < best {
				best = i
			}
		}
	}
	if best == len(outcomeStages) {
		return NoOutcome
	}
	return outcomeStages[best]
}
