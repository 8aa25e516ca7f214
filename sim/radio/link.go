package radio

import (
	"errors"
	"os"
	"time"
)

func (e *Emulator) readLoop() {
	defer e.wg.Done()
	buf := make([]byte, 1024)
	for {
		e.looked.Store(int64(time.Since(e.lookedBase)))
		_ = e.master.SetReadDeadline(time.Now().Add(e.poll))
		n, err := e.master.Read(buf)
		if n > 0 {
			c := append([]byte(nil), buf[:n]...)
			e.post(func() { e.receive(c) })
		}
		if err != nil {
			select {
			case <-e.quit:
				return
			default:
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				e.post(func() { e.checkStall() })
				continue
			}
			time.Sleep(10 * time.Millisecond) // EIO while no slave is open
		}
	}
}

func (e *Emulator) writeLoop() {
	defer e.wg.Done()
	for {
		select {
		case <-e.quit:
			return
		case b := <-e.out:
			_ = e.master.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := e.master.Write(b); err != nil {
				select {
				case <-e.quit:
					return
				default:
				}
			}
		}
	}
}

func (e *Emulator) loop() {
	defer e.wg.Done()
	// The stall check runs only while a partial frame waits: an idle
	// module wakes for nothing (a fleet holds thousands of them).
	stall := time.NewTicker(stallLimit / 4)
	stall.Stop()
	defer stall.Stop()
	armed := false
	for {
		if want := !e.partialSince.IsZero() || len(e.scanner.buf) > 0; want != armed {
			if want {
				stall.Reset(stallLimit / 4)
			} else {
				stall.Stop()
			}
			armed = want
		}
		select {
		case <-e.quit:
			return
		case f := <-e.calls:
			f()
		case <-e.retx.C:
			// What the read loop handed over before now goes first: the
			// ACK may be among it.
			looked := e.lookedBase.Add(time.Duration(e.looked.Load()))
			for len(e.calls) > 0 {
				(<-e.calls)()
			}
			e.retransmit(looked)
		case <-stall.C:
			if e.booted && !e.hung {
				e.checkStall()
			}
		case <-e.syncTick.C:
			if e.booted && !e.synced && !e.hung {
				e.sendSync()
			} else {
				e.syncTick.Stop()
			}
		}
	}
}

// wireOut puts a frame on the line, applying faults.
func (e *Emulator) wireOut(f []byte) {
	e.mu.Lock()
	fl := e.faults
	drop := fl.DropRate > 0 && e.rng.Float64() < fl.DropRate
	dup := fl.DupRate > 0 && e.rng.Float64() < fl.DupRate
	b := append([]byte(nil), f...)
	if fl.CorruptRate > 0 {
		for i := range b {
			if e.rng.Float64() < fl.CorruptRate {
				b[i] ^= byte(1 + e.rng.Intn(255))
			}
		}
	}
	e.mu.Unlock()
	if drop {
		return
	}
	n := 1
	if dup {
		n = 2
	}
	for range n {
		select {
		case e.out <- b:
		default: // UART overrun: the byte stream is lost
		}
	}
}

func (e *Emulator) sendSync() {
	p := []byte{byte(e.nonce >> 24), byte(e.nonce >> 16), byte(e.nonce >> 8), byte(e.nonce)}
	e.wireOut(buildFrame(kindSync, 0, p))
}

func (e *Emulator) receive(p []byte) {
	if !e.booted || e.hung {
		return
	}
	e.mu.Lock()
	if cr := e.faults.CorruptRate; cr > 0 {
		for i := range p {
			if e.rng.Float64() < cr {
				p[i] ^= byte(1 + e.rng.Intn(255))
			}
		}
	}
	e.mu.Unlock()
	e.scanner.push(p)
	e.drainFrames()
	e.checkStall()
}

// stallLimit is how long a partial frame may wait for its remaining bytes
// before the module abandons it (2 × a 520-byte frame at 115200 baud + 20 ms).
const stallLimit = 110 * time.Millisecond

func (e *Emulator) checkStall() {
	if len(e.scanner.buf) == 0 {
		e.partialSince = time.Time{}
		return
	}
	if e.partialSince.IsZero() {
		e.partialSince = time.Now()
		return
	}
	if time.Since(e.partialSince) >= stallLimit {
		e.scanner.idle()
		e.partialSince = time.Now()
		e.drainFrames()
	}
}

func (e *Emulator) drainFrames() {
	for {
		f, ok := e.scanner.next()
		if !ok {
			return
		}
		e.mu.Lock()
		fl := e.faults
		drop := fl.DropRate > 0 && e.rng.Float64() < fl.DropRate
		dup := fl.DupRate > 0 && e.rng.Float64() < fl.DupRate
		if !drop {
			e.stats.FramesIn++
		}
		e.mu.Unlock()
		if drop {
			continue
		}
		e.frame(f)
		if dup {
			e.frame(f)
		}
	}
}

func (e *Emulator) frame(f rxFrame) {
	if !e.booted || e.hung {
		return
	}
	switch f.kind {
	case kindSync:
		if len(f.payload) != 4 {
			return
		}
		nonce := uint32(f.payload[0])<<24 | uint32(f.payload[1])<<16 | uint32(f.payload[2])<<8 | uint32(f.payload[3])
		if e.synced && nonce == e.hostNonce {
			// A repeated SYNC of the current session (duplicated on the
			// line, or sent again because our SYNC-ACK was lost): answer
			// again, keep the session.
			e.wireOut(buildFrame(kindSyncAck, 0, f.payload))
			return
		}
		e.hostNonce = nonce
		e.synced = true
		e.syncTick.Stop()
		e.txSeq, e.rxNext = 0, 0
		e.queue = nil
		e.inflight = false
		e.retx.Stop()
		e.mu.Lock()
		e.stats.Syncs++
		e.mu.Unlock()
		e.wireOut(buildFrame(kindSyncAck, 0, f.payload))
		e.hostRestarted()
	case kindSyncAck:
		// The host never acknowledges our SYNC this way; ignore.
	case kindAck:
		if e.inflight && f.seq == e.txSeq {
			e.inflight = false
			e.retx.Stop()
			e.txSeq++
			e.queue = e.queue[1:]
			e.transmit()
		}
	case kindData:
		if !e.synced {
			return
		}
		if f.seq != e.rxNext {
			if f.seq == e.rxNext-1 {
				e.mu.Lock()
				e.stats.Duplicates++
				e.mu.Unlock()
				e.wireOut(buildFrame(kindAck, f.seq, nil))
			}
			return
		}
		e.wireOut(buildFrame(kindAck, f.seq, nil))
		e.rxNext++
		e.handleRequest(f.payload)
	}
}

// send queues a message (confirmation or indication) for the host.
func (e *Emulator) send(msg []byte) {
	if !e.synced {
		return
	}
	e.queue = append(e.queue, msg)
	if !e.inflight {
		e.transmit()
	}
}

func (e *Emulator) transmit() {
	if e.inflight || len(e.queue) == 0 {
		return
	}
	e.inflight = true
	e.retries = 0
	e.mu.Lock()
	e.stats.FramesOut++
	e.mu.Unlock()
	e.wireOut(buildFrame(kindData, e.txSeq, e.queue[0]))
	e.lastTx = time.Now()
	e.retx.Reset(e.opts.AckTimeout)
}

// retransmit sends the outstanding frame again. looked is when the read
// loop last started a read; everything it read before was handled.
func (e *Emulator) retransmit(looked time.Time) {
	if !e.inflight {
		return
	}
	// Count the retransmission towards giving up only if the read loop
	// has looked at the line since the last one was sent: in a process
	// starved of CPU the host's ACK may be waiting unread. A real module
	// is not starved by the host's load; the simulated one shares its
	// process (basesim), so it must not give up on the host for that.
	if looked.After(e.lastTx) {
		e.retries++
	}
	if e.retries > e.opts.MaxRetries {
		// The host is gone: wait for it to SYNC again.
		e.log.Warn("radio: host stopped acknowledging; waiting for SYNC")
		e.synced = false
		e.queue = nil
		e.inflight = false
		return
	}
	e.mu.Lock()
	e.stats.Retransmits++
	e.mu.Unlock()
	e.wireOut(buildFrame(kindData, e.txSeq, e.queue[0]))
	e.lastTx = time.Now()
	e.retx.Reset(e.opts.AckTimeout)
}

func (e *Emulator) indicate(typ byte, body ...byte) {
	e.mu.Lock()
	e.stats.Indications++
	e.mu.Unlock()
	e.send(append([]byte{typ, 0}, body...))
}

func (e *Emulator) confirm(r request, status byte, body ...byte) {
	e.send(append([]byte{r.typ | cnf, r.tid, status}, body...))
}
