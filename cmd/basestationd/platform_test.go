package main

import (
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"basestation/internal/daemon"
	"basestation/provisioning"
	"basestation/provisioning/cloud"
	"basestation/sim/broker"
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
	base := []string{"--board", "virtual:/run/b.sock", "--base-id", "b1"}
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

// basestationd started with the update flags takes a firmware-update
// command as a job (its first report is queued, then downloading), where
// without them the base answers "not supported".
func TestUpdateFlagsTurnFirmwareJobsOn(t *testing.T) {
	b, err := broker.Start(broker.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dir := t.TempDir()
	// The bundle server: never answers with the bundle (the job is not
	// meant to finish here), its certificate is the firmware CA.
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	ca := filepath.Join(dir, "fw-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, board := servedBoard(t)
	args := func(extra ...string) []string {
		return append([]string{"--board", board, "--base-id", "b1", "--state-dir", filepath.Join(dir, "state"),
			"--sip-listen", "127.0.0.1:0", "--broker", b.URL(), "--log-level", "error"}, extra...)
	}
	c, err := cloud.Dial(context.Background(), cloud.Options{Brokers: []string{b.URL()}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fa := provisioning.FirmwareUpdateArgs{URL: srv.URL + "/b.raucb", Version: "9.0.0", Size: 1000, SHA256: strings.Repeat("ab", 32)}

	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"off", nil},
		{"on", []string{"--firmware-ca", ca, "--reboot-command", "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, pl, err := parseAll(args(tc.extra...), io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- serve(ctx, cfg, io.Discard, hooks{platform: pl}) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			deadline := time.Now().Add(15 * time.Second)
			for {
				st, err := c.Status(ctx, "b1")
				if err == nil && st.Online {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the base did not come online")
				}
				time.Sleep(50 * time.Millisecond)
			}
			fctx, fcancel := context.WithTimeout(ctx, 15*time.Second)
			defer fcancel()
			var states []string
			_, r, err := c.FirmwareUpdate(fctx, "b1", "fw-"+tc.name, fa, func(j provisioning.FirmwareJob) {
				states = append(states, j.State)
				if j.State == provisioning.JobDownloading {
					fcancel() // seen enough: the job runs
				}
			})
			if tc.name == "off" {
				if err != nil || r == nil || r.Status != provisioning.StatusRejected || !strings.Contains(r.Reason, "not supported") {
					t.Fatalf("without the flags: result %+v, err %v", r, err)
				}
				return
			}
			if r != nil || len(states) < 2 || states[0] != provisioning.JobQueued || states[1] != provisioning.JobDownloading {
				t.Fatalf("with the flags: result %+v, job states %v (err %v)", r, states, err)
			}
		})
	}
}
