package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/daemon"
	"basestation/update"
)

// The update flags: each wrong one is named; set together they give the
// daemon a RAUC installer on the named bus, the CA, the deadlines and a
// reboot that runs the command.
func TestPlatformFlags(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--board", "sim", "--base-id", "b1"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--rauc-conf", "/x"}, "flag --rauc-conf: firmware updates are off (no --firmware-ca)"},
		{[]string{"--update-health-deadline", "1m"}, "flag --update-health-deadline: firmware updates are off"},
		{[]string{"--firmware-ca", ca}, "firmware updates need --reboot-command"},
		{[]string{"--firmware-ca", filepath.Join(dir, "none.pem"), "--reboot-command", "true"}, "flag --firmware-ca: stat"},
		{[]string{"--firmware-ca", ca, "--reboot-command", "true", "--rauc-conf", filepath.Join(dir, "no.conf")}, "flag --rauc-conf"},
		{[]string{"--firmware-ca", ca, "--reboot-command", "true", "--update-idle-deadline", "-1s"}, "flag --update-idle-deadline: -1s is negative"},
		{[]string{"--firmware-ca", ca, "--reboot-command", "true", "--update-health-deadline", "soon"}, "update-health-deadline"},
	}
	for _, tc := range cases {
		_, _, err := parseAll(append(append([]string{}, base...), tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}

	marker := filepath.Join(dir, "rebooted")
	_, pl, err := parseAll(append(base, "--firmware-ca", ca, "--reboot-command", "touch "+marker, "--rauc-bus", "unix:path=/run/x",
		"--allow-downgrade", "--update-idle-deadline", "20m", "--update-health-deadline", "90s"), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var o daemon.Options
	pl.options(&o)
	u := o.Update
	if u == nil || u.CAFile != ca || !u.AllowDowngrade || u.IdleDeadline != 20*time.Minute || u.HealthDeadline != 90*time.Second {
		t.Fatalf("update options %+v", u)
	}
	if r, ok := u.Installer.(update.RAUC); !ok || len(r.Env) != 1 || r.Env[0] != "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/x" {
		t.Fatalf("installer %#v", u.Installer)
	}
	if err := o.Reboot(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the reboot command did not run: %v", err)
	}
	pl.rebootCmd = "false"
	o = daemon.Options{}
	pl.options(&o)
	if err := o.Reboot(context.Background()); err == nil || !strings.Contains(err.Error(), "false: exit status 1") {
		t.Fatalf("a failing reboot command: %v", err)
	}

	// Without the flags: no reboot, no updates (the command is refused).
	_, pl, err = parseAll(base, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o = daemon.Options{}
	pl.options(&o)
	if o.Reboot != nil || o.Update != nil {
		t.Fatalf("options without the flags: %+v", o)
	}
}
