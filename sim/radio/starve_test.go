package radio

import (
	"testing"
	"time"
)

// The emulated module shares basesim's process: when that process is
// starved of CPU its read loop may not have read the host's ACK by the
// time its retransmission timer fires. Such a retransmission must not
// count towards giving up on the host (issue 9); one after which the read
// loop has looked at the line does.
func TestEmulatorCountsOnlyRetransmissionsItReadAfter(t *testing.T) {
	e, err := New(&Options{BootDelay: time.Millisecond, AckTimeout: time.Hour, MaxRetries: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var synced bool
	e.do(func() {
		e.booted, e.synced = true, true
		e.send([]byte{0xC3, 0, 1}) // a DETACH-IND for the host, never acknowledged
		stale := e.lastTx.Add(-time.Millisecond)
		for range 10 {
			e.retransmit(stale) // the read loop has not looked since
		}
		synced = e.synced
	})
	if !synced {
		t.Fatal("the module gave up on the host while its own read loop was starved")
	}
	e.do(func() {
		for range 4 {
			e.retransmit(e.lastTx.Add(time.Millisecond))
		}
		synced = e.synced
	})
	if synced {
		t.Fatal("the module kept retransmitting past MaxRetries although it read the line each time")
	}
}
