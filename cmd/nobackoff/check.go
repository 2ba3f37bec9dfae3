package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nobackoff/nobackoff/internal/clusterstate"
	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/report"
)

func check(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files stringList
	fs.Var(&files, "f", "manifest file, directory (recursive: *.yaml, *.yml, *.json) or - for stdin; repeatable")
	output := fs.String("o", "text", "output format: text or json")
	offline := fs.Bool("offline", false, "make no registry lookups (the image.* registry checks then say nothing)")
	kubeconfig := fs.String("kubeconfig", "", "also read the objects pod specs name (ConfigMaps, Secrets, claims, classes, ServiceAccounts), the nodes and the namespaces' ResourceQuotas and LimitRanges from this kubeconfig's cluster, read-only; objects in the input still count as present")
	kubeContext := fs.String("context", "", "kubeconfig context to use with --kubeconfig (default its current context)")
	rf := addReviewFlags(fs, 3*time.Second, "platforms of the nodes, e.g. linux/amd64,linux/arm64 (default linux/amd64)", "error")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: nobackoff check -f PATH [-f PATH ...] [-o text|json] [--kubeconfig PATH [--context NAME]]\n\n"+
			"Exit code: 0 no error-level finding, 1 at least one, 2 bad input or usage.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if len(files) == 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "nobackoff check: give manifests with -f PATH (a file, a directory or -)")
		fs.Usage()
		return exitUsage
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(stderr, "nobackoff check: -o %q: want text or json\n", *output)
		return exitUsage
	}
	if *kubeContext != "" && *kubeconfig == "" {
		fmt.Fprintln(stderr, "nobackoff check: --context needs --kubeconfig")
		return exitUsage
	}
	if *kubeconfig != "" && !flagSet(fs, "log-level") {
		*rf.level = "warn" // say what the cluster would not tell
	}
	log, err := rf.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "nobackoff check:", err)
		return exitUsage
	}
	eng, err := rf.engine()
	if err != nil {
		fmt.Fprintln(stderr, "nobackoff check:", err)
		return exitUsage
	}

	// live layers the input over the cluster of --kubeconfig.
	live := func(input *clusterstate.StaticCluster) (clusterView, bool) {
		if *kubeconfig == "" {
			return input, true
		}
		client, namespace, err := clusterstate.LiveClient(*kubeconfig, *kubeContext)
		if err != nil {
			fmt.Fprintln(stderr, "nobackoff check: --kubeconfig:", err)
			return nil, false
		}
		return clusterstate.NewLiveCluster(input, client, clusterstate.LiveOptions{Namespace: namespace, Log: log}), true
	}

	docs, errs := manifests.Read(files, stdin)
	if *offline {
		// No registry: the pull secrets in the input are still judged.
		input := clusterstate.NewStaticCluster(nil)
		errs = append(errs, input.AddDocuments(docs)...)
		cluster, ok := live(input)
		if !ok {
			return exitUsage
		}
		eng = eng.WithLookups(&engine.Lookups{Cluster: cluster, Log: log}).WithObjects(cluster)
	} else {
		pls, err := rf.parsePlatforms()
		if err != nil {
			fmt.Fprintln(stderr, "nobackoff check:", err)
			return exitUsage
		}
		input := clusterstate.NewStaticCluster(pls)
		errs = append(errs, input.AddDocuments(docs)...)
		cluster, ok := live(input)
		if !ok {
			return exitUsage
		}
		lookups, err := rf.lookups(cluster, log)
		if err != nil {
			fmt.Fprintln(stderr, "nobackoff check:", err)
			return exitUsage
		}
		eng = eng.WithLookups(lookups).WithObjects(cluster)
	}
	rep, checkErrs := report.CheckDocuments(context.Background(), eng, docs)
	errs = append(errs, checkErrs...)

	if err := rep.Write(stdout, *output); err != nil {
		fmt.Fprintln(stderr, "nobackoff check: writing report:", err)
		return exitUsage
	}
	for _, e := range errs {
		fmt.Fprintln(stderr, "nobackoff check:", e)
	}
	switch {
	case len(errs) > 0:
		return exitUsage
	case rep.HasErrors():
		return exitFindings
	}
	return exitOK
}

// clusterView is what `nobackoff check` reads the objects from: the input
// alone, or layered over a live cluster.
type clusterView interface {
	engine.ClusterView
	engine.ObjectIndex
}

// flagSet reports whether a flag was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
