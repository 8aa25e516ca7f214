package pbx_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"basestation/sim/pbx"
	"basestation/sim/softphone"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// A UA that registers over TCP with its connection's own address as Contact
// and no listener (as the daemon's sipua does over TCP) still gets its
// calls: the PBX sends the INVITE over the UA's connection. The UA here is
// plain sipgo; it answers 486, which reaches the UDP caller.
func TestTCPContactOverOwnConnection(t *testing.T) {
	p := startPBX(t, pbx.Config{Auth: false})
	ctx := tctx(t, 15*time.Second)

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tcp-ua"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	invites := make(chan *sip.Request, 1)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		invites <- req
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBusyHere, "Busy Here", nil))
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	host, portStr, _ := net.SplitHostPort(p.Addr())
	port, _ := strconv.Atoi(portStr)
	aor := sip.Uri{Scheme: "sip", User: "104", Host: host}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host, Port: port})
	req.SetTransport("TCP")
	from := sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", "tcpua")
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	if err := sipgo.ClientRequestAddVia(cli, req); err != nil {
		t.Fatal(err)
	}
	conn, err := ua.TransportLayer().ClientRequestConnection(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	_, lp, _ := net.SplitHostPort(conn.LocalAddr().String())
	lport, _ := strconv.Atoi(lp)
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "104", Host: "127.0.0.1", Port: lport, UriParams: sip.NewParams()}}
	contact.Address.UriParams.Add("transport", "tcp")
	req.AppendHeader(&contact)
	exp := sip.ExpiresHeader(300)
	req.AppendHeader(&exp)
	res, err := cli.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER over TCP: %d", res.StatusCode)
	}
	regs := p.Registrations()
	if len(regs) != 1 || regs[0].Transport != "TCP" {
		t.Fatalf("registrations %+v", regs)
	}

	sp := startPhone(t, softphone.Config{User: "101", Registrar: p.Addr()})
	err = sp.Call(ctx, "104")
	if code := callErrCode(err); code != 486 {
		t.Fatalf("call to the TCP UA: %v, want 486 from it", err)
	}
	select {
	case inv := <-invites:
		if inv.From().Address.User != "101" {
			t.Errorf("TCP UA saw From %s", inv.From().Address.String())
		}
	case <-time.After(time.Second):
		t.Fatal("TCP UA got no INVITE")
	}
}
