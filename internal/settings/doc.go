// Package settings is basestationd's own settings file (what the base needs
// before it can reach the cloud: board, state directory, base id, broker,
// SIP listen address, radio limits, logging): its schema, defaults, strict
// decoding and validation, each error naming its setting. The rules the
// cloud contract defines (the base id, the topic root, the strict decoder
// of outside JSON) are provisioning's and are used from there, not copied.
//
// It is imported by cmd/* and internal/daemon only.
package settings
