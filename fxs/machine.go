package fxs

import (
	"fmt"
	"strings"
)

// LineEvent is what moves the line's state machine: the phone (hook
// switch, dialing), the call layer (ring, collect digits), the dial plan's
// timers and the SLIC (faults). lineTable says, for each state, which
// events move it where; loop.fire is the only place the state changes.
type LineEvent int

const (
	// LineStart: Port.Run has fed the line.
	LineStart LineEvent = iota
	// LineOffHook: the phone went off-hook with the line idle.
	LineOffHook
	// LineAnswer: the phone went off-hook while ringing.
	LineAnswer
	// LineRing: the call layer rings the line (a new call replaces the alert).
	LineRing
	// LineRingStop: the call layer stops an unanswered ring.
	LineRingStop
	// LineHangUp: the phone went on-hook (confirmed by the hook classifier,
	// or a glitch too short to be an off-hook).
	LineHangUp
	// LineRecall: a hook flash while dialing: start over.
	LineRecall
	// LineCollect: the call layer asks for digits during a call (transfer).
	LineCollect
	// LineDialed: the dial plan matched the number (or the hotline fired).
	LineDialed
	// LineDialFailed: the number matches no pattern (or a bad pulse digit,
	// or the inter-digit timer with no match).
	LineDialFailed
	// LineOffHookTimeout: off-hook with no digit for OffHookTimeout.
	LineOffHookTimeout
	// LineFault: the SLIC reported a fault or failed.
	LineFault
	// LineFaultCleared: the line could be fed again after FaultRetry.
	LineFaultCleared

	numLineEvents // count; keep last
)

func (e LineEvent) String() string {
	switch e {
	case LineStart:
		return "start"
	case LineOffHook:
		return "off-hook"
	case LineAnswer:
		return "answer"
	case LineRing:
		return "ring"
	case LineRingStop:
		return "ring-stop"
	case LineHangUp:
		return "hang-up"
	case LineRecall:
		return "recall"
	case LineCollect:
		return "collect"
	case LineDialed:
		return "dialed"
	case LineDialFailed:
		return "dial-failed"
	case LineOffHookTimeout:
		return "off-hook-timeout"
	case LineFault:
		return "fault"
	case LineFaultCleared:
		return "fault-cleared"
	}
	return fmt.Sprintf("LineEvent(%d)", int(e))
}

// numStates counts the states (State's values are 0..numStates-1).
const numStates = int(StateFault) + 1

// transition is one row of the line's state table: in state From, event
// On leads to state To, doing Actions (what the loop does, in order).
type transition struct {
	From    State
	On      LineEvent
	To      State
	Actions string
}

// lineTable is the line's state machine. A (state, event) pair not listed
// is not a transition: the event is ignored in that state (the loop's
// handlers never fire it there; TestLineTableGolden prints the table).
var lineTable = [...]transition{
	{StateIdle, LineStart, StateIdle, "feed the line (forward); read the hook: off-hook fires off-hook"},
	{StateIdle, LineOffHook, StateDialing, "end a VMWI burst (resent when idle); linefeed forward; dial tone (stutter while messages wait; none for an immediate hotline); emit off-hook"},
	{StateIdle, LineRing, StateRinging, "end a VMWI burst (resent when idle); start the cadence; schedule caller ID; linefeed ringing"},
	{StateRinging, LineRing, StateRinging, "restart the cadence with the new caller ID; linefeed ringing"},
	{StateRinging, LineAnswer, StateCall, "linefeed forward; drop pending caller ID; emit off-hook (answer)"},
	{StateRinging, LineRingStop, StateIdle, "stop tone and FSK; linefeed forward"},
	{StateDialing, LineRecall, StateDialing, "clear the digits; dial tone again"},
	{StateDialing, LineDialed, StateCall, "stop dial tone; emit dialed (emergency flagged)"},
	{StateDialing, LineDialFailed, StateLockout, "reorder tone; emit dial-failed"},
	{StateDialing, LineOffHookTimeout, StateLockout, "howler tone"},
	{StateDialing, LineHangUp, StateIdle, "stop tone, FSK, call waiting, audio; linefeed forward; emit on-hook"},
	{StateCall, LineCollect, StateDialing, "end call waiting; clear the digits; recall dial tone"},
	{StateCall, LineHangUp, StateIdle, "stop tone, FSK, call waiting, audio; linefeed forward; emit on-hook"},
	{StateLockout, LineHangUp, StateIdle, "stop tone, FSK, call waiting, audio; linefeed forward; emit on-hook"},
	{StateIdle, LineFault, StateFault, "stop everything; open the line; emit fault"},
	{StateRinging, LineFault, StateFault, "stop everything; open the line; emit fault"},
	{StateDialing, LineFault, StateFault, "stop everything; open the line; emit fault, on-hook"},
	{StateCall, LineFault, StateFault, "stop everything; open the line; emit fault, on-hook"},
	{StateLockout, LineFault, StateFault, "stop everything; open the line; emit fault, on-hook"},
	{StateFault, LineFault, StateFault, "keep the line open; retry after FaultRetry; emit fault"},
	{StateFault, LineFaultCleared, StateIdle, "feed the line (forward); emit fault-cleared; read the hook: off-hook fires off-hook"},
}

// lineNext is the state machine's transition function: where event e
// leads from state s, and whether it is a transition at all.
func lineNext(s State, e LineEvent) (transition, bool) {
	for i := range lineTable { // by index: no copy of the table
		if lineTable[i].From == s && lineTable[i].On == e {
			return lineTable[i], true
		}
	}
	return transition{}, false
}

// formatLineTable prints the state table, one row a transition, by state
// then event.
func formatLineTable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %-17s %-8s %s\n", "state", "event", "next", "actions")
	for s := range State(numStates) {
		for e := range numLineEvents {
			if t, ok := lineNext(s, e); ok {
				fmt.Fprintf(&b, "%-8s %-17s %-8s %s\n", s, e, t.To, t.Actions)
			}
		}
	}
	return b.String()
}
