package policy

import (
	"fmt"
	"iter"
	"strconv"
	"strings"
)

// Bounds on $(VAR) expansion. A reference copies a whole value, so a chain
// of variables that each name the previous one twice doubles at every
// step: a few kilobytes of spec expand to gigabytes. No container that can
// start comes near these bounds. Linux's execve refuses any single argument
// or environment string longer than 32 pages (MAX_ARG_STRLEN: 128 KiB with
// 4 KiB pages, 2 MiB with 64 KiB pages) and all of them together beyond
// 6 MiB (three quarters of the kernel's 8 MiB _STK_LIM, whatever the stack
// limit). The API server stores at most ~1.5 MiB for a whole object, so no
// literal value reaches maxExpandedValue either: only references
// multiplying the input do.
const (
	// maxExpandedValue bounds one expanded env value, command or args
	// entry.
	maxExpandedValue = 2 << 20
	// maxExpandedContainer bounds everything expanded for one container:
	// its env values, command and args together.
	maxExpandedContainer = 8 << 20
	// maxExpandedPod bounds the expansions of all of a pod's containers:
	// without it, each container of a pod, a few kilobytes of spec apiece,
	// could cost as much as the container bound allows. A real pod's
	// expansions add up to about its own text, ~1.5 MiB at most; this is
	// twenty times that, four containers at their bound.
	maxExpandedPod = 4 * maxExpandedContainer
)

// Scopes of LimitError: what the bound crossed applies to.
const (
	LimitValue     = "value"
	LimitContainer = "container"
	LimitPod       = "pod"
)

// LimitError is the error of a check that did not evaluate a container
// because expanding its $(VAR) references would produce more text than any
// real pod holds. It says nothing about whether the pod is good or bad.
type LimitError struct {
	// Field is the full field path of the value whose expansion crossed
	// the bound, e.g. spec.template.spec.containers[0].env[21].value.
	Field string
	// Limit is the bound in bytes.
	Limit int
	// Scope is what the bound applies to: LimitValue (one env value,
	// command or args entry), LimitContainer (a container's env, command
	// and args together) or LimitPod (all of the pod's containers).
	Scope string
}

func (e *LimitError) Error() string {
	switch e.Scope {
	case LimitContainer:
		return fmt.Sprintf("%s: $(VAR) expansion exceeds %d bytes for the container's env, command and args together", e.Field, e.Limit)
	case LimitPod:
		return fmt.Sprintf("%s: $(VAR) expansion exceeds %d bytes for the pod's containers together", e.Field, e.Limit)
	}
	return fmt.Sprintf("%s: $(VAR) expansion exceeds %d bytes", e.Field, e.Limit)
}

// podBudget is what the expansions of one pod's containers may still add
// up to.
type podBudget struct{ left int }

func newPodBudget() *podBudget { return &podBudget{left: maxExpandedPod} }

// containerEnv is a container's literal env values resolved the way the
// kubelet resolves them, and how much its expansions may still produce.
type containerEnv struct {
	values map[string]string
	// index is the position in env of each variable's definition in force.
	index map[string]int
	// left is what this container's expansions may still add up to.
	left int
	pod  *podBudget
}

// envValues resolves the container's literal env values the way the kubelet
// does: in order, each value may reference earlier variables as $(NAME).
// Variables set with valueFrom are unknown until the pod runs. Expansions
// are charged to pod. The error is a *LimitError.
func envValues(c ContainerRef, pod *podBudget) (*containerEnv, error) {
	e := &containerEnv{left: maxExpandedContainer, pod: pod}
	if len(c.Env) == 0 {
		return e, nil // nil maps: read, never written
	}
	e.values, e.index = make(map[string]string, len(c.Env)), make(map[string]int, len(c.Env))
	for i, ev := range c.Env {
		if ev.ValueFrom != nil {
			delete(e.values, ev.Name)
			delete(e.index, ev.Name)
			continue
		}
		v, err := e.expand(c, ev.Value, "env["+strconv.Itoa(i)+"].value")
		if err != nil {
			return nil, err
		}
		e.values[ev.Name] = v
		e.index[ev.Name] = i
	}
	return e, nil
}

// expand expands the references of the container's value at sub (such as
// env[3].value or args[1]) and charges the result to the container and its
// pod.
func (e *containerEnv) expand(c ContainerRef, s, sub string) (string, error) {
	// The nearest bound is the one the value may cross.
	limit, bound, scope := maxExpandedValue, maxExpandedValue, LimitValue
	if e.left < limit {
		limit, bound, scope = e.left, maxExpandedContainer, LimitContainer
	}
	if e.pod.left < limit {
		limit, bound, scope = e.pod.left, maxExpandedPod, LimitPod
	}
	out, ok := expandVars(s, e.values, limit)
	if !ok {
		return "", &LimitError{Field: c.Field(sub), Limit: bound, Scope: scope}
	}
	e.left -= len(out)
	e.pod.left -= len(out)
	return out, nil
}

// expandVars expands $(NAME) references the way the kubelet does: defined
// variables are substituted, $$ escapes a dollar, and unknown references
// stay as written. It gives up, returning false, as soon as the result
// would be longer than limit bytes, so it never holds more than that.
func expandVars(s string, vars map[string]string, limit int) (string, bool) {
	if !strings.Contains(s, "$") {
		if len(s) > limit {
			return "", false
		}
		return s, true
	}
	var b strings.Builder
	b.Grow(min(len(s), limit))
	ok := true
	write := func(t string) {
		if ok && len(t) > limit-b.Len() {
			ok = false
		}
		if ok {
			b.WriteString(t)
		}
	}
	for ok && s != "" {
		i := strings.IndexByte(s, '$')
		if i < 0 || i+1 == len(s) { // no operator left, or a trailing one, which stays
			write(s)
			break
		}
		write(s[:i])
		s = s[i:]
		switch s[1] {
		case '$':
			write("$")
			s = s[2:]
		case '(':
			end := strings.IndexByte(s[2:], ')')
			if end < 0 {
				// An unclosed reference stays as written, but an escape
				// after it is still one.
				write("$(")
				s = s[2:]
				continue
			}
			if v, found := vars[s[2:2+end]]; found {
				write(v)
			} else {
				write(s[:3+end])
			}
			s = s[3+end:]
		default:
			// Not a reference: the operator stays, and so does the byte
			// after it, which is neither "$" nor "(".
			write(s[:2])
			s = s[2:]
		}
	}
	if !ok {
		return "", false
	}
	return b.String(), true
}

// commandEntry is one element of command or args after $(VAR) expansion.
type commandEntry struct {
	text  string
	field string // e.g. args[1]
}

// commandTokens expands command and args and returns their words, in
// order. Words of one entry share its field; a shell script in one entry
// ("sh -c 'java -Xmx2g ...'") is read the same way as separate entries.
// The words are split as they are read, so a long command line costs no
// memory beyond its expanded text. The error is a *LimitError.
func commandTokens(c ContainerRef, env *containerEnv) (iter.Seq[token], error) {
	var entries []commandEntry
	for _, part := range []struct {
		name string
		args []string
	}{{"command", c.Command}, {"args", c.Args}} {
		for i, a := range part.args {
			field := part.name + "[" + strconv.Itoa(i) + "]"
			s, err := env.expand(c, a, field)
			if err != nil {
				return nil, err
			}
			entries = append(entries, commandEntry{s, field})
		}
	}
	return func(yield func(token) bool) {
		for _, e := range entries {
			for w := range strings.FieldsSeq(e.text) {
				if !yield(token{trimBytes(w, `"';`), e.field}) {
					return
				}
			}
		}
	}, nil
}

// envTokens returns the words of a resolved env variable's value.
func envTokens(env *containerEnv, name string) iter.Seq[token] {
	return func(yield func(token) bool) {
		i, ok := env.index[name]
		if !ok {
			return
		}
		field := "env[" + strconv.Itoa(i) + "].value"
		for w := range strings.FieldsSeq(env.values[name]) {
			if !yield(token{trimBytes(w, `"'`), field}) {
				return
			}
		}
	}
}

// trimBytes is strings.Trim for a cutset of ASCII bytes, without building
// a set for every word of a command line that may have millions.
func trimBytes(s, cutset string) string {
	for s != "" && inCutset(s[0], cutset) {
		s = s[1:]
	}
	for s != "" && inCutset(s[len(s)-1], cutset) {
		s = s[:len(s)-1]
	}
	return s
}

func inCutset(b byte, cutset string) bool {
	for i := 0; i < len(cutset); i++ {
		if cutset[i] == b {
			return true
		}
	}
	return false
}
