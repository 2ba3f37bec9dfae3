// Command testapp is the application the truth suite runs on a real node.
// Its behaviour is set by flags, or by the environment variables named in
// each flag's help:
//
//	-delay 20s        wait before listening (a slow start)
//	-listen :8080     where it answers GET / and /healthz with 200
//	-exit 3           exit with this code after the delay instead of serving
//	-alloc-mib 100    allocate and touch this much memory after the delay
//
// When JAVA_TOOL_OPTIONS holds -Xmx, it behaves as a JVM honouring it
// would once its heap fills: it allocates that much. Run as "java", it
// ignores its arguments but for -Xmx, which wins over JAVA_TOOL_OPTIONS as
// on a JVM, and takes its settings from the environment only. -pause
// makes it the pod sandbox's pause process: it sleeps until SIGTERM or
// SIGINT.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	pause := flag.Bool("pause", false, "sleep until SIGTERM or SIGINT (a pod sandbox)")
	delay := flag.Duration("delay", envDuration("START_DELAY"), "wait this long before listening (env START_DELAY)")
	listen := flag.String("listen", envString("LISTEN", ":8080"), "address to answer HTTP on (env LISTEN)")
	exit := flag.Int("exit", envInt("EXIT_CODE", -1), "exit with this code after the delay; -1 serves (env EXIT_CODE)")
	allocMiB := flag.Int("alloc-mib", envInt("ALLOC_MIB", 0), "MiB to allocate and touch after the delay (env ALLOC_MIB)")
	jvmArgs := ""
	if filepath.Base(os.Args[0]) == "java" {
		jvmArgs = strings.Join(os.Args[1:], " ")
	} else {
		flag.Parse()
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if *pause {
		<-sig
		return
	}
	fmt.Printf("testapp: start (delay %v)\n", *delay)
	time.Sleep(*delay)

	heap, err := xmx(os.Getenv("JAVA_TOOL_OPTIONS") + " " + jvmArgs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(2)
	}
	size := int64(*allocMiB) << 20
	if heap > size {
		size = heap
	}
	hold := touch(size)

	if *exit >= 0 {
		fmt.Printf("testapp: exit %d\n", *exit)
		os.Exit(*exit)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-sig
		_ = srv.Close()
	}()
	fmt.Printf("testapp: listening on %s, holding %d MiB\n", *listen, len(hold)>>20)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}

// touch allocates size bytes and writes every page, so the memory is
// really charged to the container.
func touch(size int64) []byte {
	if size <= 0 {
		return nil
	}
	b := make([]byte, size)
	for i := int64(0); i < size; i += 4096 {
		b[i] = 1
	}
	return b
}

// xmx reads the last -Xmx of JVM options, as the JVM does.
func xmx(opts string) (int64, error) {
	var n int64
	for _, f := range strings.Fields(opts) {
		v, ok := strings.CutPrefix(f, "-Xmx")
		if !ok {
			continue
		}
		mult := int64(1)
		switch v[len(v)-1:] {
		case "k", "K":
			mult = 1 << 10
		case "m", "M":
			mult = 1 << 20
		case "g", "G":
			mult = 1 << 30
		}
		if mult > 1 {
			v = v[:len(v)-1]
		}
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil || x <= 0 {
			return 0, fmt.Errorf("bad heap flag %q", f)
		}
		n = x * mult
	}
	return n, nil
}

func envString(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v := os.Getenv(key); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testapp: %s=%q is not a number\n", key, v)
			os.Exit(2)
		}
		return n
	}
	return def
}

func envDuration(key string) time.Duration {
	if v := os.Getenv(key); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testapp: %s=%q is not a duration\n", key, v)
			os.Exit(2)
		}
		return d
	}
	return 0
}
