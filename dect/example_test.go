package dect_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"basestation/dect"
	"basestation/dect/wire"
	"basestation/endpoint"
	"basestation/sim/radio"
)

// The daemon's wiring: the driver on the simulated module, a registration
// window opened by the cloud command, and the paired device used as an
// endpoint.
func Example() {
	emu, err := radio.New(nil) // on the board: board.Radio instead
	if err != nil {
		log.Fatal(err)
	}
	defer emu.Close()
	drv, err := dect.New(emu.Radio(), &dect.Options{StateDir: "/var/lib/basestation"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go drv.Run(ctx)

	if err := drv.OpenRegistration(ctx, 60*time.Second, "0000"); err != nil {
		log.Print(err) // refused: table full, locked out, module not ready
	}
	for e := range drv.Events() {
		if e.Kind == dect.EventPaired {
			dev := drv.Device(e.Device.Handset)
			_ = dev.Ring(endpoint.CallerID{Number: "6135550100", Name: "ALICE"}, "normal")
			for ev := range dev.Events() {
				if ev.Kind == dect.OffHook && ev.Answer {
					pcm, _ := dev.ConnectAudioAt(16000)
					_ = pcm // hand to the RTP bridge
				}
			}
		}
	}
}

// A frame on the wire.
func Example_frame() {
	m := wire.Msg{Type: wire.THello, TID: 1, ProtoMajor: 1}
	payload, _ := m.Append(nil)
	frame, _ := wire.AppendFrame(nil, wire.CtrlData, 0, payload)
	fmt.Printf("% X\n", frame)
	// Output: A5 5A 01 00 00 04 01 01 01 00 8D 5E
}
