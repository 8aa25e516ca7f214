package update

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// BundleInfo is what the installer reads from a bundle whose signature it
// verified.
type BundleInfo struct {
	Compatible string
	Version    string
}

// SlotStatus is the installer's view of the slots.
type SlotStatus struct {
	Compatible string
	// Booted is the bootname of the running slot; Primary that of the slot
	// the bootloader starts next.
	Booted, Primary string
}

// ErrBadSignature is a bundle whose signature the installer refused.
var ErrBadSignature = errors.New("bad signature")

// Installer is the system's installer (RAUC on the board). It writes
// slots; the updater never does.
type Installer interface {
	// Info verifies the bundle's signature and reads its manifest,
	// writing nothing.
	Info(ctx context.Context, bundle string) (BundleInfo, error)
	// Install writes the bundle into the inactive slot and makes it the
	// primary for a trial boot.
	Install(ctx context.Context, bundle string) error
	Status(ctx context.Context) (SlotStatus, error)
	// MarkGood marks the booted slot good (ends its trial).
	MarkGood(ctx context.Context) error
	// MarkActiveBooted makes the booted slot the primary again.
	MarkActiveBooted(ctx context.Context) error
}

// RAUC drives RAUC's command line, which talks to the RAUC service over
// D-Bus (de.pengutronix.rauc.Installer) for install and status changes.
type RAUC struct {
	// Bin is the rauc binary ("rauc" when empty).
	Bin string
	// Conf is the system.conf path (RAUC's default when empty).
	Conf string
	// Env is added to the environment (e.g. DBUS_SYSTEM_BUS_ADDRESS for a
	// private bus).
	Env []string
}

func (r RAUC) run(ctx context.Context, args ...string) ([]byte, error) {
	bin := r.Bin
	if bin == "" {
		bin = "rauc"
	}
	if r.Conf != "" {
		args = append([]string{"--conf=" + r.Conf}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cmd.Environ(), r.Env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(lastLines(errb.String()+out.String(), 3))
		return nil, fmt.Errorf("rauc %s: %v: %s", args[len(args)-1], err, msg)
	}
	return out.Bytes(), nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}

// Info runs `rauc info`, which verifies the signature against the keyring.
func (r RAUC) Info(ctx context.Context, bundle string) (BundleInfo, error) {
	out, err := r.run(ctx, "info", "--output-format=json", bundle)
	if err != nil {
		if strings.Contains(err.Error(), "signature") || strings.Contains(err.Error(), "Verify error") {
			return BundleInfo{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return BundleInfo{}, err
	}
	var m struct {
		Compatible string `json:"compatible"`
		Version    string `json:"version"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return BundleInfo{}, fmt.Errorf("rauc info: %w", err)
	}
	return BundleInfo{Compatible: m.Compatible, Version: m.Version}, nil
}

// Install runs `rauc install`.
func (r RAUC) Install(ctx context.Context, bundle string) error {
	_, err := r.run(ctx, "install", bundle)
	return err
}

// Status runs `rauc status`.
func (r RAUC) Status(ctx context.Context) (SlotStatus, error) {
	out, err := r.run(ctx, "status", "--output-format=json")
	if err != nil {
		return SlotStatus{}, err
	}
	return parseStatus(out)
}

func parseStatus(out []byte) (SlotStatus, error) {
	var s struct {
		Compatible string                                 `json:"compatible"`
		Booted     string                                 `json:"booted"`
		Primary    string                                 `json:"boot_primary"`
		Slots      []map[string]struct{ Bootname string } `json:"slots"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		return SlotStatus{}, fmt.Errorf("rauc status: %w", err)
	}
	st := SlotStatus{Compatible: s.Compatible, Booted: s.Booted}
	for _, m := range s.Slots {
		if sl, ok := m[s.Primary]; ok {
			st.Primary = sl.Bootname
		}
	}
	if st.Booted == "" {
		return st, errors.New("rauc status: no booted slot")
	}
	return st, nil
}

// MarkGood runs `rauc status mark-good booted`.
func (r RAUC) MarkGood(ctx context.Context) error {
	_, err := r.run(ctx, "status", "mark-good", "booted")
	return err
}

// MarkActiveBooted runs `rauc status mark-active booted`.
func (r RAUC) MarkActiveBooted(ctx context.Context) error {
	_, err := r.run(ctx, "status", "mark-active", "booted")
	return err
}
