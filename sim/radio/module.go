package radio

import (
	"fmt"
	"time"

	"basestation/hal"
)

// hostRestarted runs when the host (re)synchronises: whatever the module
// held for the previous host session is dropped, and every device in range
// is announced again so the host can authenticate it.
func (e *Emulator) hostRestarted() {
	e.regOpen = false
	e.regGen++
	e.pending = map[[5]byte]*Device{}
	for _, en := range e.sortedEntries() {
		if en.call != phIdle {
			if d := e.deviceFor(en); d != nil {
				d.airRelease(releaseModuleReset)
			}
		}
		en.authed = false
		en.call = phIdle
	}
	for n, sp := range e.slots {
		if sp.dev != nil {
			sp.dev.Close()
		}
		delete(e.slots, n)
	}
	for _, en := range e.sortedEntries() {
		if d := e.deviceFor(en); d != nil {
			e.indicate(iAttach, append([]byte{en.Handset}, en.IPEI[:]...)...)
		}
	}
}

const (
	releaseNormal      = 0x00
	releaseBusy        = 0x01
	releaseAuthFailed  = 0x02
	releaseNotReg      = 0x03
	releaseOutOfRange  = 0x04
	releaseModuleReset = 0x05
)

func (e *Emulator) handleRequest(p []byte) {
	r, err := parseRequest(p)
	if err != nil {
		e.log.Warn("radio: bad request from host", "err", err, "payload", p)
		if len(p) >= 2 && p[0] >= mHello && p[0] <= e.lastRequestType() && p[1] != 0 {
			e.confirm(request{typ: p[0], tid: p[1]}, stBadRequest)
		}
		return
	}
	if r.typ > e.lastRequestType() {
		// A 1.0 module does not know the type: no confirmation (§8).
		e.log.Warn("radio: unknown request type from host", "type", r.typ)
		e.mu.Lock()
		e.stats.UnknownRequests++
		e.mu.Unlock()
		return
	}
	e.mu.Lock()
	e.stats.Requests++
	e.mu.Unlock()
	switch r.typ {
	case mHello:
		e.hostMinor = r.minor
		body := []byte{1, e.moduleMinor()}
		body = append(body, e.opts.RFPI[:]...)
		body = append(body, byte(e.opts.Slots), byte(e.opts.Capacity))
		body = appendText(body, e.opts.Firmware)
		e.confirm(r, stOK, body...)
	case mKeepalive:
		e.confirm(r, stOK, r.counter[:]...)
	case mRegOpen:
		if r.seconds < 1 || r.seconds > 120 || !validPIN(r.pin) {
			e.confirm(r, stBadRequest)
			return
		}
		e.regOpen = true
		e.regPin = r.pin
		e.regGen++
		gen := e.regGen
		time.AfterFunc(time.Duration(r.seconds)*time.Second, func() {
			e.post(func() {
				if e.regOpen && e.regGen == gen {
					e.regOpen = false
					e.indicate(iRegClosed, 0x01)
				}
			})
		})
		e.confirm(r, stOK)
	case mRegClose:
		if !e.regOpen {
			e.confirm(r, stNotOpen)
			return
		}
		e.regOpen = false
		e.regGen++
		e.confirm(r, stOK)
	case mPairChall:
		d := e.pending[r.ipei]
		if d == nil {
			e.confirm(r, stUnknown)
			return
		}
		res, randP, ok := d.airPairChallenge(r.rs, r.randF)
		if !ok {
			e.confirm(r, stNoResponse)
			return
		}
		e.confirm(r, stOK, append(res[:], randP[:]...)...)
	case mPairAccept:
		d := e.pending[r.ipei]
		if d == nil {
			e.confirm(r, stUnknown)
			return
		}
		if r.handset == 0 {
			e.confirm(r, stBadRequest)
			return
		}
		old := e.table[r.handset]
		if old == nil && e.entryByIPEI(r.ipei) == nil && len(e.table) >= e.opts.Capacity {
			e.confirm(r, stFull)
			return
		}
		if !d.airPairAccept(r.handset, r.res) {
			e.confirm(r, stNoResponse)
			return
		}
		delete(e.pending, r.ipei)
		if prev := e.entryByIPEI(r.ipei); prev != nil {
			delete(e.table, prev.Handset)
		}
		en := &entry{Handset: r.handset, IPEI: r.ipei, Type: d.kind, Caps: d.caps(), Model: d.model}
		e.table[r.handset] = en
		e.saveTable()
		e.confirm(r, stOK)
		// The freshly paired device attaches.
		e.indicate(iAttach, append([]byte{en.Handset}, en.IPEI[:]...)...)
	case mPairReject:
		d := e.pending[r.ipei]
		if d == nil {
			e.confirm(r, stUnknown)
			return
		}
		delete(e.pending, r.ipei)
		d.airPairRejected(r.reason)
		e.confirm(r, stOK)
	case mAuth:
		en := e.table[r.handset]
		if en == nil {
			e.confirm(r, stUnknown)
			return
		}
		d := e.deviceFor(en)
		if d == nil {
			e.confirm(r, stUnreachable)
			return
		}
		res := d.airAuth(r.rs, r.randF)
		e.confirm(r, stOK, res[:]...)
	case mAuthResult:
		en := e.table[r.handset]
		if en == nil {
			e.confirm(r, stUnknown)
			return
		}
		en.authed = r.reason == 0
		if d := e.deviceFor(en); d != nil {
			d.airAuthResult(en.authed)
			if en.authed {
				d.airMWI(en.mwiOn, en.mwiCount)
				if e.clock != [7]byte{} {
					d.airClock(e.clock)
				}
				if e.paging {
					d.airPage(true)
				}
			}
		}
		if !en.authed && en.call != phIdle {
			en.call = phIdle
		}
		e.confirm(r, stOK)
	case mDeviceList:
		es := e.sortedEntries()
		body := []byte{byte(len(es))}
		for _, en := range es {
			body = append(body, en.Handset)
			body = append(body, en.IPEI[:]...)
			body = append(body, en.Type, en.Caps)
			body = appendText(body, en.Model)
		}
		e.confirm(r, stOK, body...)
	case mDeviceAdd:
		if r.handset == 0 || (r.devType != 1 && r.devType != 2) {
			e.confirm(r, stBadRequest)
			return
		}
		if e.table[r.handset] == nil && len(e.table) >= e.opts.Capacity {
			e.confirm(r, stFull)
			return
		}
		if prev := e.entryByIPEI(r.ipei); prev != nil {
			delete(e.table, prev.Handset)
		}
		en := &entry{Handset: r.handset, IPEI: r.ipei, Type: r.devType, Caps: r.caps, Model: r.model}
		e.table[r.handset] = en
		e.saveTable()
		e.confirm(r, stOK)
		if d := e.deviceFor(en); d != nil {
			e.indicate(iAttach, append([]byte{en.Handset}, en.IPEI[:]...)...)
		}
	case mDeregister:
		en := e.table[r.handset]
		if en == nil || en.IPEI != r.ipei {
			e.confirm(r, stUnknown)
			return
		}
		d := e.deviceFor(en)
		delete(e.table, r.handset)
		e.saveTable()
		e.dropAudio(en.Handset)
		if d != nil {
			d.airDeregistered()
		}
		e.confirm(r, stOK)
	case mPage:
		e.paging = r.on == 1
		for _, en := range e.table {
			if d := e.deviceFor(en); d != nil && en.authed {
				d.airPage(e.paging)
			}
		}
		e.confirm(r, stOK)
	case mRing:
		en, d, st := e.target(r.handset)
		if st != stOK {
			e.confirm(r, st)
			return
		}
		if en.call != phIdle {
			e.confirm(r, stBusy)
			return
		}
		if r.cadence > 5 || r.cli > 2 {
			e.confirm(r, stBadRequest)
			return
		}
		en.call = phRinging
		d.airRing(Caller{Number: r.number, Name: r.name, Reason: cliName(r.cli), Time: timeString(r.when)}, int(r.cadence))
		e.confirm(r, stOK)
		e.indicate(iAlerting, en.Handset)
	case mCallProceed:
		en, d, st := e.target(r.handset)
		if st != stOK {
			e.confirm(r, st)
			return
		}
		if en.call != phSetup {
			e.confirm(r, stBusy)
			return
		}
		en.call = phActive
		d.airProceed()
		e.confirm(r, stOK)
	case mRelease:
		en := e.table[r.handset]
		if en == nil {
			e.confirm(r, stUnknown)
			return
		}
		en.call = phIdle
		e.dropAudio(en.Handset)
		if d := e.deviceFor(en); d != nil {
			d.airRelease(r.reason)
		}
		e.confirm(r, stOK)
	case mTone:
		_, d, st := e.target(r.handset)
		if st != stOK {
			e.confirm(r, st)
			return
		}
		if r.tone > 7 {
			e.confirm(r, stBadRequest)
			return
		}
		d.airTone(toneName(r.tone))
		e.confirm(r, stOK)
	case mAudioConnect:
		en, d, st := e.target(r.handset)
		if st != stOK {
			e.confirm(r, st)
			return
		}
		rate := 8000
		if r.rate == 1 {
			rate = 16000
		} else if r.rate != 0 {
			e.confirm(r, stBadRequest)
			return
		}
		if int(r.slot) >= e.opts.Slots || en.call != phActive {
			e.confirm(r, stBadRequest)
			return
		}
		sp := e.slots[int(r.slot)]
		if sp == nil || sp.rate != rate || sp.base.closed() {
			base, dev := newPCMPair(rate)
			sp = &slotPair{rate: rate, base: base, dev: dev}
			e.slots[int(r.slot)] = sp
		}
		sp.devHandset = en.Handset
		d.airAudio(sp.dev, int(r.slot))
		e.confirm(r, stOK)
	case mAudioDisc:
		en := e.table[r.handset]
		if en == nil {
			e.confirm(r, stUnknown)
			return
		}
		e.dropAudio(en.Handset)
		e.confirm(r, stOK)
	case mMWI:
		en := e.table[r.handset]
		if en == nil {
			e.confirm(r, stUnknown)
			return
		}
		en.mwiOn, en.mwiCount = r.on, r.count
		if d := e.deviceFor(en); d != nil && en.authed {
			d.airMWI(r.on, r.count)
		}
		e.confirm(r, stOK)
	case mCallWaiting:
		en, d, st := e.target(r.handset)
		if st != stOK {
			e.confirm(r, st)
			return
		}
		if en.call != phActive {
			e.confirm(r, stBusy)
			return
		}
		d.airCallWaiting(Caller{Number: r.number, Name: r.name, Reason: cliName(r.cli)})
		e.confirm(r, stOK)
	case mDateTime:
		e.clock = r.when
		for _, en := range e.table {
			if d := e.deviceFor(en); d != nil && en.authed {
				d.airClock(r.when)
			}
		}
		e.confirm(r, stOK)
	case mDeviceStatus:
		e.deviceStatus(r)
	case mLocate:
		e.locate(r)
	}
}

// target finds an authenticated, reachable device for a call request.
func (e *Emulator) target(h byte) (*entry, *Device, byte) {
	en := e.table[h]
	if en == nil {
		return nil, nil, stUnknown
	}
	d := e.deviceFor(en)
	if d == nil || !en.authed {
		return en, nil, stUnreachable
	}
	return en, d, stOK
}

func (e *Emulator) dropAudio(h byte) {
	for n, sp := range e.slots {
		if sp.devHandset == h {
			sp.dev.Close()
			delete(e.slots, n)
		}
	}
	if en := e.table[h]; en != nil {
		if d := e.deviceByIPEI(en.IPEI); d != nil {
			d.airAudioStop()
		}
	}
}

// Audio returns the base side of a PCM slot (hal.Radio.Audio). Asking again
// for a slot replaces the channel.
func (e *Emulator) Audio(slot, rate int) (hal.PCM, error) {
	if rate != hal.RateNarrowband && rate != hal.RateWideband {
		return nil, fmt.Errorf("radio: audio rate %d not supported", rate)
	}
	if slot < 0 || slot >= e.opts.Slots {
		return nil, fmt.Errorf("radio: audio slot %d out of range 0..%d", slot, e.opts.Slots-1)
	}
	var base *pcmEnd
	e.do(func() {
		if old := e.slots[slot]; old != nil {
			old.base.Close()
		}
		b, d := newPCMPair(rate)
		e.slots[slot] = &slotPair{rate: rate, base: b, dev: d}
		base = b
	})
	if base == nil {
		return nil, hal.ErrClosed
	}
	return base, nil
}

func validPIN(pin string) bool {
	if len(pin) < 4 || len(pin) > 8 {
		return false
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return false
		}
	}
	return true
}

func cliName(c byte) string {
	switch c {
	case 1:
		return "private"
	case 2:
		return "out-of-area"
	}
	return ""
}

var toneNames = [...]string{"", "dial", "stutter-dial", "ringback", "busy", "reorder", "call-waiting", "sit"}

func toneName(t byte) string { return toneNames[t] }

func timeString(w [7]byte) string {
	if w == [7]byte{} {
		return ""
	}
	y := int(w[0])<<8 | int(w[1])
	return time.Date(y, time.Month(w[2]), int(w[3]), int(w[4]), int(w[5]), int(w[6]), 0, time.UTC).Format("2006-01-02 15:04:05")
}
