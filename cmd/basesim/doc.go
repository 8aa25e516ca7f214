// Command basesim runs the Base Station daemon on the simulated board with
// everything around it embedded: an in-process MQTT broker (the cloud's
// side), a stand-in PBX (registrar and proxy), simulated phones for the
// other users, the analog phone on the port and simulated DECT devices. A
// console on standard input and an HTTP+JSON control API on loopback act as
// a person at the phones. docs/simulator.md walks through it.
//
// It imports sim and internal/daemon (the wiring it shares with
// basestationd); no package imports it.
package main
