package main

import (
	"context"
	"flag"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

// runner is one command: it declares its flags, checks its arguments
// before bsctl connects, then runs against the broker.
type runner interface {
	flags(fs *flag.FlagSet)
	check(args []string) error
	run(ctx context.Context, a *app, c *cloud.Client, args []string) error
}

// noFlags is the flags and check of a command that takes neither flags
// nor arguments.
type noFlags struct{}

func (noFlags) flags(*flag.FlagSet)       {}
func (noFlags) check(args []string) error { return noArgs(args) }

// command is a command's entry in the table: its name, its help and how
// to make its runner.
type command struct {
	name  string
	group string
	// args is the synopsis after the name.
	args string
	// summary is the one line of the command list.
	summary string
	// about is the paragraph of `bsctl help CMD`.
	about    string
	needBase bool
	// follows marks a command that waits for news as long as it runs:
	// no progress lines, no --timeout.
	follows bool
	new     func() runner
}

// Command families, in the order the help lists them.
const (
	groupBases   = "bases and base actions"
	groupDevices = "devices"
	groupExts    = "extensions (users)"
	groupConfig  = "configuration documents"
	groupEvents  = "events"
	groupDiag    = "diagnostics"
)

func commands() []command {
	return []command{
		{name: "bases", group: groupBases, summary: "list the bases on the broker, with their state",
			about: "Lists every base that has a status or a state retained on the broker: online, firmware, configuration version, devices, registrations, busy lines, registration mode and uptime. With --base, only that base.",
			new:   func() runner { return &basesCmd{} }},
		{name: "state", group: groupBases, summary: "show a base's reported state", needBase: true,
			about: "Shows what the base reports: configuration applied, pending or rejected, registration mode, devices, SIP registrations and lines.",
			new:   func() runner { return &stateCmd{} }},
		{name: "page", group: groupBases, args: "[--duration 30s]", summary: "ring every DECT device to find it", needBase: true,
			about: "Pages every DECT device paired with the base, as the base's button does with a short press.",
			new:   func() runner { return &pageCmd{} }},
		{name: "resync", group: groupBases, summary: "make the base republish its state, re-read its config", needBase: true,
			about: "Makes the base publish its state again and re-read its desired configuration.",
			new:   func() runner { return &simpleCmd{name: provisioning.CmdResync} }},
		{name: "reboot", group: groupBases, summary: "restart the base", needBase: true,
			about: "Restarts the base. Calls in progress are dropped.",
			new:   func() runner { return &simpleCmd{name: provisioning.CmdReboot} }},
		{name: "update", group: groupBases, args: "--fw-version V (--file BUNDLE | --size N --sha256 HEX) [--id ID] [--allow-downgrade] URL", summary: "update the base's firmware, show progress and the final result", needBase: true, follows: true,
			about: "Sends a firmware-update job for the signed bundle at URL (https) and follows it: download progress, verification, waiting for idle lines, installation, reboot, health check, and the one final result (succeeded, failed, rolled-back or rejected with its reason). Re-sending the same --id never installs twice.",
			new:   func() runner { return &updateCmd{} }},

		{name: "register", group: groupDevices, args: "[--window 120s] [--pin 0000]", summary: "Register New Device: open registration mode, wait", needBase: true,
			about: "Register New Device: opens registration mode on the base and waits until a device pairs, showing the time left; put the device in pairing mode meanwhile. Prints the paired device and how to assign it. Ctrl-C closes registration mode again before bsctl exits (exit code 130).",
			new:   func() runner { return &registerCmd{} }},
		{name: "close-registration", group: groupDevices, summary: "close registration mode", needBase: true,
			about: "Closes registration mode if it is open (a register waiting for it then ends).",
			new:   func() runner { return &simpleCmd{name: provisioning.CmdCloseRegistration} }},
		{name: "devices", group: groupDevices, args: "[--ext N]", summary: "list the base's devices, or an extension's", needBase: true,
			about: "Lists the devices paired with the base and the extension each belongs to; with --ext, the devices of that extension.",
			new:   func() runner { return &devicesCmd{} }},
		{name: "assign", group: groupDevices, args: "--ext N --device ID [--wait]", summary: "assign a device to an extension", needBase: true,
			about: "Assigns a device the base knows to an extension. An extension has at most one device of each type (port, linx, headset). " + aboutPending,
			new: func() runner {
				return &extDeviceCmd{op: (*cloud.Client).AssignDevice, done: "Device %s assigned to extension %s"}
			}},
		{name: "unassign", group: groupDevices, args: "--ext N --device ID [--wait]", summary: "take a device away from an extension", needBase: true,
			about: "Takes a device away from an extension; it stays paired with the base. " + aboutPending,
			new: func() runner {
				return &extDeviceCmd{op: (*cloud.Client).UnassignDevice, done: "Device %s taken away from extension %s"}
			}},
		{name: "remove-device", group: groupDevices, args: "--device ID [--wait]", summary: "deregister a device from the base", needBase: true,
			about: "Deregisters a device from the base's radio and takes it away from its extension. " + aboutPending,
			new:   func() runner { return &removeCmd{} }},

		{name: "extensions", group: groupExts, summary: "list the extensions and their devices", needBase: true,
			about: "Lists the extensions of the desired configuration: name, SIP account, caller ID, voicemail number and devices.",
			new:   func() runner { return &extensionsCmd{} }},
		{name: "set", group: groupExts, args: "--ext N [--caller-id E164] [--name NAME] [--voicemail-number N] [--sip-password P] [--transport T] [--wait]", summary: "change an extension's settings", needBase: true,
			about: "Changes an extension's settings; give at least one. " + aboutPending,
			new:   func() runner { return newSetCmd() }},
		{name: "add-extension", group: groupExts, args: "--ext N --name NAME --sip-user U --sip-password P --sip-domain D [--caller-id E164] [--voicemail-number N] [--transport T] [--wait]", summary: "add a user's extension", needBase: true,
			about: "Adds a user's extension with its SIP account. " + aboutPending,
			new:   func() runner { return &addExtensionCmd{} }},
		{name: "delete-extension", group: groupExts, args: "--ext N [--wait]", summary: "delete an extension (its devices stay paired)", needBase: true,
			about: "Deletes an extension; its devices stay paired with the base, unassigned. " + aboutPending,
			new:   func() runner { return &deleteExtensionCmd{} }},

		{name: "config-get", group: groupConfig, args: "[--show-secrets]", summary: "print the desired configuration document", needBase: true,
			about: "Prints the desired configuration document (JSON), SIP passwords masked unless --show-secrets.",
			new:   func() runner { return &configGetCmd{} }},
		{name: "config-push", group: groupConfig, args: "[--wait] FILE", summary: "publish a configuration document, wait until applied", needBase: true,
			about: "Checks a configuration document, publishes it (version 0: the next version) and waits until the base applies it; every field error is listed. " + aboutPending,
			new:   func() runner { return &configPushCmd{} }},

		{name: "events", group: groupEvents, args: "[--count N]", summary: "follow events live (every base without --base)", follows: true,
			about: "Prints the bases' events as they come (one JSON object a line with --json) until Ctrl-C, or until --count events.",
			new:   func() runner { return &eventsCmd{} }},

		{name: "diag", group: groupDiag, args: "[--line-test] [--self-test] [--log 20] [--types T1,T2]", summary: "line test, caller-ID self-test, radio health and recent events", needBase: true,
			about: "Shows each paired DECT device's radio link as the base reports it (in range or why not, signal, link quality, battery, firmware, last seen) and the base's event log, newest first: registrations, calls with their result, line faults, pairings, updates and restarts with their reason. --line-test also runs the analog line test (GR-909: foreign voltages, leakage, receiver off-hook, ringers) and --self-test the caller-ID self-test, each with every measurement and its verdict; both need the port idle. --types keeps only those event types; --log 0 leaves the log out.",
			new:   func() runner { return &diagCmd{} }},
		{name: "locate", group: groupDiag, args: "[--off] DEVICE", summary: "ring one DECT device to find it", needBase: true,
			about: "Makes one paired DECT device ring so it can be found (page rings them all). It stops when picked up, when it leaves, or with --off.",
			new:   func() runner { return &locateCmd{} }},
	}
}

const aboutPending = "Waits until the base applies the change. A change that would drop a call in progress is deferred by the base: bsctl says so and exits at once with code 4 (pending); the base applies it when the call ends. With --wait, bsctl waits for that instead (up to --timeout)."

func lookup(name string) (*command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return &c, true
		}
	}
	return nil, false
}
