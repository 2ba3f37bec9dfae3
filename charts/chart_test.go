// Package charts_test holds the Helm chart's tests: lint, rendering in every
// certificate mode, and assertions on the parsed objects.
package charts_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/yaml"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	orv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"

	"github.com/nobackoff/nobackoff/internal/clusterstate"
	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/report"
)

func helm(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("NOBACKOFF_HELM_BIN")
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("NOBACKOFF_HELM_BIN is not set: run the tests with `make test`, which builds helm")
		}
		t.Skip("SKIPPED: NOBACKOFF_HELM_BIN not set; `make test` builds helm and sets it")
	}
	return bin
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(helm(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	err := cmd.Run()
	return out.String() + errb.String(), err
}

// rendered are the objects of one `helm template`, by kind.
type rendered map[string][]manifests.Document

func render(t *testing.T, set ...string) rendered {
	t.Helper()
	args := []string{"template", "nobackoff", "nobackoff", "--namespace", "nobackoff"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", set, err, out)
	}
	docs, errs := manifests.Read([]string{"-"}, strings.NewReader(out))
	if len(errs) > 0 {
		t.Fatalf("rendered YAML does not read: %v", errs)
	}
	r := rendered{}
	for _, d := range docs {
		r[d.GVK.Kind] = append(r[d.GVK.Kind], d)
	}
	return r
}

func (r rendered) one(t *testing.T, kind string, into any) {
	t.Helper()
	if len(r[kind]) != 1 {
		t.Fatalf("%d %s objects, want 1", len(r[kind]), kind)
	}
	if err := json.Unmarshal(r[kind][0].JSON, into); err != nil {
		t.Fatal(err)
	}
}

func (r rendered) names(kind string) []string {
	var n []string
	for _, d := range r[kind] {
		n = append(n, d.Name)
	}
	sort.Strings(n)
	return n
}

func TestLint(t *testing.T) {
	if out, err := run(t, "lint", "--strict", "nobackoff"); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
}

func TestDefaults(t *testing.T) {
	r := render(t)
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	r.one(t, "ValidatingWebhookConfiguration", &vwc)
	if len(vwc.Webhooks) != 2 {
		t.Fatalf("%d webhook entries, want 2", len(vwc.Webhooks))
	}
	for _, w := range vwc.Webhooks {
		if *w.SideEffects != admissionregistrationv1.SideEffectClassNone || *w.TimeoutSeconds != 10 || *w.FailurePolicy != admissionregistrationv1.Ignore {
			t.Errorf("%s: sideEffects %v timeout %v failurePolicy %v", w.Name, *w.SideEffects, *w.TimeoutSeconds, *w.FailurePolicy)
		}
		excluded := sets.New[string]()
		for _, e := range w.NamespaceSelector.MatchExpressions {
			if e.Key == "kubernetes.io/metadata.name" && e.Operator == "NotIn" {
				excluded.Insert(e.Values...)
			}
		}
		if !excluded.HasAll("kube-system", "nobackoff") {
			t.Errorf("%s does not exclude kube-system and the release namespace: %v", w.Name, excluded.UnsortedList())
		}
		if len(w.MatchConditions) != 1 || len(w.Rules) != 3 || w.AdmissionReviewVersions[0] != "v1" {
			t.Errorf("%s: matchConditions %d rules %d versions %v", w.Name, len(w.MatchConditions), len(w.Rules), w.AdmissionReviewVersions)
		}
	}
	var dep appsv1.Deployment
	r.one(t, "Deployment", &dep)
	if *dep.Spec.Replicas != 2 || len(r["PodDisruptionBudget"]) != 1 {
		t.Errorf("replicas %d, PDBs %d", *dep.Spec.Replicas, len(r["PodDisruptionBudget"]))
	}
	c := dep.Spec.Template.Spec.Containers[0]
	sc := c.SecurityContext
	psc := dep.Spec.Template.Spec.SecurityContext
	if !*psc.RunAsNonRoot || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || len(sc.Capabilities.Drop) != 1 || psc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("security context not restricted: pod %+v container %+v", psc, sc)
	}
	if !contains(c.Args, "--certs=self") {
		t.Errorf("args %v", c.Args)
	}
	if got := strings.Join(r.names("Role"), ","); got != "nobackoff-audit-lease,nobackoff-certs" {
		t.Errorf("self mode roles %v", got)
	}
}

// TestChartPassesItsOwnChecks: the webhook's Deployment is clean by
// nobackoff's own catalog (offline: no registry involved).
func TestChartPassesItsOwnChecks(t *testing.T) {
	r := render(t)
	e, err := engine.FromSettings(engine.CatalogSettings{})
	if err != nil {
		t.Fatal(err)
	}
	rep, errs := report.CheckDocuments(context.Background(), e, r["Deployment"])
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, o := range rep.Objects {
		for _, f := range o.Result.Findings {
			if f.Check != "image.mutable-tag" { // the chart pins the tag; a dev build may not
				t.Errorf("the chart's own Deployment: %s %s at %s", f.Severity, f.Check, f.Field)
			}
		}
	}
}

func TestCertModes(t *testing.T) {
	t.Run("certManager", func(t *testing.T) {
		r := render(t, "certs.mode=certManager")
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		r.one(t, "ValidatingWebhookConfiguration", &vwc)
		if vwc.Annotations["cert-manager.io/inject-ca-from"] != "nobackoff/nobackoff-serving" {
			t.Errorf("inject-ca-from %q", vwc.Annotations["cert-manager.io/inject-ca-from"])
		}
		if got := strings.Join(r.names("Certificate"), ","); got != "nobackoff-ca,nobackoff-serving" {
			t.Errorf("certificates %s", got)
		}
		if got := strings.Join(r.names("Issuer"), ","); got != "nobackoff-ca,nobackoff-selfsigned" {
			t.Errorf("issuers %s", got)
		}
		var dep appsv1.Deployment
		r.one(t, "Deployment", &dep)
		if !contains(dep.Spec.Template.Spec.Containers[0].Args, "--certs=files") || strings.Join(r.names("Role"), ",") != "nobackoff-audit-lease" {
			t.Errorf("certManager mode: args %v, roles %v", dep.Spec.Template.Spec.Containers[0].Args, r.names("Role"))
		}
	})
	t.Run("certManager objects are valid cert-manager API objects", func(t *testing.T) {
		// Without cert-manager's CRDs no API server can dry-run these; its
		// own API types, decoded strictly, reject unknown fields and types.
		r := render(t, "certs.mode=certManager")
		issuers := map[string]cmv1.Issuer{}
		for _, d := range r["Issuer"] {
			var is cmv1.Issuer
			if err := yaml.UnmarshalStrict(d.JSON, &is); err != nil {
				t.Fatalf("Issuer %s: %v", d.Name, err)
			}
			issuers[is.Name] = is
		}
		certsByName := map[string]cmv1.Certificate{}
		for _, d := range r["Certificate"] {
			var c cmv1.Certificate
			if err := yaml.UnmarshalStrict(d.JSON, &c); err != nil {
				t.Fatalf("Certificate %s: %v", d.Name, err)
			}
			certsByName[c.Name] = c
		}
		ca, serving := certsByName["nobackoff-ca"], certsByName["nobackoff-serving"]
		if issuers["nobackoff-selfsigned"].Spec.SelfSigned == nil || !ca.Spec.IsCA || ca.Spec.IssuerRef.Name != "nobackoff-selfsigned" {
			t.Errorf("CA chain: selfsigned issuer %+v, CA certificate %+v", issuers["nobackoff-selfsigned"].Spec, ca.Spec)
		}
		if caIssuer := issuers["nobackoff-ca"].Spec.CA; caIssuer == nil || caIssuer.SecretName != ca.Spec.SecretName {
			t.Errorf("CA issuer does not use the CA certificate's secret")
		}
		if serving.Spec.IssuerRef.Name != "nobackoff-ca" || serving.Spec.SecretName != "nobackoff-tls" ||
			!contains(serving.Spec.DNSNames, "nobackoff.nobackoff.svc") || serving.Spec.IsCA {
			t.Errorf("serving certificate %+v", serving.Spec)
		}
	})
	t.Run("provided", func(t *testing.T) {
		r := render(t, "certs.mode=provided", "certs.provided.secretName=my-tls", "certs.provided.caBundle=Q0E=")
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		r.one(t, "ValidatingWebhookConfiguration", &vwc)
		for _, w := range vwc.Webhooks {
			if string(w.ClientConfig.CABundle) != "CA" {
				t.Errorf("%s caBundle %q", w.Name, w.ClientConfig.CABundle)
			}
		}
		var dep appsv1.Deployment
		r.one(t, "Deployment", &dep)
		if dep.Spec.Template.Spec.Volumes[len(dep.Spec.Template.Spec.Volumes)-1].Secret.SecretName != "my-tls" {
			t.Error("the provided Secret is not mounted")
		}
	})
}

func TestValuesRejected(t *testing.T) {
	for name, set := range map[string][]string{
		"unknown mode":               {"certs.mode=bogus"},
		"typo'd key":                 {"replicaCont=3"},
		"typo'd nested key":          {"registries.lookupBugdet=2s"},
		"wrong type":                 {"timeoutSeconds=ten"},
		"timeout above the maximum":  {"timeoutSeconds=31"},
		"provided without a secret":  {"certs.mode=provided"},
		"provided values, self mode": {"certs.provided.secretName=x"},
		"enforced and excluded":      {"enforceNamespaces[0]=kube-system"},
		"typo'd cluster state key":   {"clusterState.secretKey=false"},
		"cluster state not a bool":   {"clusterState.enabled=maybe"},
		"autoscales not a bool":      {"checks.clusterAutoscales=maybe"},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", "nobackoff", "nobackoff", "--namespace", "nobackoff"}
			for _, s := range set {
				args = append(args, "--set", s)
			}
			if out, err := run(t, args...); err == nil {
				t.Fatalf("rendered:\n%.300s", out)
			}
		})
	}
}

func TestEnforceNamespaces(t *testing.T) {
	r := render(t, "enforceNamespaces[0]=payments")
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	r.one(t, "ValidatingWebhookConfiguration", &vwc)
	if len(vwc.Webhooks) != 3 || vwc.Webhooks[2].ClientConfig.Service.Path == nil || *vwc.Webhooks[2].ClientConfig.Service.Path != "/validate/enforce" {
		t.Fatalf("entries %d", len(vwc.Webhooks))
	}
	// The listed namespace is left out of the warn and label-enforce entries.
	for _, w := range vwc.Webhooks[:2] {
		for _, e := range w.NamespaceSelector.MatchExpressions {
			if e.Key == "kubernetes.io/metadata.name" && !contains(e.Values, "payments") {
				t.Errorf("%s still selects payments", w.Name)
			}
		}
	}
}

// TestSingleReplica: one replica renders, without a PDB. (The NOTES
// warning is rendered only by an install, which needs an API server: the
// e2e suite asserts it.)
func TestSingleReplica(t *testing.T) {
	if r := render(t, "replicaCount=1"); len(r["PodDisruptionBudget"]) != 0 {
		t.Error("a PDB of minAvailable 1 over one replica would block every drain")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestRegistryCABundle: a CA given as a value reaches the webhook as a file
// its configuration names, and the registry settings load it.
func TestRegistryCABundle(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Registry CA"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "template", "nobackoff", "nobackoff", "--namespace", "nobackoff", "--set-file", "registries.caBundle="+filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	docs, errs := manifests.Read([]string{"-"}, strings.NewReader(out))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	for _, d := range docs {
		if d.GVK.Kind == "ConfigMap" {
			if err := json.Unmarshal(d.JSON, &cm); err != nil {
				t.Fatal(err)
			}
		}
	}
	if strings.TrimSpace(cm.Data["registry-ca.pem"]) != strings.TrimSpace(string(caPEM)) {
		t.Fatalf("registry-ca.pem = %q, want the CA given", cm.Data["registry-ca.pem"])
	}
	// The ConfigMap as the pod sees it: its keys as files.
	mount := filepath.Join(dir, "config")
	if err := os.MkdirAll(mount, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range cm.Data {
		if err := os.WriteFile(filepath.Join(mount, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := engine.LoadConfig(filepath.Join(mount, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Registries.CAFile != "/etc/nobackoff/config/registry-ca.pem" {
		t.Fatalf("caFile %q, want the mounted file", cfg.Registries.CAFile)
	}
	reg := engine.RegistrySettings{CAFile: filepath.Join(mount, "registry-ca.pem")}
	if _, err := engine.NewLookups(reg, clusterstate.NewStaticCluster(nil), nil); err != nil {
		t.Fatalf("the registry settings do not load the CA: %v", err)
	}
	// Without the value, no CA file is named.
	if cm := render(t); len(cm["ConfigMap"]) != 1 || strings.Contains(string(cm["ConfigMap"][0].JSON), "caFile") {
		t.Error("a CA file is named without a CA bundle")
	}
}

// TestClusterState: the reader role grants what the webhook's informers
// list and watch, following registries.lookups and clusterState, and the
// webhook is told what to watch.
func TestClusterState(t *testing.T) {
	objects := []string{"configmaps", "persistentvolumeclaims", "resourcequotas", "limitranges", "storage.k8s.io/storageclasses",
		"scheduling.k8s.io/priorityclasses", "node.k8s.io/runtimeclasses"}
	base := []string{"nodes", "secrets", "serviceaccounts"}
	for name, tc := range map[string]struct {
		set   []string
		rules []string // group/resource list+watch; nil: no reader role
		args  []string
	}{
		"defaults":         {nil, append(base, objects...), []string{"--cluster-state=true", "--secret-keys=true"}},
		"no secret keys":   {[]string{"clusterState.secretKeys=false"}, append(base, objects...), []string{"--cluster-state=true", "--secret-keys=false"}},
		"no cluster state": {[]string{"clusterState.enabled=false"}, base, []string{"--cluster-state=false"}},
		"no lookups":       {[]string{"registries.lookups=false"}, nil, []string{"--registry-lookups=false"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := render(t, tc.set...)
			got, rules := clusterRoleGrants(t, r, "nobackoff-reader")
			for _, rule := range rules {
				if strings.Join(rule.Verbs, ",") != "list,watch" || len(rule.ResourceNames) > 0 {
					t.Errorf("rule %+v: want list and watch, no resource names", rule)
				}
			}
			sort.Strings(got)
			want := slices.Sorted(slices.Values(tc.rules))
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("reader role grants %v, want %v", got, want)
			}
			if tc.rules == nil && contains(r.names("ClusterRoleBinding"), "nobackoff-reader") {
				t.Error("a reader binding without a reader role")
			}
			var dep appsv1.Deployment
			r.one(t, "Deployment", &dep)
			for _, a := range tc.args {
				if !contains(dep.Spec.Template.Spec.Containers[0].Args, a) {
					t.Errorf("args %v lack %s", dep.Spec.Template.Spec.Containers[0].Args, a)
				}
			}
		})
	}
}

// TestClusterAutoscales: checks.clusterAutoscales reaches the webhook's
// configuration file, true by default, and maps to NodesFixed.
func TestClusterAutoscales(t *testing.T) {
	for name, tc := range map[string]struct {
		set       []string
		wantFixed bool
	}{
		"default": {nil, false},
		"true":    {[]string{"checks.clusterAutoscales=true"}, false},
		"false":   {[]string{"checks.clusterAutoscales=false"}, true},
	} {
		t.Run(name, func(t *testing.T) {
			r := render(t, tc.set...)
			var cm struct {
				Data map[string]string `json:"data"`
			}
			r.one(t, "ConfigMap", &cm)
			f := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(f, []byte(cm.Data["config.yaml"]), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := engine.LoadConfig(f)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Checks.ClusterAutoscales == nil {
				t.Fatalf("config.yaml does not say whether the cluster autoscales:\n%s", cm.Data["config.yaml"])
			}
			cat := engine.CatalogSettings{}
			cfg.Apply(&cat, &engine.RegistrySettings{}, false)
			o, err := cat.Options()
			if err != nil {
				t.Fatal(err)
			}
			if o.NodesFixed != tc.wantFixed {
				t.Errorf("NodesFixed = %v, want %v", o.NodesFixed, tc.wantFixed)
			}
		})
	}
}

// TestAuditValues: audit.* reach the webhook's arguments; its role grants
// list of namespaces and the workload kinds, the Reports and the Events
// each only when switched on, and the Lease in the release namespace;
// with audit off (or without lookups) nothing of it is installed.
func TestAuditValues(t *testing.T) {
	workloads := []string{"namespaces", "pods", "replicationcontrollers", "apps/deployments", "apps/statefulsets",
		"apps/daemonsets", "apps/replicasets", "batch/jobs", "batch/cronjobs"}
	reports := []string{"openreports.io/reports", "admissionregistration.k8s.io/validatingwebhookconfigurations"}
	for name, tc := range map[string]struct {
		set      []string
		grants   []string // group/resource of the audit role; nil: no audit objects
		args     []string
		withheld []string
	}{
		"defaults": {nil, append(append(slices.Clone(workloads), reports...), "events.k8s.io/events"),
			[]string{"--audit", "--audit-interval=30m", "--audit-registry-requests-per-minute=60", "--audit-reports=true",
				"--audit-events=true", "--audit-lease=nobackoff-audit", "--audit-reports-owner=nobackoff",
				"--audit-exclude-namespace=kube-system", "--audit-exclude-namespace=nobackoff", "--audit-exclude-namespace=sandbox"}, nil},
		"no reports": {[]string{"audit.reports.enabled=false"}, append(slices.Clone(workloads), "events.k8s.io/events"),
			[]string{"--audit-reports=false"}, nil},
		"no events": {[]string{"audit.events.enabled=false", "audit.interval=5m", "audit.registryRequestsPerMinute=0"},
			append(slices.Clone(workloads), reports...), []string{"--audit-events=false", "--audit-interval=5m",
				"--audit-registry-requests-per-minute=0"}, nil},
		"off":        {[]string{"audit.enabled=false"}, nil, nil, []string{"--audit"}},
		"no lookups": {[]string{"registries.lookups=false"}, nil, nil, []string{"--audit"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := render(t, append([]string{"excludeNamespaces={sandbox}"}, tc.set...)...)
			got, rules := clusterRoleGrants(t, r, "nobackoff-audit")
			for _, rule := range rules {
				verbs := strings.Join(rule.Verbs, ",")
				if verbs != "list" && verbs != "list,create,update,delete" && verbs != "create" && verbs != "get" ||
					verbs == "get" && len(rule.ResourceNames) != 1 {
					t.Errorf("audit rule %+v: more than the passes need", rule)
				}
			}
			slices.Sort(got)
			if want := slices.Sorted(slices.Values(tc.grants)); !slices.Equal(got, want) {
				t.Errorf("audit role grants %v, want %v", got, want)
			}
			audits := 0
			for _, kind := range []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
				for _, n := range r.names(kind) {
					if strings.Contains(n, "audit") {
						audits++
					}
				}
			}
			if want := map[bool]int{true: 4, false: 0}[tc.grants != nil]; audits != want {
				t.Errorf("%d audit RBAC objects, want %d", audits, want)
			}
			var dep appsv1.Deployment
			r.one(t, "Deployment", &dep)
			args := dep.Spec.Template.Spec.Containers[0].Args
			for _, a := range tc.args {
				if !contains(args, a) {
					t.Errorf("args %v lack %s", args, a)
				}
			}
			for _, a := range tc.withheld {
				if contains(args, a) {
					t.Errorf("args %v hold %s", args, a)
				}
			}
		})
	}
}

// TestReportsCRD: the CRD the chart installs is the one of the Reports the
// webhook writes: openreports.io, Report, v1alpha1, namespaced.
func TestReportsCRD(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("nobackoff", "crds", "openreports.io_reports.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		t.Fatal(err)
	}
	gv := orv1alpha1.SchemeGroupVersion
	served := false
	for _, v := range crd.Spec.Versions {
		served = served || v.Name == gv.Version && v.Served && v.Storage
	}
	if crd.Spec.Group != gv.Group || crd.Spec.Names.Kind != "Report" || crd.Spec.Scope != apiextensionsv1.NamespaceScoped || !served {
		t.Errorf("CRD %s: group %s kind %s scope %s, %s served %v", crd.Name, crd.Spec.Group, crd.Spec.Names.Kind, crd.Spec.Scope, gv.Version, served)
	}
}

// clusterRoleGrants returns what the rendered ClusterRole named name grants,
// as group/resource (the core group bare), and its rules; none when the
// chart renders no such role.
func clusterRoleGrants(t *testing.T, r rendered, name string) ([]string, []rbacv1.PolicyRule) {
	t.Helper()
	var grants []string
	var rules []rbacv1.PolicyRule
	for _, d := range r["ClusterRole"] {
		if d.Name != name {
			continue
		}
		var role rbacv1.ClusterRole
		if err := json.Unmarshal(d.JSON, &role); err != nil {
			t.Fatal(err)
		}
		for _, rule := range role.Rules {
			for _, g := range rule.APIGroups {
				for _, res := range rule.Resources {
					grants = append(grants, strings.TrimPrefix(g+"/"+res, "/"))
				}
			}
		}
		rules = append(rules, role.Rules...)
	}
	return grants, rules
}
