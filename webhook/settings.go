package webhook

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nobackoff/nobackoff/policy"
)

// CatalogSettings are the catalog's settings as written on a command line
// or in a configuration file.
type CatalogSettings struct {
	// ExpectedStartup entries are RUNTIME=SECONDS, comma-separated lists
	// allowed: "jvm=60,python=15".
	ExpectedStartup []string
	// Severity entries are CHECK-ID=info|warning|error.
	Severity []string
}

// NewEngineFromSettings validates the settings and builds the engine.
func NewEngineFromSettings(s CatalogSettings) (*Engine, error) {
	o := policy.Options{Startup: policy.StartupDefaults{}, Severity: map[policy.ID]policy.Severity{}}
	defaults := policy.DefaultStartup()
	for _, kv := range s.ExpectedStartup {
		for _, item := range strings.Split(kv, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
			n, err := strconv.Atoi(v)
			if _, isRuntime := defaults[policy.Runtime(k)]; !ok || !isRuntime || err != nil || n < 1 || n > 3600 {
				return nil, fmt.Errorf("expected-startup %q: want RUNTIME=SECONDS with RUNTIME one of %s and SECONDS 1 to 3600",
					item, strings.Join(runtimeNames(), ", "))
			}
			o.Startup[policy.Runtime(k)] = n
		}
	}
	known := policy.NewCatalog(policy.Options{}).Known()
	for _, kv := range s.Severity {
		for _, item := range strings.Split(kv, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
			sev, err := policy.ParseSeverity(v)
			if !ok || err != nil || !known[policy.ID(k)] {
				return nil, fmt.Errorf("severity %q: want CHECK-ID=info|warning|error with a check ID this version runs", item)
			}
			o.Severity[policy.ID(k)] = sev
		}
	}
	return NewEngine(policy.NewCatalog(o)), nil
}

func runtimeNames() []string {
	var names []string
	for _, r := range policy.Runtimes() {
		names = append(names, string(r))
	}
	return names
}
