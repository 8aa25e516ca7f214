package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"basestation/provisioning"
	"basestation/sim/radio"
)

// pairAssign pairs a new simulated DECT device of kind ("linx" or
// "headset") as the portal's "Register New Device" does and assigns it to
// ext, returning it once the base has attached it there.
func (o *office) pairAssign(kind, pin, ext string) (*radio.Device, string) {
	o.t.Helper()
	_, dev, err := o.board.AddDevice(kind, radio.DeviceOptions{})
	if err != nil {
		o.t.Fatal(err)
	}
	type res struct {
		r   *provisioning.Result
		err error
	}
	done := make(chan res, 1)
	go func() {
		ctx, cancel := context.WithTimeout(o.ctx, 30*time.Second)
		defer cancel()
		r, err := o.cloud.RegisterDevice(ctx, baseID, 60*time.Second, pin, nil)
		done <- res{r, err}
	}()
	o.eventually("the base's registration window opens", 15*time.Second, o.board.Radio.RegistrationOpen)
	pctx, pcancel := context.WithTimeout(o.ctx, 15*time.Second)
	defer pcancel()
	if err := dev.Pair(pctx, pin); err != nil {
		o.t.Fatalf("pairing the %s with PIN %s: %v", kind, pin, err)
	}
	var r res
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		o.t.Fatal("RegisterDevice gave no result within 30 s")
	}
	if r.err != nil || r.r.Status != provisioning.StatusSucceeded || r.r.Device == nil {
		o.t.Fatalf("RegisterDevice: %+v, %v", r.r, r.err)
	}
	id := r.r.Device.ID
	ctx, cancel := context.WithTimeout(o.ctx, 20*time.Second)
	defer cancel()
	if _, err := o.cloud.AssignDevice(ctx, baseID, ext, id); err != nil {
		o.t.Fatalf("assigning %s to %s: %v", id, ext, err)
	}
	o.eventually(id+" attached to "+ext, 10*time.Second, func() bool {
		return slices.Contains(o.d.Status().Extensions[ext], id)
	})
	o.eventually(kind+" authenticated", 5*time.Second, func() bool { return dev.State().Attached })
	return dev, id
}

// Issue 10 §2: the message-waiting count on a DECT device was always 1.
// kamailio, as 101's voicemail, NOTIFYs 3 new messages, then 12, then
// none: the Headset's display shows 3, 12 and then no indication (count 0).
func TestDECTMessageCountFromKamailioNotify(t *testing.T) {
	o := startOffice(t)
	o.eventually("101's message-summary subscription at kamailio", 10*time.Second, func() bool {
		_, err := o.k.MWISubscription("101")
		return err == nil
	})
	hs, _ := o.pairAssign("headset", "2580", "101")
	for i, n := range []int{3, 12, 0} {
		res, err := o.k.NotifyMWI("101", 10+i, n, 4)
		if err != nil || !strings.HasPrefix(res, "200") {
			t.Fatalf("NOTIFY (%d new) from kamailio: %q, %v", n, res, err)
		}
		o.eventually("the Headset shows the count", 10*time.Second, func() bool {
			st := hs.State()
			return st.MWI == (n > 0) && st.MWICount == n
		})
	}
	// (The module shows the stored state, "off 0", when the Headset
	// attaches; what counts is what followed.)
	want := []string{"on 3", "on 12", "off 0"}
	if got := hs.MWILog(); len(got) < 3 || !slices.Equal(got[len(got)-3:], want) {
		t.Errorf("the Headset's message-waiting indications %q, want %q", got, want)
	}
}
