package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/nobackoff/nobackoff/internal/clusterstate"
	"github.com/nobackoff/nobackoff/internal/engine"
	"github.com/nobackoff/nobackoff/internal/fixtures"
	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

func TestCheckDocumentsReportsInvalidWorkloads(t *testing.T) {
	const input = `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: b}
---
apiVersion: example.com/v1
kind: Rollout
metadata: {name: not-a-workload-kind}
spec:
  template:
    spec:
      containers:
      - {name: app, volumeMounts: [{name: data, mountPath: /d}]}
---
` + `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        resources: {limits: {memory: 128Mi}}
        volumeMounts: [{name: data, mountPath: /d}]
      - {name: app, image: nginx:1.27, resources: {limits: {memory: 128Mi}}}
`
	docs, rerrs := manifests.ReadStream("app.yaml", strings.NewReader(input))
	if len(rerrs) > 0 {
		t.Fatal(rerrs)
	}
	rep, errs := CheckDocuments(context.Background(), engine.New(policy.NewCatalog(policy.Options{})), docs)
	var got []string
	for _, err := range errs {
		var me *manifests.Error
		var fe *field.Error
		if !errors.As(err, &me) || !errors.As(err, &fe) {
			t.Fatalf("error %v (%T) is not a *manifests.Error around a *field.Error", err, err)
		}
		got = append(got, err.Error())
	}
	want := []string{
		`app.yaml: document 3 (Deployment shop/web): spec.template.spec.containers[0].volumeMounts[0].name: Not found: "data"`,
		`app.yaml: document 3 (Deployment shop/web): spec.template.spec.containers[1].name: Duplicate value: "app"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(rep.Objects) != 1 || rep.Read != 3 {
		t.Errorf("report: %d objects of %d read, want the Deployment of 3", len(rep.Objects), rep.Read)
	}
}

func TestLimitErrorThroughCheckDocuments(t *testing.T) {
	// The CLI's path: the error is a *manifests.Error naming the object
	// and wrapping the *workload.LimitError with its field.
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27",
		Env: []corev1.EnvVar{{Name: "BIG", Value: strings.Repeat("v", workload.MaxEnvBytes)}}}}}
	d, err := json.Marshal(&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "ns"}, Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: spec}}})
	if err != nil {
		t.Fatal(err)
	}
	docs, errs := manifests.ReadStream("app.yaml", strings.NewReader(string(d)))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	rep, errs := CheckDocuments(t.Context(), engine.New(policy.NewCatalog(policy.Options{})), docs)
	if len(rep.Objects) != 0 || len(errs) != 1 {
		t.Fatalf("objects %d, errors %v: want the workload refused", len(rep.Objects), errs)
	}
	var me *manifests.Error
	var le *workload.LimitError
	if !errors.As(errs[0], &me) || !errors.As(errs[0], &le) {
		t.Fatalf("error %v (%T): want a *manifests.Error wrapping a *workload.LimitError", errs[0], errs[0])
	}
	if me.Where != "app.yaml: document 1 (Deployment ns/w)" || le.Field != "spec.template.spec.containers[0].env[0]" || le.Limit != workload.MaxEnvBytes {
		t.Errorf("error at %q, %+v", me.Where, le)
	}
}

// TestOfflineJudgesSecretsInTheInput: without a registry, a pull secret of
// the wrong type in the input is reported; one not in the input is not
// (it may well be in the cluster).
func TestOfflineJudgesSecretsInTheInput(t *testing.T) {
	docs := fixtures.Docs(t, `
apiVersion: v1
kind: Secret
metadata: {name: regcred, namespace: shop}
type: Opaque
stringData: {.dockerconfigjson: '{"auths":{}}'}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      imagePullSecrets: [{name: regcred}, {name: elsewhere}]
      containers: [{name: app, image: registry.example.com/shop/web:1.0, resources: {limits: {memory: 64Mi}}}]
`)
	cluster := clusterstate.NewStaticCluster(nil)
	if errs := cluster.AddDocuments(docs); len(errs) > 0 {
		t.Fatal(errs)
	}
	eng := engine.New(policy.NewCatalog(policy.Options{})).WithLookups(&engine.Lookups{Cluster: cluster})
	rep, errs := CheckDocuments(context.Background(), eng, docs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, o := range rep.Objects {
		for _, f := range o.Result.Findings {
			got = append(got, fmt.Sprintf("%s %s %s", f.Check, f.Severity, f.Field))
		}
	}
	if want := "[image.pull-secret-missing warning spec.template.spec.imagePullSecrets[0]]"; fmt.Sprint(got) != want {
		t.Fatalf("findings %v, want %s", got, want)
	}
}
