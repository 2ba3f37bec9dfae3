package policy

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

type memoryLimitMissing struct{}

func (memoryLimitMissing) ID() ID { return ResourcesMemoryLimitMissing }

func (memoryLimitMissing) Check(_ context.Context, p *Pod) ([]Finding, error) {
	if _, ok := podMemoryLimit(p); ok {
		return nil, nil // a pod-level limit bounds every container
	}
	var out []Finding
	for _, c := range p.Containers() {
		if c.Kind == Ephemeral {
			continue // ephemeral containers cannot have resources
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			continue
		}
		out = append(out, c.Finding(ResourcesMemoryLimitMissing, Warning, "resources.limits.memory",
			"no memory limit: it can take the node's memory until it or its neighbours are killed",
			"set resources.limits.memory to the app's peak use plus headroom"))
	}
	return out, nil
}

// podMemoryLimit is the pod-level memory limit (spec.resources), which
// bounds containers that set none of their own.
func podMemoryLimit(p *Pod) (resource.Quantity, bool) {
	if p.Spec.Resources == nil {
		return resource.Quantity{}, false
	}
	q, ok := p.Spec.Resources.Limits[corev1.ResourceMemory]
	return q, ok
}

// heapSetting is a heap ceiling found in a container's command line or
// environment, with the field that sets it.
type heapSetting struct {
	bytes   int64
	flag    string // as written, e.g. -Xmx2g
	field   string // sub-path within the container, e.g. env[1].value
	runtime string // JVM, Node.js or Go
}

type heapExceedsLimit struct{}

func (heapExceedsLimit) ID() ID { return ResourcesHeapExceedsLimit }

func (heapExceedsLimit) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	for _, c := range p.Containers() {
		if c.Kind == Ephemeral {
			continue
		}
		limit, ok := c.Resources.Limits[corev1.ResourceMemory]
		if !ok {
			limit, ok = podMemoryLimit(p)
		}
		if !ok || limit.IsZero() {
			continue
		}
		for _, h := range heapSettings(c) {
			if h.bytes < limit.Value() {
				continue
			}
			out = append(out, c.Finding(ResourcesHeapExceedsLimit, Error, h.field,
				fmt.Sprintf("%s heap %s (%s) >= memory limit %s: OOMKilled once the heap grows",
					h.runtime, h.flag, formatBytes(h.bytes), limit.String()),
				heapFix(h, limit)))
		}
	}
	return out, nil
}

func heapFix(h heapSetting, limit resource.Quantity) string {
	switch h.runtime {
	case "JVM":
		return fmt.Sprintf("use ~75%% of the limit (%s) or -XX:MaxRAMPercentage=75", jvmSize(limit.Value()*3/4))
	case "Node.js":
		return fmt.Sprintf("use ~75%% of the limit (--max-old-space-size=%d)", limit.Value()*3/4>>20)
	default:
		return fmt.Sprintf("use ~90%% of the limit (GOMEMLIMIT=%dMiB)", limit.Value()*9/10>>20)
	}
}

// jvmSize writes a byte count as a JVM size flag value, rounded down to MiB.
func jvmSize(b int64) string {
	if mb := b >> 20; mb%1024 != 0 {
		return fmt.Sprintf("-Xmx%dm", mb)
	}
	return fmt.Sprintf("-Xmx%dg", b>>30)
}

func formatBytes(b int64) string {
	return resource.NewQuantity(b, resource.BinarySI).String()
}

// token is one whitespace-separated word of a container's command line or
// of an env value, with the field it came from.
type token struct {
	text  string
	field string // e.g. args[1] or env[0].value
}

// envValues resolves the container's literal env values the way the kubelet
// does: in order, each value may reference earlier variables as $(NAME).
// Variables set with valueFrom are unknown until the pod runs.
func envValues(c ContainerRef) (values map[string]string, index map[string]int) {
	values, index = map[string]string{}, map[string]int{}
	for i, e := range c.Env {
		if e.ValueFrom != nil {
			delete(values, e.Name)
			delete(index, e.Name)
			continue
		}
		values[e.Name] = expandVars(e.Value, values)
		index[e.Name] = i
	}
	return values, index
}

// commandTokens splits command and args, after $(VAR) expansion, into words.
// Words of one entry share its field; a shell script in one entry
// ("sh -c 'java -Xmx2g ...'") is read the same way as separate entries.
func commandTokens(c ContainerRef, env map[string]string) []token {
	var out []token
	for _, part := range []struct {
		name string
		args []string
	}{{"command", c.Command}, {"args", c.Args}} {
		for i, a := range part.args {
			for _, w := range strings.Fields(expandVars(a, env)) {
				out = append(out, token{strings.Trim(w, `"';`), fmt.Sprintf("%s[%d]", part.name, i)})
			}
		}
	}
	return out
}

func envTokens(c ContainerRef, env map[string]string, index map[string]int, name string) []token {
	i, ok := index[name]
	if !ok {
		return nil
	}
	var out []token
	for _, w := range strings.Fields(env[name]) {
		out = append(out, token{strings.Trim(w, `"'`), fmt.Sprintf("env[%d].value", i)})
	}
	return out
}

// jvmOptionWithArg reports java launcher options whose value is the next
// word.
func jvmOptionWithArg(opt string) bool {
	switch opt {
	case "-cp", "-classpath", "--class-path", "-p", "--module-path", "--upgrade-module-path", "--add-modules",
		"--add-opens", "--add-exports", "--add-reads", "--patch-module", "--limit-modules", "--enable-native-access":
		return true
	}
	return false
}

// scriptJVMOptions are variables that launch scripts (catalina.sh,
// Elasticsearch's and Kafka's start scripts, most images' entrypoints) pass
// to java. The JVM itself does not read them, so they count only when java
// is not started directly.
func scriptJVMOptions() []string {
	return []string{"JAVA_OPTS", "CATALINA_OPTS", "ES_JAVA_OPTS", "KAFKA_HEAP_OPTS", "JVM_OPTS"}
}

// heapSettings finds the effective heap ceilings of a container: at most one
// per runtime, the one that wins by that runtime's precedence.
func heapSettings(c ContainerRef) []heapSetting {
	env, index := envValues(c)
	cmd := commandTokens(c, env)
	var out []heapSetting

	// JVM: JAVA_TOOL_OPTIONS and JDK_JAVA_OPTIONS are read by the JVM
	// before its command line; the launch scripts' variables come before
	// the command line too; _JAVA_OPTIONS overrides everything. The last
	// -Xmx wins.
	sources := [][]token{envTokens(c, env, index, "JAVA_TOOL_OPTIONS"), envTokens(c, env, index, "JDK_JAVA_OPTIONS")}
	if !startsJavaDirectly(cmd) {
		for _, v := range scriptJVMOptions() {
			sources = append(sources, envTokens(c, env, index, v))
		}
	}
	sources = append(sources, jvmLauncherOptions(cmd), envTokens(c, env, index, "_JAVA_OPTIONS"))
	var jvm *heapSetting
	for _, toks := range sources {
		if h, ok := lastJVMHeap(toks); ok {
			jvm = &h
		}
	}
	if jvm != nil {
		out = append(out, *jvm)
	}

	// Node.js: NODE_OPTIONS is read first, then the command line.
	var node *heapSetting
	for _, toks := range [][]token{envTokens(c, env, index, "NODE_OPTIONS"), nodeOptions(cmd)} {
		if h, ok := lastNodeHeap(toks); ok {
			node = &h
		}
	}
	if node != nil {
		out = append(out, *node)
	}

	if i, ok := index["GOMEMLIMIT"]; ok {
		if b, ok := parseGoMemLimit(env["GOMEMLIMIT"]); ok {
			out = append(out, heapSetting{bytes: b, flag: "GOMEMLIMIT=" + env["GOMEMLIMIT"],
				field: fmt.Sprintf("env[%d].value", i), runtime: "Go"})
		}
	}
	return out
}

// jvmLauncherOptions keeps the words of a command line that the java
// launcher reads as its own options. After "java", options end at -jar's
// file, at -m's module or at the main class: what follows goes to the
// application. Before any "java" word every option counts, since the
// image's entrypoint may be java or a script that passes them on.
func jvmLauncherOptions(toks []token) []token {
	var out []token
	sawJava, appArgs := false, false
	for i := 0; i < len(toks); i++ {
		t := toks[i].text
		if path.Base(t) == "java" {
			sawJava, appArgs = true, false
			continue
		}
		if appArgs {
			continue
		}
		if sawJava {
			switch {
			case t == "-jar" || t == "-m" || t == "--module":
				i++
				appArgs = true
				continue
			case jvmOptionWithArg(t):
				i++
				continue
			case !strings.HasPrefix(t, "-"):
				appArgs = true
				continue
			}
		}
		out = append(out, toks[i])
	}
	return out
}

// startsJavaDirectly reports whether the container's command line runs
// java itself (exec form), so no launch script reads JAVA_OPTS and the like.
// A shell line that expands such a variable is not direct.
func startsJavaDirectly(cmd []token) bool {
	if len(cmd) == 0 || path.Base(cmd[0].text) != "java" {
		return false
	}
	for _, t := range cmd {
		if strings.Contains(t.text, "$") {
			return false
		}
	}
	return true
}

// nodeOptions keeps the words that node reads as its own options: after
// "node", options end at the script; what follows goes to the script.
// Before any "node" word every option counts (the entrypoint may be node).
func nodeOptions(toks []token) []token {
	var out []token
	sawNode, appArgs := false, false
	for i := 0; i < len(toks); i++ {
		t := toks[i].text
		if path.Base(t) == "node" || path.Base(t) == "nodejs" {
			sawNode, appArgs = true, false
			continue
		}
		if appArgs {
			continue
		}
		if sawNode && !strings.HasPrefix(t, "-") {
			if i > 0 && nodeOldFlag.MatchString(toks[i-1].text) && !strings.Contains(toks[i-1].text, "=") {
				out = append(out, toks[i]) // the value of --max-old-space-size N
				continue
			}
			appArgs = true
			continue
		}
		out = append(out, toks[i])
	}
	return out
}

var (
	xmxFlag     = regexp.MustCompile(`^(?:-Xmx|-XX:MaxHeapSize=)([0-9]+)([kKmMgGtT]?)$`)
	nodeOldFlag = regexp.MustCompile(`^--max[-_]old[-_]space[-_]size(?:=([0-9]+))?$`)
)

func lastJVMHeap(toks []token) (heapSetting, bool) {
	var h heapSetting
	found := false
	for _, t := range toks {
		m := xmxFlag.FindStringSubmatch(t.text)
		if m == nil {
			continue
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			continue
		}
		shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[strings.ToLower(m[2])]
		if n > (1<<62)>>shift {
			continue
		}
		h, found = heapSetting{bytes: n << shift, flag: t.text, field: t.field, runtime: "JVM"}, true
	}
	return h, found
}

func lastNodeHeap(toks []token) (heapSetting, bool) {
	var h heapSetting
	found := false
	for i, t := range toks {
		m := nodeOldFlag.FindStringSubmatch(t.text)
		if m == nil {
			continue
		}
		val, flag := m[1], t.text
		if val == "" && i+1 < len(toks) { // --max-old-space-size 4096
			val = toks[i+1].text
			flag = t.text + " " + val
		}
		mb, err := strconv.ParseInt(val, 10, 64)
		if err != nil || mb > 1<<40 {
			continue
		}
		h, found = heapSetting{bytes: mb << 20, flag: flag, field: t.field, runtime: "Node.js"}, true
	}
	return h, found
}

// parseGoMemLimit reads GOMEMLIMIT as the Go runtime does: a byte count with
// an optional B, KiB, MiB, GiB or TiB suffix; "off" means no limit.
func parseGoMemLimit(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	shift := uint(0)
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}} {
		if strings.HasSuffix(s, u.suffix) {
			s, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, false
	}
	return n << shift, true
}

// expandVars expands $(NAME) references the way the kubelet does: defined
// variables are substituted, $$ escapes a dollar, and unknown references
// stay as written.
func expandVars(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
