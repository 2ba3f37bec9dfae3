package webhook

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

// TestDenialNamesEveryProblem: findings too long for the denial are
// shortened, never left out; each keeps its check ID and field path.
func TestDenialNamesEveryProblem(t *testing.T) {
	w := &workload.Workload{Kind: "Deployment"}
	w.Namespace, w.Name = "shop", "web"
	long := strings.Repeat("a very long explanation ", 1000)
	for _, n := range []int{1, 2, 30, 200, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var res engine.Result
			for i := range n {
				f := policy.Finding{Check: policy.ImageTagNotFound, Severity: policy.Error, Container: fmt.Sprintf("c%d", i),
					Field: fmt.Sprintf("spec.template.spec.containers[%d].image", i), Message: long}
				if i%2 == 0 {
					f.Fix = long
				}
				res.Findings = append(res.Findings, f)
			}
			// A warning between them is not part of the denial.
			res.Findings = append(res.Findings, policy.Finding{Check: policy.ProbeLivenessEqualsReadines, Severity: policy.Warning,
				Field: "spec.template.spec.containers[0].livenessProbe", Message: "same"})
			msg := DenialMessage(w, &res)
			if len(msg) > maxDenialHardLen {
				t.Fatalf("denial of %d bytes for %d findings, hard bound %d", len(msg), n, maxDenialHardLen)
			}
			entries := strings.Split(msg, "\n- ")[1:]
			if n > 1000 {
				// Past the hard bound the rest are counted, never silently.
				var more int
				if _, err := fmt.Sscanf(entries[len(entries)-1], "... %d more", &more); err != nil || len(entries)-1+more != n {
					t.Fatalf("%d entries shown, last %.60q: want the rest of %d counted", len(entries)-1, entries[len(entries)-1], n)
				}
				entries = entries[:len(entries)-1]
			} else if len(entries) != n {
				t.Fatalf("%d entries for %d error findings", len(entries), n)
			}
			for i, e := range entries {
				if !strings.HasPrefix(e, "["+string(policy.ImageTagNotFound)+"] ") {
					t.Errorf("entry %d lost its check ID: %.80q", i, e)
				}
				if want := fmt.Sprintf("\n  at spec.template.spec.containers[%d].image", i); !strings.Contains(e, want) {
					t.Errorf("entry %d lost its field path", i)
				}
				if n <= 30 && i%2 == 0 && !strings.Contains(e, "\n  fix: ") {
					t.Errorf("entry %d lost its fix", i)
				}
			}
			// Within the budget while the findings' minimal forms fit in it.
			if n <= 30 && len(msg) > maxDenialLen {
				t.Errorf("denial of %d bytes for %d findings, budget %d", len(msg), n, maxDenialLen)
			}
		})
	}
}
