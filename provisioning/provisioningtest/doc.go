// Package provisioningtest has fakes of the interfaces the provisioning
// agent needs from the daemon (Applier, Radio, StateSource) and sample
// documents, for tests of provisioning, cmd/bsctl and the daemon's wiring.
// The fakes behave like the real thing at the interface (a radio that
// pairs only while its window is open and forgets removed devices; an
// applier that keeps what it applied) and record what they were asked.
//
// It imports provisioning only (no hardware package), like provisioning
// itself.
package provisioningtest
