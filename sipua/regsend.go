package sipua

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// register sends one REGISTER (with digest retries) to target.
func (r *registration) register(ctx context.Context, target string, expires time.Duration) (*sip.Response, error) {
	ips, err := r.resolve(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", target, err)
	}
	localIP, err := r.localIPTowards(target)
	if err != nil {
		return nil, fmt.Errorf("local address towards %s: %w", target, err)
	}
	r.mu.Lock()
	if r.target != target {
		r.auth.forget()
	}
	r.target, r.serverIPs, r.localIP = target, ips, localIP
	dest := r.sendAddrLocked(target)
	r.mu.Unlock()
	// Behind NAT the public contact learnt before is reused while the
	// local address stays the same.
	r.mu.Lock()
	var override *sip.ContactHeader
	if r.natContact != nil && r.natLocal == localIP && r.natTarget == target {
		override = r.natContact.Clone()
	}
	r.mu.Unlock()
	if r.acct.transport() == UDP {
		// ICMP port unreachable ends the wait at once (within a probe
		// round trip) instead of after the transaction timeout.
		pctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		stop := r.u.watchUnreachable(pctx, cancel, dest)
		defer stop()
		ctx = pctx
	}
	res, contact, err := r.send(ctx, dest, localIP, expires, override)
	if err == nil && res.IsSuccess() {
		// NAT: the registrar saw another address than ours (Via
		// received/rport, RFC 3581); register that one instead.
		if nat := natContact(res, contact); nat != nil && expires > 0 {
			r.mu.Lock()
			r.natContact, r.natLocal, r.natTarget = nat, localIP, target
			r.mu.Unlock()
			res, contact, err = r.send(ctx, dest, localIP, expires, nat)
		}
	}
	if err == nil && res.IsSuccess() {
		r.mu.Lock()
		r.contact = contact
		r.mu.Unlock()
	}
	return res, err
}

// natContact returns the public contact when the response's Via shows
// a received/rport different from the contact we registered.
func natContact(res *sip.Response, c *sip.ContactHeader) *sip.ContactHeader {
	via := res.Via()
	if via == nil || c == nil {
		return nil
	}
	recv, _ := via.Params.Get("received")
	rp, _ := via.Params.Get("rport")
	port, _ := strconv.Atoi(rp)
	if recv == "" || net.ParseIP(recv) == nil {
		return nil
	}
	if recv == c.Address.Host && (port == 0 || port == c.Address.Port) {
		return nil
	}
	if net.ParseIP(recv).IsLoopback() {
		return nil
	}
	n := c.Clone()
	n.Address.Host = recv
	if port != 0 {
		n.Address.Port = port
	}
	return n
}

func (r *registration) nextCSeq() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cseq++
	return r.cseq
}

// send builds and sends REGISTER with digest retries and returns the
// final response and the contact used.
func (r *registration) send(ctx context.Context, dest, localIP string, expires time.Duration, contactOverride *sip.ContactHeader) (*sip.Response, *sip.ContactHeader, error) {
	a := r.acct
	tr := a.transport()
	cli, err := r.u.client(tr, localIP)
	if err != nil {
		return nil, nil, err
	}
	var contact *sip.ContactHeader
	build := func() (*sip.Request, error) {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: a.Domain})
		req.SetTransport(tr.sip())
		req.SetDestination(dest)
		aor := sip.Uri{Scheme: "sip", User: a.User, Host: a.Domain}
		from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
		from.Params.Add("tag", r.fromTag)
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
		cid := sip.CallIDHeader(r.callID)
		req.AppendHeader(&cid)
		req.AppendHeader(&sip.CSeqHeader{SeqNo: r.nextCSeq(), MethodName: sip.REGISTER})
		mf := sip.MaxForwardsHeader(70)
		req.AppendHeader(&mf)
		sipgo.ClientRequestAddVia(cli, req)
		if tr == UDP {
			req.Laddr = sip.Addr{IP: net.ParseIP(r.u.udp.LocalAddr().(*net.UDPAddr).IP.String()), Port: r.u.listenPort}
		}
		if contactOverride != nil {
			contact = contactOverride.Clone()
		} else {
			port := r.u.listenPort
			if tr != UDP {
				// Contact = the connection's own address, so the
				// registrar reaches us over the same connection.
				conn, err := r.u.sua.TransportLayer().ClientRequestConnection(ctx, req)
				if err != nil {
					return nil, err
				}
				_, ps, _ := net.SplitHostPort(conn.LocalAddr().String())
				port, _ = strconv.Atoi(ps)
			}
			contact = &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: a.User, Host: localIP, Port: port}, Params: sip.NewParams()}
			if tr != UDP {
				contact.Address.UriParams = sip.NewParams()
				contact.Address.UriParams.Add("transport", string(tr))
			}
		}
		req.AppendHeader(contact)
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
		req.AppendHeader(sip.NewHeader("User-Agent", r.u.userAgent()))
		req.AppendHeader(sip.NewHeader("Allow", allowMethods))
		req.SetBody(nil)
		return req, nil
	}
	res, err := r.u.doAuth(ctx, cli, r.auth, build)
	return res, contact, err
}

const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, REFER"

// unregister removes our binding at the current registrar.
func (r *registration) unregister() {
	r.mu.Lock()
	target, contact, localIP := r.target, r.contact, r.localIP
	r.contact = nil
	r.mu.Unlock()
	r.io.unregisterAt(target, contact, localIP)
	r.mu.Lock()
	r.hasActive, r.expiresAt, r.failedOverAt = false, time.Time{}, time.Time{}
	r.mu.Unlock()
	r.setState(RegUnregistered, "", 0)
}

// unregisterAt removes contact at target (Expires: 0).
func (r *registration) unregisterAt(target string, contact *sip.ContactHeader, localIP string) {
	if contact == nil || target == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	dest := target
	if r.acct.transport() != TLS {
		ips, err := r.resolve(ctx, target)
		if err != nil {
			return
		}
		_, p, _ := net.SplitHostPort(target)
		dest = net.JoinHostPort(ips[0].String(), p)
	}
	_, _, _ = r.send(ctx, dest, localIP, 0, contact)
}
