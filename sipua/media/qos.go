package media

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// DSCP code points (RFC 2474 class selectors, RFC 3246 expedited
// forwarding). RTP and RTCP are marked EF; SIP CS3 by default (the user
// agent's Config.SIPDSCP).
const (
	DSCPEF  = 46 // expedited forwarding: voice media (RFC 4594)
	DSCPCS3 = 24 // class selector 3: call signalling (RFC 4594)
)

// CheckDSCP reports whether d is a DSCP value (0..63).
func CheckDSCP(d int) error {
	if d < 0 || d > 63 {
		return fmt.Errorf("DSCP %d: must be 0..63", d)
	}
	return nil
}

// MarkDSCP sets the DSCP of the datagrams sent on c: the IPv4 TOS octet
// and the IPv6 traffic class (a socket bound to the wildcard address is
// dual-stack, and IPv4 packets from it take the TOS). It fails only when
// neither could be set.
func MarkDSCP(c net.PacketConn, dscp int) error {
	if err := CheckDSCP(dscp); err != nil {
		return err
	}
	err4 := ipv4.NewPacketConn(c).SetTOS(dscp << 2)
	err6 := ipv6.NewPacketConn(c).SetTrafficClass(dscp << 2)
	if err4 != nil && err6 != nil {
		return fmt.Errorf("media: mark DSCP %d on %v: %w", dscp, c.LocalAddr(), errors.Join(err4, err6))
	}
	return nil
}

// MarkConnDSCP is MarkDSCP for a stream connection (SIP over TCP or TLS).
func MarkConnDSCP(c net.Conn, dscp int) error {
	if err := CheckDSCP(dscp); err != nil {
		return err
	}
	err4 := ipv4.NewConn(c).SetTOS(dscp << 2)
	err6 := ipv6.NewConn(c).SetTrafficClass(dscp << 2)
	if err4 != nil && err6 != nil {
		return fmt.Errorf("media: mark DSCP %d on %v: %w", dscp, c.LocalAddr(), errors.Join(err4, err6))
	}
	return nil
}

// DSCPControl returns a net.Dialer / net.ListenConfig Control function
// that marks the socket before it connects or listens (sockets created
// inside a library, such as sipgo's TCP and TLS dials, where no net.Conn
// is at hand for MarkConnDSCP). Connections accepted from a marked
// listener inherit its TOS (Linux copies it to the child socket).
func DSCPControl(dscp int) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var err4, err6 error
		if err := c.Control(func(fd uintptr) {
			err4 = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, dscp<<2)
			err6 = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_TCLASS, dscp<<2)
		}); err != nil {
			return err
		}
		if err4 != nil && err6 != nil {
			return fmt.Errorf("mark DSCP %d on %s %s: %w", dscp, network, address, errors.Join(err4, err6))
		}
		return nil
	}
}
