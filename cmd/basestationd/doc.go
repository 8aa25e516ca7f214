// Command basestationd is the Base Station daemon: it drives the analog
// phone port and the DECT radio, registers the extensions with the cloud
// PBX over SIP, and takes its configuration from the cloud over MQTT.
//
//	basestationd --board bs1 --config /etc/basestationd.json
//	basestationd --board sim --state-dir /tmp/bs --broker tcp://127.0.0.1:1883
//
// Flags override the configuration file. SIGINT or SIGTERM stops it with
// the line left safe (ringing off, tones off).
//
// It is wiring only: flags and the configuration file (internal/daemon),
// the board (board, or sim for --board sim), log/slog. No package imports
// it.
package main
