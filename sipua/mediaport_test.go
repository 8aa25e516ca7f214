package sipua

import (
	"context"
	"testing"
)

// suppressPort is an endpoint audio port that records the in-band DTMF
// suppression asked of it.
type suppressPort struct{ calls []bool }

func (p *suppressPort) Rate() int                                 { return 8000 }
func (p *suppressPort) ReadFrame(context.Context, []int16) error  { return nil }
func (p *suppressPort) WriteFrame(context.Context, []int16) error { return nil }
func (p *suppressPort) SuppressInBandDTMF(on bool)                { p.calls = append(p.calls, on) }

// The port attached to a call is told whether digits go out of band
// (telephone-event negotiated): when it is attached (through the
// endpoint's lockedPort), and again when a re-negotiation changes it.
func TestAttachedPortToldToSuppressInBandDTMF(t *testing.T) {
	sw := &switchPort{}
	sw.setSuppressDTMF(true) // negotiated before the port is attached
	p := &suppressPort{}
	sw.set(&lockedPort{portLocks: &portLocks{}, p: p})
	sw.setSuppressDTMF(false) // a re-INVITE without telephone-event
	sw.set(nil)
	sw.setSuppressDTMF(true) // detached: the port is not touched
	if len(p.calls) != 2 || !p.calls[0] || p.calls[1] {
		t.Fatalf("SuppressInBandDTMF calls %v, want [true false]", p.calls)
	}
}
