package policy

import (
	"encoding/json"
	"testing"
)

func TestSeverityOrder(t *testing.T) {
	if !(Info < Warning && Warning < Error) {
		t.Errorf("severities must order Info < Warning < Error, got %d %d %d", Info, Warning, Error)
	}
}

func TestSeverityText(t *testing.T) {
	for _, tc := range []struct {
		s    Severity
		name string
	}{{Info, "info"}, {Warning, "warning"}, {Error, "error"}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.String(); got != tc.name {
				t.Errorf("String() = %q, want %q", got, tc.name)
			}
			b, err := tc.s.MarshalText()
			if err != nil || string(b) != tc.name {
				t.Fatalf("MarshalText() = %q, %v; want %q", b, err, tc.name)
			}
			var back Severity = -1
			if err := back.UnmarshalText(b); err != nil || back != tc.s {
				t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, back, err, tc.s)
			}
			p, err := ParseSeverity(tc.name)
			if err != nil || p != tc.s {
				t.Errorf("ParseSeverity(%q) = %v, %v; want %v", tc.name, p, err, tc.s)
			}
		})
	}
}

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in      string
		want    Severity
		wantErr bool
	}{
		{"info", Info, false},
		{"warning", Warning, false},
		{"error", Error, false},
		{"ERROR", Error, false},
		{"Warning", Warning, false},
		{"", Info, true},
		{"warn", Info, true},
		{"fatal", Info, true},
		{" error", Info, true},
		{"2", Info, true},
	}
	for _, tc := range tests {
		got, err := ParseSeverity(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v, error: %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSeverityInvalid(t *testing.T) {
	for _, s := range []Severity{-1, 3, 42} {
		if _, err := s.MarshalText(); err == nil {
			t.Errorf("Severity(%d).MarshalText() succeeded, want an error", int(s))
		}
		if got := s.String(); got == "info" || got == "warning" || got == "error" || got == "" {
			t.Errorf("Severity(%d).String() = %q, want a distinct out-of-range form", int(s), got)
		}
	}
	s := Warning
	if err := s.UnmarshalText([]byte("critical")); err == nil {
		t.Error("UnmarshalText(critical) succeeded, want an error")
	}
	if s != Warning {
		t.Errorf("a failed UnmarshalText changed the value to %v", s)
	}
}

func TestFindingJSONRoundTrip(t *testing.T) {
	in := Finding{Check: ProbePortNotFound, Severity: Error, Field: tmpl + ".containers[0].readinessProbe.httpGet.port",
		Container: "app", Image: "nginx", Message: "m", Fix: "f"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["Severity"] != "error" {
		t.Errorf("Severity is encoded as %v, want the name \"error\"", raw["Severity"])
	}
	if raw["Check"] != string(ProbePortNotFound) {
		t.Errorf("Check is encoded as %v", raw["Check"])
	}
	var out Finding
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip:\n got  %+v\n want %+v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"Severity":"loud"}`), &out); err == nil {
		t.Error("unmarshalling an unknown severity succeeded, want an error")
	}
	if _, err := json.Marshal(Finding{Severity: 7}); err == nil {
		t.Error("marshalling an out-of-range severity succeeded, want an error")
	}
}
