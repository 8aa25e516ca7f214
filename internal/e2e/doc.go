// Package e2e holds end-to-end tests of the Base Station daemon against
// real third-party servers and phones: the daemon (internal/daemon) runs
// on the simulated board (sim: the SLIC model with an analog phone, the
// DECT module emulated behind a pty with simulated Linx and Headset
// devices), takes its configuration from the in-process MQTT broker
// (sim/broker) through the cloud client (provisioning/cloud, acting as the
// portal), and registers at kamailio as the office's PBX; the other users'
// phones are baresip instances. Audio is checked by frequency at both
// ends (baresip's own recordings, the simulated phones' ears).
//
// It is a test-only package: it has no non-test code besides this file
// and nothing imports it. Its tests may import internal/daemon,
// provisioning, sim and internal/testpeer (ARCHITECTURE.md, "Time, tests
// and the simulator"); they follow issue 6's acceptance items, and the
// peers are started as docs in shared/reference/peers.md describe
// (loopback only, free ports, stopped by PID, bounded waits).
package e2e
