package policy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseSkip(f *testing.F) {
	for _, s := range []string{
		"", "all", " all ", "probe.liveness-too-aggressive",
		"image.mutable-tag, probe.port-not-declared,resources.memory-limit-missing",
		"image.mutable-tag,,", "all,image.mutable-tag", "image.mutabletag", "all,bogus",
		"Image.Mutable-Tag", " , ,", "image.mutable-tag,image.mutable-tag", "\timage.mutable-tag\n",
	} {
		f.Add(s)
	}
	known := PublishedIDs()
	f.Fuzz(func(t *testing.T, value string) {
		s, err := ParseSkip(value, known)

		// What the annotation says, part by part.
		wantAll, wantIDs, unknown := false, map[ID]bool{}, 0
		for _, part := range strings.Split(value, ",") {
			switch part = strings.TrimSpace(part); {
			case part == "":
			case part == "all":
				wantAll = true
			case known[ID(part)]:
				wantIDs[ID(part)] = true
			default:
				unknown++
			}
		}
		if s.All != wantAll || !maps.Equal(s.IDs, wantIDs) {
			t.Fatalf("ParseSkip(%q) = %+v, want All %v and IDs %v", value, s, wantAll, wantIDs)
		}
		if (err != nil) != (unknown > 0) {
			t.Fatalf("ParseSkip(%q) error = %v with %d unknown IDs", value, err, unknown)
		}

		// Written back, the set reads the same, without error.
		parts := slices.Sorted(maps.Keys(s.IDs))
		text := make([]string, 0, len(parts)+1)
		for _, id := range parts {
			text = append(text, string(id))
		}
		if s.All {
			text = append(text, "all")
		}
		again, err := ParseSkip(strings.Join(text, ","), known)
		if err != nil || again.All != s.All || !maps.Equal(again.IDs, s.IDs) {
			t.Fatalf("ParseSkip(%q) = %+v, %v; want %+v, nil", strings.Join(text, ","), again, err, s)
		}
	})
}

func FuzzParseExpectedStartup(f *testing.F) {
	for _, s := range []string{
		"90", "app=90,envoy=5", "5,app=90", " 30 ", "app = 120", "0", "3601", "3600", "1",
		"app=", "=5", "app=90,app=10", "90,45", "1e3", "0x10", "+5", "-5", "", ",", "a=b=3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		e, err := ParseExpectedStartup(value)
		if err != nil {
			if e.All != 0 || len(e.ByContainer) != 0 {
				t.Fatalf("ParseExpectedStartup(%q) = %+v alongside error %v, want nothing", value, e, err)
			}
			return
		}
		inRange := func(n int) bool { return n >= 1 && n <= 3600 }
		if e.All != 0 && !inRange(e.All) {
			t.Fatalf("ParseExpectedStartup(%q).All = %d, outside 1..3600", value, e.All)
		}
		for name, n := range e.ByContainer {
			if !inRange(n) {
				t.Fatalf("ParseExpectedStartup(%q): %q = %d, outside 1..3600", value, name, n)
			}
			if name != strings.TrimSpace(name) || strings.ContainsAny(name, ",=") {
				t.Fatalf("ParseExpectedStartup(%q): container name %q is not a trimmed name", value, name)
			}
			if e.For(name) != n {
				t.Fatalf("For(%q) = %d, want %d", name, e.For(name), n)
			}
		}
		if _, ok := e.ByContainer["\x00not-a-container"]; !ok && e.For("\x00not-a-container") != e.All {
			t.Fatalf("For an undeclared container = %d, want All %d", e.For("\x00not-a-container"), e.All)
		}

		// The last number for all containers and for each one wins; every
		// part was a number, as the error would say otherwise.
		wantAll, wantBy := 0, map[string]int{}
		for _, part := range strings.Split(value, ",") {
			name, secs, per := strings.Cut(part, "=")
			if !per {
				secs = name
			}
			n, convErr := strconv.Atoi(strings.TrimSpace(secs))
			if convErr != nil || !inRange(n) {
				t.Fatalf("ParseExpectedStartup(%q) accepted part %q", value, part)
			}
			if per {
				wantBy[strings.TrimSpace(name)] = n
			} else {
				wantAll = n
			}
		}
		if e.All != wantAll || !maps.Equal(e.ByContainer, wantBy) {
			t.Fatalf("ParseExpectedStartup(%q) = %+v, want All %d and %v", value, e, wantAll, wantBy)
		}

		// Written back, the declaration reads the same.
		var parts []string
		if e.All != 0 {
			parts = append(parts, strconv.Itoa(e.All))
		}
		for _, name := range slices.Sorted(maps.Keys(e.ByContainer)) {
			parts = append(parts, fmt.Sprintf("%s=%d", name, e.ByContainer[name]))
		}
		if len(parts) == 0 {
			t.Fatalf("ParseExpectedStartup(%q) accepted a value that declares nothing", value)
		}
		again, err := ParseExpectedStartup(strings.Join(parts, ","))
		if err != nil || again.All != e.All || !maps.Equal(again.ByContainer, e.ByContainer) {
			t.Fatalf("ParseExpectedStartup(%q) = %+v, %v; want %+v", strings.Join(parts, ","), again, err, e)
		}
	})
}
