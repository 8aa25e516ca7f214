// Command basestationd is the Base Station daemon: it drives the analog
// phone port and the DECT radio, registers the extensions with the cloud
// PBX over SIP, and takes its configuration from the cloud over MQTT.
//
//	basestationd --board bs1 --base-id base-0001 --config /etc/basestationd.json
//	basestationd --board virtual:/tmp/board.sock --base-id base-1 --state-dir /tmp/bs --broker tcp://127.0.0.1:11883
//	basestationd probe --board bs1
//
// The board and the base id are required (no default): without a board it
// refuses to start. virtual:SOCKET is the simulator's board served by
// basesim --serve-board SOCKET (board/virtual, docs/virtual-board.md); the
// binary itself contains no simulator (architecture_test.go checks it). the other settings
// have defaults that -h shows and the start-up log line prints. Flags
// override the configuration file (packaging/basestationd.json shows every
// key). Every invalid setting is refused naming it; a board whose device
// files are missing is refused naming the device and what enables it.
// SIGINT or SIGTERM stops it with the line left safe (ringing off, tones
// off).
//
// Under systemd (NOTIFY_SOCKET set; packaging/basestationd.service) it
// speaks sd_notify through github.com/coreos/go-systemd/v22: READY=1 once
// every main loop runs, WATCHDOG=1 only while every loop makes progress
// (internal/health.Health), STOPPING=1 on shutdown (notify.go).
//
// probe (probe.go) checks a board's hardware for bring-up and prints a
// pass/fail table with the next step for each failure.
//
// It is wiring only: flags and the configuration file (internal/daemon),
// the board (board, or board/virtual for virtual:SOCKET), log/slog. No package imports
// it.
package main
