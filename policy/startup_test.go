package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestDetectRuntime(t *testing.T) {
	tests := []struct {
		name string
		c    corev1.Container
		want Runtime
	}{
		// From the image name.
		{"eclipse-temurin image", corev1.Container{Image: "eclipse-temurin:21-jre"}, RuntimeJVM},
		{"openjdk image", corev1.Container{Image: "openjdk:17"}, RuntimeJVM},
		{"java word in the repository", corev1.Container{Image: "ghcr.io/acme/java-app:1.0"}, RuntimeJVM},
		{"kafka image", corev1.Container{Image: "bitnami/kafka:3.7"}, RuntimeJVM},
		{"keycloak image on quay", corev1.Container{Image: "quay.io/keycloak/keycloak:25.0"}, RuntimeJVM},
		{"javascript is not java", corev1.Container{Image: "ghcr.io/acme/javascript-app:1.0"}, RuntimeOther},
		{"javalin-like prefix is not java", corev1.Container{Image: "ghcr.io/acme/javaapp:1.0"}, RuntimeOther},
		{"registry host is not the repository", corev1.Container{Image: "java.example.com/team/api:1.0"}, RuntimeOther},
		{"dotnet aspnet image", corev1.Container{Image: "mcr.microsoft.com/dotnet/aspnet:8.0"}, RuntimeDotnet},
		{"ruby image", corev1.Container{Image: "ruby:3.3-slim"}, RuntimeRuby},
		{"rails word in a longer name is not enough", corev1.Container{Image: "acme/rails-shop:2"}, RuntimeOther},
		{"node-exporter is a Go binary", corev1.Container{Image: "quay.io/prometheus/node-exporter:v1.8.2"}, RuntimeOther},
		{"bitnami node", corev1.Container{Image: "bitnami/node:22"}, RuntimeNode},
		{"python image", corev1.Container{Image: "python:3.12-slim"}, RuntimePython},
		{"django word in a longer name is not enough", corev1.Container{Image: "acme/django_site:5"}, RuntimeOther},
		{"node image", corev1.Container{Image: "node:20-alpine"}, RuntimeNode},
		{"nodejs word", corev1.Container{Image: "registry.access.redhat.com/ubi9/nodejs-20"}, RuntimeNode},
		{"php-fpm image", corev1.Container{Image: "php:8.3-fpm"}, RuntimePHP},
		{"go service", corev1.Container{Image: "registry.example.com/shop/api:1.4.2"}, RuntimeOther},
		{"nginx", corev1.Container{Image: "nginx:1.27"}, RuntimeOther},
		{"no image", corev1.Container{}, RuntimeOther},

		// From the command and args.
		{"java -jar", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"java", "-jar", "app.jar"}}, RuntimeJVM},
		{"absolute java path", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"/opt/java/openjdk/bin/java"}, Args: []string{"-cp", "app", "Main"}}, RuntimeJVM},
		{"sh -c exec java", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"sh", "-c", "exec java -jar app.jar"}}, RuntimeJVM},
		{"-jar in args only", corev1.Container{Image: "registry.example.com/shop/api:1", Args: []string{"-jar", "/app.jar"}}, RuntimeJVM},
		{"catalina.sh", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"/usr/local/tomcat/bin/catalina.sh", "run"}}, RuntimeJVM},
		{"command beats image", corev1.Container{Image: "node:20", Command: []string{"java", "-jar", "app.jar"}}, RuntimeJVM},
		{"dotnet command", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"dotnet", "Shop.dll"}}, RuntimeDotnet},
		{"bundle exec puma", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"bundle", "exec", "puma"}}, RuntimeRuby},
		{"gunicorn", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"gunicorn", "app:app"}}, RuntimePython},
		{"sh -c python3", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"/bin/sh", "-c", "python3 -m app"}}, RuntimePython},
		{"npm start", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"npm", "start"}}, RuntimeNode},
		{"php artisan", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"php", "artisan", "serve"}}, RuntimePHP},
		{"javascript executable is not java", corev1.Container{Image: "registry.example.com/shop/api:1", Command: []string{"javascript-runner"}}, RuntimeOther},

		// From the environment.
		{"JAVA_TOOL_OPTIONS", corev1.Container{Image: "registry.example.com/shop/api:1", Env: env("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75")}, RuntimeJVM},
		{"JAVA_OPTS", corev1.Container{Image: "registry.example.com/shop/api:1", Env: env("JAVA_OPTS", "")}, RuntimeJVM},
		{"ASPNETCORE_URLS", corev1.Container{Image: "registry.example.com/shop/api:1", Env: env("ASPNETCORE_URLS", "http://+:8080")}, RuntimeDotnet},
		{"RAILS_ENV", corev1.Container{Image: "registry.example.com/shop/api:1", Env: env("RAILS_ENV", "production")}, RuntimeRuby},
		{"DJANGO_SETTINGS_MODULE", corev1.Container{Image: "registry.example.com/shop/api:1", Env: env("DJANGO_SETTINGS_MODULE", "shop.settings")}, RuntimePython},
		{"NODE_ENV", corev1.Container{Image: "registry.example.com/shop/api:1", Env: env("NODE_ENV", "production")}, RuntimeNode},
		{"unrelated env", corev1.Container{Image: "registry.example.com/shop/api:1", Env: env("LOG_LEVEL", "debug", "JAVASCRIPT", "1")}, RuntimeOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			got := DetectRuntime(ContainerRef{Container: &c, Kind: Regular, Path: tmpl + ".containers[0]"})
			if got != tc.want {
				t.Errorf("DetectRuntime(image=%q command=%q args=%q env=%v) = %q, want %q",
					c.Image, c.Command, c.Args, c.Env, got, tc.want)
			}
		})
	}
}

func TestDefaultStartup(t *testing.T) {
	d := DefaultStartup()
	for _, rt := range []Runtime{RuntimeJVM, RuntimeDotnet, RuntimeRuby, RuntimePython, RuntimeNode, RuntimePHP, RuntimeOther} {
		if d[rt] <= 0 {
			t.Errorf("DefaultStartup()[%s] = %d, want a positive number of seconds", rt, d[rt])
		}
	}
	if d[RuntimeJVM] != 40 {
		t.Errorf("DefaultStartup()[jvm] = %d, want the documented 40", d[RuntimeJVM])
	}
	// The default liveness probe (30 s budget) must not flag a fast runtime:
	// only the JVM's default is above it.
	for rt, s := range d {
		if rt != RuntimeJVM && s > 30 {
			t.Errorf("DefaultStartup()[%s] = %d, above the default liveness budget of 30 s", rt, s)
		}
	}
	// Each call returns a fresh table: changing one does not change the next.
	d[RuntimeJVM] = 1
	if DefaultStartup()[RuntimeJVM] != 40 {
		t.Errorf("DefaultStartup() shares its map between calls")
	}
}

func TestStartupDefaultsExpect(t *testing.T) {
	jvm := corev1.Container{Image: "eclipse-temurin:21"}
	goApp := corev1.Container{Image: "registry.example.com/shop/api:1"}
	ref := func(c corev1.Container) ContainerRef { return ContainerRef{Container: &c, Kind: Regular} }
	tests := []struct {
		name     string
		d        StartupDefaults
		c        corev1.Container
		declared int
		want     int
	}{
		{"jvm default", DefaultStartup(), jvm, 0, 40},
		{"other default", DefaultStartup(), goApp, 0, 5},
		{"declared wins", DefaultStartup(), jvm, 120, 120},
		{"declared wins downward", DefaultStartup(), jvm, 3, 3},
		{"overridden table", StartupDefaults{RuntimeJVM: 90}, jvm, 0, 90},
		{"missing entry falls back to the default table", StartupDefaults{RuntimeNode: 1}, jvm, 0, 40},
		{"nil table falls back to the default table", nil, goApp, 0, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := tc.d.Expect(ref(tc.c), tc.declared)
			if got != tc.want {
				t.Errorf("Expect = %d, want %d", got, tc.want)
			}
			if why == "" {
				t.Errorf("Expect gave no reason")
			}
		})
	}
}
