package provisioning

// The event log (docs/mqtt-api.md §6.1): a bounded ring of the base's
// recent events — every event the agent publishes, and the restarts with
// their reason — kept across restarts in the state directory and returned,
// newest first, by the event-log command.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"basestation/internal/atomicfile"
)

const (
	eventLogFile = "events.json"
	// DefaultEventLogSize is how many events the ring keeps.
	DefaultEventLogSize = 256
	// eventLogFlush: a changed log is written at most this often (flash
	// wear), and always at a clean stop.
	eventLogFlush = time.Minute
)

// EvRestart is the event-log entry written when the agent starts: Reason
// says how the previous run ended.
const EvRestart = "restart"

// Restart reasons (EvRestart's Reason, before any detail).
const (
	RestartFirstStart = "first-start" // no log from an earlier run
	RestartCleanStop  = "clean-stop"  // the previous run stopped cleanly (its reason follows)
	RestartUnclean    = "unclean"     // crash, watchdog, power loss or SIGKILL: no clean stop recorded
)

// eventLogDoc is the file.
type eventLogDoc struct {
	Schema     int     `json:"schema"`
	CleanStop  bool    `json:"clean_stop"`
	StopReason string  `json:"stop_reason,omitempty"`
	Events     []Event `json:"events"` // oldest first
}

// eventLog is the ring; only the agent's loop uses it.
type eventLog struct {
	dir   string
	size  int
	ev    []Event // oldest first, at most size
	dirty bool
	saved time.Time
}

// openEventLog reads the log of the previous run and returns the log and
// why the previous run ended (a Restart* reason with detail). A corrupt
// file is set aside (events.json.corrupt) and the log starts empty.
func openEventLog(dir string, size int) (*eventLog, string, error) {
	if size <= 0 {
		size = DefaultEventLogSize
	}
	l := &eventLog{dir: dir, size: size}
	b, err := os.ReadFile(filepath.Join(dir, eventLogFile))
	if errors.Is(err, fs.ErrNotExist) {
		return l, RestartFirstStart, nil
	}
	if err != nil {
		return l, RestartUnclean, fmt.Errorf("provisioning: event log: %w", err)
	}
	var doc eventLogDoc
	if err := DecodeStrict(b, &doc); err != nil || doc.Schema != SchemaVersion {
		if err == nil {
			err = fmt.Errorf("schema %d, want %d", doc.Schema, SchemaVersion)
		}
		_ = os.Rename(filepath.Join(dir, eventLogFile), filepath.Join(dir, eventLogFile+".corrupt"))
		return l, RestartUnclean, fmt.Errorf("provisioning: event log unreadable, set aside: %w", err)
	}
	l.ev = doc.Events
	if len(l.ev) > size {
		l.ev = l.ev[len(l.ev)-size:]
	}
	if doc.CleanStop {
		r := RestartCleanStop
		if doc.StopReason != "" {
			r += ": " + doc.StopReason
		}
		return l, r, nil
	}
	return l, RestartUnclean, nil
}

func (l *eventLog) add(e Event) {
	if l == nil {
		return // not running yet
	}
	if len(l.ev) == l.size {
		copy(l.ev, l.ev[1:])
		l.ev = l.ev[:l.size-1]
	}
	l.ev = append(l.ev, e)
	l.dirty = true
}

// query returns up to limit events, newest first, of the given types
// (all types when types is empty).
func (l *eventLog) query(types []string, limit int) []Event {
	out := make([]Event, 0, min(limit, len(l.ev)))
	for i := len(l.ev) - 1; i >= 0 && len(out) < limit; i-- {
		if len(types) == 0 || slices.Contains(types, l.ev[i].Type) {
			out = append(out, l.ev[i])
		}
	}
	return out
}

// save writes the log; clean marks a clean stop with its reason.
func (l *eventLog) save(clean bool, reason string) error {
	b, err := json.Marshal(eventLogDoc{Schema: SchemaVersion, CleanStop: clean, StopReason: reason, Events: l.ev})
	if err != nil {
		return fmt.Errorf("provisioning: event log: %w", err)
	}
	if err := atomicfile.Write(l.dir, eventLogFile, b, 0o600, nil); err != nil {
		return fmt.Errorf("provisioning: event log: %w", err)
	}
	l.dirty = false
	return nil
}

// flush writes a changed log at most once per eventLogFlush.
func (l *eventLog) flush(now time.Time) error {
	if !l.dirty || now.Sub(l.saved) < eventLogFlush {
		return nil
	}
	l.saved = now
	return l.save(false, "")
}

// stopReason says why the agent's context ended: its cause when the daemon
// gave one (context.WithCancelCause), else "stopped".
func stopReason(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c.Error()
	}
	return "stopped"
}

// EventLogArgs are the event-log command's arguments.
type EventLogArgs struct {
	// Types keeps only these event types (all when empty).
	Types []string `json:"types,omitempty"`
	// Limit is the most events returned (default 50, at most the log's size).
	Limit int `json:"limit,omitempty"`
}

// DecodeEventLogArgs parses and checks event-log arguments.
func DecodeEventLogArgs(raw json.RawMessage) (EventLogArgs, error) {
	var a EventLogArgs
	if err := decodeArgs(raw, &a); err != nil {
		return a, err
	}
	if a.Limit < 0 || a.Limit > DefaultEventLogSize {
		return a, fmt.Errorf("args.limit: %d is out of range (1 to %d)", a.Limit, DefaultEventLogSize)
	}
	if a.Limit == 0 {
		a.Limit = 50
	}
	for i, t := range a.Types {
		if !knownEventType(t) {
			return a, fmt.Errorf("args.types[%d]: unknown event type %q", i, t)
		}
	}
	return a, nil
}
