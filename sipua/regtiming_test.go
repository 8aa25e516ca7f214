package sipua

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
)

// fakePBX is a registrar cluster for the virtual-time tests, put in place
// of the registration's network side (regIO). Each server is up (answers
// 200 at once), silent (never answers: the REGISTER times out after
// Timing.RequestTimeout, as sipgo's transaction does) or closed (ICMP port
// unreachable at once, also to probes). Bindings are kept per server in
// a location table the cluster shares, so a binding made at a server that
// later goes silent stays valid until it expires.
type fakePBX struct {
	r       *registration
	timeout time.Duration

	mu       sync.Mutex
	mode     map[string]string    // target -> "up", "silent", "closed"
	bindings map[string]time.Time // target -> binding expiry
	reqs     []fakeReq
}

type fakeReq struct {
	at      time.Time
	target  string
	expires time.Duration
	answer  string // "200", "timeout", "unreachable"
}

func (q fakeReq) String() string {
	return fmt.Sprintf("%s %s exp=%v %s", q.at.Format("15:04:05"), q.target, q.expires, q.answer)
}

func newFakePBX(r *registration, timeout time.Duration, mode map[string]string) *fakePBX {
	f := &fakePBX{r: r, timeout: timeout, mode: mode, bindings: map[string]time.Time{}}
	r.io = f
	return f
}

func (f *fakePBX) setMode(target, m string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode[target] = m
}

func (f *fakePBX) record(q fakeReq) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, q)
}

func (f *fakePBX) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.reqs...)
}

// bound reports whether some server holds an unexpired binding.
func (f *fakePBX) bound() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, until := range f.bindings {
		if time.Now().Before(until) {
			return true
		}
	}
	return false
}

func (f *fakePBX) register(ctx context.Context, target string, expires time.Duration) (*sip.Response, error) {
	h, _, _ := net.SplitHostPort(target)
	f.r.mu.Lock()
	f.r.target, f.r.serverIPs, f.r.localIP = target, []net.IP{net.ParseIP(h)}, "127.0.0.9"
	f.r.mu.Unlock()
	f.mu.Lock()
	m := f.mode[target]
	f.mu.Unlock()
	switch m {
	case "closed":
		f.record(fakeReq{time.Now(), target, expires, "unreachable"})
		return nil, fmt.Errorf("registrar %s: %w", target, ErrUnreachable)
	case "silent":
		f.record(fakeReq{time.Now(), target, expires, "timeout"})
		tm := time.NewTimer(f.timeout)
		defer tm.Stop()
		select {
		case <-ctx.Done():
		case <-tm.C:
		}
		return nil, ErrTimeout
	}
	f.record(fakeReq{time.Now(), target, expires, "200"})
	f.mu.Lock()
	if expires > 0 {
		f.bindings[target] = time.Now().Add(expires)
	} else {
		delete(f.bindings, target)
	}
	f.mu.Unlock()
	f.r.mu.Lock()
	f.r.contact = &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: f.r.acct.User, Host: "127.0.0.9", Port: 5060}}
	f.r.mu.Unlock()
	res := sip.NewResponse(200, "OK")
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	return res, nil
}

func (f *fakePBX) unregisterAt(target string, contact *sip.ContactHeader, localIP string) {
	if contact == nil {
		return
	}
	_, _ = f.register(context.Background(), target, 0)
}

func (f *fakePBX) keepalive() {}

func (f *fakePBX) probe(_ context.Context, addr netip.AddrPort) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mode[addr.String()] == "closed" {
		return ErrUnreachable
	}
	return nil
}

func (f *fakePBX) addrChanged() bool { return false }

const (
	primaryReg   = "127.0.0.1:5060"
	secondaryReg = "127.0.0.2:5060"
)

// virtualUA builds a user agent (not run: no sockets) with one extension
// registering at primaryReg then secondaryReg, production timings unless
// timing says otherwise, and the fake PBX in its registration's place.
func virtualUA(t *testing.T, expires time.Duration, timing Timing, mode map[string]string) (*UA, *registration, *fakePBX) {
	t.Helper()
	e := Extension{Name: "101", Account: Account{User: "1001", Password: "pw", Domain: "pbx.test",
		Registrars: []string{primaryReg, secondaryReg}, Expires: expires}}
	u, err := New(Config{Listen: "127.0.0.1:0", Extensions: []Extension{e}, Timing: timing}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	r := u.exts["101"].reg
	return u, r, newFakePBX(r, u.conf().Timing.RequestTimeout, mode)
}

// runVirtual runs the registration in the bubble; the returned stop ends
// it (un-REGISTER included) and waits.
func runVirtual(r *registration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	return func() { cancel(); <-done }
}

// firstOK is the time of the first answered REGISTER (expires > 0) to
// target at or after from.
func firstOK(reqs []fakeReq, target string, from time.Time) (time.Time, bool) {
	for _, q := range reqs {
		if q.target == target && q.answer == "200" && q.expires > 0 && !q.at.Before(from) {
			return q.at, true
		}
	}
	return time.Time{}, false
}

// Failback with the production timings (register_expires_s 600 and 60,
// failover_retry_s 300, the 32 s transaction timeout): the primary is
// silent at start, so the UA fails over to the secondary after 32 s; the
// primary comes back a minute later; exactly failover_retry_s after the
// failover the UA registers at the primary again and un-registers from the
// secondary. Refreshes in between (every 300 s, or every 23 s with 60 s)
// do not move the failback.
func TestFailbackAfterFailoverRetryVirtualTime(t *testing.T) {
	for _, expires := range []time.Duration{600 * time.Second, 60 * time.Second} {
		t.Run(fmt.Sprintf("expires-%v", expires), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				u, r, f := virtualUA(t, expires, Timing{}, map[string]string{primaryReg: "silent", secondaryReg: "up"})
				failback := u.conf().Timing.Failback
				if failback != 300*time.Second {
					t.Fatalf("default failback %v", failback)
				}
				start := time.Now()
				stop := runVirtual(r)
				defer stop()
				time.Sleep(60 * time.Second)
				synctest.Wait()
				failover, ok := firstOK(f.requests(), secondaryReg, start)
				if !ok || failover.Sub(start) != 32*time.Second {
					t.Fatalf("failover at %v (ok %v), want after the 32 s timeout", failover.Sub(start), ok)
				}
				if ev, _ := u.Registration("101"); ev.State != RegRegistered || ev.Registrar != secondaryReg {
					t.Fatalf("after failover: %+v", ev)
				}
				f.setMode(primaryReg, "up")
				// Well past the failback time: it happened exactly once,
				// failover_retry_s after the failover.
				time.Sleep(failback + 10*time.Minute)
				synctest.Wait()
				reqs := f.requests()
				back, ok := firstOK(reqs, primaryReg, start)
				if !ok {
					t.Fatalf("no failback to the primary within %v of the failover: %+v", failback+9*time.Minute, reqs)
				}
				if got := back.Sub(failover); got != failback {
					t.Errorf("failback %v after the failover, want failover_retry_s = %v", got, failback)
				}
				unreg := false
				for _, q := range reqs {
					if q.target == secondaryReg && q.expires == 0 && q.answer == "200" && q.at.Equal(back) {
						unreg = true
					}
					if q.target == secondaryReg && q.at.After(back) {
						t.Errorf("REGISTER to the secondary after the failback: %+v", q)
					}
				}
				if !unreg {
					t.Errorf("no un-REGISTER (Expires: 0) at the secondary on failback: %+v", reqs)
				}
				ev, _ := u.Registration("101")
				if ev.State != RegRegistered || ev.Registrar != primaryReg {
					t.Errorf("after failback: %+v", ev)
				}
				if a, ok := r.activeRegistrar(); !ok || a.Addr.String() != primaryReg || a.Transport != UDP {
					t.Errorf("active registrar %+v (%v), want %s over udp", a, ok, primaryReg)
				}
				for _, c := range []struct {
					src, tr string
					want    bool
				}{{primaryReg, "UDP", true}, {secondaryReg, "UDP", false}, {primaryReg, "TCP", false}, {"127.0.0.1:5061", "UDP", false}} {
					if got := r.isActiveFlow(c.src, c.tr); got != c.want {
						t.Errorf("request from %s over %s after failback: active flow %v, want %v", c.src, c.tr, got, c.want)
					}
				}
			})
		})
	}
}

// A failback attempt that finds the primary still down leaves the UA on
// the secondary (its flow still trusted) and tries again a whole
// failover_retry_s later, not at the next refresh.
func TestFailbackRetriedEveryPeriodVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u, r, f := virtualUA(t, 60*time.Second, Timing{}, map[string]string{primaryReg: "closed", secondaryReg: "up"})
		start := time.Now()
		stop := runVirtual(r)
		defer stop()
		time.Sleep(time.Second)
		synctest.Wait()
		failover, ok := firstOK(f.requests(), secondaryReg, start)
		if !ok || failover != start {
			t.Fatalf("failover after %v (ok %v): a closed port must fail over at once", failover.Sub(start), ok)
		}
		time.Sleep(1000 * time.Second)
		synctest.Wait()
		var tries []time.Duration
		for _, q := range f.requests() {
			if q.target == primaryReg && q.at.After(start) {
				tries = append(tries, q.at.Sub(failover))
			}
		}
		want := []time.Duration{300 * time.Second, 600 * time.Second, 900 * time.Second}
		if fmt.Sprint(tries) != fmt.Sprint(want) {
			t.Errorf("primary tried at %v after the failover, want %v", tries, want)
		}
		if a, _ := r.activeRegistrar(); a.Addr.String() != secondaryReg {
			t.Errorf("active registrar %v after failed failbacks, want the secondary", a)
		}
		if !r.acceptsFlow(secondaryReg, "UDP") || r.acceptsFlow(primaryReg, "UDP") {
			t.Error("trust must stay with the secondary while the primary is down")
		}
		if ev, _ := u.Registration("101"); ev.State != RegRegistered || ev.Registrar != secondaryReg {
			t.Errorf("state %+v", ev)
		}
	})
}

// register_expires_s 60 with the 32 s transaction timeout: the primary
// goes silent; the refresh starts early enough that its timeout and the
// REGISTER at the secondary end before the binding lapses, so the PBX
// always holds a binding, and the state never says registered past the
// expiry it reports. Every refresh moves ExpiresAt (one event each).
func TestRegistrationNeverLapsesVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u, r, f := virtualUA(t, 60*time.Second, Timing{}, map[string]string{primaryReg: "up", secondaryReg: "up"})
		start := time.Now()
		stop := runVirtual(r)
		defer stop()
		synctest.Wait()
		var refreshes []time.Time
		check := func(step int) {
			t.Helper()
			ev, _ := u.Registration("101")
			if !f.bound() {
				t.Fatalf("t=%ds: the registration lapsed at the PBX (state %s via %s)", step, ev.State, ev.Registrar)
			}
			if ev.State == RegRegistered && !time.Now().Before(ev.ExpiresAt) {
				t.Fatalf("t=%ds: state registered although it expired at %v", step, ev.ExpiresAt.Sub(start))
			}
		}
		drain := func() {
			for {
				select {
				case e := <-u.Events():
					if re, ok := e.(*RegistrationEvent); ok && re.State == RegRegistered {
						if n := len(refreshes); n > 0 && !re.ExpiresAt.After(refreshes[n-1]) {
							t.Errorf("event ExpiresAt %v did not move on refresh", re.ExpiresAt.Sub(start))
						}
						refreshes = append(refreshes, re.ExpiresAt)
					}
				default:
					return
				}
			}
		}
		for step := 1; step <= 100; step++ {
			time.Sleep(time.Second)
			synctest.Wait()
			check(step)
			drain()
		}
		if len(refreshes) < 4 {
			t.Errorf("%d registered events in 100 s at 60 s expiry, want one per refresh", len(refreshes))
		}
		f.setMode(primaryReg, "silent")
		for step := 101; step <= 400; step++ {
			time.Sleep(time.Second)
			synctest.Wait()
			check(step)
			drain()
		}
		if ev, _ := u.Registration("101"); ev.State != RegRegistered || ev.Registrar != secondaryReg {
			t.Errorf("after the primary went silent: %+v, want registered at the secondary", ev)
		}
	})
}

// A registrar whose port closes (ICMP port unreachable) is left at the
// next keepalive probe, not at the next refresh plus a transaction
// timeout; production timings (25 s keepalive, 600 s expiry).
func TestUnreachableRegistrarLeftAtProbeVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u, r, f := virtualUA(t, 0, Timing{}, map[string]string{primaryReg: "up", secondaryReg: "up"})
		start := time.Now()
		stop := runVirtual(r)
		defer stop()
		time.Sleep(100 * time.Second)
		synctest.Wait()
		f.setMode(primaryReg, "closed")
		closed := time.Now()
		time.Sleep(60 * time.Second)
		synctest.Wait()
		moved, ok := firstOK(f.requests(), secondaryReg, start)
		if !ok {
			t.Fatal("no failover to the secondary after the primary's port closed")
		}
		if d := moved.Sub(closed); d > u.conf().Timing.Keepalive {
			t.Errorf("failover %v after the port closed, want within one keepalive (%v)", d, u.conf().Timing.Keepalive)
		}
		if ev, _ := u.Registration("101"); ev.State != RegRegistered || ev.Registrar != secondaryReg {
			t.Errorf("state %+v", ev)
		}
	})
}

// Stopping while a failback attempt waits for a silent primary
// un-registers from the fallback, where the binding is.
func TestStopDuringFailbackUnregistersFallbackVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, r, f := virtualUA(t, 0, Timing{}, map[string]string{primaryReg: "closed", secondaryReg: "up"})
		stop := runVirtual(r)
		time.Sleep(time.Second)
		synctest.Wait()
		f.setMode(primaryReg, "silent")
		time.Sleep(300*time.Second + time.Second) // the attempt is under way
		synctest.Wait()
		reqs := f.requests()
		if last := reqs[len(reqs)-1]; last.target != primaryReg || last.answer != "timeout" {
			t.Fatalf("no failback attempt under way: %v", reqs)
		}
		stop()
		reqs = f.requests()
		if last := reqs[len(reqs)-1]; last.target != secondaryReg || last.expires != 0 {
			t.Errorf("last request %v, want the un-REGISTER at the secondary", last)
		}
	})
}
