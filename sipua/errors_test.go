package sipua

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Callers tell the user agent's failures apart with errors.Is, and the
// detail stays in the message.
func TestErrorsAreSentinels(t *testing.T) {
	good := Config{Extensions: []Extension{{Name: "101", Account: Account{User: "1001", Domain: "pbx.example", Registrars: []string{"pbx.example:5060"}}}}}
	bad := Config{Extensions: []Extension{{Name: "101", Account: Account{User: "", Domain: "pbx.example"}}}}
	if _, err := New(bad, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New(bad config) = %v, want ErrInvalidConfig", err)
	}
	u, err := New(good, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.SetConfig(bad); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("SetConfig(bad config) = %v, want ErrInvalidConfig", err)
	}
	if _, err := u.Attach("999", nil); !errors.Is(err, ErrNoSuchExtension) {
		t.Errorf("Attach(unknown) = %v, want ErrNoSuchExtension", err)
	}
	if err := u.Detach(nil); !errors.Is(err, ErrNotAttached) {
		t.Errorf("Detach(not attached) = %v, want ErrNotAttached", err)
	}
	u.mu.Lock()
	e := u.exts["101"]
	u.mu.Unlock()
	if e == nil {
		t.Fatal("extension 101 not built")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, _, err := e.subscribeWith(ctx, &dialog{}, time.Minute); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("SUBSCRIBE unregistered = %v, want ErrNotRegistered", err)
	}

	if _, err := pickChallenge(nil); !errors.Is(err, ErrBadChallenge) {
		t.Errorf("no challenge header: %v, want ErrBadChallenge", err)
	}
	h := sip.NewHeader("WWW-Authenticate", `Digest realm="r", nonce="n", algorithm=SHA-512-256`)
	if _, err := pickChallenge([]sip.Header{h}); !errors.Is(err, ErrBadChallenge) {
		t.Errorf("unsupported algorithm: %v, want ErrBadChallenge", err)
	}
	a := &authenticator{}
	if _, err := a.challenged(sip.NewResponseFromRequest(sip.NewRequest(sip.REGISTER, sip.Uri{Host: "x"}), 200, "OK", nil)); !errors.Is(err, ErrBadChallenge) {
		t.Errorf("200 as a challenge: %v, want ErrBadChallenge", err)
	}
}

func TestStatusErrorMatchesByCode(t *testing.T) {
	for _, c := range []struct {
		code            int
		forbidden, busy bool
	}{
		{403, true, false}, {603, true, false}, {486, false, true}, {600, false, true}, {404, false, false}, {500, false, false},
	} {
		var err error = &StatusError{Method: "SUBSCRIBE", Code: c.code, Reason: "x"}
		if !errors.Is(err, ErrRejected) {
			t.Errorf("%d: not ErrRejected", c.code)
		}
		if errors.Is(err, ErrForbidden) != c.forbidden || errors.Is(err, ErrBusy) != c.busy {
			t.Errorf("%d: forbidden %v busy %v, want %v %v", c.code, errors.Is(err, ErrForbidden), errors.Is(err, ErrBusy), c.forbidden, c.busy)
		}
		if errors.Is(err, ErrTimeout) {
			t.Errorf("%d matches ErrTimeout", c.code)
		}
	}
	if got := (&StatusError{Method: "SUBSCRIBE", Code: 404, Reason: "Not Found"}).Error(); got != "SUBSCRIBE: 404 Not Found" {
		t.Errorf("message %q", got)
	}
}

func TestCallEventResult(t *testing.T) {
	for _, c := range []struct{ state, reason, want string }{
		{"ended", "remote bye", "answered"},
		{"failed", "486 Busy Here", "busy"},
		{"failed", "600 Busy Everywhere", "busy"},
		{"failed", "no answer", "no-answer"},
		{"failed", "480 Temporarily Unavailable", "no-answer"},
		{"failed", "603 Decline", "rejected"},
		{"failed", "cancelled", "cancelled"},
		{"failed", "487 Request Terminated", "cancelled"},
		{"failed", "local on-hook", "cancelled"},
		{"failed", "invite: timed out", "failed"},
		{"failed", "404 Not Found", "failed"},
	} {
		if got := (&CallEvent{State: c.state, Reason: c.reason}).Result(); got != c.want {
			t.Errorf("%s %q: %s, want %s", c.state, c.reason, got, c.want)
		}
	}
}

// A call's talk time runs from its first connection to its end, to the
// second; a call never connected has none.
func TestCallEventTalkTime(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		answered, end time.Time
		want          time.Duration
	}{
		{t0, t0.Add(12*time.Second + 400*time.Millisecond), 12 * time.Second},
		{t0, t0.Add(12*time.Second + 600*time.Millisecond), 13 * time.Second},
		{time.Time{}, t0, 0},
		{t0, time.Time{}, 0},
	} {
		if got := (&CallEvent{State: "ended", Answered: c.answered, Time: c.end}).TalkTime(); got != c.want {
			t.Errorf("answered %v ended %v: %v, want %v", c.answered, c.end, got, c.want)
		}
	}
}
