package engine

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Config is the webhook's configuration file (the chart's ConfigMap).
// Unknown keys are errors, so a typo is reported instead of ignored.
//
//	registries:
//	  lookupBudget: 3s
//	  nodeCredentials: ["*.dkr.ecr.*.amazonaws.com", "gcr.io"]
//	  insecure: ["registry.internal:5000"]
//	  mirrors: {docker.io: [mirror.internal]}
//	  caFile: /etc/nobackoff/registry-ca.pem
//	  allowLoopback: false
//	checks:
//	  severity: {resources.memory-limit-missing: info}
//	  expectedStartupSeconds: {jvm: 60, python: 15}
//	  clusterAutoscales: true
//
// checks.clusterAutoscales says whether the cluster adds nodes when pods
// do not fit (cluster-autoscaler, Karpenter): true (the default), a pod
// that fits no current node is a warning; false, an error.
type Config struct {
	Registries struct {
		LookupBudget    Duration            `json:"lookupBudget"`
		NodeCredentials []string            `json:"nodeCredentials"`
		Insecure        []string            `json:"insecure"`
		Mirrors         map[string][]string `json:"mirrors"`
		CAFile          string              `json:"caFile"`
		AllowLoopback   bool                `json:"allowLoopback"`
	} `json:"registries"`
	Checks struct {
		Severity               map[string]string `json:"severity"`
		ExpectedStartupSeconds map[string]int    `json:"expectedStartupSeconds"`
		ClusterAutoscales      *bool             `json:"clusterAutoscales"`
	} `json:"checks"`
}

// Duration is a time.Duration written as "3s".
type Duration struct{ time.Duration }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	d.Duration = v
	return nil
}

// LoadConfig reads and validates a configuration file.
func LoadConfig(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &c, nil
}

// Apply merges the file's settings under the ones given as flags: lists
// add up, single values given as flags win (a flag not given is left nil
// or zero by its caller).
func (c *Config) Apply(cat *CatalogSettings, reg *RegistrySettings, budgetFlagSet bool) {
	for _, id := range sortedKeys(c.Checks.Severity) {
		cat.Severity = append([]string{id + "=" + c.Checks.Severity[id]}, cat.Severity...)
	}
	for _, rt := range sortedKeys(c.Checks.ExpectedStartupSeconds) {
		cat.ExpectedStartup = append([]string{fmt.Sprintf("%s=%d", rt, c.Checks.ExpectedStartupSeconds[rt])}, cat.ExpectedStartup...)
	}
	if cat.ClusterAutoscales == nil && c.Checks.ClusterAutoscales != nil {
		v := *c.Checks.ClusterAutoscales
		cat.ClusterAutoscales = &v
	}
	r := c.Registries
	if r.LookupBudget.Duration > 0 && !budgetFlagSet {
		reg.Budget = r.LookupBudget.Duration
	}
	reg.NodeCredentials = append(r.NodeCredentials, reg.NodeCredentials...)
	reg.Insecure = append(r.Insecure, reg.Insecure...)
	for _, host := range sortedKeys(r.Mirrors) {
		reg.Mirrors = append([]string{host + "=" + strings.Join(r.Mirrors[host], ",")}, reg.Mirrors...)
	}
	if reg.CAFile == "" {
		reg.CAFile = r.CAFile
	}
	reg.AllowLoopback = reg.AllowLoopback || r.AllowLoopback
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
