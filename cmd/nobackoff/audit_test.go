package main

import "testing"

// TestAuditUsage: contradictory or malformed flags are usage errors
// (exit 2) before any cluster is asked.
func TestAuditUsage(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "-n", "shop", "-A"},
		{"audit", "-o", "yaml"},
		{"audit", "--concurrency", "0"},
		{"audit", "--registry-requests-per-minute", "-1"},
		{"audit", "--progress", "sometimes"},
		{"audit", "extra"},
		{"audit", "--severity", "no.such-check=error"},
		{"audit", "--kubeconfig", "/nonexistent/kubeconfig"},
	} {
		if code, _, errOut := runCLI(t, "", args...); code != exitUsage || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message", args, code, errOut, exitUsage)
		}
	}
}
