// Package armtest runs the daemon built for the board's ARM processors
// under qemu user-mode emulation (Debian's qemu-user-static), so CI on an
// amd64 host executes ARM code and not only compiles it.
//
// Its test cross-builds cmd/basesim (the real daemon wiring on the
// in-process simulated board) for linux/arm GOARM=7, runs it under
// qemu-arm-static with its control API on loopback, and drives one whole
// call through that API. The unit tests of the hardware-free packages are
// run under qemu for arm and arm64 by scripts/test-arm.sh (make test-arm),
// which also runs this package.
//
// It has test files only, imports nothing of the project outside tests,
// and finds qemu through internal/testpeer (missing in CI is a failure).
package armtest
