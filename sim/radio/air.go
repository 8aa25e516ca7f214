package radio

import (
	"context"
	"crypto/rand"
	"fmt"
)

func (d *Device) airLinkLost() {
	d.airAudioStop()
	d.update(func(s *DeviceState) {
		s.Attached = false
		if s.Call != CallIdle {
			s.Call = CallIdle
			s.Released = "module-reset"
		}
		s.Tone = ""
		s.Paging = false
		s.Locating = false
		s.Waiting = nil
	})
}

func (d *Device) airPairChallenge(rs, randF [8]byte) (res [4]byte, randP [8]byte, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pairPIN == "" || !d.st.Powered || !d.st.InRange {
		return res, randP, false
	}
	_, _ = rand.Read(randP[:])
	ks := sessionKey(pinKey(d.pairPIN), rs)
	d.pairKS = ks
	d.pairRP = randP
	return res1(ks, randF), randP, true
}

func (d *Device) airPairAccept(h byte, r2 [4]byte) bool {
	d.mu.Lock()
	if d.pairPIN == "" {
		d.mu.Unlock()
		return false
	}
	ks2 := ksPrime(d.pairKS)
	if res2(ks2, d.pairRP) != r2 {
		// The base does not know the PIN: do not subscribe.
		d.pairPIN = ""
		d.mu.Unlock()
		d.pairDone(&PairError{Reason: "base-auth-failed"})
		return false
	}
	d.uak = ks2
	d.pairPIN = ""
	d.st.Registered = true
	d.st.Handset = int(h)
	d.st.Denied = ""
	d.notify()
	d.mu.Unlock()
	d.pairDone(nil)
	return true
}

var rejectReasons = map[byte]string{1: "wrong-pin", 2: "table-full", 3: "not-open", 4: "locked-out", 5: "storage"}

func (d *Device) airPairRejected(reason byte) {
	d.mu.Lock()
	d.pairPIN = ""
	d.mu.Unlock()
	r := rejectReasons[reason]
	if r == "" {
		r = fmt.Sprintf("reason-%d", reason)
	}
	d.pairDone(&PairError{Reason: r})
}

func (d *Device) airAuth(rs, randF [8]byte) [4]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return res1(sessionKey(d.uak, rs), randF)
}

func (d *Device) airAuthResult(ok bool) {
	d.update(func(s *DeviceState) {
		s.Attached = ok
		if ok {
			s.Denied = ""
		} else {
			s.Denied = "auth-failed"
		}
	})
}

func (d *Device) airDenied(reason string) {
	d.update(func(s *DeviceState) {
		s.Attached = false
		s.Denied = reason
	})
}

func (d *Device) airDeregistered() {
	d.airAudioStop()
	d.update(func(s *DeviceState) {
		s.Registered = false
		s.Handset = 0
		s.Attached = false
		s.Call = CallIdle
		s.Denied = "not-registered"
	})
	d.mu.Lock()
	d.uak = [16]byte{}
	d.mu.Unlock()
}

func (d *Device) airRing(c Caller, cadence int) {
	d.update(func(s *DeviceState) {
		s.Call = CallRinging
		s.Caller = c
		s.Cadence = cadence
	})
}

func (d *Device) airProceed() {
	d.update(func(s *DeviceState) {
		if s.Call != CallSetup {
			return
		}
		if d.kind == KindLinx {
			s.Call = CallDialing
		} else {
			s.Call = CallConnected
		}
	})
}

var releaseNames = map[byte]string{0: "normal", 1: "busy", 2: "auth-failed", 3: "not-registered", 4: "out-of-range", 5: "module-reset", 6: "rejected"}

func (d *Device) airRelease(reason byte) {
	d.airAudioStop()
	d.update(func(s *DeviceState) {
		r := releaseNames[reason]
		if r == "" {
			r = fmt.Sprintf("reason-%d", reason)
		}
		s.Released = r
		if reason == releaseAuthFailed || reason == releaseNotReg {
			s.Denied = r
		}
		switch s.Call {
		case CallRinging:
			s.Call = CallIdle
		case CallIdle:
		default:
			s.Call = CallIdle
			if d.kind == KindHeadset {
				s.OffHook = false // the headset drops back to standby
			} else if s.OffHook {
				// The Linx's analog phone is still off-hook and hears
				// reorder until its user hangs up.
				s.Tone = "reorder"
			}
		}
		s.Waiting = nil
	})
}

func (d *Device) airTone(t string) { d.update(func(s *DeviceState) { s.Tone = t }) }

func (d *Device) airMWI(on, count byte) {
	d.update(func(s *DeviceState) {
		s.MWI = on == 1
		s.MWICount = int(count)
		s.MWIUpdates++
	})
	d.mu.Lock()
	st := "off"
	if on == 1 {
		st = "on"
	}
	d.mwiLog = append(d.mwiLog, fmt.Sprintf("%s %d", st, count))
	d.mu.Unlock()
}

func (d *Device) airCallWaiting(c Caller) {
	d.update(func(s *DeviceState) {
		s.Waiting = &c
		s.Tone = "call-waiting"
	})
}

func (d *Device) airClock(w [7]byte) { d.update(func(s *DeviceState) { s.Clock = timeString(w) }) }

func (d *Device) airPage(on bool) { d.update(func(s *DeviceState) { s.Paging = on }) }

func (d *Device) airAudio(p *pcmEnd, slot int) {
	d.airAudioStop()
	ctx, cancel := context.WithCancel(context.Background())
	d.mu.Lock()
	d.pcm = p
	d.stopAudio = cancel
	d.heard = AudioStats{Rate: p.rate}
	d.earBuf, d.mic = nil, nil
	d.st.AudioRate = p.rate
	d.st.AudioSlot = slot
	d.notify()
	d.mu.Unlock()
	go d.runAudio(ctx, p)
}

func (d *Device) airAudioStop() {
	d.mu.Lock()
	stop := d.stopAudio
	d.stopAudio = nil
	d.pcm = nil
	if d.st.AudioRate != 0 {
		d.st.AudioRate = 0
		d.notify()
	}
	d.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (e *Emulator) deviceArrived(d *Device) {
	if !e.booted || !e.synced || e.hung || !d.onAir() {
		return
	}
	d.mu.Lock()
	reg, h := d.st.Registered, byte(d.st.Handset)
	d.mu.Unlock()
	if !reg {
		return
	}
	en := e.table[h]
	if en == nil || en.IPEI != d.ipei {
		d.airDenied("not-registered")
		return
	}
	en.authed = false
	e.indicate(iAttach, append([]byte{h}, d.ipei[:]...)...)
}

// deviceLeft: d lost radio contact (link linkOutOfRange) or detached
// (linkOff). A 1.1 host hears why in a LINK-IND just before DETACH-IND.
func (e *Emulator) deviceLeft(d *Device, link byte) {
	en := e.entryByIPEI(d.ipei)
	if en == nil {
		return
	}
	e.dropAudio(en.Handset)
	wasAuthed := en.authed
	en.authed = false
	en.call = phIdle
	if e.synced && e.booted && !e.hung {
		if wasAuthed {
			e.sendLink(en, d.measure(link), true)
		}
		e.indicate(iDetach, en.Handset)
	}
}

func (e *Emulator) pairRequest(d *Device) {
	if !e.booted || !e.synced || e.hung {
		d.pairDone(&PairError{Reason: "no-base"})
		return
	}
	if !e.regOpen {
		d.pairDone(&PairError{Reason: "not-open"})
		return
	}
	if e.entryByIPEI(d.ipei) == nil && len(e.table) >= e.opts.Capacity {
		d.pairDone(&PairError{Reason: "table-full"})
		return
	}
	e.pending[d.ipei] = d
	body := append([]byte(nil), d.ipei[:]...)
	body = append(body, d.kind, d.caps())
	body = appendText(body, d.model)
	e.indicate(iPairReq, body...)
}

// entryForCall finds the module entry of a device acting on a call.
func (e *Emulator) entryForCall(d *Device) *entry {
	if !e.booted || !e.synced || e.hung {
		return nil
	}
	d.mu.Lock()
	reg, h := d.st.Registered, byte(d.st.Handset)
	d.mu.Unlock()
	en := e.table[h]
	if !reg || en == nil || en.IPEI != d.ipei {
		return nil
	}
	return en
}

func (e *Emulator) deviceSetup(d *Device) {
	en := e.entryForCall(d)
	if en == nil {
		d.airRelease(releaseNotReg)
		return
	}
	if en.call != phIdle {
		d.airRelease(releaseBusy)
		return
	}
	en.call = phSetup
	e.indicate(iSetup, en.Handset)
}

func (e *Emulator) deviceAnswered(d *Device) {
	en := e.entryForCall(d)
	if en == nil || en.call != phRinging {
		d.airRelease(releaseNormal)
		return
	}
	en.call = phActive
	e.indicate(iConnect, en.Handset)
}

func (e *Emulator) deviceKeys(d *Device, k string) {
	en := e.entryForCall(d)
	if en == nil || en.call != phActive {
		return
	}
	e.indicate(iKeys, append([]byte{en.Handset}, appendText(nil, k)...)...)
}

func (e *Emulator) deviceReleased(d *Device) {
	en := e.entryForCall(d)
	if en == nil || en.call == phIdle {
		return
	}
	en.call = phIdle
	e.dropAudio(en.Handset)
	e.indicate(iRelease, en.Handset, releaseNormal)
}
