package policy

import (
	"fmt"
	"path"
	"strings"
)

// Runtime is the application runtime recognised in a container, used to
// pick a default start time when the object declares none.
type Runtime string

// Runtimes nobackoff recognises, from the image name, the command and the
// environment.
const (
	RuntimeJVM    Runtime = "jvm"
	RuntimeDotnet Runtime = "dotnet"
	RuntimeRuby   Runtime = "ruby"
	RuntimePython Runtime = "python"
	RuntimeNode   Runtime = "node"
	RuntimePHP    Runtime = "php"
	RuntimeOther  Runtime = "other"
)

// StartupDefaults maps each runtime to the seconds an application of that
// runtime is expected to need before its probes pass. The values are
// typical start times of real services on a modest CPU limit, not worst
// cases: a warning that fires on a healthy, fast-starting service is noise.
type StartupDefaults map[Runtime]int

// DefaultStartup is the documented default table (README: "Expected start
// time").
func DefaultStartup() StartupDefaults {
	return StartupDefaults{
		RuntimeJVM:    45, // Spring Boot, Quarkus JVM mode, Tomcat: class loading and JIT warm-up
		RuntimeDotnet: 15,
		RuntimeRuby:   20, // Rails boots the whole application eagerly in production
		RuntimePython: 10,
		RuntimeNode:   10,
		RuntimePHP:    5,
		RuntimeOther:  5, // Go, Rust, C binaries, proxies: ready in a second or two
	}
}

// Expect returns the start time to assume for a container and a short
// phrase saying where it comes from ("a JVM app needs"). declared (seconds
// from the annotation) wins when set.
func (d StartupDefaults) Expect(c ContainerRef, declared int) (int, string) {
	if declared > 0 {
		return declared, "its " + ExpectedStartupAnnotation + " says it needs"
	}
	rt := DetectRuntime(c)
	n, ok := d[rt]
	if !ok {
		n = DefaultStartup()[rt]
	}
	switch rt {
	case RuntimeOther:
		return n, "the app needs"
	case RuntimeJVM:
		return n, "a JVM app needs"
	default:
		return n, fmt.Sprintf("a %s app needs", runtimeTitle[rt])
	}
}

var runtimeTitle = map[Runtime]string{
	RuntimeDotnet: ".NET", RuntimeRuby: "Ruby", RuntimePython: "Python", RuntimeNode: "Node.js", RuntimePHP: "PHP",
}

// Image name words and executables that identify each runtime. Matching is
// on whole words of the image's repository path (split at / - _ .), so
// "javascript" is not "java".
var runtimeSigns = []struct {
	rt          Runtime
	imageWords  []string
	executables []string
	envVars     []string
}{
	{RuntimeJVM,
		[]string{"java", "openjdk", "jdk", "jre", "temurin", "corretto", "zulu", "liberica", "semeru", "graalvm",
			"tomcat", "jetty", "wildfly", "jboss", "keycloak", "spring", "springboot", "elasticsearch", "opensearch",
			"logstash", "kafka", "zookeeper", "jenkins", "sonarqube", "nexus3", "solr", "cassandra", "neo4j", "flink", "trino"},
		[]string{"java", "catalina.sh", "mvn", "gradle", "gradlew"},
		[]string{"JAVA_TOOL_OPTIONS", "JAVA_OPTS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CATALINA_OPTS"}},
	{RuntimeDotnet, []string{"dotnet", "aspnet"}, []string{"dotnet"}, []string{"ASPNETCORE_URLS", "DOTNET_ENVIRONMENT", "ASPNETCORE_ENVIRONMENT"}},
	{RuntimeRuby, []string{"ruby", "rails"}, []string{"ruby", "rails", "bundle", "puma", "unicorn", "sidekiq"}, []string{"RAILS_ENV", "RACK_ENV"}},
	{RuntimePython, []string{"python", "django", "flask"}, []string{"python", "python3", "gunicorn", "uvicorn", "celery", "flask", "django-admin"}, []string{"PYTHONPATH", "DJANGO_SETTINGS_MODULE"}},
	{RuntimeNode, []string{"node", "nodejs"}, []string{"node", "npm", "npx", "yarn", "pnpm"}, []string{"NODE_OPTIONS", "NODE_ENV"}},
	{RuntimePHP, []string{"php", "php-fpm"}, []string{"php", "php-fpm", "artisan"}, nil},
}

// DetectRuntime recognises the runtime of a container from its command,
// args and environment first (they say what actually runs), then from its
// image name.
func DetectRuntime(c ContainerRef) Runtime {
	var execs []string
	for _, a := range append(append([]string{}, c.Command...), c.Args...) {
		for _, f := range strings.Fields(a) {
			execs = append(execs, path.Base(f))
		}
	}
	for _, s := range runtimeSigns {
		for _, e := range s.executables {
			for _, x := range execs {
				if x == e || (s.rt == RuntimeJVM && x == "-jar") {
					return s.rt
				}
			}
		}
		for _, env := range c.Env {
			for _, v := range s.envVars {
				if env.Name == v {
					return s.rt
				}
			}
		}
	}
	repo := c.Image
	if r, err := ParseImage(c.Image); err == nil {
		repo = r.Path
	}
	words := strings.FieldsFunc(strings.ToLower(repo), func(r rune) bool {
		return r == '/' || r == '-' || r == '_' || r == '.' || r == ':'
	})
	for _, s := range runtimeSigns {
		for _, w := range s.imageWords {
			for _, x := range words {
				if x == w {
					return s.rt
				}
			}
		}
	}
	return RuntimeOther
}
