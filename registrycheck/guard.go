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
// pointing at such an address is refused too.
type AddressError struct {
	Addr   string
	Reason string
}

func (e *AddressError) Error() string {
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
	ip = ip.Unmap()
	for _, m := range metadataAddrs() {
		if ip == m {
			return &AddressError{Addr: address, Reason: "cloud metadata address"}
		}
	}
	switch {
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return &AddressError{Addr: address, Reason: "link-local address"}
	case ip.IsUnspecified() || ip.IsMulticast():
		return &AddressError{Addr: address, Reason: "not a unicast address"}
	case ip.IsLoopback() && !allowLoopback:
		return &AddressError{Addr: address, Reason: "loopback address (allow with the loopback option)"}
	}
	return nil
}

// dialControl is a net.Dialer Control function applying guardAddress.
func dialControl(allowLoopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		return guardAddress(address, allowLoopback)
	}
}
