package sipua

import (
	"testing"
	"time"

	"basestation/endpoint"
)

// Digits keyed while the outgoing call is being set up (a DECT device
// sends one key indication per digit of "102#" after the number): the
// bridge reads the call's media session while the call goroutine creates
// it. Under -race this was a data race on call.ms (soak finding F4).
func TestDigitsDuringOutgoingSetup(t *testing.T) {
	xml := scenario("busy", `
  <recv request="REGISTER" optional="true" next="reg"/>
  <recv request="INVITE"/>
  <pause milliseconds="300"/>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]busy[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
  <nop><action><exec int_cmd="stop_call"/></action></nop>
`+sippRegOK)
	s := startSIPpWith(t, xml, 2, "", nil)
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", s.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("dect", 0)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	rep(endpoint.Event{Kind: endpoint.OffHook})
	rep(endpoint.Event{Kind: endpoint.Dialed, Number: "1004"})
	for _, d := range "102#" {
		rep(endpoint.Event{Kind: endpoint.Digit, Digit: byte(d)})
	}
	ep.waitFor(t, "tone busy", 5*time.Second)
	s.wait(t, 10*time.Second)
}
