package softphone

import (
	"testing"

	"basestation/sim/softphone/media"
)

func TestParseMessageSummary(t *testing.T) {
	m, err := parseMessageSummary([]byte("Messages-Waiting: yes\r\nMessage-Account: sip:*97@h\r\nVoice-Message: 3/4 (1/0)\r\n"))
	if err != nil || !m.Waiting || m.New != 3 || m.Old != 4 || m.Account != "sip:*97@h" {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range []string{"", "Voice-Message: 1/2", "Messages-Waiting: perhaps", "Messages-Waiting: yes\nVoice-Message: 1", "Messages-Waiting: yes\nVoice-Message: -1/2"} {
		if _, err := parseMessageSummary([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseMessageSummary(f *testing.F) {
	f.Add([]byte("Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n"))
	f.Add([]byte("Messages-Waiting: no\r\n\r\nTo: x\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMessageSummary(b)
		if err == nil && (m.New < 0 || m.Old < 0) {
			t.Fatalf("negative counts %+v", m)
		}
	})
}

func FuzzParseSDP(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n"))
	f.Add([]byte("v=0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseSDP(b)
		if err != nil {
			return
		}
		if r.addr == nil || r.addr.Port < 0 || r.addr.Port > 65535 {
			t.Fatalf("bad address %+v", r.addr)
		}
		for _, c := range r.codecs {
			if c != 0 && c != 8 {
				t.Fatalf("codec %d", c)
			}
		}
	})
}

func TestSDPRoundTrip(t *testing.T) {
	b, err := buildSDP("127.0.0.1", 4242, []media.Codec{media.PCMA, media.PCMU}, true, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseSDP(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.addr.String() != "127.0.0.1:4242" || len(r.codecs) != 2 || r.codecs[0] != media.PCMA || r.dtmfPT != dtmfPT || r.dir != "sendrecv" {
		t.Errorf("parsed %+v from\n%s", r, b)
	}
	if _, err := parseSDP([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")); err == nil {
		t.Error("SDP without a connection address accepted")
	}
}
