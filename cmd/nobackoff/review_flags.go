package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// reviewFlags are the flags `check` and `audit` share: the catalog's
// settings, the registry lookups' and the log's.
type reviewFlags struct {
	startup, severity, insecure, platforms, nodeCreds, mirrors stringList

	dockerConfig, caFile, level, format *string
	budget                              *time.Duration
	autoscales                          *bool
}

// addReviewFlags registers the shared flags on fs; budget is the default
// of --registry-timeout, level that of --log-level.
func addReviewFlags(fs *flag.FlagSet, budget time.Duration, platformHelp, level string) *reviewFlags {
	f := &reviewFlags{}
	f.dockerConfig = fs.String("docker-config", "", "docker config.json standing in for the nodes' credentials (default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)")
	fs.Var(&f.insecure, "insecure-registry", "registry host[:port] reached over plain HTTP or unverified TLS; repeatable")
	fs.Var(&f.platforms, "platform", platformHelp)
	f.budget = fs.Duration("registry-timeout", budget, "budget for all registry lookups of one workload")
	f.caFile = fs.String("registry-ca", "", "PEM file of CAs to trust for registries, besides the system's")
	fs.Var(&f.nodeCreds, "node-credentials", "registry glob whose credentials the nodes hold (auth failures there are inconclusive); repeatable")
	fs.Var(&f.mirrors, "registry-mirror", "REGISTRY=MIRROR[,MIRROR...]: mirrors tried first, as the nodes' runtime does; repeatable")
	fs.Var(&f.startup, "expected-startup", "expected start seconds by runtime, e.g. jvm=60,python=15; repeatable")
	fs.Var(&f.severity, "severity", "override a check's severity, e.g. resources.memory-limit-missing=warning; repeatable")
	f.autoscales = fs.Bool("cluster-autoscales", true, "the cluster adds nodes when pods do not fit (cluster-autoscaler, Karpenter): a pod that fits no node of the input or cluster is a warning; false: an error")
	f.level = fs.String("log-level", level, "log level on stderr: debug (every registry lookup), info, warn (inconclusive lookups, also reported as findings; what the cluster would not tell) or error")
	f.format = fs.String("log-format", "text", "log format: text or json")
	return f
}

// logger is the log the flags ask for, on w.
func (f *reviewFlags) logger(w io.Writer) (*slog.Logger, error) {
	return newLogger(w, *f.level, *f.format)
}

// engine is the catalog the flags configure.
func (f *reviewFlags) engine() (*engine.Engine, error) {
	e, err := engine.FromSettings(engine.CatalogSettings{ExpectedStartup: f.startup, Severity: f.severity, ClusterAutoscales: f.autoscales})
	if err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	return e, nil
}

// parsePlatforms is --platform, linux/amd64 when not given.
func (f *reviewFlags) parsePlatforms() ([]registrycheck.Platform, error) {
	values := f.platforms
	if len(values) == 0 {
		values = stringList{"linux/amd64"}
	}
	pls, err := engine.ParsePlatforms(values)
	if err != nil {
		return nil, fmt.Errorf("--platform: %w", err)
	}
	return pls, nil
}

// lookups are the registry lookups the flags configure, over cluster.
func (f *reviewFlags) lookups(cluster engine.ClusterView, log *slog.Logger) (*engine.Lookups, error) {
	nodeKeyring, err := engine.NodeCredentials(*f.dockerConfig)
	if err != nil {
		return nil, fmt.Errorf("--docker-config: %w", err)
	}
	l, err := engine.NewLookups(engine.RegistrySettings{
		Insecure: f.insecure, NodeCredentials: f.nodeCreds, Mirrors: f.mirrors, CAFile: *f.caFile,
		Budget: *f.budget, AllowLoopback: true,
	}, cluster, nodeKeyring)
	if err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	l.Log = log
	return l, nil
}
