// Package broker is the simulator's stand-in for the cloud's MQTT broker: an
// in-process github.com/mochi-mqtt/server/v2 broker bound to 127.0.0.1 on a
// random or given port, with optional TLS and client-certificate
// authentication, used by cmd/basesim and by tests of the provisioning
// contract (docs/mqtt-api.md). It also generates throw-away certificate
// authorities and certificates (pki.go) for mutual-TLS tests against it and
// against mosquitto.
//
// mochi v2.7.9 ends a clean session in the old connection's goroutine and
// removes its subscriptions and client-table entry by client id, which can
// run after a new connection with the same id (a base that restarts) has
// subscribed; the broker then lost every message for the new connection.
// A hook (sessionOrderHook) admits such a connection only once the old one
// is gone (TestSameIDReconnectKeepsItsSubscriptions).
//
// It imports no package of the project (it is part of room sim, which may
// import hal only, and it must stay free of provisioning so the broker cannot
// share a bug with the agent it tests).
package broker
