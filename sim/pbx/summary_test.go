package pbx

import (
	"reflect"
	"strings"
	"testing"
)

func TestSummaryRFC3842Example(t *testing.T) {
	// RFC 3842 §5.2 example body.
	body := "Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\n" +
		"Voice-Message: 4/8 (1/2)\r\n\r\nTo: <alice@atlanta.example.com>\r\nFrom: <bob@biloxi.example.com>\r\n"
	s, err := ParseSummary([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Waiting: true, Account: "sip:alice@vmail.example.com",
		Classes: map[string]Counts{"voice-message": {4, 8, 1, 2}}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("parsed %+v, want %+v", s, want)
	}
	out, err := want.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 4/8 (1/2)\r\n" {
		t.Fatalf("marshal = %q", got)
	}
}

func TestSummaryErrors(t *testing.T) {
	for _, bad := range []string{
		"",
		"Voice-Message: 1/2\r\n",
		"Messages-Waiting: maybe\r\n",
		"Messages-Waiting: yes\r\nVoice-Message: 1\r\n",
		"Messages-Waiting: yes\r\nVoice-Message: 1/x\r\n",
		"Messages-Waiting: yes\r\nVoice-Message: 1/2 (3/4\r\n",
		"Messages-Waiting yes\r\n",
		"Messages-Waiting: yes\r\nFax-Message: -1/2\r\n",
		"Messages-Waiting: yes\r\nVoice-Message: 1234567890/2\r\n",
		"Messages-Waiting: yes\r\n" + strings.Repeat("x", 9000),
	} {
		if s, err := ParseSummary([]byte(bad)); err == nil {
			t.Errorf("ParseSummary(%q) = %+v, want error", bad, s)
		}
	}
	if _, err := (Summary{Classes: map[string]Counts{"voice": {}}}).Marshal(); err == nil {
		t.Error("unknown class marshalled")
	}
	if _, err := (Summary{Classes: map[string]Counts{"voice-message": {New: -1}}}).Marshal(); err == nil {
		t.Error("negative count marshalled")
	}
	if _, err := (Summary{Account: "sip:a\r\nX: y"}).Marshal(); err == nil {
		t.Error("account with CRLF marshalled")
	}
}

func FuzzParseSummary(f *testing.F) {
	f.Add([]byte("Messages-Waiting: yes\r\nMessage-Account: sip:101@127.0.0.1\r\nVoice-Message: 2/8 (0/2)\r\n"))
	f.Add([]byte("Messages-Waiting: no\r\nVoice-Message: 0/0\r\nFax-Message: 1/1\r\n\r\nX: y\r\n"))
	f.Add([]byte("messages-waiting:YES\nvoice-message:1/0(1/0)\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseSummary(body)
		if err != nil {
			return
		}
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("parsed %+v does not marshal: %v", s, err)
		}
		s2, err := ParseSummary(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip %+v -> %q -> %+v", s, out, s2)
		}
	})
}

func BenchmarkSummaryMarshalParse(b *testing.B) {
	s := Summary{Waiting: true, Account: "sip:*97@127.0.0.1", Classes: map[string]Counts{"voice-message": {2, 8, 0, 2}}}
	b.ReportAllocs()
	for b.Loop() {
		body, err := s.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseSummary(body); err != nil {
			b.Fatal(err)
		}
	}
}
