package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"basestation/internal/daemon"
	"basestation/update"
)

// platform is what the daemon needs of the system around it for the
// cloud's reboot command and firmware updates (docs/mqtt-api.md §5.4):
// how to reboot, and where RAUC and the firmware CA are.
type platform struct {
	rebootCmd      string
	firmwareCA     string
	raucConf       string
	raucBus        string
	allowDowngrade bool
	idleDeadline   time.Duration
	healthDeadline time.Duration
}

func (p *platform) flags(fs *flag.FlagSet) {
	fs.StringVar(&p.rebootCmd, "reboot-command", "", "`command` that reboots the base, e.g. \"systemctl reboot\" (default: none; the cloud's reboot and firmware updates are refused)")
	fs.StringVar(&p.firmwareCA, "firmware-ca", "", "PEM `file` of the CA firmware servers' certificates must chain to; turns on firmware updates through RAUC (default: none, updates refused)")
	fs.StringVar(&p.raucConf, "rauc-conf", "", "RAUC's system.conf `file` (default: RAUC's own, /etc/rauc/system.conf)")
	fs.StringVar(&p.raucBus, "rauc-bus", "", "D-Bus `address` of the RAUC service (default: the system bus)")
	fs.BoolVar(&p.allowDowngrade, "allow-downgrade", false, "this base consents to firmware downgrades (a job must ask for one too)")
	fs.DurationVar(&p.idleDeadline, "update-idle-deadline", 0, "how long an update waits for every line to be idle before it ends rejected/busy (default 1h)")
	fs.DurationVar(&p.healthDeadline, "update-health-deadline", 0, "how long the trial boot has to prove healthy before it is not marked good (default 5m)")
}

// check names the first flag that is wrong or useless without another.
func (p *platform) check() error {
	if p.firmwareCA == "" {
		for _, f := range []struct {
			name string
			set  bool
		}{{"rauc-conf", p.raucConf != ""}, {"rauc-bus", p.raucBus != ""}, {"allow-downgrade", p.allowDowngrade},
			{"update-idle-deadline", p.idleDeadline != 0}, {"update-health-deadline", p.healthDeadline != 0}} {
			if f.set {
				return fmt.Errorf("flag --%s: firmware updates are off (no --firmware-ca)", f.name)
			}
		}
		return nil
	}
	if p.rebootCmd == "" {
		return errors.New("flag --firmware-ca: firmware updates need --reboot-command (the update ends in a reboot)")
	}
	if _, err := os.Stat(p.firmwareCA); err != nil {
		return fmt.Errorf("flag --firmware-ca: %w", err)
	}
	if p.raucConf != "" {
		if _, err := os.Stat(p.raucConf); err != nil {
			return fmt.Errorf("flag --rauc-conf: %w", err)
		}
	}
	if p.idleDeadline < 0 {
		return fmt.Errorf("flag --update-idle-deadline: %v is negative", p.idleDeadline)
	}
	if p.healthDeadline < 0 {
		return fmt.Errorf("flag --update-health-deadline: %v is negative", p.healthDeadline)
	}
	return nil
}

// options puts the platform into the daemon's options.
func (p *platform) options(o *daemon.Options) {
	if p.rebootCmd != "" {
		args := strings.Fields(p.rebootCmd)
		o.Reboot = func(ctx context.Context) error {
			out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %v: %s", p.rebootCmd, err, strings.TrimSpace(string(out)))
			}
			return nil
		}
	}
	if p.firmwareCA == "" {
		return
	}
	r := update.RAUC{Conf: p.raucConf}
	if p.raucBus != "" {
		r.Env = []string{"DBUS_SYSTEM_BUS_ADDRESS=" + p.raucBus}
	}
	o.Update = &daemon.UpdateOptions{
		Installer:      r,
		CAFile:         p.firmwareCA,
		AllowDowngrade: p.allowDowngrade,
		IdleDeadline:   p.idleDeadline,
		HealthDeadline: p.healthDeadline,
	}
}
