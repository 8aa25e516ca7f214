package phone

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestConsoleCommands: the command form the simulator's console uses, and
// the JSON snapshot.
func TestConsoleCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &fakeLine{}
		p := New(l, Config{Logger: quiet(), Name: "desk"})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		fed := make(chan struct{})
		defer func() { cancel(); <-fed }()
		go func() { // the line's frame clock
			defer close(fed)
			var in, out [frameLen]int16
			for ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
				p.Audio(in[:], out[:])
			}
		}()
		if err := p.Do(ctx, "flash"); err == nil {
			t.Error("flash on-hook accepted")
		}
		for _, c := range []string{"offhook", "flash 300", "rotary 2", "dtmf 1"} {
			if err := p.Do(ctx, c); err != nil {
				t.Fatalf("%s: %v", c, err)
			}
		}
		for _, c := range []string{"", "jump", "flash x", "flash 9000", "dtmf", "rotary", "rotary 1a"} {
			if err := p.Do(ctx, c); err == nil {
				t.Errorf("%q accepted", c)
			}
		}
		l.mu.Lock()
		var sw []string
		for _, c := range l.loops {
			sw = append(sw, map[bool]string{true: "C", false: "O"}[c.closed])
		}
		flash := l.loops[2].at.Sub(l.loops[1].at)
		l.mu.Unlock()
		// off-hook, flash (open/close), 2 pulses.
		if got := strings.Join(sw, ""); got != "COCOCOC" {
			t.Errorf("hook switch sequence %s", got)
		}
		if flash != 300*time.Millisecond {
			t.Errorf("flash %v", flash)
		}
		if err := p.Do(ctx, "hangup"); err != nil {
			t.Fatal(err)
		}
		cancel()
		b, err := json.Marshal(p.State())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"name":"desk"`) || !strings.Contains(string(b), `"hook":"on-hook"`) {
			t.Errorf("state JSON %s", b)
		}
	})
}
