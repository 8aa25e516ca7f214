// Package update runs firmware updates as jobs (docs/mqtt-api.md §5.4):
// download over HTTPS with resume, verification (size, sha256, and the
// bundle's signature, compatible and version through RAUC), waiting for
// every line to be idle, installation by RAUC into the inactive slot, the
// reboot, the trial boot's health check and the one final result; after
// an update that succeeded, the base's self-test (Config.SelfTest: the
// caller-ID path, retried while the line is busy). Open builds a base's
// updater from its Options (the firmware CA file, the jobs directory).
//
// It knows no hardware: idleness and health are asked through the Lines and
// Health interfaces. What the trial boot's health is (the cloud connected,
// every account registered, the line without fault, the radio ready) is
// Checks, whose checks internal/daemon wires to the rooms that know. It never writes a
// slot itself; RAUC (the Installer) does. A job is persisted with
// internal/atomicfile before each state is reported, so it survives a
// restart and a power cut and ends with exactly one final state.
package update
