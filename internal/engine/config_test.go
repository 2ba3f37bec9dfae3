package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nobackoff/nobackoff/internal/clusterstate"
)

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		f := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	c, err := LoadConfig(write(`
registries:
  lookupBudget: 2s
  nodeCredentials: ["*.dkr.ecr.*.amazonaws.com"]
  insecure: [registry.internal:5000]
  mirrors: {docker.io: [mirror.internal, mirror2.internal]}
checks:
  severity: {resources.memory-limit-missing: info}
  expectedStartupSeconds: {jvm: 60}
`))
	if err != nil {
		t.Fatal(err)
	}
	cat := CatalogSettings{Severity: []string{"image.mutable-tag=warning"}}
	reg := RegistrySettings{Budget: 3 * time.Second, Insecure: []string{"other:5000"}}
	c.Apply(&cat, &reg, false)
	if reg.Budget != 2*time.Second || len(reg.Insecure) != 2 || len(reg.NodeCredentials) != 1 ||
		strings.Join(reg.Mirrors, ";") != "docker.io=mirror.internal,mirror2.internal" {
		t.Fatalf("registries %+v", reg)
	}
	if strings.Join(cat.Severity, ";") != "resources.memory-limit-missing=info;image.mutable-tag=warning" ||
		strings.Join(cat.ExpectedStartup, ";") != "jvm=60" {
		t.Fatalf("catalog %+v", cat)
	}
	if _, err := FromSettings(cat); err != nil {
		t.Fatalf("settings from the file do not build an engine: %v", err)
	}
	if _, err := NewLookups(reg, clusterstate.NewStaticCluster(nil), nil); err != nil {
		t.Fatalf("settings from the file do not build lookups: %v", err)
	}
	reg = RegistrySettings{Budget: 5 * time.Second}
	c.Apply(&CatalogSettings{}, &reg, true)
	if reg.Budget != 5*time.Second {
		t.Errorf("the --registry-timeout flag lost to the file: %v", reg.Budget)
	}

	for name, bad := range map[string]string{
		"typo'd key":   "registries:\n  lookupBudgte: 2s\n",
		"bad duration": "registries:\n  lookupBudget: soon\n",
		"wrong type":   "registries:\n  insecure: registry.internal\n",
	} {
		if _, err := LoadConfig(write(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A bad value reaches the settings' own validation.
	c, _ = LoadConfig(write("checks:\n  severity: {image.no-such-check: info}\n"))
	cat = CatalogSettings{}
	c.Apply(&cat, &RegistrySettings{}, false)
	if _, err := FromSettings(cat); err == nil {
		t.Error("an unknown check ID in the file was accepted")
	}
}

// checks.clusterAutoscales maps to NodesFixed; a flag given wins over the
// file; said nowhere, the cluster is assumed to add nodes.
func TestConfigClusterAutoscales(t *testing.T) {
	f := filepath.Join(t.TempDir(), "config.yaml")
	load := func(s string) *Config {
		t.Helper()
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	yes, no := true, false
	for _, tc := range []struct {
		name      string
		file      string
		flag      *bool
		wantFixed bool
	}{
		{"said nowhere", "checks: {}\n", nil, false},
		{"file true", "checks:\n  clusterAutoscales: true\n", nil, false},
		{"file false", "checks:\n  clusterAutoscales: false\n", nil, true},
		{"flag true over file false", "checks:\n  clusterAutoscales: false\n", &yes, false},
		{"flag false over file true", "checks:\n  clusterAutoscales: true\n", &no, true},
		{"flag false, file silent", "registries: {}\n", &no, true},
	} {
		cat := CatalogSettings{ClusterAutoscales: tc.flag}
		load(tc.file).Apply(&cat, &RegistrySettings{}, false)
		o, err := cat.Options()
		if err != nil {
			t.Fatal(err)
		}
		if o.NodesFixed != tc.wantFixed {
			t.Errorf("%s: NodesFixed = %v, want %v", tc.name, o.NodesFixed, tc.wantFixed)
		}
	}
	if err := os.WriteFile(f, []byte("checks:\n  clusterAutoscales: maybe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(f); err == nil {
		t.Error("clusterAutoscales: maybe was accepted")
	}
}
