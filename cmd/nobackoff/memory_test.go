package main

import (
	"testing"
	"testing/fstest"
)

func TestCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"v2 own cgroup", map[string]string{
			"proc/self/cgroup":                          "0::/kubepods/pod1/c1\n",
			"sys/fs/cgroup/kubepods/pod1/c1/memory.max": "268435456\n",
		}, 268435456},
		{"v2 namespaced: the cgroup is the root", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "134217728\n",
		}, 134217728},
		{"v2 no limit", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "max\n",
		}, 0},
		{"v1 own cgroup", map[string]string{
			"proc/self/cgroup": "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "536870912\n",
		}, 536870912},
		{"v1 host path not mounted: the container's own at the root", map[string]string{
			"proc/self/cgroup":                           "4:cpuacct,memory:/docker/abc\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n",
		}, 536870912},
		{"v1 no limit", map[string]string{
			"proc/self/cgroup":                           "4:memory:/\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, 0},
		{"no cgroup file", map[string]string{}, 0},
		{"garbage", map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "lots\n",
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, data := range tc.files {
				fsys[name] = &fstest.MapFile{Data: []byte(data)}
			}
			if got := cgroupMemoryLimit(fsys); got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
}

func TestPlanGC(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name        string
		env         map[string]string
		flag        string
		cgroup      int64
		wantPercent int
		wantSoft    int64
		wantErr     bool
	}{
		{"no limit anywhere: Go's defaults", nil, "", 0, 0, 0, false},
		{"cgroup limit", nil, "", 256 << 20, gcPercent, 256 << 20 * 8 / 10, false},
		{"flag over cgroup", nil, "100Mi", 256 << 20, gcPercent, 100 << 20 * 8 / 10, false},
		{"flag 0 turns it off", nil, "0", 256 << 20, 0, 0, false},
		{"GOGC set: left alone", map[string]string{"GOGC": "50"}, "", 256 << 20, 0, 0, false},
		{"GOMEMLIMIT set: left alone", map[string]string{"GOMEMLIMIT": "100MiB"}, "100Mi", 256 << 20, 0, 0, false},
		{"bad flag", nil, "lots", 0, 0, 0, true},
		{"negative flag", nil, "-1Gi", 0, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := planGC(env(tc.env), tc.flag, tc.cgroup)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if got.percent != tc.wantPercent || got.softLimit != tc.wantSoft {
				t.Errorf("GOGC %d, soft limit %d; want %d, %d", got.percent, got.softLimit, tc.wantPercent, tc.wantSoft)
			}
		})
	}
}
