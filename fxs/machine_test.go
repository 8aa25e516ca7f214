package fxs

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/linetable.golden")

// The line's state table, printed: a change to the machine shows as a diff
// of testdata/linetable.golden (go test ./fxs -run TestLineTableGolden -update).
func TestLineTableGolden(t *testing.T) {
	got := formatLineTable()
	path := filepath.Join("testdata", "linetable.golden")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("state table changed; run with -update if intended\ngot:\n%s\nwant:\n%s", got, want)
	}
	t.Logf("\n%s", got)
}

// The transition function, row by row, without a port or goroutines.
func TestLineTransitions(t *testing.T) {
	for _, c := range []struct {
		from State
		on   LineEvent
		to   State
		ok   bool
	}{
		{StateIdle, LineOffHook, StateDialing, true},
		{StateIdle, LineRing, StateRinging, true},
		{StateRinging, LineRing, StateRinging, true},
		{StateRinging, LineAnswer, StateCall, true},
		{StateRinging, LineRingStop, StateIdle, true},
		{StateDialing, LineDialed, StateCall, true},
		{StateDialing, LineDialFailed, StateLockout, true},
		{StateDialing, LineOffHookTimeout, StateLockout, true},
		{StateDialing, LineRecall, StateDialing, true},
		{StateCall, LineCollect, StateDialing, true},
		{StateCall, LineHangUp, StateIdle, true},
		{StateLockout, LineHangUp, StateIdle, true},
		{StateDialing, LineHangUp, StateIdle, true},
		{StateCall, LineFault, StateFault, true},
		{StateFault, LineFaultCleared, StateIdle, true},
		// Not transitions: the event means nothing in that state.
		{StateIdle, LineHangUp, 0, false},
		{StateIdle, LineAnswer, 0, false},
		{StateCall, LineRing, 0, false},
		{StateDialing, LineRing, 0, false},
		{StateLockout, LineDialed, 0, false},
		{StateRinging, LineOffHook, 0, false},
		{StateFault, LineRing, 0, false},
		{StateIdle, LineFaultCleared, 0, false},
	} {
		tr, ok := lineNext(c.from, c.on)
		if ok != c.ok || (ok && tr.To != c.to) {
			t.Errorf("%v --%v--> %v (%v), want %v (%v)", c.from, c.on, tr.To, ok, c.to, c.ok)
		}
	}
}

// The table is a function: one row per (state, event), every state is
// entered and left, every event is used, and faults are possible anywhere.
func TestLineTableWellFormed(t *testing.T) {
	seen := map[[2]int]bool{}
	entered, left := map[State]bool{}, map[State]bool{}
	used := map[LineEvent]bool{}
	for _, r := range lineTable {
		k := [2]int{int(r.From), int(r.On)}
		if seen[k] {
			t.Errorf("two rows for %v, %v", r.From, r.On)
		}
		seen[k] = true
		if r.Actions == "" {
			t.Errorf("%v, %v: no actions described", r.From, r.On)
		}
		entered[r.To], left[r.From], used[r.On] = true, true, true
	}
	for s := range State(numStates) {
		if !entered[s] || !left[s] {
			t.Errorf("state %v: entered %v, left %v", s, entered[s], left[s])
		}
		if tr, ok := lineNext(s, LineFault); !ok || tr.To != StateFault {
			t.Errorf("state %v: no fault transition", s)
		}
		if s.String() == "" || s.String()[0] == 'S' {
			t.Errorf("state %d has no name: %q", int(s), s.String())
		}
	}
	for e := range numLineEvents {
		if !used[e] {
			t.Errorf("event %v is in no row", e)
		}
		if e.String() == "" || e.String()[0] == 'L' {
			t.Errorf("event %d has no name: %q", int(e), e.String())
		}
	}
}
