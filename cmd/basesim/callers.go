package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"basestation/sim/softphone"

	"github.com/emiago/sipgo/sip"
)

// A caller is a simulated SIP phone of an extension on the PBX: the other
// users' desk phones, and any number of callers added from the API. Each
// call it places can carry its own display name, identity and privacy; how
// it answers when called is its behaviour.

// Behaviours when a caller is called.
const (
	whenRing     = "ring"      // rings until answered from the API (default)
	whenAnswer   = "answer"    // answers after answer_after_ms
	whenBusy     = "busy"      // 486 Busy Here
	whenNoAnswer = "no_answer" // rings and never answers (the PBX gives up)
	whenReject   = "reject"    // 603 Decline
)

var behaviours = []string{whenRing, whenAnswer, whenBusy, whenNoAnswer, whenReject}

type caller struct {
	number string
	name   string
	phone  *softphone.Phone
	stop   context.CancelFunc
	done   chan struct{} // closed when its goroutines have ended

	mu          sync.Mutex
	when        string
	answerAfter time.Duration
	lastErr     string // how the last call it placed ended, if it failed
}

func (c *caller) behaviour() (string, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.when, c.answerAfter
}

func (c *caller) setBehaviour(when string, after time.Duration) {
	c.mu.Lock()
	c.when, c.answerAfter = when, after
	c.mu.Unlock()
}

// checkNumber checks a caller's number is usable as a SIP user.
func checkNumber(n string) error {
	if n == "" || len(n) > 32 {
		return errors.New("number: want 1..32 characters")
	}
	for _, c := range n {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune("+*#._-", c)) {
			return fmt.Errorf("number: %q has %q (digits, letters, + * # . _ -)", n, c)
		}
	}
	return nil
}

// checkBehaviour checks a when_called value.
func checkBehaviour(when string, afterMs int) error {
	found := false
	for _, b := range behaviours {
		found = found || b == when
	}
	if !found {
		return fmt.Errorf("when_called: %q is not one of %v", when, behaviours)
	}
	if afterMs < 0 || afterMs > 120000 {
		return fmt.Errorf("answer_after_ms: %d outside 0..120000", afterMs)
	}
	return nil
}

// addCaller registers a simulated phone for number with the PBX. A new
// number (not an office user) gets an account at the stand-in PBX.
func (w *world) addCaller(number, name, password, when string, after time.Duration) (*caller, error) {
	w.addMu.Lock() // one add or remove at a time: a number's account is made once
	defer w.addMu.Unlock()
	w.mu.Lock()
	_, exists := w.callers[number]
	w.mu.Unlock()
	if exists {
		return nil, fmt.Errorf("caller %s exists already", number)
	}
	made := password == "" // an account made here, at the stand-in PBX
	if made {
		if w.pbx == nil {
			return nil, errors.New("new callers need accounts on the PBX: only the stand-in PBX makes them (this run uses an outside PBX)")
		}
		var b [8]byte
		_, _ = rand.Read(b[:])
		password = hex.EncodeToString(b[:])
		if err := w.pbx.SetUser(number, password); err != nil {
			return nil, err
		}
	}
	p, err := softphone.New(softphone.Config{User: number, Password: password, DisplayName: name, Registrar: w.pbxAddr(), ToneHz: 1000},
		w.log.With("sim", "caller", "ext", number))
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(w.ctx)
	c := &caller{number: number, name: name, phone: p, stop: stop, done: make(chan struct{}), when: when, answerAfter: after}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = p.Run(ctx) }()
	go func() { defer wg.Done(); w.callerEvents(ctx, c) }()
	w.wg.Add(1)
	go func() { defer w.wg.Done(); wg.Wait(); close(c.done) }()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = p.Register(rctx)
	w.mu.Lock()
	_, exists = w.callers[number]
	if err == nil && !exists {
		w.callers[number] = c
	}
	w.mu.Unlock()
	if err != nil || exists {
		stop()
		<-c.done
		if made && !exists {
			w.pbx.RemoveUser(number)
		}
		if exists {
			return nil, fmt.Errorf("caller %s exists already", number)
		}
		return nil, fmt.Errorf("caller %s: %w", number, err)
	}
	return c, nil
}

// removeCaller unregisters and stops a caller added from the API.
func (w *world) removeCaller(ctx context.Context, number string) error {
	w.addMu.Lock()
	defer w.addMu.Unlock()
	c, err := w.caller(number)
	if err != nil {
		return err
	}
	for _, u := range w.opt.Users {
		if u.Number == number {
			return fmt.Errorf("caller %s is an office user's phone; it cannot be removed", number)
		}
	}
	_ = c.phone.Hangup(ctx)
	_ = c.phone.Unregister(ctx)
	c.stop()
	<-c.done
	if w.pbx != nil {
		w.pbx.RemoveUser(number)
	}
	w.mu.Lock()
	delete(w.callers, number)
	w.mu.Unlock()
	return nil
}

// callerEvents applies c's behaviour to incoming calls and records what
// its phone reports.
func (w *world) callerEvents(ctx context.Context, c *caller) {
	for {
		var e softphone.Event
		select {
		case <-ctx.Done():
			return
		case e = <-c.phone.Events():
		}
		d := map[string]any{}
		switch e.Type {
		case softphone.EvIncoming:
			d["from"], d["name"] = e.Info.FromUser, e.Info.FromName
			when, after := c.behaviour()
			switch when {
			case whenBusy:
				_ = c.phone.Reject(486)
			case whenReject:
				_ = c.phone.Reject(603)
			case whenAnswer:
				w.wg.Add(1)
				go func() {
					defer w.wg.Done()
					t := time.NewTimer(after)
					defer t.Stop()
					select {
					case <-t.C:
						_ = c.phone.Answer()
					case <-ctx.Done():
					}
				}()
			}
		case softphone.EvEnded:
			if e.Code != 0 {
				d["code"], d["reason"] = e.Code, e.Reason
			}
		case softphone.EvDigit:
			d["digit"] = string(e.Digit)
		case softphone.EvMWI:
			d["waiting"] = e.MWI.Waiting
		}
		w.events.add(event{Source: "sip", Kind: "caller_" + string(e.Type), Subject: c.number, Detail: d})
	}
}

var errNoCaller = errors.New("no caller")

func (w *world) caller(number string) (*caller, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.callers[number]
	if !ok {
		return nil, fmt.Errorf("%w %q (have %v)", errNoCaller, number, w.callerNamesLocked())
	}
	return c, nil
}

func (w *world) callerNames() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.callerNamesLocked()
}

func (w *world) callerNamesLocked() []string {
	n := make([]string, 0, len(w.callers))
	for k := range w.callers {
		n = append(n, k)
	}
	sort.Slice(n, func(i, j int) bool {
		a, ea := strconv.Atoi(n[i])
		b, eb := strconv.Atoi(n[j])
		if ea == nil && eb == nil && a != b {
			return a < b
		}
		return n[i] < n[j]
	})
	return n
}

// callSpec is how one call a caller places presents itself.
type callSpec struct {
	To       string `json:"to"`
	Name     string `json:"name"`     // From display name ("" the caller's own)
	Number   string `json:"number"`   // asserted number: tel:NUMBER unless identity says otherwise
	Identity string `json:"identity"` // asserted identity URI: tel:… or sip:… (P-Preferred-Identity)
	Privacy  bool   `json:"privacy"`  // Privacy: id — the callee shows "private"
}

// callOptions checks a call's presentation and builds its INVITE's extras.
func callOptions(s callSpec) (softphone.CallOptions, error) {
	var o softphone.CallOptions
	if s.To == "" {
		return o, errors.New("to: missing")
	}
	if strings.ContainsAny(s.Name, "\"\\\r\n<>") || len(s.Name) > 64 {
		return o, fmt.Errorf("name: %q has a quote, backslash, angle bracket or line break, or is over 64 bytes", s.Name)
	}
	o.DisplayName = s.Name
	id := s.Identity
	if id == "" && s.Number != "" {
		if err := checkNumber(s.Number); err != nil {
			return o, err
		}
		id = "tel:" + s.Number
	}
	if id != "" {
		if err := checkIdentity(id); err != nil {
			return o, err
		}
		v := "<" + id + ">"
		if s.Name != "" {
			v = `"` + s.Name + `" ` + v
		}
		o.Headers = append(o.Headers, sip.NewHeader("P-Preferred-Identity", v))
	}
	if s.Privacy {
		o.Headers = append(o.Headers, sip.NewHeader("Privacy", "id"))
	}
	return o, nil
}

// checkIdentity accepts tel:NUMBER and sip:/sips: URIs.
func checkIdentity(id string) error {
	switch {
	case strings.HasPrefix(id, "tel:"):
		num := strings.SplitN(strings.TrimPrefix(id, "tel:"), ";", 2)[0]
		if num == "" || len(num) > 32 {
			return fmt.Errorf("identity: %q has no number", id)
		}
		for i, c := range num {
			if !(c >= '0' && c <= '9' || c == '+' && i == 0 || strings.ContainsRune("-.()*#", c)) {
				return fmt.Errorf("identity: %q: %q is not a telephone number character", id, c)
			}
		}
	case strings.HasPrefix(id, "sip:"), strings.HasPrefix(id, "sips:"):
		var u sip.Uri
		if err := sip.ParseUri(id, &u); err != nil {
			return fmt.Errorf("identity: %q: %v", id, err)
		}
		if u.User == "" || u.Host == "" {
			return fmt.Errorf("identity: %q needs user@host", id)
		}
	default:
		return fmt.Errorf("identity: %q is not a tel: or sip: URI", id)
	}
	if strings.ContainsAny(id, "<>\" \r\n") {
		return fmt.Errorf("identity: %q has a space, quote or angle bracket", id)
	}
	return nil
}
