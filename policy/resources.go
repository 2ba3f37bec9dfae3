package policy

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

type memoryLimitMissing struct{}

func (memoryLimitMissing) ID() ID { return ResourcesMemoryLimitMissing }

func (memoryLimitMissing) Check(_ context.Context, p *Pod) ([]Finding, error) {
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

// heapSettings finds the effective heap ceilings of a container: at most one
// per runtime, the one that wins by that runtime's precedence.
func heapSettings(c ContainerRef) []heapSetting {
	env := map[string]int{} // name -> index of its last literal definition
	for i, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = i
		} else {
			delete(env, e.Name)
		}
	}
	expand := func(s string) string { return expandVars(s, c.Env, env) }

	var out []heapSetting
	// JVM: JAVA_TOOL_OPTIONS is read first, then JAVA_OPTS (passed on by
	// launch scripts) and the command line, then _JAVA_OPTIONS, which
	// overrides everything; the last -Xmx wins.
	var jvm *heapSetting
	scanEnv := func(name string) {
		if i, ok := env[name]; ok {
			if h, ok := lastJVMHeap(strings.Fields(c.Env[i].Value), fmt.Sprintf("env[%d].value", i)); ok {
				jvm = &h
			}
		}
	}
	scanEnv("JAVA_TOOL_OPTIONS")
	scanEnv("JDK_JAVA_OPTIONS")
	scanEnv("JAVA_OPTS")
	for _, part := range []struct {
		name string
		args []string
	}{{"command", c.Command}, {"args", c.Args}} {
		for i, a := range part.args {
			if h, ok := lastJVMHeap(strings.Fields(expand(a)), fmt.Sprintf("%s[%d]", part.name, i)); ok {
				jvm = &h
			}
		}
	}
	scanEnv("_JAVA_OPTIONS")
	if jvm != nil {
		out = append(out, *jvm)
	}

	// Node.js: NODE_OPTIONS is read first, then the command line.
	var node *heapSetting
	if i, ok := env["NODE_OPTIONS"]; ok {
		if h, ok := lastNodeHeap(strings.Fields(c.Env[i].Value), fmt.Sprintf("env[%d].value", i)); ok {
			node = &h
		}
	}
	for _, part := range []struct {
		name string
		args []string
	}{{"command", c.Command}, {"args", c.Args}} {
		for i, a := range part.args {
			if h, ok := lastNodeHeap(strings.Fields(expand(a)), fmt.Sprintf("%s[%d]", part.name, i)); ok {
				node = &h
			}
		}
	}
	if node != nil {
		out = append(out, *node)
	}

	if i, ok := env["GOMEMLIMIT"]; ok {
		if b, ok := parseGoMemLimit(c.Env[i].Value); ok {
			out = append(out, heapSetting{bytes: b, flag: "GOMEMLIMIT=" + c.Env[i].Value,
				field: fmt.Sprintf("env[%d].value", i), runtime: "Go"})
		}
	}
	return out
}

var (
	xmxFlag     = regexp.MustCompile(`^(?:-Xmx|-XX:MaxHeapSize=)([0-9]+)([kKmMgGtT]?)$`)
	nodeOldFlag = regexp.MustCompile(`^--max[-_]old[-_]space[-_]size(?:=([0-9]+))?$`)
)

func lastJVMHeap(tokens []string, field string) (heapSetting, bool) {
	var h heapSetting
	found := false
	for _, t := range tokens {
		t = strings.Trim(t, `"'`)
		m := xmxFlag.FindStringSubmatch(t)
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
		h, found = heapSetting{bytes: n << shift, flag: t, field: field, runtime: "JVM"}, true
	}
	return h, found
}

func lastNodeHeap(tokens []string, field string) (heapSetting, bool) {
	var h heapSetting
	found := false
	for i, t := range tokens {
		t = strings.Trim(t, `"'`)
		m := nodeOldFlag.FindStringSubmatch(t)
		if m == nil {
			continue
		}
		val, flag := m[1], t
		if val == "" && i+1 < len(tokens) { // --max-old-space-size 4096
			val = strings.Trim(tokens[i+1], `"'`)
			flag = t + " " + val
		}
		mb, err := strconv.ParseInt(val, 10, 64)
		if err != nil || mb > 1<<40 {
			continue
		}
		h, found = heapSetting{bytes: mb << 20, flag: flag, field: field, runtime: "Node.js"}, true
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

// expandVars expands $(NAME) references the way the kubelet does for command
// and args: defined literal env vars are substituted, $$ escapes a dollar,
// and unknown references stay as written.
func expandVars(s string, vars []corev1.EnvVar, idx map[string]int) string {
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
			if j, ok := idx[name]; ok {
				b.WriteString(vars[j].Value)
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
