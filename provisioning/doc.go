// Package provisioning is the base station's side of the cloud contract
// specified in docs/mqtt-api.md: the configuration document (extensions,
// their SIP accounts, caller IDs and assigned devices; system settings) with
// its validation; the wire messages (desired configuration, reported state,
// commands and results, events, birth and last will) with their decoders;
// the MQTT agent that reconciles desired configuration, runs commands and
// reports state over github.com/eclipse/paho.mqtt.golang; and the on-disk
// store that keeps the applied configuration across reboots (atomic writes,
// checksums, secrets in a separate 0600 file).
//
// The agent reaches the rest of the daemon only through the interfaces
// defined here (Applier, Radio, StateSource); it imports no hardware package
// (hal, fxs, dect, board, sim) and nothing of sipua. Its tests use the
// in-process broker of sim/broker and mosquitto. The cloud side of the same
// contract (used by cmd/bsctl and by tests) is in provisioning/cloud.
package provisioning
