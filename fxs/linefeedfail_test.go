package fxs

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"basestation/hal"
)

// failingPort passes the chip's SPI port through and, once armed, fails
// the next write of the linefeed register (reg 64): the bus glitch a
// loose SLIC or a noisy SPI line gives in the middle of a transition.
type failingPort struct {
	spi.Port
	armed *atomic.Bool
}

func (p failingPort) Connect(f physic.Frequency, m spi.Mode, bits int) (spi.Conn, error) {
	c, err := p.Port.Connect(f, m, bits)
	if err != nil {
		return nil, err
	}
	return &failingConn{Conn: c, armed: p.armed}, nil
}

type failingConn struct {
	spi.Conn
	armed *atomic.Bool
	// data: the next transfer is the data byte of an access whose address
	// byte went out (the Si321x takes an address byte, then a data byte,
	// each its own transfer). The driver serialises its transfers.
	data bool
}

var errBus = errors.New("injected SPI failure")

func (c *failingConn) Tx(w, r []byte) error {
	if len(w) != 1 {
		return c.Conn.Tx(w, r)
	}
	if !c.data && w[0] == 64 && c.armed.CompareAndSwap(true, false) {
		return errBus // the address byte failed: the access is abandoned
	}
	c.data = !c.data
	return c.Conn.Tx(w, r)
}

var _ conn.Conn = (*failingConn)(nil)

func newFailingRig(t *testing.T, cfg Config) (*rig, *atomic.Bool) {
	armed := new(atomic.Bool)
	r := newRigWrapped(t, cfg, func(h hal.SLIC) hal.SLIC {
		h.Port = failingPort{Port: h.Port, armed: armed}
		return h
	})
	return r, armed
}

// Answering a ringing line while the linefeed cannot be written: the line
// goes to the fault and stays there (open, no off-hook reported) until the
// production FaultRetry; then, the phone still off-hook, it gets dial tone.
// Before the fix the answer's own event moved the line out of StateFault
// into a call at once, with the line open and no retry.
func TestLinefeedFailureOnAnswerStaysInFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig() // FaultRetry 30 s
		r, armed := newFailingRig(t, cfg)
		defer r.stop()
		if err := r.p.ring(ringRequest{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if s := r.p.State(); s != StateRinging {
			t.Fatalf("state %v, want ringing", s)
		}
		r.clearEvents()
		armed.Store(true)
		r.ph.offHook()
		r.mustEvent(EvFault, time.Second)
		time.Sleep(time.Second)
		if s := r.p.State(); s != StateFault {
			t.Fatalf("state %v after a failed linefeed write on answer, want fault", s)
		}
		for _, e := range r.events() {
			if e.Kind == EvOffHook {
				t.Fatalf("answer reported although the line could not be fed: %v", r.events())
			}
		}
		if prog, _ := r.m.Linefeed(); prog != 0 {
			t.Fatalf("linefeed %v in fault, want open", prog)
		}
		time.Sleep(25 * time.Second) // still inside FaultRetry
		if s := r.p.State(); s != StateFault {
			t.Fatalf("state %v 26 s into a 30 s FaultRetry, want fault", s)
		}
		time.Sleep(6 * time.Second)
		if s := r.p.State(); s != StateDialing {
			t.Fatalf("state %v after FaultRetry with the phone off-hook, want dialing; events %v", s, r.events())
		}
		r.mustEvent(EvFaultCleared, 0)
		r.mustEvent(EvOffHook, 0)
	})
}

// Hanging up while the linefeed cannot be written reports one on-hook (from
// the fault), and the line stays in the fault until the retry.
func TestLinefeedFailureOnRingStopStaysInFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, armed := newFailingRig(t, DefaultConfig())
		defer r.stop()
		if err := r.p.ring(ringRequest{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		armed.Store(true)
		if err := r.p.StopRinging(); err != nil {
			t.Fatal(err)
		}
		r.mustEvent(EvFault, time.Second)
		time.Sleep(time.Second)
		if s := r.p.State(); s != StateFault {
			t.Fatalf("state %v after a failed linefeed write at ring stop, want fault", s)
		}
		if prog, _ := r.m.Linefeed(); prog != 0 {
			t.Fatalf("linefeed %v in fault, want open", prog)
		}
		time.Sleep(31 * time.Second)
		if s := r.p.State(); s != StateIdle {
			t.Fatalf("state %v after FaultRetry, want idle", s)
		}
	})
}
