package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"basestation/internal/health"
)

// supervised reports whether systemd (or anything speaking its notify
// protocol) supervises this process: NOTIFY_SOCKET is set.
func supervised() bool { return os.Getenv("NOTIFY_SOCKET") != "" }

// notifySystemd speaks the sd_notify protocol for the daemon until ctx ends:
//
//   - READY=1 once every main loop has made progress (the board answered
//     when the daemon was built; the loops running means the stored state
//     is loaded and applied, see health.Health);
//   - WATCHDOG=1 every watchdog interval/4, but only when every loop beat
//     within the last interval/2: a stuck loop stops the pings and systemd
//     restarts the daemon (WatchdogSec= in the unit);
//   - STOPPING=1 as soon as shutdown starts.
//
// Without NOTIFY_SOCKET, go-systemd sends nothing. The caller waits for it
// to return.
func notifySystemd(ctx context.Context, h *health.Health, log *slog.Logger) {
	send := func(state string) {
		if _, err := sd.SdNotify(false, state); err != nil {
			log.Warn("systemd notify", "state", strings.SplitN(state, "\n", 2)[0], "error", err)
		}
	}
	defer send(sd.SdNotifyStopping)
	wd, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog setting ignored", "error", err)
		wd = 0
	}
	poll := 100 * time.Millisecond
	t := time.NewTicker(poll)
	defer t.Stop()
	var last []string
	for waiting := h.Waiting(); len(waiting) > 0; waiting = h.Waiting() {
		if !slices.Equal(waiting, last) {
			log.Info("waiting for the main loops before READY", "loops", waiting)
			last = waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	send(sd.SdNotifyReady + "\nSTATUS=running: line, radio, SIP and cloud loops up")
	log.Info("ready", "watchdog", wd)
	if wd <= 0 {
		<-ctx.Done()
		return
	}
	t.Reset(wd / 4)
	last = nil
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			stale := h.Stale(now, wd/2)
			if len(stale) == 0 {
				send(sd.SdNotifyWatchdog)
			} else if !slices.Equal(stale, last) {
				log.Error("main loops not making progress: watchdog pings withheld, systemd will restart the daemon", "loops", stale, "within", wd/2)
				send(fmt.Sprintf("STATUS=stuck: %s", strings.Join(stale, ", ")))
			}
			last = stale
		}
	}
}
