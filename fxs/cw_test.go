package fxs

import (
	"basestation/endpoint"
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"
)

// casPhone wraps testPhone with a CIDCW-capable CPE: when it hears the CAS
// (2130+2750 Hz) end, it answers with DTMF 'D' for 60 ms.
type casPhone struct {
	*testPhone
	ack   bool
	heard bool
	acked int
}

func (c *casPhone) Audio(toPhone, fromPhone []int16) {
	cas := meanPower(toPhone) > 1e4 && toneShare(toPhone, 2130, 2750) > 0.7
	if c.ack && c.heard && !cas {
		c.heard = false
		c.acked++
		c.say(testDTMF('D', 60*time.Millisecond, 0))
	}
	if cas {
		c.heard = true
	}
	c.testPhone.Audio(toPhone, fromPhone)
}

func TestCallWaitingCallerID(t *testing.T) {
	bin := spandspCID(t)
	for _, ack := range []bool{true, false} {
		name := "ack"
		if !ack {
			name = "no-ack"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, DefaultConfig())
				defer r.stop()
				cp := &casPhone{testPhone: r.ph, ack: ack}
				r.m.Attach(cp)
				r.inCall()
				audio, err := r.p.ConnectAudio()
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { // the far end talks 1 kHz all along
					defer close(done)
					f := make([]int16, 80)
					for i := 0; ctx.Err() == nil; i++ {
						for j := range f {
							f[j] = int16(3000 * math.Sin(2*math.Pi*1000*float64(i*80+j)/8000))
						}
						if audio.WriteFrame(ctx, f) != nil {
							return
						}
						_ = audio.ReadFrame(ctx, f)
					}
				}()
				time.Sleep(300 * time.Millisecond)
				r.clearEvents()
				t0 := time.Now()
				if err := r.p.AlertCallWaiting(endpoint.CallerID{Number: "6135550142", Name: "Second Caller", Time: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(1500 * time.Millisecond)
				rec, _ := r.ph.recording(t0)
				// SAS: 440 Hz at the start, far end muted.
				if s := toneShare(rec[400:2000], 440); s < 0.9 {
					t.Errorf("SAS share %.2f", s)
				}
				msgs := decodeCID(t, bin, rec)
				if ack {
					if cp.acked != 1 {
						t.Fatalf("phone acked %d times", cp.acked)
					}
					r.mustEvent(EvCallWaitingAck, 0)
					if len(msgs) != 1 || msgs[0].fields["02"] != "6135550142" || msgs[0].fields["07"] != "Second Caller" || msgs[0].fields["01"] != "01020304" {
						t.Fatalf("CIDCW decoded: %+v", msgs)
					}
				} else if len(msgs) != 0 {
					t.Fatalf("FSK sent without ACK: %+v", msgs)
				}
				for _, e := range r.events() {
					if e.Kind == EvDigit {
						t.Fatalf("the ACK leaked as a digit: %v", e)
					}
				}
				// After the alert the far end is heard again.
				tail := rec[len(rec)-1600:]
				if s := toneShare(tail, 1000); s < 0.8 {
					t.Errorf("far end not restored after the alert (1 kHz share %.2f)", s)
				}
				// One repeat of the SAS 10 s after the first, then nothing.
				time.Sleep(25 * time.Second)
				rec, _ = r.ph.recording(t0.Add(2 * time.Second))
				var sas []time.Duration
				for i := 0; i+400 <= len(rec); i += 400 {
					if toneShare(rec[i:i+400], 440) > 0.5 {
						sas = append(sas, samplesDur(i)+2*time.Second)
					}
				}
				if len(sas) == 0 || sas[0] < 9900*time.Millisecond || sas[len(sas)-1] > 10500*time.Millisecond {
					t.Errorf("repeated SAS at %v (want one burst at ≈10 s)", sas)
				}
				if s := toneShare(rec[len(rec)-8000:], 1000); s < 0.8 {
					t.Errorf("far end not heard after the repeat (1 kHz share %.2f)", s)
				}
				cancel()
				<-done
			})
		})
	}
}

func TestVMWIOnHook(t *testing.T) {
	bin := spandspCID(t)
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		t0 := time.Now()
		if err := r.p.SetMessageWaiting(true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if err := r.p.SetMessageWaiting(false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		rec, _ := r.ph.recording(t0)
		msgs := decodeCID(t, bin, rec)
		if len(msgs) != 2 || msgs[0].typ != "82" || msgs[0].fields["0b"] != `\xff` || msgs[1].fields["0b"] != `\x00` {
			t.Fatalf("VMWI decoded: %+v", msgs)
		}
		if prog, _ := r.m.Linefeed(); prog != 1 {
			t.Fatalf("linefeed after VMWI %v", prog)
		}
		// No ringing for VMWI.
		if on, _ := ringEdges(r.m, t0); len(on) != 0 {
			t.Fatal("VMWI rang the phone")
		}
	})
}

func TestVMWIRefresh(t *testing.T) {
	bin := spandspCID(t)
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.VMWIRefresh = time.Minute
		r := newRig(t, cfg)
		defer r.stop()
		t0 := time.Now()
		_ = r.p.SetMessageWaiting(true)
		time.Sleep(150 * time.Second)
		rec, _ := r.ph.recording(t0)
		msgs := decodeCID(t, bin, rec)
		if len(msgs) != 3 {
			t.Fatalf("%d VMWI messages in 150 s with a 60 s refresh: %+v", len(msgs), msgs)
		}
		for _, m := range msgs {
			if m.fields["0b"] != `\xff` {
				t.Fatalf("%+v", msgs)
			}
		}
	})
}

func TestFaultSafeState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.FaultRetry = 5 * time.Second
		r := newRig(t, cfg)
		defer r.stop()
		if err := r.p.ring(ringRequest{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		tf := time.Now()
		r.m.InjectPowerAlarm(3)
		e := r.mustEvent(EvFault, 200*time.Millisecond)
		if e.Err == nil {
			t.Fatal("fault without reason")
		}
		time.Sleep(100 * time.Millisecond)
		if r.p.State() != StateFault {
			t.Fatalf("state %v", r.p.State())
		}
		if prog, actual := r.m.Linefeed(); prog != 0 || actual != 0 {
			t.Fatalf("linefeed %v/%v in fault", prog, actual)
		}
		if err := r.p.ring(ringRequest{}); err == nil {
			t.Fatal("Ring accepted during a fault")
		}
		time.Sleep(3 * time.Second)
		if on, _ := ringEdges(r.m, tf.Add(50*time.Millisecond)); len(on) != 0 {
			t.Fatalf("rang during the fault: %v", on)
		}
		r.mustEvent(EvFaultCleared, 3*time.Second)
		if prog, _ := r.m.Linefeed(); prog != 1 {
			t.Fatalf("linefeed %v after recovery", prog)
		}
		// Thermal overload while off-hook: safe state, fault and hang-up reported.
		r.clearEvents()
		r.ph.offHook()
		time.Sleep(300 * time.Millisecond)
		r.m.InjectThermalAlarm()
		r.mustEvent(EvFault, 200*time.Millisecond)
		r.mustEvent(EvOnHook, 200*time.Millisecond)
	})
}

func TestAudioPathAndDigitsDuringAudio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, DefaultConfig())
		defer r.stop()
		r.inCall()
		audio, err := r.p.ConnectAudio()
		if err != nil {
			t.Fatal(err)
		}
		if audio.Rate() != 8000 {
			t.Fatalf("rate %d", audio.Rate())
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan []int16, 1)
		go func() {
			f := make([]int16, 80)
			var heard []int16
			for i := 0; i < 100; i++ {
				for j := range f {
					f[j] = int16(4000 * math.Sin(2*math.Pi*1000*float64(i*80+j)/8000))
				}
				if audio.WriteFrame(ctx, f) != nil {
					break
				}
				if audio.ReadFrame(ctx, f) != nil {
					break
				}
				heard = append(heard, f...)
			}
			got <- heard
		}()
		t0 := time.Now()
		mic := make([]int16, 4000)
		for i := range mic {
			mic[i] = int16(4000 * math.Sin(2*math.Pi*500*float64(i)/8000))
		}
		r.ph.say(mic)
		r.ph.say(testDTMF('7', 100*time.Millisecond, 100*time.Millisecond))
		heard := <-got
		if s := toneShare(heard[1600:4000], 500); s < 0.9 {
			t.Errorf("call layer hears the phone: 500 Hz share %.2f", s)
		}
		rec, _ := r.ph.recording(t0)
		if s := toneShare(rec[1600:6400], 1000); s < 0.9 {
			t.Errorf("phone hears the far end: 1 kHz share %.2f", s)
		}
		e := r.mustEvent(EvDigit, time.Second)
		if e.Digit != '7' {
			t.Fatalf("digit %v", e)
		}
		if err := audio.WriteFrame(ctx, make([]int16, 79)); err == nil {
			t.Fatal("short frame accepted")
		}
		if err := r.p.DisconnectAudio(); err != nil {
			t.Fatal(err)
		}
		if err := audio.ReadFrame(ctx, make([]int16, 80)); err == nil {
			t.Fatal("read after disconnect")
		}
	})
}
