package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"basestation/sim"
	"basestation/sim/vboard"
)

// servedBoard runs a simulated board served on a Unix socket for the
// test's length, as basesim --serve-board does, and returns it with the
// --board value that reaches it.
func servedBoard(t testing.TB) (*sim.Board, string) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.Default()
	}
	sb, err := sim.NewBoard(sim.Config{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	// A short directory: a Unix socket path has at most 107 bytes.
	dir, err := os.MkdirTemp("", "vb")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "board.sock")
	l, err := vboard.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := vboard.New(sb.HAL(), vboard.Options{Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = sb.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, l); err != nil {
			t.Errorf("virtual board server: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		sb.Close()
		os.RemoveAll(dir)
	})
	return sb, "virtual:" + path
}

// simOperator acts on the simulated board for the person at the board.
type simOperator struct{ b *sim.Board }

func (s simOperator) Do(action string) {
	switch action {
	case actLift:
		s.b.Phone.OffHook()
	case actHangUp:
		s.b.Phone.OnHook()
	case actPress:
		_ = s.b.PressButton(200 * time.Millisecond)
	}
}
