// Package cloud is the cloud's side of the provisioning contract
// (docs/mqtt-api.md): what the portal does to a base over MQTT. It reads the
// retained desired configuration and reported state, publishes the next
// configuration version and waits for the base to report it applied (or
// rejected with its field errors), sends commands and follows their results
// to the final status, and watches events, under the same topic root as the
// bases (Options.TopicRoot, default bs/v1). cmd/bsctl and the tests of
// provisioning and of the daemon share it.
//
// It imports provisioning (the contract types) and paho; no hardware
// package.
package cloud
