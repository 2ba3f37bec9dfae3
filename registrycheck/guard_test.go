package registrycheck

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

// ipv6Forms build, from an IPv4 address, each IPv6 address that leads to
// it, with the embedding the guard must name when it refuses one.
var ipv6Forms = []struct {
	name  string
	via   embedding
	build func(v4 [4]byte) [16]byte
}{
	{"IPv4-mapped ::ffff:0:0/96", "", func(v [4]byte) [16]byte {
		return [16]byte{10: 0xff, 11: 0xff, 12: v[0], 13: v[1], 14: v[2], 15: v[3]}
	}},
	{"IPv4-translated ::ffff:0:0:0/96", viaTranslated, func(v [4]byte) [16]byte {
		return [16]byte{8: 0xff, 9: 0xff, 12: v[0], 13: v[1], 14: v[2], 15: v[3]}
	}},
	{"IPv4-compatible ::/96", viaCompatible, func(v [4]byte) [16]byte {
		return [16]byte{12: v[0], 13: v[1], 14: v[2], 15: v[3]}
	}},
	{"NAT64 64:ff9b::/96", viaNAT64, func(v [4]byte) [16]byte {
		return [16]byte{1: 0x64, 2: 0xff, 3: 0x9b, 12: v[0], 13: v[1], 14: v[2], 15: v[3]}
	}},
	{"local-use NAT64 64:ff9b:1::/48 as a /48", viaLocalNAT64, func(v [4]byte) [16]byte {
		return [16]byte{1: 0x64, 2: 0xff, 3: 0x9b, 5: 0x01, 6: v[0], 7: v[1], 9: v[2], 10: v[3]}
	}},
	{"local-use NAT64 as a /56", viaLocalNAT64, func(v [4]byte) [16]byte {
		return [16]byte{1: 0x64, 2: 0xff, 3: 0x9b, 5: 0x01, 6: 0x2a, 7: v[0], 9: v[1], 10: v[2], 11: v[3]}
	}},
	{"local-use NAT64 as a /64", viaLocalNAT64, func(v [4]byte) [16]byte {
		return [16]byte{1: 0x64, 2: 0xff, 3: 0x9b, 5: 0x01, 6: 0x2a, 7: 0x2b, 9: v[0], 10: v[1], 11: v[2], 12: v[3]}
	}},
	{"local-use NAT64 as a /96", viaLocalNAT64, func(v [4]byte) [16]byte {
		return [16]byte{1: 0x64, 2: 0xff, 3: 0x9b, 5: 0x01, 6: 0x2a, 7: 0x2b, 12: v[0], 13: v[1], 14: v[2], 15: v[3]}
	}},
	{"6to4 2002::/16", via6to4, func(v [4]byte) [16]byte {
		return [16]byte{0: 0x20, 1: 0x02, 2: v[0], 3: v[1], 4: v[2], 5: v[3], 15: 1}
	}},
	{"Teredo 2001::/32 server", viaTeredo, func(v [4]byte) [16]byte {
		// The client is 192.0.2.45, stored inverted.
		return [16]byte{0: 0x20, 1: 0x01, 4: v[0], 5: v[1], 6: v[2], 7: v[3], 12: ^byte(192), 13: ^byte(0), 14: ^byte(2), 15: ^byte(45)}
	}},
	{"Teredo 2001::/32 client", viaTeredo, func(v [4]byte) [16]byte {
		// The server is 65.54.227.120.
		return [16]byte{0: 0x20, 1: 0x01, 4: 65, 5: 54, 6: 227, 7: 120, 12: ^v[0], 13: ^v[1], 14: ^v[2], 15: ^v[3]}
	}},
	{"ISATAP ::0:5efe:0:0 in a global prefix", viaISATAP, func(v [4]byte) [16]byte {
		return [16]byte{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 10: 0x5e, 11: 0xfe, 12: v[0], 13: v[1], 14: v[2], 15: v[3]}
	}},
	{"ISATAP ::200:5efe:0:0 in a global prefix", viaISATAP, func(v [4]byte) [16]byte {
		return [16]byte{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 8: 0x02, 10: 0x5e, 11: 0xfe, 12: v[0], 13: v[1], 14: v[2], 15: v[3]}
	}},
}

// refusedVia returns whether guardAddress refused, and through which
// embedding; it fails the test on an error that is not an *AddressError.
func refusedVia(t *testing.T, addr string, allowLoopback bool) (bool, embedding) {
	t.Helper()
	err := guardAddress(addr, allowLoopback)
	if err == nil {
		return false, ""
	}
	var aerr *AddressError
	if !errors.As(err, &aerr) {
		t.Fatalf("guardAddress(%s) = %v (%T), not an *AddressError", addr, err, err)
	}
	return true, aerr.via
}

func TestGuardEmbeddedIPv4(t *testing.T) {
	metadata, loopback := [4]byte{169, 254, 169, 254}, [4]byte{127, 0, 0, 1}
	public := [][4]byte{{203, 0, 113, 7}, {8, 8, 8, 8}, {10, 1, 2, 3}}
	for _, f := range ipv6Forms {
		t.Run(f.name, func(t *testing.T) {
			hostport := func(v [4]byte) string {
				return net.JoinHostPort(netip.AddrFrom16(f.build(v)).String(), "443")
			}
			for _, allow := range []bool{false, true} {
				if refused, via := refusedVia(t, hostport(metadata), allow); !refused || via != f.via {
					t.Errorf("%s (169.254.169.254), loopback allowed %v: refused %v via %q, want refused via %q", hostport(metadata), allow, refused, via, f.via)
				}
			}
			if refused, via := refusedVia(t, hostport(loopback), false); !refused || via != f.via {
				t.Errorf("%s (127.0.0.1): refused %v via %q, want refused via %q", hostport(loopback), refused, via, f.via)
			}
			if refused, _ := refusedVia(t, hostport(loopback), true); refused {
				t.Errorf("%s (127.0.0.1) refused with loopback allowed", hostport(loopback))
			}
			for _, v := range public {
				if refused, via := refusedVia(t, hostport(v), false); refused {
					t.Errorf("%s (%v) refused via %q", hostport(v), netip.AddrFrom4(v), via)
				}
			}
		})
	}
}

// TestGuardEmbeddedIPv4Literals checks the forms as written by hand, so
// that the table's byte layouts are not the only statement of them.
func TestGuardEmbeddedIPv4Literals(t *testing.T) {
	cases := []struct {
		addr    string
		refused bool
		via     embedding
	}{
		{"[::ffff:169.254.169.254]:80", true, ""},
		{"[::ffff:127.0.0.1]:80", true, ""},
		{"[::ffff:0:a9fe:a9fe]:80", true, viaTranslated},
		{"[::a9fe:a9fe]:80", true, viaCompatible},
		{"[::127.0.0.1]:80", true, viaCompatible},
		{"[64:ff9b::a9fe:a9fe]:80", true, viaNAT64},
		{"[64:ff9b::7f00:1]:80", true, viaNAT64},
		{"[64:ff9b::cb00:7107]:80", false, ""},
		{"[64:ff9b:1::a9fe:a9fe]:80", true, viaLocalNAT64},
		{"[64:ff9b:1:a9fe:a9:fe00::]:80", true, viaLocalNAT64},
		{"[64:ff9b:1::cb00:7107]:80", false, ""},
		{"[2002:a9fe:a9fe::1]:80", true, via6to4},
		{"[2002:7f00:1::1]:80", true, via6to4},
		{"[2002:cb00:7107::1]:80", false, ""},
		{"[2001:0:a9fe:a9fe::1]:80", true, viaTeredo},
		{"[2001:0:4136:e378:8000:63bf:5601:5601]:80", true, viaTeredo}, // client 169.254.169.254
		{"[2001:0:4136:e378:8000:63bf:80ff:fffe]:80", true, viaTeredo}, // client 127.0.0.1
		{"[2001:0:4136:e378:8000:63bf:3fff:fdd2]:80", false, ""},       // client 192.0.2.45
		{"[2001:db8::5efe:a9fe:a9fe]:80", true, viaISATAP},
		{"[2001:db8::200:5efe:7f00:1]:80", true, viaISATAP},
		{"[2001:4860:4860::8888]:443", false, ""},
		{"[2606:4700:4700::1111]:443", false, ""},
		{"[2a00:1450:4001:81b::200e]:443", false, ""},
		{"[fe80::1%25eth0]:443", true, ""},
		{"[::]:443", true, ""},
		{"[::1]:443", true, ""},
		{"8.8.8.8:443", false, ""},
	}
	for _, c := range cases {
		if refused, via := refusedVia(t, c.addr, false); refused != c.refused || via != c.via {
			t.Errorf("%s: refused %v via %q, want refused %v via %q", c.addr, refused, via, c.refused, c.via)
		}
	}
}
