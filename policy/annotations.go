package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Annotations nobackoff reads from an object or its pod template.
const (
	// SkipAnnotation lists check IDs to exempt, comma-separated, or "all".
	SkipAnnotation = "nobackoff.io/skip"
	// ExpectedStartupAnnotation declares how many seconds the application
	// needs before its probes can pass.
	ExpectedStartupAnnotation = "nobackoff.io/expected-startup-seconds"
)

// ModeLabel is the namespace label that sets nobackoff's mode there:
// enforce, warn or off (the chart's webhook configuration selects
// namespaces by it; an audit leaves "off" namespaces out).
const ModeLabel = "nobackoff.io/mode"

// Skip is the set of checks exempted by the skip annotation.
type Skip struct {
	All bool
	IDs map[ID]bool
}

// Has reports whether findings of the check are exempted.
func (s Skip) Has(id ID) bool { return s.All || s.IDs[id] }

// Merge returns the union of two skip sets.
func (s Skip) Merge(o Skip) Skip {
	out := Skip{All: s.All || o.All, IDs: map[ID]bool{}}
	for id := range s.IDs {
		out.IDs[id] = true
	}
	for id := range o.IDs {
		out.IDs[id] = true
	}
	return out
}

// ParseSkip reads the value of the skip annotation. Unknown IDs are
// reported as an error, so that a typo does not silently exempt nothing,
// while the known ones still apply; known lists the catalog's IDs.
func ParseSkip(value string, known map[ID]bool) (Skip, error) {
	s := Skip{IDs: map[ID]bool{}}
	var unknown []string
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case part == "all":
			s.All = true
		case known[ID(part)]:
			s.IDs[ID(part)] = true
		default:
			unknown = append(unknown, strconv.Quote(part))
		}
	}
	if len(unknown) > 0 {
		return s, fmt.Errorf("unknown check ID %s", strings.Join(unknown, ", "))
	}
	return s, nil
}

// ExpectedStartup is the start time declared for a pod's containers: one
// number for all of them, and/or one per container name.
type ExpectedStartup struct {
	All         int
	ByContainer map[string]int
}

// For returns the declared start time of a container, 0 when none.
func (e ExpectedStartup) For(container string) int {
	if n, ok := e.ByContainer[container]; ok {
		return n
	}
	return e.All
}

// ParseExpectedStartup reads the value of the expected-startup annotation:
// whole seconds from 1 to 3600, either one number for every container
// ("90") or per container ("app=90,envoy=5"), or both ("5,app=90").
func ParseExpectedStartup(value string) (ExpectedStartup, error) {
	e := ExpectedStartup{ByContainer: map[string]int{}}
	seconds := func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 3600 {
			return 0, fmt.Errorf("%q is not a whole number of seconds from 1 to 3600", strings.TrimSpace(s))
		}
		return n, nil
	}
	for _, part := range strings.Split(value, ",") {
		name, secs, perContainer := strings.Cut(part, "=")
		if !perContainer {
			n, err := seconds(part)
			if err != nil {
				return ExpectedStartup{}, err
			}
			e.All = n
			continue
		}
		n, err := seconds(secs)
		if err != nil {
			return ExpectedStartup{}, fmt.Errorf("container %q: %w", strings.TrimSpace(name), err)
		}
		e.ByContainer[strings.TrimSpace(name)] = n
	}
	return e, nil
}
