package engine

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nobackoff/nobackoff/policy"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// CatalogSettings are the catalog's settings as written on a command line
// or in a configuration file.
type CatalogSettings struct {
	// ExpectedStartup entries are RUNTIME=SECONDS, comma-separated lists
	// allowed: "jvm=60,python=15".
	ExpectedStartup []string
	// Severity entries are CHECK-ID=info|warning|error.
	Severity []string
	// ClusterAutoscales says whether the cluster adds nodes when pods do
	// not fit (cluster-autoscaler, Karpenter); nil: not said, which counts
	// as true. False makes "fits no current node" an error
	// (policy.Options.NodesFixed).
	ClusterAutoscales *bool
}

// FromSettings validates the settings and builds the engine.
func FromSettings(s CatalogSettings) (*Engine, error) {
	o, err := s.Options()
	if err != nil {
		return nil, err
	}
	return New(policy.NewCatalog(o)), nil
}

// Options validates the settings and returns the catalog's options.
func (s CatalogSettings) Options() (policy.Options, error) {
	o := policy.Options{Startup: policy.StartupDefaults{}, Severity: map[policy.ID]policy.Severity{}}
	o.NodesFixed = s.ClusterAutoscales != nil && !*s.ClusterAutoscales
	defaults := policy.DefaultStartup()
	for _, kv := range s.ExpectedStartup {
		for _, item := range strings.Split(kv, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
			n, err := strconv.Atoi(v)
			if _, isRuntime := defaults[policy.Runtime(k)]; !ok || !isRuntime || err != nil || n < 1 || n > 3600 {
				return policy.Options{}, fmt.Errorf("expected-startup %q: want RUNTIME=SECONDS with RUNTIME one of %s and SECONDS 1 to 3600",
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
				return policy.Options{}, fmt.Errorf("severity %q: want CHECK-ID=info|warning|error with a check ID this version runs", item)
			}
			o.Severity[policy.ID(k)] = sev
		}
	}
	return o, nil
}

func runtimeNames() []string {
	var names []string
	for _, r := range policy.Runtimes() {
		names = append(names, string(r))
	}
	return names
}

// RegistrySettings are the registry lookup settings as written on a
// command line or in a configuration file.
type RegistrySettings struct {
	// Insecure lists host[:port] reached over plain HTTP or unverified TLS.
	Insecure []string
	// NodeCredentials lists registry globs whose credentials the nodes
	// hold.
	NodeCredentials []string
	// Mirrors entries are REGISTRY=MIRROR[,MIRROR...].
	Mirrors []string
	// CAFile is a PEM file of extra CAs trusted for registries.
	CAFile string
	// Budget bounds all lookups of one review or workload.
	Budget time.Duration
	// AllowLoopback lets lookups reach registries on loopback addresses.
	AllowLoopback bool
}

// NewLookups validates the settings and returns lookups over the cluster
// view, with nodeKeyring (may be nil) standing in for node credentials.
func NewLookups(s RegistrySettings, cluster ClusterView, nodeKeyring *registrycheck.Keyring) (*Lookups, error) {
	o := registrycheck.Options{
		LookupTimeout: s.Budget, InsecureRegistries: s.Insecure, NodeCredentialRegistries: s.NodeCredentials,
		AllowLoopback: s.AllowLoopback, Mirrors: map[string][]string{},
	}
	for _, g := range s.NodeCredentials {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("node-credentials %q: %w", g, err)
		}
	}
	for _, m := range s.Mirrors {
		reg, mirrors, ok := strings.Cut(m, "=")
		if !ok || reg == "" || mirrors == "" {
			return nil, fmt.Errorf("registry-mirror %q: want REGISTRY=MIRROR[,MIRROR...]", m)
		}
		o.Mirrors[reg] = append(o.Mirrors[reg], strings.Split(mirrors, ",")...)
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("registry-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("registry-ca %s: no PEM certificate found", s.CAFile)
		}
		o.RootCAs = pool
	}
	return &Lookups{Resolver: registrycheck.NewResolver(o), Cluster: cluster, NodeKeyring: nodeKeyring, Budget: s.Budget}, nil
}

// ParsePlatforms reads a list of os/arch[/variant], comma-separated.
func ParsePlatforms(values []string) ([]registrycheck.Platform, error) {
	var out []registrycheck.Platform
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			p, err := registrycheck.ParsePlatform(strings.TrimSpace(item))
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// DockerConfigKeyring reads a docker config.json into a keyring whose
// credentials are labelled "docker config". A missing file is no error
// when optional is set (the default location may well not exist).
func DockerConfigKeyring(file string, optional bool) (*registrycheck.Keyring, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	kr := registrycheck.NewKeyring()
	if err := kr.AddDockerConfig(data, "docker config"); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return kr, nil
}

// DefaultDockerConfig is where docker reads its config:
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func DefaultDockerConfig() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}

// NodeCredentials reads the docker config standing in for the nodes'
// credentials: the named file, or docker's default location if present.
// Credential helpers (credsStore) are not consulted.
func NodeCredentials(file string) (*registrycheck.Keyring, error) {
	if file != "" {
		return DockerConfigKeyring(file, false)
	}
	if def := DefaultDockerConfig(); def != "" {
		return DockerConfigKeyring(def, true)
	}
	return nil, nil
}
