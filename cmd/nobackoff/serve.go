package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	orclient "github.com/openreports/reports-api/pkg/client/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nobackoff/nobackoff/internal/audit"
	"github.com/nobackoff/nobackoff/internal/clusterstate"
	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/webhook"
)

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var startup, severity, insecure, nodeCreds, mirrors stringList
	host := fs.String("host", "", "address to listen on (empty: all)")
	port := fs.Int("port", 8443, "HTTPS port")
	cert := fs.String("tls-cert-file", "/etc/nobackoff/tls/tls.crt", "serving certificate (PEM), reloaded when it changes")
	key := fs.String("tls-key-file", "/etc/nobackoff/tls/tls.key", "serving key (PEM), reloaded when it changes")
	delay := fs.Duration("shutdown-delay", 5*time.Second, "after SIGTERM, stay up unready this long before draining")
	owned := fs.Bool("check-controller-owned", false, "also check objects created by controllers of checked kinds (Pods of ReplicaSets, Jobs of CronJobs, ...)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	format := fs.String("log-format", "json", "log format: json or text")
	fs.Var(&startup, "expected-startup", "expected start seconds by runtime, e.g. jvm=60,python=15; repeatable")
	fs.Var(&severity, "severity", "override a check's severity, e.g. resources.memory-limit-missing=warning; repeatable")
	certMode := fs.String("certs", "files", "serving certificates: files (--tls-cert-file/--tls-key-file, reloaded on change) or self (a CA and certificate kept in a Secret, renewed, caBundle patched)")
	certSecret := fs.String("certs-secret", "nobackoff-tls", "self certs: the Secret holding the bundle")
	certService := fs.String("certs-service", "nobackoff", "self certs: the Service whose DNS names the certificate covers")
	certWebhook := fs.String("certs-webhook-configuration", "nobackoff", "self certs: the ValidatingWebhookConfiguration to patch with the CA (empty: none)")
	certDir := fs.String("certs-dir", "/tmp/nobackoff-certs", "self certs: where the key pair is written for the server")
	namespace := fs.String("namespace", os.Getenv("POD_NAMESPACE"), "self certs: the release namespace (default: the pod's)")
	configFile := fs.String("config", "", "configuration file (YAML: registries, checks), e.g. the chart's ConfigMap")
	lookups := fs.Bool("registry-lookups", true, "look images up in their registries (needs the cluster for pull secrets and nodes)")
	objects := fs.Bool("cluster-state", true, "with registry lookups, also watch what the object and namespace-policy checks read: ConfigMaps, PersistentVolumeClaims, Storage/Priority/RuntimeClasses (names and key names only), ResourceQuotas, LimitRanges")
	autoscales := fs.Bool("cluster-autoscales", true, "the cluster adds nodes when pods do not fit (cluster-autoscaler, Karpenter): a pod that fits no current node is a warning; false: an error (overrides checks.clusterAutoscales of --config)")
	secretKeys := fs.Bool("secret-keys", true, "with --cluster-state, keep the key names (never values) of Secrets of other types than the pull-secret types")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig for the cluster view (default: the pod's service account)")
	budget := fs.Duration("registry-timeout", 3*time.Second, "budget for all registry lookups of one review (keep well under the webhook's timeoutSeconds)")
	caFile := fs.String("registry-ca", "", "PEM file of CAs to trust for registries, besides the system's")
	loopback := fs.Bool("allow-loopback-registries", false, "allow registry lookups to loopback addresses")
	fs.Var(&insecure, "insecure-registry", "registry host[:port] reached over plain HTTP or unverified TLS; repeatable")
	fs.Var(&nodeCreds, "node-credentials", "registry glob whose credentials the nodes hold (auth failures there are inconclusive); repeatable")
	fs.Var(&mirrors, "registry-mirror", "REGISTRY=MIRROR[,MIRROR...]: mirrors the nodes' runtime tries first; repeatable")
	auditOn := fs.Bool("audit", false, "background passes: re-judge the workloads of checked namespaces every --audit-interval (one replica at a time, elected on a Lease), write a Report per namespace and an Event per new finding (needs --registry-lookups)")
	auditInterval := fs.Duration("audit-interval", 30*time.Minute, "time from the start of one background pass to the start of the next")
	auditRate := fs.Int("audit-registry-requests-per-minute", 60, "bound on the HTTP requests background passes send to registries (0: none); admission reviews are never held by it")
	auditTimeout := fs.Duration("audit-registry-timeout", time.Minute, "budget for the registry lookups of one workload in a background pass")
	auditReports := fs.Bool("audit-reports", true, "write the passes' findings as OpenReports (openreports.io/v1alpha1 Report, one per namespace; the CRD must be installed)")
	auditEvents := fs.Bool("audit-events", true, "record an Event (type Warning, reason the check ID) on a workload when a finding first appears")
	auditLease := fs.String("audit-lease", "nobackoff-audit", "the Lease, in --namespace, the replicas elect the one that runs the passes with")
	auditOwner := fs.String("audit-reports-owner", "", "the ValidatingWebhookConfiguration that owns the Reports, so that they go with it (the chart's, gone on helm uninstall); empty: none")
	podName := fs.String("pod-name", os.Getenv("POD_NAME"), "this replica's name in the background passes' election (default: the pod's, else host name and process ID)")
	var auditExclude stringList
	fs.Var(&auditExclude, "audit-exclude-namespace", "namespace background passes leave out (besides those labelled nobackoff.io/mode=off); repeatable")
	memoryLimit := fs.String("memory-limit", "", "memory the process may use, e.g. 256Mi (default: its cgroup's limit); with one, the Go collector runs with GOGC=400 under a soft limit of 80% of it (GOGC or GOMEMLIMIT set: left as they are)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		fmt.Fprintln(stderr, "nobackoff serve:", err)
		return exitUsage
	}
	gc, err := planGC(os.Getenv, *memoryLimit, cgroupMemoryLimit(osRoot))
	if err != nil {
		fmt.Fprintln(stderr, "nobackoff serve:", err)
		return exitUsage
	}
	gc.apply()
	log.Debug("garbage collector", "gogc", gc.percent, "softLimitBytes", gc.softLimit, "from", gc.source)
	crlog.SetLogger(logr.FromSlogHandler(log.Handler()))
	catalog := engine.CatalogSettings{ExpectedStartup: startup, Severity: severity}
	if flagSet(fs, "cluster-autoscales") {
		catalog.ClusterAutoscales = autoscales
	}
	registries := engine.RegistrySettings{
		Insecure: insecure, NodeCredentials: nodeCreds, Mirrors: mirrors, CAFile: *caFile, Budget: *budget, AllowLoopback: *loopback,
	}
	if *configFile != "" {
		cfg, err := engine.LoadConfig(*configFile)
		if err != nil {
			fmt.Fprintln(stderr, "nobackoff serve: --config:", err)
			return exitUsage
		}
		budgetSet := false
		fs.Visit(func(f *flag.Flag) { budgetSet = budgetSet || f.Name == "registry-timeout" })
		cfg.Apply(&catalog, &registries, budgetSet)
	}
	eng, err := engine.FromSettings(catalog)
	if err != nil {
		fmt.Fprintln(stderr, "nobackoff serve: "+err.Error())
		return exitUsage
	}

	opts := webhook.ServerOptions{
		Host: *host, Port: *port, CertFile: *cert, KeyFile: *key, ShutdownDelay: *delay,
		Handler: webhook.HandlerOptions{CheckControllerOwned: *owned}, Log: log,
	}
	var synced func() bool // the cluster caches are filled
	if *lookups {
		cluster, err := clusterstate.ConnectCluster(*kubeconfig, 10*time.Minute, clusterstate.ClusterOptions{Objects: *objects, SecretKeys: *secretKeys})
		if err != nil {
			fmt.Fprintf(stderr, "nobackoff serve: %v\n(registry lookups need the cluster's pull secrets; run in a cluster, give --kubeconfig, or --registry-lookups=false)\n", err)
			return exitUsage
		}
		l, err := engine.NewLookups(registries, cluster, nil)
		if err != nil {
			fmt.Fprintln(stderr, "nobackoff serve: "+err.Error())
			return exitUsage
		}
		l.Log, l.PodSecretsFinal = log, true
		// The nodes are watched either way (for their platforms): the
		// placement checks read them; without --cluster-state the object
		// and namespace-policy checks find nothing known and say nothing.
		eng = eng.WithLookups(l).WithObjects(cluster)
		opts.Prepare = func(ctx context.Context) error { return cluster.Start(ctx, 2*time.Minute) }
		opts.Collectors = l.Resolver.Metrics().Collectors()
		synced = cluster.Synced
	}
	var background *audit.Background
	if *auditOn {
		if !*lookups {
			fmt.Fprintln(stderr, "nobackoff serve: --audit needs --registry-lookups (the passes read the cluster through its caches)")
			return exitUsage
		}
		bo, err := backgroundOptions(*kubeconfig, *auditReports, *podName)
		if err != nil {
			fmt.Fprintln(stderr, "nobackoff serve: --audit:", err)
			return exitUsage
		}
		bo.Engine, bo.Events, bo.Interval, bo.RequestsPerMinute, bo.LookupTimeout = eng, *auditEvents, *auditInterval, *auditRate, *auditTimeout
		bo.Scope = audit.Scope{Exclude: auditExclude}
		bo.LeaseNamespace, bo.LeaseName, bo.Log = *namespace, *auditLease, log
		bo.ReportsOwner = *auditOwner
		if bo.LeaseNamespace == "" {
			bo.LeaseNamespace = "default"
		}
		bo.Ready = synced
		background = audit.NewBackground(bo)
		opts.Collectors = append(opts.Collectors, background.Metrics().Collectors()...)
	}
	switch *certMode {
	case "files":
	case "self":
		client, err := clusterstate.KubeClient(*kubeconfig)
		if err != nil {
			fmt.Fprintln(stderr, "nobackoff serve: --certs self:", err)
			return exitUsage
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		upkeep, certFile, keyFile, err := webhook.StartSelfCerts(ctx, webhook.SelfCertOptions{
			Client: client, Namespace: *namespace, Secret: *certSecret, Service: *certService,
			WebhookConfiguration: *certWebhook, Dir: *certDir, Log: log,
		})
		cancel()
		if err != nil {
			log.Error("cannot obtain a serving certificate", "error", err)
			return exitFindings
		}
		opts.CertFile, opts.KeyFile, opts.Upkeep = certFile, keyFile, upkeep
	default:
		fmt.Fprintf(stderr, "nobackoff serve: --certs %q: want files or self\n", *certMode)
		return exitUsage
	}
	srv, err := webhook.NewServer(eng, opts)
	if err != nil {
		log.Error("cannot start", "error", err)
		return exitFindings
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info("starting nobackoff", "version", version)
	if background != nil {
		// Stopping gives up the Lease at once: another replica takes the
		// passes over while this one drains.
		go background.Run(ctx)
	}
	if err := srv.Run(ctx); err != nil {
		log.Error("server failed", "error", err)
		return exitFindings
	}
	return exitOK
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	ho := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", format)
}

// backgroundOptions connects the background passes to the cluster: a
// client, the Reports' client when reports are written, and this
// replica's name in the election (identity, else host name and process ID).
func backgroundOptions(kubeconfig string, reports bool, identity string) (audit.BackgroundOptions, error) {
	var o audit.BackgroundOptions
	cfg, err := clusterstate.RestConfig(kubeconfig)
	if err != nil {
		return o, err
	}
	if o.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return o, err
	}
	if reports {
		if o.Reports, err = orclient.NewForConfig(cfg); err != nil {
			return o, err
		}
	}
	o.Identity = identity
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return o, nil
}
