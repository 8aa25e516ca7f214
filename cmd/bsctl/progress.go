package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// waiting prints "bsctl: waiting for WHAT (5s)..." on stderr every a.tick
// while the returned stop has not been called and ctx lasts, so a silent
// broker or base is never a silent bsctl. stop may be called more than
// once; it returns once the printing goroutine has ended.
func (a *app) waiting(ctx context.Context, what string) (stop func()) {
	if a.tick <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start, limit := time.Now(), a.g.timeout
	go func() {
		defer close(finished)
		t := time.NewTicker(a.tick)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fmt.Fprintf(a.errOut, "bsctl: waiting for %s (%v, --timeout %v)...\n", what, time.Since(start).Round(time.Second), limit)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}

// countdown shows the registration window counting down on stderr until
// the returned function is called.
func (a *app) countdown(ctx context.Context, closesAt time.Time) (stop func()) {
	fmt.Fprintf(a.errOut, "Registration mode is open on %s until %s: put the device in pairing mode now.\n", a.g.base, closesAt.Local().Format(time.TimeOnly))
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				left := max(time.Until(closesAt).Round(time.Second), 0)
				fmt.Fprintf(a.errOut, "  waiting for a device... %v left\n", left)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}
