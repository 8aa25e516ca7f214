// Package perf measures the Base Station daemon's memory and CPU as a
// separate process, next to baresip measured in the same run, for issue 6's
// acceptance item "memory of the running daemon (registered, idle, two
// devices paired) and per active call, and CPU per call".
//
// The non-test code is the measuring: a process's usage from /proc
// (utime+stime from /proc/PID/stat, VmRSS and RssAnon from
// /proc/PID/status, context switches summed over /proc/PID/task/*/status;
// ReadUsage, MeasureWindow), the least-squares slope per
// call (LeastSquares), and a reader of pprof CPU profiles that splits CPU
// time by who is on the stack (CPUByStack). The harness is in the tests:
//
//   - the process under test is this package's test binary re-executed as
//     "perf-child" (test code may import sim; non-test code outside cmd/
//     may not): the daemon (internal/daemon) on the simulated board (SLIC
//     model with the analog phone, DECT module emulator behind a pty with
//     its devices), wired as basesim wires it
//     (random RTP ports, as basesim), plus a loopback control socket
//     through which the test lifts the phone and answers on the devices;
//   - the far ends run in the test process, so their cost is not counted:
//     MQTT broker (sim/broker), stand-in PBX with digest auth (sim/pbx),
//     the cloud portal (provisioning/cloud: configuration, Register New
//     Device, assignment) and the callers (sim/softphone, PCMU 20 ms);
//   - the real basestationd binary (built as make cross builds it, --board
//     virtual:SOCKET, the simulated board served from the test process, so
//     the daemon is measured alone) is measured registered with no device
//     (which shows what hosting the daemon in the test binary adds), then
//     idle with two extensions registered and a Linx and a Headset paired
//     on the served board (issue 11's state, a 60 s window), then through
//     0..N concurrent calls answered on the served board;
//   - baresip 1.0 (Debian baresip-core) is the anchor with the same far
//     ends: four accounts registered at the same PBX, auto-answer, PCMU,
//     aufile source (an 8 kHz mono WAV; its per-call copy is modelled and
//     taken out of the memory slope, see aufileHeld), as in
//     shared/reference/performance.md §9 and peers.md §4.
//
// The method is performance.md §8 rows 2-4: RSS after settling at 0..N
// concurrent calls (median of samples over the window), slope per call by
// least squares, CPU ms per second from utime+stime over a fixed window.
// A CPU profile of the daemon process at 0 and N calls tells the
// simulated hardware's share from the daemon's. go test runs a short form
// (1 s windows, up to 2 calls, about 25 s); BASESTATION_PERF=1 the full one
// (10 s windows, 4 calls, BASESTATION_PERF_RUNS alternating runs, medians;
// scripts/perf-vs-baresip.sh). Figures from a -race build are labelled as
// not representative. Nothing is asserted against a target: the tests
// check that every step really carried its calls (RTP reaching every
// caller, audio reaching every DECT device) and that readings are sane.
//
// perf imports no project package in non-test code; its tests import
// internal/daemon, sim, provisioning and internal/testpeer. Linux only.
package perf
