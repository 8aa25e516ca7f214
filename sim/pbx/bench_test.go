package pbx_test

import (
	"context"
	"testing"
	"time"

	"basestation/sim/pbx"
	"basestation/sim/softphone"
)

// benchRegister measures one registration round (REGISTER → 200, or with
// Auth REGISTER → 401 → REGISTER with credentials → 200) over loopback UDP,
// softphone to PBX.
func benchRegister(b *testing.B, auth bool) {
	p, err := pbx.New(pbx.Config{Users: users, Auth: auth}, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = p.Run(ctx) }()
	ph, err := softphone.New(softphone.Config{User: "101", Password: "pw101", Registrar: p.Addr()}, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = ph.Run(ctx) }()
	rctx, rcancel := context.WithTimeout(ctx, time.Minute)
	defer rcancel()
	if err := ph.Register(rctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := ph.Register(rctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRegister(b *testing.B)       { benchRegister(b, false) }
func BenchmarkRegisterDigest(b *testing.B) { benchRegister(b, true) }

// BenchmarkCallSetup measures one call through the B2BUA between two
// softphones on loopback: INVITE (407, INVITE with credentials) → 100/180 →
// 200 → ACK on both legs, then BYE on both legs, until the callee is idle.
func BenchmarkCallSetup(b *testing.B) {
	p, err := pbx.New(pbx.Config{Users: users, Auth: true}, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = p.Run(ctx) }()
	caller, err := softphone.New(softphone.Config{User: "101", Password: "pw101", Registrar: p.Addr()}, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	callee, err := softphone.New(softphone.Config{User: "102", Password: "pw102", Registrar: p.Addr(), AutoAnswer: true}, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = caller.Run(ctx) }()
	go func() { _ = callee.Run(ctx) }()
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer rcancel()
	for _, ph := range []*softphone.Phone{caller, callee} {
		if err := ph.Register(rctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := caller.Call(rctx, "102"); err != nil {
			b.Fatal(err)
		}
		for callee.State() != softphone.Connected {
			time.Sleep(100 * time.Microsecond)
		}
		if err := caller.Hangup(rctx); err != nil {
			b.Fatal(err)
		}
		for callee.State() != softphone.Idle {
			time.Sleep(100 * time.Microsecond)
		}
	}
}
