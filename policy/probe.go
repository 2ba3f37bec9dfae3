package policy

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Probe defaults applied by the API server when a field is zero.
const (
	defaultPeriodSeconds    = 10
	defaultTimeoutSeconds   = 1
	defaultFailureThreshold = 3
	defaultSuccessThreshold = 1
)

// probeTiming is a probe's timing with the API server's defaults applied, so
// that manifests read from files compare like the objects in a cluster.
type probeTiming struct {
	InitialDelay, Period, Timeout, Success, Failure int32
}

func timingOf(p *corev1.Probe) probeTiming {
	t := probeTiming{p.InitialDelaySeconds, p.PeriodSeconds, p.TimeoutSeconds, p.SuccessThreshold, p.FailureThreshold}
	if t.Period <= 0 {
		t.Period = defaultPeriodSeconds
	}
	if t.Timeout <= 0 {
		t.Timeout = defaultTimeoutSeconds
	}
	if t.Success <= 0 {
		t.Success = defaultSuccessThreshold
	}
	if t.Failure <= 0 {
		t.Failure = defaultFailureThreshold
	}
	return t
}

// handlerOf returns a probe's handler with the API server's defaults
// applied (httpGet path "/" and scheme HTTP), so that a manifest that spells
// out a default compares equal to one that leaves it implicit.
func handlerOf(p *corev1.Probe) corev1.ProbeHandler {
	h := p.ProbeHandler
	if h.HTTPGet != nil {
		g := *h.HTTPGet
		if g.Path == "" {
			g.Path = "/"
		}
		if g.Scheme == "" {
			g.Scheme = corev1.URISchemeHTTP
		}
		h.HTTPGet = &g
	}
	if h.GRPC != nil && h.GRPC.Service != nil && *h.GRPC.Service == "" {
		g := *h.GRPC
		g.Service = nil
		h.GRPC = &g
	}
	return h
}

// budget is how long after start a container that never answers survives
// the probe: the last of failureThreshold failures lands by then. It is
// computed in 64 bits: a huge failureThreshold means "wait forever".
func (t probeTiming) budget() int64 {
	return int64(t.InitialDelay) + int64(t.Period)*int64(t.Failure)
}

// namedProbe is one of a container's probes with its field name.
type namedProbe struct {
	field string // livenessProbe, readinessProbe or startupProbe
	kind  string // liveness, readiness or startup
	probe *corev1.Probe
}

func probesOf(c ContainerRef) []namedProbe {
	all := [...]namedProbe{
		{"livenessProbe", "liveness", c.LivenessProbe},
		{"readinessProbe", "readiness", c.ReadinessProbe},
		{"startupProbe", "startup", c.StartupProbe},
	}
	out := make([]namedProbe, 0, len(all))
	for _, p := range all {
		if p.probe != nil {
			out = append(out, p)
		}
	}
	return out
}

// containerProbe is one probe of one probed container.
type containerProbe struct {
	c ContainerRef
	namedProbe
}

// podProbes lists the probes of every container that may carry them, in
// container order. The list is built once per pod and shared: callers
// must not modify it.
func podProbes(p *Pod) []containerProbe {
	if p.probesDone {
		return p.probes
	}
	var out []containerProbe
	for _, c := range p.Containers() {
		if !c.Probed() {
			continue
		}
		for _, np := range probesOf(c) {
			out = append(out, containerProbe{c, np})
		}
	}
	p.probes, p.probesDone = out, true
	return out
}

// probePort is the port a network probe targets, with its sub-path.
type probePort struct {
	field string // e.g. httpGet.port
	port  intstr.IntOrString
	// remote is set when the probe names another host: its ports are not
	// the container's business.
	remote bool
}

func portOf(p *corev1.Probe) (probePort, bool) {
	switch {
	case p.HTTPGet != nil:
		return probePort{"httpGet.port", p.HTTPGet.Port, p.HTTPGet.Host != ""}, true
	case p.TCPSocket != nil:
		return probePort{"tcpSocket.port", p.TCPSocket.Port, p.TCPSocket.Host != ""}, true
	case p.GRPC != nil:
		return probePort{"grpc.port", intstr.FromInt32(p.GRPC.Port), false}, true
	}
	return probePort{}, false
}

// resolvePort follows the kubelet: a name is looked up in the container's
// own ports; a name that is not found but reads as a number is used as one.
func resolvePort(c ContainerRef, p intstr.IntOrString) (port int32, named, found bool) {
	if p.Type == intstr.Int {
		return p.IntVal, false, true
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, true, true
		}
	}
	if n, err := strconv.ParseInt(p.StrVal, 10, 32); err == nil {
		return int32(n), false, true
	}
	return 0, true, false
}

type livenessTooAggressive struct{ startup StartupDefaults }

func (livenessTooAggressive) ID() ID { return ProbeLivenessTooAggressive }

func (l livenessTooAggressive) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	for _, c := range p.Containers() {
		if !c.Probed() || (c.LivenessProbe == nil && c.StartupProbe == nil) {
			continue
		}
		// A startupProbe holds liveness off until it succeeds, and kills
		// the container itself when it gives up: it is the one that must
		// outlast the start. Without one, liveness must.
		guard, field, what := c.LivenessProbe, "livenessProbe", "liveness probe"
		if c.StartupProbe != nil {
			guard, field, what = c.StartupProbe, "startupProbe", "startup probe"
		}
		t := timingOf(guard)
		expected, why := l.startup.Expect(c, p.ExpectedStartup.For(c.Name))
		if t.budget() >= int64(expected) {
			continue
		}
		period := t.Period
		if period > 10 {
			period = 10
		}
		failures := (2*int32(expected) + period - 1) / period // expected <= 3600: no overflow
		msg := fmt.Sprintf("%s kills it if not up within %ds (%d + %ds x %d); %s ~%ds to start: restart loop",
			what, t.budget(), t.InitialDelay, t.Period, t.Failure, why, expected)
		fix := fmt.Sprintf("add a startupProbe with the liveness handler, periodSeconds: %d, failureThreshold: %d (%ds)",
			period, failures, period*failures)
		if c.StartupProbe != nil {
			fix = fmt.Sprintf("give the startupProbe periodSeconds: %d, failureThreshold: %d (%ds)", period, failures, period*failures)
			if period == t.Period { // never suggest what is already set
				fix = fmt.Sprintf("raise the startupProbe's failureThreshold to %d (%ds at periodSeconds %d)", failures, period*failures, period)
			}
		}
		out = append(out, c.Finding(ProbeLivenessTooAggressive, Warning, field, msg, fix))
	}
	return out, nil
}

type livenessEqualsReadiness struct{}

func (livenessEqualsReadiness) ID() ID { return ProbeLivenessEqualsReadines }

func (livenessEqualsReadiness) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	for _, c := range p.Containers() {
		l, r := c.LivenessProbe, c.ReadinessProbe
		if !c.Probed() || l == nil || r == nil {
			continue
		}
		if timingOf(l) != timingOf(r) || !mayBeSameHandler(handlerOf(l), handlerOf(r)) ||
			!equality.Semantic.DeepEqual(handlerOf(l), handlerOf(r)) {
			continue
		}
		sev, msg, ok := identicalProbesRisk(handlerOf(l))
		if !ok {
			continue
		}
		fail := timingOf(r).Failure
		out = append(out, c.Finding(ProbeLivenessEqualsReadines, sev, "livenessProbe", msg,
			fmt.Sprintf("give liveness a cheaper check of the process alone, or a failureThreshold above readiness's %d (e.g. %d)",
				fail, 2*fail)))
	}
	return out, nil
}

// mayBeSameHandler is false when two probe handlers certainly differ by
// a field cheap to compare (kind, HTTP path, port, command length), so that
// the reflective comparison runs only for handlers that may be the same:
// on every review, most pods' probes differ by their path.
func mayBeSameHandler(a, b corev1.ProbeHandler) bool {
	switch {
	case (a.HTTPGet == nil) != (b.HTTPGet == nil), (a.TCPSocket == nil) != (b.TCPSocket == nil),
		(a.Exec == nil) != (b.Exec == nil), (a.GRPC == nil) != (b.GRPC == nil):
		return false
	case a.HTTPGet != nil:
		return a.HTTPGet.Path == b.HTTPGet.Path && a.HTTPGet.Port == b.HTTPGet.Port
	case a.TCPSocket != nil:
		return a.TCPSocket.Port == b.TCPSocket.Port
	case a.Exec != nil:
		return len(a.Exec.Command) == len(b.Exec.Command)
	case a.GRPC != nil:
		return a.GRPC.Port == b.GRPC.Port
	}
	return true
}

// identicalProbesRisk says what identical liveness and readiness probes
// risk, by handler. Both fail at the same moment, so whatever makes the
// pod unready also restarts it. That matters only for a check that can fail
// while the process is sound:
//   - httpGet: readiness endpoints often check dependencies, and a busy
//     process answers late (timeoutSeconds defaults to 1 s): every pod is
//     restarted when a shared database is down or traffic peaks;
//   - exec: a new process in the container, slow to start under CPU
//     throttling, with the same 1 s timeout;
//   - grpc: the standard health service answers from a status the server
//     holds in memory; it fails when the server cannot answer at all, when
//     a restart is the remedy anyway: advice only;
//   - tcpSocket: the kernel completes the handshake from the listen queue
//     however busy the process is; a refused connection means nothing
//     listens, which a restart may cure: no risk, no finding.
func identicalProbesRisk(h corev1.ProbeHandler) (Severity, string, bool) {
	const what = "liveness and readiness probes are identical: "
	switch {
	case h.HTTPGet != nil:
		return Warning, what + "when the endpoint fails (a dependency down, a busy process) the pod is restarted, not only taken out of the Service", true
	case h.Exec != nil:
		return Warning, what + "when the command fails or times out under load the pod is restarted, not only taken out of the Service", true
	case h.GRPC != nil:
		return Info, what + "a server too busy to answer its health service is restarted, not only taken out of the Service", true
	}
	return Info, "", false
}

type portNotFound struct{}

func (portNotFound) ID() ID { return ProbePortNotFound }

func (portNotFound) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	for _, cp := range podProbes(p) {
		c, np := cp.c, cp.namedProbe
		// The kubelet resolves a port name in the container's own ports
		// even when the probe names another host.
		pp, ok := portOf(np.probe)
		if !ok {
			continue
		}
		if _, named, found := resolvePort(c, pp.port); found || !named {
			continue
		}
		sev, effect := Error, "the pod is never Ready"
		switch np.kind {
		case "liveness":
			sev, effect = Warning, "the probe errors, so liveness is silently off"
		case "startup":
			effect = "never started, never Ready"
		}
		f := c.Finding(ProbePortNotFound, sev, np.field+"."+pp.field,
			fmt.Sprintf("%s probe port %q is not declared by the container: %s", np.kind, pp.port.StrVal, effect),
			portNameFix(c, pp.port.StrVal))
		if np.kind == "liveness" {
			f.Outcome = NoOutcome // liveness silently off: nothing to see at start-up
		}
		out = append(out, f)
	}
	return out, nil
}

func portNameFix(c ContainerRef, name string) string {
	var names []string
	for _, cp := range c.Ports {
		if cp.Name != "" {
			names = append(names, strconv.Quote(cp.Name))
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("declare it (ports: name: %s) or probe the port number", name)
	}
	sort.Strings(names)
	return fmt.Sprintf("use a declared port (%s) or declare %q", strings.Join(names, ", "), name)
}

type portNotDeclared struct{}

func (portNotDeclared) ID() ID { return ProbePortNotDeclared }

func (portNotDeclared) Check(_ context.Context, p *Pod) ([]Finding, error) {
	// Probes reach the pod's IP, so a port declared by any container of the
	// pod (an auth proxy, say) is a deliberate target.
	podPorts := map[int32]bool{}
	for _, c := range p.Containers() {
		for _, cp := range c.Ports {
			podPorts[cp.ContainerPort] = true
		}
	}
	// Two probes of one container aimed at the same undeclared port (a
	// health port such as ingress-nginx's 10254) are deliberate, not a typo.
	type target struct {
		path string
		port int32
	}
	probesOn := map[target]int{}
	for _, cp := range podProbes(p) {
		if pp, ok := portOf(cp.probe); ok && !pp.remote {
			if port, named, found := resolvePort(cp.c, pp.port); !named && found {
				probesOn[target{cp.c.Path, port}]++
			}
		}
	}
	var out []Finding
	for _, cp := range podProbes(p) {
		c, np := cp.c, cp.namedProbe
		pp, ok := portOf(np.probe)
		if !ok || pp.remote {
			continue
		}
		port, named, found := resolvePort(c, pp.port)
		if named || !found || podPorts[port] {
			continue
		}
		if probesOn[target{c.Path, port}] > 1 {
			out = append(out, c.Finding(ProbePortNotDeclared, Info, np.field+"."+pp.field,
				fmt.Sprintf("%s probe port %d is not among the container's ports; other probes use it too, so it looks deliberate", np.kind, port),
				fmt.Sprintf("declare containerPort: %d so the probes' target is explicit", port)))
			continue
		}
		if len(c.Ports) == 0 {
			out = append(out, c.Finding(ProbePortNotDeclared, Info, np.field+"."+pp.field,
				fmt.Sprintf("%s probe port %d: the container declares no ports", np.kind, port),
				fmt.Sprintf("declare containerPort: %d so the probe's target is explicit", port)))
			continue
		}
		var declared []string
		near := int32(0)
		for _, cp := range c.Ports {
			declared = append(declared, strconv.Itoa(int(cp.ContainerPort)))
			if near == 0 && oneSlipApart(strconv.Itoa(int(port)), strconv.Itoa(int(cp.ContainerPort))) {
				near = cp.ContainerPort
			}
		}
		effect := "restart loop if nothing listens there"
		if np.kind != "liveness" {
			effect = "never Ready if nothing listens there"
		}
		// Declaring ports is documentation: an admin or metrics port often
		// goes undeclared. A port one keystroke from a declared one is
		// likely a slip; any other is only worth a look.
		if near == 0 {
			out = append(out, c.Finding(ProbePortNotDeclared, Info, np.field+"."+pp.field,
				fmt.Sprintf("%s probe port %d is not among the container's ports (%s): %s",
					np.kind, port, strings.Join(declared, ", "), effect),
				fmt.Sprintf("declare containerPort: %d so the probe's target is explicit", port)))
			continue
		}
		out = append(out, c.Finding(ProbePortNotDeclared, Warning, np.field+"."+pp.field,
			fmt.Sprintf("%s probe port %d is not among the container's ports (%s) but one keystroke from %d: %s",
				np.kind, port, strings.Join(declared, ", "), near, effect),
			fmt.Sprintf("probe port %d, or declare containerPort: %d if the app listens there", near, port)))
	}
	return out, nil
}

type timeoutExceedsPeriod struct{}

func (timeoutExceedsPeriod) ID() ID { return ProbeTimeoutExceedsPeriod }

func (timeoutExceedsPeriod) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	for _, cp := range podProbes(p) {
		c, np := cp.c, cp.namedProbe
		t := timingOf(np.probe)
		if t.Timeout < t.Period {
			continue
		}
		out = append(out, c.Finding(ProbeTimeoutExceedsPeriod, Info, np.field+".timeoutSeconds",
			fmt.Sprintf("%s probe timeoutSeconds %d >= periodSeconds %d: a slow probe runs less often than set",
				np.kind, t.Timeout, t.Period),
			timeoutFix(t)))
	}
	return out, nil
}

// oneSlipApart reports whether two port numbers differ by one keystroke:
// one digit changed, added or dropped, or two neighbours swapped.
func oneSlipApart(a, b string) bool {
	if a == b {
		return false
	}
	switch len(a) - len(b) {
	case 0:
		diff := []int{}
		for i := range len(a) {
			if a[i] != b[i] {
				diff = append(diff, i)
			}
		}
		if len(diff) == 1 {
			return true
		}
		return len(diff) == 2 && diff[1] == diff[0]+1 && a[diff[0]] == b[diff[1]] && a[diff[1]] == b[diff[0]]
	case 1:
		a, b = b, a
		fallthrough
	case -1: // b is a with one digit added
		for i := range len(b) {
			if b[:i]+b[i+1:] == a {
				return true
			}
		}
	}
	return false
}

// timeoutFix suggests a timeout below the period, or, when the period is
// already the shortest (1 s, and a timeout cannot be shorter), a longer
// period.
func timeoutFix(t probeTiming) string {
	if t.Period < 2 {
		return fmt.Sprintf("set periodSeconds above timeoutSeconds, e.g. periodSeconds: %d", t.Timeout+1)
	}
	return fmt.Sprintf("set timeoutSeconds below periodSeconds, e.g. timeoutSeconds: %d", t.Period/2)
}
