package policy

import (
	"context"
	"fmt"
	"iter"
	"path"
	"regexp"
	"slices"
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
		// Ephemeral containers cannot have resources. An init container
		// that is not a sidecar runs to completion before the app starts:
		// it copies a file or waits on a port and holds no memory for long.
		if c.Kind == Ephemeral || (c.Kind == Init && !c.Sidecar()) {
			continue
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			continue
		}
		out = append(out, c.Finding(ResourcesMemoryLimitMissing, Info, "resources.limits.memory",
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
	// unsure names the launch-script variable the setting depends on when
	// it cannot be known whether a script reading it runs (the image's
	// Entrypoint is unknown, or runs a script that may not read it).
	unsure string
	// blind is set with unsure when the launch line itself is unknown (no
	// image facts: offline, or the lookup was inconclusive).
	blind bool
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
		settings, err := heapSettings(c, imageConfigOf(p, c), budget)
		if err != nil {
			return nil, err
		}
		for _, h := range settings {
			if f, ok := heapFinding(c, h, limit); ok {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// imageConfigOf is the configuration of the container's image when the
// registry was asked and answered; nil otherwise.
func imageConfigOf(p *Pod, c ContainerRef) *ImageConfig {
	if p.Images == nil {
		return nil
	}
	if l, ok := p.Images[c.Image]; ok && l != nil && l.Outcome == LookupOK {
		return l.Config
	}
	return nil
}

// heapFinding judges one heap ceiling against the container's memory limit.
//
//   - At or above the limit, from a source the runtime certainly reads: an
//     error. The runtime believes it may use more than the container has,
//     so the container is OOMKilled once the heap grows.
//   - At or above the limit from a launch-script variable nothing shows is
//     read: a warning without a foretold state when a script that may read
//     it runs, advice when the image's Entrypoint is unknown.
//   - Below the limit but leaving less than the runtime needs besides its
//     heap (heapHeadroom): a warning. Whether it is killed depends on the
//     load, so no state is foretold.
func heapFinding(c ContainerRef, h heapSetting, limit resource.Quantity) (Finding, bool) {
	lim := limit.Value()
	heap := fmt.Sprintf("%s heap %s (%s)", h.runtime, h.flag, formatBytes(h.bytes))
	switch {
	case h.bytes >= lim && h.unsure == "":
		return c.Finding(ResourcesHeapExceedsLimit, Error, h.field,
			fmt.Sprintf("%s >= memory limit %s: OOMKilled once the heap grows", heap, limit.String()),
			heapFix(h, lim)), true
	case h.bytes >= lim:
		// A script that may read the variable runs: a warning. Nothing is
		// known of the image's Entrypoint: Jib's and distroless images
		// start java directly and never read it, so advice only.
		sev, which := Warning, "the image's launch script"
		if h.blind {
			sev, which = Info, "a launch script in the image (its Entrypoint is unknown here)"
		}
		f := c.Finding(ResourcesHeapExceedsLimit, sev, h.field,
			fmt.Sprintf("%s >= memory limit %s: OOMKilled once the heap grows, if %s reads %s",
				heap, limit.String(), which, h.unsure),
			heapFix(h, lim))
		f.Outcome = NoOutcome
		return f, true
	case h.unsure == "":
		room, ok := heapHeadroom(h.runtime, lim)
		if !ok || h.bytes <= lim-room {
			return Finding{}, false
		}
		f := c.Finding(ResourcesHeapExceedsLimit, Warning, h.field,
			fmt.Sprintf("%s leaves %s of the %s limit for everything else (needs %s or more): OOMKilled under load",
				heap, formatBytes(lim-h.bytes), limit.String(), formatBytes(room)),
			heapFix(h, lim))
		f.Outcome = NoOutcome
		return f, true
	}
	return Finding{}, false
}

// heapHeadroom is the memory a runtime needs besides its heap ceiling, so
// that a full heap still fits under the container's limit: a quarter of
// the limit, and at least 64 MiB. Go's GOMEMLIMIT already counts the whole
// runtime: none.
//
// Measured with OpenJDK 17 (G1 and Serial) and Node 20 filling their heaps
// under memory cgroups of 256 MiB, 512 MiB and 1 GiB: at 100% of the limit
// 20 of 21 runs were OOMKilled; at 95% all Node runs and about half the JVM
// runs; at 90% and below none. A program that does nothing else still
// needs 25-50 MiB besides a full JVM heap (GC structures, about 4% of the
// heap with G1, class data, thread stacks) plus 20 MiB of mapped libraries;
// Node 16-60 MiB (its young generation and code lie outside
// --max-old-space-size, Buffers too). Real services add metaspace, code
// cache, threads and direct buffers (up to the heap's size by default),
// hence the common advice of 75%, which Node's own documentation gives.
func heapHeadroom(runtime string, limit int64) (int64, bool) {
	switch runtime {
	case "JVM", "Node.js":
		return max(limit/4, minHeapHeadroom), true
	}
	return 0, false
}

const minHeapHeadroom = 64 << 20

// heapFix suggests the largest ceiling that leaves the runtime its
// headroom, always below the one set (a finding is made only above it).
func heapFix(h heapSetting, limit int64) string {
	room, ok := heapHeadroom(h.runtime, limit)
	if !ok {
		return fmt.Sprintf("use ~90%% of the limit (GOMEMLIMIT=%dMiB)", limit*9/10>>20)
	}
	safe := max(limit-room, 0)
	switch h.runtime {
	case "JVM":
		pct := 100 * safe / limit
		return fmt.Sprintf("use at most %s (%d%% of the limit) or -XX:MaxRAMPercentage=%d", jvmSize(safe), pct, pct)
	default:
		return fmt.Sprintf("use at most --max-old-space-size=%d (%d%% of the limit)", safe>>20, 100*safe/limit)
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
// Elasticsearch's and Kafka's start scripts, many images' entrypoints) pass
// to java. The JVM itself does not read them, so they count only when a
// script that reads them runs (scriptReads).
func scriptJVMOptions() []string {
	return []string{"JAVA_OPTS", "CATALINA_OPTS", "ES_JAVA_OPTS", "KAFKA_HEAP_OPTS", "JVM_OPTS"}
}

// heapSettings finds the effective heap ceilings of a container: at most one
// per runtime, the one that wins by that runtime's precedence (two for the
// JVM when a launch-script variable may or may not decide it). img is the
// image's configuration when known. The error is a *LimitError: the
// container's $(VAR) references expand to more than any real pod's.
func heapSettings(c ContainerRef, img *ImageConfig, pod *podBudget) ([]heapSetting, error) {
	env, err := envValues(c, pod)
	if err != nil {
		return nil, err
	}
	cmd, err := commandTokens(c, env)
	if err != nil {
		return nil, err
	}
	line, known := launchLine(c, img, cmd)
	// The line is read several times below (the JVM's options, Node's,
	// the scripts'); each reading would expand it again: read it once.
	// Words kept, a line without a word a JVM or Node heap flag starts
	// with is not searched for one.
	jvmFlags, nodeFlags := true, true
	if words, ok := collectWords(line); ok {
		line = slices.Values(words)
		jvmFlags, nodeFlags = false, false
		for _, w := range words {
			jvmFlags = jvmFlags || strings.HasPrefix(w.text, "-X")      // -Xmx, -XX:MaxHeapSize=
			nodeFlags = nodeFlags || strings.HasPrefix(w.text, "--max") // --max-old-space-size
		}
	}
	var out []heapSetting

	// JVM: JAVA_TOOL_OPTIONS and JDK_JAVA_OPTIONS are read by the JVM
	// before its command line; the launch scripts' variables come before
	// the command line too; _JAVA_OPTIONS overrides everything. The last
	// -Xmx wins. Sources are read in that order, and variables the
	// container does not set are not read at all (every review runs this
	// for every container). sure follows only what is certainly read;
	// maybe also takes the script variables whose reading is unknown.
	var sure, maybe heapSetting
	sureFound, maybeFound, unsure := false, false, ""
	readJVM := func(toks iter.Seq[token], certain bool) {
		h, ok := lastJVMHeap(toks)
		if !ok {
			return
		}
		maybe, maybeFound = h, true
		if certain {
			sure, sureFound = h, true
		}
	}
	readJVMEnv := func(name string, certain bool) {
		if _, ok := env.index[name]; ok {
			readJVM(envTokens(env, name), certain)
		}
	}
	readJVMEnv("JAVA_TOOL_OPTIONS", true)
	readJVMEnv("JDK_JAVA_OPTIONS", true)
	for _, v := range scriptJVMOptions() {
		if _, ok := env.index[v]; !ok {
			continue
		}
		switch scriptReads(line, known, v) {
		case readCertain:
			readJVMEnv(v, true)
		case readUnknown:
			before := maybe
			readJVMEnv(v, false)
			if maybe != before {
				unsure = v
			}
		}
	}
	if jvmFlags {
		readJVM(jvmLauncherOptions(line), true)
	}
	readJVMEnv("_JAVA_OPTIONS", true)
	switch {
	case maybeFound && (!sureFound || maybe != sure):
		// The winner depends on whether the script reads its variable:
		// neither is certain.
		maybe.unsure, maybe.blind = unsure, !known
		out = append(out, maybe)
		if sureFound {
			sure.unsure, sure.blind = unsure, !known
			out = append(out, sure)
		}
	case sureFound:
		out = append(out, sure)
	}

	// Node.js: NODE_OPTIONS is read first, then the command line.
	node, nodeFound := heapSetting{}, false
	if _, ok := env.index["NODE_OPTIONS"]; ok {
		node, nodeFound = lastNodeHeap(envTokens(env, "NODE_OPTIONS"))
	}
	if nodeFlags {
		if h, ok := lastNodeHeap(nodeOptions(line)); ok {
			node, nodeFound = h, true
		}
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

// maxReplayTokens bounds the words collectWords keeps: a real command
// line has far fewer; one expanded to millions of words is read again on
// each pass instead.
const maxReplayTokens = 1024

// collectWords returns the words of toks, or false when there are more than
// maxReplayTokens.
func collectWords(toks iter.Seq[token]) ([]token, bool) {
	var kept []token
	for t := range toks {
		if len(kept) == maxReplayTokens {
			return nil, false
		}
		kept = append(kept, t)
	}
	return kept, true
}

// launchLine is the command line the container starts with: the pod's
// command and args when it sets a command; else the image's Entrypoint,
// followed by the pod's args or, when it sets none, the image's Cmd. Words
// from the image carry the field "image". known is false when the image's
// part is needed but its configuration was not read: the line is then the
// pod's args alone.
func launchLine(c ContainerRef, img *ImageConfig, cmd iter.Seq[token]) (iter.Seq[token], bool) {
	if len(c.Command) > 0 {
		return cmd, true
	}
	if img == nil {
		return cmd, false
	}
	return func(yield func(token) bool) {
		words := func(list []string) bool {
			for _, a := range list {
				for w := range strings.FieldsSeq(a) {
					if !yield(token{trimBytes(w, `"';`), "image"}) {
						return false
					}
				}
			}
			return true
		}
		if !words(img.Entrypoint) {
			return
		}
		if len(c.Args) > 0 {
			for t := range cmd {
				if !yield(t) {
					return
				}
			}
			return
		}
		words(img.Cmd)
	}, true
}

// scriptRead says whether a launch script reads a variable.
type scriptRead int

const (
	readNot scriptRead = iota
	readCertain
	readUnknown
)

// scriptReads decides whether the container's launch line has a script
// read the variable: not when it starts java directly (Jib's and distroless
// images' Entrypoint, or the pod's command), certainly when the line
// expands it ($JAVA_OPTS in a shell line) or runs a launcher known to read
// it (catalina.sh); otherwise, and when the line is not known, it cannot be
// told.
func scriptReads(line iter.Seq[token], known bool, name string) scriptRead {
	if !known {
		return readUnknown
	}
	if startsJavaDirectly(line) {
		return readNot
	}
	for t := range line {
		if expandsVariable(t.text, name) {
			return readCertain
		}
		for _, v := range launcherReads(path.Base(t.text)) {
			if v == name {
				return readCertain
			}
		}
	}
	return readUnknown
}

// launcherReads lists the variables a well-known launch script passes to
// java.
func launcherReads(script string) []string {
	switch script {
	case "catalina.sh":
		return []string{"CATALINA_OPTS", "JAVA_OPTS"}
	case "kafka-server-start.sh":
		return []string{"KAFKA_HEAP_OPTS"}
	}
	return nil
}

// expandsVariable reports whether a shell word expands the variable, as
// $NAME or ${NAME...}.
func expandsVariable(word, name string) bool {
	for i := strings.IndexByte(word, '$'); i >= 0 && i < len(word); {
		rest := word[i+1:]
		if r, ok := strings.CutPrefix(rest, "{"); ok {
			rest = r
		}
		if after, ok := strings.CutPrefix(rest, name); ok && (after == "" || !isNameByte(after[0])) {
			return true
		}
		j := strings.IndexByte(rest, '$')
		if j < 0 {
			return false
		}
		i = len(word) - len(rest) + j
	}
	return false
}

// baseIs reports whether the last element of a path is name (path.Base),
// testing first the suffix every match has: most words of a command line
// are not paths to the program looked for.
func baseIs(word, name string) bool {
	return strings.HasSuffix(strings.TrimRight(word, "/"), name) && path.Base(word) == name
}

func isNameByte(b byte) bool {
	return b == '_' || ('0' <= b && b <= '9') || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z')
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
			if baseIs(t.text, "java") {
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
		if first && !baseIs(t.text, "java") {
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
			if baseIs(t.text, "node") || baseIs(t.text, "nodejs") {
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
