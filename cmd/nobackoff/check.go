package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/nobackoff/nobackoff/webhook"
)

func check(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files, startup, severity stringList
	fs.Var(&files, "f", "manifest file, directory (recursive: *.yaml, *.yml, *.json) or - for stdin; repeatable")
	output := fs.String("o", "text", "output format: text or json")
	fs.Var(&startup, "expected-startup", "expected start seconds by runtime, e.g. jvm=60,python=15; repeatable")
	fs.Var(&severity, "severity", "override a check's severity, e.g. resources.memory-limit-missing=info; repeatable")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: nobackoff check -f PATH [-f PATH ...] [-o text|json]\n\n"+
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
	engine, err := webhook.NewEngineFromSettings(webhook.CatalogSettings{ExpectedStartup: startup, Severity: severity})
	if err != nil {
		fmt.Fprintln(stderr, "nobackoff check: --"+err.Error())
		return exitUsage
	}

	docs, errs := webhook.ReadManifests(files, stdin)
	rep, checkErrs := webhook.CheckDocuments(context.Background(), engine, docs)
	errs = append(errs, checkErrs...)

	if *output == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
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
