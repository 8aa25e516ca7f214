package media

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func mustNeg(t testing.TB, o Options) *Negotiator {
	t.Helper()
	if !o.Addr.IsValid() {
		o.Addr = netip.MustParseAddrPort("192.0.2.10:40000")
	}
	n, err := NewNegotiator(o)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func sdpBody(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n") }

func remoteOffer(media string, attrs ...string) []byte {
	l := []string{"v=0", "o=pbx 1 1 IN IP4 198.51.100.7", "s=call", "c=IN IP4 198.51.100.7", "t=0 0", media}
	return sdpBody(append(l, attrs...)...)
}

func TestOfferContents(t *testing.T) {
	n := mustNeg(t, Options{SRTP: SRTPRequired})
	b, err := n.Offer()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"c=IN IP4 192.0.2.10", "m=audio 40000 RTP/SAVP 0 8 9 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
		"a=rtpmap:9 G722/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("offer lacks %q:\n%s", want, s)
		}
	}
	// Unchanged re-offer keeps the o= version; a change bumps it.
	b2, _ := n.Offer()
	if string(b2) != s {
		t.Errorf("identical re-offer changed:\n%s\n%s", s, b2)
	}
	n.SetDirection(SendOnly)
	b3, _ := n.Offer()
	o1, o3 := originVersion(t, b), originVersion(t, b3)
	if o3 != o1+1 || !strings.Contains(string(b3), "a=sendonly") {
		t.Errorf("hold re-offer: version %d→%d\n%s", o1, o3, b3)
	}
}

func originVersion(t *testing.T, b []byte) uint64 {
	for _, l := range strings.Split(string(b), "\r\n") {
		if strings.HasPrefix(l, "o=") {
			f := strings.Fields(l)
			var v uint64
			for _, c := range f[2] {
				v = v*10 + uint64(c-'0')
			}
			return v
		}
	}
	t.Fatal("no o= line")
	return 0
}

func TestAnswerPicksOurPreference(t *testing.T) {
	n := mustNeg(t, Options{Codecs: []Codec{G722, PCMA, PCMU}})
	ans, neg, err := n.Answer(remoteOffer("m=audio 5004 RTP/AVP 0 8 9 96", "a=rtpmap:96 telephone-event/8000", "a=fmtp:96 0-15", "a=ptime:10"))
	if err != nil {
		t.Fatal(err)
	}
	if neg.Codec != G722 || neg.PayloadType != 9 || neg.EventPT != 96 || neg.PTime != 10*time.Millisecond {
		t.Errorf("negotiated %+v", neg)
	}
	if neg.Remote != netip.MustParseAddrPort("198.51.100.7:5004") || neg.RemoteRTCP.Port() != 5005 || neg.Direction != SendRecv {
		t.Errorf("negotiated %+v", neg)
	}
	s := string(ans)
	for _, want := range []string{"m=audio 40000 RTP/AVP 9 96", "a=rtpmap:96 telephone-event/8000", "a=ptime:10", "a=sendrecv"} {
		if !strings.Contains(s, want) {
			t.Errorf("answer lacks %q:\n%s", want, s)
		}
	}
}

func TestAnswerDynamicCodecNamesAndStaticWithoutRtpmap(t *testing.T) {
	n := mustNeg(t, Options{Codecs: []Codec{PCMA}})
	// PCMA carried on a dynamic PT, plus an unknown codec first.
	_, neg, err := n.Answer(remoteOffer("m=audio 5004 RTP/AVP 100 110", "a=rtpmap:100 opus/48000/2", "a=rtpmap:110 pcma/8000"))
	if err != nil || neg.Codec != PCMA || neg.PayloadType != 110 || neg.EventPT != 0 {
		t.Fatalf("neg %+v err %v", neg, err)
	}
	// No rtpmap for the static type: still PCMU.
	n = mustNeg(t, Options{})
	_, neg, err = n.Answer(remoteOffer("m=audio 5004 RTP/AVP 0"))
	if err != nil || neg.Codec != PCMU || neg.PTime != 20*time.Millisecond {
		t.Fatalf("neg %+v err %v", neg, err)
	}
}

func TestAnswerDirections(t *testing.T) {
	for _, tc := range []struct {
		attr, conn string
		want       Direction
		hold       bool
	}{
		{"a=sendrecv", "", SendRecv, false},
		{"a=sendonly", "", RecvOnly, true},
		{"a=recvonly", "", SendOnly, false},
		{"a=inactive", "", Inactive, true},
		{"a=sendrecv", "c=IN IP4 0.0.0.0", RecvOnly, true}, // RFC 2543 hold
	} {
		n := mustNeg(t, Options{})
		attrs := []string{tc.attr}
		if tc.conn != "" {
			attrs = append([]string{tc.conn}, attrs...)
		}
		ans, neg, err := n.Answer(remoteOffer("m=audio 5004 RTP/AVP 0", attrs...))
		if err != nil {
			t.Fatal(err)
		}
		if neg.Direction != tc.want || neg.RemoteHold != tc.hold {
			t.Errorf("%s %s: direction %v hold %v, want %v %v", tc.attr, tc.conn, neg.Direction, neg.RemoteHold, tc.want, tc.hold)
		}
		if !strings.Contains(string(ans), "a="+tc.want.String()) {
			t.Errorf("%s: answer lacks a=%v:\n%s", tc.attr, tc.want, ans)
		}
	}
	// Session-level direction applies when the media has none.
	n := mustNeg(t, Options{})
	off := sdpBody("v=0", "o=- 1 1 IN IP4 198.51.100.7", "s=-", "c=IN IP4 198.51.100.7", "t=0 0", "a=sendonly", "m=audio 5004 RTP/AVP 8")
	if _, neg, err := n.Answer(off); err != nil || neg.Direction != RecvOnly {
		t.Fatalf("session-level sendonly: %+v %v", neg, err)
	}
	// We hold and the peer holds: inactive.
	n = mustNeg(t, Options{})
	n.SetDirection(SendOnly)
	if _, neg, _ := n.Answer(remoteOffer("m=audio 5004 RTP/AVP 0", "a=sendonly")); neg.Direction != Inactive {
		t.Fatalf("both hold: %v", neg.Direction)
	}
}

func TestAnswerErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  []byte
		is    error
		field string
	}{
		{"no common codec", remoteOffer("m=audio 5004 RTP/AVP 18 3", "a=rtpmap:18 G729/8000"), ErrNoCommonCodec, ""},
		{"G722 at 16000 is not ours", remoteOffer("m=audio 5004 RTP/AVP 96", "a=rtpmap:96 G722/16000"), ErrNoCommonCodec, ""},
		{"video only", remoteOffer("m=video 5006 RTP/AVP 96"), ErrNoCommonCodec, ""},
		{"audio rejected", remoteOffer("m=audio 0 RTP/AVP 0"), ErrNoCommonCodec, ""},
		{"SAVP while off", remoteOffer("m=audio 5004 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"+strings.Repeat("A", 40)), ErrSRTPMismatch, ""},
		{"empty", nil, nil, "body"},
		{"garbage", []byte("hello"), nil, "body"},
		{"hostname in c=", sdpBody("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 pbx.example.com", "t=0 0", "m=audio 5004 RTP/AVP 0"), nil, "c="},
		{"no c=", sdpBody("v=0", "o=- 1 1 IN IP4 h", "s=-", "t=0 0", "m=audio 5004 RTP/AVP 0"), nil, "c="},
		{"bad format", remoteOffer("m=audio 5004 RTP/AVP 0 x"), nil, "m=audio"},
		{"bad ptime", remoteOffer("m=audio 5004 RTP/AVP 0", "a=ptime:abc"), nil, "a=ptime"},
		{"bad rtpmap", remoteOffer("m=audio 5004 RTP/AVP 0", "a=rtpmap:300 x/8000"), nil, "a=rtpmap"},
		{"addrtype mismatch", sdpBody("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP6 1.2.3.4", "t=0 0", "m=audio 5004 RTP/AVP 0"), nil, "c="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := mustNeg(t, Options{})
			_, _, err := n.Answer(tc.body)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			if tc.field != "" {
				var se *SDPError
				if !errors.As(err, &se) || !strings.HasPrefix(se.Field, tc.field) {
					t.Fatalf("error %v does not name field %q", err, tc.field)
				}
			}
			t.Log(err)
		})
	}
}

func TestAnswerRejectsOtherStreams(t *testing.T) {
	n := mustNeg(t, Options{})
	off := remoteOffer("m=video 5006 RTP/AVP 96", "a=rtpmap:96 H264/90000", "m=audio 5004 RTP/AVP 8")
	ans, neg, err := n.Answer(off)
	if err != nil || neg.Codec != PCMA {
		t.Fatalf("%+v %v", neg, err)
	}
	s := string(ans)
	vi, ai := strings.Index(s, "m=video 0 RTP/AVP 96"), strings.Index(s, "m=audio 40000 RTP/AVP 8")
	if vi < 0 || ai < 0 || vi > ai {
		t.Fatalf("answer must reject video at port 0 in the same position:\n%s", s)
	}
}

func TestSDESNegotiation(t *testing.T) {
	a := mustNeg(t, Options{SRTP: SRTPRequired})
	b := mustNeg(t, Options{SRTP: SRTPOptional, Addr: netip.MustParseAddrPort("192.0.2.20:50000")})
	off, _ := a.Offer()
	ans, nb, err := b.Answer(off)
	if err != nil {
		t.Fatal(err)
	}
	na, err := a.ProcessAnswer(ans)
	if err != nil {
		t.Fatal(err)
	}
	if na.SRTP == nil || nb.SRTP == nil || string(na.SRTP.LocalKey) != string(nb.SRTP.RemoteKey) ||
		string(na.SRTP.RemoteKey) != string(nb.SRTP.LocalKey) || na.SRTP.Suite != SuiteAES128SHA1_80 {
		t.Fatalf("keys do not pair: %+v %+v", na.SRTP, nb.SRTP)
	}
	if !strings.Contains(string(ans), "RTP/SAVP") {
		t.Errorf("answer to SAVP must be SAVP:\n%s", ans)
	}
	// Required SRTP refuses a plain offer.
	c := mustNeg(t, Options{SRTP: SRTPRequired})
	if _, _, err := c.Answer(remoteOffer("m=audio 5004 RTP/AVP 0")); !errors.Is(err, ErrSRTPMismatch) {
		t.Fatalf("err %v", err)
	}
	// A malformed key on a supported suite names the line.
	_, _, err = c.Answer(remoteOffer("m=audio 5004 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:short"))
	var se *SDPError
	if !errors.As(err, &se) || se.Field != "a=crypto:1" {
		t.Fatalf("err %v", err)
	}
}

func TestProcessAnswer(t *testing.T) {
	n := mustNeg(t, Options{})
	if _, err := n.ProcessAnswer(remoteOffer("m=audio 5004 RTP/AVP 0")); err == nil {
		t.Fatal("answer without offer accepted")
	}
	n.Offer()
	neg, err := n.ProcessAnswer(remoteOffer("m=audio 5004 RTP/AVP 8 101", "a=rtpmap:101 telephone-event/8000", "a=recvonly"))
	if err != nil || neg.Codec != PCMA || neg.EventPT != 101 || neg.LocalEventPT != 101 || neg.Direction != SendOnly {
		t.Fatalf("%+v %v", neg, err)
	}
	n.Offer()
	if _, err := n.ProcessAnswer(remoteOffer("m=audio 5004 RTP/AVP 18")); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("err %v", err)
	}
	n.Offer()
	if _, err := n.ProcessAnswer(remoteOffer("m=audio 0 RTP/AVP 0")); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("rejected audio: err %v", err)
	}
}

func TestNegotiatorOptions(t *testing.T) {
	for _, o := range []Options{
		{Addr: netip.MustParseAddrPort("0.0.0.0:4000")},
		{Addr: netip.MustParseAddrPort("192.0.2.1:0")},
		{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Codecs: []Codec{PCMU, PCMU}},
		{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Codecs: []Codec{Codec(9)}},
		{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), EventPT: 50},
		{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), PTime: 30 * time.Millisecond},
	} {
		if _, err := NewNegotiator(o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func FuzzAnswer(f *testing.F) {
	f.Add(remoteOffer("m=audio 5004 RTP/AVP 0 8 9 101", "a=rtpmap:101 telephone-event/8000", "a=ptime:20", "a=sendonly"))
	f.Add(remoteOffer("m=audio 5004 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32"))
	f.Add(remoteOffer("m=video 5006 RTP/AVP 96", "m=audio 5004 RTP/AVP 8", "a=rtcp:6000 IN IP4 10.0.0.1"))
	f.Add([]byte("v=0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := mustNeg(t, Options{SRTP: SRTPOptional})
		ans, neg, err := n.Answer(b)
		if err != nil {
			return
		}
		if !neg.Codec.valid() || len(ans) == 0 {
			t.Fatalf("accepted offer gave %+v", neg)
		}
		// Our answer must be acceptable to an offerer with the same codecs.
		n2 := mustNeg(t, Options{SRTP: SRTPOptional})
		if _, _, err := n2.Answer(ans); err != nil {
			t.Fatalf("our own answer does not parse as an offer: %v\n%s", err, ans)
		}
	})
}

func FuzzProcessAnswer(f *testing.F) {
	f.Add(remoteOffer("m=audio 5004 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000"))
	f.Add(remoteOffer("m=audio 5004 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := mustNeg(t, Options{SRTP: SRTPOptional})
		if _, err := n.Offer(); err != nil {
			t.Fatal(err)
		}
		neg, err := n.ProcessAnswer(b)
		if err == nil && !neg.Codec.valid() {
			t.Fatalf("accepted answer gave %+v", neg)
		}
	})
}
