package workload_test

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/nobackoff/nobackoff/internal/manifests"
	"github.com/nobackoff/nobackoff/internal/workload"
	"github.com/nobackoff/nobackoff/policy"
)

// problem is one validation error as compared: its type and field path.
type problem struct {
	Type  field.ErrorType
	Field string
}

func (p problem) String() string { return fmt.Sprintf("%s %s", p.Field, p.Type) }

// readWorkload reads one workload from YAML.
func readWorkload(t *testing.T, manifest string) *workload.Workload {
	t.Helper()
	docs, errs := manifests.ReadStream("test.yaml", strings.NewReader(manifest))
	if len(errs) > 0 || len(docs) != 1 {
		t.Fatalf("reading the manifest: %d documents, errors %v", len(docs), errs)
	}
	w, err := workload.Decode(docs[0].GVK, docs[0].JSON, true)
	if err != nil {
		t.Fatalf("decoding the manifest: %v", err)
	}
	return w
}

// validate reads one workload from YAML and validates it.
func validate(t *testing.T, manifest string) field.ErrorList {
	t.Helper()
	docs, errs := manifests.ReadStream("test.yaml", strings.NewReader(manifest))
	if len(errs) > 0 || len(docs) != 1 {
		t.Fatalf("reading the manifest: %d documents, errors %v", len(docs), errs)
	}
	w, err := workload.Decode(docs[0].GVK, docs[0].JSON, true)
	if err != nil {
		t.Fatalf("decoding the manifest: %v", err)
	}
	// As `nobackoff check` validates a document: a StatefulSet's
	// volumeClaimTemplates are volumes of its pods.
	var claims []string
	if docs[0].GVK.Kind == "StatefulSet" {
		claims = workload.ClaimTemplateNames(docs[0].JSON)
	}
	return workload.Validate(w, claims)
}

func problems(list field.ErrorList) []problem {
	var out []problem
	for _, e := range list {
		out = append(out, problem{e.Type, e.Field})
	}
	return out
}

// indent indents every line of s by n spaces.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// The pod spec wrapped in each kind, written at the indentation its path
// puts it.
func deploymentOf(spec string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n" + indent(spec, 6)
}

func podOf(spec string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n" + indent(spec, 2)
}

func statefulSetOf(spec, claims string) string {
	return "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n" + indent(spec, 6) +
		"  volumeClaimTemplates:\n" + indent(claims, 2)
}

func cronJobOf(spec string) string {
	return "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n" + indent(spec, 10)
}

// healthyDeployment looks like a real project's: an init container, a
// native sidecar with probes, named ports, every probe handler but one per
// probe, env from values and references, volumes of several kinds.
const healthyDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout
  namespace: shop
  labels: {app.kubernetes.io/name: checkout}
spec:
  replicas: 3
  selector:
    matchLabels: {app.kubernetes.io/name: checkout}
  template:
    metadata:
      labels: {app.kubernetes.io/name: checkout}
    spec:
      serviceAccountName: checkout
      initContainers:
      - name: migrate
        image: registry.example.com/shop/checkout:2.4.1
        command: [/app/migrate, --wait]
        env:
        - {name: DATABASE_URL, valueFrom: {secretKeyRef: {name: checkout-db, key: url}}}
        volumeMounts:
        - {name: tmp, mountPath: /tmp}
      - name: envoy
        image: envoyproxy/envoy:v1.31.2
        restartPolicy: Always
        ports:
        - {name: envoy-admin, containerPort: 9901}
        readinessProbe:
          httpGet: {path: /ready, port: envoy-admin}
        startupProbe:
          tcpSocket: {port: 9901}
          failureThreshold: 30
          periodSeconds: 2
        volumeMounts:
        - {name: envoy-config, mountPath: /etc/envoy, readOnly: true}
      containers:
      - name: checkout
        image: registry.example.com/shop/checkout:2.4.1
        args: [--config=/etc/checkout/config.yaml]
        ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        - {name: grpc, containerPort: 9090}
        - {name: metrics, containerPort: 9464, protocol: TCP}
        env:
        - {name: JAVA_TOOL_OPTIONS, value: "-XX:MaxRAMPercentage=75"}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        envFrom:
        - configMapRef: {name: checkout-env}
        resources:
          requests: {cpu: 250m, memory: 512Mi}
          limits: {memory: 1Gi}
        startupProbe:
          httpGet: {path: /healthz, port: http}
          failureThreshold: 30
          periodSeconds: 5
        livenessProbe:
          grpc: {port: 9090}
          periodSeconds: 10
          successThreshold: 1
        readinessProbe:
          httpGet: {path: /ready, port: http}
          successThreshold: 2
        volumeMounts:
        - {name: config, mountPath: /etc/checkout, readOnly: true}
        - {name: tmp, mountPath: /tmp}
        - {name: data, mountPath: /var/lib/checkout}
      - name: log-shipper
        image: fluent/fluent-bit:3.1.9
        livenessProbe:
          exec: {command: [/fluent-bit/bin/fluent-bit, --version]}
        volumeMounts:
        - {name: tmp, mountPath: /tmp, subPath: logs}
      volumes:
      - name: config
        configMap: {name: checkout-config}
      - name: envoy-config
        configMap: {name: checkout-envoy}
      - name: tmp
        emptyDir: {}
      - name: data
        persistentVolumeClaim: {claimName: checkout-data}
`

// healthy container, repeated in the cases below.
const okContainer = "{name: app, image: nginx:1.27}"

func TestValidateWorkload(t *testing.T) {
	const (
		dep  = "spec.template.spec."
		cron = "spec.jobTemplate.spec.template.spec."
	)
	type p = problem
	var (
		required  = field.ErrorTypeRequired
		notFound  = field.ErrorTypeNotFound
		duplicate = field.ErrorTypeDuplicate
		invalid   = field.ErrorTypeInvalid
		forbidden = field.ErrorTypeForbidden
		notSupp   = field.ErrorTypeNotSupported
	)
	cases := []struct {
		name     string
		manifest string
		want     []problem
	}{
		// Passing cases.
		{"healthy project deployment", healthyDeployment, nil},
		{"healthy pod", podOf("containers:\n- " + okContainer), nil},
		{"healthy cronjob", cronJobOf("restartPolicy: OnFailure\ncontainers:\n- " + okContainer), nil},
		{"mount of a declared volume", deploymentOf("containers:\n- {name: app, image: a:1, volumeMounts: [{name: data, mountPath: /d}]}\nvolumes:\n- {name: data, emptyDir: {}}"), nil},
		{"volume without a source is defaulted to emptyDir", deploymentOf("containers:\n- {name: app, image: a:1, volumeMounts: [{name: data, mountPath: /d}]}\nvolumes:\n- {name: data}"), nil},
		{"same port name in two containers", deploymentOf("containers:\n- {name: a, image: a:1, ports: [{name: http, containerPort: 80}]}\n- {name: b, image: b:1, ports: [{name: http, containerPort: 81}]}"), nil},
		{"valid port names and numbers", deploymentOf("containers:\n- {name: a, image: a:1, ports: [{name: a, containerPort: 1}, {name: http-metrics-01, containerPort: 65535}, {name: 8-a, containerPort: 8080, hostPort: 8080, protocol: UDP}]}"), nil},
		{"unnamed ports", deploymentOf("containers:\n- {name: a, image: a:1, ports: [{containerPort: 80}, {containerPort: 81}]}"), nil},
		{"probes with exactly one handler", deploymentOf("containers:\n- name: a\n  image: a:1\n  livenessProbe: {exec: {command: [ok]}}\n  readinessProbe: {tcpSocket: {port: 80}, successThreshold: 3}\n  startupProbe: {grpc: {port: 9090}, successThreshold: 1}"), nil},
		{"sidecar with probes", deploymentOf("initContainers:\n- name: proxy\n  image: p:1\n  restartPolicy: Always\n  livenessProbe: {tcpSocket: {port: 15000}}\n  readinessProbe: {httpGet: {path: /, port: 15000}}\n  startupProbe: {tcpSocket: {port: 15000}}\ncontainers:\n- " + okContainer), nil},
		{"init container without probes", deploymentOf("initContainers:\n- {name: init, image: i:1}\ncontainers:\n- " + okContainer), nil},
		{"ephemeral container in a pod", podOf("containers:\n- " + okContainer + "\nephemeralContainers:\n- {name: debug, image: busybox:1.36, targetContainerName: app, stdin: true, tty: true}"), nil},
		{"statefulset mounting its claim templates", statefulSetOf("containers:\n- {name: db, image: postgres:17, volumeMounts: [{name: data, mountPath: /var/lib/postgresql}, {name: wal, mountPath: /wal}, {name: run, mountPath: /run}]}\nvolumes:\n- {name: run, emptyDir: {}}",
			"- metadata: {name: data}\n  spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}\n- metadata: {name: wal}\n  spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}"), nil},
		{"statefulset template volume replaced by its claim", statefulSetOf("containers:\n- {name: db, image: postgres:17, volumeMounts: [{name: data, mountPath: /d}]}\nvolumes:\n- {name: data, emptyDir: {}}\n- {name: data, emptyDir: {}}",
			"- metadata: {name: data}"), nil},
		{"env with names", deploymentOf("containers:\n- {name: a, image: a:1, env: [{name: A, value: x}, {name: B}]}"), nil},

		// Volume mounts.
		{"mount without its volume", deploymentOf("containers:\n- {name: app, image: a:1, volumeMounts: [{name: data, mountPath: /d}]}"),
			[]p{{notFound, dep + "containers[0].volumeMounts[0].name"}}},
		{"mount without its volume in a pod", podOf("containers:\n- {name: app, image: a:1, volumeMounts: [{name: cfg, mountPath: /c}, {name: data, mountPath: /d}]}\nvolumes:\n- {name: cfg, emptyDir: {}}"),
			[]p{{notFound, "spec.containers[0].volumeMounts[1].name"}}},
		{"mount without its volume in a cronjob init container", cronJobOf("restartPolicy: Never\ninitContainers:\n- {name: init, image: i:1, volumeMounts: [{name: data, mountPath: /d}]}\ncontainers:\n- " + okContainer),
			[]p{{notFound, cron + "initContainers[0].volumeMounts[0].name"}}},
		{"mount without its volume in an ephemeral container", podOf("containers:\n- " + okContainer + "\nephemeralContainers:\n- {name: debug, image: busybox:1.36, volumeMounts: [{name: data, mountPath: /d}]}"),
			[]p{{notFound, "spec.ephemeralContainers[0].volumeMounts[0].name"}}},
		{"statefulset mount of neither a volume nor a claim", statefulSetOf("containers:\n- {name: db, image: postgres:17, volumeMounts: [{name: data, mountPath: /d}, {name: logs, mountPath: /l}]}",
			"- metadata: {name: data}"),
			[]p{{notFound, dep + "containers[0].volumeMounts[1].name"}}},
		{"mount without name or path", deploymentOf("containers:\n- {name: app, image: a:1, volumeMounts: [{readOnly: true}]}"),
			[]p{{required, dep + "containers[0].volumeMounts[0].name"}, {notFound, dep + "containers[0].volumeMounts[0].name"}, {required, dep + "containers[0].volumeMounts[0].mountPath"}}},
		{"two mounts at one path", deploymentOf("containers:\n- {name: app, image: a:1, volumeMounts: [{name: a, mountPath: /d}, {name: b, mountPath: /d}]}\nvolumes:\n- {name: a}\n- {name: b}"),
			[]p{{invalid, dep + "containers[0].volumeMounts[1].mountPath"}}},

		// Names.
		{"duplicate container names", deploymentOf("containers:\n- {name: app, image: a:1}\n- {name: app, image: b:1}"),
			[]p{{duplicate, dep + "containers[1].name"}}},
		{"init container named as a container", deploymentOf("initContainers:\n- {name: app, image: i:1}\ncontainers:\n- " + okContainer),
			[]p{{duplicate, dep + "initContainers[0].name"}}},
		{"duplicate init container names", deploymentOf("initContainers:\n- {name: init, image: i:1}\n- {name: init, image: i:2}\ncontainers:\n- " + okContainer),
			[]p{{duplicate, dep + "initContainers[1].name"}}},
		{"ephemeral container named as an init container", podOf("initContainers:\n- {name: init, image: i:1}\ncontainers:\n- " + okContainer + "\nephemeralContainers:\n- {name: init, image: busybox:1}"),
			[]p{{duplicate, "spec.ephemeralContainers[0].name"}}},
		{"duplicate volume names", deploymentOf("containers:\n- {name: app, image: a:1, volumeMounts: [{name: data, mountPath: /d}]}\nvolumes:\n- {name: data, emptyDir: {}}\n- {name: data, configMap: {name: c}}"),
			[]p{{duplicate, dep + "volumes[1].name"}}},
		{"volume without a name", deploymentOf("containers:\n- " + okContainer + "\nvolumes:\n- {emptyDir: {}}"),
			[]p{{required, dep + "volumes[0].name"}}},
		{"container name not a DNS label", deploymentOf("containers:\n- {name: Web_App, image: a:1}"),
			[]p{{invalid, dep + "containers[0].name"}}},
		{"volume name not a DNS label, and so not found", deploymentOf("containers:\n- {name: app, image: a:1, volumeMounts: [{name: my.data, mountPath: /d}]}\nvolumes:\n- {name: my.data, emptyDir: {}}"),
			[]p{{invalid, dep + "volumes[0].name"}, {notFound, dep + "containers[0].volumeMounts[0].name"}}},
		{"container without a name", deploymentOf("containers:\n- {image: a:1}"),
			[]p{{required, dep + "containers[0].name"}}},
		{"container without an image", deploymentOf("containers:\n- {name: app}"),
			[]p{{required, dep + "containers[0].image"}}},
		{"pod container without an image", podOf("containers:\n- {name: app, image: ''}"),
			[]p{{required, "spec.containers[0].image"}}},
		{"init container without name and image", cronJobOf("restartPolicy: Never\ninitContainers:\n- {command: [ok]}\ncontainers:\n- " + okContainer),
			[]p{{required, cron + "initContainers[0].name"}, {required, cron + "initContainers[0].image"}}},
		{"ephemeral container without an image", podOf("containers:\n- " + okContainer + "\nephemeralContainers:\n- {name: debug}"),
			[]p{{required, "spec.ephemeralContainers[0].image"}}},
		{"no containers", deploymentOf("initContainers:\n- {name: init, image: i:1}"),
			[]p{{required, dep + "containers"}}},

		// Ports.
		{"duplicate port names", deploymentOf("containers:\n- {name: app, image: a:1, ports: [{name: http, containerPort: 80}, {name: http, containerPort: 81}]}"),
			[]p{{duplicate, dep + "containers[0].ports[1].name"}}},
		{"port name too long", deploymentOf("containers:\n- {name: app, image: a:1, ports: [{name: http-metrics-port, containerPort: 80}]}"),
			[]p{{invalid, dep + "containers[0].ports[0].name"}}},
		{"port name with capitals and an underscore", deploymentOf("containers:\n- {name: app, image: a:1, ports: [{name: Http_1, containerPort: 80}]}"),
			[]p{{invalid, dep + "containers[0].ports[0].name"}}},
		{"port name without a letter", deploymentOf("containers:\n- {name: app, image: a:1, ports: [{name: '8080', containerPort: 8080}]}"),
			[]p{{invalid, dep + "containers[0].ports[0].name"}}},
		{"port name with hyphens at both ends and doubled", deploymentOf("containers:\n- {name: app, image: a:1, ports: [{name: -a--b-, containerPort: 80}]}"),
			[]p{{invalid, dep + "containers[0].ports[0].name"}, {invalid, dep + "containers[0].ports[0].name"}}},
		{"container port missing", deploymentOf("containers:\n- {name: app, image: a:1, ports: [{name: http}]}"),
			[]p{{required, dep + "containers[0].ports[0].containerPort"}}},
		{"container port out of range", deploymentOf("containers:\n- {name: app, image: a:1, ports: [{containerPort: 70000}, {containerPort: -1}]}"),
			[]p{{invalid, dep + "containers[0].ports[0].containerPort"}, {invalid, dep + "containers[0].ports[1].containerPort"}}},
		{"host port out of range", deploymentOf("containers:\n- {name: app, image: a:1, ports: [{containerPort: 80, hostPort: 65536}]}"),
			[]p{{invalid, dep + "containers[0].ports[0].hostPort"}}},
		{"protocol in lower case", deploymentOf("containers:\n- {name: app, image: a:1, ports: [{containerPort: 80, protocol: tcp}]}"),
			[]p{{notSupp, dep + "containers[0].ports[0].protocol"}}},
		{"bad port on an init container", deploymentOf("initContainers:\n- {name: init, image: i:1, ports: [{name: Admin, containerPort: 0}]}\ncontainers:\n- " + okContainer),
			[]p{{invalid, dep + "initContainers[0].ports[0].name"}, {required, dep + "initContainers[0].ports[0].containerPort"}}},

		// Probes.
		{"liveness probe without a handler", deploymentOf("containers:\n- {name: app, image: a:1, livenessProbe: {periodSeconds: 5}}"),
			[]p{{required, dep + "containers[0].livenessProbe"}}},
		{"readiness probe with two handlers", deploymentOf("containers:\n- {name: app, image: a:1, readinessProbe: {httpGet: {path: /, port: 80}, tcpSocket: {port: 80}}}"),
			[]p{{forbidden, dep + "containers[0].readinessProbe.tcpSocket"}}},
		{"startup probe with every handler", podOf("containers:\n- {name: app, image: a:1, startupProbe: {exec: {command: [x]}, httpGet: {port: 80}, tcpSocket: {port: 80}, grpc: {port: 80}}}"),
			[]p{{forbidden, "spec.containers[0].startupProbe.httpGet"}, {forbidden, "spec.containers[0].startupProbe.tcpSocket"}, {forbidden, "spec.containers[0].startupProbe.grpc"}}},
		{"liveness success threshold", deploymentOf("containers:\n- {name: app, image: a:1, livenessProbe: {tcpSocket: {port: 80}, successThreshold: 2}}"),
			[]p{{invalid, dep + "containers[0].livenessProbe.successThreshold"}}},
		{"startup success threshold", deploymentOf("containers:\n- {name: app, image: a:1, startupProbe: {tcpSocket: {port: 80}, successThreshold: 3}}"),
			[]p{{invalid, dep + "containers[0].startupProbe.successThreshold"}}},
		{"negative probe timing", deploymentOf("containers:\n- {name: app, image: a:1, readinessProbe: {tcpSocket: {port: 80}, periodSeconds: -1, failureThreshold: -3}}"),
			[]p{{invalid, dep + "containers[0].readinessProbe.periodSeconds"}, {invalid, dep + "containers[0].readinessProbe.failureThreshold"}}},
		{"probes on a plain init container", deploymentOf("initContainers:\n- name: init\n  image: i:1\n  restartPolicy: Never\n  livenessProbe: {exec: {command: [x]}}\n  readinessProbe: {}\n  startupProbe: {tcpSocket: {port: 1}}\ncontainers:\n- " + okContainer),
			[]p{{forbidden, dep + "initContainers[0].livenessProbe"}, {forbidden, dep + "initContainers[0].readinessProbe"}, {forbidden, dep + "initContainers[0].startupProbe"}}},
		{"readiness probe on an init container without restartPolicy", cronJobOf("restartPolicy: Never\ninitContainers:\n- {name: init, image: i:1, readinessProbe: {exec: {command: [x]}}}\ncontainers:\n- " + okContainer),
			[]p{{forbidden, cron + "initContainers[0].readinessProbe"}}},
		{"sidecar probe without a handler", deploymentOf("initContainers:\n- {name: proxy, image: p:1, restartPolicy: Always, startupProbe: {successThreshold: 2}}\ncontainers:\n- " + okContainer),
			[]p{{required, dep + "initContainers[0].startupProbe"}, {invalid, dep + "initContainers[0].startupProbe.successThreshold"}}},

		// Env.
		{"env var without a name", deploymentOf("containers:\n- {name: app, image: a:1, env: [{name: A, value: x}, {value: z}]}"),
			[]p{{required, dep + "containers[0].env[1].name"}}},
		{"env var without a name in an init container", podOf("initContainers:\n- {name: init, image: i:1, env: [{name: '', value: z}]}\ncontainers:\n- " + okContainer),
			[]p{{required, "spec.initContainers[0].env[0].name"}}},

		// Ephemeral containers.
		{"ephemeral container with what only others may set", podOf("volumes:\n- {name: data}\ncontainers:\n- " + okContainer + "\nephemeralContainers:\n- name: debug\n  image: busybox:1\n  targetContainerName: nope\n  ports: [{containerPort: 80}]\n  resources: {limits: {memory: 64Mi}}\n  readinessProbe: {exec: {command: [x]}}\n  volumeMounts: [{name: data, mountPath: /d, subPath: x}]"),
			[]p{{notFound, "spec.ephemeralContainers[0].targetContainerName"}, {forbidden, "spec.ephemeralContainers[0].ports"}, {forbidden, "spec.ephemeralContainers[0].resources"}, {forbidden, "spec.ephemeralContainers[0].readinessProbe"}, {forbidden, "spec.ephemeralContainers[0].volumeMounts[0].subPath"}}},
		{"ephemeral container in a template", deploymentOf("containers:\n- " + okContainer + "\nephemeralContainers:\n- {name: debug, image: busybox:1}"),
			[]p{{forbidden, dep + "ephemeralContainers"}}},

		// Every problem of an object, in the API server's order: volumes,
		// containers, init containers, ephemeral containers; within a
		// container name, image, ports, env, mounts, then probes.
		{"all problems in order", podOf(`initContainers:
- {name: app, image: i:1, livenessProbe: {exec: {command: [x]}}}
containers:
- name: app
  readinessProbe: {}
  volumeMounts: [{name: data, mountPath: /d}]
  env: [{value: x}]
  ports: [{name: http, containerPort: 80}, {name: http, containerPort: 0}]
- {name: app, image: b:1}
volumes:
- {name: v, emptyDir: {}}
- {name: v, emptyDir: {}}
`), []p{
			{duplicate, "spec.volumes[1].name"},
			{required, "spec.containers[0].image"},
			{duplicate, "spec.containers[0].ports[1].name"},
			{required, "spec.containers[0].ports[1].containerPort"},
			{required, "spec.containers[0].env[0].name"},
			{notFound, "spec.containers[0].volumeMounts[0].name"},
			{required, "spec.containers[0].readinessProbe"},
			{duplicate, "spec.containers[1].name"},
			{duplicate, "spec.initContainers[0].name"},
			{forbidden, "spec.initContainers[0].livenessProbe"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := problems(validate(t, c.manifest))
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got:\n  %v\nwant:\n  %v", got, c.want)
			}
			// The answer is the same every time.
			if again := problems(validate(t, c.manifest)); fmt.Sprint(again) != fmt.Sprint(got) {
				t.Errorf("second run differs: %v", again)
			}
		})
	}
}

// The messages are the API server's, field path first.
func TestValidateWorkloadWording(t *testing.T) {
	w := readWorkload(t, deploymentOf(`containers:
- {name: app, image: a:1, volumeMounts: [{name: data, mountPath: /d}], livenessProbe: {tcpSocket: {port: 1}, exec: {command: [x]}}}
- {name: app, image: a:1, ports: [{name: http_port, containerPort: 70000}], readinessProbe: {}, startupProbe: {exec: {command: [x]}, successThreshold: 2}}
initContainers:
- {name: init, image: i:1, readinessProbe: {exec: {command: [x]}}}
`))
	var got []string
	for _, e := range workload.Validate(w, nil) {
		got = append(got, e.Error())
	}
	want := []string{
		`spec.template.spec.containers[0].volumeMounts[0].name: Not found: "data"`,
		`spec.template.spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type`,
		`spec.template.spec.containers[1].ports[0].name: Invalid value: "http_port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
		`spec.template.spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`,
		`spec.template.spec.containers[1].name: Duplicate value: "app"`,
		`spec.template.spec.containers[1].readinessProbe: Required value: must specify a handler type`,
		`spec.template.spec.containers[1].startupProbe.successThreshold: Invalid value: 2: must be 1`,
		`spec.template.spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The field paths are those the findings use (policy.Pod's container
// paths), for every workload kind.
func TestValidateWorkloadPathsMatchFindings(t *testing.T) {
	spec := "initContainers:\n- {name: i}\ncontainers:\n- {name: c}\n"
	byKind := map[string]string{
		"Pod":        podOf(spec),
		"Deployment": deploymentOf(spec),
		"CronJob":    cronJobOf("restartPolicy: Never\n" + spec),
	}
	for _, kind := range []string{"ReplicaSet", "StatefulSet", "DaemonSet"} {
		byKind[kind] = strings.Replace(deploymentOf(spec), "kind: Deployment", "kind: "+kind, 1)
	}
	byKind["Job"] = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n" + indent(spec, 6)
	byKind["ReplicationController"] = "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec:\n  template:\n    spec:\n" + indent(spec, 6)
	for kind, m := range byKind {
		w := readWorkload(t, m)
		var want []string
		for _, c := range (&policy.Pod{Spec: w.Spec, Path: w.SpecPath}).Containers() {
			want = append(want, c.Field("image"))
		}
		var got []string
		for _, e := range workload.Validate(w, nil) {
			got = append(got, e.Field)
		}
		// Init containers are validated after the regular ones.
		if len(got) != 2 || got[0] != want[1] || got[1] != want[0] {
			t.Errorf("%s: image errors at %v, containers at %v", kind, got, want)
		}
	}
}
