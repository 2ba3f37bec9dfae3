package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCommandNotFound(t *testing.T) {
	base := tmpl + ".containers[0]."
	cmd := func(words ...string) func(*corev1.Container) {
		return func(c *corev1.Container) { c.Command = words }
	}
	tests := []struct {
		name    string
		mod     func(*corev1.Container)
		restart corev1.RestartPolicy
		image   *ImageConfig // registry facts; nil: offline
		want    []want
		outcome Outcome
	}{
		{name: "exit as a program", mod: cmd("exit", "1"), want: []want{{Error, base + "command[0]", "app"}}, outcome: CrashLoopBackOff},
		{name: "source", mod: cmd("source", "/app/env.sh"), want: []want{{Error, base + "command[0]", "app"}}, outcome: CrashLoopBackOff},
		{name: "dot", mod: cmd(".", "/app/env.sh"), want: []want{{Error, base + "command[0]", "app"}}, outcome: CrashLoopBackOff},
		{name: "a whole line in one element", mod: cmd("sh -c 'run --port 8080'"), want: []want{{Error, base + "command[0]", "app"}}, outcome: CrashLoopBackOff},
		{name: "a program and its flags in one element", mod: cmd("/app/server --port=8080"), want: []want{{Error, base + "command[0]", "app"}}, outcome: CrashLoopBackOff},
		{name: "cd restarts for ever", mod: cmd("cd", "/app"), want: []want{{Error, base + "command[0]", "app"}}, outcome: CrashLoopBackOff},
		{name: "cd in a pod that is not restarted", mod: cmd("cd", "/app"), restart: corev1.RestartPolicyNever,
			want: []want{{Warning, base + "command[0]", "app"}}},
		{name: "exit in a pod that is not restarted fails it", mod: cmd("exit", "0"), restart: corev1.RestartPolicyNever,
			want: []want{{Error, base + "command[0]", "app"}}},
		{name: "exit from a variable", mod: func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Name: "RUN", Value: "exit"}}
			c.Command = []string{"$(RUN)", "1"}
		}, want: []want{{Error, base + "command[0]", "app"}}, outcome: CrashLoopBackOff},
		{name: "args[0] runs when the image has no Entrypoint", image: &ImageConfig{Cmd: []string{"/app"}},
			mod:  func(c *corev1.Container) { c.Args = []string{"export", "A=1"} },
			want: []want{{Error, base + "args[0]", "app"}}, outcome: CrashLoopBackOff},

		{name: "sh -c", mod: cmd("sh", "-c", "cd /app && exec ./server")},
		{name: "a program", mod: cmd("/app/server", "--port", "8080")},
		{name: "a program on the PATH", mod: cmd("python3", "-m", "app")},
		{name: "a path named like a builtin", mod: cmd("/usr/local/bin/wait", "db:5432")},
		{name: "a relative path named like a builtin", mod: cmd("./exit")},
		{name: "a variable from a secret", mod: func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Name: "RUN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}}}
			c.Command = []string{"$(RUN)"}
		}},
		{name: "args go to the image's Entrypoint", image: &ImageConfig{Entrypoint: []string{"/docker-entrypoint.sh"}},
			mod: func(c *corev1.Container) { c.Args = []string{"exit"} }},
		{name: "args offline: the Entrypoint is unknown", mod: func(c *corev1.Container) { c.Args = []string{"exit"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := corev1.Container{Name: "app", Image: "registry.example.com/shop/api:1.0"}
			tc.mod(&c)
			p := podOf(corev1.PodSpec{Containers: []corev1.Container{c}, RestartPolicy: tc.restart})
			if tc.image != nil {
				p.Images = map[string]*ImageLookup{c.Image: {Outcome: LookupOK, Config: tc.image}}
			}
			got := run(t, Options{}, CommandNotFound, p)
			assertFindings(t, CommandNotFound, p, got, tc.want)
			for _, f := range got {
				if f.Outcome != tc.outcome {
					t.Errorf("outcome %q, want %q", f.Outcome, tc.outcome)
				}
			}
		})
	}
}

func TestShellFix(t *testing.T) {
	tests := []struct {
		list []string
		want string
	}{
		{[]string{"exit", "1"}, `command: ["sh", "-c", "exit 1"]`},
		{[]string{"sh -c 'run --port 8080'"}, `command: ["sh", "-c", "run --port 8080"]`},
		{[]string{"/bin/bash -c \"cd /app && ./run\""}, `command: ["/bin/bash", "-c", "cd /app && ./run"]`},
		{[]string{"/app/server --port=8080"}, `command: ["sh", "-c", "/app/server --port=8080"]`},
	}
	for _, tc := range tests {
		if got := shellFix(tc.list); got != tc.want {
			t.Errorf("shellFix(%q) = %s, want %s", tc.list, got, tc.want)
		}
	}
}
