package policy

import (
	"testing"
)

func TestParseSkip(t *testing.T) {
	known := NewCatalog(Options{}).Known()
	tests := []struct {
		name    string
		value   string
		all     bool
		ids     []ID
		wantErr bool
	}{
		{name: "empty", value: ""},
		{name: "only commas and spaces", value: " , ,"},
		{name: "all", value: "all", all: true},
		{name: "all with spaces", value: "  all ", all: true},
		{name: "one ID", value: "probe.liveness-too-aggressive", ids: []ID{ProbeLivenessTooAggressive}},
		{name: "list with spaces", value: " image.mutable-tag , probe.port-not-declared,resources.memory-limit-missing ",
			ids: []ID{ImageMutableTag, ProbePortNotDeclared, ResourcesMemoryLimitMissing}},
		{name: "empty entries", value: "image.mutable-tag,,", ids: []ID{ImageMutableTag}},
		{name: "repeated ID", value: "image.mutable-tag,image.mutable-tag", ids: []ID{ImageMutableTag}},
		{name: "all and an ID", value: "all,image.mutable-tag", all: true, ids: []ID{ImageMutableTag}},
		{name: "unknown ID", value: "image.mutabletag", wantErr: true},
		{name: "unknown ID among known ones", value: "image.mutable-tag, probe.liveness-too-agressive ,resources.heap-exceeds-limit",
			ids: []ID{ImageMutableTag, ResourcesHeapExceedsLimit}, wantErr: true},
		{name: "unknown ID next to all", value: "all,bogus", all: true, wantErr: true},
		{name: "IDs are case-sensitive", value: "Image.Mutable-Tag", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSkip(tc.value, known)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseSkip(%q) error = %v, want error: %v", tc.value, err, tc.wantErr)
			}
			if s.All != tc.all {
				t.Errorf("ParseSkip(%q).All = %v, want %v", tc.value, s.All, tc.all)
			}
			if len(s.IDs) != len(tc.ids) {
				t.Errorf("ParseSkip(%q).IDs = %v, want %v", tc.value, s.IDs, tc.ids)
			}
			for _, id := range tc.ids {
				if !s.IDs[id] || !s.Has(id) {
					t.Errorf("ParseSkip(%q): %s not skipped", tc.value, id)
				}
			}
			for id := range known {
				want := tc.all
				for _, w := range tc.ids {
					want = want || w == id
				}
				if s.Has(id) != want {
					t.Errorf("ParseSkip(%q).Has(%s) = %v, want %v", tc.value, id, s.Has(id), want)
				}
			}
		})
	}
}

func TestParseSkipUnknownIDsNotAdded(t *testing.T) {
	known := NewCatalog(Options{}).Known()
	s, err := ParseSkip("image.mutable-tag,image.typo", known)
	if err == nil {
		t.Fatal("want an error for image.typo")
	}
	if s.Has("image.typo") {
		t.Error("an unknown ID must not be recorded as skipped")
	}
	if !s.Has(ImageMutableTag) {
		t.Error("the known ID must still apply despite the error")
	}
}

func TestSkipZeroValue(t *testing.T) {
	var s Skip
	if s.Has(ImageMutableTag) {
		t.Error("zero Skip must skip nothing")
	}
	if !(Skip{All: true}).Has(ID("anything")) {
		t.Error("Skip{All: true} must skip everything")
	}
}

func TestSkipMerge(t *testing.T) {
	a := Skip{IDs: map[ID]bool{ImageMutableTag: true}}
	b := Skip{IDs: map[ID]bool{ProbePortNotFound: true, ImageMutableTag: true}}
	tests := []struct {
		name string
		a, b Skip
		all  bool
		ids  []ID
	}{
		{"zero values", Skip{}, Skip{}, false, nil},
		{"union", a, b, false, []ID{ImageMutableTag, ProbePortNotFound}},
		{"union, other order", b, a, false, []ID{ImageMutableTag, ProbePortNotFound}},
		{"with zero value", a, Skip{}, false, []ID{ImageMutableTag}},
		{"zero value with", Skip{}, b, false, []ID{ImageMutableTag, ProbePortNotFound}},
		{"all on the left", Skip{All: true}, b, true, []ID{ImageMutableTag, ProbePortNotFound}},
		{"all on the right", a, Skip{All: true}, true, []ID{ImageMutableTag}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.a.Merge(tc.b)
			if m.All != tc.all {
				t.Errorf("All = %v, want %v", m.All, tc.all)
			}
			if len(m.IDs) != len(tc.ids) {
				t.Errorf("IDs = %v, want %v", m.IDs, tc.ids)
			}
			for _, id := range tc.ids {
				if !m.IDs[id] {
					t.Errorf("%s missing from the merge", id)
				}
			}
		})
	}
	// Merge builds a new set: the operands are left as they were.
	m := a.Merge(b)
	m.IDs[ResourcesHeapExceedsLimit] = true
	if len(a.IDs) != 1 || len(b.IDs) != 2 || a.IDs[ProbePortNotFound] {
		t.Errorf("Merge changed its operands: a=%v b=%v", a.IDs, b.IDs)
	}
}

func TestParseExpectedStartup(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"90", 90, false},
		{" 90 ", 90, false},
		{"1", 1, false},
		{"3600", 3600, false},
		{"0", 0, true},
		{"-5", 0, true},
		{"3601", 0, true},
		{"", 0, true},
		{"abc", 0, true},
		{"1.5", 0, true},
		{"90s", 0, true},
		{"1e3", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseExpectedStartup(tc.in)
		if (err != nil) != tc.wantErr || got.All != tc.want || len(got.ByContainer) != 0 {
			t.Errorf("ParseExpectedStartup(%q) = %+v, %v; want %d, error: %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseExpectedStartupPerContainer(t *testing.T) {
	got, err := ParseExpectedStartup(" 5, app=90 ,envoy=3")
	if err != nil {
		t.Fatal(err)
	}
	if got.All != 5 || got.For("app") != 90 || got.For("envoy") != 3 || got.For("other") != 5 {
		t.Fatalf("%+v", got)
	}
	for _, bad := range []string{"app=", "app=0", "=5", "app=5,", "app=x"} {
		if _, err := ParseExpectedStartup(bad); err == nil && bad != "=5" {
			t.Errorf("ParseExpectedStartup(%q) accepted", bad)
		}
	}
	if (ExpectedStartup{}).For("app") != 0 {
		t.Error("empty declaration is not 0")
	}
}
