package workload

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Limits on what nobackoff reads. Each is far above anything a real
// manifest or object reaches; they exist so that hostile or broken input
// costs bounded memory and time, and is refused with an error naming where
// it went over instead of exhausting the process. The limits on manifest
// files are the manifest reader's (package manifests), which reports them
// as LimitErrors too.
//
// Workloads, counted per pod spec (checked by Decode, so for the CLI and
// the webhook alike). The API server validates none of these counts and
// lengths before a validating webhook sees the object.
const (
	// MaxContainers bounds containers, initContainers and
	// ephemeralContainers together: every check and every registry lookup
	// runs per container, and real pods, sidecars included, have a dozen
	// at most.
	MaxContainers = 256
	// MaxImageBytes bounds an image reference. The longest valid one is
	// imageref.MaxReference (780) bytes; parsing costs time per byte, so
	// a much longer one is refused rather than judged. Up to this length
	// an invalid one still gets its finding.
	MaxImageBytes = 1024
	// MaxArgBytes bounds one command or args entry. Linux refuses to start
	// a program with an argument over 32 pages (MAX_ARG_STRLEN: 128 KiB
	// with 4 KiB pages, 2 MiB with 64 KiB pages), and etcd stores no
	// object over 1.5 MiB, which this matches: only a review that could
	// never be stored goes over it.
	MaxArgBytes = 1536 << 10
	// MaxCommandBytes bounds a container's command and args together:
	// Linux limits a program's arguments and environment together to a
	// quarter of the stack limit, 2 MiB with the default 8 MiB stack.
	MaxCommandBytes = 2 << 20
	// MaxEnv bounds a container's env entries. The largest real lists are
	// a few hundred; checks resolve $(VAR) references across them.
	MaxEnv = 4096
	// MaxEnvBytes bounds one env entry's name and value together, as
	// MaxArgBytes bounds an argument.
	MaxEnvBytes = 1536 << 10
	// MaxEnvFrom bounds a container's envFrom sources, each a ConfigMap or
	// Secret; real containers name a handful.
	MaxEnvFrom = 256
	// MaxPorts bounds a container's ports. Checks read them per probe and
	// list them in findings; ranges declared port by port (media relays)
	// fit.
	MaxPorts = 16384
	// MaxVolumes bounds a pod's volumes; projected volumes keep even large
	// pods under a hundred.
	MaxVolumes = 4096
	// MaxPullSecrets bounds a pod's imagePullSecrets: each is looked up and
	// its credentials tried for the pod's images.
	MaxPullSecrets = 256
)

// LimitError is input over one of the limits above, or over one of the
// manifest reader's.
type LimitError struct {
	// Field is the field path of what is over the limit, e.g.
	// spec.template.spec.containers[0].image; empty when the limit is on
	// the input as a whole (a file, a document).
	Field string
	// What is what Limit and Got count, e.g. "bytes", "containers".
	What string
	// Limit is the limit and Got what was found; with AtLeast set,
	// counting stopped at Got.
	Limit, Got int
	AtLeast    bool
}

func (e *LimitError) Error() string {
	msg := fmt.Sprintf("%d %s, over nobackoff's limit of %d", e.Got, e.What, e.Limit)
	if e.AtLeast {
		msg = fmt.Sprintf("more than %d %s, nobackoff's limit", e.Limit, e.What)
	}
	if e.Field == "" {
		return msg
	}
	return e.Field + ": " + msg
}

// What the workload limits' LimitErrors count.
const (
	unitBytes      = "bytes"
	unitContainers = "containers"
	unitEntries    = "entries"
)

// CheckLimits refuses a workload whose pod spec is over a limit. Counts are
// checked before anything is iterated, so an oversized list costs nothing.
func CheckLimits(w *Workload) error {
	s := w.Spec
	if s == nil {
		return nil
	}
	over := func(field, what string, limit, got int) error {
		return &LimitError{Field: w.SpecPath + "." + field, What: what, Limit: limit, Got: got}
	}
	lists := []struct {
		name string
		n    int
	}{{"initContainers", len(s.InitContainers)}, {"containers", len(s.Containers)}, {"ephemeralContainers", len(s.EphemeralContainers)}}
	total := 0
	for _, l := range lists {
		total += l.n
		if total > MaxContainers {
			// The entry that goes over is the first one refused.
			return over(fmt.Sprintf("%s[%d]", l.name, l.n-(total-MaxContainers)), unitContainers, MaxContainers, total)
		}
	}
	if n := len(s.Volumes); n > MaxVolumes {
		return over("volumes", unitEntries, MaxVolumes, n)
	}
	if n := len(s.ImagePullSecrets); n > MaxPullSecrets {
		return over("imagePullSecrets", unitEntries, MaxPullSecrets, n)
	}
	for i := range s.InitContainers {
		if err := containerLimits(&s.InitContainers[i], "initContainers", i, over); err != nil {
			return err
		}
	}
	for i := range s.Containers {
		if err := containerLimits(&s.Containers[i], "containers", i, over); err != nil {
			return err
		}
	}
	for i := range s.EphemeralContainers {
		c := corev1.Container(s.EphemeralContainers[i].EphemeralContainerCommon)
		if err := containerLimits(&c, "ephemeralContainers", i, over); err != nil {
			return err
		}
	}
	return nil
}

func containerLimits(c *corev1.Container, list string, index int, over func(field, what string, limit, got int) error) error {
	// The container's path is only written out for an error.
	path := func() string { return list + "[" + strconv.Itoa(index) + "]" }
	if n := len(c.Image); n > MaxImageBytes {
		return over(path()+".image", unitBytes, MaxImageBytes, n)
	}
	if n := len(c.Env); n > MaxEnv {
		return over(path()+".env", unitEntries, MaxEnv, n)
	}
	if n := len(c.EnvFrom); n > MaxEnvFrom {
		return over(path()+".envFrom", unitEntries, MaxEnvFrom, n)
	}
	if n := len(c.Ports); n > MaxPorts {
		return over(path()+".ports", unitEntries, MaxPorts, n)
	}
	total := 0
	for _, part := range []struct {
		name string
		args []string
	}{{"command", c.Command}, {"args", c.Args}} {
		for i, a := range part.args {
			field := func() string { return fmt.Sprintf("%s.%s[%d]", path(), part.name, i) }
			if len(a) > MaxArgBytes {
				return over(field(), unitBytes, MaxArgBytes, len(a))
			}
			// Checked at each entry so that the entry going over is named.
			if total += len(a); total > MaxCommandBytes {
				return over(field(), unitBytes, MaxCommandBytes, total)
			}
		}
	}
	for i, e := range c.Env {
		if n := len(e.Name) + len(e.Value); n > MaxEnvBytes {
			return over(fmt.Sprintf("%s.env[%d]", path(), i), unitBytes, MaxEnvBytes, n)
		}
	}
	return nil
}
