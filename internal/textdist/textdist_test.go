package textdist

import (
	"fmt"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"latest", "latests", 1}, {"kitten", "sitting", 3}, {"app.yaml", "app.yml", 1},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	got := Closest("DATABASE_URL", []string{"REDIS_URL", "DATABASE_URI", "database_url", "A"})
	if fmt.Sprint(got) != "[DATABASE_URI REDIS_URL A database_url]" {
		t.Errorf("Closest = %v", got)
	}
}

func TestNear(t *testing.T) {
	names := []string{"high-priority", "low-priority", "system-cluster-critical"}
	if got := Near("high-priorty", names); fmt.Sprint(got) != "[high-priority]" {
		t.Errorf("Near(high-priorty) = %v", got)
	}
	if got := Near("batch", names); len(got) != 0 {
		t.Errorf("Near(batch) = %v, want none", got)
	}
}
