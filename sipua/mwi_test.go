package sipua

import (
	"basestation/endpoint"
	"testing"
	"time"
)

// MWI: the UA subscribes to message-summary at the registrar (SIPp),
// which NOTIFYs "yes": the endpoint's lamp goes on and an MWIEvent is
// published with the counts; the next off-hook gives stutter dial tone.
// An unsolicited NOTIFY "no" turns it off; a malformed body gets 400.
func TestSIPpMWI(t *testing.T) {
	server := startSIPp(t, scenario("mwi", `
  <recv request="REGISTER" optional="true" next="reg"/>
  <recv request="SUBSCRIBE" rrs="true">
    <action><ereg regexp="message-summary" search_in="hdr" header="Event:" check_it="true" assign_to="ev"/></action>
  </recv>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]notifier
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:mwi@[local_ip]:[local_port]>
Expires: 3600
Content-Length: 0

]]></send>
  <send retrans="500"><![CDATA[
NOTIFY [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:1001@127.0.0.1>;tag=[pid]notifier
To: <sip:1001@127.0.0.1>[peer_tag_param]
[last_Call-ID:]
CSeq: 1 NOTIFY
Contact: <sip:mwi@[local_ip]:[local_port]>
Event: message-summary
Subscription-State: active;expires=3600
Content-Type: application/simple-message-summary
Max-Forwards: 70
Content-Length: [len]

Messages-Waiting: yes
Message-Account: sip:1001@127.0.0.1
Voice-Message: 3/5 (1/0)
]]></send>
  <recv response="200"/>
  <Reference variables="ev"/>
  <nop><action><exec int_cmd="stop_call"/></action></nop>
`+sippRegOK), 2, "")
	pbx := newPBXRelay(t, server.addr())
	e := ext("101", "1001", "pw1001", pbx.addr())
	e.Account.MWI = true
	u := startUA(t, Config{Extensions: []Extension{e}})
	ep := newFakeEndpoint("analog", 0)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, u.UA, 10*time.Second, func(e Event) bool { _, ok := e.(*MWIEvent); return ok }).(*MWIEvent)
	if !ev.Summary.Waiting || ev.Summary.Counts["voice-message"] != (MessageCounts{New: 3, Old: 5, UrgentNew: 1}) {
		t.Errorf("MWI event %+v", ev)
	}
	ep.waitFor(t, "mwi true", 2*time.Second)
	rep(endpoint.Event{Kind: endpoint.OffHook})
	ep.waitFor(t, "tone stutter-dial", 2*time.Second)
	rep(endpoint.Event{Kind: endpoint.OnHook})
	server.wait(t, 10*time.Second)

	notify := func(body string, code int) string {
		return `
  <send retrans="500"><![CDATA[
NOTIFY sip:1001@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:1001@127.0.0.1>;tag=[pid]u[call_number]
To: <sip:1001@127.0.0.1>
Call-ID: [call_id]
CSeq: 1 NOTIFY
Event: message-summary
Subscription-State: active
Content-Type: application/simple-message-summary
Max-Forwards: 70
Content-Length: [len]

` + body + `
]]></send>
  <recv response="` + string(rune('0'+code/100)) + string(rune('0'+code/10%10)) + string(rune('0'+code%10)) + `"/>
`
	}
	bad := startSIPp(t, scenario("badnotify", notify("Messages-Waiting: perhaps", 400)), 1, pbx.addr())
	bad.wait(t, 10*time.Second)
	off := startSIPp(t, scenario("notifyoff", notify("Messages-Waiting: no", 200)), 1, pbx.addr())
	off.wait(t, 10*time.Second)
	ep.waitFor(t, "mwi false", 2*time.Second)
}
