package testregistry

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreePort returns a port on ip that nothing listens on, for a process
// the test starts to listen on. It is taken below the kernel's ephemeral
// range: a port the kernel handed out (to a listener on port 0, or as the
// local port of any outgoing connection on the machine) can be in use
// again by the time the process binds it; one below the range is only
// ever taken by name.
func FreePort(t testing.TB, ip string) int {
	t.Helper()
	low := 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				low = n
			}
		}
	}
	for range 200 {
		port := 10000 + rand.IntN(low-10000)
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal(fmt.Errorf("no free port on %s below %d", ip, low))
	return 0
}
