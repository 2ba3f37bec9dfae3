package main

import (
	"strings"
	"testing"
)

// --cluster-autoscales=false makes a pod that fits no node of the input
// an error; by default the cluster is assumed to add nodes: a warning.
func TestCheckClusterAutoscales(t *testing.T) {
	const input = `apiVersion: v1
kind: Node
metadata: {name: n1, labels: {pool: web, kubernetes.io/os: linux, kubernetes.io/arch: amd64}}
status:
  allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {pool: gpu}
      containers:
      - name: web
        image: nginx:1.27@sha256:0000000000000000000000000000000000000000000000000000000000000000
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 64Mi}}
`
	for _, tc := range []struct {
		flags    []string
		code     int
		severity string
	}{
		{nil, exitOK, "warning"},
		{[]string{"--cluster-autoscales=true"}, exitOK, "warning"},
		{[]string{"--cluster-autoscales=false"}, exitFindings, "error"},
	} {
		args := append([]string{"check", "--offline", "-f", "-", "-o", "json"}, tc.flags...)
		code, out, errOut := runCLI(t, input, args...)
		var sev []string
		for _, f := range decodeReport(t, out) {
			if f.Check == "schedule.no-matching-node" {
				sev = append(sev, f.Severity)
			}
		}
		if code != tc.code || strings.Join(sev, ",") != tc.severity {
			t.Errorf("%v: exit %d, schedule.no-matching-node %v; want exit %d, %s\n%s%s", tc.flags, code, sev, tc.code, tc.severity, out, errOut)
		}
	}
	for _, cmd := range []string{"check", "serve"} {
		if code, _, errOut := runCLI(t, "", cmd, "--cluster-autoscales=maybe"); code != exitUsage || !strings.Contains(errOut, "cluster-autoscales") {
			t.Errorf("%s --cluster-autoscales=maybe: exit %d\n%s", cmd, code, errOut)
		}
	}
}
