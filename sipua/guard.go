package sipua

import (
	"bytes"
	"fmt"
	"net"
	"runtime/debug"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// supportedExtensions is what a Require header may name (RFC 3261 §8.2.2.3);
// anything else gets 420. We implement none of the option tags.
var supportedExtensions = map[string]bool{}

// guard wraps a request handler: the request is checked for the headers
// every handler relies on (RFC 3261 §8.1.1: To, From, Call-ID, CSeq, Via,
// Max-Forwards is optional for a UA) and for extensions it requires, and a
// panic in the handler is contained (logged with its stack, answered 500)
// rather than taking the daemon down. Handlers may then use To, From,
// Call-ID and CSeq without nil checks.
func (u *UA) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if p := recover(); p != nil {
				u.panics.Add(1)
				u.log.Error("SIP handler panic, request answered 500", "method", req.Method, "source", req.Source(),
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if req.Method != sip.ACK {
					respond(tx, req, 500, "Server Internal Error")
				}
			}
		}()
		if code, reason, hdrs := checkRequest(req); code != 0 {
			u.log.Debug("SIP request refused", "method", req.Method, "source", req.Source(), "code", code, "reason", reason)
			if req.Method != sip.ACK { // an ACK is never answered
				respond(tx, req, code, reason, hdrs...)
			}
			return
		}
		h(req, tx)
	}
}

// checkRequest returns the error response a request deserves before any
// handler looks at it (0 when it is acceptable).
func checkRequest(req *sip.Request) (int, string, []sip.Header) {
	if req.SipVersion != "SIP/2.0" {
		return 505, "Version Not Supported", nil
	}
	if req.Via() == nil {
		return 400, "Missing Via", nil
	}
	if to := req.To(); to == nil {
		return 400, "Missing To", nil
	}
	if from := req.From(); from == nil {
		return 400, "Missing From", nil
	}
	if cid := req.CallID(); cid == nil || strings.TrimSpace(cid.Value()) == "" {
		return 400, "Missing Call-ID", nil
	}
	cs := req.CSeq()
	if cs == nil {
		return 400, "Missing CSeq", nil
	}
	// sipgo upper-cases the request line's method, not CSeq's.
	if !strings.EqualFold(string(cs.MethodName), string(req.Method)) {
		return 400, "CSeq method does not match the request", nil
	}
	for _, name := range []string{"To", "From", "Call-ID", "CSeq", "Content-Length", "Content-Type", "Max-Forwards"} {
		if len(req.GetHeaders(name)) > 1 {
			return 400, "Duplicate " + name, nil
		}
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return 400, "Content-Length mismatch", nil
	}
	if s := strings.ToLower(req.Recipient.Scheme); s != "sip" && s != "sips" {
		return 416, "Unsupported URI Scheme", nil
	}
	if req.Recipient.Headers != nil && req.Recipient.Headers.Length() > 0 {
		return 400, "Headers in Request-URI", nil
	}
	for _, addr := range []sip.Uri{req.To().Address, req.From().Address} {
		if s := strings.ToLower(addr.Scheme); s != "sip" && s != "sips" && s != "tel" {
			return 400, "Unsupported URI scheme in To or From", nil
		}
	}
	switch req.Method {
	case sip.INVITE, sip.SUBSCRIBE, sip.REFER:
		// Dialog-creating (or target-refreshing) requests need a Contact
		// we can send to (RFC 3261 §8.1.1.8).
		if ct := req.Contact(); ct == nil || !validContact(ct) {
			return 400, "Missing or invalid Contact", nil
		}
	}
	if req.Method == sip.INVITE {
		// Our offers and answers are SDP (RFC 3261 §21.4.13, §21.4.7).
		if ct := req.ContentType(); len(req.Body()) > 0 && (ct == nil || !isSDP(ct.Value())) {
			return 415, "Unsupported Media Type", []sip.Header{sip.NewHeader("Accept", "application/sdp")}
		}
		if a := req.GetHeader("Accept"); a != nil && !acceptsSDP(a.Value()) {
			return 406, "Not Acceptable", nil
		}
	}
	if req.Method == sip.NOTIFY || req.Method == sip.SUBSCRIBE {
		if h := req.GetHeader("Event"); h == nil || strings.TrimSpace(h.Value()) == "" {
			return 400, "Missing Event", nil
		}
	}
	if req.Method != sip.ACK && req.Method != sip.CANCEL {
		var unsupported []string
		for _, h := range req.GetHeaders("Require") {
			for _, tag := range strings.Split(h.Value(), ",") {
				tag = strings.ToLower(strings.TrimSpace(tag))
				if tag != "" && !supportedExtensions[tag] {
					unsupported = append(unsupported, tag)
				}
			}
		}
		if len(unsupported) > 0 {
			return 420, "Bad Extension", []sip.Header{sip.NewHeader("Unsupported", strings.Join(unsupported, ", "))}
		}
	}
	return 0, "", nil
}

func isSDP(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/sdp")
}

// acceptsSDP reports whether an Accept value allows an SDP answer.
func acceptsSDP(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true // empty Accept: no body wanted; the UAC gets SDP anyway
	}
	for _, r := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(r, ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/sdp", "application/*", "*/*":
			return true
		}
	}
	return false
}

func validContact(ct *sip.ContactHeader) bool {
	s := strings.ToLower(ct.Address.Scheme)
	return (s == "sip" || s == "sips") && ct.Address.Host != "" && !ct.Address.Wildcard
}

// acceptsFlow reports whether a request that arrived from src ("ip:port")
// over transport ("UDP", "TCP", "TLS") comes from the server this
// registration uses now: the registrar (or outbound proxy) it is
// registered with, at its address, port and transport. Before the first
// REGISTER no server is trusted.
func (r *registration) acceptsFlow(src, transport string) bool {
	return r.isActiveFlow(src, transport)
}

// trustedExtensionsLocked returns the extensions whose current server sent
// req (u.mu held). Outsiders get an empty list and are refused before any
// user lookup, so they learn nothing about which users exist.
func (u *UA) trustedExtensionsLocked(req *sip.Request) []*extension {
	var out []*extension
	for _, e := range u.exts {
		if e.reg.acceptsFlow(req.Source(), req.Transport()) {
			out = append(out, e)
		}
	}
	return out
}

// findTrustedExtensionLocked maps a request from a trusted server to the
// extension it is for (by Request-URI user, then To user) among those
// that server serves. It returns (nil, false) for an outsider and
// (nil, true) for a trusted server naming no extension of ours.
func (u *UA) findTrustedExtensionLocked(req *sip.Request) (*extension, bool) {
	trusted := u.trustedExtensionsLocked(req)
	if len(trusted) == 0 {
		return nil, false
	}
	for _, user := range []string{req.Recipient.User, req.To().Address.User} {
		for _, e := range trusted {
			if user != "" && e.acct.User == user {
				return e, true
			}
		}
	}
	return nil, true
}

// udpPrefilter runs on every UDP datagram before sipgo parses it, in
// sipgo's read goroutine (sipgo's read filter). Whatever an outsider sends
// out of a dialog is answered statelessly here (or dropped), so that it
// creates no state: sipgo keeps a server transaction for 32 s per request
// (Timer J) and a connection-pool entry per source address that is never
// removed, so a burst of junk from many addresses used to grow the heap by
// about 2 KB a datagram. What passes: responses (matched to our client
// transactions), requests from the flow an account is registered with,
// and requests in the dialog of one of our calls.
//
//   - not SIP (sipgo would log it at error level with its bytes): dropped;
//   - a request the guard refuses (missing headers, 420, ...): answered;
//   - OPTIONS from an outsider: 200 with Allow, stateless;
//   - ACK outside our dialogs: dropped; other requests: 403 (481 when
//     they name a dialog we do not have).
func (u *UA) udpPrefilter(info sip.TransportReadProps, data []byte) ([]byte, error) {
	if !strings.EqualFold(info.Transport, "udp") || len(bytes.Trim(data, "\r\n\x00")) == 0 {
		return data, nil // TCP is a stream, framed later; CRLF keepalives
	}
	msg, err := sip.ParseMessage(data)
	if err != nil {
		u.dropped.Add(1)
		u.log.Debug("SIP datagram not parsed, dropped", "source", info.RemoteAddr.String(), "error", err)
		return nil, nil
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return data, nil
	}
	src := info.RemoteAddr.String()
	req.SetSource(src)
	req.SetTransport("UDP")
	if code, reason, hdrs := checkRequest(req); code != 0 {
		u.statelessReply(req, info.RemoteAddr, code, reason, hdrs...)
		return nil, nil
	}
	u.mu.Lock()
	trusted := len(u.trustedExtensionsLocked(req)) > 0
	u.mu.Unlock()
	if trusted {
		return data, nil
	}
	inDialog := req.To().Params.Has("tag")
	if inDialog && u.callFor(req) != nil {
		return data, nil
	}
	switch {
	case req.Method == sip.ACK:
		u.dropped.Add(1)
	case req.Method == sip.OPTIONS && !inDialog:
		u.statelessReply(req, info.RemoteAddr, 200, "OK", optionsHeaders()...)
	case inDialog || req.Method == sip.CANCEL:
		u.statelessReply(req, info.RemoteAddr, 481, "Call/Transaction Does Not Exist")
	default:
		u.log.Debug("SIP request from a server no account uses, refused", "method", req.Method, "source", src)
		u.statelessReply(req, info.RemoteAddr, 403, "Forbidden")
	}
	return nil, nil
}

// statelessReply answers req without a transaction (RFC 3261 §8.2.7),
// from the SIP UDP socket to where it came from.
func (u *UA) statelessReply(req *sip.Request, to net.Addr, code int, reason string, hdrs ...sip.Header) {
	if req.Method == sip.ACK {
		return
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	u.mu.Lock()
	pc := u.udp
	u.mu.Unlock()
	if pc == nil {
		return
	}
	if _, err := pc.WriteTo([]byte(res.String()), to); err != nil {
		u.log.Debug("stateless SIP answer not sent", "to", to.String(), "error", err)
	}
}

func optionsHeaders() []sip.Header {
	return []sip.Header{
		sip.NewHeader("Allow", allowMethods),
		sip.NewHeader("Accept", "application/sdp, application/simple-message-summary"),
	}
}
