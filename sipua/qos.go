package sipua

import (
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"

	"basestation/sipua/media"
)

// QoS marking (DiffServ, RFC 2474/4594). SIP leaves with Config.SIPDSCP
// (default CS3, 24) on every transport:
//   - UDP: the listener's own socket, which every request and response
//     over UDP uses (media.MarkDSCP), and the registrar probe's socket;
//   - TCP accepted: the listening socket is marked and Linux copies its
//     TOS to each accepted connection;
//   - TCP and TLS dialled by sipgo: its transports are given a dialer
//     whose Control marks the socket before it connects
//     (sip.TransportTCP.DialerCreate).
//
// WebSocket transports are not used by the user agent and are not marked.
// The SIP marking is set when Run starts (a change of SIPDSCP takes effect
// at the next Run); RTP and RTCP take Config.RTPDSCP (default EF, 46) per
// call, in media.Session.

// sipDSCP is the DSCP SIP is sent with; -1: unmarked.
func (c Config) sipDSCP() int {
	switch {
	case c.SIPDSCP < 0:
		return -1
	case c.SIPDSCP == 0:
		return media.DSCPCS3
	}
	return c.SIPDSCP
}

// sipTransports gives sipgo TCP and TLS transports that mark the
// connections they dial (sipgo's default dialer otherwise: a one-minute
// timeout from the chosen local address).
func sipTransports(dscp int) sip.TransportLayerOption {
	dial := func(laddr net.Addr) net.Dialer {
		d := net.Dialer{Timeout: time.Minute, LocalAddr: laddr}
		if dscp >= 0 {
			d.Control = media.DSCPControl(dscp)
		}
		return d
	}
	return sip.WithTransportLayerTransports(sip.TransportsConfig{
		TCP: &sip.TransportTCP{DialerCreate: dial},
		TLS: &sip.TransportTLS{TransportTCP: &sip.TransportTCP{DialerCreate: dial}},
	})
}

// markSIPListeners marks the UDP socket and the TCP listening socket.
func markSIPListeners(pc net.PacketConn, tl net.Listener, dscp int) error {
	if dscp < 0 {
		return nil
	}
	errUDP := media.MarkDSCP(pc, dscp)
	var errTCP error
	if sc, ok := tl.(syscall.Conn); ok {
		rc, err := sc.SyscallConn()
		if err == nil {
			err = media.DSCPControl(dscp)("tcp", tl.Addr().String(), rc)
		}
		errTCP = err
	}
	return errors.Join(errUDP, errTCP)
}
