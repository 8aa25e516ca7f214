// Package endpoint is the call vocabulary: what crosses between the call
// layer (sipua) and the phones on the base (the analog port in fxs, the
// paired DECT devices in dect). It holds a caller ID with the reasons a
// number is absent, call-progress tones and ring cadences as typed values,
// the Endpoint interface that a phone implements and the call layer drives,
// and the events a phone reports.
//
// fxs.Port and dect.Device implement Endpoint directly; sipua consumes it.
// The package is values and interfaces only: no behaviour, no goroutines,
// and it imports nothing of the project (ARCHITECTURE.md, floor 0).
package endpoint
