package sipua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"basestation/sipua/media"
)

// localIP is the address we put in Via/Contact towards target.
func (r *registration) localIPTowards(target string) (string, error) {
	if r.u.conf().AdvertiseIP != "" {
		return r.u.conf().AdvertiseIP, nil
	}
	_, p, _ := net.SplitHostPort(target)
	ips, err := r.resolve(context.Background(), target)
	if err != nil {
		return "", err
	}
	ip, err := r.u.LocalIPFor(net.JoinHostPort(ips[0].String(), p))
	if err != nil {
		return "", err
	}
	return ip.String(), nil
}

func (r *registration) addrChanged() bool {
	r.mu.Lock()
	target, old := r.target, r.localIP
	r.mu.Unlock()
	ip, err := r.localIPTowards(target)
	return err == nil && ip != old
}

// keepalive sends a CRLF keepalive (RFC 5626 §4.4.1 ping) to the
// registrar over UDP; it touches no dialog, so calls are undisturbed.
func (r *registration) keepalive() {
	if r.acct.transport() != UDP {
		return // TCP/TLS: OS keepalive on the connection
	}
	r.mu.Lock()
	ips, target := r.serverIPs, r.target
	r.mu.Unlock()
	if len(ips) == 0 {
		return
	}
	_, p, _ := net.SplitHostPort(target)
	port, _ := strconv.Atoi(p)
	_, _ = r.u.udp.WriteTo([]byte("\r\n\r\n"), &net.UDPAddr{IP: ips[0], Port: port})
}

// probeWait is how long a probe waits for an ICMP error; probeEvery is
// the probe interval while a REGISTER is unanswered.
const (
	probeWait  = time.Second
	probeEvery = time.Second
)

// probe checks a UDP registrar for ICMP port unreachable.
func (r *registration) probe(ctx context.Context, addr netip.AddrPort) error {
	if r.acct.transport() != UDP || !addr.IsValid() {
		return nil
	}
	return r.u.probeUDP(ctx, addr.String())
}

// probeUDP sends a CRLF keepalive to dest (ip:port) from a connected UDP
// socket of its own and waits up to probeWait for an ICMP error: the
// listener's socket is not connected, so the kernel does not report ICMP
// errors on it and sipgo would wait for the whole transaction timeout.
// It returns ErrUnreachable on ICMP port unreachable, nil when nothing
// (or anything else) comes back.
func (u *UA) probeUDP(ctx context.Context, dest string) error {
	raddr, err := net.ResolveUDPAddr("udp", dest)
	if err != nil {
		return err
	}
	var laddr *net.UDPAddr
	u.mu.Lock()
	host := u.listenHost
	u.mu.Unlock()
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		laddr = &net.UDPAddr{IP: ip}
	}
	c, err := net.DialUDP("udp", laddr, raddr)
	if err != nil {
		return err
	}
	defer c.Close()
	if d := u.conf().sipDSCP(); d >= 0 {
		_ = media.MarkDSCP(c, d) // best effort: the probe is a CRLF keepalive
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	_ = c.SetReadDeadline(time.Now().Add(probeWait))
	if _, err := c.Write([]byte("\r\n\r\n")); err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return ErrUnreachable
		}
		return err
	}
	var buf [64]byte
	if _, err := c.Read(buf[:]); errors.Is(err, syscall.ECONNREFUSED) {
		return ErrUnreachable
	}
	return nil
}

// watchUnreachable probes dest every probeEvery while a REGISTER is
// unanswered and cancels it with ErrUnreachable on ICMP port
// unreachable. The returned stop ends the watch and waits for it.
func (u *UA) watchUnreachable(ctx context.Context, cancel context.CancelCauseFunc, dest string) (stop func()) {
	wctx, wcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if err := u.probeUDP(wctx, dest); errors.Is(err, ErrUnreachable) {
				cancel(fmt.Errorf("registrar %s: %w", dest, ErrUnreachable))
				return
			}
			select {
			case <-wctx.Done():
				return
			case <-time.After(probeEvery):
			}
		}
	}()
	return func() { wcancel(); <-done }
}
