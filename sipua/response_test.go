package sipua

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A registrar whose 200 to our SUBSCRIBE has no To header (it matches our
// transaction by Via branch and CSeq, so sipgo hands it to us): the MWI
// subscription used to read res.To() unchecked, a nil-pointer panic in
// the UA's goroutine that takes the daemon down. Now the subscription
// just has no remote tag, and the UA keeps running and answering.
func TestSubscribeResponseWithoutTo(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	subscribed := make(chan struct{}, 8)
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			if err != nil {
				continue
			}
			req, ok := m.(*sip.Request)
			if !ok {
				continue
			}
			res := sip.NewResponseFromRequest(req, 200, "OK", nil)
			switch req.Method {
			case sip.REGISTER:
				if c := req.Contact(); c != nil {
					cc := c.Clone()
					cc.Params.Add("expires", "60")
					res.AppendHeader(cc)
				}
			case sip.SUBSCRIBE:
				res.RemoveHeader("To")
				res.AppendHeader(sip.NewHeader("Expires", "3600"))
				select {
				case subscribed <- struct{}{}:
				default:
				}
			default:
				continue
			}
			_, _ = pc.WriteTo([]byte(res.String()), from)
		}
	}()
	e := ext("101", "1001", "pw", pc.LocalAddr().String())
	e.Account.MWI = true
	u := startUA(t, Config{Extensions: []Extension{e}})
	pollReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("no SUBSCRIBE")
	}
	time.Sleep(300 * time.Millisecond) // the response is handled
	c, err := net.Dial("udp", u.ListenAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lines, body := request("OPTIONS", "1001")
	lines[1] = "Via: SIP/2.0/UDP " + c.LocalAddr().String() + ";branch=z9hG4bK-resp;rport"
	if _, err := c.Write(sipMsg(lines, body)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
		t.Fatalf("OPTIONS after the SUBSCRIBE: %q %v", buf[:n], err)
	}
}
