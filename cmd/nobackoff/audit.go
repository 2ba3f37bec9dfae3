package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/nobackoff/nobackoff/internal/audit"
	"github.com/nobackoff/nobackoff/internal/clusterstate"
	"github.com/nobackoff/nobackoff/registrycheck"
)

// audit judges the workloads a live cluster runs: `nobackoff audit`.
func auditCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster to audit (default $KUBECONFIG, else ~/.kube/config)")
	kubeContext := fs.String("context", "", "kubeconfig context to use (default its current context)")
	var namespace string
	fs.StringVar(&namespace, "n", "", "audit this namespace only (default: the context's namespace)")
	fs.StringVar(&namespace, "namespace", "", "same as -n")
	var all bool
	fs.BoolVar(&all, "A", false, "audit every namespace, but those labelled nobackoff.io/mode=off and --exclude-namespace")
	fs.BoolVar(&all, "all-namespaces", false, "same as -A")
	var exclude stringList
	fs.Var(&exclude, "exclude-namespace", "namespace left out with -A (kube-system is, unless named with -n); repeatable")
	output := fs.String("o", "text", "output format: text or json")
	concurrency := fs.Int("concurrency", 8, "workloads reviewed at once")
	perMinute := fs.Int("registry-requests-per-minute", 600, "bound on the HTTP requests sent to registries (token, HEAD, GET), 0 for none; lookups that would wait past --registry-timeout are inconclusive")
	progress := fs.String("progress", "auto", "a progress line on stderr: auto (when stderr is a terminal), always or never")
	rf := addReviewFlags(fs, 10*time.Second, "platforms of the nodes when they cannot be listed (default linux/amd64); otherwise the nodes' own", "warn")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: nobackoff audit [--kubeconfig PATH] [--context NAME] [-n NAMESPACE | -A] [-o text|json]\n\n"+
			"Judges the workloads the cluster runs, as the webhook would were they applied now, read-only.\n"+
			"Exit code: 0 no error-level finding, 1 at least one, 2 usage or a cluster that cannot be read.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "nobackoff audit: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected argument %q", fs.Arg(0))
	case *output != "text" && *output != "json":
		return fail("-o %q: want text or json", *output)
	case all && namespace != "":
		return fail("-n and -A: give one")
	case *concurrency < 1:
		return fail("--concurrency %d: want at least 1", *concurrency)
	case *perMinute < 0:
		return fail("--registry-requests-per-minute %d: want 0 or more", *perMinute)
	case *progress != "auto" && *progress != "always" && *progress != "never":
		return fail("--progress %q: want auto, always or never", *progress)
	}
	log, err := rf.logger(stderr)
	if err != nil {
		return fail("%v", err)
	}
	eng, err := rf.engine()
	if err != nil {
		return fail("%v", err)
	}
	pls, err := rf.parsePlatforms()
	if err != nil {
		return fail("%v", err)
	}
	client, contextNamespace, err := clusterstate.LiveClient(*kubeconfig, *kubeContext)
	if err != nil {
		return fail("%v", err)
	}
	scope := audit.Scope{Namespace: namespace}
	switch {
	case all:
		scope.Exclude = append([]string{"kube-system"}, exclude...)
	case namespace == "":
		scope.Namespace = contextNamespace
	}

	ctx := context.Background()
	listed, err := audit.List(ctx, client, scope)
	if err != nil {
		return fail("%v", err)
	}
	// The objects the pod specs name are read once each; the bounds grow
	// with the cluster.
	n := len(listed.Workloads)
	cluster := clusterstate.NewLiveCluster(clusterstate.NewStaticCluster(pls), client, clusterstate.LiveOptions{
		Namespace: contextNamespace, Log: log, PlatformsFromNodes: true,
		MaxCalls: max(1000, 20*n), Budget: max(time.Minute, time.Duration(n)*200*time.Millisecond),
	})
	lookups, err := rf.lookups(cluster, log)
	if err != nil {
		return fail("%v", err)
	}
	eng = eng.WithLookups(lookups).WithObjects(cluster)
	bg := &registrycheck.Background{LookupTimeout: *rf.budget}
	if *perMinute > 0 {
		bg.Limiter = rate.NewLimiter(rate.Limit(float64(*perMinute)/60), max(1, *perMinute/60))
	}
	ctx = registrycheck.WithBackground(ctx, bg)

	var tick audit.Progress
	if *progress == "always" || *progress == "auto" && isTerminal(stderr) {
		var mu sync.Mutex
		last, shown := time.Time{}, 0
		tick = func(done, total int) {
			mu.Lock()
			defer mu.Unlock()
			if done <= shown {
				return // reported late, after a later count
			}
			if done == total || time.Since(last) >= 200*time.Millisecond {
				shown = done
				last = time.Now()
				fmt.Fprintf(stderr, "\rnobackoff audit: %d/%d workloads reviewed", done, total)
				if done == total {
					fmt.Fprint(stderr, "\r\033[K")
				}
			}
		}
	}
	rep, errs := audit.Review(ctx, eng, listed, *concurrency, tick)
	errs = append(listed.Skipped, errs...)

	if err := rep.Write(stdout, *output); err != nil {
		return fail("writing report: %v", err)
	}
	// What could not be judged is said, but does not hide the verdict on
	// the rest: the cluster's objects are not this command's input.
	for _, e := range errs {
		fmt.Fprintln(stderr, "nobackoff audit:", e)
	}
	if rep.HasErrors() {
		return exitFindings
	}
	return exitOK
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
