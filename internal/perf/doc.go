// Package perf measures the Base Station daemon's memory and CPU as a
// separate process, next to baresip measured in the same run, for issue 6's
// acceptance item "memory of the running daemon (registered, idle, two
// devices paired) and per active call, and CPU per call".
//
// The non-test code reads a process's usage from /proc (utime+stime from
// /proc/PID/stat, VmRSS and RssAnon from /proc/PID/status) and fits the
// per-call slope by least squares. The harness is in the tests:
//
//   - the process under test is this package's test binary re-executed as
//     "perf-child": the daemon (internal/daemon) on the simulated board
//     (sim: SLIC model with the analog phone, DECT module emulator behind a
//     pty with its devices) and nothing else; the test drives the phone and
//     devices over a line protocol on a loopback socket;
//   - the far ends run in the test process, so their cost is not counted:
//     the MQTT broker (sim/broker), the stand-in PBX (sim/pbx), the cloud
//     portal (provisioning/cloud) and the callers (sim/softphone);
//   - baresip (Debian baresip-core) runs as the anchor with the same far
//     ends: four accounts registered at the same PBX with digest auth,
//     auto-answer, PCMU 20 ms, aufile source (an 8 kHz mono WAV whose
//     per-call copy is discounted), as in shared/reference/performance.md
//     §9 and peers.md §4.
//
// The method is performance.md §8 rows 2-4: RSS after settling at 0..N
// concurrent calls, slope per call by least squares, CPU ms per second
// from utime+stime over a fixed window. go test runs a short form (1 s
// windows, up to 2 calls); BASESTATION_PERF=1 runs the full one (10 s
// windows, 4 calls, BASESTATION_PERF_RUNS alternating runs, median).
// Figures from a -race build are not representative and are labelled so.
//
// perf imports no project package in non-test code; its tests import
// internal/daemon, sim, provisioning and internal/testpeer. Linux only
// (procfs).
package perf
