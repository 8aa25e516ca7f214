// Package testpeer starts and stops the third-party programs that tests run
// against (kamailio, baresip, SIPp, mosquitto, minimodem, spandsp decoders,
// espeak-ng, sox, and chromium for the web panel's browser test): it finds
// them, fails or skips when they are missing, picks free loopback ports, and
// stops every process it started by its PID.
//
// A peer that is not installed fails the test when the environment variable
// CI is set (so CI never passes by skipping) and skips it otherwise, naming
// the script that installs it. It is imported by tests only.
//
// It imports nothing of the project and is imported only by tests
// (architecture_test.go enforces that).
package testpeer
