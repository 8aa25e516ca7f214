// Package soak is a randomized soak of the whole simulated Base Station
// (issue 9 §1). It drives the base only through its outside interfaces:
// MQTT as the cloud does (provisioning/cloud, the client bsctl uses), the
// simulated hardware as a person at the phones does (the same calls the
// simulator's control API makes: the analog phone's hook switch and keypad,
// the DECT devices' keys, the module's reset, the SLIC's alarms), and SIP
// from the stand-in PBX's softphones (sim/pbx, sim/softphone). A seeded
// random walk adds, pairs, assigns, unassigns and removes devices (right
// and wrong PINs, expired windows), pushes configurations (valid, invalid,
// older, duplicate), sends registration-mode commands, places and ends
// calls in both directions on every kind of device, uses call waiting and
// transfer, switches message waiting, resets the radio module, faults the
// line, restarts the broker and takes the PBX away. After every step it
// checks the invariants listed in docs/soak.md; at quiet points it checks
// that goroutines, open files and the heap came back to their baseline.
//
// It is a test-only package: the base is built in its tests the way
// cmd/basesim's world.go builds it (internal/* may not import cmd, and
// only tests outside cmd may import sim; ARCHITECTURE.md). Each seed runs
// in a child process (the test binary re-executed), so a panic anywhere in
// the base is caught and reported with the seed and the steps that led to
// it. `go test ./internal/soak -seed N -steps M` replays a failure.
package soak
