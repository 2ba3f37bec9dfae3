package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/nobackoff/nobackoff/policy"
)

// Seeds: snippets of the fixtures under ../testdata and of the healthy
// corpus, and the shapes that broke things before.
const (
	seedPod = `apiVersion: v1
kind: Pod
metadata: {name: heaps, namespace: dev}
spec:
  containers:
  - name: shell
    image: registry.example.com/team/legacy:1.0.0
    env: [{name: HEAP, value: 3g}]
    command: ["/bin/sh", "-c", "exec java -Xmx$(HEAP) -jar /app/legacy.jar"]
    resources: {limits: {memory: 2Gi}}
`
	seedDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: metrics-server
  namespace: kube-system
spec:
  selector: {matchLabels: {k8s-app: metrics-server}}
  template:
    metadata: {labels: {k8s-app: metrics-server}}
    spec:
      containers:
      - name: metrics-server
        image: registry.k8s.io/metrics-server/metrics-server:v0.7.2
        args: [--cert-dir=/tmp, --secure-port=10250]
        ports: [{name: https, containerPort: 10250, protocol: TCP}]
        readinessProbe: {httpGet: {path: /readyz, port: https, scheme: HTTPS}, periodSeconds: 10}
        livenessProbe: {httpGet: {path: /livez, port: https, scheme: HTTPS}, periodSeconds: 10}
        resources: {requests: {cpu: 100m, memory: 200Mi}}
      initContainers:
      - {name: proxy, image: envoyproxy/envoy:v1.31.2, restartPolicy: Always, readinessProbe: {tcpSocket: {port: 9901}}}
`
	seedCronJob = `apiVersion: batch/v1
kind: CronJob
metadata: {name: report, annotations: {nobackoff.io/skip: image.mutable-tag}}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        metadata: {annotations: {nobackoff.io/expected-startup-seconds: "jvm=60"}}
        spec:
          restartPolicy: Never
          containers: [{name: r, image: "busybox:latest", resources: {limits: {memory: 1Gb}}}]
`
	seedList = `{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"}},
 {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"dev"},
  "spec":{"containers":[{"name":"c","image":"NGINX","resources":{"limits":{"memory":"64Mi"}}}]}}]}`
	seedAliases = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - {name: a, image: nginx:1.27, env: &env [{name: MODE, value: prod}], resources: &res {limits: {memory: 64Mi}}}
      - {name: b, image: nginx:1.27, env: *env, resources: {<<: *res}}
`
	seedMultiDoc = "# comment only\n---\n" + `apiVersion: v1
kind: Secret
metadata: {name: pull, namespace: dev}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '{"auths":{}}'}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: dev}
imagePullSecrets: [{name: pull}]
---
apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: old}
`
)

func manifestSeeds() []string {
	return []string{
		seedPod, seedDeployment, seedCronJob, seedList, seedAliases, seedMultiDoc,
		"", "---\n", "just a string\n", "kind: [unclosed\n", "--- !tag\n", "a: &a [*a]\n",
		"apiVersion: v1\nkind: Pod\nspec: {containers: [{name: c, image: \"" + strings.Repeat("x", MaxImageBytes+1) + "\"}]}\n",
	}
}

// checkedOffline is the engine the fuzz targets review with: every check,
// no registry.
func checkedOffline() *Engine { return NewEngine(policy.NewCatalog(policy.Options{})) }

// FuzzReadManifests feeds arbitrary bytes to the manifest reader and the
// CLI's review of what it read.
func FuzzReadManifests(f *testing.F) {
	for _, s := range manifestSeeds() {
		f.Add([]byte(s))
	}
	engine := checkedOffline()
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		docs, errs := readStream("fuzz.yaml", bytes.NewReader(data))
		runtime.ReadMemStats(&after)
		// The YAML parsers cost a few hundred bytes per node, and a node
		// can be two bytes of text; nothing may cost more than that.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20+1024*uint64(len(data)) {
			t.Errorf("%d bytes of input allocated %d MiB", len(data), alloc>>20)
		}
		for _, err := range errs {
			var me *ManifestError
			if !errors.As(err, &me) || !strings.HasPrefix(me.Where, "fuzz.yaml: document ") {
				t.Fatalf("error %v (%T): want a *ManifestError located in fuzz.yaml", err, err)
			}
		}
		held := 0
		for _, d := range docs {
			switch {
			case d.Source != "fuzz.yaml" || d.Index < 1 || d.Item < 0:
				t.Fatalf("document at %s", d.Where())
			case d.GVK.Kind == "" || d.GVK.Version == "":
				t.Fatalf("%s: document without apiVersion or kind", d.Where())
			case !json.Valid(d.JSON):
				t.Fatalf("%s: JSON %q is not valid", d.Where(), d.JSON)
			case len(d.JSON) > MaxObjectBytes:
				t.Fatalf("%s: %d bytes of JSON", d.Where(), len(d.JSON))
			}
			held += len(d.JSON)
		}
		if held > MaxManifestJSONBytes {
			t.Fatalf("%d bytes of JSON held", held)
		}
		// What the CLI does next: every error it reports is located.
		_, cerrs := CheckDocuments(context.Background(), engine, docs)
		for _, err := range cerrs {
			var me *ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("check error %v (%T): want a *ManifestError", err, err)
			}
		}
	})
}

// FuzzDecodeWorkload decodes arbitrary JSON as each workload kind and
// reviews what decodes.
func FuzzDecodeWorkload(f *testing.F) {
	kinds := WorkloadKinds()
	for _, s := range manifestSeeds() {
		docs, _ := readStream("seed", strings.NewReader(s))
		for _, d := range docs {
			for i, k := range kinds {
				if k.Kind == d.GVK.Kind {
					f.Add(uint8(i), d.JSON, true)
					f.Add(uint8(i), d.JSON, false)
				}
			}
		}
	}
	f.Add(uint8(0), []byte(`{"spec":{"ephemeralContainers":[{"name":"dbg","image":"busybox"}]}}`), false)
	f.Add(uint8(1), []byte(`{"spec":{"template":null}}`), false)
	f.Add(uint8(7), []byte(`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"c","env":[{"name":"A","value":"$(A)$(A)"}]}]}}}}}}`), true)
	engine := checkedOffline()
	f.Fuzz(func(t *testing.T, kind uint8, data []byte, strict bool) {
		gvk := kinds[int(kind)%len(kinds)]
		w, err := DecodeWorkload(gvk, data, strict)
		if err != nil {
			var le *LimitError
			if errors.As(err, &le) && (!strings.HasPrefix(le.Field, podSpecPath(gvk.Kind)+".") || le.Got <= le.Limit) {
				t.Fatalf("limit error %+v for a %s", le, gvk.Kind)
			}
			return
		}
		if w.Kind != gvk.Kind || w.Meta == nil {
			t.Fatalf("decoded %s as kind %q, meta %v", gvk.Kind, w.Kind, w.Meta)
		}
		if w.Spec == nil {
			// Only a ReplicationController may have no pod template.
			if gvk.Kind != "ReplicationController" {
				t.Fatalf("%s decoded without a pod spec", gvk.Kind)
			}
			return
		}
		if w.SpecPath != podSpecPath(gvk.Kind) {
			t.Fatalf("%s pod spec at %q, want %q", gvk.Kind, w.SpecPath, podSpecPath(gvk.Kind))
		}
		if err := checkLimits(w); err != nil {
			t.Fatalf("decoded a workload over a limit: %v", err)
		}
		res := engine.Review(context.Background(), w)
		for _, f := range res.Findings {
			if !strings.HasPrefix(f.Field, w.SpecPath+".") {
				t.Errorf("finding %s at %q, outside the pod spec %s", f.Check, f.Field, w.SpecPath)
			}
		}
	})
}

// FuzzReadReview feeds arbitrary bodies to the AdmissionReview decoder and
// what decodes to the review a warn-mode handler makes of it.
func FuzzReadReview(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "testdata", "admission", "deployment-create.json")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"", "hello", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"UPDATE","subResource":"ephemeralcontainers",` +
			`"object":{"spec":{"containers":[{"name":"a","image":"nginx"}],"ephemeralContainers":[{"name":"d","image":"busybox"}]}},"oldObject":{"spec":{"containers":[{"name":"a","image":"nginx"}]}}}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"apps","version":"v1","kind":"Deployment"},"operation":"CREATE",` +
			`"object":{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"x","uid":"y","controller":true}]},"spec":{"replicas":"two"}}}}`,
	} {
		f.Add([]byte(s))
	}
	h := NewHandler(checkedOffline(), Warn, HandlerOptions{CheckControllerOwned: true}, nil, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		review, err := readReview(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			return
		}
		if review.Request == nil || review.Request.UID == "" ||
			review.GroupVersionKind() != admissionv1.SchemeGroupVersion.WithKind("AdmissionReview") {
			t.Fatalf("accepted review %+v", review)
		}
		// An object decoded in the review's one pass is the object the
		// two passes decode.
		if review.object != nil {
			var twoPass admissionv1.AdmissionReview
			if err := unmarshalWire(body, &twoPass); err != nil {
				t.Fatalf("one pass read what two passes refuse: %v", err)
			}
			gvk := schema.GroupVersionKind{Group: twoPass.Request.Kind.Group, Version: twoPass.Request.Kind.Version, Kind: twoPass.Request.Kind.Kind}
			obj := newWorkloadObject(gvk)
			if err := unmarshalWire(twoPass.Request.Object.Raw, obj); err != nil {
				t.Fatalf("one pass decoded an object two passes refuse: %v", err)
			}
			if !equality.Semantic.DeepEqual(review.object, obj) {
				t.Fatalf("one pass decoded %+v, two passes %+v", review.object, obj)
			}
		}
		// review, not safeHandle: a panic must fail here, not be turned
		// into an error.
		resp, err := h.review(context.Background(), admission.Request{AdmissionRequest: *review.Request}, review)
		if err == nil && !resp.Allowed {
			t.Fatalf("warn mode denied: %+v", resp.Result)
		}
	})
}
