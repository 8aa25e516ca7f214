package sipua

import (
	"basestation/endpoint"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sippSDP = `v=0
o=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
`

// sippInvite is the INVITE a SIPp UAC sends to our UA (user 1001).
func sippInvite(sdp string) string {
	return `
  <send retrans="500"><![CDATA[
INVITE sip:1001@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Caller Four" <sip:1004@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:1001@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:1004@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

` + sdp + `
]]></send>
`
}

// sippAckNon2xx ACKs a failure response; branch names the INVITE.
func sippAckNon2xx(branch string) string {
	return `
  <send><![CDATA[
ACK sip:1001@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=` + branch + `
From: "Caller Four" <sip:1004@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
`
}

// sippInDialog sends an in-dialog request (after rrs="true" on the 200).
func sippInDialog(method string, cseq int, sdp string) string {
	body := ""
	ct := "Content-Length: 0\n"
	if sdp != "" {
		body = sdp
		ct = "Content-Type: application/sdp\nContent-Length: [len]\n"
	}
	retrans := ` retrans="500"`
	if method == "ACK" {
		retrans = ""
	}
	return fmt.Sprintf(`
  <send%s><![CDATA[
%s [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Caller Four" <sip:1004@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:1001@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: %d %s
Contact: <sip:1004@[local_ip]:[local_port]>
Max-Forwards: 70
%s
%s
]]></send>
`, retrans, method, cseq, method, ct, body)
}

// registrarSIPp is the PBX of the call tests: it answers REGISTERs and
// relays the SIPp callers' requests to the UA from the registrar's own
// address (the only flow the UA trusts); callers send to reg.addr().
func registrarSIPp(t *testing.T) *pbxRelay {
	return newPBXRelay(t, "")
}

// An INVITE from an address that is not the account's registrar/proxy is
// refused with 403; with no endpoint attached a trusted INVITE gets 486;
// an offer with no common codec gets 488.
func TestSIPpIncomingRefusals(t *testing.T) {
	reg := registrarSIPp(t)
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", reg.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)

	refuse := func(name string, code int, sdp string, extra ...string) {
		t.Run(name, func(t *testing.T) {
			xml := scenario(name, sippInvite(sdp)+`
  <recv response="100" optional="true"/>
  <recv response="`+fmt.Sprint(code)+`"/>
`+sippAckNon2xx("[branch-2]"))
			s := startSIPp(t, xml, 1, reg.addr(), extra...)
			s.wait(t, 10*time.Second)
		})
	}
	t.Run("foreign-source-403", func(t *testing.T) {
		xml := scenario("foreign", sippInvite(sippSDP)+`
  <recv response="100" optional="true"/>
  <recv response="403"/>
`+sippAckNon2xx("[branch-2]"))
		s := startSIPp(t, xml, 1, u.ListenAddr(), "-i", "127.0.0.2")
		s.wait(t, 10*time.Second)
	})
	refuse("no-endpoint-486", 486, sippSDP)
	ep := newFakeEndpoint("analog", 0)
	if _, err := u.Attach("101", ep); err != nil {
		t.Fatal(err)
	}
	g729 := strings.NewReplacer("RTP/AVP 0 101", "RTP/AVP 18", "a=rtpmap:0 PCMU/8000", "a=rtpmap:18 G729/8000").Replace(sippSDP)
	refuse("no-common-codec-488", 488, g729)
	if ep.has("ring") {
		t.Error("endpoint rang for a refused call")
	}
}

// BYE in the early dialog while our endpoints ring: 200 to the BYE, 487
// to the INVITE, ringing stops.
func TestSIPpByeWhileRinging(t *testing.T) {
	reg := registrarSIPp(t)
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", reg.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 0)
	if _, err := u.Attach("101", ep); err != nil {
		t.Fatal(err)
	}
	xml := scenario("byering", sippInvite(sippSDP)+`
  <recv response="100" optional="true"/>
  <recv response="180" rrs="true"/>
  <pause milliseconds="300"/>
`+sippInDialog("BYE", 2, "")+`
  <recv response="200"/>
  <recv response="487"/>
`+sippAckNon2xx("[branch-6]"))
	s := startSIPp(t, xml, 1, reg.addr())
	ep.waitFor(t, "ring 1004", 5*time.Second)
	ep.waitFor(t, "stop-ringing", 5*time.Second)
	s.wait(t, 10*time.Second)
}

// The far end holds and resumes (re-INVITE sendonly / sendrecv: we answer
// recvonly / sendrecv), then our endpoint holds and resumes by hook flash
// (our re-INVITEs carry sendonly / sendrecv).
func TestSIPpReinviteHold(t *testing.T) {
	reg := registrarSIPp(t)
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", reg.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 440)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	sendonly := strings.Replace(sippSDP, "a=fmtp:101 0-16\n", "a=fmtp:101 0-16\na=sendonly\n", 1)
	ok200 := func(dir string) string {
		sdp := strings.Replace(sippSDP, "a=fmtp:101 0-16\n", "a=fmtp:101 0-16\na="+dir+"\n", 1)
		return `
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:1004@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

` + sdp + `
]]></send>
  <recv request="ACK"/>
`
	}
	xml := scenario("hold", sippInvite(sippSDP)+`
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <recv response="200" rrs="true"/>
`+sippInDialog("ACK", 1, "")+`
  <pause milliseconds="300"/>
`+sippInDialog("INVITE", 2, sendonly)+`
  <recv response="200"><action><ereg regexp="a=recvonly" search_in="body" check_it="true" assign_to="h1"/></action></recv>
`+sippInDialog("ACK", 2, "")+`
  <pause milliseconds="300"/>
`+sippInDialog("INVITE", 3, sippSDP)+`
  <recv response="200"><action><ereg regexp="a=sendrecv" search_in="body" check_it="true" assign_to="h2"/></action></recv>
`+sippInDialog("ACK", 3, "")+`
  <recv request="INVITE"><action><ereg regexp="a=sendonly" search_in="body" check_it="true" assign_to="h3"/></action></recv>
`+ok200("recvonly")+`
  <recv request="INVITE"><action><ereg regexp="a=sendrecv" search_in="body" check_it="true" assign_to="h4"/></action></recv>
`+ok200("sendrecv")+`
  <pause milliseconds="300"/>
`+sippInDialog("BYE", 4, "")+`
  <recv response="200"/>
  <Reference variables="h1,h2,h3,h4"/>
`)
	s := startSIPp(t, xml, 1, reg.addr())
	ep.waitFor(t, "ring 1004", 5*time.Second)
	rep(endpoint.Event{Kind: endpoint.OffHook})
	ep.waitFor(t, "audio-on", 5*time.Second)
	time.Sleep(1500 * time.Millisecond)
	rep(endpoint.Event{Kind: endpoint.Flash}) // hold + dial tone
	ep.waitFor(t, "tone dial", 2*time.Second)
	time.Sleep(500 * time.Millisecond)
	rep(endpoint.Event{Kind: endpoint.Flash}) // back to the call
	s.wait(t, 15*time.Second)
	ep.waitFor(t, "tone busy", 5*time.Second)
}

// Our endpoint hangs up while the callee rings; the callee answers 200 at
// the moment our CANCEL arrives: we ACK the 200 and BYE the call.
func TestSIPpCancelRaces200(t *testing.T) {
	xml := scenario("cancelrace", `
  <recv request="REGISTER" optional="true" next="reg"/>
  <recv request="INVITE"><action><ereg regexp="([0-9]+)" search_in="hdr" header="CSeq:" assign_to="cs,csn"/></action></recv>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]callee[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:1004@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <recv request="CANCEL"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]callee[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]callee[call_number]
[last_Call-ID:]
CSeq: [$csn] INVITE
Contact: <sip:1004@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

`+sippSDP+`
]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <Reference variables="cs"/>
  <nop><action><exec int_cmd="stop_call"/></action></nop>
`+sippRegOK)
	s := startSIPp(t, xml, 2, "") // REGISTER (un-REGISTER reuses its Call-ID) + INVITE
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", s.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 0)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	rep(endpoint.Event{Kind: endpoint.OffHook})
	rep(endpoint.Event{Kind: endpoint.Dialed, Number: "1004"})
	ep.waitFor(t, "tone ringback", 5*time.Second)
	rep(endpoint.Event{Kind: endpoint.OnHook})
	waitEvent(t, u.UA, 10*time.Second, func(e Event) bool {
		c, ok := e.(*CallEvent)
		return ok && strings.Contains(c.Reason, "raced")
	})
	s.wait(t, 10*time.Second)
}

// 183 Session Progress with SDP: the endpoint hears the early media (a
// 1 kHz tone streamed by SIPp) before any answer, not ringback; the
// final 486 then gives busy tone.
func TestSIPpEarlyMedia(t *testing.T) {
	xml := scenario("early", `
  <recv request="REGISTER" optional="true" next="reg"/>
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 183 Session Progress
[last_Via:]
[last_From:]
[last_To:];tag=[pid]early[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:1004@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [rtpstream_audio_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
  <nop><action><exec rtp_stream="media.ul,-1,0"/></action></nop>
  <pause milliseconds="2000"/>
  <nop><action><exec rtp_stream="pause"/></action></nop>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]early[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
  <nop><action><exec int_cmd="stop_call"/></action></nop>
`+sippRegOK)
	s := startSIPpWith(t, xml, 2, "", func(dir string) { writeUlaw(t, filepath.Join(dir, "media.ul"), 3) })
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", s.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 0)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	rep(endpoint.Event{Kind: endpoint.OffHook})
	rep(endpoint.Event{Kind: endpoint.Dialed, Number: "1004"})
	ep.waitFor(t, "audio-on", 5*time.Second)
	time.Sleep(1200 * time.Millisecond)
	recentTone(t, "early media", ep, 1000)
	if ep.has("tone ringback") {
		t.Error("ringback played although early media was offered")
	}
	ep.waitFor(t, "tone busy", 5*time.Second)
	s.wait(t, 10*time.Second)
}

// A transfer asked by the far end (REFER): 202, NOTIFY 100 Trying, the
// endpoint's new call to the Refer-To target is answered, NOTIFY 200 OK
// (terminated), and we BYE the transferor.
func TestSIPpReferFromFarEnd(t *testing.T) {
	ok := func(extra string) string {
		return `
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]` + extra + `
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:1004@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
`
	}
	server := startSIPp(t, scenario("target", `
  <recv request="REGISTER" optional="true" next="reg"/>
  <recv request="INVITE">
    <action><ereg regexp="^INVITE sip:1005@" search_in="msg" check_it="true" assign_to="ruri"/></action>
  </recv>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]t[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:1005@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

`+sippSDP+`
]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
`+ok("")+`
  <Reference variables="ruri"/>
  <nop><action><exec int_cmd="stop_call"/></action></nop>
`+sippRegOK), 2, "")
	pbx := newPBXRelay(t, server.addr())
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", pbx.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 0)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	referTo := "Refer-To: <sip:1005@127.0.0.1>\nReferred-By: <sip:1004@127.0.0.1>\n"
	xml := scenario("transferor", sippInvite(sippSDP)+`
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <recv response="200" rrs="true"/>
`+sippInDialog("ACK", 1, "")+`
  <pause milliseconds="500"/>
`+strings.Replace(sippInDialog("REFER", 2, ""), "Max-Forwards: 70\n", "Max-Forwards: 70\n"+referTo, 1)+`
  <recv response="202"/>
  <recv request="NOTIFY">
    <action><ereg regexp="SIP/2.0 100" search_in="body" check_it="true" assign_to="n1"/></action>
  </recv>
`+ok("")+`
  <recv request="NOTIFY">
    <action><ereg regexp="SIP/2.0 200" search_in="body" check_it="true" assign_to="n2"/></action>
  </recv>
`+ok("")+`
  <recv request="BYE"/>
`+ok("")+`
  <Reference variables="n1,n2"/>
`)
	s := startSIPp(t, xml, 1, pbx.addr())
	ep.waitFor(t, "ring 1004", 5*time.Second)
	rep(endpoint.Event{Kind: endpoint.OffHook})
	s.wait(t, 10*time.Second)
	waitEvent(t, u.UA, 5*time.Second, func(e Event) bool {
		c, ok := e.(*CallEvent)
		return ok && c.Direction == "out" && c.Remote == "1005" && c.State == "connected"
	})
	rep(endpoint.Event{Kind: endpoint.OnHook})
	server.wait(t, 10*time.Second)
}

// A second call while the only endpoint is busy: with call waiting it is
// alerted (and the far end hears ringing); with call waiting off for the
// extension, the second caller gets 486.
func TestSIPpSecondCallWhileBusy(t *testing.T) {
	for _, cw := range []bool{true, false} {
		t.Run(fmt.Sprintf("callwaiting=%v", cw), func(t *testing.T) {
			reg := registrarSIPp(t)
			e := ext("101", "1001", "pw1001", reg.addr())
			e.CallWaiting = &cw
			u := startUA(t, Config{Extensions: []Extension{e}})
			waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
			ep := newFakeEndpoint("analog", 0)
			rep, err := u.Attach("101", ep)
			if err != nil {
				t.Fatal(err)
			}
			first := startSIPp(t, scenario("first", sippInvite(sippSDP)+`
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <recv response="200" rrs="true"/>
`+sippInDialog("ACK", 1, "")+`
  <pause milliseconds="2500"/>
`+sippInDialog("BYE", 2, "")+`
  <recv response="200"/>
`), 1, reg.addr())
			ep.waitFor(t, "ring 1004", 5*time.Second)
			rep(endpoint.Event{Kind: endpoint.OffHook})
			ep.waitFor(t, "audio-on", 3*time.Second)
			var second string
			if cw {
				second = sippInvite(sippSDP) + `
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <pause milliseconds="300"/>
  <send><![CDATA[
CANCEL sip:1001@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
From: "Caller Four" <sip:1004@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:1001@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
  <recv response="487"/>
` + sippAckNon2xx("[branch-7]")
			} else {
				second = sippInvite(sippSDP) + `
  <recv response="100" optional="true"/>
  <recv response="486"/>
` + sippAckNon2xx("[branch-2]")
			}
			s2 := startSIPp(t, scenario("second", second), 1, reg.addr())
			s2.wait(t, 10*time.Second)
			if got := ep.has("call-waiting 1004"); got != cw {
				t.Errorf("call-waiting alert %v, want %v", got, cw)
			}
			first.wait(t, 10*time.Second)
		})
	}
}

// The caller CANCELs while every endpoint of the extension rings: all
// stop ringing; the UA answers 200 to the CANCEL and 487 to the INVITE.
func TestSIPpCancelStopsAllRinging(t *testing.T) {
	reg := registrarSIPp(t)
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", reg.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	var eps []*fakeEndpoint
	for _, n := range []string{"analog", "linx", "headset"} {
		ep := newFakeEndpoint(n, 0)
		if _, err := u.Attach("101", ep); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	xml := scenario("cancel", sippInvite(sippSDP)+`
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <pause milliseconds="500"/>
  <send><![CDATA[
CANCEL sip:1001@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
From: "Caller Four" <sip:1004@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:1001@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
  <recv response="487"/>
`+sippAckNon2xx("[branch-7]"))
	s := startSIPp(t, xml, 1, reg.addr())
	for _, ep := range eps {
		ep.waitFor(t, "ring 1004", 5*time.Second)
	}
	for _, ep := range eps {
		ep.waitFor(t, "stop-ringing", 5*time.Second)
	}
	s.wait(t, 10*time.Second)
}

// Flash and a number dialled at once: the REFER of the blind transfer
// waits until the hold re-INVITE the flash started has its final response
// (the far end here takes a second over it); a REFER sent meanwhile makes
// SIPp fail the call on an unexpected message. Then 202, NOTIFY 200 OK,
// and we BYE the transferee.
func TestSIPpTransferAfterHoldReinvite(t *testing.T) {
	reg := registrarSIPp(t)
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", reg.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 440)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	recvonly := strings.Replace(sippSDP, "a=fmtp:101 0-16\n", "a=fmtp:101 0-16\na=recvonly\n", 1)
	notify := strings.Replace(sippInDialog("NOTIFY", 2, ""), "Max-Forwards: 70\nContent-Length: 0\n",
		"Max-Forwards: 70\nEvent: refer\nSubscription-State: terminated;reason=noresource\nContent-Type: message/sipfrag\nContent-Length: [len]\n\nSIP/2.0 200 OK", 1)
	xml := scenario("transferee", sippInvite(sippSDP)+`
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <recv response="200" rrs="true"/>
`+sippInDialog("ACK", 1, "")+`
  <recv request="INVITE"><action><ereg regexp="a=sendonly" search_in="body" check_it="true" assign_to="hold"/></action></recv>
`+sippRespond("100 Trying", "Content-Length: 0\n")+`
  <pause milliseconds="1000"/>
`+sippRespond("200 OK", "Content-Type: application/sdp\nContent-Length: [len]\n\n"+recvonly)+`
  <recv request="ACK"/>
  <recv request="REFER"><action><ereg regexp="Refer-To: .sip:1003@" search_in="msg" check_it="true" assign_to="to"/></action></recv>
`+sippRespond("202 Accepted", "Content-Length: 0\n")+notify+`
  <recv response="200"/>
  <recv request="BYE"/>
`+sippRespond("200 OK", "Content-Length: 0\n")+`
  <Reference variables="hold,to"/>
`)
	s := startSIPp(t, xml, 1, reg.addr())
	ep.waitFor(t, "ring 1004", 5*time.Second)
	rep(endpoint.Event{Kind: endpoint.OffHook})
	ep.waitFor(t, "audio-on", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	rep(endpoint.Event{Kind: endpoint.Flash})
	rep(endpoint.Event{Kind: endpoint.Dialed, Number: "1003"})
	s.wait(t, 15*time.Second)
	waitEvent(t, u.UA, 5*time.Second, func(e Event) bool {
		c, ok := e.(*CallEvent)
		return ok && c.State == "ended" && strings.Contains(c.Reason, "transferred")
	})
}

// A blind transfer is dialled and the phone put down at once, as people
// do: the call is left to the transfer. No BYE goes out before the
// transfer's final NOTIFY (the far end here takes 1.5 s over the 202; a
// BYE meanwhile, which would abort the transfer at a PBX, makes SIPp fail
// the call on an unexpected message); then we BYE the transferee.
func TestSIPpOnHookAfterTransferDialled(t *testing.T) {
	reg := registrarSIPp(t)
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", reg.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 440)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	recvonly := strings.Replace(sippSDP, "a=fmtp:101 0-16\n", "a=fmtp:101 0-16\na=recvonly\n", 1)
	notify := strings.Replace(sippInDialog("NOTIFY", 2, ""), "Max-Forwards: 70\nContent-Length: 0\n",
		"Max-Forwards: 70\nEvent: refer\nSubscription-State: terminated;reason=noresource\nContent-Type: message/sipfrag\nContent-Length: [len]\n\nSIP/2.0 200 OK", 1)
	xml := scenario("transferee", sippInvite(sippSDP)+`
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <recv response="200" rrs="true"/>
`+sippInDialog("ACK", 1, "")+`
  <recv request="INVITE"/>
`+sippRespond("200 OK", "Content-Type: application/sdp\nContent-Length: [len]\n\n"+recvonly)+`
  <recv request="ACK"/>
  <recv request="REFER"/>
  <pause milliseconds="1500"/>
`+sippRespond("202 Accepted", "Content-Length: 0\n")+notify+`
  <recv response="200"/>
  <recv request="BYE"/>
`+sippRespond("200 OK", "Content-Length: 0\n"))
	s := startSIPp(t, xml, 1, reg.addr())
	ep.waitFor(t, "ring 1004", 5*time.Second)
	rep(endpoint.Event{Kind: endpoint.OffHook})
	ep.waitFor(t, "audio-on", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	rep(endpoint.Event{Kind: endpoint.Flash})
	rep(endpoint.Event{Kind: endpoint.Dialed, Number: "1003"})
	rep(endpoint.Event{Kind: endpoint.OnHook})
	s.wait(t, 15*time.Second)
	waitEvent(t, u.UA, 5*time.Second, func(e Event) bool {
		c, ok := e.(*CallEvent)
		return ok && c.State == "ended" && strings.Contains(c.Reason, "transferred")
	})
}

// A blind transfer the far end refuses (603) after the phone was put
// down: nobody is there to resume the call for, so it is hung up.
func TestSIPpTransferRefusedAfterOnHook(t *testing.T) {
	reg := registrarSIPp(t)
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", reg.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 440)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	recvonly := strings.Replace(sippSDP, "a=fmtp:101 0-16\n", "a=fmtp:101 0-16\na=recvonly\n", 1)
	xml := scenario("transferee", sippInvite(sippSDP)+`
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <recv response="200" rrs="true"/>
`+sippInDialog("ACK", 1, "")+`
  <recv request="INVITE"/>
`+sippRespond("200 OK", "Content-Type: application/sdp\nContent-Length: [len]\n\n"+recvonly)+`
  <recv request="ACK"/>
  <recv request="REFER"/>
`+sippRespond("603 Declined", "Content-Length: 0\n")+`
  <recv request="BYE"/>
`+sippRespond("200 OK", "Content-Length: 0\n"))
	s := startSIPp(t, xml, 1, reg.addr())
	ep.waitFor(t, "ring 1004", 5*time.Second)
	rep(endpoint.Event{Kind: endpoint.OffHook})
	ep.waitFor(t, "audio-on", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	rep(endpoint.Event{Kind: endpoint.Flash})
	rep(endpoint.Event{Kind: endpoint.Dialed, Number: "1003"})
	rep(endpoint.Event{Kind: endpoint.OnHook})
	s.wait(t, 15*time.Second)
	waitEvent(t, u.UA, 5*time.Second, func(e Event) bool {
		c, ok := e.(*CallEvent)
		return ok && c.State == "ended" && strings.Contains(c.Reason, "transfer refused")
	})
}

// sippRespond is a SIPp response to the last request received.
func sippRespond(status, extra string) string {
	return `
  <send><![CDATA[
SIP/2.0 ` + status + `
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:1004@[local_ip]:[local_port]>
` + extra + `
]]></send>
`
}
