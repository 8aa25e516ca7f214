package pbx

import (
	"testing"
	"time"
)

func TestParseOfferAnswer(t *testing.T) {
	ans, err := answerSDP("127.0.0.1", 5004, 8, 101)
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseOffer(ans)
	if err != nil {
		t.Fatal(err)
	}
	if o.addr.String() != "127.0.0.1:5004" || len(o.codecs) != 1 || o.codecs[0] != 8 || o.dtmfPT != 101 {
		t.Fatalf("parsed %+v from\n%s", o, ans)
	}
	for _, bad := range []string{
		"",
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n",
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 example.com\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP x\r\n",
	} {
		if o, err := parseOffer([]byte(bad)); err == nil {
			t.Errorf("parseOffer(%q) = %+v, want error", bad, o)
		}
	}
}

func FuzzParseOffer(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Add([]byte("v=0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseOffer(b)
		if err != nil {
			return
		}
		if o.addr == nil || o.addr.Port <= 0 || o.addr.Port > 65535 {
			t.Fatalf("bad address %+v", o.addr)
		}
		if o.dtmfPT != 0 && (o.dtmfPT < 96 || o.dtmfPT > 127) {
			t.Fatalf("dtmf PT %d", o.dtmfPT)
		}
	})
}

// An unset RingTimeout is 60 s, the production default basesim keeps.
func TestRingTimeoutDefault(t *testing.T) {
	var c Config
	c.defaults()
	if c.RingTimeout != 60*time.Second {
		t.Errorf("default RingTimeout %v, want 60s", c.RingTimeout)
	}
	c = Config{RingTimeout: 3 * time.Second}
	c.defaults()
	if c.RingTimeout != 3*time.Second {
		t.Errorf("RingTimeout 3s became %v", c.RingTimeout)
	}
}
