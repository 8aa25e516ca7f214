package main

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"basestation/hal"
)

// No real systemd runs in the test container: the test owns the notify
// socket (NOTIFY_SOCKET, a unixgram socket) and reads what the daemon
// tells systemd: READY=1 once the loops run, WATCHDOG=1 while they make
// progress, no WATCHDOG=1 while the line's frame loop is wedged (and the
// pings again once it is free), STOPPING=1 on shutdown.
func TestSystemdNotifyAndWatchdog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 256)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	defer func() { conn.Close(); <-readDone }()
	t.Setenv("NOTIFY_SOCKET", sock)
	// 4 s: pings every 1 s, a loop silent for 2 s withholds them. The
	// unit's WatchdogSec is 30 s; 4 s is the shortest the agent's 1 s
	// heartbeat allows, to keep the test short.
	t.Setenv("WATCHDOG_USEC", "4000000")

	sb, vb := servedBoard(t)
	cfg, err := parse([]string{"--board", vb, "--base-id", "b1", "--state-dir", t.TempDir(),
		"--sip-listen", "127.0.0.1:0", "--broker", "tcp://127.0.0.1:1", "--log-level", "error"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	gate := &wedgePCM{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, io.Discard, hooks{board: func(b *hal.Board) {
			gate.PCM = b.SLIC.PCM
			b.SLIC.PCM = gate
		}})
	}()

	// next returns the next datagram, or "" after d.
	next := func(d time.Duration) string {
		select {
		case m := <-msgs:
			return m
		case <-time.After(d):
			return ""
		}
	}
	waitFor := func(what string, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			if m := next(time.Until(deadline)); strings.Contains(m, what) {
				return
			}
		}
		t.Fatalf("no %q within %v", what, d)
	}
	waitFor("READY=1", 15*time.Second)
	for range 2 {
		waitFor("WATCHDOG=1", 3*time.Second)
	}

	// An idle line sleeps and reads no PCM: lift the handset so that the
	// port's loop reads frames, then wedge it in ReadFrame. The line's
	// liveness probe (a ping its loop answers) then goes unanswered.
	sb.Phone.OffHook()
	time.Sleep(500 * time.Millisecond)
	gate.wedge(true)
	// Pings already decided may still come for up to 2 s (the staleness
	// limit) plus one ping period; then none while the loop is stuck.
	waitFor("STATUS=stuck: line", 5*time.Second)
	quiet := time.Now().Add(3 * time.Second)
	for time.Now().Before(quiet) {
		if m := next(time.Until(quiet)); strings.Contains(m, "WATCHDOG=1") {
			t.Fatalf("WATCHDOG=1 sent while the line loop is wedged")
		}
	}
	gate.wedge(false)
	waitFor("WATCHDOG=1", 4*time.Second)

	cancel()
	waitFor("STOPPING=1", 5*time.Second)
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// wedgePCM blocks the analog port's frame loop in ReadFrame while wedged,
// like a driver that stopped delivering frames or a loop stuck elsewhere.
type wedgePCM struct {
	hal.PCM
	mu      sync.Mutex
	wedged  bool
	release chan struct{}
}

func (w *wedgePCM) wedge(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if on && !w.wedged {
		w.release = make(chan struct{})
	}
	if !on && w.wedged {
		close(w.release)
	}
	w.wedged = on
}

func (w *wedgePCM) ReadFrame(ctx context.Context, dst []int16) error {
	w.mu.Lock()
	wedged, release := w.wedged, w.release
	w.mu.Unlock()
	if wedged {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return w.PCM.ReadFrame(ctx, dst)
}
