package fxs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"basestation/fxs"
	"basestation/sim/slic"
)

// A port on the simulated SLIC: the phone goes off-hook, the port plays
// dial tone and reports it; the call layer would now wait for EvDialed.
func Example() {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	chip := slic.New(slic.Config{Logger: log}) // on the board: the real SLIC's hal.SLIC
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go chip.Run(ctx) // the simulated PCM clock

	port, err := fxs.New(chip.HAL(), fxs.DefaultConfig(), log)
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error)
	go func() { done <- port.Run(ctx) }()

	chip.SetLoop(true) // the phone goes off-hook
	ev := <-port.Events()
	fmt.Println(ev, port.State())
	cancel()
	fmt.Println(<-done)
	// Output:
	// off-hook dialing
	// <nil>
}
