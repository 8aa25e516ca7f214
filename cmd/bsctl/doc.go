// Command bsctl is the administrator's side of the base station's cloud
// contract (docs/mqtt-api.md), from a terminal, over MQTT: what the cloud
// portal does (product/admin-help-users-and-devices.txt). It lists bases
// and their state, registers new devices (registration mode with progress),
// lists, assigns and unassigns an extension's devices, removes devices,
// changes an extension's caller ID and other settings, pushes whole
// configuration documents and follows events live.
//
// Usage: bsctl [global flags] <command> [flags]; `bsctl help` lists the
// commands. Output is a table for people or JSON with --json; failures
// print a clear error and exit non-zero.
//
// It is wiring only: the contract logic is in provisioning/cloud.
package main
