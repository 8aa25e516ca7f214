package sipua

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"basestation/endpoint"
	"basestation/internal/testpeer"
)

// RFC 4733 events received from the far end (SIPp replaying the
// telephone-event packets of digit 5 from its shipped capture) are played
// to the endpoint as the DTMF pair of that digit (770 + 1336 Hz), found
// in what the endpoint heard by an independent Goertzel check.
func TestSIPpReceivedDTMFPlayedToEndpoint(t *testing.T) {
	const pcap = "/usr/share/sip-tester/dtmf_2833_5.pcap"
	testpeer.RequireFile(t, pcap) // ships with sip-tester; fails in CI when missing
	reg := registrarSIPp(t)
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw1001", reg.addr())}})
	waitReg(t, u.UA, "101", RegRegistered, 10*time.Second)
	ep := newFakeEndpoint("analog", 0)
	rep, err := u.Attach("101", ep)
	if err != nil {
		t.Fatal(err)
	}
	xml := scenario("dtmf", sippInvite(sippSDP)+`
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <recv response="200" rrs="true"/>
`+sippInDialog("ACK", 1, "")+`
  <pause milliseconds="500"/>
  <nop><action><exec play_pcap_audio="pcap/dtmf_2833_5.pcap"/></action></nop>
  <pause milliseconds="1000"/>
`+sippInDialog("BYE", 2, "")+`
  <recv response="200"/>
`)
	s := startSIPpIn(t, xml, reg.addr(), func(dir string) {
		if err := os.MkdirAll(filepath.Join(dir, "pcap"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(pcap, filepath.Join(dir, "pcap", "dtmf_2833_5.pcap")); err != nil {
			t.Fatal(err)
		}
	})
	ep.waitFor(t, "ring 1004", 5*time.Second)
	rep(endpoint.Event{Kind: endpoint.OffHook})
	s.wait(t, 15*time.Second)
	ep.waitFor(t, "tone busy", 5*time.Second)
	x := ep.received()
	found := 0
	for i := 0; i+160 <= len(x); i += 160 {
		w := x[i : i+160]
		if rms(w) < 300 {
			continue
		}
		lo, hi := goertzelPower(w, 8000, 770), goertzelPower(w, 8000, 1336)
		other := goertzelPower(w, 8000, 697) + goertzelPower(w, 8000, 1209) + goertzelPower(w, 8000, 1477)
		if lo > 0.2 && hi > 0.2 && other < (lo+hi)/4 {
			found++
		}
	}
	if found < 3 {
		t.Fatalf("DTMF 5 not heard by the endpoint (%d matching 20 ms windows in %d samples)", found, len(x))
	}
	t.Logf("DTMF 5 heard in %d windows of 20 ms", found)
}
