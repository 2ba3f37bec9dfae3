package policy

import (
	"math"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestTimingOfDefaults(t *testing.T) {
	tests := []struct {
		name   string
		p      corev1.Probe
		want   probeTiming
		budget int64
	}{
		{"all zero gets the API server defaults", corev1.Probe{},
			probeTiming{InitialDelay: 0, Period: 10, Timeout: 1, Success: 1, Failure: 3}, 30},
		{"negative values get the defaults", corev1.Probe{PeriodSeconds: -1, TimeoutSeconds: -1, SuccessThreshold: -1, FailureThreshold: -1},
			probeTiming{Period: 10, Timeout: 1, Success: 1, Failure: 3}, 30},
		{"explicit values are kept", corev1.Probe{InitialDelaySeconds: 20, PeriodSeconds: 5, TimeoutSeconds: 3, SuccessThreshold: 2, FailureThreshold: 6},
			probeTiming{InitialDelay: 20, Period: 5, Timeout: 3, Success: 2, Failure: 6}, 50},
		{"initial delay only", corev1.Probe{InitialDelaySeconds: 15},
			probeTiming{InitialDelay: 15, Period: 10, Timeout: 1, Success: 1, Failure: 3}, 45},
		{"failure threshold only", corev1.Probe{FailureThreshold: 1},
			probeTiming{Period: 10, Timeout: 1, Success: 1, Failure: 1}, 10},
		{"period only", corev1.Probe{PeriodSeconds: 2},
			probeTiming{Period: 2, Timeout: 1, Success: 1, Failure: 3}, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			got := timingOf(&p)
			if got != tc.want {
				t.Errorf("timingOf = %+v, want %+v", got, tc.want)
			}
			if b := got.budget(); b != tc.budget {
				t.Errorf("budget = %d, want %d", b, tc.budget)
			}
		})
	}
}

func TestLivenessTooAggressive(t *testing.T) {
	const jvmImage = "eclipse-temurin:21"
	const goImage = "registry.example.com/shop/api:1.4.2"
	liveness := func() *corev1.Probe { return httpProbe("/healthz", port(8080)) }
	app := func(image string, mod func(*corev1.Container)) corev1.Container {
		c := corev1.Container{Name: "app", Image: image, LivenessProbe: liveness()}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	one := func(c corev1.Container) corev1.PodSpec { return corev1.PodSpec{Containers: []corev1.Container{c}} }
	live := tmpl + ".containers[0].livenessProbe"
	start := tmpl + ".containers[0].startupProbe"

	tests := []struct {
		name     string
		spec     corev1.PodSpec
		declared int // Pod.ExpectedStartupSeconds
		opts     Options
		want     []want
	}{
		// JVM recognised in the different ways, default liveness (30 s) < 40 s.
		{name: "jvm image, default liveness", spec: one(app(jvmImage, nil)), want: []want{{Warning, live, "app"}}},
		{name: "java -jar command", spec: one(app(goImage, func(c *corev1.Container) {
			c.Command = []string{"java", "-jar", "app.jar"}
		})), want: []want{{Warning, live, "app"}}},
		{name: "sh -c exec java -jar", spec: one(app(goImage, func(c *corev1.Container) {
			c.Command = []string{"sh", "-c", "exec java -jar app.jar"}
		})), want: []want{{Warning, live, "app"}}},
		{name: "JAVA_TOOL_OPTIONS env", spec: one(app(goImage, func(c *corev1.Container) {
			c.Env = env("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75")
		})), want: []want{{Warning, live, "app"}}},
		{name: "javascript image is not a JVM", spec: one(app("ghcr.io/acme/javascript-app:1", nil))},

		// The budget around the JVM's 40 s.
		{name: "budget 39 below 40", spec: one(app(jvmImage, func(c *corev1.Container) { timed(c.LivenessProbe, 9, 0, 0) })),
			want: []want{{Warning, live, "app"}}},
		{name: "budget 40 equals expected", spec: one(app(jvmImage, func(c *corev1.Container) { timed(c.LivenessProbe, 10, 0, 0) }))},
		{name: "budget 41 above expected", spec: one(app(jvmImage, func(c *corev1.Container) { timed(c.LivenessProbe, 11, 0, 0) }))},
		{name: "period 5 x failure 8 = 40", spec: one(app(jvmImage, func(c *corev1.Container) { timed(c.LivenessProbe, 0, 5, 8) }))},
		{name: "period 5 x failure 7 = 35", spec: one(app(jvmImage, func(c *corev1.Container) { timed(c.LivenessProbe, 0, 5, 7) })),
			want: []want{{Warning, live, "app"}}},
		{name: "too short startupProbe without liveness", spec: one(app(jvmImage, func(c *corev1.Container) {
			c.LivenessProbe = nil
			c.StartupProbe = timed(httpProbe("/up", port(8080)), 0, 2, 3)
		})), want: []want{{Warning, tmpl + ".containers[0].startupProbe", "app"}}},
		{name: "generous liveness on a JVM", spec: one(app(jvmImage, func(c *corev1.Container) { timed(c.LivenessProbe, 60, 10, 3) }))},

		// Declared start time.
		{name: "declared 60 on a Go app", spec: one(app(goImage, nil)), declared: 60, want: []want{{Warning, live, "app"}}},
		{name: "declared 20 on a JVM lowers the expectation", spec: one(app(jvmImage, nil)), declared: 20},
		{name: "declared equal to the budget", spec: one(app(jvmImage, nil)), declared: 30},
		{name: "declared one above the budget", spec: one(app(goImage, nil)), declared: 31, want: []want{{Warning, live, "app"}}},

		// startupProbe.
		{name: "startup probe long enough", spec: one(app(jvmImage, func(c *corev1.Container) {
			c.StartupProbe = timed(httpProbe("/healthz", port(8080)), 0, 10, 6)
		}))},
		{name: "startup probe exactly long enough", spec: one(app(jvmImage, func(c *corev1.Container) {
			c.StartupProbe = timed(httpProbe("/healthz", port(8080)), 0, 5, 9)
		}))},
		{name: "startup probe too short", spec: one(app(jvmImage, func(c *corev1.Container) {
			c.StartupProbe = httpProbe("/healthz", port(8080)) // default 30 s
		})), want: []want{{Warning, start, "app"}}},
		{name: "startup probe too short even with a generous liveness", spec: one(app(jvmImage, func(c *corev1.Container) {
			timed(c.LivenessProbe, 120, 10, 3)
			c.StartupProbe = timed(tcpProbe(port(8080)), 0, 2, 10)
		})), want: []want{{Warning, start, "app"}}},
		{name: "startup probe against a declared time", spec: one(app(goImage, func(c *corev1.Container) {
			c.StartupProbe = timed(httpProbe("/healthz", port(8080)), 0, 10, 10)
		})), declared: 120, want: []want{{Warning, start, "app"}}},
		{name: "huge startup failureThreshold allows forever", spec: one(app(jvmImage, func(c *corev1.Container) {
			c.StartupProbe = timed(httpProbe("/healthz", port(8080)), 0, 10, math.MaxInt32)
		}))},

		// Options.Startup overrides the table.
		{name: "options lower the JVM default", spec: one(app(jvmImage, nil)), opts: Options{Startup: StartupDefaults{RuntimeJVM: 20}}},
		{name: "options raise the default of other apps", spec: one(app(goImage, nil)),
			opts: Options{Startup: StartupDefaults{RuntimeOther: 60}}, want: []want{{Warning, live, "app"}}},
		{name: "declared beats options", spec: one(app(goImage, nil)), declared: 10,
			opts: Options{Startup: StartupDefaults{RuntimeOther: 60}}},

		// Other runtimes and no runtime.
		{name: "go app, default liveness", spec: one(app(goImage, nil))},
		{name: "unknown app, aggressive liveness 1 x 3 = 3 below 5", spec: one(app(goImage, func(c *corev1.Container) { timed(c.LivenessProbe, 0, 1, 3) })),
			want: []want{{Warning, live, "app"}}},
		{name: "ruby app, default liveness", spec: one(app("ruby:3.3", nil))},
		{name: "ruby app, 15 s budget below 20", spec: one(app("ruby:3.3", func(c *corev1.Container) { timed(c.LivenessProbe, 0, 5, 3) })),
			want: []want{{Warning, live, "app"}}},
		{name: "python app, 9 s budget below 10", spec: one(app("python:3.12", func(c *corev1.Container) { timed(c.LivenessProbe, 0, 3, 3) })),
			want: []want{{Warning, live, "app"}}},

		// Which containers are probed.
		{name: "no liveness probe", spec: one(app(jvmImage, func(c *corev1.Container) {
			c.LivenessProbe, c.ReadinessProbe = nil, httpProbe("/ready", port(8080))
		}))},
		{name: "regular init container is not probed", spec: corev1.PodSpec{
			InitContainers: []corev1.Container{app(jvmImage, func(c *corev1.Container) { c.Name = "init" })},
			Containers:     []corev1.Container{{Name: "app", Image: goImage}},
		}},
		{name: "sidecar init container is probed", spec: corev1.PodSpec{
			InitContainers: []corev1.Container{app(jvmImage, func(c *corev1.Container) { c.Name = "side"; c.RestartPolicy = &always })},
			Containers:     []corev1.Container{{Name: "app", Image: goImage}},
		}, want: []want{{Warning, tmpl + ".initContainers[0].livenessProbe", "side"}}},
		{name: "ephemeral container is not probed", spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: goImage}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: jvmImage, LivenessProbe: liveness()}}},
		}},
		{name: "only the JVM container of two", spec: corev1.PodSpec{Containers: []corev1.Container{
			app(goImage, func(c *corev1.Container) { c.Name = "proxy" }),
			app(jvmImage, func(c *corev1.Container) { c.Name = "api" }),
		}}, want: []want{{Warning, tmpl + ".containers[1].livenessProbe", "api"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := podOf(tc.spec)
			p.ExpectedStartup = ExpectedStartup{All: tc.declared}
			runAndAssert(t, tc.opts, ProbeLivenessTooAggressive, p, tc.want)
		})
	}
}

func TestLivenessTooAggressivePodPath(t *testing.T) {
	p := &Pod{Path: "spec", Spec: &corev1.PodSpec{Containers: []corev1.Container{{
		Name: "app", Image: "eclipse-temurin:21", LivenessProbe: httpProbe("/", port(8080))}}}}
	runAndAssert(t, Options{}, ProbeLivenessTooAggressive, p, []want{{Warning, "spec.containers[0].livenessProbe", "app"}})
}

func TestLivenessEqualsReadiness(t *testing.T) {
	pair := func(l, r *corev1.Probe) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27", LivenessProbe: l, ReadinessProbe: r}}}
	}
	field := tmpl + ".containers[0].livenessProbe"
	withDefaults := func(p *corev1.Probe) *corev1.Probe {
		p.PeriodSeconds, p.TimeoutSeconds, p.FailureThreshold, p.SuccessThreshold = 10, 1, 3, 1
		return p
	}
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []want
	}{
		{name: "identical httpGet", spec: pair(httpProbe("/healthz", port(8080)), httpProbe("/healthz", port(8080))),
			want: []want{{Warning, field, "app"}}},
		{name: "identical with timing", spec: pair(timed(httpProbe("/healthz", port(8080)), 5, 5, 2), timed(httpProbe("/healthz", port(8080)), 5, 5, 2)),
			want: []want{{Warning, field, "app"}}},
		{name: "explicit defaults vs zero", spec: pair(withDefaults(httpProbe("/healthz", port(8080))), httpProbe("/healthz", port(8080))),
			want: []want{{Warning, field, "app"}}},
		{name: "zero vs explicit defaults", spec: pair(execProbe("cat", "/tmp/ok"), withDefaults(execProbe("cat", "/tmp/ok"))),
			want: []want{{Warning, field, "app"}}},
		// The kernel accepts a TCP connection however busy the process is.
		{name: "identical tcpSocket", spec: pair(tcpProbe(named("http")), withDefaults(tcpProbe(named("http"))))},
		{name: "identical exec", spec: pair(execProbe("cat", "/tmp/ok"), execProbe("cat", "/tmp/ok")),
			want: []want{{Warning, field, "app"}}},
		{name: "identical grpc", spec: pair(grpcProbe(9000), grpcProbe(9000)), want: []want{{Info, field, "app"}}},
		{name: "different failureThreshold", spec: pair(timed(httpProbe("/healthz", port(8080)), 0, 0, 6), httpProbe("/healthz", port(8080)))},
		{name: "different periodSeconds", spec: pair(timed(httpProbe("/healthz", port(8080)), 0, 20, 0), httpProbe("/healthz", port(8080)))},
		{name: "different initialDelaySeconds", spec: pair(timed(httpProbe("/healthz", port(8080)), 30, 0, 0), httpProbe("/healthz", port(8080)))},
		{name: "different timeoutSeconds", spec: func() corev1.PodSpec {
			l := httpProbe("/healthz", port(8080))
			l.TimeoutSeconds = 5
			return pair(l, httpProbe("/healthz", port(8080)))
		}()},
		{name: "different path", spec: pair(httpProbe("/livez", port(8080)), httpProbe("/readyz", port(8080)))},
		{name: "different port", spec: pair(httpProbe("/healthz", port(8080)), httpProbe("/healthz", port(8081)))},
		{name: "different handler type", spec: pair(tcpProbe(port(8080)), httpProbe("/", port(8080)))},
		{name: "only liveness", spec: pair(httpProbe("/healthz", port(8080)), nil)},
		{name: "only readiness", spec: pair(nil, httpProbe("/healthz", port(8080)))},
		{name: "empty vs nil headers are the same", spec: func() corev1.PodSpec {
			l, r := httpProbe("/healthz", port(8080)), httpProbe("/healthz", port(8080))
			l.HTTPGet.HTTPHeaders = []corev1.HTTPHeader{}
			return pair(l, r)
		}(), want: []want{{Warning, field, "app"}}},
		{name: "omitted scheme and path vs their API server defaults", spec: func() corev1.PodSpec {
			l := httpProbe("", port(8080))
			r := httpProbe("/", port(8080))
			r.HTTPGet.Scheme = corev1.URISchemeHTTP
			return pair(l, r)
		}(), want: []want{{Warning, field, "app"}}},
		{name: "sidecar init container", spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "side", Image: "envoy", RestartPolicy: &always,
				LivenessProbe: httpProbe("/ready", port(9901)), ReadinessProbe: httpProbe("/ready", port(9901))}},
			Containers: []corev1.Container{{Name: "app", Image: "nginx"}},
		}, want: []want{{Warning, tmpl + ".initContainers[0].livenessProbe", "side"}}},
		{name: "regular init container is ignored", spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox",
				LivenessProbe: httpProbe("/ready", port(9901)), ReadinessProbe: httpProbe("/ready", port(9901))}},
			Containers: []corev1.Container{{Name: "app", Image: "nginx"}},
		}},
		{name: "second container only", spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "a", Image: "nginx", LivenessProbe: httpProbe("/l", port(80)), ReadinessProbe: httpProbe("/r", port(80))},
			{Name: "b", Image: "nginx", LivenessProbe: httpProbe("/h", port(80)), ReadinessProbe: httpProbe("/h", port(80))},
		}}, want: []want{{Warning, tmpl + ".containers[1].livenessProbe", "b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runAndAssert(t, Options{}, ProbeLivenessEqualsReadines, podOf(tc.spec), tc.want)
		})
	}
}

func TestPortNotFound(t *testing.T) {
	c := func(mod func(*corev1.Container)) corev1.Container {
		c := corev1.Container{Name: "app", Image: "nginx:1.27", Ports: ports(cport("web", 8080), cport("metrics", 9090))}
		mod(&c)
		return c
	}
	one := func(mod func(*corev1.Container)) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{c(mod)}}
	}
	base := tmpl + ".containers[0]."
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []want
	}{
		{"readiness named port missing", one(func(c *corev1.Container) { c.ReadinessProbe = httpProbe("/ready", named("http")) }),
			[]want{{Error, base + "readinessProbe.httpGet.port", "app"}}},
		{"startup tcp named port missing", one(func(c *corev1.Container) { c.StartupProbe = tcpProbe(named("http")) }),
			[]want{{Error, base + "startupProbe.tcpSocket.port", "app"}}},
		{"liveness named port missing", one(func(c *corev1.Container) { c.LivenessProbe = httpProbe("/live", named("http")) }),
			[]want{{Warning, base + "livenessProbe.httpGet.port", "app"}}},
		{"liveness tcp named port missing", one(func(c *corev1.Container) { c.LivenessProbe = tcpProbe(named("admin")) }),
			[]want{{Warning, base + "livenessProbe.tcpSocket.port", "app"}}},
		{"all three probes, in order", one(func(c *corev1.Container) {
			c.StartupProbe = httpProbe("/", named("a"))
			c.ReadinessProbe = httpProbe("/", named("b"))
			c.LivenessProbe = httpProbe("/", named("c"))
		}), []want{
			{Warning, base + "livenessProbe.httpGet.port", "app"},
			{Error, base + "readinessProbe.httpGet.port", "app"},
			{Error, base + "startupProbe.httpGet.port", "app"},
		}},
		{"declared name", one(func(c *corev1.Container) {
			c.ReadinessProbe = httpProbe("/ready", named("web"))
			c.LivenessProbe = tcpProbe(named("metrics"))
			c.StartupProbe = httpProbe("/", named("web"))
		}), nil},
		{"port names are case-sensitive", one(func(c *corev1.Container) { c.ReadinessProbe = httpProbe("/ready", named("WEB")) }),
			[]want{{Error, base + "readinessProbe.httpGet.port", "app"}}},
		{"numeric string", one(func(c *corev1.Container) { c.ReadinessProbe = httpProbe("/ready", named("8080")) }), nil},
		{"numeric string not declared is not this check's business", one(func(c *corev1.Container) {
			c.LivenessProbe = httpProbe("/ready", named("7000"))
		}), nil},
		{"int port", one(func(c *corev1.Container) { c.ReadinessProbe = httpProbe("/ready", port(1234)) }), nil},
		// The kubelet resolves a port name in the container's own ports even
		// when the probe targets another host.
		{"httpGet host set, name missing", one(func(c *corev1.Container) {
			c.ReadinessProbe = httpProbe("/ready", named("http"))
			c.ReadinessProbe.HTTPGet.Host = "auth.example.com"
		}), []want{{Error, base + "readinessProbe.httpGet.port", "app"}}},
		{"tcpSocket host set, name missing", one(func(c *corev1.Container) {
			c.StartupProbe = tcpProbe(named("db"))
			c.StartupProbe.TCPSocket.Host = "db.example.com"
		}), []want{{Error, base + "startupProbe.tcpSocket.port", "app"}}},
		{"httpGet host set, name declared", one(func(c *corev1.Container) {
			c.ReadinessProbe = httpProbe("/ready", named("web"))
			c.ReadinessProbe.HTTPGet.Host = "auth.example.com"
		}), nil},
		{"exec and grpc probes have no named port", one(func(c *corev1.Container) {
			c.ReadinessProbe = execProbe("true")
			c.LivenessProbe = grpcProbe(9000)
		}), nil},
		{"name declared only by another container", corev1.PodSpec{Containers: []corev1.Container{
			{Name: "app", Image: "nginx", ReadinessProbe: httpProbe("/", named("proxy"))},
			{Name: "proxy", Image: "envoy", Ports: ports(cport("proxy", 8443))},
		}}, []want{{Error, base + "readinessProbe.httpGet.port", "app"}}},
		{"sidecar init container", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "side", Image: "envoy", RestartPolicy: &always, ReadinessProbe: httpProbe("/", named("admin"))}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx"}},
		}, []want{{Error, tmpl + ".initContainers[0].readinessProbe.httpGet.port", "side"}}},
		{"regular init container", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox", ReadinessProbe: httpProbe("/", named("admin"))}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx"}},
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runAndAssert(t, Options{}, ProbePortNotFound, podOf(tc.spec), tc.want)
		})
	}
}

func TestPortNotDeclared(t *testing.T) {
	withPorts := func(ps []corev1.ContainerPort, mod func(*corev1.Container)) corev1.PodSpec {
		c := corev1.Container{Name: "app", Image: "nginx:1.27", Ports: ps}
		mod(&c)
		return corev1.PodSpec{Containers: []corev1.Container{c}}
	}
	web := ports(cport("web", 8080))
	base := tmpl + ".containers[0]."
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []want
	}{
		{"liveness on an undeclared port", withPorts(web, func(c *corev1.Container) { c.LivenessProbe = httpProbe("/", port(8081)) }),
			[]want{{Warning, base + "livenessProbe.httpGet.port", "app"}}},
		{"liveness on an unrelated undeclared port", withPorts(web, func(c *corev1.Container) { c.LivenessProbe = httpProbe("/", port(9090)) }),
			[]want{{Info, base + "livenessProbe.httpGet.port", "app"}}},
		{"readiness on an undeclared port", withPorts(web, func(c *corev1.Container) { c.ReadinessProbe = tcpProbe(port(8008)) }),
			[]want{{Warning, base + "readinessProbe.tcpSocket.port", "app"}}},
		{"startup on an undeclared port", withPorts(web, func(c *corev1.Container) { c.StartupProbe = httpProbe("/", port(808)) }),
			[]want{{Warning, base + "startupProbe.httpGet.port", "app"}}},
		{"container declares no ports", withPorts(nil, func(c *corev1.Container) { c.LivenessProbe = httpProbe("/", port(8080)) }),
			[]want{{Info, base + "livenessProbe.httpGet.port", "app"}}},
		{"declared port", withPorts(web, func(c *corev1.Container) {
			c.LivenessProbe = httpProbe("/", port(8080))
			c.ReadinessProbe = tcpProbe(port(8080))
		}), nil},
		{"grpc port undeclared", withPorts(web, func(c *corev1.Container) { c.LivenessProbe = grpcProbe(8180) }),
			[]want{{Warning, base + "livenessProbe.grpc.port", "app"}}},
		{"grpc port undeclared, no ports", withPorts(nil, func(c *corev1.Container) { c.ReadinessProbe = grpcProbe(9000) }),
			[]want{{Info, base + "readinessProbe.grpc.port", "app"}}},
		{"grpc port declared", withPorts(ports(cport("grpc", 9000)), func(c *corev1.Container) { c.LivenessProbe = grpcProbe(9000) }), nil},
		{"named port resolving to a declared port", withPorts(web, func(c *corev1.Container) { c.LivenessProbe = httpProbe("/", named("web")) }), nil},
		{"named port not found is left to port-not-found", withPorts(web, func(c *corev1.Container) { c.LivenessProbe = httpProbe("/", named("http")) }), nil},
		{"numeric string undeclared", withPorts(web, func(c *corev1.Container) { c.ReadinessProbe = httpProbe("/", named("18080")) }),
			[]want{{Warning, base + "readinessProbe.httpGet.port", "app"}}},
		{"numeric string declared", withPorts(web, func(c *corev1.Container) { c.ReadinessProbe = httpProbe("/", named("8080")) }), nil},
		{"httpGet host set", withPorts(web, func(c *corev1.Container) {
			c.LivenessProbe = httpProbe("/", port(9090))
			c.LivenessProbe.HTTPGet.Host = "10.0.0.1"
		}), nil},
		{"exec probe", withPorts(web, func(c *corev1.Container) { c.LivenessProbe = execProbe("true") }), nil},
		{"port declared by another container of the pod", corev1.PodSpec{Containers: []corev1.Container{
			{Name: "app", Image: "nginx", Ports: web, LivenessProbe: httpProbe("/", port(8443))},
			{Name: "proxy", Image: "envoy", Ports: ports(cport("https", 8443))},
		}}, nil},
		{"port declared by a sidecar, probed container declares none", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "proxy", Image: "envoy", RestartPolicy: &always, Ports: ports(cport("", 15020))}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx", ReadinessProbe: httpProbe("/", port(15020))}},
		}, nil},
		{"sidecar init container probes an undeclared port", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "side", Image: "envoy", RestartPolicy: &always, Ports: ports(cport("admin", 9901)),
				LivenessProbe: tcpProbe(port(9902))}},
			Containers: []corev1.Container{{Name: "app", Image: "nginx"}},
		}, []want{{Warning, tmpl + ".initContainers[0].livenessProbe.tcpSocket.port", "side"}}},
		{"regular init container is ignored", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox", LivenessProbe: tcpProbe(port(9902))}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx"}},
		}, nil},
		{"two containers, second one wrong", corev1.PodSpec{Containers: []corev1.Container{
			{Name: "a", Image: "nginx", Ports: ports(cport("", 80)), LivenessProbe: httpProbe("/", port(80))},
			{Name: "b", Image: "nginx", Ports: ports(cport("", 81)), LivenessProbe: httpProbe("/", port(82)), ReadinessProbe: httpProbe("/", port(81))},
		}}, []want{{Warning, tmpl + ".containers[1].livenessProbe.httpGet.port", "b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runAndAssert(t, Options{}, ProbePortNotDeclared, podOf(tc.spec), tc.want)
		})
	}
}

func TestTimeoutExceedsPeriod(t *testing.T) {
	probe := func(timeout, period int32) *corev1.Probe {
		p := httpProbe("/", port(8080))
		p.TimeoutSeconds, p.PeriodSeconds = timeout, period
		return p
	}
	one := func(mod func(*corev1.Container)) corev1.PodSpec {
		c := corev1.Container{Name: "app", Image: "nginx:1.27"}
		mod(&c)
		return corev1.PodSpec{Containers: []corev1.Container{c}}
	}
	base := tmpl + ".containers[0]."
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []want
	}{
		{"timeout 5 above period 2", one(func(c *corev1.Container) { c.LivenessProbe = probe(5, 2) }),
			[]want{{Info, base + "livenessProbe.timeoutSeconds", "app"}}},
		{"timeout equal to period", one(func(c *corev1.Container) { c.ReadinessProbe = probe(5, 5) }),
			[]want{{Info, base + "readinessProbe.timeoutSeconds", "app"}}},
		{"default timeout with period 1", one(func(c *corev1.Container) { c.StartupProbe = probe(0, 1) }),
			[]want{{Info, base + "startupProbe.timeoutSeconds", "app"}}},
		{"timeout 10 with default period", one(func(c *corev1.Container) { c.LivenessProbe = probe(10, 0) }),
			[]want{{Info, base + "livenessProbe.timeoutSeconds", "app"}}},
		{"timeout 9 with default period", one(func(c *corev1.Container) { c.LivenessProbe = probe(9, 0) }), nil},
		{"timeout below period", one(func(c *corev1.Container) { c.LivenessProbe = probe(1, 2) }), nil},
		{"all defaults", one(func(c *corev1.Container) { c.LivenessProbe = probe(0, 0) }), nil},
		{"all three probes", one(func(c *corev1.Container) {
			c.LivenessProbe, c.ReadinessProbe, c.StartupProbe = probe(3, 3), probe(1, 5), probe(4, 2)
		}), []want{
			{Info, base + "livenessProbe.timeoutSeconds", "app"},
			{Info, base + "startupProbe.timeoutSeconds", "app"},
		}},
		{"sidecar init container", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "side", Image: "envoy", RestartPolicy: &always, LivenessProbe: probe(5, 2)}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx"}},
		}, []want{{Info, tmpl + ".initContainers[0].livenessProbe.timeoutSeconds", "side"}}},
		{"regular init container", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox", LivenessProbe: probe(5, 2)}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx"}},
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runAndAssert(t, Options{}, ProbeTimeoutExceedsPeriod, podOf(tc.spec), tc.want)
		})
	}
}

func TestOneSlipApart(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"8080", "8081", true}, {"8080", "8008", true}, {"8080", "808", true}, {"808", "8080", true},
		{"8080", "18080", true}, {"8080", "8080", false}, {"8080", "9090", false}, {"8686", "9598", false},
		{"8080", "0808", false}, {"80", "8080", false},
	} {
		if got := oneSlipApart(tc.a, tc.b); got != tc.want {
			t.Errorf("oneSlipApart(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestFixesNeverRepeatWhatIsSet: a fix names a value other than the one the
// manifest already has.
func TestFixesNeverRepeatWhatIsSet(t *testing.T) {
	if got := timeoutFix(probeTiming{Period: 1, Timeout: 1}); strings.Contains(got, "timeoutSeconds: 1") || !strings.Contains(got, "periodSeconds: 2") {
		t.Errorf("period 1, timeout 1: fix %q", got)
	}
	if got := timeoutFix(probeTiming{Period: 10, Timeout: 10}); !strings.Contains(got, "timeoutSeconds: 5") {
		t.Errorf("period 10, timeout 10: fix %q", got)
	}
	// A startupProbe at the suggested period: only its failureThreshold
	// changes.
	startup := timed(httpProbe("/healthz", port(8080)), 0, 10, 3)
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/shop/api:1.0",
		StartupProbe: startup, LivenessProbe: httpProbe("/healthz", port(8080))}}}
	p := podOf(spec)
	p.ExpectedStartup = ExpectedStartup{All: 120}
	fs := run(t, Options{}, ProbeLivenessTooAggressive, p)
	if len(fs) != 1 {
		t.Fatalf("findings %+v, want one", fs)
	}
	if strings.Contains(fs[0].Fix, "periodSeconds: 10,") || !strings.Contains(fs[0].Fix, "failureThreshold to 24") {
		t.Errorf("fix %q repeats the period already set or misses the threshold", fs[0].Fix)
	}
}
