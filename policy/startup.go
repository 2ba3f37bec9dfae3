package policy

import (
	"fmt"
	"path"
	"strings"
	"sync"
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

// Runtimes lists the recognised runtimes, slowest-starting first.
func Runtimes() []Runtime {
	return []Runtime{RuntimeJVM, RuntimeRuby, RuntimeDotnet, RuntimePython, RuntimeNode, RuntimePHP, RuntimeOther}
}

// StartupDefaults maps each runtime to the seconds an application of that
// runtime is expected to need before its probes pass. The values are
// typical start times of real services on a modest CPU limit, not worst
// cases: a warning that fires on a healthy, fast-starting service is noise.
type StartupDefaults map[Runtime]int

// DefaultStartup is the documented default table (README: "Expected start
// time").
func DefaultStartup() StartupDefaults {
	return StartupDefaults{
		RuntimeJVM:    40, // Spring Boot, Quarkus JVM mode, Tomcat: class loading and JIT warm-up
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
// from the annotation, 0 for none) wins when set.
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
		return n, fmt.Sprintf("a %s app needs", runtimeTitle(rt))
	}
}

func runtimeTitle(rt Runtime) string {
	switch rt {
	case RuntimeDotnet:
		return ".NET"
	case RuntimeRuby:
		return "Ruby"
	case RuntimePython:
		return "Python"
	case RuntimeNode:
		return "Node.js"
	case RuntimePHP:
		return "PHP"
	}
	return string(rt)
}

// runtimeSign is how one runtime is recognised.
type runtimeSign struct {
	rt Runtime
	// images are repository names (the last path component) that run it;
	// for the JVM, whose product names rarely mean anything else, any word
	// of the repository path counts.
	images      []string
	executables []string
	envVars     []string
}

func runtimeSigns() []runtimeSign {
	return []runtimeSign{
		{RuntimeJVM,
			[]string{"java", "openjdk", "jdk", "jre", "temurin", "corretto", "zulu", "liberica", "semeru", "graalvm",
				"tomcat", "jetty", "wildfly", "jboss", "keycloak", "spring", "springboot", "elasticsearch", "opensearch",
				"logstash", "kafka", "zookeeper", "jenkins", "sonarqube", "nexus3", "solr", "cassandra", "neo4j", "flink", "trino"},
			[]string{"java", "catalina.sh", "mvn", "gradle", "gradlew"},
			[]string{"JAVA_TOOL_OPTIONS", "JAVA_OPTS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CATALINA_OPTS"}},
		{RuntimeDotnet, []string{"dotnet", "aspnet"}, []string{"dotnet"}, []string{"ASPNETCORE_URLS", "DOTNET_ENVIRONMENT", "ASPNETCORE_ENVIRONMENT"}},
		{RuntimeRuby, []string{"ruby", "rails", "jruby"}, []string{"ruby", "rails", "bundle", "puma", "unicorn", "sidekiq"}, []string{"RAILS_ENV", "RACK_ENV"}},
		{RuntimePython, []string{"python", "pypy", "django", "flask"}, []string{"python", "python3", "gunicorn", "uvicorn", "celery", "flask", "django-admin"}, []string{"PYTHONPATH", "DJANGO_SETTINGS_MODULE"}},
		{RuntimeNode, []string{"node", "nodejs"}, []string{"node", "npm", "npx", "yarn", "pnpm"}, []string{"NODE_OPTIONS", "NODE_ENV"}},
		{RuntimePHP, []string{"php", "php-fpm"}, []string{"php", "php-fpm", "artisan"}, nil},
	}
}

// runtimeIndex is runtimeSigns looked up by word: the index of the
// earliest sign each executable, variable and JVM image word belongs to.
type runtimeIndex struct {
	signs         []runtimeSign
	byExec, byEnv map[string]int
	jvmImages     map[string]bool
}

// runtimeSignIndex is built once: every review detects the runtime of
// every container.
var runtimeSignIndex = sync.OnceValue(func() *runtimeIndex {
	x := &runtimeIndex{signs: runtimeSigns(), byExec: map[string]int{}, byEnv: map[string]int{}, jvmImages: map[string]bool{}}
	for i := len(x.signs) - 1; i >= 0; i-- {
		for _, e := range x.signs[i].executables {
			x.byExec[e] = i
		}
		for _, v := range x.signs[i].envVars {
			x.byEnv[v] = i
		}
		if x.signs[i].rt == RuntimeJVM {
			x.byExec["-jar"] = i // java's own option: whatever runs it, it is a JVM
			for _, w := range x.signs[i].images {
				x.jvmImages[w] = true
			}
		}
	}
	return x
})

// DetectRuntime recognises the runtime of a container from its command,
// args and environment first (they say what actually runs), then from its
// image name. It looks each word and variable up once.
func DetectRuntime(c ContainerRef) Runtime {
	x := runtimeSignIndex()
	signs := x.signs
	// The earliest sign in the list that any word or variable shows wins.
	best := len(signs)
	for _, args := range [][]string{c.Command, c.Args} {
		for _, a := range args {
			for f := range strings.FieldsSeq(a) {
				if i, ok := x.byExec[path.Base(f)]; ok && i < best {
					best = i
				}
			}
		}
	}
	for _, e := range c.Env {
		if i, ok := x.byEnv[e.Name]; ok && i < best {
			best = i
		}
	}
	if best < len(signs) {
		return signs[best].rt
	}

	repo := strings.ToLower(c.Image)
	if r, err := c.ImageRef(); err == nil {
		repo = r.Path
	}
	// "dotnet/aspnet" and "library/node" name a runtime; "node-exporter"
	// and "calico/node" do not, so outside the JVM only the repository's
	// own name counts, as a whole or with a version ("nodejs-20").
	name := path.Base(repo)
	for _, s := range signs {
		if s.rt == RuntimeJVM {
			// Any word of the path: the whole name and a versioned one
			// ("java-17") are words too.
			for w := range strings.FieldsFuncSeq(repo, func(r rune) bool { return r == '/' || r == '-' || r == '_' || r == '.' }) {
				if x.jvmImages[w] {
					return s.rt
				}
			}
			continue
		}
		if s.rt == RuntimeDotnet && strings.HasPrefix(repo, "dotnet/") {
			return s.rt
		}
		for _, w := range s.images {
			if name == w || versioned(name, w) {
				return s.rt
			}
		}
	}
	return RuntimeOther
}

// versioned reports whether name is word followed by a version, as in
// "nodejs-20" or "python-311".
func versioned(name, word string) bool {
	rest, ok := strings.CutPrefix(name, word+"-")
	return ok && rest != "" && rest[0] >= '0' && rest[0] <= '9'
}
