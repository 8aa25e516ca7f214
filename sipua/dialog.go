package sipua

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// dialog is the state of one SIP dialog (RFC 3261 §12) as this package
// keeps it: our own, because sipgo v1.7.2's dialog sessions have no
// re-INVITE, cap the responses of an INVITE at ten and mix up ACK/BYE
// ordering (libraries.md §3.4).
type dialog struct {
	mu           sync.Mutex
	callID       string
	local        sip.Uri
	localName    string
	localTag     string
	remote       sip.Uri
	remoteName   string
	remoteTag    string
	remoteTarget sip.Uri
	routes       []sip.Uri // route set, in the order to put in Route
	lcseq        uint32
	rcseq        uint32
	transport    string
	proxy        string // outbound proxy host:port (used when routes is empty)
	contact      *sip.ContactHeader
	laddr        sip.Addr // UDP: send from our listener
}

// routeSetFrom takes Record-Route values (in message order).
func routeSetFrom(hdrs []sip.Header, reverse bool) []sip.Uri {
	var out []sip.Uri
	for _, h := range hdrs {
		for _, v := range splitHeaderList(h.Value()) {
			var u sip.Uri
			addr := v
			if i, j := indexByte(v, '<'), indexByte(v, '>'); i >= 0 && j > i {
				addr = v[i+1 : j]
			}
			if err := sip.ParseUri(addr, &u); err == nil {
				out = append(out, u)
			}
		}
	}
	if reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func indexByte(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

// splitHeaderList splits a comma-separated header value, keeping commas
// inside <...> and quotes.
func splitHeaderList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case '<':
			if !quoted {
				depth++
			}
		case '>':
			if !quoted && depth > 0 {
				depth--
			}
		case ',':
			if !quoted && depth == 0 {
				out = append(out, trimSpace(v[start:i]))
				start = i + 1
			}
		}
	}
	if s := trimSpace(v[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// newRequest builds an in-dialog request (RFC 3261 §12.2.1.1). ACK and
// CANCEL reuse cseq; others take the next local CSeq.
func (d *dialog) newRequest(method sip.RequestMethod, cseq uint32) *sip.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cseq == 0 {
		d.lcseq++
		cseq = d.lcseq
	}
	req := sip.NewRequest(method, d.remoteTarget)
	req.SetTransport(d.transport)
	if len(d.routes) > 0 {
		for _, r := range d.routes {
			req.AppendHeader(&sip.RouteHeader{Address: r})
		}
		first := d.routes[0]
		port := first.Port
		if port == 0 {
			port = 5060
		}
		req.SetDestination(net.JoinHostPort(first.Host, strconv.Itoa(port)))
	} else if d.proxy != "" {
		req.SetDestination(d.proxy)
	}
	from := &sip.FromHeader{DisplayName: d.localName, Address: d.local, Params: sip.NewParams()}
	from.Params.Add("tag", d.localTag)
	to := &sip.ToHeader{DisplayName: d.remoteName, Address: d.remote, Params: sip.NewParams()}
	if d.remoteTag != "" {
		to.Params.Add("tag", d.remoteTag)
	}
	req.AppendHeader(from)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(d.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	if d.contact != nil && method != sip.ACK && method != sip.CANCEL && method != sip.BYE {
		req.AppendHeader(d.contact.Clone())
	}
	if d.laddr.IP != nil {
		req.Laddr = d.laddr
	}
	req.SetBody(nil)
	return req
}

// checkRemoteCSeq validates an incoming in-dialog request's CSeq.
func (d *dialog) checkRemoteCSeq(req *sip.Request) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := req.CSeq().SeqNo
	if d.rcseq != 0 && n < d.rcseq {
		return fmt.Errorf("CSeq %d lower than %d", n, d.rcseq)
	}
	if req.Method != sip.ACK && req.Method != sip.CANCEL {
		d.rcseq = n
	}
	return nil
}

// sendInDialog sends an in-dialog request (SDP body if any) through cli
// and waits for the final response; digest challenges are answered.
func (u *UA) sendInDialog(ctx context.Context, cli *sipgo.Client, d *dialog, auth *authenticator, method sip.RequestMethod, body []byte, extra ...sip.Header) (*sip.Response, error) {
	return u.sendInDialogBody(ctx, cli, d, auth, method, "application/sdp", body, extra...)
}

func (u *UA) sendInDialogBody(ctx context.Context, cli *sipgo.Client, d *dialog, auth *authenticator, method sip.RequestMethod, ctype string, body []byte, extra ...sip.Header) (*sip.Response, error) {
	build := func() (*sip.Request, error) {
		req := d.newRequest(method, 0)
		for _, h := range extra {
			req.AppendHeader(h)
		}
		if body != nil {
			req.AppendHeader(sip.NewHeader("Content-Type", ctype))
			req.SetBody(body)
		}
		sipgo.ClientRequestAddVia(cli, req)
		return req, nil
	}
	if auth == nil {
		req, _ := build()
		return u.roundTrip(ctx, cli, req)
	}
	return u.doAuth(ctx, cli, auth, build)
}
