package provisioning

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A changed log is written at most once a minute (flash wear), and the
// ring keeps the newest size events.
func TestEventLogFlushAndRing(t *testing.T) {
	dir := t.TempDir()
	l, why, err := openEventLog(dir, 3)
	if err != nil || why != RestartFirstStart {
		t.Fatalf("open: %q %v", why, err)
	}
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		l.add(Event{Type: EvLineFault, Seq: uint64(i + 1)})
	}
	if got := l.query(nil, 10); len(got) != 3 || got[0].Seq != 5 || got[2].Seq != 3 {
		t.Fatalf("ring %+v, want seq 5,4,3", got)
	}
	path := filepath.Join(dir, eventLogFile)
	if err := l.flush(t0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("first flush did not write: %v", err)
	}
	l.add(Event{Type: EvCallEnded, Seq: 6})
	if err := l.flush(t0.Add(59 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var doc eventLogDoc
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Events) != 3 || doc.Events[2].Seq != 5 || doc.CleanStop {
		t.Fatalf("after 59 s the file should still hold seq 3..5, unclean: %+v %v", doc, err)
	}
	if err := l.flush(t0.Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if err := json.Unmarshal(b, &doc); err != nil || doc.Events[2].Seq != 6 {
		t.Fatalf("after 60 s the file should hold seq 6: %+v %v", doc, err)
	}
	if err := l.flush(t0.Add(200 * time.Second)); err != nil || l.dirty {
		t.Fatalf("unchanged log: %v dirty %v", err, l.dirty)
	}
}

// FuzzEventLogFile: whatever the file holds, opening it never panics, and
// what it returns is usable.
func FuzzEventLogFile(f *testing.F) {
	f.Add([]byte(`{"schema":1,"clean_stop":true,"stop_reason":"x","events":[{"schema":1,"base":"bs-1","seq":1,"time":"2026-12-07T09:00:00Z","type":"line-fault"}]}`))
	f.Add([]byte(`{"schema":1,"clean_stop":false,"events":[]}`))
	f.Add([]byte(`{"schema":2}`))
	f.Add([]byte(`{"schema":1,"schema":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, eventLogFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		l, why, _ := openEventLog(dir, 4)
		if why == "" || len(l.ev) > 4 {
			t.Fatalf("reason %q, %d events", why, len(l.ev))
		}
		l.add(Event{Type: EvError})
		if got := l.query(nil, 10); len(got) == 0 || got[0].Type != EvError {
			t.Fatalf("query %+v", got)
		}
	})
}

// FuzzDiagArgs: the event-log and locate argument decoders refuse what they
// cannot use, never panic, and what they accept is in range.
func FuzzDiagArgs(f *testing.F) {
	f.Add([]byte(`{"types":["line-fault"],"limit":5}`))
	f.Add([]byte(`{"device":"dect-0a1b2c3d","on":false}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"port":"port1"}`))
	f.Add([]byte(`{"limit":1,"limit":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := DecodeEventLogArgs(b); err == nil {
			if a.Limit < 1 || a.Limit > DefaultEventLogSize {
				t.Fatalf("limit %d accepted", a.Limit)
			}
			for _, ty := range a.Types {
				if !knownEventType(ty) {
					t.Fatalf("type %q accepted", ty)
				}
			}
		}
		if a, err := DecodeLocateArgs(b); err == nil && (a.Device == "" || a.Device == PortDeviceID) {
			t.Fatalf("device %q accepted", a.Device)
		}
		if a, err := DecodeLineTestArgs(b); err == nil && a.Port == "" {
			t.Fatal("line-test args without a port accepted")
		}
	})
}
