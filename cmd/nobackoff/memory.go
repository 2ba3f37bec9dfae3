package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Go's collector, at its default (GOGC=100), runs a cycle each time the
// program has allocated as much as it holds live. Most of what serve holds
// is its cluster caches, which every cycle marks in full, while each
// review allocates a few tens of kilobytes that die with it: at the
// default, marking the caches over and over is a large part of the CPU a
// review costs. With a memory limit known (its container's, or
// --memory-limit), serve lets the heap grow to five times the live data
// between cycles (GOGC=400) under a soft limit of 80% of that memory: the
// collector runs less often while memory is plentiful, and as often as it
// must near the limit. GOGC or GOMEMLIMIT in the environment leave the
// collector as they set it.

// gcPercent is the GOGC serve runs with when a memory limit is known.
const gcPercent = 400

// softLimitShare is the part of the memory limit the heap may use; the
// rest is for the runtime's own memory, stacks and the kernel's buffers.
const softLimitShare = 0.8

// gcSettings are the collector's settings for serve.
type gcSettings struct {
	percent   int   // GOGC; 0: unchanged
	softLimit int64 // GOMEMLIMIT in bytes; 0: unchanged
	source    string
}

// planGC decides the collector's settings from the environment, the
// --memory-limit flag ("" when not given) and the cgroup's limit (0: none).
func planGC(getenv func(string) string, flagLimit string, cgroupLimit int64) (gcSettings, error) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return gcSettings{source: "GOGC/GOMEMLIMIT"}, nil
	}
	limit, source := cgroupLimit, "cgroup memory limit"
	if flagLimit != "" {
		q, err := resource.ParseQuantity(flagLimit)
		if err != nil {
			return gcSettings{}, fmt.Errorf("--memory-limit %q: %w", flagLimit, err)
		}
		if q.Sign() < 0 {
			return gcSettings{}, fmt.Errorf("--memory-limit %q: must not be negative", flagLimit)
		}
		limit, source = q.Value(), "--memory-limit"
	}
	if limit <= 0 {
		return gcSettings{source: "no memory limit"}, nil
	}
	return gcSettings{percent: gcPercent, softLimit: int64(float64(limit) * softLimitShare), source: source}, nil
}

// apply sets the collector.
func (g gcSettings) apply() {
	if g.softLimit > 0 {
		debug.SetMemoryLimit(g.softLimit)
	}
	if g.percent > 0 {
		debug.SetGCPercent(g.percent)
	}
}

// cgroupMemoryLimit is the memory limit of the cgroup the process runs
// in, under root (normally /sys/fs/cgroup): cgroup v2's memory.max or v1's
// memory.limit_in_bytes. 0 when there is none or it cannot be read.
func cgroupMemoryLimit(root fs.FS) int64 {
	f, err := root.Open("proc/self/cgroup")
	if err != nil {
		return 0
	}
	defer f.Close()
	var candidates []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		p := strings.TrimPrefix(path.Clean("/"+parts[2]), "/")
		switch {
		case parts[0] == "0" && parts[1] == "":
			candidates = append(candidates, path.Join("sys/fs/cgroup", p, "memory.max"), "sys/fs/cgroup/memory.max")
		case hasController(parts[1], "memory"):
			candidates = append(candidates, path.Join("sys/fs/cgroup/memory", p, "memory.limit_in_bytes"), "sys/fs/cgroup/memory/memory.limit_in_bytes")
		}
	}
	for _, c := range candidates {
		b, err := fs.ReadFile(root, c)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		// cgroup v1 writes "no limit" as the largest page-aligned int64.
		if err != nil || n <= 0 || n >= math.MaxInt64/2 {
			return 0
		}
		return n
	}
	return 0
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// osRoot is the file system the cgroup files are read from.
var osRoot = os.DirFS("/")
