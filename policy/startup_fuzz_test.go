package policy

import (
	"path"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// detectRuntimeByScan is DetectRuntime read literally: sign by sign, every
// word against every executable, every variable against every name, then
// every word of the image against every image name.
func detectRuntimeByScan(c ContainerRef) Runtime {
	var execs []string
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		for _, f := range strings.Fields(a) {
			execs = append(execs, path.Base(f))
		}
	}
	signs := runtimeSigns()
	for _, s := range signs {
		for _, e := range s.executables {
			for _, x := range execs {
				if x == e || (s.rt == RuntimeJVM && x == "-jar") {
					return s.rt
				}
			}
		}
		for _, env := range c.Env {
			if slices.Contains(s.envVars, env.Name) {
				return s.rt
			}
		}
	}
	repo := strings.ToLower(c.Image)
	if r, err := ParseImage(c.Image); err == nil {
		repo = r.Path
	}
	name := path.Base(repo)
	words := strings.FieldsFunc(repo, func(r rune) bool { return r == '/' || r == '-' || r == '_' || r == '.' })
	for _, s := range signs {
		for _, w := range s.images {
			if name == w || versioned(name, w) || (s.rt == RuntimeDotnet && strings.HasPrefix(repo, "dotnet/")) {
				return s.rt
			}
			if s.rt == RuntimeJVM && slices.Contains(words, w) {
				return s.rt
			}
		}
	}
	return RuntimeOther
}

func FuzzDetectRuntime(f *testing.F) {
	f.Add("java", "-jar app.jar", "TZ", "registry.example.com/shop/api:1")
	f.Add("sh", "-c exec python3 -m app", "NODE_ENV", "node:20-alpine")
	f.Add("", "", "", "eclipse-temurin:21-jre")
	f.Add("", "", "", "quay.io/prometheus/node-exporter:v1.8.2")
	f.Add("", "", "", "mcr.microsoft.com/dotnet/aspnet:8.0")
	f.Add("", "", "", "registry.access.redhat.com/ubi9/nodejs-20")
	f.Add("bundle exec puma", "", "RAILS_ENV", "")
	f.Add("/usr/local/tomcat/bin/catalina.sh", "run", "DOTNET_ENVIRONMENT", "ghcr.io/acme/javascript-app:1.0")
	f.Add("npm", "start", "JAVA_OPTS", "NODE:20")
	f.Add("", "", "", "Ghcr.io/Acme/Java-App")
	f.Fuzz(func(t *testing.T, command, args, envName, image string) {
		c := ContainerRef{Container: &corev1.Container{Image: image, Command: []string{command}, Args: []string{args},
			Env: []corev1.EnvVar{{Name: envName}}}}
		got := DetectRuntime(c)
		if want := detectRuntimeByScan(c); got != want {
			t.Fatalf("DetectRuntime(command %q, args %q, env %q, image %q) = %s, want %s", command, args, envName, image, got, want)
		}
		if !slices.Contains(Runtimes(), got) {
			t.Fatalf("DetectRuntime = %q, not one of %v", got, Runtimes())
		}
		// A JVM option variable says JVM whatever else the container shows:
		// the JVM is the first runtime looked for.
		c.Env = append(c.Env, corev1.EnvVar{Name: "JAVA_TOOL_OPTIONS"})
		if got := DetectRuntime(c); got != RuntimeJVM {
			t.Fatalf("with JAVA_TOOL_OPTIONS set, DetectRuntime = %s, want %s", got, RuntimeJVM)
		}
	})
}
