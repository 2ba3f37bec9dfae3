package policy

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// doublingChain is A0 = seed, then A1 = "$(A0)$(A0)" and so on for steps
// more variables: A<steps> is len(seed) << steps bytes long.
func doublingChain(seed string, steps int) []corev1.EnvVar {
	out := []corev1.EnvVar{{Name: "A0", Value: seed}}
	for i := 1; i <= steps; i++ {
		out = append(out, corev1.EnvVar{Name: fmt.Sprintf("A%d", i), Value: fmt.Sprintf("$(A%d)$(A%d)", i-1, i-1)})
	}
	return out
}

// heapCheckOn runs resources.heap-exceeds-limit, the check that expands
// env, on one JVM container with a memory limit and the given env and args
// (and no command, which would count towards the container's total).
func heapCheckOn(t *testing.T, e []corev1.EnvVar, args ...string) ([]Finding, error) {
	t.Helper()
	p := podOf(corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "eclipse-temurin:21",
		Args: args, Env: e, Resources: memLimit("1Gi")}}})
	return checkByID(t, Options{}, ResourcesHeapExceedsLimit).Check(context.Background(), p)
}

// allocated is how many bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestExpansionChainIsBounded(t *testing.T) {
	tests := []struct {
		name  string
		seed  string
		steps int
	}{
		// 17 doublings of a 1 KiB literal: 128 MiB from a 3 KB object.
		{"17 steps from 1 KiB", strings.Repeat("x", 1024), 17},
		// 4 GiB from "xxxx".
		{"30 steps from 4 bytes", "xxxx", 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The first variable longer than the bound is where expansion
			// stops; the container's total is not reached before it.
			over := 0
			for len(tc.seed)<<over <= maxExpandedValue {
				over++
			}
			var fs []Finding
			var err error
			alloc := allocated(func() { fs, err = heapCheckOn(t, doublingChain(tc.seed, tc.steps)) })
			t.Logf("allocated %.1f MiB", float64(alloc)/(1<<20))

			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("error = %v (findings %v), want a *LimitError", err, fs)
			}
			want := LimitError{Field: fmt.Sprintf("%s.containers[0].env[%d].value", tmpl, over), Limit: maxExpandedValue, Scope: LimitValue}
			if *le != want {
				t.Errorf("error = %+v, want %+v", *le, want)
			}
			if fs != nil {
				t.Errorf("findings = %v alongside the error, want none", fs)
			}
			// Everything kept is below the bounds; the builders may
			// double their buffers once more.
			if limit := uint64(2 * maxExpandedContainer); alloc > limit {
				t.Errorf("allocated %d MiB, want at most %d MiB", alloc>>20, limit>>20)
			}
		})
	}
}

func TestExpansionContainerTotal(t *testing.T) {
	big := strings.Repeat("x", maxExpandedValue) // at the bound for one value, so allowed
	field := func(sub string) string { return tmpl + ".containers[0]." + sub }
	tests := []struct {
		name string
		env  []corev1.EnvVar
		args []string
		want *LimitError // nil: evaluated
	}{
		{name: "a value at the bound", env: env("BIG", big)},
		{name: "one byte over the bound", env: env("BIG", big, "MORE", "$(BIG)y"),
			want: &LimitError{Field: field("env[1].value"), Limit: maxExpandedValue, Scope: LimitValue}},
		{name: "a literal over the bound", env: env("BIG", big+"y"),
			want: &LimitError{Field: field("env[0].value"), Limit: maxExpandedValue, Scope: LimitValue}},
		{name: "args up to the container's total", env: env("BIG", big), args: []string{"$(BIG)", "$(BIG)", "$(BIG)"}},
		{name: "args beyond the container's total", env: env("BIG", big), args: []string{"$(BIG)", "$(BIG)", "$(BIG)", "$(BIG)"},
			want: &LimitError{Field: field("args[3]"), Limit: maxExpandedContainer, Scope: LimitContainer}},
		{name: "env beyond the container's total", env: env("BIG", big, "B1", "$(BIG)", "B2", "$(BIG)", "B3", "$(BIG)", "B4", "x"),
			want: &LimitError{Field: field("env[4].value"), Limit: maxExpandedContainer, Scope: LimitContainer}},
		{name: "an escaped reference copies nothing", env: env("BIG", big), args: []string{"$$(BIG)", "$$(BIG)", "$$(BIG)", "$$(BIG)"}},
		{name: "a reference to a secret copies nothing", env: append([]corev1.EnvVar{fromSecret("S")}, env("BIG", big)...),
			args: []string{"$(S)", "$(S)", "$(S)", "$(S)", "$(BIG)", "$(BIG)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := heapCheckOn(t, tc.env, tc.args...)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("error = %v, want a *LimitError", err)
			}
			if *le != *tc.want {
				t.Errorf("error = %+v, want %+v", *le, *tc.want)
			}
		})
	}
}

func TestExpansionPodTotal(t *testing.T) {
	// Each container spends its whole bound: a 2 MiB literal, copied three
	// times. Four such containers spend the pod's.
	big := strings.Repeat("x", maxExpandedValue)
	ctr := func(i int) corev1.Container {
		return corev1.Container{Name: fmt.Sprintf("c%d", i), Image: "eclipse-temurin:21", Env: env("BIG", big),
			Args: []string{"$(BIG)", "$(BIG)", "$(BIG)"}, Resources: memLimit("1Gi")}
	}
	spec := corev1.PodSpec{InitContainers: []corev1.Container{ctr(0)}, Containers: []corev1.Container{ctr(1), ctr(2), ctr(3)}}
	check := checkByID(t, Options{}, ResourcesHeapExceedsLimit)
	if _, err := check.Check(context.Background(), podOf(spec)); err != nil {
		t.Fatalf("four containers at their bound: unexpected error %v", err)
	}

	spec.Containers = append(spec.Containers, ctr(4))
	_, err := check.Check(context.Background(), podOf(spec))
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("error = %v, want a *LimitError", err)
	}
	want := LimitError{Field: tmpl + ".containers[3].env[0].value", Limit: maxExpandedPod, Scope: LimitPod}
	if *le != want {
		t.Errorf("error = %+v, want %+v", *le, want)
	}
}

// An abandoned review stops the check between containers.
func TestHeapCheckStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := podOf(corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "eclipse-temurin:21",
		Args: []string{"-Xmx2g"}, Resources: memLimit("1Gi")}}})
	if fs, err := checkByID(t, Options{}, ResourcesHeapExceedsLimit).Check(ctx, p); !errors.Is(err, context.Canceled) {
		t.Errorf("findings %v, error %v; want context.Canceled", fs, err)
	}
}

// A container over the bound stops only the check that expands its env;
// the other checks of the catalog still run on the pod.
func TestExpansionBoundStopsOnlyTheHeapCheck(t *testing.T) {
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "eclipse-temurin:21", Command: []string{"java"},
		Env: doublingChain("xxxx", 30), Resources: memLimit("1Gi"), LivenessProbe: httpProbe("/", port(8080))}}}
	p := podOf(spec)
	for _, ch := range NewCatalog(Options{}).Checks() {
		_, err := ch.Check(context.Background(), p)
		var le *LimitError
		switch {
		case ch.ID() == ResourcesHeapExceedsLimit && !errors.As(err, &le):
			t.Errorf("%s: error = %v, want a *LimitError", ch.ID(), err)
		case ch.ID() != ResourcesHeapExceedsLimit && err != nil:
			t.Errorf("%s: unexpected error %v", ch.ID(), err)
		}
	}
	// Without a memory limit there is no heap to compare, so nothing is
	// expanded and nothing fails.
	spec.Containers[0].Resources = corev1.ResourceRequirements{}
	if fs, err := checkByID(t, Options{}, ResourcesHeapExceedsLimit).Check(context.Background(), podOf(spec)); err != nil || fs != nil {
		t.Errorf("without a memory limit: findings %v, error %v; want neither", fs, err)
	}
}

func TestLimitErrorMessage(t *testing.T) {
	// The message is what users read: it names the field and the bound.
	for _, e := range []*LimitError{
		{Field: "spec.template.spec.containers[0].env[21].value", Limit: maxExpandedValue, Scope: LimitValue},
		{Field: "spec.containers[1].args[0]", Limit: maxExpandedContainer, Scope: LimitContainer},
		{Field: "spec.containers[4].env[0].value", Limit: maxExpandedPod, Scope: LimitPod},
	} {
		msg := e.Error()
		if !strings.Contains(msg, e.Field) || !strings.Contains(msg, fmt.Sprint(e.Limit)) {
			t.Errorf("%+v: message %q does not name the field and the bound", *e, msg)
		}
	}
}

func TestExpandVarsLimit(t *testing.T) {
	vars := map[string]string{"A": "xx"}
	tests := []struct {
		in    string
		limit int
		want  string
		ok    bool
	}{
		{"$(A)$(A)", 4, "xxxx", true},
		{"$(A)$(A)", 3, "", false},
		{"$(A)$(A)", 0, "", false},
		{"plain", 5, "plain", true},
		{"plain", 4, "", false},
		{"", 0, "", true},
		{"$$$$", 2, "$$", true},
		{"$$$$", 1, "", false},
		{"$(B)", 4, "$(B)", true},
		{"$(B)", 3, "", false},
	}
	for _, tc := range tests {
		got, ok := expandVars(tc.in, vars, tc.limit)
		if got != tc.want || ok != tc.ok {
			t.Errorf("expandVars(%q, limit %d) = %q, %v; want %q, %v", tc.in, tc.limit, got, ok, tc.want, tc.ok)
		}
	}
}
