package policy

import (
	"context"
	"fmt"
	"iter"
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

func (heapExceedsLimit) Check(ctx context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	budget := newPodBudget()
	for _, c := range p.Containers() {
		if c.Kind == Ephemeral {
			continue
		}
		// Reading a long command line takes a while: stop when the review
		// is abandoned.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		limit, ok := c.Resources.Limits[corev1.ResourceMemory]
		if !ok {
			limit, ok = podMemoryLimit(p)
		}
		if !ok || limit.IsZero() {
			continue
		}
		settings, err := heapSettings(c, budget)
		if err != nil {
			return nil, err
		}
		for _, h := range settings {
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
// per runtime, the one that wins by that runtime's precedence. The error is
// a *LimitError: the container's $(VAR) references expand to more than any
// real pod's.
func heapSettings(c ContainerRef, pod *podBudget) ([]heapSetting, error) {
	env, err := envValues(c, pod)
	if err != nil {
		return nil, err
	}
	cmd, err := commandTokens(c, env)
	if err != nil {
		return nil, err
	}
	var out []heapSetting

	// JVM: JAVA_TOOL_OPTIONS and JDK_JAVA_OPTIONS are read by the JVM
	// before its command line; the launch scripts' variables come before
	// the command line too; _JAVA_OPTIONS overrides everything. The last
	// -Xmx wins. Sources are read in that order, and variables the
	// container does not set are not read at all (every review runs this
	// for every container).
	var jvm heapSetting
	jvmFound := false
	readJVM := func(toks iter.Seq[token]) {
		if h, ok := lastJVMHeap(toks); ok {
			jvm, jvmFound = h, true
		}
	}
	readJVMEnv := func(name string) {
		if _, ok := env.index[name]; ok {
			readJVM(envTokens(env, name))
		}
	}
	readJVMEnv("JAVA_TOOL_OPTIONS")
	readJVMEnv("JDK_JAVA_OPTIONS")
	if !startsJavaDirectly(cmd) {
		for _, v := range scriptJVMOptions() {
			readJVMEnv(v)
		}
	}
	readJVM(jvmLauncherOptions(cmd))
	readJVMEnv("_JAVA_OPTIONS")
	if jvmFound {
		out = append(out, jvm)
	}

	// Node.js: NODE_OPTIONS is read first, then the command line.
	node, nodeFound := heapSetting{}, false
	if _, ok := env.index["NODE_OPTIONS"]; ok {
		node, nodeFound = lastNodeHeap(envTokens(env, "NODE_OPTIONS"))
	}
	if h, ok := lastNodeHeap(nodeOptions(cmd)); ok {
		node, nodeFound = h, true
	}
	if nodeFound {
		out = append(out, node)
	}

	if i, ok := env.index["GOMEMLIMIT"]; ok {
		v := strings.TrimSpace(env.values["GOMEMLIMIT"])
		if b, ok := parseGoMemLimit(v); ok {
			out = append(out, heapSetting{bytes: b, flag: "GOMEMLIMIT=" + v,
				field: fmt.Sprintf("env[%d].value", i), runtime: "Go"})
		}
	}
	return out, nil
}

// jvmLauncherOptions keeps the words of a command line that the java
// launcher reads as its own options. After "java", options end at -jar's
// file, at -m's module or at the main class: what follows goes to the
// application. Before any "java" word every option counts, since the
// image's entrypoint may be java or a script that passes them on.
func jvmLauncherOptions(toks iter.Seq[token]) iter.Seq[token] {
	return func(yield func(token) bool) {
		sawJava, appArgs, skip := false, false, false
		for t := range toks {
			if skip { // the value of the option before
				skip = false
				continue
			}
			if path.Base(t.text) == "java" {
				sawJava, appArgs = true, false
				continue
			}
			if appArgs {
				continue
			}
			if sawJava {
				switch {
				case t.text == "-jar" || t.text == "-m" || t.text == "--module":
					skip, appArgs = true, true
					continue
				case jvmOptionWithArg(t.text):
					skip = true
					continue
				case !strings.HasPrefix(t.text, "-"):
					appArgs = true
					continue
				}
			}
			if !yield(t) {
				return
			}
		}
	}
}

// startsJavaDirectly reports whether the container's command line runs
// java itself (exec form), so no launch script reads JAVA_OPTS and the like.
// A shell line that expands such a variable is not direct.
func startsJavaDirectly(cmd iter.Seq[token]) bool {
	first := true
	for t := range cmd {
		if first && path.Base(t.text) != "java" {
			return false
		}
		first = false
		if strings.Contains(t.text, "$") {
			return false
		}
	}
	return !first
}

// nodeOptions keeps the words that node reads as its own options: after
// "node", options end at the script; what follows goes to the script.
// Before any "node" word every option counts (the entrypoint may be node).
func nodeOptions(toks iter.Seq[token]) iter.Seq[token] {
	return func(yield func(token) bool) {
		sawNode, appArgs := false, false
		prev, first := "", true
		for t := range toks {
			before, afterAnother := prev, !first
			prev, first = t.text, false
			if path.Base(t.text) == "node" || path.Base(t.text) == "nodejs" {
				sawNode, appArgs = true, false
				continue
			}
			if appArgs {
				continue
			}
			if sawNode && !strings.HasPrefix(t.text, "-") {
				if !(afterAnother && isNodeOldFlag(before) && !strings.Contains(before, "=")) {
					appArgs = true
					continue
				}
				// the value of --max-old-space-size N: kept
			}
			if !yield(t) {
				return
			}
		}
	}
}

var nodeOldFlag = regexp.MustCompile(`^--max[-_]old[-_]space[-_]size(?:=([0-9]+))?$`)

// jvmHeapFlag reads -Xmx<size> or -XX:MaxHeapSize=<size>: the digits of the
// size and its unit (k, m, g, t in either case, or none). It is written out
// rather than a regular expression because every word of every JVM option
// variable passes through it on every review.
func jvmHeapFlag(word string) (digits, unit string, ok bool) {
	rest, found := strings.CutPrefix(word, "-Xmx")
	if !found {
		if rest, found = strings.CutPrefix(word, "-XX:MaxHeapSize="); !found {
			return "", "", false
		}
	}
	if n := len(rest); n > 0 && strings.IndexByte("kKmMgGtT", rest[n-1]) >= 0 {
		rest, unit = rest[:n-1], rest[n-1:]
	}
	if !allDigits(rest) {
		return "", "", false
	}
	return rest, unit, true
}

// isNodeOldFlag matches nodeOldFlag, testing the prefix every match has
// first: most words of a long command line are not flags at all.
func isNodeOldFlag(s string) bool {
	return strings.HasPrefix(s, "--max") && nodeOldFlag.MatchString(s)
}

// unitShift is the shift of a JVM size suffix (k, m, g or t, either case).
func unitShift(unit string) uint {
	switch strings.ToLower(unit) {
	case "k":
		return 10
	case "m":
		return 20
	case "g":
		return 30
	case "t":
		return 40
	}
	return 0
}

func lastJVMHeap(toks iter.Seq[token]) (heapSetting, bool) {
	var h heapSetting
	found := false
	for t := range toks {
		digits, unit, ok := jvmHeapFlag(t.text)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			continue
		}
		shift := unitShift(unit)
		if n > (1<<62)>>shift {
			continue
		}
		h, found = heapSetting{bytes: n << shift, flag: t.text, field: t.field, runtime: "JVM"}, true
	}
	return h, found
}

// lastNodeHeap finds the last --max-old-space-size, written as one word
// (=N) or two (N in the word after).
func lastNodeHeap(toks iter.Seq[token]) (heapSetting, bool) {
	var h heapSetting
	found := false
	consider := func(t token, val, flag string) {
		if !allDigits(val) {
			return
		}
		mb, err := strconv.ParseInt(val, 10, 64)
		if err != nil || mb > 1<<40 {
			return
		}
		h, found = heapSetting{bytes: mb << 20, flag: flag, field: t.field, runtime: "Node.js"}, true
	}
	var pending token // a flag whose value is the next word
	waiting := false
	for t := range toks {
		if waiting {
			consider(pending, t.text, pending.text+" "+t.text)
			waiting = false
		}
		if !isNodeOldFlag(t.text) {
			continue
		}
		if _, val, ok := strings.Cut(t.text, "="); ok {
			consider(t, val, t.text)
			continue
		}
		pending, waiting = t, true
	}
	return h, found
}

// allDigits reports whether s is a non-empty run of ASCII digits: an
// unsigned decimal, as the one-word form --max-old-space-size=N must be.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
