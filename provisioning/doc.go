// Package provisioning is the base station's side of the cloud contract
// specified in docs/mqtt-api.md: the configuration document (extensions,
// their SIP accounts, caller IDs and assigned devices; system settings) with
// its validation; the wire messages (desired configuration, reported state,
// commands and results, events, birth and last will) with their decoders,
// all built on DecodeStrict, the project's one decoder of outside JSON
// (duplicate keys and unknown fields refused with the field path; the
// daemon's settings file uses it too); the MQTT agent that reconciles
// desired configuration, runs commands and reports state over
// github.com/eclipse/paho.mqtt.golang, under a configurable topic root, and
// keeps its broker connection with exponential back-off and jitter; and the
// on-disk store that keeps the applied configuration across reboots
// (atomic writes through internal/atomicfile, checksums, secrets in a
// separate 0600 file). The contract's default dial plan is defined here
// (DefaultDialPlan) and is the one the base applies.
//
// How a configuration is put in force is defined here too: ConfigApplier
// (the Applier the daemon gives the agent) turns a document into a Plan —
// SIP accounts for the extensions with a device on this base (AccountOf),
// the analog line's digit map (DigitMap) and system settings, which device
// rings for which extension — and applies it in order through Accounts,
// LineSetup and Attachments, small interfaces the daemon satisfies with
// sipua, fxs and dect. Registrations keeps the registrations of the
// accounts in force; PairingSlot holds a registration window's one
// outcome; WaitToken is the one way to wait on an MQTT token.
//
// The agent reaches the rest of the daemon only through the interfaces
// defined here (Applier, Radio, StateSource); it imports no hardware package
// (hal, fxs, dect, board, sim) and nothing of sipua. Its tests use the
// in-process broker of sim/broker and mosquitto. The cloud side of the same
// contract (used by cmd/bsctl and by tests) is in provisioning/cloud.
package provisioning
