package policy

import "sort"

// Options configure the catalog. The zero value is valid and uses the
// documented defaults.
type Options struct {
	// Startup overrides entries of DefaultStartup, the expected start time
	// by runtime.
	Startup StartupDefaults
	// Severity overrides the severity of whole checks by ID. Checks whose
	// severity depends on the situation (probe.port-not-found) are forced
	// to the given level.
	Severity map[ID]Severity
	// NodesFixed says the cluster does not add nodes (no cluster-autoscaler,
	// no Karpenter): a pod that fits no current node is then an error. By
	// default the cluster is assumed to grow, and such a pod is a warning.
	NodesFixed bool
}

// Catalog is the ordered set of checks nobackoff runs.
type Catalog struct {
	checks   []Check
	severity map[ID]Severity
}

// NewCatalog builds the catalog with its options applied.
func NewCatalog(o Options) *Catalog {
	startup := DefaultStartup()
	for rt, s := range o.Startup {
		startup[rt] = s
	}
	return &Catalog{
		checks: append(append([]Check{
			invalidReference{},
			mutableTag{},
			livenessTooAggressive{startup: startup},
			livenessEqualsReadiness{},
			portNotFound{},
			portNotDeclared{},
			timeoutExceedsPeriod{},
			memoryLimitMissing{},
			heapExceedsLimit{},
			commandNotFound{},
		}, imageChecks()...), append(objectChecks(), append(scheduleChecks(o), namespaceChecks()...)...)...),
		severity: o.Severity,
	}
}

// NewCatalogOf builds a catalog of the given checks, for programs that
// embed nobackoff with checks of their own.
func NewCatalogOf(checks []Check, severity map[ID]Severity) *Catalog {
	return &Catalog{checks: checks, severity: severity}
}

// Checks returns the checks in the order they run.
func (c *Catalog) Checks() []Check { return c.checks }

// Known reports which IDs belong to the catalog.
func (c *Catalog) Known() map[ID]bool {
	m := make(map[ID]bool, len(c.checks))
	for _, ch := range c.checks {
		m[ch.ID()] = true
	}
	return m
}

// IDs lists the catalog's IDs, sorted.
func (c *Catalog) IDs() []ID {
	ids := make([]ID, 0, len(c.checks))
	for _, ch := range c.checks {
		ids = append(ids, ch.ID())
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Overridden applies the configured severity overrides to a finding.
func (c *Catalog) Overridden(f Finding) Finding {
	if s, ok := c.severity[f.Check]; ok {
		f.Severity = s
	}
	return f
}
