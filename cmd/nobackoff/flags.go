package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nobackoff/nobackoff/policy"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// policyFlags are the catalog settings shared by serve and check.
type policyFlags struct {
	startup  stringList
	severity stringList
}

func (p *policyFlags) options() (policy.Options, error) {
	o := policy.Options{Startup: policy.StartupDefaults{}, Severity: map[policy.ID]policy.Severity{}}
	known := policy.NewCatalog(policy.Options{}).Known()
	runtimes := policy.DefaultStartup()
	for _, kv := range p.startup {
		for _, item := range strings.Split(kv, ",") {
			k, v, ok := strings.Cut(item, "=")
			n, err := strconv.Atoi(v)
			if _, isRuntime := runtimes[policy.Runtime(k)]; !ok || !isRuntime || err != nil || n < 1 || n > 3600 {
				return o, fmt.Errorf("--expected-startup %q: want RUNTIME=SECONDS with RUNTIME one of %s and SECONDS 1 to 3600",
					item, runtimeNames(runtimes))
			}
			o.Startup[policy.Runtime(k)] = n
		}
	}
	for _, kv := range p.severity {
		for _, item := range strings.Split(kv, ",") {
			k, v, ok := strings.Cut(item, "=")
			sev, err := policy.ParseSeverity(v)
			if !ok || err != nil || !known[policy.ID(k)] {
				return o, fmt.Errorf("--severity %q: want CHECK-ID=info|warning|error with a known check ID", item)
			}
			o.Severity[policy.ID(k)] = sev
		}
	}
	return o, nil
}

func runtimeNames(m policy.StartupDefaults) string {
	var names []string
	for _, r := range []policy.Runtime{policy.RuntimeJVM, policy.RuntimeDotnet, policy.RuntimeRuby, policy.RuntimePython,
		policy.RuntimeNode, policy.RuntimePHP, policy.RuntimeOther} {
		if _, ok := m[r]; ok {
			names = append(names, string(r))
		}
	}
	return strings.Join(names, ", ")
}
