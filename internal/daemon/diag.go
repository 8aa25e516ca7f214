package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"basestation/dect"
	"basestation/fxs"
	"basestation/provisioning"
	"basestation/update"
)

// portTests gives the agent the analog port's diagnostics
// (provisioning.LineTester): the port's own results as JSON, its refusals
// in the contract's words.
type portTests struct{ port *fxs.Port }

func (p portTests) LineTest(ctx context.Context, port string) (json.RawMessage, error) {
	r, err := p.port.LineTest(ctx)
	if err != nil {
		return nil, diagErr(err)
	}
	return json.Marshal(r)
}

func (p portTests) CallerIDSelfTest(ctx context.Context) (json.RawMessage, error) {
	r, err := p.port.CallerIDSelfTest(ctx)
	if err != nil {
		return nil, diagErr(err)
	}
	return json.Marshal(r)
}

func diagErr(err error) error {
	switch {
	case errors.Is(err, fxs.ErrLineBusy):
		return fmt.Errorf("%w: %v", provisioning.ErrLineBusy, err)
	case errors.Is(err, fxs.ErrTestUnsupported):
		return fmt.Errorf("%w: %v", provisioning.ErrUnsupported, err)
	}
	return err
}

// radioHealth is a paired device's health in the contract's form.
func radioHealth(h dect.Health) *provisioning.RadioHealth {
	r := &provisioning.RadioHealth{Link: h.Link, RSSIdBm: h.RSSI, LinkQualityPct: h.Quality, BatteryPct: h.Battery, Firmware: h.Firmware}
	if !h.LastSeen.IsZero() {
		t := h.LastSeen.UTC().Truncate(time.Second)
		r.LastSeen = &t
	}
	return r
}

// selfTest runs the caller-ID self-test: nil when it passed, the failed
// stage otherwise; update.ErrLineBusy when the port is in use.
func (p portTests) selfTest(ctx context.Context) error {
	r, err := p.port.CallerIDSelfTest(ctx)
	switch {
	case errors.Is(err, fxs.ErrLineBusy):
		return fmt.Errorf("%w: %w", update.ErrLineBusy, err)
	case err != nil:
		return err
	case !r.Pass:
		return fmt.Errorf("caller-ID self-test failed: %s", r.Failure)
	}
	return nil
}
