package policy

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// commandNotFound finds containers whose first word cannot be a program: a
// shell builtin, or a whole command line written as one element. The
// runtime looks the word up as a file, finds none and the container fails
// to start ("exec: ...: executable file not found in $PATH", reason
// StartError); a container that is restarted goes into CrashLoopBackOff.
type commandNotFound struct{}

func (commandNotFound) ID() ID { return CommandNotFound }

func (commandNotFound) Check(_ context.Context, p *Pod) ([]Finding, error) {
	var out []Finding
	budget := newPodBudget()
	for _, c := range p.Containers() {
		word, field, list, ok := firstWord(p, c)
		if !ok {
			continue
		}
		if strings.Contains(word, "$(") { // a variable: look at its value
			env, err := envValues(c, budget)
			if err != nil {
				return nil, err
			}
			if word, err = env.expand(c, word, field); err != nil {
				return nil, err
			}
			if strings.Contains(word, "$(") {
				continue // set from a ConfigMap or Secret: unknown here
			}
		}
		restarts := containerRestarts(p, c)
		sev, msg, fix, ok := judgeFirstWord(word, list, restarts)
		if !ok {
			continue
		}
		f := c.Finding(CommandNotFound, sev, field, msg, fix)
		if !restarts || sev != Error {
			f.Outcome = NoOutcome
		}
		out = append(out, f)
	}
	return out, nil
}

// firstWord is the word the runtime executes, when the pod decides it: the
// first element of command; or the first of args when the image has no
// Entrypoint (read from the registry) and the pod sets no command. list is
// the whole command line of the pod, for the fix.
func firstWord(p *Pod, c ContainerRef) (word, field string, list []string, ok bool) {
	if len(c.Command) > 0 {
		return c.Command[0], "command[0]", append(append([]string(nil), c.Command...), c.Args...), true
	}
	if img := imageConfigOf(p, c); img != nil && len(img.Entrypoint) == 0 && len(c.Args) > 0 {
		return c.Args[0], "args[0]", c.Args, true
	}
	return "", "", nil, false
}

// containerRestarts reports whether the kubelet restarts the container
// when it fails: sidecars always, other containers unless the pod's
// restartPolicy is Never.
func containerRestarts(p *Pod, c ContainerRef) bool {
	return c.Sidecar() || p.Spec.RestartPolicy != corev1.RestartPolicyNever
}

// judgeFirstWord decides whether a first word can be a program.
//
//   - Whitespace inside it: the runtime takes the whole element as one file
//     name ("sh -c 'run'"), which no image holds.
//   - A shell builtin that no distribution ships as a program (exit, export,
//     source, ...): not found on any image.
//   - A builtin that Red Hat's bash package also ships as a small script
//     (cd, read, wait, ...): not found elsewhere; where it exists it runs
//     and exits at once. Either way a container that must keep running
//     restarts for ever (an error); a run-to-completion container may only
//     do nothing (a warning).
func judgeFirstWord(word string, list []string, restarts bool) (Severity, string, string, bool) {
	if strings.TrimSpace(word) == "" {
		return 0, "", "", false
	}
	if strings.ContainsAny(word, " \t\n") {
		return Error, fmt.Sprintf("command %q is a whole command line in one element: the runtime looks for a program of that name and fails to start the container (executable file not found)", clip(word)),
			"give each word its own element, or run the line through a shell: " + shellFix(list), true
	}
	if strings.Contains(word, "/") {
		return 0, "", "", false // a path (./exit too): a file the image may well hold
	}
	switch {
	case specialBuiltins[word]:
		return Error, fmt.Sprintf("command %q is a shell builtin, not a program: the container fails to start (executable file not found)", word),
			"run it through a shell: " + shellFix(list), true
	case scriptedBuiltins[word]:
		if restarts {
			return Error, fmt.Sprintf("command %q is a shell builtin: the container fails to start (executable file not found) or, on images that ship it as a script, exits at once and is restarted for ever", word),
				"run it through a shell: " + shellFix(list), true
		}
		return Warning, fmt.Sprintf("command %q is a shell builtin: the container fails to start (executable file not found) or, on images that ship it as a script, does nothing", word),
			"run it through a shell: " + shellFix(list), true
	}
	return 0, "", "", false
}

// specialBuiltins are shell builtins that exist only inside a shell.
var specialBuiltins = map[string]bool{
	"exit": true, "export": true, "set": true, "unset": true, "source": true, ".": true, "eval": true,
	"exec": true, "return": true, "shift": true, "trap": true, "readonly": true, "break": true,
	"continue": true, ":": true, "declare": true, "local": true, "typeset": true, "let": true,
	"shopt": true, "pushd": true, "popd": true, "builtin": true,
}

// scriptedBuiltins are builtins that some images (Red Hat's bash package)
// also ship as programs wrapping the builtin.
var scriptedBuiltins = map[string]bool{
	"cd": true, "alias": true, "bg": true, "command": true, "fc": true, "fg": true, "getopts": true,
	"hash": true, "jobs": true, "read": true, "type": true, "ulimit": true, "umask": true,
	"unalias": true, "wait": true,
}

// shellFix writes the pod's command line as sh -c "...". A single element
// that is itself "sh -c '...'" is unwrapped.
func shellFix(list []string) string {
	line := strings.Join(list, " ")
	if len(list) == 1 {
		if f := strings.Fields(list[0]); len(f) >= 3 && isShell(f[0]) && f[1] == "-c" {
			rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(list[0])[len(f[0]):], " "))
			rest = strings.TrimSpace(strings.TrimPrefix(rest, "-c"))
			if len(rest) >= 2 && (rest[0] == '\'' || rest[0] == '"') && rest[len(rest)-1] == rest[0] {
				rest = rest[1 : len(rest)-1]
			}
			return fmt.Sprintf("command: [%s, \"-c\", %s]", strconv.Quote(f[0]), strconv.Quote(clip(rest)))
		}
	}
	return fmt.Sprintf("command: [\"sh\", \"-c\", %s]", strconv.Quote(clip(line)))
}

func isShell(word string) bool {
	switch path.Base(word) {
	case "sh", "bash", "ash", "dash", "zsh", "ksh":
		return true
	}
	return false
}

// clip shortens a command line for a message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && (s[cut]&0xC0) == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "..."
}
