// Command bsctl is the administrator's side of the base station's cloud
// contract (docs/mqtt-api.md), from a terminal, over MQTT: what the cloud
// portal does (product/admin-help-users-and-devices.txt). It lists bases
// and their state, registers new devices (registration mode with progress),
// lists, assigns and unassigns an extension's devices, removes devices,
// changes an extension's caller ID and other settings, pushes whole
// configuration documents and follows events live.
//
// Usage: bsctl [global flags] <command> [flags]; `bsctl help` lists the
// commands, the global flags and the exit codes, `bsctl help CMD` shows one
// command. Output is a table for people or JSON with --json; progress and
// errors go to stderr. Exit codes: 0 done, 1 failed, 2 usage, 3 broker
// unreachable, 4 pending (the base applies the change when a call ends),
// 5 no answer within --timeout, 130 interrupted (register closes the
// registration mode it opened first).
//
// One file per command family: bases.go, register.go, devices.go,
// extensions.go, config.go (configuration changes and documents),
// actions.go (page, resync, reboot), events.go; commands.go is the table,
// help.go the help, progress.go the progress lines, main.go the flags,
// connection and exit codes.
//
// It is wiring only: the contract logic is in provisioning/cloud.
package main
