package sipua

import (
	"basestation/endpoint"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// counterEndpoint is a fakeEndpoint with a display that shows the number
// of new messages (as a DECT device does).
type counterEndpoint struct {
	*fakeEndpoint
}

func (c counterEndpoint) SetMessageCount(on bool, count int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.note(fmt.Sprintf("count %v %d", on, count))
	return nil
}

func summary(t *testing.T, waiting string, newMsgs, oldMsgs int) MessageSummary {
	t.Helper()
	ms, err := ParseMessageSummary([]byte(fmt.Sprintf("Messages-Waiting: %s\r\nVoice-Message: %d/%d (1/0)\r\n", waiting, newMsgs, oldMsgs)))
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func (f *fakeEndpoint) logged(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.log {
		if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
			out = append(out, s)
		}
	}
	return out
}

// Issue 10 §2: the message-waiting count on DECT devices was always 1. An
// endpoint that shows a count (MessageCounter) gets the number of new
// voice messages of every summary whose count changed (3, then 12 with
// messages still waiting, then 0), and one attached while messages wait
// gets the count at once; a plain endpoint (the analog lamp) is told only
// when waiting turns on or off.
func TestMWICountReachesCountingEndpoints(t *testing.T) {
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", "127.0.0.1:9")}})
	dev := counterEndpoint{newFakeEndpoint("dect", 0)}
	lamp := newFakeEndpoint("analog", 0)
	for _, ep := range []endpoint.Endpoint{dev, lamp} {
		if _, err := u.Attach("101", ep); err != nil {
			t.Fatal(err)
		}
	}
	u.mu.Lock()
	e := u.exts["101"]
	u.mu.Unlock()
	u.setMWI(e, summary(t, "yes", 3, 5))
	u.setMWI(e, summary(t, "yes", 3, 6)) // an old message more: same count
	u.setMWI(e, summary(t, "yes", 12, 6))
	late := counterEndpoint{newFakeEndpoint("dect2", 0)}
	if _, err := u.Attach("101", late); err != nil {
		t.Fatal(err)
	}
	u.setMWI(e, summary(t, "no", 0, 18))

	if got, want := dev.logged("count"), []string{"count false 0", "count true 3", "count true 12", "count false 0"}; !slices.Equal(got, want) {
		t.Errorf("counting endpoint got %q, want %q", got, want)
	}
	if got, want := late.logged("count"), []string{"count true 12", "count false 0"}; !slices.Equal(got, want) {
		t.Errorf("endpoint attached while 12 wait got %q, want %q", got, want)
	}
	if got := dev.logged("mwi"); len(got) != 0 {
		t.Errorf("counting endpoint also got SetMessageWaiting: %q", got)
	}
	if got, want := lamp.logged("mwi"), []string{"mwi false", "mwi true", "mwi false"}; !slices.Equal(got, want) {
		t.Errorf("lamp got %q, want %q", got, want)
	}
}

// Soak finding F7: an endpoint attached to an extension is told that
// extension's message state even when it is "no messages", so a device
// moved from an extension with messages (or powered off while its mailbox
// was emptied) does not keep showing them.
func TestAttachShowsNoMessagesToo(t *testing.T) {
	u := startUA(t, Config{Extensions: []Extension{
		ext("101", "1001", "pw", "127.0.0.1:9"), ext("102", "1002", "pw", "127.0.0.1:9")}})
	dev := counterEndpoint{newFakeEndpoint("dect", 0)}
	lamp := newFakeEndpoint("analog", 0)
	u.mu.Lock()
	e := u.exts["101"]
	u.mu.Unlock()
	u.setMWI(e, summary(t, "yes", 3, 0))
	for _, ep := range []endpoint.Endpoint{dev, lamp} {
		if _, err := u.Attach("101", ep); err != nil {
			t.Fatal(err)
		}
		if err := u.Detach(ep); err != nil {
			t.Fatal(err)
		}
		if _, err := u.Attach("102", ep); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := dev.logged("count"), []string{"count true 3", "count false 0"}; !slices.Equal(got, want) {
		t.Errorf("counting endpoint moved from 101 (3 new) to 102 (none) got %q, want %q", got, want)
	}
	if got, want := lamp.logged("mwi"), []string{"mwi true", "mwi false"}; !slices.Equal(got, want) {
		t.Errorf("lamp moved from 101 (3 new) to 102 (none) got %q, want %q", got, want)
	}
}

func TestNewMessages(t *testing.T) {
	for _, c := range []struct {
		body string
		want int
	}{
		{"Messages-Waiting: yes\r\nVoice-Message: 12/3 (2/0)\r\n", 12},
		{"Messages-Waiting: no\r\nVoice-Message: 0/3\r\n", 0},
		{"Messages-Waiting: yes\r\n", 0},
		{"Messages-Waiting: yes\r\nFax-Message: 2/0\r\nText-Message: 1/1\r\n", 3},
		{"Messages-Waiting: yes\r\nFax-Message: 2/0\r\nVoice-Message: 4/1\r\n", 4},
	} {
		ms, err := ParseMessageSummary([]byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if got := ms.NewMessages(); got != c.want {
			t.Errorf("%q: NewMessages %d, want %d", c.body, got, c.want)
		}
	}
}

// Soak (seed 1 step 484): two NOTIFYs of one subscription sent 1 ms apart
// (3 new, then 0 new) were handled out of order, and the device kept
// showing 3 messages for an empty mailbox. A NOTIFY older (lower CSeq)
// than one already applied in its dialog changes nothing; other dialogs
// (a replaced subscription) keep their own order.
func TestStaleNotifyIgnored(t *testing.T) {
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", "127.0.0.1:9")}})
	lamp := newFakeEndpoint("analog", 0)
	if _, err := u.Attach("101", lamp); err != nil {
		t.Fatal(err)
	}
	u.mu.Lock()
	e := u.exts["101"]
	u.mu.Unlock()
	u.setMWIInOrder(e, "sub-a", 7, summary(t, "yes", 3, 0))
	u.setMWIInOrder(e, "sub-a", 9, summary(t, "no", 0, 3))  // sent last
	u.setMWIInOrder(e, "sub-a", 8, summary(t, "yes", 1, 2)) // overtaken
	if got, want := lamp.logged("mwi"), []string{"mwi false", "mwi true", "mwi false"}; !slices.Equal(got, want) {
		t.Fatalf("lamp got %q, want %q (the stale NOTIFY must not light it)", got, want)
	}
	u.setMWIInOrder(e, "sub-b", 1, summary(t, "yes", 2, 0)) // another dialog: its own order
	if got := lamp.logged("mwi"); got[len(got)-1] != "mwi true" {
		t.Fatalf("a new dialog's first NOTIFY was not applied: %q", got)
	}
}

// Soak (seeds 1–3, a few steps in): an extension removed from the
// configuration left its endpoints in the registry with no extension, and
// attaching one of them to another extension dereferenced the missing
// extension: the base panicked. The stale attachment now gives way.
func TestAttachAfterItsExtensionWasRemoved(t *testing.T) {
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", "127.0.0.1:9")}})
	dev := newFakeEndpoint("dect", 0)
	if _, err := u.Attach("101", dev); err != nil {
		t.Fatal(err)
	}
	if err := u.SetConfig(Config{Extensions: []Extension{ext("102", "1002", "pw", "127.0.0.1:9")}}); err != nil {
		t.Fatal(err)
	}
	if got := u.ExtensionOf(dev); got != "" {
		t.Fatalf("endpoint of a removed extension reports extension %q", got)
	}
	if _, err := u.Attach("102", dev); err != nil {
		t.Fatalf("attach to 102 after 101 was removed: %v", err)
	}
	if got := u.ExtensionOf(dev); got != "102" {
		t.Fatalf("extension %q, want 102", got)
	}
	if _, err := u.Attach("102", dev); !errors.Is(err, ErrAlreadyAttached) {
		t.Fatalf("second attach: %v, want ErrAlreadyAttached", err)
	}
}
