// Command nobackoff is the nobackoff admission webhook and its CLI:
//
//	nobackoff serve    serve AdmissionReviews over HTTPS
//	nobackoff check    check manifests from files, as CI would
//	nobackoff audit    judge the workloads a cluster runs
//	nobackoff version  print the version
package main

import (
	"fmt"
	"io"
	"os"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes of nobackoff check and audit, documented in the README.
const (
	exitOK       = 0
	exitFindings = 1
	exitUsage    = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "check":
		return check(args[1:], stdin, stdout, stderr)
	case "audit":
		return auditCmd(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "nobackoff", version)
		return exitOK
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "nobackoff: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `nobackoff tells you, before they exist, which pods will not come up.

Usage:
  nobackoff serve   [flags]          serve admission reviews over HTTPS
  nobackoff check   -f PATH [flags]  check manifests (files, directories, - for stdin)
  nobackoff audit   [-n NS | -A]     judge the workloads a cluster runs, read-only
  nobackoff version                  print the version

Run "nobackoff COMMAND -h" for a command's flags.
`)
}
