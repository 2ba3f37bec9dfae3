package registrycheck

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// AddressError is a connection nobackoff refused to open: registries are
// never reached on link-local or cloud metadata addresses, and on loopback
// only when allowed. The check runs on the resolved address, so a DNS name
// pointing at such an address is refused too, and so is an IPv6 address
// that carries such an IPv4 address to a translator or tunnel.
type AddressError struct {
	Addr   string
	Reason string

	// via names the IPv6 form that carried the refused IPv4 address, ""
	// when the address itself was refused.
	via embedding
}

func (e *AddressError) Error() string {
	if e.via != "" {
		return fmt.Sprintf("refused to connect to %s: %s (an IPv4 address embedded in a %s address)", e.Addr, e.Reason, e.via)
	}
	return fmt.Sprintf("refused to connect to %s: %s", e.Addr, e.Reason)
}

// metadataAddrs are the cloud metadata services' addresses outside the
// link-local ranges.
func metadataAddrs() []netip.Addr {
	return []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack
		netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	}
}

// guardAddress decides whether a resolved address may be dialled.
func guardAddress(address string, allowLoopback bool) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return &AddressError{Addr: address, Reason: "not host:port"}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return &AddressError{Addr: address, Reason: "not an IP address"}
	}
	// The zone only picks an interface; the address decides.
	ip = ip.WithZone("").Unmap()
	if reason := judge(ip, allowLoopback, true); reason != "" {
		return &AddressError{Addr: address, Reason: reason}
	}
	for _, e := range embeddedIPv4(ip) {
		if reason := judge(e.v4, allowLoopback, e.exact); reason != "" {
			return &AddressError{Addr: address, Reason: reason, via: e.form}
		}
	}
	return nil
}

// judge says why an address may not be dialled, "" when it may. With
// exact false the address is one reading among several of where an IPv6
// address may lead; then only the ranges the guard exists for (metadata,
// link-local, loopback) count, not the unspecified or multicast ones a
// wrong reading of ordinary bits produces.
func judge(ip netip.Addr, allowLoopback, exact bool) string {
	for _, m := range metadataAddrs() {
		if ip == m {
			return "cloud metadata address"
		}
	}
	switch {
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return "link-local address"
	case ip.IsLoopback() && !allowLoopback:
		return "loopback address (allow with the loopback option)"
	case exact && (ip.IsUnspecified() || ip.IsMulticast()):
		return "not a unicast address"
	}
	return ""
}

// embedding is an IPv6 form that carries an IPv4 address.
type embedding string

// IPv6 forms that carry an IPv4 address, which a translator, a relay or
// the host's own stack turns into a connection to that IPv4 address. The
// IPv4-mapped form (::ffff:0:0/96) is undone by Unmap before them.
const (
	viaTranslated embedding = "IPv4-translated (::ffff:0:0:0/96)"
	viaCompatible embedding = "IPv4-compatible (::/96)"
	viaNAT64      embedding = "NAT64 (64:ff9b::/96)"
	viaLocalNAT64 embedding = "local-use NAT64 (64:ff9b:1::/48)"
	via6to4       embedding = "6to4 (2002::/16)"
	viaTeredo     embedding = "Teredo (2001::/32)"
	viaISATAP     embedding = "ISATAP (interface identifier ::5efe:0:0/96)"
)

type embeddedAddr struct {
	form embedding
	v4   netip.Addr
	// exact is false when the form does not fix where the IPv4 address
	// sits, and this is one possible reading.
	exact bool
}

// embeddedIPv4 returns the IPv4 addresses an IPv6 address may lead to.
func embeddedIPv4(ip netip.Addr) []embeddedAddr {
	if !ip.Is6() {
		return nil
	}
	b := ip.As16()
	at := func(i, j, k, l int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[j], b[k], b[l]}) }
	zero := func(bs []byte) bool {
		for _, x := range bs {
			if x != 0 {
				return false
			}
		}
		return true
	}
	var out []embeddedAddr
	switch {
	case zero(b[:8]) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0:
		out = append(out, embeddedAddr{viaTranslated, at(12, 13, 14, 15), true})
	case zero(b[:12]):
		// :: and ::1 fall here too; they were judged as themselves first.
		out = append(out, embeddedAddr{viaCompatible, at(12, 13, 14, 15), true})
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(b[4:12]):
		out = append(out, embeddedAddr{viaNAT64, at(12, 13, 14, 15), true})
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0x00 && b[5] == 0x01:
		// The operator picks the prefix length within the /48, which
		// decides where the IPv4 address sits (RFC 6052, skipping bits
		// 64-71): every reading is judged.
		out = append(out,
			embeddedAddr{viaLocalNAT64, at(6, 7, 9, 10), false},    // /48
			embeddedAddr{viaLocalNAT64, at(7, 9, 10, 11), false},   // /56
			embeddedAddr{viaLocalNAT64, at(9, 10, 11, 12), false},  // /64
			embeddedAddr{viaLocalNAT64, at(12, 13, 14, 15), false}, // /96
		)
	case b[0] == 0x20 && b[1] == 0x02:
		out = append(out, embeddedAddr{via6to4, at(2, 3, 4, 5), true})
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00:
		// The Teredo server, then the client, whose address is stored
		// with every bit inverted.
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		out = append(out, embeddedAddr{viaTeredo, at(4, 5, 6, 7), true}, embeddedAddr{viaTeredo, client, true})
	}
	// ISATAP puts the IPv4 address in the interface identifier of any
	// prefix: 0000:5efe or 0200:5efe (with the universal/local and group
	// bits free) before it. An ordinary address may look so by chance.
	if b[8]&^0x03 == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
		out = append(out, embeddedAddr{viaISATAP, at(12, 13, 14, 15), false})
	}
	return out
}

// dialControl is a net.Dialer Control function applying guardAddress.
func dialControl(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		return guardAddress(address, allowLoopback)
	}
}
