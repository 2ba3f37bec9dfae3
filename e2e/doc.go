// Package e2e is nobackoff's end-to-end suite: a real etcd and
// kube-apiserver on loopback, a real registry, the `nobackoff serve`
// binary registered through the chart's own webhook configuration, and the
// real kubectl, whose output and exit codes the tests assert.
package e2e
