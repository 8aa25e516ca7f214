// Package sim is the simulated Base Station and the things around it. The
// subpackages model the hardware and the outside world: sim/slic (a ProSLIC
// at register level behind periph's SPI and GPIO interfaces), sim/phone (an
// analog phone with its own ear, keypad, rotary dial, caller-ID display and
// lamp), sim/radio (the DECT module emulated behind a pseudo-terminal, with
// simulated Linx and Headset devices), sim/broker (an in-process MQTT
// broker), sim/pbx (a minimal SIP registrar and proxy standing in for the
// cloud PBX), sim/softphone (other users' SIP phones), sim/vboard (the
// board's hardware served on a Unix socket to a daemon in another process,
// docs/virtual-board.md) and sim/fleet (one base's hardware in a fleet of
// thousands, docs/fleet.md). This package
// assembles them into a *hal.Board plus the stand-ins, for cmd/basesim and
// for tests.
//
// sim imports hal but never fxs, dect or sipua: the simulated phone's ear,
// display and keypad use their own signal code, so a bug in the daemon's
// DSP cannot hide itself in a test. Only cmd/* and tests import sim.
package sim
