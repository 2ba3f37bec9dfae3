package policy

import (
	"context"
	"reflect"
	"regexp"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// allIDs is the public check catalog that this package implements.
// The strings are public API: users write them in skip annotations.
var allIDs = map[ID]string{
	ImageInvalidReference:        "image.invalid-reference",
	ImageMutableTag:              "image.mutable-tag",
	ProbeLivenessTooAggressive:   "probe.liveness-too-aggressive",
	ProbeLivenessEqualsReadines:  "probe.liveness-equals-readiness",
	ProbePortNotFound:            "probe.port-not-found",
	ProbePortNotDeclared:         "probe.port-not-declared",
	ProbeTimeoutExceedsPeriod:    "probe.timeout-exceeds-period",
	ResourcesMemoryLimitMissing:  "resources.memory-limit-missing",
	ResourcesHeapExceedsLimit:    "resources.heap-exceeds-limit",
	ImageTagNotFound:             "image.tag-not-found",
	ImageRepositoryNotFound:      "image.repository-not-found",
	ImageUnauthorized:            "image.unauthorized",
	ImageForbidden:               "image.forbidden",
	ImagePullSecretMissing:       "image.pull-secret-missing",
	ImagePlatformMismatch:        "image.platform-mismatch",
	ImageLookupInconclusive:      "image.lookup-inconclusive",
	ImageNoCommand:               "image.no-command",
	ImageRunsAsRoot:              "image.runs-as-root",
	CommandNotFound:              "command.not-found",
	ConfigConfigMapNotFound:      "config.configmap-not-found",
	ConfigSecretNotFound:         "config.secret-not-found",
	ConfigKeyNotFound:            "config.key-not-found",
	VolumeClaimNotFound:          "volume.claim-not-found",
	VolumeStorageClassNotFound:   "volume.storageclass-not-found",
	PodServiceAccountNotFound:    "pod.serviceaccount-not-found",
	PodPriorityClassNotFound:     "pod.priorityclass-not-found",
	PodRuntimeClassNotFound:      "pod.runtimeclass-not-found",
	ScheduleNoMatchingNode:       "schedule.no-matching-node",
	ScheduleTaintsNotTolerated:   "schedule.taints-not-tolerated",
	ScheduleRequestsExceedNodes:  "schedule.requests-exceed-nodes",
	ScheduleAntiAffinityReplicas: "schedule.anti-affinity-replicas",
	ScheduleDaemonSetNoNode:      "schedule.daemonset-no-node",
	QuotaMustSpecify:             "quota.must-specify",
	QuotaExceeded:                "quota.exceeded",
	LimitRangeViolated:           "limitrange.violated",
}

func TestIDStrings(t *testing.T) {
	for id, s := range allIDs {
		if string(id) != s {
			t.Errorf("ID constant %q, want the published %q", id, s)
		}
	}
	if len(allIDs) != 35 {
		t.Errorf("%d distinct ID constants, want the catalog's 35", len(allIDs))
	}
}

func TestCatalogIDs(t *testing.T) {
	c := NewCatalog(Options{})
	seen := map[ID]bool{}
	shape := regexp.MustCompile(`^(image|probe|resources|command|config|volume|pod|schedule|quota|limitrange)\.[a-z]+(-[a-z]+)*$`)
	for _, ch := range c.Checks() {
		if seen[ch.ID()] {
			t.Errorf("ID %s appears twice in the catalog", ch.ID())
		}
		seen[ch.ID()] = true
		if !shape.MatchString(string(ch.ID())) {
			t.Errorf("ID %q does not read area.kebab-case", ch.ID())
		}
	}
	known := c.Known()
	if len(known) != len(allIDs) {
		t.Errorf("Known() has %d IDs, want %d: %v", len(known), len(allIDs), known)
	}
	for id := range allIDs {
		if !known[id] {
			t.Errorf("Known() lacks %s", id)
		}
		if !seen[id] {
			t.Errorf("Checks() lacks %s", id)
		}
	}
	if known[ID("image.not-a-check")] {
		t.Error("Known() reports a check this catalog does not run")
	}
	for id := range allIDs {
		if !PublishedIDs()[id] {
			t.Errorf("PublishedIDs() lacks %s", id)
		}
	}

	ids := c.IDs()
	if !sort.SliceIsSorted(ids, func(i, j int) bool { return ids[i] < ids[j] }) {
		t.Errorf("IDs() not sorted: %v", ids)
	}
	if len(ids) != len(allIDs) {
		t.Errorf("IDs() = %v, want %d IDs", ids, len(allIDs))
	}
	for _, id := range ids {
		if _, ok := allIDs[id]; !ok {
			t.Errorf("IDs() has unexpected %s", id)
		}
	}
}

func TestCatalogSeverityOverride(t *testing.T) {
	mutable := Finding{Check: ImageMutableTag, Severity: Info, Field: tmpl + ".containers[0].image", Container: "app", Image: "nginx", Message: "m", Fix: "f"}
	liveness := Finding{Check: ProbePortNotFound, Severity: Warning, Field: tmpl + ".containers[0].livenessProbe.httpGet.port", Container: "app", Message: "m", Fix: "f"}
	readiness := liveness
	readiness.Severity, readiness.Field = Error, tmpl+".containers[0].readinessProbe.httpGet.port"
	heap := Finding{Check: ResourcesHeapExceedsLimit, Severity: Error, Field: tmpl + ".containers[0].args[0]", Container: "app", Message: "m", Fix: "f"}

	tests := []struct {
		name     string
		override map[ID]Severity
		in       Finding
		want     Severity
	}{
		{"no overrides", nil, mutable, Info},
		{"raise mutable-tag", map[ID]Severity{ImageMutableTag: Warning}, mutable, Warning},
		{"force port-not-found up", map[ID]Severity{ProbePortNotFound: Error}, liveness, Error},
		{"force port-not-found down", map[ID]Severity{ProbePortNotFound: Warning}, readiness, Warning},
		{"lower heap-exceeds-limit", map[ID]Severity{ResourcesHeapExceedsLimit: Info}, heap, Info},
		{"override of another check", map[ID]Severity{ImageMutableTag: Error}, heap, Error},
		{"override of another check leaves this one", map[ID]Severity{ImageMutableTag: Error}, liveness, Warning},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NewCatalog(Options{Severity: tc.override}).Overridden(tc.in)
			if got.Severity != tc.want {
				t.Errorf("Severity = %v, want %v", got.Severity, tc.want)
			}
			got.Severity = tc.in.Severity
			if got != tc.in {
				t.Errorf("Overridden changed more than the severity:\n got  %+v\n want %+v", got, tc.in)
			}
		})
	}
}

func TestCatalogSeverityOverrideOnRealFindings(t *testing.T) {
	p := podOf(corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx",
		LivenessProbe: httpProbe("/", named("http"))}}})
	c := NewCatalog(Options{Severity: map[ID]Severity{ImageMutableTag: Error, ProbePortNotFound: Error}})
	got := map[ID][]Severity{}
	for _, ch := range c.Checks() {
		fs, err := ch.Check(context.Background(), p)
		if err != nil {
			t.Fatalf("%s: %v", ch.ID(), err)
		}
		for _, f := range fs {
			got[f.Check] = append(got[f.Check], c.Overridden(f).Severity)
		}
	}
	want := map[ID][]Severity{
		ImageMutableTag:             {Error}, // info, overridden
		ProbePortNotFound:           {Error}, // warning for liveness, overridden
		ResourcesMemoryLimitMissing: {Info},  // not overridden
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("severities after override = %v, want %v", got, want)
	}
}

func TestNewCatalogStartupOptions(t *testing.T) {
	opts := StartupDefaults{RuntimeJVM: 1}
	_ = NewCatalog(Options{Startup: opts})
	if DefaultStartup()[RuntimeJVM] != 40 {
		t.Error("NewCatalog changed the default table")
	}
	if len(opts) != 1 || opts[RuntimeJVM] != 1 {
		t.Errorf("NewCatalog changed the caller's options: %v", opts)
	}
	// An override of one runtime leaves the others at their defaults.
	p := podOf(corev1.PodSpec{Containers: []corev1.Container{
		{Name: "api", Image: "eclipse-temurin:21", LivenessProbe: httpProbe("/", port(8080))},
		{Name: "web", Image: "ruby:3.3", LivenessProbe: timed(httpProbe("/", port(3000)), 0, 5, 3)},
	}})
	runAndAssert(t, Options{Startup: StartupDefaults{RuntimeJVM: 30}}, ProbeLivenessTooAggressive, p,
		[]want{{Warning, tmpl + ".containers[1].livenessProbe", "web"}})
}

// richSpec trips most checks at once.
func richSpec() corev1.PodSpec {
	return corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "init", Image: "BUSYBOX", Args: []string{"-Xmx2g"}, Resources: memLimit("1Gi")},
			{Name: "side", Image: "envoy", RestartPolicy: &always, Ports: ports(cport("admin", 9901)),
				LivenessProbe: httpProbe("/ready", port(9901)), ReadinessProbe: httpProbe("/ready", port(9901))},
		},
		Containers: []corev1.Container{{
			Name: "app", Image: "eclipse-temurin:latest", Command: []string{"sh", "-c", "java $(HEAP) -jar app.jar"},
			Env:            env("HEAP", "-Xmx4g", "JAVA_TOOL_OPTIONS", "-Xmx3g", "GOMEMLIMIT", "5GiB"),
			Ports:          ports(cport("web", 8080)),
			LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: named("http")}}, TimeoutSeconds: 20},
			ReadinessProbe: tcpProbe(port(9999)),
			StartupProbe:   grpcProbe(7000),
			Resources:      memLimit("2Gi"),
		}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", Image: "busybox ", Command: []string{"java", "-Xmx9g"}}}},
	}
}

func TestChecksDoNotModifyTheSpec(t *testing.T) {
	spec := richSpec()
	before := spec.DeepCopy()
	p := podOf(spec)
	total := 0
	for _, ch := range NewCatalog(Options{}).Checks() {
		fs, err := ch.Check(context.Background(), p)
		if err != nil {
			t.Fatalf("%s: %v", ch.ID(), err)
		}
		total += len(fs)
	}
	if total == 0 {
		t.Fatal("the rich spec produced no findings; the test would prove nothing")
	}
	if !reflect.DeepEqual(p.Spec, before) {
		t.Errorf("checks modified the pod spec:\n got  %+v\n want %+v", p.Spec, before)
	}
}

func TestChecksAreDeterministic(t *testing.T) {
	for _, ch := range NewCatalog(Options{}).Checks() {
		a, err1 := ch.Check(context.Background(), podOf(richSpec()))
		b, err2 := ch.Check(context.Background(), podOf(richSpec()))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", ch.ID(), err1, err2)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two runs differ:\n%+v\n%+v", ch.ID(), a, b)
		}
	}
}

func TestChecksOnEmptyPod(t *testing.T) {
	for _, ch := range NewCatalog(Options{}).Checks() {
		fs, err := ch.Check(context.Background(), podOf(corev1.PodSpec{}))
		if err != nil || len(fs) != 0 {
			t.Errorf("%s on an empty pod = %v, %v; want nothing", ch.ID(), fs, err)
		}
	}
}

// TestEveryCheckFailsAndPasses keeps the catalog's rule: every check
// has a pod that fails it and one that passes it.
func TestEveryCheckFailsAndPasses(t *testing.T) {
	good := func() corev1.Container {
		return corev1.Container{Name: "app", Image: "registry.example.com/shop/api:1.4.2", Ports: ports(cport("http", 8080)),
			LivenessProbe:  timed(httpProbe("/livez", named("http")), 0, 10, 6),
			ReadinessProbe: httpProbe("/readyz", named("http")),
			Resources:      memLimit("1Gi"), Env: append(env("GOMEMLIMIT", "900MiB"), corev1.EnvVar{Name: "LOG_LEVEL",
				ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}, Key: "LOG_LEVEL"}}})}
	}
	bad := map[ID]func(*corev1.Container){
		ImageInvalidReference:       func(c *corev1.Container) { c.Image = "Registry.example.com/Shop/API:1" + " " },
		ImageMutableTag:             func(c *corev1.Container) { c.Image = "registry.example.com/shop/api" },
		ProbeLivenessTooAggressive:  func(c *corev1.Container) { timed(c.LivenessProbe, 0, 1, 1) },
		ProbeLivenessEqualsReadines: func(c *corev1.Container) { c.LivenessProbe = c.ReadinessProbe.DeepCopy() },
		ProbePortNotFound:           func(c *corev1.Container) { c.ReadinessProbe.HTTPGet.Port = named("htpp") },
		ProbePortNotDeclared:        func(c *corev1.Container) { c.ReadinessProbe.HTTPGet.Port = port(8081) },
		ProbeTimeoutExceedsPeriod:   func(c *corev1.Container) { c.ReadinessProbe.TimeoutSeconds = 10 },
		ResourcesMemoryLimitMissing: func(c *corev1.Container) { c.Resources = corev1.ResourceRequirements{} },
		ResourcesHeapExceedsLimit:   func(c *corev1.Container) { c.Env = env("GOMEMLIMIT", "1GiB") },
		CommandNotFound:             func(c *corev1.Container) { c.Command = []string{"exit", "1"} },
	}
	// Registry facts of the good pod: found, runnable on the nodes, with a
	// numeric user and an entrypoint.
	withFacts := func(p *Pod) *Pod {
		p.Workload, p.Objects = true, healthyObjects()
		p.Spec.ServiceAccountName, p.Spec.PriorityClassName, p.Spec.RuntimeClassName = "api", "high", ptrTo("gvisor")
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
		p.Scheduling = plNodes(plNode("node-a", "4", "16Gi"), plNode("node-b", "4", "16Gi"))
		p.Labels, p.Replicas = map[string]string{"app": "api"}, 2
		p.Images = map[string]*ImageLookup{}
		for _, c := range p.Spec.Containers {
			p.Images[c.Image] = &ImageLookup{Outcome: LookupOK, Repository: "registry.example.com/shop/api", Source: "anonymous",
				Platforms: &PlatformFacts{Index: true, Offered: []string{"linux/amd64", "linux/arm64"}, Candidates: []string{"linux/amd64"}},
				Config:    &ImageConfig{User: "65532", Entrypoint: []string{"/api"}}}
		}
		return p
	}
	badFacts := map[ID]func(p *Pod, l *ImageLookup){
		ImageTagNotFound:        func(_ *Pod, l *ImageLookup) { l.Outcome, l.Platforms, l.Config = LookupTagNotFound, nil, nil },
		ImageRepositoryNotFound: func(_ *Pod, l *ImageLookup) { l.Outcome, l.Platforms, l.Config = LookupRepositoryNotFound, nil, nil },
		ImageUnauthorized:       func(_ *Pod, l *ImageLookup) { l.Outcome, l.Platforms, l.Config = LookupUnauthorized, nil, nil },
		ImageForbidden:          func(_ *Pod, l *ImageLookup) { l.Outcome, l.Platforms, l.Config = LookupForbidden, nil, nil },
		ImageLookupInconclusive: func(_ *Pod, l *ImageLookup) { l.Outcome, l.Platforms, l.Config = LookupTimedOut, nil, nil },
		ImagePlatformMismatch: func(_ *Pod, l *ImageLookup) {
			l.Platforms.Candidates = []string{"linux/s390x"}
			l.Platforms.Unsupported = []string{"linux/s390x"}
		},
		ImageNoCommand: func(_ *Pod, l *ImageLookup) { l.Config.Entrypoint = nil },
		ImageRunsAsRoot: func(p *Pod, l *ImageLookup) {
			l.Config.User = "root"
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptrTo(true)}
		},
		ConfigConfigMapNotFound: func(p *Pod, _ *ImageLookup) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "no-such-config"}}}}
		},
		ConfigSecretNotFound: func(p *Pod, _ *ImageLookup) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "no-such-secret"}}}}
		},
		ConfigKeyNotFound: func(p *Pod, _ *ImageLookup) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "LEVEL", ValueFrom: &corev1.EnvVarSource{
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}, Key: "LOG_LEVL"}}})
		},
		VolumeClaimNotFound:        func(p *Pod, _ *ImageLookup) { p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName = "no-such-claim" },
		VolumeStorageClassNotFound: func(p *Pod, _ *ImageLookup) { p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName = "orphan" },
		PodServiceAccountNotFound:  func(p *Pod, _ *ImageLookup) { p.Spec.ServiceAccountName = "no-such-account" },
		PodPriorityClassNotFound:   func(p *Pod, _ *ImageLookup) { p.Spec.PriorityClassName = "no-such-class" },
		PodRuntimeClassNotFound:    func(p *Pod, _ *ImageLookup) { p.Spec.RuntimeClassName = ptrTo("no-such-class") },
		QuotaMustSpecify: func(p *Pod, _ *ImageLookup) {
			p.Scheduling = &fakeNamespaceView{quotas: []*corev1.ResourceQuota{nsQuota("cpu", nsList("limits.cpu", "4"), nil)}}
		},
		QuotaExceeded: func(p *Pod, _ *ImageLookup) {
			p.Scheduling = &fakeNamespaceView{quotas: []*corev1.ResourceQuota{nsQuota("mem", nsList("limits.memory", "8Gi"), nsList("limits.memory", "7500Mi"))}}
		},
		LimitRangeViolated: func(p *Pod, _ *ImageLookup) {
			p.Scheduling = &fakeNamespaceView{ranges: []*corev1.LimitRange{nsLimitRange("small", corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: nsList("memory", "512Mi")})}}
		},
		ScheduleNoMatchingNode: func(p *Pod, _ *ImageLookup) { p.Spec.NodeSelector = map[string]string{"disktype": "nvme"} },
		ScheduleTaintsNotTolerated: func(p *Pod, _ *ImageLookup) {
			p.Scheduling = plNodes(plNode("node-a", "4", "16Gi", plTaint("dedicated", "gpu", corev1.TaintEffectNoSchedule)))
		},
		ScheduleRequestsExceedNodes: func(p *Pod, _ *ImageLookup) {
			p.Spec.Containers[0].Resources.Requests = plRequests("cpu", "6").Requests
		},
		ScheduleAntiAffinityReplicas: func(p *Pod, _ *ImageLookup) {
			p.Replicas = 3
			plAntiAffinity(corev1.LabelHostname, map[string]string{"app": "api"})(p)
		},
		ScheduleDaemonSetNoNode: func(p *Pod, _ *ImageLookup) {
			p.DaemonSet, p.Replicas, p.Spec.NodeSelector = true, 0, map[string]string{"pool": "edge"}
		},
		ImagePullSecretMissing: func(p *Pod, _ *ImageLookup) {
			p.PullSecretIssues = []PullSecretIssue{{Name: "regcred", Problem: SecretMissing, Field: tmpl + ".imagePullSecrets[0]"}}
		},
	}
	for id := range NewCatalog(Options{}).Known() {
		t.Run(string(id), func(t *testing.T) {
			mod, ok := bad[id]
			factMod, factOK := badFacts[id]
			if !ok && !factOK {
				t.Fatalf("no failing pod for %s", id)
			}
			if fs := run(t, Options{}, id, withFacts(podOf(corev1.PodSpec{Containers: []corev1.Container{good()}}))); len(fs) != 0 {
				t.Errorf("the good pod fails %s: %+v", id, fs)
			}
			c := good()
			if ok {
				mod(&c)
			}
			p := withFacts(podOf(corev1.PodSpec{Containers: []corev1.Container{c}}))
			if factOK {
				factMod(p, p.Images[c.Image])
			}
			fs := run(t, Options{}, id, p)
			if len(fs) != 1 {
				t.Fatalf("the bad pod gives %d findings of %s, want 1: %+v", len(fs), id, fs)
			}
			wantContainer := "app"
			switch id {
			case ImagePullSecretMissing, VolumeClaimNotFound, VolumeStorageClassNotFound, PodServiceAccountNotFound,
				PodPriorityClassNotFound, PodRuntimeClassNotFound, ScheduleNoMatchingNode, ScheduleTaintsNotTolerated,
				ScheduleAntiAffinityReplicas, ScheduleDaemonSetNoNode:
				wantContainer = "" // about the pod, not a container
			}
			assertFindings(t, id, p, fs, []want{{fs[0].Severity, fs[0].Field, wantContainer}})
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
