package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestMemoryLimitMissing(t *testing.T) {
	one := func(r corev1.ResourceRequirements) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27", Resources: r}}}
	}
	field := tmpl + ".containers[0].resources.limits.memory"
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []want
	}{
		{"no resources", one(corev1.ResourceRequirements{}), []want{{Info, field, "app"}}},
		{"pod-level memory limit", func() corev1.PodSpec {
			s := one(corev1.ResourceRequirements{})
			s.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
			return s
		}(), nil},
		{"memory request only", one(corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}}),
			[]want{{Info, field, "app"}}},
		{"cpu limit only", one(corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}),
			[]want{{Info, field, "app"}}},
		{"memory limit", one(memLimit("512Mi")), nil},
		{"memory and cpu limits", one(corev1.ResourceRequirements{Limits: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1G")}}), nil},
		{"init container without a limit", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "migrate", Image: "flyway/flyway:10"}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx", Resources: memLimit("256Mi")}},
		}, nil}, // runs to completion before the app starts
		{"sidecar without a limit", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "proxy", Image: "envoy", RestartPolicy: &always}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx", Resources: memLimit("256Mi")}},
		}, []want{{Info, tmpl + ".initContainers[0].resources.limits.memory", "proxy"}}},
		{"ephemeral containers never", corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "nginx", Resources: memLimit("256Mi")}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox"}}},
		}, nil},
		{"every container missing, init first", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "a", Image: "nginx", Resources: memLimit("1Gi")}, {Name: "b", Image: "nginx"}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox"}}},
		}, []want{
			{Info, tmpl + ".containers[1].resources.limits.memory", "b"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runAndAssert(t, Options{}, ResourcesMemoryLimitMissing, podOf(tc.spec), tc.want)
		})
	}
}

func TestHeapExceedsLimit(t *testing.T) {
	// jvm is a JVM container with a memory limit; mod adds the heap settings.
	ctr := func(limit string, mod func(*corev1.Container)) corev1.Container {
		c := corev1.Container{Name: "app", Image: "eclipse-temurin:21", Command: []string{"java"}}
		if limit != "" {
			c.Resources = memLimit(limit)
		}
		mod(&c)
		return c
	}
	one := func(limit string, mod func(*corev1.Container)) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{ctr(limit, mod)}}
	}
	args := func(a ...string) func(*corev1.Container) {
		return func(c *corev1.Container) { c.Args = a }
	}
	base := tmpl + ".containers[0]."
	hit := func(sub string) []want { return []want{{Error, base + sub, "app"}} }
	near := func(sub string) []want { return []want{{Warning, base + sub, "app"}} }
	maybe := near
	blind := func(sub string) []want { return []want{{Info, base + sub, "app"}} }

	tests := []struct {
		name string
		spec corev1.PodSpec
		want []want
	}{
		// JVM flags on the command line.
		{name: "-Xmx after -jar goes to the app", spec: one("1Gi", args("-Xmx512m", "-jar", "app.jar", "-Xmx2g")), want: nil},
		{name: "-Xmx after the main class goes to the app", spec: one("1Gi", args("-cp", "/app/lib/*", "com.example.Main", "-Xmx2g")), want: nil},
		{name: "-Xmx after -cp value is the JVM's", spec: one("1Gi", args("-cp", "/app/lib/*", "-Xmx2g", "com.example.Main")), want: hit("args[2]")},
		{name: "a second java in a shell script", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"sh", "-c", "java -jar /migrate.jar -Xmx4g && exec java -Xmx2g -jar /app.jar"}
		}), want: hit("command[2]")},
		{name: "pod-level limit bounds a container without one", spec: func() corev1.PodSpec {
			s := one("", args("-Xmx2g"))
			s.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
			return s
		}(), want: hit("args[0]")},
		{name: "-Xmx2g in args, 1Gi limit", spec: one("1Gi", args("-XX:+UseG1GC", "-Xmx2g", "-jar", "app.jar")), want: hit("args[1]")},
		{name: "-Xmx1024m equals 1Gi", spec: one("1Gi", args("-Xmx1024m", "-jar", "app.jar")), want: hit("args[0]")},
		{name: "-Xmx1g equals 1Gi", spec: one("1Gi", args("-Xmx1g")), want: hit("args[0]")},
		{name: "-Xmx1048576k equals 1Gi", spec: one("1Gi", args("-Xmx1048576k")), want: hit("args[0]")},
		{name: "-Xmx in bytes equals 1Gi", spec: one("1Gi", args("-Xmx1073741824")), want: hit("args[0]")},
		{name: "-Xmx in bytes one below 1Gi leaves no room", spec: one("1Gi", args("-Xmx1073741823")), want: near("args[0]")},
		{name: "-Xmx at 75% of 1Gi", spec: one("1Gi", args("-Xmx768m"))},
		{name: "-Xmx one MiB above 75% of 1Gi", spec: one("1Gi", args("-Xmx769m")), want: near("args[0]")},
		{name: "small limit keeps 64Mi for the JVM", spec: one("256Mi", args("-Xmx200m")), want: near("args[0]")},
		{name: "192Mi of 256Mi leaves 64Mi", spec: one("256Mi", args("-Xmx192m"))},
		{name: "128Mi limit keeps 64Mi", spec: one("128Mi", args("-Xmx80m")), want: near("args[0]")},
		{name: "node at 90% of the limit", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"node", "--max-old-space-size=920", "server.js"}
		}), want: near("command[1]")},
		{name: "node at 75% of the limit", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"node", "--max-old-space-size=768", "server.js"}
		})},
		{name: "GOMEMLIMIT at 95% of the limit", spec: one("1Gi", func(c *corev1.Container) { c.Env = env("GOMEMLIMIT", "972MiB") })},
		{name: "small limit, 160Mi of 256Mi", spec: one("256Mi", args("-Xmx160m"))},
		{name: "-Xmx768m below 1Gi", spec: one("1Gi", args("-Xmx768m", "-jar", "app.jar"))},
		{name: "-Xmx2G uppercase unit", spec: one("1Gi", args("-Xmx2G")), want: hit("args[0]")},
		{name: "-Xmx1t", spec: one("64Gi", args("-Xmx1t")), want: hit("args[0]")},
		{name: "-XX:MaxHeapSize=2g", spec: one("1Gi", args("-XX:MaxHeapSize=2g", "-jar", "app.jar")), want: hit("args[0]")},
		{name: "-XX:MaxHeapSize=512m", spec: one("1Gi", args("-XX:MaxHeapSize=512m"))},
		{name: "-Xmx1000m above a decimal 1G limit", spec: one("1G", args("-Xmx1000m")), want: hit("args[0]")},
		{name: "-Xmx900m below a decimal 1G limit leaves too little", spec: one("1G", args("-Xmx900m")), want: near("args[0]")},
		{name: "-Xmx700m below a decimal 1G limit", spec: one("1G", args("-Xmx700m"))},
		{name: "flag in command", spec: one("1Gi", func(c *corev1.Container) { c.Command = []string{"java", "-Xmx2g", "-jar", "app.jar"} }),
			want: hit("command[1]")},
		{name: "-Xms is not a ceiling", spec: one("1Gi", args("-Xms2g"))},
		{name: "MaxRAMPercentage is not an absolute ceiling", spec: one("1Gi", args("-XX:MaxRAMPercentage=75"))},
		{name: "malformed -Xmx is ignored", spec: one("1Gi", args("-Xmx2gb", "-Xmx", "-Xmx=2g"))},

		// The last -Xmx wins.
		{name: "last -Xmx wins, lower last", spec: one("1Gi", args("-Xmx2g", "-Xmx512m"))},
		{name: "last -Xmx wins, higher last", spec: one("1Gi", args("-Xmx512m", "-Xmx2g")), want: hit("args[1]")},
		{name: "last -Xmx within one string", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"sh", "-c", "java -Xmx512m -Xmx2g -jar app.jar"}
		}), want: hit("command[2]")},
		{name: "args come after command", spec: one("1Gi", func(c *corev1.Container) {
			c.Command, c.Args = []string{"java", "-Xmx2g"}, []string{"-Xmx512m", "-jar", "app.jar"}
		})},
		{name: "args override a lower command flag", spec: one("1Gi", func(c *corev1.Container) {
			c.Command, c.Args = []string{"java", "-Xmx512m"}, []string{"-Xmx2g", "-jar", "app.jar"}
		}), want: hit("args[0]")},
		{name: "-Xmx versus -XX:MaxHeapSize, last wins", spec: one("1Gi", args("-Xmx2g", "-XX:MaxHeapSize=512m"))},

		// Shell wrappers.
		{name: "sh -c java -Xmx2g", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"sh", "-c", "java -Xmx2g -jar app.jar"}
		}), want: hit("command[2]")},
		{name: "sh -c with the flag in args", spec: one("1Gi", func(c *corev1.Container) {
			c.Command, c.Args = []string{"/bin/sh", "-c"}, []string{"exec java -Xmx2g -jar /app/app.jar"}
		}), want: hit("args[0]")},
		{name: "quoted flag inside sh -c", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"sh", "-c", `exec java "-Xmx2g" '-Dx=y' -jar app.jar`}
		}), want: hit("command[2]")},

		// Environment.
		{name: "JAVA_TOOL_OPTIONS", spec: one("1Gi", func(c *corev1.Container) {
			c.Env = env("TZ", "UTC", "JAVA_TOOL_OPTIONS", "-XX:+UseG1GC -Xmx2g")
		}), want: hit("env[1].value")},
		{name: "JAVA_OPTS read by a launch script", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"/opt/app/bin/start.sh"}
			c.Env = env("JAVA_OPTS", "-Xmx1g")
		}), want: maybe("env[0].value")},
		{name: "JAVA_OPTS ignored when java runs directly", spec: one("1Gi", func(c *corev1.Container) {
			c.Args = []string{"-jar", "/app.jar"}
			c.Env = env("JAVA_OPTS", "-Xmx2g")
		})},
		{name: "JAVA_OPTS expanded by a shell line", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"sh", "-c", "exec java $JAVA_OPTS -jar /app.jar"}
			c.Env = env("JAVA_OPTS", "-Xmx2g")
		}), want: hit("env[0].value")},
		{name: "ES_JAVA_OPTS on an Elasticsearch image", spec: one("2Gi", func(c *corev1.Container) {
			c.Command = nil
			c.Env = env("ES_JAVA_OPTS", "-Xms2g -Xmx2g")
		}), want: blind("env[0].value")},
		{name: "node flag after the script goes to the script", spec: one("2Gi", func(c *corev1.Container) {
			c.Command = []string{"node", "dist/main.js", "--max-old-space-size=4096"}
		})},
		{name: "node flag before the script", spec: one("2Gi", func(c *corev1.Container) {
			c.Command = []string{"node", "--max-old-space-size", "4096", "dist/main.js"}
		}), want: hit("command[1]")},
		{name: "JDK_JAVA_OPTIONS", spec: one("1Gi", func(c *corev1.Container) { c.Env = env("JDK_JAVA_OPTIONS", "-Xmx3g") }), want: hit("env[0].value")},
		{name: "_JAVA_OPTIONS", spec: one("1Gi", func(c *corev1.Container) { c.Env = env("_JAVA_OPTIONS", "-Xmx2g") }), want: hit("env[0].value")},
		{name: "JAVA_TOOL_OPTIONS below the limit", spec: one("1Gi", func(c *corev1.Container) { c.Env = env("JAVA_TOOL_OPTIONS", "-Xmx512m") })},
		{name: "unrelated env var with -Xmx", spec: one("1Gi", func(c *corev1.Container) { c.Env = env("MY_FLAGS", "-Xmx2g") })},
		{name: "_JAVA_OPTIONS overrides the command line", spec: one("1Gi", func(c *corev1.Container) {
			c.Args = []string{"-Xmx2g", "-jar", "app.jar"}
			c.Env = env("_JAVA_OPTIONS", "-Xmx512m")
		})},
		{name: "_JAVA_OPTIONS raises the command line's heap", spec: one("1Gi", func(c *corev1.Container) {
			c.Args = []string{"-Xmx512m", "-jar", "app.jar"}
			c.Env = env("LANG", "C", "_JAVA_OPTIONS", "-Xmx2g")
		}), want: hit("env[1].value")},
		{name: "_JAVA_OPTIONS without -Xmx leaves the command line's", spec: one("1Gi", func(c *corev1.Container) {
			c.Args = []string{"-Xmx2g", "-jar", "app.jar"}
			c.Env = env("_JAVA_OPTIONS", "-Dfile.encoding=UTF-8")
		}), want: hit("args[0]")},
		{name: "command line overrides JAVA_TOOL_OPTIONS", spec: one("1Gi", func(c *corev1.Container) {
			c.Args = []string{"-Xmx512m", "-jar", "app.jar"}
			c.Env = env("JAVA_TOOL_OPTIONS", "-Xmx2g")
		})},
		{name: "command line above a lower JAVA_TOOL_OPTIONS", spec: one("1Gi", func(c *corev1.Container) {
			c.Args = []string{"-Xmx2g", "-jar", "app.jar"}
			c.Env = env("JAVA_TOOL_OPTIONS", "-Xmx512m")
		}), want: hit("args[0]")},
		{name: "JAVA_OPTS after JAVA_TOOL_OPTIONS", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"/docker-entrypoint.sh"}
			c.Env = env("JAVA_OPTS", "-Xmx2g", "JAVA_TOOL_OPTIONS", "-Xmx512m")
		}), want: maybe("env[0].value")},
		{name: "catalina.sh reads CATALINA_OPTS", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"catalina.sh", "run"}
			c.Env = env("CATALINA_OPTS", "-Xmx1g")
		}), want: hit("env[0].value")},
		{name: "a shell line expanding another variable", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"sh", "-c", "exec java $JAVA_OPTS_EXTRA -jar /app.jar"}
			c.Env = env("JAVA_OPTS", "-Xmx2g")
		}), want: maybe("env[0].value")},
		{name: "a shell line expanding ${JAVA_OPTS}", spec: one("1Gi", func(c *corev1.Container) {
			c.Command = []string{"sh", "-c", "exec java ${JAVA_OPTS} -jar /app.jar"}
			c.Env = env("JAVA_OPTS", "-Xmx2g")
		}), want: hit("env[0].value")},
		{name: "duplicate env var, last definition wins", spec: one("1Gi", func(c *corev1.Container) {
			c.Env = env("JAVA_TOOL_OPTIONS", "-Xmx512m", "JAVA_TOOL_OPTIONS", "-Xmx2g")
		}), want: hit("env[1].value")},
		{name: "duplicate env var, lower last definition", spec: one("1Gi", func(c *corev1.Container) {
			c.Env = env("JAVA_TOOL_OPTIONS", "-Xmx2g", "JAVA_TOOL_OPTIONS", "-Xmx512m")
		})},
		{name: "env var redefined from a secret is unknown", spec: one("1Gi", func(c *corev1.Container) {
			c.Env = append(env("JAVA_TOOL_OPTIONS", "-Xmx2g"), fromSecret("JAVA_TOOL_OPTIONS"))
		})},

		// $(VAR) expansion in command and args.
		{name: "$(HEAP) from a literal env var", spec: one("1Gi", func(c *corev1.Container) {
			c.Env = env("HEAP", "-Xmx2g")
			c.Args = []string{"$(HEAP)", "-jar", "app.jar"}
		}), want: hit("args[0]")},
		{name: "$(HEAP) inside sh -c", spec: one("1Gi", func(c *corev1.Container) {
			c.Env = env("HEAP", "2g")
			c.Command = []string{"sh", "-c", "exec java -Xmx$(HEAP) -jar app.jar"}
		}), want: hit("command[2]")},
		{name: "$$(HEAP) is an escape, not a reference", spec: one("1Gi", func(c *corev1.Container) {
			c.Env = env("HEAP", "-Xmx2g")
			c.Args = []string{"$$(HEAP)", "-jar", "app.jar"}
		})},
		{name: "$(HEAP) from a secret is ignored", spec: one("1Gi", func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{fromSecret("HEAP")}
			c.Args = []string{"$(HEAP)", "-jar", "app.jar"}
		})},
		{name: "$(HEAP) redefined from a secret is ignored", spec: one("1Gi", func(c *corev1.Container) {
			c.Env = append(env("HEAP", "-Xmx2g"), fromSecret("HEAP"))
			c.Args = []string{"$(HEAP)", "-jar", "app.jar"}
		})},
		{name: "$(HEAP) undefined", spec: one("1Gi", args("$(HEAP)", "-jar", "app.jar"))},
		{name: "$(HEAP) inside JAVA_TOOL_OPTIONS", spec: one("1Gi", func(c *corev1.Container) {
			c.Env = env("HEAP", "-Xmx2g", "JAVA_TOOL_OPTIONS", "-XX:+UseG1GC $(HEAP)")
		}), want: hit("env[1].value")},

		// Node.js.
		{name: "NODE_OPTIONS above a 2Gi limit", spec: one("2Gi", func(c *corev1.Container) {
			c.Image, c.Command = "node:20", []string{"node", "server.js"}
			c.Env = env("NODE_ENV", "production", "NODE_OPTIONS", "--max-old-space-size=4096")
		}), want: hit("env[1].value")},
		{name: "NODE_OPTIONS equal to the limit", spec: one("4Gi", func(c *corev1.Container) {
			c.Image, c.Command = "node:20", []string{"node", "server.js"}
			c.Env = env("NODE_OPTIONS", "--enable-source-maps --max-old-space-size=4096")
		}), want: hit("env[0].value")},
		{name: "NODE_OPTIONS below the limit", spec: one("8Gi", func(c *corev1.Container) {
			c.Image, c.Command = "node:20", []string{"node", "server.js"}
			c.Env = env("NODE_OPTIONS", "--max-old-space-size=4096")
		})},
		{name: "underscore spelling", spec: one("2Gi", func(c *corev1.Container) {
			c.Image, c.Command = "node:20", []string{"node", "--max_old_space_size=3072", "server.js"}
		}), want: hit("command[1]")},
		{name: "two tokens in one string", spec: one("2Gi", func(c *corev1.Container) {
			c.Image, c.Command = "node:20", []string{"sh", "-c", "node --max-old-space-size 4096 server.js"}
		}), want: hit("command[2]")},
		{name: "two tokens as separate args", spec: one("2Gi", func(c *corev1.Container) {
			c.Image, c.Command, c.Args = "node:20", []string{"node"}, []string{"--max-old-space-size", "4096", "server.js"}
		}), want: hit("args[0]")},
		{name: "command line overrides NODE_OPTIONS", spec: one("2Gi", func(c *corev1.Container) {
			c.Image, c.Command = "node:20", []string{"node", "--max-old-space-size=1024", "server.js"}
			c.Env = env("NODE_OPTIONS", "--max-old-space-size=4096")
		})},
		{name: "node flag without a number", spec: one("2Gi", func(c *corev1.Container) {
			c.Image, c.Command = "node:20", []string{"node", "--max-old-space-size=", "server.js"}
		})},

		// Go.
		{name: "GOMEMLIMIT 3GiB above 2Gi", spec: one("2Gi", func(c *corev1.Container) {
			c.Image, c.Command = "registry.example.com/shop/api:1", nil
			c.Env = env("GOGC", "100", "GOMEMLIMIT", "3GiB")
		}), want: hit("env[1].value")},
		{name: "GOMEMLIMIT equal to the limit", spec: one("2Gi", func(c *corev1.Container) {
			c.Image, c.Command = "registry.example.com/shop/api:1", nil
			c.Env = env("GOMEMLIMIT", "2147483648")
		}), want: hit("env[0].value")},
		{name: "GOMEMLIMIT 900MiB below 1Gi", spec: one("1Gi", func(c *corev1.Container) {
			c.Image, c.Command = "registry.example.com/shop/api:1", nil
			c.Env = env("GOMEMLIMIT", "900MiB")
		})},
		{name: "GOMEMLIMIT off", spec: one("1Gi", func(c *corev1.Container) {
			c.Image, c.Command = "registry.example.com/shop/api:1", nil
			c.Env = env("GOMEMLIMIT", "off")
		})},
		{name: "GOMEMLIMIT from a secret", spec: one("1Gi", func(c *corev1.Container) {
			c.Image, c.Command = "registry.example.com/shop/api:1", nil
			c.Env = []corev1.EnvVar{fromSecret("GOMEMLIMIT")}
		})},

		// Several runtimes in one container: one finding each, JVM, Node.js, Go.
		{name: "one finding per runtime", spec: one("1Gi", func(c *corev1.Container) {
			c.Args = []string{"-Xmx2g", "--max-old-space-size=2048"}
			c.Env = env("GOMEMLIMIT", "1GiB")
		}), want: []want{
			{Error, base + "args[0]", "app"},
			{Error, base + "args[1]", "app"},
			{Error, base + "env[0].value", "app"},
		}},

		// Which containers.
		{name: "no memory limit", spec: one("", args("-Xmx2g"))},
		{name: "cpu limit only", spec: one("", func(c *corev1.Container) {
			c.Args = []string{"-Xmx2g"}
			c.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}
		})},
		{name: "init container", spec: corev1.PodSpec{
			InitContainers: []corev1.Container{ctr("1Gi", func(c *corev1.Container) { c.Name = "migrate"; c.Args = []string{"-Xmx2g"} })},
			Containers:     []corev1.Container{ctr("1Gi", args("-Xmx512m"))},
		}, want: []want{{Error, tmpl + ".initContainers[0].args[0]", "migrate"}}},
		{name: "ephemeral container", spec: corev1.PodSpec{
			Containers: []corev1.Container{ctr("1Gi", args("-Xmx512m"))},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "eclipse-temurin:21", Command: []string{"java", "-Xmx2g"}, Resources: memLimit("1Gi")}}},
		}},
		{name: "second container", spec: corev1.PodSpec{Containers: []corev1.Container{
			ctr("1Gi", func(c *corev1.Container) { c.Name = "ok"; c.Args = []string{"-Xmx512m"} }),
			ctr("1Gi", func(c *corev1.Container) { c.Name = "big"; c.Args = []string{"-Xmx4g"} }),
		}}, want: []want{{Error, tmpl + ".containers[1].args[0]", "big"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runAndAssert(t, Options{}, ResourcesHeapExceedsLimit, podOf(tc.spec), tc.want)
		})
	}
}

func TestParseGoMemLimit(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"2147483648", 2 << 30, true},
		{"1024B", 1024, true},
		{"1KiB", 1 << 10, true},
		{"900MiB", 900 << 20, true},
		{"3GiB", 3 << 30, true},
		{"2TiB", 2 << 40, true},
		{"off", 0, false},
		{"", 0, false},
		{"B", 0, false},
		{"GiB", 0, false},
		{"1GB", 0, false},
		{"1KB", 0, false},
		{"1G", 0, false},
		{"1gib", 0, false},
		{"1.5GiB", 0, false},
		{"-1", 0, false},
		{"-1GiB", 0, false},
		{"abc", 0, false},
		{"99999999999999999999", 0, false},
		{"9999999TiB", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseGoMemLimit(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseGoMemLimit(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestExpandVars(t *testing.T) {
	vars := []corev1.EnvVar{
		{Name: "HEAP", Value: "-Xmx2g"},
		{Name: "A", Value: "a"},
		{Name: "B", Value: "b"},
		{Name: "EMPTY", Value: ""},
		fromSecret("SECRET"),
	}
	// values are resolved as envValues resolves them: literal values only.
	c := ContainerRef{Container: &corev1.Container{Env: vars}}
	e, err := envValues(c, newPodBudget())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain -Xmx1g", "plain -Xmx1g"},
		{"$(HEAP)", "-Xmx2g"},
		{"java $(HEAP) -jar app.jar", "java -Xmx2g -jar app.jar"},
		{"$(A)$(B)", "ab"},
		{"x$(EMPTY)y", "xy"},
		{"$$(HEAP)", "$(HEAP)"},
		{"$$$(HEAP)", "$-Xmx2g"},
		{"$$$$", "$$"},
		{"$(UNKNOWN)", "$(UNKNOWN)"},
		{"$(SECRET)", "$(SECRET)"},
		{"$(HEAP", "$(HEAP"},
		{"$(HEAP $$", "$(HEAP $"},
		{"pre $(HEAP", "pre $(HEAP"},
		{"$HEAP", "$HEAP"},
		{"${HEAP}", "${HEAP}"},
		{"cost $", "cost $"},
		{"$()", "$()"},
		{"$(A) and $(UNKNOWN) and $(B)", "a and $(UNKNOWN) and b"},
	}
	for _, tc := range tests {
		if got, ok := expandVars(tc.in, e.values, maxExpandedValue); !ok || got != tc.want {
			t.Errorf("expandVars(%q) = %q, %v; want %q, true", tc.in, got, ok, tc.want)
		}
	}
}

// TestHeapLaunchScripts decides from the image's Entrypoint and Cmd whether
// a launch-script variable is read: never an error when it cannot be told.
func TestHeapLaunchScripts(t *testing.T) {
	const image = "registry.example.com/shop/ledger:1.4.0"
	jib := &ImageConfig{Entrypoint: []string{"java", "-cp", "@/app/jib-classpath-file", "com.example.Ledger"}}
	distroless := &ImageConfig{Entrypoint: []string{"/usr/bin/java", "-jar"}, Cmd: []string{"/app/app.jar"}}
	tomcat := &ImageConfig{Cmd: []string{"catalina.sh", "run"}}
	script := &ImageConfig{Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"start"}}
	shell := &ImageConfig{Entrypoint: []string{"/bin/sh", "-c", "exec java $JAVA_OPTS -jar /app/app.jar"}}
	jibXmx := &ImageConfig{Entrypoint: []string{"java", "-Xmx2g", "-cp", "/app/classes", "com.example.Ledger"}}
	field := tmpl + ".containers[0]."
	tests := []struct {
		name    string
		lookup  *ImageLookup // nil: offline
		mod     func(*corev1.Container)
		sev     Severity
		field   string
		outcome Outcome
		none    bool
	}{
		{name: "Jib entrypoint never reads JVM_OPTS", lookup: &ImageLookup{Outcome: LookupOK, Config: jib}, none: true},
		{name: "distroless java -jar never reads JVM_OPTS", lookup: &ImageLookup{Outcome: LookupOK, Config: distroless}, none: true},
		{name: "a shell entrypoint expanding the variable", lookup: &ImageLookup{Outcome: LookupOK, Config: shell},
			mod: func(c *corev1.Container) { c.Env[0].Name = "JAVA_OPTS" }, sev: Error, field: "env[0].value", outcome: OOMKilled},
		{name: "catalina.sh from the image's Cmd", lookup: &ImageLookup{Outcome: LookupOK, Config: tomcat},
			mod: func(c *corev1.Container) { c.Env[0].Name = "CATALINA_OPTS" }, sev: Error, field: "env[0].value", outcome: OOMKilled},
		{name: "an entrypoint script that may read it", lookup: &ImageLookup{Outcome: LookupOK, Config: script},
			sev: Warning, field: "env[0].value"},
		{name: "offline", sev: Info, field: "env[0].value"},
		{name: "lookup inconclusive", lookup: &ImageLookup{Outcome: LookupTimedOut}, sev: Info, field: "env[0].value"},
		{name: "the pod's command decides over the image", lookup: &ImageLookup{Outcome: LookupOK, Config: script},
			mod: func(c *corev1.Container) { c.Command = []string{"java", "-jar", "/app/app.jar"} }, none: true},
		{name: "args after a Jib entrypoint go to the app", lookup: &ImageLookup{Outcome: LookupOK, Config: jib},
			mod: func(c *corev1.Container) { c.Env = nil; c.Args = []string{"-Xmx2g"} }, none: true},
		{name: "the image's own -Xmx above the limit", lookup: &ImageLookup{Outcome: LookupOK, Config: jibXmx},
			mod: func(c *corev1.Container) { c.Env = nil }, sev: Error, field: "image", outcome: OOMKilled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := corev1.Container{Name: "app", Image: image, Resources: memLimit("512Mi"),
				Env: []corev1.EnvVar{{Name: "JVM_OPTS", Value: "-Xms256m -Xmx512m"}}}
			if tc.mod != nil {
				tc.mod(&c)
			}
			p := podOf(corev1.PodSpec{Containers: []corev1.Container{c}})
			if tc.lookup != nil {
				p.Images = map[string]*ImageLookup{image: tc.lookup}
			}
			got := run(t, Options{}, ResourcesHeapExceedsLimit, p)
			if tc.none {
				if len(got) != 0 {
					t.Fatalf("findings %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("findings %+v, want one", got)
			}
			f := got[0]
			if f.Severity != tc.sev || f.Field != field+tc.field || f.Outcome != tc.outcome {
				t.Errorf("got %s %s outcome %q, want %s %s outcome %q", f.Severity, f.Field, f.Outcome, tc.sev, field+tc.field, tc.outcome)
			}
		})
	}
}
