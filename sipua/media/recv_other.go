//go:build !linux

package media

import (
	"net"
	"net/netip"
	"syscall"
	"time"
)

// datagramReader reads a UDP socket without blocking from the session's
// tick loop (portable fallback: arrival is the time of the read, which
// quantises arrival statistics to the 10 ms tick; Linux uses the kernel's
// timestamps).
type datagramReader struct {
	rc   []syscall.RawConn // the sockets, by index
	fn   func(fd uintptr) bool
	buf  []byte
	n    int
	from netip.AddrPort
	err  error
}

// newDatagramReader makes a reader into buf for the sockets conns (one
// reader serves several sockets: it is used by one goroutine at a time).
func newDatagramReader(buf []byte, conns ...*net.UDPConn) (*datagramReader, error) {
	r := &datagramReader{buf: buf}
	for _, c := range conns {
		rc, err := c.SyscallConn()
		if err != nil {
			return nil, err
		}
		r.rc = append(r.rc, rc)
	}
	r.fn = r.recv
	return r, nil
}

func (r *datagramReader) recv(fd uintptr) bool {
	n, sa, err := syscall.Recvfrom(int(fd), r.buf, syscall.MSG_DONTWAIT)
	r.n, r.err = n, err
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		r.from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *syscall.SockaddrInet6:
		r.from = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	default:
		r.from = netip.AddrPort{}
	}
	return true
}

func (r *datagramReader) next(i int, now time.Time) (data []byte, from netip.AddrPort, arrival time.Time, ok bool, err error) {
	if err := r.rc[i].Read(r.fn); err != nil {
		return nil, netip.AddrPort{}, time.Time{}, false, err
	}
	if r.err != nil {
		if r.err == syscall.EAGAIN || r.err == syscall.EWOULDBLOCK || r.err == syscall.EINTR {
			return nil, netip.AddrPort{}, time.Time{}, false, nil
		}
		return nil, netip.AddrPort{}, time.Time{}, false, r.err
	}
	return r.buf[:r.n], r.from, now, true, nil
}
