package provisioning_test

import (
	"context"
	"log/slog"
	"os/signal"
	"syscall"

	"basestation/provisioning"
	"basestation/provisioning/provisioningtest"
)

// The daemon's wiring: implement Applier (over sipua, fxs and dect), Radio
// (over dect) and StateSource, then run the agent next to the other
// subsystems. Post events and call StateChanged as things happen.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	tlsCfg, err := provisioning.LoadTLS("/etc/basestation/ca.pem", "/etc/basestation/device.pem", "/etc/basestation/device.key")
	if err != nil {
		slog.Error("tls", "err", err)
		return
	}
	applier := provisioningtest.NewApplier() // the daemon's own Applier
	radio := provisioningtest.NewRadio()     // the daemon's own Radio
	agent, err := provisioning.NewAgent(provisioning.Options{
		BaseID:   "bs-1",
		Brokers:  []string{"ssl://mqtt.example.net:8883"},
		TLS:      tlsCfg,
		StateDir: "/var/lib/basestation/provisioning",
		Applier:  applier,
		Radio:    radio,
		State:    &provisioningtest.State{}, // the daemon's registrations and lines
		Firmware: "1.4.0",
	})
	if err != nil {
		slog.Error("provisioning.NewAgent", "err", err)
		return
	}
	go func() {
		// Elsewhere in the daemon, as things happen:
		agent.Post(provisioning.Event{Type: provisioning.EvRegistrationState, Extension: "101", State: provisioning.RegRegistered})
		agent.StateChanged()
	}()
	if err := agent.Run(ctx); err != nil {
		slog.Error("provisioning", "err", err)
	}
}
