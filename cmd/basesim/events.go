package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"basestation/sim/pbx"
	"basestation/sim/radio"
)

// event is one timestamped thing that happened in the simulated world.
type event struct {
	Seq     uint64         `json:"seq"`
	Time    time.Time      `json:"time"`
	Source  string         `json:"source"`            // line, phone, dect, base, sip, mqtt
	Kind    string         `json:"kind"`              // ring_on, caller_id, tone, led, paired, …
	Subject string         `json:"subject,omitempty"` // port1, linx1, an LED, an extension
	Detail  map[string]any `json:"detail,omitempty"`
}

// eventLog is the bounded history; watchers wait on changed.
type eventLog struct {
	mu      sync.Mutex
	cap     int
	evs     []event
	next    uint64
	changed chan struct{} // closed and replaced on every add
}

func newEventLog(capacity int) *eventLog {
	return &eventLog{cap: capacity, next: 1, changed: make(chan struct{})}
}

func (l *eventLog) add(e event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	l.mu.Lock()
	e.Seq = l.next
	l.next++
	l.evs = append(l.evs, e)
	if len(l.evs) > l.cap {
		l.evs = append(l.evs[:0], l.evs[len(l.evs)-l.cap:]...)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// since returns up to limit events with Seq > after, the oldest sequence
// number still held, and a channel closed at the next add.
func (l *eventLog) since(after uint64, limit int) ([]event, uint64, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []event
	for _, e := range l.evs {
		if e.Seq > after {
			out = append(out, e)
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	first := l.next
	if len(l.evs) > 0 {
		first = l.evs[0].Seq
	}
	return out, first, l.changed
}

// cursor remembers how far a time-ordered source has been read.
type cursor struct {
	at time.Time
	n  int // items seen with exactly this time
}

// take returns the indexes of the n items (time-ordered by at) not taken
// before, and advances.
func (c *cursor) take(n int, at func(int) time.Time) []int {
	var out []int
	same := 0
	for i := range n {
		t := at(i)
		if t.Before(c.at) {
			continue
		}
		if t.Equal(c.at) {
			same++
			if same <= c.n {
				continue
			}
		}
		out = append(out, i)
	}
	if len(out) > 0 {
		last := at(out[len(out)-1])
		k := 0
		for i := range n {
			if at(i).Equal(last) {
				k++
			}
		}
		c.at, c.n = last, k
	}
	return out
}

// recorder turns the simulated hardware's histories and states into events.
type recorder struct {
	w                *world
	line, tone, cid  cursor
	leds             map[string]*cursor
	lamp             bool
	boots            uint64
	regOpen          bool
	devs             map[string]radio.DeviceState
	brokerDown, pbxD bool
}

// record runs the recorder until ctx ends.
func (w *world) record(ctx context.Context) {
	now := time.Now()
	r := &recorder{w: w, line: cursor{at: now}, tone: cursor{at: now}, cid: cursor{at: now},
		leds: map[string]*cursor{}, devs: map[string]radio.DeviceState{}, boots: w.board.Radio.Stats().Boots}
	for n := range w.board.LEDs {
		r.leds[n] = &cursor{at: now}
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.poll()
		}
	}
}

func (r *recorder) poll() {
	w, ev := r.w, r.w.events
	tl := w.board.SLIC.TimelineSince(r.line.at)
	for _, i := range r.line.take(len(tl), func(i int) time.Time { return tl[i].At }) {
		e := tl[i]
		d := map[string]any{"linefeed": e.Linefeed.String()}
		kind := e.Kind.String()
		switch kind {
		case "ring-on":
			d["vrms"], d["hz"] = round1(e.Vrms), round1(e.Hz)
		case "hook", "loop", "alarm", "power", "reset", "ring-trip":
			if e.Note != "" {
				d["note"] = e.Note
			}
		}
		ev.add(event{Time: e.At, Source: "line", Kind: snake(kind), Subject: "port1", Detail: d})
	}
	ph := w.board.Phone
	segs := ph.SegmentsSince(r.tone.at)
	for _, i := range r.tone.take(len(segs), func(i int) time.Time { return segs[i].Start }) {
		s := segs[i]
		d := map[string]any{"tone": s.Label, "level_dbm0": round1(s.Level)}
		if s.Digit != "" {
			d["digit"] = s.Digit
		}
		ev.add(event{Time: s.Start, Source: "phone", Kind: "tone", Subject: "port1", Detail: d})
	}
	cids := ph.CallerIDs()
	for _, i := range r.cid.take(len(cids), func(i int) time.Time { return cids[i].Received }) {
		c := cids[i]
		ev.add(event{Time: c.Received, Source: "phone", Kind: "caller_id", Subject: "port1", Detail: map[string]any{
			"number": c.Number, "name": c.Name, "format": c.Format, "private": c.Private || c.NamePrivate,
			"out_of_area": c.OutOfArea || c.NameOutOfArea, "call_waiting": c.CallWaiting}})
	}
	if lamp := ph.MessageWaiting(); lamp != r.lamp {
		r.lamp = lamp
		ev.add(event{Source: "phone", Kind: "lamp", Subject: "port1", Detail: map[string]any{"on": lamp}})
	}
	for n, l := range w.board.LEDs {
		h := l.History()
		for _, i := range r.leds[n].take(len(h), func(i int) time.Time { return h[i].At }) {
			ev.add(event{Time: h[i].At, Source: "base", Kind: "led", Subject: n, Detail: map[string]any{"state": h[i].State.String()}})
		}
	}
	if b := w.board.Radio.Stats().Boots; b != r.boots {
		r.boots = b
		ev.add(event{Source: "dect", Kind: "module_boot", Subject: "module", Detail: map[string]any{"boots": b}})
	}
	if open := w.board.Radio.RegistrationOpen(); open != r.regOpen {
		r.regOpen = open
		ev.add(event{Source: "dect", Kind: "registration_window", Subject: "module", Detail: map[string]any{"open": open}})
	}
	for _, n := range w.board.DeviceNames() {
		d, err := w.board.Device(n)
		if err != nil {
			continue
		}
		st := d.State()
		old, seen := r.devs[n]
		r.devs[n] = st
		if !seen {
			ev.add(event{Source: "dect", Kind: "device_added", Subject: n, Detail: map[string]any{"kind": st.Kind, "ipei": st.IPEI}})
			continue
		}
		deviceEvents(ev, n, old, st)
	}
	if w.broker != nil {
		if down := w.broker.Outage(); down != r.brokerDown {
			r.brokerDown = down
			ev.add(event{Source: "mqtt", Kind: "outage", Subject: "broker", Detail: map[string]any{"on": down}})
		}
	}
	if w.pbx != nil {
		if down := w.pbx.Outage(); down != r.pbxD {
			r.pbxD = down
			ev.add(event{Source: "sip", Kind: "outage", Subject: "pbx", Detail: map[string]any{"on": down}})
		}
	}
}

// deviceEvents reports what changed on a device's display, ear and link.
func deviceEvents(ev *eventLog, n string, old, st radio.DeviceState) {
	add := func(kind string, d map[string]any) {
		ev.add(event{Source: "dect", Kind: kind, Subject: n, Detail: d})
	}
	if old.Registered != st.Registered {
		add(map[bool]string{true: "paired", false: "unpaired"}[st.Registered], map[string]any{"handset": st.Handset})
	}
	if old.Attached != st.Attached || old.Denied != st.Denied {
		add("attached", map[string]any{"attached": st.Attached, "denied": st.Denied})
	}
	if old.Call != st.Call {
		add("call", map[string]any{"phase": st.Call, "released": st.Released})
	}
	if old.Caller != st.Caller && (st.Caller.Number != "" || st.Caller.Name != "" || st.Caller.Reason != "") {
		add("display", map[string]any{"number": st.Caller.Number, "name": st.Caller.Name, "reason": st.Caller.Reason})
	}
	if old.Tone != st.Tone {
		add("tone", map[string]any{"tone": st.Tone})
	}
	if old.MWI != st.MWI || old.MWICount != st.MWICount {
		add("mwi", map[string]any{"on": st.MWI, "count": st.MWICount})
	}
	if old.InRange != st.InRange || old.Powered != st.Powered {
		add("radio", map[string]any{"in_range": st.InRange, "powered": st.Powered})
	}
}

// pbxEvent turns a stand-in PBX change into an event (pbx.Config.OnEvent).
func (w *world) pbxEvent(e pbx.Event) {
	d := map[string]any{}
	switch e.Kind {
	case pbx.EvCall:
		d["call"], d["state"], d["from"], d["to"], d["status"] = e.Call.ID, e.Call.State, e.Call.Caller, e.Call.Dialled, e.Call.Status
		if e.Call.Callee != "" {
			d["callee"] = e.Call.Callee
		}
	default:
		if e.Detail != "" {
			d["detail"] = e.Detail
		}
	}
	w.events.add(event{Source: "sip", Kind: string(e.Kind), Subject: e.Ext, Detail: d})
}

func snake(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// eventQuery reads ?since=SEQ&limit=N.
func eventQuery(r *http.Request) (since uint64, limit int, err error) {
	q := r.URL.Query()
	for k := range q {
		if k != "since" && k != "limit" {
			return 0, 0, badRequest("query: unknown parameter %q (since, limit)", k)
		}
	}
	if s := q.Get("since"); s != "" {
		if since, err = strconv.ParseUint(s, 10, 64); err != nil {
			return 0, 0, badRequest("since: %q is not a sequence number", s)
		}
	} else if s := r.Header.Get("Last-Event-ID"); s != "" {
		if since, err = strconv.ParseUint(s, 10, 64); err != nil {
			return 0, 0, badRequest("Last-Event-ID: %q is not a sequence number", s)
		}
	}
	limit = 500
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 5000 {
			return 0, 0, badRequest("limit: %q is not 1..5000", s)
		}
	}
	return since, limit, nil
}

type eventsView struct {
	Events []event `json:"events"`
	// NextSince is the since to ask next; FirstSeq the oldest event still
	// held (events before it were dropped from the bounded history).
	NextSince uint64 `json:"next_since"`
	FirstSeq  uint64 `json:"first_seq"`
}

func (w *world) getEvents(ctx context.Context, r *http.Request) (any, error) {
	since, limit, err := eventQuery(r)
	if err != nil {
		return nil, err
	}
	evs, first, _ := w.events.since(since, limit)
	v := eventsView{Events: evs, NextSince: since, FirstSeq: first}
	if v.Events == nil {
		v.Events = []event{}
	}
	if n := len(evs); n > 0 {
		v.NextSince = evs[n-1].Seq
	}
	return v, nil
}

// streamEvents serves the events as Server-Sent Events: the history after
// since (or Last-Event-ID), then each new one, with a comment every 15 s.
func (w *world) streamEvents(rw http.ResponseWriter, r *http.Request) {
	since, _, err := eventQuery(r)
	if err != nil {
		writeJSON(rw, nil, err)
		return
	}
	fl, ok := rw.(http.Flusher)
	if !ok {
		writeJSON(rw, nil, fmt.Errorf("streaming is not supported by this connection"))
		return
	}
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.Header().Set("Cache-Control", "no-cache")
	rw.WriteHeader(http.StatusOK)
	fl.Flush()
	beat := time.NewTicker(15 * time.Second)
	defer beat.Stop()
	for {
		evs, _, changed := w.events.since(since, 1000)
		for _, e := range evs {
			b, _ := json.Marshal(e)
			if _, err := fmt.Fprintf(rw, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Kind, b); err != nil {
				return
			}
			since = e.Seq
		}
		fl.Flush()
		if len(evs) == 1000 {
			continue
		}
		select {
		case <-r.Context().Done():
			return
		case <-w.ctx.Done():
			return
		case <-changed:
		case <-beat.C:
			if _, err := fmt.Fprint(rw, ": keep-alive\n\n"); err != nil {
				return
			}
		}
	}
}
