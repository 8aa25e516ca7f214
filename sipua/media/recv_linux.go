//go:build linux

package media

import (
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"
)

// datagramReader reads a UDP socket without blocking from the session's
// tick loop (so a call needs no reader goroutine and no wake-up per
// packet): one recvmsg(MSG_DONTWAIT) per call of next, with the kernel's
// arrival time of the datagram (SO_TIMESTAMPNS), so arrival-time
// statistics (jitter, RTT) do not depend on when the tick ran. Nothing is
// allocated per datagram.
type datagramReader struct {
	rc  []syscall.RawConn     // the sockets, by index
	fn  func(fd uintptr) bool // r.recv, bound once
	buf []byte

	name syscall.RawSockaddrAny
	ctrl [64]byte
	iov  syscall.Iovec
	msg  syscall.Msghdr

	// result of the last recv
	n     int
	from  netip.AddrPort
	stamp int64 // kernel arrival time, ns since the Unix epoch (0: none)
	trunc bool
	errno syscall.Errno
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
		if err := rc.Control(func(fd uintptr) {
			// Without timestamps (an error here), arrival is the time of the read.
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
		}); err != nil {
			return nil, err
		}
	}
	r.fn = r.recv
	return r, nil
}

func (r *datagramReader) recv(fd uintptr) bool {
	r.iov.Base = &r.buf[0]
	r.iov.SetLen(len(r.buf))
	r.msg = syscall.Msghdr{
		Name:    (*byte)(unsafe.Pointer(&r.name)),
		Namelen: uint32(unsafe.Sizeof(r.name)),
		Iov:     &r.iov,
		Control: &r.ctrl[0],
	}
	r.msg.Iovlen = 1
	r.msg.SetControllen(len(r.ctrl))
	for {
		n, _, e := syscall.Syscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.msg)), syscall.MSG_DONTWAIT)
		if e == syscall.EINTR {
			continue
		}
		r.errno = e
		if e != 0 {
			r.n = -1
			return true
		}
		r.n = int(n)
		break
	}
	r.trunc = r.msg.Flags&syscall.MSG_TRUNC != 0
	r.from = sockaddrToAddrPort(&r.name)
	r.stamp = 0
	cl := int(r.msg.Controllen)
	hl := syscall.CmsgLen(0)
	for off := 0; off+hl <= cl; {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&r.ctrl[off]))
		l := int(h.Len)
		if l < hl || off+l > cl {
			break
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && l >= hl+int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&r.ctrl[off+hl]))
			r.stamp = ts.Nano()
		}
		off += syscall.CmsgSpace(l - hl)
	}
	return true
}

func sockaddrToAddrPort(sa *syscall.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case syscall.AF_INET:
		p := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		pb := (*[2]byte)(unsafe.Pointer(&p.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), uint16(pb[0])<<8|uint16(pb[1]))
	case syscall.AF_INET6:
		p := (*syscall.RawSockaddrInet6)(unsafe.Pointer(sa))
		pb := (*[2]byte)(unsafe.Pointer(&p.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(p.Addr), uint16(pb[0])<<8|uint16(pb[1]))
	}
	return netip.AddrPort{}
}

// next reads one waiting datagram of socket i into the buffer. ok is false when none
// is waiting (or the socket failed: err says so). now is the caller's
// current time; arrival is when the datagram reached the socket, on now's
// (monotonic) clock.
func (r *datagramReader) next(i int, now time.Time) (data []byte, from netip.AddrPort, arrival time.Time, ok bool, err error) {
	if err := r.rc[i].Read(r.fn); err != nil {
		return nil, netip.AddrPort{}, time.Time{}, false, err
	}
	switch {
	case r.n < 0 && (r.errno == syscall.EAGAIN || r.errno == syscall.EWOULDBLOCK):
		return nil, netip.AddrPort{}, time.Time{}, false, nil
	case r.n < 0:
		return nil, netip.AddrPort{}, time.Time{}, false, r.errno
	}
	arrival = now
	if r.stamp != 0 {
		// The stamp is wall-clock time; its age measured on the wall clock
		// now places it on the monotonic clock.
		age := time.Duration(now.UnixNano() - r.stamp)
		if age > 0 && age < 10*time.Second {
			arrival = now.Add(-age)
		}
	}
	if r.trunc {
		return nil, r.from, arrival, true, nil // oversized: the caller counts it invalid
	}
	return r.buf[:r.n], r.from, arrival, true, nil
}
