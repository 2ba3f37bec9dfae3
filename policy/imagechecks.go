package policy

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// pullPolicy is the container's imagePullPolicy with the API server's
// default: Always for :latest or no tag, else IfNotPresent.
func pullPolicy(c ContainerRef) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	if r, err := c.ImageRef(); err == nil && r.Digest == "" && (r.Tag == "" || r.Tag == "latest") {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// pullEffect says what a failed pull does, by pull policy.
func pullEffect(c ContainerRef) string {
	if pullPolicy(c) == corev1.PullIfNotPresent {
		return "ErrImagePull on every node without the image"
	}
	return "ErrImagePull, then ImagePullBackOff"
}

// lookupOf returns the registry facts of a container's image.
func lookupOf(p *Pod, c ContainerRef) (*ImageLookup, bool) {
	if p.Images == nil {
		return nil, false
	}
	l, ok := p.Images[c.Image]
	return l, ok && l != nil
}

// imageCheck is a check over each container's registry facts.
type imageCheck struct {
	id ID
	fn func(p *Pod, c ContainerRef, l *ImageLookup) *Finding
	// pull marks checks about pulling the image, moot for containers with
	// imagePullPolicy Never (the node must already hold the image).
	pull bool
}

func (i imageCheck) ID() ID { return i.id }

func (i imageCheck) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	for _, c := range p.Containers() {
		l, ok := lookupOf(p, c)
		if !ok || (i.pull && c.ImagePullPolicy == corev1.PullNever) {
			continue
		}
		if f := i.fn(p, c, l); f != nil {
			out = append(out, *f)
		}
	}
	return out, nil
}

// authFailureIsInconclusive: on registries whose credentials the nodes
// hold, the kubelet tries those after the pod's; nobackoff cannot see them.
func authFailureIsInconclusive(l *ImageLookup) bool { return l.NodeCredentials || l.CredentialsUnknown }

func tagNotFound(_ *Pod, c ContainerRef, l *ImageLookup) *Finding {
	if l.Outcome != LookupTagNotFound {
		return nil
	}
	msg := fmt.Sprintf("%s not found in %s: %s", c.Image, l.Repository, pullEffect(c))
	fix := "push the tag or use one that exists"
	if l.Suggestion != "" {
		msg = fmt.Sprintf("%s not found; did you mean %s? (%s)", c.Image, withTag(c.Image, l.Suggestion), pullEffect(c))
		fix = fmt.Sprintf("use tag %q", l.Suggestion)
	}
	f := c.Finding(ImageTagNotFound, Error, "image", msg, fix)
	f.Suggestion = l.Suggestion
	return &f
}

func repositoryNotFound(_ *Pod, c ContainerRef, l *ImageLookup) *Finding {
	if l.Outcome != LookupRepositoryNotFound {
		return nil
	}
	msg := fmt.Sprintf("repository %s does not exist: %s", l.Repository, pullEffect(c))
	fix := "check the image name"
	if l.Suggestion != "" {
		msg = fmt.Sprintf("repository %s does not exist; did you mean %s? (%s)", l.Repository, l.Suggestion, pullEffect(c))
		fix = fmt.Sprintf("use %s", l.Suggestion)
	}
	f := c.Finding(ImageRepositoryNotFound, Error, "image", msg, fix)
	f.Suggestion = l.Suggestion
	return &f
}

// credentialsSaid describes the credentials that were refused.
func credentialsSaid(l *ImageLookup) string {
	if !l.CredentialsMatched {
		return "no pull secret matches its registry, so the pull is anonymous"
	}
	return "credentials from " + strings.Join(l.Tried, ", ")
}

func unauthorized(_ *Pod, c ContainerRef, l *ImageLookup) *Finding {
	if l.Outcome != LookupUnauthorized || authFailureIsInconclusive(l) {
		return nil
	}
	var msg, fix string
	switch {
	case l.MaybeMissing && l.Suggestion != "":
		msg = fmt.Sprintf("%s does not exist or needs credentials; did you mean %s? (%s)", l.Repository, l.Suggestion, pullEffect(c))
		fix = fmt.Sprintf("use %s, or add a pull secret if the repository is private", l.Suggestion)
	case l.MaybeMissing:
		msg = fmt.Sprintf("%s refused %s: the repository does not exist or is private (%s)", l.Repository, sourceOrAnonymous(l), pullEffect(c))
		fix = "check the image name; for a private repository add a pull secret with access"
	case !l.CredentialsMatched:
		msg = fmt.Sprintf("%s refused anonymous access (no pull secret matches; private or missing repository): %s", l.Repository, pullEffect(c))
		fix = "add a kubernetes.io/dockerconfigjson Secret for the registry to imagePullSecrets (or the ServiceAccount)"
	default:
		msg = fmt.Sprintf("%s rejected %s: %s", l.Repository, credentialsSaid(l), pullEffect(c))
		fix = "update the secret's credentials for this registry"
	}
	if len(l.Unattached) > 0 {
		msg += fmt.Sprintf("; secret %q in the namespace has credentials for it but is attached neither to the pod nor to its ServiceAccount", l.Unattached[0])
		fix = fmt.Sprintf("add {name: %s} to the pod's imagePullSecrets", l.Unattached[0])
		if l.ServiceAccount != "" {
			fix += fmt.Sprintf(", or to ServiceAccount %s's", l.ServiceAccount)
		}
	}
	f := c.Finding(ImageUnauthorized, Error, "image", msg, fix)
	f.Suggestion = l.Suggestion
	return &f
}

// namespaceName writes a namespace for a message; a manifest without one
// lands in the current namespace of whoever applies it.
func namespaceName(ns string) string {
	if ns == "" {
		return "(the one applied to)"
	}
	return ns
}

func forbidden(_ *Pod, c ContainerRef, l *ImageLookup) *Finding {
	if l.Outcome != LookupForbidden || authFailureIsInconclusive(l) {
		return nil
	}
	f := c.Finding(ImageForbidden, Error, "image",
		fmt.Sprintf("%s denied access to %s: %s", l.Repository, credentialsSaid(l), pullEffect(c)),
		"grant these credentials pull access to the repository, or use a secret that has it")
	return &f
}

func lookupInconclusive(_ *Pod, c ContainerRef, l *ImageLookup) *Finding {
	var why string
	switch l.Outcome {
	case LookupRateLimited:
		why = "the registry is rate-limiting lookups"
	case LookupUnreachable, LookupTimedOut:
		why = "the registry could not be reached"
		switch {
		case l.Certificate != "":
			why = "its TLS certificate was refused"
			if l.ContentUnread {
				why = "the image exists, but its content could not be read: its TLS certificate was refused"
			}
		case l.ContentUnread:
			why = "the image exists, but its manifest or configuration could not be read"
		case l.Outcome == LookupTimedOut:
			why = "the registry did not answer in time"
		}
	case LookupUnauthorized, LookupForbidden:
		if !authFailureIsInconclusive(l) {
			return nil
		}
		why = fmt.Sprintf("the registry refused %s, but the nodes hold credentials for it", sourceOrAnonymous(l))
		if l.CredentialsUnknown {
			why = fmt.Sprintf("the registry refused %s, and a referenced pull secret or ServiceAccount was not found (not created, or not seen yet)", sourceOrAnonymous(l))
		}
	default:
		return nil
	}
	if l.Cause != "" {
		why += " (" + l.Cause + ")"
	}
	f := c.Finding(ImageLookupInconclusive, Warning, "image",
		fmt.Sprintf("could not verify %s: %s; the kubelet may still succeed", c.Image, why),
		"nothing to change if the image exists; otherwise check its name and the pull secrets")
	return &f
}

func sourceOrAnonymous(l *ImageLookup) string {
	if l.Source == "" || l.Source == "anonymous" {
		return "anonymous access"
	}
	return l.Source
}

func platformMismatch(_ *Pod, c ContainerRef, l *ImageLookup) *Finding {
	pf := l.Platforms
	if l.Outcome != LookupOK || pf == nil || len(pf.Unsupported) == 0 || len(pf.Candidates) == 0 {
		return nil
	}
	all := len(pf.Unsupported) == len(pf.Candidates)
	sev := Warning
	if all {
		sev = Error
	}
	var msg string
	if pf.Index {
		msg = fmt.Sprintf("%s offers %s, not %s: ErrImagePull (no match for platform) on those nodes",
			c.Image, strings.Join(pf.Offered, ", "), strings.Join(pf.Unsupported, ", "))
	} else {
		msg = fmt.Sprintf("%s is built for %s only: exec format error (CrashLoopBackOff) on %s nodes",
			c.Image, strings.Join(pf.Offered, ", "), strings.Join(pf.Unsupported, ", "))
	}
	fix := "use an image built for the nodes' platform (a multi-platform index)"
	if !all {
		fix = "build the image for every node platform, or pin the pod with nodeSelector kubernetes.io/arch"
	}
	f := c.Finding(ImagePlatformMismatch, sev, "image", msg, fix)
	if !pf.Index {
		f.Outcome = CrashLoopBackOff // pulled, then exec format error
	}
	return &f
}

func noCommand(_ *Pod, c ContainerRef, l *ImageLookup) *Finding {
	if l.Config == nil || len(c.Command) > 0 || len(c.Args) > 0 || len(l.Config.Entrypoint) > 0 || len(l.Config.Cmd) > 0 {
		return nil
	}
	f := c.Finding(ImageNoCommand, Error, "command",
		fmt.Sprintf("%s has no entrypoint or command and the container sets none: CreateContainerError (no command specified)", c.Image),
		"set command (and args) on the container")
	return &f
}

type runsAsRootCheck struct{}

func (runsAsRootCheck) ID() ID { return ImageRunsAsRoot }

// Check predicts the kubelet's runAsNonRoot verification: a runAsUser of 0
// fails it whatever the image; without a runAsUser the image's user must
// be a numeric non-zero UID. Windows pods follow other rules and are not
// judged.
func (runsAsRootCheck) Check(_ context.Context, p *Pod) ([]Finding, error) {
	if p.Spec.OS != nil && p.Spec.OS.Name == corev1.Windows {
		return nil, nil
	}
	var out []Finding
	for _, c := range p.Containers() {
		if c.Kind == Ephemeral || !effectiveRunAsNonRoot(p, c) {
			continue
		}
		if uid := effectiveRunAsUser(p, c); uid != nil {
			if *uid == 0 {
				field := p.Path + ".securityContext.runAsUser"
				if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
					field = c.Field("securityContext.runAsUser")
				}
				f := c.Finding(ImageRunsAsRoot, Error, "", "runAsNonRoot is set but runAsUser is 0 (root): CreateContainerConfigError", "set runAsUser to a non-zero UID")
				f.Field = field
				out = append(out, f)
			}
			continue
		}
		if l, ok := lookupOf(p, c); ok {
			if f := runsAsRoot(p, c, l); f != nil {
				out = append(out, *f)
			}
		}
	}
	return out, nil
}

// runsAsRoot judges the image's user for a container that must run as
// non-root and sets no runAsUser.
func runsAsRoot(p *Pod, c ContainerRef, l *ImageLookup) *Finding {
	if l.Config == nil {
		return nil
	}
	user := l.Config.User
	uid, _, _ := strings.Cut(user, ":")
	var why string
	switch n, err := strconv.ParseInt(uid, 10, 64); {
	case user == "":
		why = "sets no user, so it runs as root"
	case err != nil:
		why = fmt.Sprintf("runs as the non-numeric user %q, which the kubelet cannot verify is not root", user)
	case n == 0:
		why = fmt.Sprintf("runs as user %q (root)", user)
	default:
		return nil
	}
	field := "securityContext.runAsNonRoot"
	if c.SecurityContext == nil || c.SecurityContext.RunAsNonRoot == nil {
		field = ""
	}
	f := c.Finding(ImageRunsAsRoot, Error, field,
		fmt.Sprintf("runAsNonRoot is set but %s %s: CreateContainerConfigError", c.Image, why),
		"set securityContext.runAsUser to a non-zero UID, or use an image with a numeric non-root USER")
	if field == "" {
		f.Field = p.Path + ".securityContext.runAsNonRoot"
	}
	return &f
}

func effectiveRunAsNonRoot(p *Pod, c ContainerRef) bool {
	if c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil {
		return *c.SecurityContext.RunAsNonRoot
	}
	return p.Spec.SecurityContext != nil && p.Spec.SecurityContext.RunAsNonRoot != nil && *p.Spec.SecurityContext.RunAsNonRoot
}

func effectiveRunAsUser(p *Pod, c ContainerRef) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return c.SecurityContext.RunAsUser
	}
	if p.Spec.SecurityContext != nil {
		return p.Spec.SecurityContext.RunAsUser
	}
	return nil
}

type pullSecretMissing struct{}

func (pullSecretMissing) ID() ID { return ImagePullSecretMissing }

func (pullSecretMissing) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	for _, s := range p.PullSecretIssues {
		where := ""
		if s.ServiceAccount != "" {
			where = fmt.Sprintf(" (named by ServiceAccount %s)", s.ServiceAccount)
		}
		var f Finding
		switch s.Problem {
		case SecretMalformed:
			f = Finding{Check: ImagePullSecretMissing, Severity: Error, Field: s.Field, Outcome: StuckWaiting,
				Message: fmt.Sprintf("pull secret %q%s cannot be read (%s): every image pull of the pod fails", s.Name, where, s.Detail),
				Fix:     "recreate it with kubectl create secret docker-registry"}
		case SecretWrongType:
			f = Finding{Check: ImagePullSecretMissing, Severity: Warning, Field: s.Field,
				Message: fmt.Sprintf("pull secret %q%s is not of type kubernetes.io/dockerconfigjson or dockercfg (%s): the kubelet ignores it", s.Name, where, s.Detail),
				Fix:     "recreate it with kubectl create secret docker-registry"}
		default: // SecretMissing
			if len(s.OtherNamespaces) == 0 {
				f = Finding{Check: ImagePullSecretMissing, Severity: Warning, Field: s.Field,
					Message: fmt.Sprintf("pull secret %q%s does not exist: the kubelet pulls without it", s.Name, where),
					Fix:     "create the secret in the pod's namespace, or remove the reference"}
				break
			}
			f = Finding{Check: ImagePullSecretMissing, Severity: Warning, Field: s.Field,
				Message: fmt.Sprintf("pull secret %q%s does not exist in namespace %s, only in %s (secrets are not shared across namespaces): the kubelet pulls without it",
					s.Name, where, namespaceName(s.Namespace), strings.Join(s.OtherNamespaces, ", ")),
				Fix: fmt.Sprintf("create %q in namespace %s too (a copy of %s/%s)", s.Name, namespaceName(s.Namespace), s.OtherNamespaces[0], s.Name)}
		}
		out = append(out, f)
	}
	return out, nil
}

func imageChecks() []Check {
	return []Check{
		imageCheck{ImageTagNotFound, tagNotFound, true},
		imageCheck{ImageRepositoryNotFound, repositoryNotFound, true},
		imageCheck{ImageUnauthorized, unauthorized, true},
		imageCheck{ImageForbidden, forbidden, true},
		pullSecretMissing{},
		imageCheck{ImagePlatformMismatch, platformMismatch, false},
		imageCheck{ImageLookupInconclusive, lookupInconclusive, true},
		imageCheck{ImageNoCommand, noCommand, false},
		runsAsRootCheck{},
	}
}

// withTag replaces the tag of an image reference as written.
func withTag(image, tag string) string {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image + ":" + tag
}
