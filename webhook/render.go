package webhook

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

// Limits of what kubectl shows: the API server truncates each warning and
// drops warnings past a total, so nobackoff keeps within both itself and
// says what it left out.
const (
	maxWarningLen    = 256
	maxWarningsTotal = 4096
	// Room kept for the closing "and N more" warning.
	overflowReserve = 120
	// maxDenialLen is what a denial aims to stay within: findings are
	// shortened to a fair share of it.
	maxDenialLen = 8192
	// maxDenialHardLen bounds a denial whatever the number of findings:
	// with hundreds, each is down to its check ID and field path, and past
	// this the rest are counted (a pod that many containers is over the
	// object limits long before).
	maxDenialHardLen = 32 << 10
)

// warningLine is a finding as a kubectl warning: the fix is added when the
// line stays within the per-warning limit.
func warningLine(f policy.Finding) string {
	line := f.Line()
	if f.Fix != "" {
		if withFix := line + "; fix: " + policy.OneLine(f.Fix); len(withFix) <= maxWarningLen {
			return withFix
		}
	}
	return truncate(line, maxWarningLen)
}

// Warnings renders what kubectl should print. includeErrors is false when
// error-level findings go into a denial instead. Info findings are never
// sent to kubectl.
func Warnings(res *engine.Result, includeErrors bool) []string {
	var lines []string
	for _, f := range res.Findings {
		if f.Severity == policy.Info || (f.Severity == policy.Error && !includeErrors) {
			continue
		}
		lines = append(lines, warningLine(f))
	}
	for _, e := range res.Invalid {
		lines = append(lines, truncate(policy.OneLine("[nobackoff] "+e.Error()), maxWarningLen))
	}
	for _, cf := range res.Failures {
		lines = append(lines, truncate(policy.OneLine(fmt.Sprintf("[%s] could not be evaluated: %v", cf.Check, cf.Err)), maxWarningLen))
	}
	return capWarnings(lines)
}

// capWarnings keeps the warnings within the API server's total, replacing
// the ones that do not fit with a count.
func capWarnings(lines []string) []string {
	total := 0
	for i, l := range lines {
		if total+len(l) > maxWarningsTotal-overflowReserve && i < len(lines)-1 || total+len(l) > maxWarningsTotal {
			kept := lines[:i:i]
			return append(kept, fmt.Sprintf("[nobackoff] %d more findings not shown: run `nobackoff check` on the manifest for the full list", len(lines)-i))
		}
		total += len(l)
	}
	return lines
}

// DenialMessage lists every error-level finding with its field path and
// fix, for enforce mode. When they do not all fit in maxDenialLen, each
// finding's text is shortened to a fair share of it: every finding keeps
// its check ID and field path, so the denial names every problem (up to
// maxDenialHardLen).
func DenialMessage(w *workload.Workload, res *engine.Result) string {
	var errs []policy.Finding
	for _, f := range res.Findings {
		if f.Severity == policy.Error {
			errs = append(errs, f)
		}
	}
	noun := "problem"
	if len(errs) != 1 {
		noun = "problems"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "nobackoff: %s has %d %s that will stop its pods from coming up (enforce mode):", w.Ref(), len(errs), noun)
	if len(errs) == 0 {
		return b.String()
	}
	share := (maxDenialLen - b.Len()) / len(errs)
	for i, f := range errs {
		entry := denialEntry(f, share)
		if b.Len()+len(entry) > maxDenialHardLen-overflowReserve {
			fmt.Fprintf(&b, "\n- ... %d more: run `nobackoff check` on the manifest for them", len(errs)-i)
			break
		}
		b.WriteString(entry)
	}
	return b.String()
}

// Sizes below which a denial entry's parts are not shortened further, and
// the share below which an entry is only its check ID and field path.
const (
	minDenialLine = 100
	minDenialFix  = 60
	maxDenialPath = 256
	compactBelow  = 160
)

// denialEntry renders one finding for a denial in about share bytes,
// shortening its message and fix (never its check ID) when it is longer.
func denialEntry(f policy.Finding, share int) string {
	line, fix, field := f.Line(), policy.OneLine(f.Fix), truncate(policy.OneLine(f.Field), maxDenialPath)
	if share < compactBelow {
		head := "[" + string(f.Check) + "]"
		if f.Container != "" {
			head += " container " + strconv.Quote(truncate(f.Container, 64))
		}
		return "\n- " + policy.OneLine(head) + "\n  at " + field
	}
	room := share - len("\n- \n  at ") - len(field)
	if fix != "" {
		room -= len("\n  fix: ")
	}
	if len(line)+len(fix) > room {
		if fix == "" {
			line = truncate(line, max(room, minDenialLine))
		} else {
			line = truncate(line, max(room*2/3, minDenialLine))
			fix = truncate(fix, max(room-len(line), minDenialFix))
		}
	}
	entry := "\n- " + line + "\n  at " + field
	if fix != "" {
		entry += "\n  fix: " + fix
	}
	return entry
}

// truncate shortens s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-len("..."), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
