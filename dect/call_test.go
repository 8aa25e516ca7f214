package dect_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"basestation/dect"
	"basestation/endpoint"
	"basestation/hal"
	"basestation/sim/radio"
)

func TestIncomingCallLinx(t *testing.T) {
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	dev := r.pair(linx, "1234")
	ctx := ctxT(t, 10*time.Second)
	when := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	if err := dev.Ring(endpoint.CallerID{Number: "5551234567", Name: "ALICE SMITH", Time: when}, "distinctive2"); err != nil {
		t.Fatal(err)
	}
	s := waitDev(t, linx, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
	if s.Caller.Number != "5551234567" || s.Caller.Name != "ALICE SMITH" || s.Cadence != 2 || s.Caller.Time != "2026-11-22 09:30:00" {
		t.Errorf("display %+v cadence %d", s.Caller, s.Cadence)
	}
	if err := dev.Ring(endpoint.CallerID{Number: "1"}, "normal"); !errors.Is(err, dect.ErrBusy) {
		t.Errorf("second ring: %v", err)
	}
	if err := linx.OffHook(); err != nil {
		t.Fatal(err)
	}
	if e := devEvent(t, dev, dect.OffHook); !e.Answer {
		t.Errorf("answer event %+v", e)
	}
	pcm, err := dev.ConnectAudioAt(hal.RateWideband)
	if err != nil {
		t.Fatal(err)
	}
	if pcm.Rate() != hal.RateNarrowband {
		t.Errorf("Linx audio at %d Hz, want narrowband", pcm.Rate())
	}
	checkAudio(t, ctx, pcm, linx)
	// DTMF during the answered call arrives as digits.
	if err := linx.Dial("5"); err != nil {
		t.Fatal(err)
	}
	if e := devEvent(t, dev, dect.Digit); e.Digit != '5' {
		t.Errorf("digit %+v", e)
	}
	if err := linx.Flash(); err != nil {
		t.Fatal(err)
	}
	devEvent(t, dev, dect.Flash)
	if err := dev.AlertCallWaiting(endpoint.CallerID{Reason: endpoint.Private}); err != nil {
		t.Fatal(err)
	}
	s = waitDev(t, linx, "call waiting", func(s radio.DeviceState) bool { return s.Waiting != nil })
	if s.Waiting.Reason != "private" || s.Tone != "call-waiting" {
		t.Errorf("call waiting %+v tone %q", s.Waiting, s.Tone)
	}
	// The far end hangs up.
	if err := dev.Release(); err != nil {
		t.Fatal(err)
	}
	waitDev(t, linx, "released", func(s radio.DeviceState) bool { return s.Call == radio.CallIdle && s.Released == "normal" })
	if err := pcm.ReadFrame(ctx, make([]int16, 80)); !errors.Is(err, hal.ErrClosed) {
		t.Errorf("audio after release: %v", err)
	}
}

// checkAudio sends a tone to the device and checks it hears it, and that
// the device's speech reaches the base unchanged.
func checkAudio(t *testing.T, ctx context.Context, pcm endpoint.AudioPort, d *radio.Device) {
	t.Helper()
	n := hal.FrameSamples(pcm.Rate())
	tone := make([]int16, n)
	for i := range tone {
		tone[i] = int16(6000 * math.Sin(2*math.Pi*1000*float64(i)/float64(pcm.Rate())))
	}
	d.SetSpeech(440, 5000)
	in := make([]int16, n)
	matched := false
	for i := 0; i < 40; i++ {
		if err := pcm.WriteFrame(ctx, tone); err != nil {
			t.Fatal(err)
		}
		if err := pcm.ReadFrame(ctx, in); err != nil {
			t.Fatal(err)
		}
		// The device speaks SpeechFrame(rate, 440, 5000, k) for its k-th frame.
		for k := 0; k < 60 && !matched; k++ {
			want := radio.SpeechFrame(pcm.Rate(), 440, 5000, k)
			if k > 0 && equal(in, want) {
				matched = true
			}
		}
	}
	if !matched {
		t.Error("base never received the device's speech")
	}
	if h := d.Heard(); h.Loud < 5 || h.Rate != pcm.Rate() {
		t.Errorf("device heard %d loud frames at %d Hz", h.Loud, h.Rate)
	}
}

func equal(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOutgoingCallLinx(t *testing.T) {
	r := newRig(t, rigOpts{drv: &dect.Options{InterDigitTimeout: 300 * time.Millisecond}})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	dev := r.pair(linx, "1234")
	if err := linx.OffHook(); err != nil {
		t.Fatal(err)
	}
	if e := devEvent(t, dev, dect.OffHook); e.Answer {
		t.Errorf("off-hook %+v", e)
	}
	waitDev(t, linx, "dialing", func(s radio.DeviceState) bool { return s.Call == radio.CallDialing })
	if err := dev.PlayTone("dial"); err != nil {
		t.Fatal(err)
	}
	waitDev(t, linx, "dial tone", func(s radio.DeviceState) bool { return s.Tone == "dial" })
	if err := linx.Dial("6135550100#"); err != nil {
		t.Fatal(err)
	}
	if e := devEvent(t, dev, dect.Dialed); e.Number != "6135550100" {
		t.Errorf("dialed %q", e.Number)
	}
	if err := dev.PlayTone("ringback"); err != nil {
		t.Fatal(err)
	}
	waitDev(t, linx, "ringback", func(s radio.DeviceState) bool { return s.Tone == "ringback" })
	if err := dev.PlayTone("warble"); !errors.Is(err, dect.ErrBadRequest) {
		t.Errorf("unknown tone: %v", err)
	}
	if err := linx.HangUp(); err != nil {
		t.Fatal(err)
	}
	if e := devEvent(t, dev, dect.OnHook); e.Reason != "hangup" {
		t.Errorf("on-hook %+v", e)
	}
	// Second call: the number completes by inter-digit timeout.
	if err := linx.OffHook(); err != nil {
		t.Fatal(err)
	}
	devEvent(t, dev, dect.OffHook)
	waitDev(t, linx, "dialing", func(s radio.DeviceState) bool { return s.Call == radio.CallDialing })
	if err := linx.Dial("911"); err != nil {
		t.Fatal(err)
	}
	if e := devEvent(t, dev, dect.Dialed); e.Number != "911" {
		t.Errorf("dialed %q", e.Number)
	}
	linx.HangUp()
	devEvent(t, dev, dect.OnHook)
}

func TestDialPlanCompletesNumber(t *testing.T) {
	r := newRig(t, rigOpts{drv: &dect.Options{DialComplete: func(n string) bool { return len(n) == 3 }}})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	dev := r.pair(linx, "1234")
	linx.OffHook()
	devEvent(t, dev, dect.OffHook)
	waitDev(t, linx, "dialing", func(s radio.DeviceState) bool { return s.Call == radio.CallDialing })
	linx.Dial("4117")
	if e := devEvent(t, dev, dect.Dialed); e.Number != "411" {
		t.Errorf("dialed %q", e.Number)
	}
	if e := devEvent(t, dev, dect.Digit); e.Digit != '7' {
		t.Errorf("digit after number %+v", e)
	}
}

func TestHeadsetWidebandAndNarrowband(t *testing.T) {
	r := newRig(t, rigOpts{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dev := r.pair(hs, "1234")
	ctx := ctxT(t, 10*time.Second)
	for _, tc := range []struct{ max, want int }{{hal.RateWideband, hal.RateWideband}, {hal.RateNarrowband, hal.RateNarrowband}} {
		if err := dev.Ring(endpoint.CallerID{Reason: endpoint.OutOfArea}, ""); err != nil {
			t.Fatal(err)
		}
		s := waitDev(t, hs, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
		if s.Caller.Reason != "out-of-area" {
			t.Errorf("caller %+v", s.Caller)
		}
		hs.Answer()
		devEvent(t, dev, dect.OffHook)
		pcm, err := dev.ConnectAudioAt(tc.max)
		if err != nil {
			t.Fatal(err)
		}
		if pcm.Rate() != tc.want {
			t.Errorf("max %d: rate %d, want %d", tc.max, pcm.Rate(), tc.want)
		}
		waitDev(t, hs, "audio", func(s radio.DeviceState) bool { return s.AudioRate == tc.want })
		checkAudio(t, ctx, pcm, hs)
		if err := dev.DisconnectAudio(); err != nil {
			t.Fatal(err)
		}
		hs.HangUp()
		if e := devEvent(t, dev, dect.OnHook); e.Reason != "hangup" {
			t.Errorf("on-hook %+v", e)
		}
	}
	// A Headset has no keypad.
	if err := hs.Dial("1"); !errors.Is(err, radio.ErrNotLinx) {
		t.Errorf("headset dial: %v", err)
	}
}

func TestRingStopAndDecline(t *testing.T) {
	r := newRig(t, rigOpts{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dev := r.pair(hs, "1234")
	dev.Ring(endpoint.CallerID{Number: "100"}, "normal")
	waitDev(t, hs, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
	if err := dev.StopRinging(); err != nil {
		t.Fatal(err)
	}
	waitDev(t, hs, "stopped", func(s radio.DeviceState) bool { return s.Call == radio.CallIdle })
	dev.Ring(endpoint.CallerID{Number: "100"}, "normal")
	waitDev(t, hs, "ringing", func(s radio.DeviceState) bool { return s.Call == radio.CallRinging })
	hs.Decline()
	if e := devEvent(t, dev, dect.OnHook); e.Reason != "declined" {
		t.Errorf("decline %+v", e)
	}
}

func TestMessageWaitingPagingClock(t *testing.T) {
	r := newRig(t, rigOpts{})
	linx := r.emu.NewLinx(radio.DeviceOptions{})
	hs := r.emu.NewHeadset(radio.DeviceOptions{})
	dl := r.pair(linx, "1234")
	r.pair(hs, "1234")
	ctx := ctxT(t, 10*time.Second)
	if err := dl.SetMessageCount(true, 3); err != nil {
		t.Fatal(err)
	}
	waitDev(t, linx, "mwi", func(s radio.DeviceState) bool { return s.MWI && s.MWICount == 3 })
	if err := r.drv.Page(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitDev(t, linx, "paging", func(s radio.DeviceState) bool { return s.Paging })
	waitDev(t, hs, "paging", func(s radio.DeviceState) bool { return s.Paging })
	r.drv.Page(ctx, false)
	waitDev(t, hs, "paging off", func(s radio.DeviceState) bool { return !s.Paging })
	if err := r.drv.SetDateTime(ctx, time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	waitDev(t, hs, "clock", func(s radio.DeviceState) bool { return s.Clock == "2027-01-02 03:04:05" })
	// The indication survives the device being off: shown when it returns.
	linx.PowerOff()
	dl.SetMessageCount(false, 0)
	linx.PowerOn()
	waitDev(t, linx, "mwi off after power on", func(s radio.DeviceState) bool { return s.Attached && !s.MWI })
}
