package pbx_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"basestation/sim/pbx"
	"basestation/sim/softphone"
)

// The simulator's wiring in small: a PBX with two users, two softphones that
// register and call each other, and what the PBX and the phones report.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	p, err := pbx.New(pbx.Config{Users: map[string]string{"101": "pw101", "102": "pw102"}, Auth: true}, quiet)
	if err != nil {
		panic(err)
	}
	go func() { _ = p.Run(ctx) }()

	alice, _ := softphone.New(softphone.Config{User: "101", Password: "pw101", DisplayName: "Alice", Registrar: p.Addr(), ToneHz: 440}, quiet)
	bob, _ := softphone.New(softphone.Config{User: "102", Password: "pw102", Registrar: p.Addr(), ToneHz: 1000, AutoAnswer: true}, quiet)
	go func() { _ = alice.Run(ctx) }()
	go func() { _ = bob.Run(ctx) }()
	if err := alice.Register(ctx); err != nil {
		panic(err)
	}
	if err := bob.Register(ctx); err != nil {
		panic(err)
	}
	for _, r := range p.Registrations() {
		fmt.Println("registered", r.Ext, r.UserAgent)
	}

	if err := alice.Call(ctx, "102"); err != nil {
		panic(err)
	}
	for math.Abs(alice.HeardFrequency()-1000) > 5 || math.Abs(bob.HeardFrequency()-440) > 5 {
		time.Sleep(20 * time.Millisecond)
	}
	inv, _ := bob.LastInvite()
	fmt.Printf("bob rang for %s <%s>\n", inv.FromName, inv.FromUser)
	fmt.Printf("alice hears %.0f Hz, bob hears %.0f Hz\n", math.Round(alice.HeardFrequency()/10)*10, math.Round(bob.HeardFrequency()/10)*10)
	c := p.Calls()[0]
	fmt.Println("call", c.ID, c.Caller, "->", c.Callee, c.State)
	_ = alice.Hangup(ctx)

	// Output:
	// registered 101 basesim-softphone
	// registered 102 basesim-softphone
	// bob rang for Alice <101>
	// alice hears 1000 Hz, bob hears 440 Hz
	// call c1 101 -> 102 answered
}
