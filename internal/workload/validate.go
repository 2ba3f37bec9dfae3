package workload

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
)

// ClaimTemplateNames reads the names of a StatefulSet's
// volumeClaimTemplates from its JSON, for Validate: they name volumes of
// its pods. It reads what Decode read already, so it never fails: what
// does not decode has no name.
func ClaimTemplateNames(data []byte) []string {
	var sts struct {
		Spec struct {
			VolumeClaimTemplates []struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			} `json:"volumeClaimTemplates"`
		} `json:"spec"`
	}
	_ = kjson.UnmarshalCaseSensitivePreserveInts(data, &sts)
	var claims []string
	for _, t := range sts.Spec.VolumeClaimTemplates {
		claims = append(claims, t.Metadata.Name)
	}
	return claims
}

// Validate reports what in the workload's pod spec the API server would
// reject, as it words it (spec.template.spec.containers[0].
// volumeMounts[0].name: Not found: "data"), at the field paths of the
// object as written. It covers the common mistakes of hand-written
// manifests, not the whole of the API server's validation: container and
// volume names (missing, duplicate, not a DNS label), images, ports, env
// var names, volume mounts, probes and the fields ephemeral containers
// may not set. Errors come in the API server's order: volumes, containers,
// init containers, ephemeral containers.
//
// claims are the names of a StatefulSet's volumeClaimTemplates
// (ClaimTemplateNames): its controller adds them to the pods' volumes,
// replacing template volumes of the same names. (The API server leaves a StatefulSet's template
// unvalidated; what is reported here rejects its pods instead.)
//
// The webhook never needs it (the API server validates before admission);
// `nobackoff check` does, as manifests read from files were never
// validated. Defaulted fields (a probe's successThreshold, a port's
// protocol) count as defaulted.
func Validate(w *Workload, claims []string) field.ErrorList {
	if w == nil || w.Spec == nil {
		return nil
	}
	root := specPath(w.SpecPath)
	errs := validatePodSpec(w.Spec, claims, root)
	if w.Template != nil && len(w.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(root.Child("ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

// specPath turns a Workload's SpecPath (spec, spec.template.spec,
// spec.jobTemplate.spec.template.spec) into a field path.
func specPath(p string) *field.Path {
	parts := strings.Split(p, ".")
	return field.NewPath(parts[0], parts[1:]...)
}

func validatePodSpec(spec *corev1.PodSpec, claims []string, path *field.Path) field.ErrorList {
	vols, errs := validateVolumes(spec.Volumes, claims, path.Child("volumes"))
	errs = append(errs, validateContainers(spec.Containers, vols, path.Child("containers"))...)
	errs = append(errs, validateInitContainers(spec.InitContainers, spec.Containers, vols, path.Child("initContainers"))...)
	errs = append(errs, validateEphemeralContainers(spec.EphemeralContainers, spec.Containers, spec.InitContainers, vols, path.Child("ephemeralContainers"))...)
	return errs
}

// validateVolumes checks the volumes' names and returns the set of those
// mounts may name: as for the API server, a volume in error is not one.
// Volumes named as a claim are replaced by the claim's.
func validateVolumes(volumes []corev1.Volume, claims []string, path *field.Path) (map[string]bool, field.ErrorList) {
	var errs field.ErrorList
	vols := map[string]bool{}
	for i := range volumes {
		name := volumes[i].Name
		if contains(claims, name) {
			continue
		}
		namePath := path.Index(i).Child("name")
		var el field.ErrorList
		if name == "" {
			el = append(el, field.Required(namePath, ""))
		} else {
			el = append(el, dnsLabel(name, namePath)...)
		}
		if vols[name] {
			el = append(el, field.Duplicate(namePath, name))
		}
		if len(el) == 0 {
			vols[name] = true
		}
		errs = append(errs, el...)
	}
	for _, c := range claims {
		vols[c] = true
	}
	return vols, errs
}

func dnsLabel(value string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(value) {
		errs = append(errs, field.Invalid(path, value, msg))
	}
	return errs
}

// validateContainers checks the regular containers. Their names must be
// unique among themselves; clashes with init and ephemeral containers are
// reported on those.
func validateContainers(containers []corev1.Container, vols map[string]bool, path *field.Path) field.ErrorList {
	if len(containers) == 0 {
		return field.ErrorList{field.Required(path, "")}
	}
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range containers {
		c := &containers[i]
		idx := path.Index(i)
		errs = append(errs, validateContainerCommon(c, vols, idx)...)
		if names[c.Name] {
			errs = append(errs, field.Duplicate(idx.Child("name"), c.Name))
		}
		names[c.Name] = true
		errs = append(errs, validateProbes(c, idx)...)
	}
	return errs
}

// validateInitContainers checks the init containers. Only sidecars
// (restartPolicy: Always) may have probes.
func validateInitContainers(inits, regular []corev1.Container, vols map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range regular {
		names[regular[i].Name] = true
	}
	for i := range inits {
		c := &inits[i]
		idx := path.Index(i)
		errs = append(errs, validateContainerCommon(c, vols, idx)...)
		if names[c.Name] {
			errs = append(errs, field.Duplicate(idx.Child("name"), c.Name))
		} else if c.Name != "" {
			names[c.Name] = true
		}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			errs = append(errs, validateProbes(c, idx)...)
			continue
		}
		const plain = "may not be set for init containers without restartPolicy=Always"
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
		}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
			if p.probe != nil {
				errs = append(errs, field.Forbidden(idx.Child(p.name), plain))
			}
		}
	}
	return errs
}

// ephemeralAllowed lists the fields of an ephemeral container that may be
// set, by Go field name, as the API server's allow list does: any other
// field set is forbidden.
var ephemeralAllowed = map[string]bool{
	"Name": true, "Image": true, "Command": true, "Args": true, "WorkingDir": true,
	"EnvFrom": true, "Env": true, "VolumeMounts": true, "VolumeDevices": true,
	"TerminationMessagePath": true, "TerminationMessagePolicy": true, "ImagePullPolicy": true,
	"SecurityContext": true, "Stdin": true, "StdinOnce": true, "TTY": true,
}

const notForEphemeral = "cannot be set for an Ephemeral Container"

// validateEphemeralContainers checks the ephemeral containers: their names
// must be unique among all containers and their target must be another
// container.
func validateEphemeralContainers(ephemeral []corev1.EphemeralContainer, regular, inits []corev1.Container, vols map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	others, names := map[string]bool{}, map[string]bool{}
	for _, list := range [][]corev1.Container{regular, inits} {
		for i := range list {
			others[list[i].Name], names[list[i].Name] = true, true
		}
	}
	for i := range ephemeral {
		ec := &ephemeral[i]
		idx := path.Index(i)
		c := corev1.Container(ec.EphemeralContainerCommon)
		errs = append(errs, validateContainerCommon(&c, vols, idx)...)
		if names[ec.Name] {
			errs = append(errs, field.Duplicate(idx.Child("name"), ec.Name))
		}
		names[ec.Name] = true
		if ec.TargetContainerName != "" && !others[ec.TargetContainerName] {
			errs = append(errs, field.NotFound(idx.Child("targetContainerName"), ec.TargetContainerName))
		}
		v := reflect.ValueOf(ec.EphemeralContainerCommon)
		for f := 0; f < v.NumField(); f++ {
			sf := v.Type().Field(f)
			if ephemeralAllowed[sf.Name] || v.Field(f).IsZero() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			errs = append(errs, field.Forbidden(idx.Child(name), notForEphemeral))
		}
		for m := range ec.VolumeMounts {
			if ec.VolumeMounts[m].SubPath != "" {
				errs = append(errs, field.Forbidden(idx.Child("volumeMounts").Index(m).Child("subPath"), notForEphemeral))
			}
			if ec.VolumeMounts[m].SubPathExpr != "" {
				errs = append(errs, field.Forbidden(idx.Child("volumeMounts").Index(m).Child("subPathExpr"), notForEphemeral))
			}
		}
	}
	return errs
}

// validateContainerCommon checks what every kind of container must get
// right: name, image, ports, env var names and volume mounts.
func validateContainerCommon(c *corev1.Container, vols map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	} else {
		errs = append(errs, dnsLabel(c.Name, path.Child("name"))...)
	}
	if c.Image == "" {
		errs = append(errs, field.Required(path.Child("image"), ""))
	}
	errs = append(errs, validatePorts(c.Ports, path.Child("ports"))...)
	for i := range c.Env {
		if c.Env[i].Name == "" {
			errs = append(errs, field.Required(path.Child("env").Index(i).Child("name"), ""))
		}
	}
	errs = append(errs, validateVolumeMounts(c.VolumeMounts, vols, path.Child("volumeMounts"))...)
	return errs
}

var portProtocols = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}

func validatePorts(ports []corev1.ContainerPort, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range ports {
		p := &ports[i]
		idx := path.Index(i)
		if p.Name != "" {
			if msgs := validation.IsValidPortName(p.Name); len(msgs) > 0 {
				for _, msg := range msgs {
					errs = append(errs, field.Invalid(idx.Child("name"), p.Name, msg))
				}
			} else if names[p.Name] {
				errs = append(errs, field.Duplicate(idx.Child("name"), p.Name))
			} else {
				names[p.Name] = true
			}
		}
		if p.ContainerPort == 0 {
			errs = append(errs, field.Required(idx.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(p.ContainerPort)) {
				errs = append(errs, field.Invalid(idx.Child("containerPort"), p.ContainerPort, msg))
			}
		}
		if p.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(p.HostPort)) {
				errs = append(errs, field.Invalid(idx.Child("hostPort"), p.HostPort, msg))
			}
		}
		// An empty protocol is defaulted to TCP.
		if p.Protocol != "" && !contains(portProtocols, p.Protocol) {
			errs = append(errs, field.NotSupported(idx.Child("protocol"), p.Protocol, portProtocols))
		}
	}
	return errs
}

func contains[T comparable](list []T, v T) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}

func validateVolumeMounts(mounts []corev1.VolumeMount, vols map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := map[string]bool{}
	for i := range mounts {
		m := &mounts[i]
		idx := path.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		}
		if !vols[m.Name] {
			errs = append(errs, field.NotFound(idx.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(idx.Child("mountPath"), ""))
		}
		if paths[m.MountPath] {
			errs = append(errs, field.Invalid(idx.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths[m.MountPath] = true
	}
	return errs
}

// validateProbes checks the probes of a regular container or a sidecar.
func validateProbes(c *corev1.Container, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	mustBeOne := func(p *corev1.Probe, pp *field.Path) {
		// An unset successThreshold (0) is defaulted to 1.
		if p.SuccessThreshold != 0 && p.SuccessThreshold != 1 {
			errs = append(errs, field.Invalid(pp.Child("successThreshold"), p.SuccessThreshold, "must be 1"))
		}
	}
	if p := c.LivenessProbe; p != nil {
		errs = append(errs, validateProbe(p, path.Child("livenessProbe"))...)
		mustBeOne(p, path.Child("livenessProbe"))
	}
	if p := c.ReadinessProbe; p != nil {
		errs = append(errs, validateProbe(p, path.Child("readinessProbe"))...)
	}
	if p := c.StartupProbe; p != nil {
		errs = append(errs, validateProbe(p, path.Child("startupProbe"))...)
		mustBeOne(p, path.Child("startupProbe"))
	}
	return errs
}

// validateProbe checks that a probe has exactly one handler, the second
// and later reported where they are written, and no negative timing.
func validateProbe(p *corev1.Probe, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	handlers := 0
	for _, h := range []struct {
		name string
		set  bool
	}{{"exec", p.Exec != nil}, {"httpGet", p.HTTPGet != nil}, {"tcpSocket", p.TCPSocket != nil}, {"grpc", p.GRPC != nil}} {
		if !h.set {
			continue
		}
		if handlers > 0 {
			errs = append(errs, field.Forbidden(path.Child(h.name), "may not specify more than 1 handler type"))
			continue
		}
		handlers++
	}
	if handlers == 0 {
		errs = append(errs, field.Required(path, "must specify a handler type"))
	}
	for _, f := range []struct {
		name  string
		value int32
	}{
		{"initialDelaySeconds", p.InitialDelaySeconds}, {"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds}, {"successThreshold", p.SuccessThreshold},
		{"failureThreshold", p.FailureThreshold},
	} {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(f.value), path.Child(f.name))...)
	}
	return errs
}
