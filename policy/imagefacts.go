package policy

// Facts the webhook gathers about a pod's images and pull secrets before
// the checks run. They are plain data: checks never look anything up.

// LookupOutcome is the registry's answer for one image.
type LookupOutcome string

// Lookup outcomes (the same closed set as the registry lookups).
const (
	LookupOK                 LookupOutcome = "ok"
	LookupTagNotFound        LookupOutcome = "tag-not-found"
	LookupRepositoryNotFound LookupOutcome = "repository-not-found"
	LookupUnauthorized       LookupOutcome = "unauthorized"
	LookupForbidden          LookupOutcome = "forbidden"
	LookupRateLimited        LookupOutcome = "rate-limited"
	LookupUnreachable        LookupOutcome = "unreachable"
	LookupTimedOut           LookupOutcome = "timed-out"
)

// ImageLookup is what the registry said about one image reference, with
// the credentials the kubelet would use.
type ImageLookup struct {
	Outcome LookupOutcome
	// Status is the HTTP status behind the outcome; 0 when none.
	Status int
	// Repository is the normalised repository, e.g. docker.io/library/nginx.
	Repository string
	// Source names the credential of the answer: "secret shop/regcred",
	// "docker config" or "anonymous". Tried lists every source tried.
	Source string
	Tried  []string
	// CredentialsMatched is false when no pull secret applied to the
	// registry: the pull was anonymous.
	CredentialsMatched bool
	// NodeCredentials is set for registries whose credentials the nodes
	// provide: an authorization failure is then inconclusive.
	NodeCredentials bool
	// CredentialsUnknown is set when a referenced pull secret or
	// ServiceAccount was not found (not created yet, or not seen yet): an
	// authorization failure is then inconclusive too.
	CredentialsUnknown bool
	// MaybeMissing marks an authorization failure from a registry that
	// answers so for repositories that do not exist (Docker Hub).
	MaybeMissing bool
	// Suggestion is the closest existing tag or repository, if known.
	Suggestion string
	// Cause explains an inconclusive outcome.
	Cause string
	// Certificate names the problem with the registry's TLS certificate
	// when that is why it could not be reached (certificate-expired,
	// certificate-unknown-authority, certificate-wrong-host, ...); the
	// Cause then says more. The nodes may trust what the webhook does not:
	// the outcome stays inconclusive.
	Certificate string
	// ContentUnread marks an inconclusive outcome of an image that was
	// found, but whose manifest or configuration could not be read (too
	// large, too slow, refused).
	ContentUnread bool
	// Unattached names pull secrets of the pod's namespace that hold
	// credentials for the image's registry but are attached neither to the
	// pod nor to its ServiceAccount; set on authorization failures.
	Unattached []string
	// ServiceAccount is the ServiceAccount whose secrets the pod would use
	// (when the pod lists none), to say where to attach one.
	ServiceAccount string
	// Image facts, present only when they were read (OK outcomes).
	Platforms *PlatformFacts
	Config    *ImageConfig
}

// PlatformFacts compare the platforms an image offers with those of the
// nodes the pod can land on.
type PlatformFacts struct {
	// Index is set for a multi-platform index; else the image is a single
	// platform's.
	Index bool
	// Offered lists the image's platforms (os/arch[/variant]).
	Offered []string
	// Candidates lists the node platforms the pod can land on;
	// Unsupported those of them that cannot run the image.
	Candidates  []string
	Unsupported []string
}

// ImageConfig is the part of the image configuration the checks read.
type ImageConfig struct {
	User       string
	Entrypoint []string
	Cmd        []string
}

// SecretProblem says why a pull secret cannot be used.
type SecretProblem string

// Pull secret problems.
const (
	SecretMissing   SecretProblem = "missing"
	SecretWrongType SecretProblem = "wrong-type"
	SecretMalformed SecretProblem = "malformed"
)

// PullSecretIssue is a pull secret the kubelet cannot use.
type PullSecretIssue struct {
	Name    string
	Problem SecretProblem
	// Field is where the secret is named: spec.imagePullSecrets[1], or the
	// pod's serviceAccountName when the secret comes from the
	// ServiceAccount.
	Field string
	// ServiceAccount is set when the secret was named by it.
	ServiceAccount string
	Detail         string
	// OtherNamespaces lists namespaces that hold a pull secret of this
	// name, when it is missing from the pod's (at most
	// MaxOtherNamespaces): secrets are not shared across namespaces.
	OtherNamespaces []string
	// Namespace is the pod's namespace.
	Namespace string
}
