package provisioning

import "time"

// DefaultDedupWindow is how many recent command ids the agent remembers
// (and persists) to run each command at most once.
const DefaultDedupWindow = 256

// dedupEntry is a remembered command and its latest result.
type dedupEntry struct {
	ID     string    `json:"id"`
	Seen   time.Time `json:"seen"`
	Result Result    `json:"result"`
}

// dedupWindow remembers the last size command ids, oldest first.
type dedupWindow struct {
	size    int
	entries []dedupEntry
}

func newDedupWindow(size int) *dedupWindow {
	if size <= 0 {
		size = DefaultDedupWindow
	}
	return &dedupWindow{size: size}
}

func (w *dedupWindow) get(id string) (dedupEntry, bool) {
	for i := len(w.entries) - 1; i >= 0; i-- {
		if w.entries[i].ID == id {
			return w.entries[i], true
		}
	}
	return dedupEntry{}, false
}

// put adds or updates an entry; the oldest entries fall out of the window.
func (w *dedupWindow) put(e dedupEntry) {
	for i := range w.entries {
		if w.entries[i].ID == e.ID {
			w.entries[i] = e
			return
		}
	}
	w.entries = append(w.entries, e)
	if n := len(w.entries) - w.size; n > 0 {
		w.entries = append(w.entries[:0:0], w.entries[n:]...)
	}
}

// interrupted turns the entries of commands that were still running when
// the base stopped into failures, so a replay reports them as such instead
// of running them again.
func (w *dedupWindow) interrupted(now time.Time) {
	for i := range w.entries {
		r := &w.entries[i].Result
		if !IsFinal(r.Status) {
			r.Status = StatusFailed
			r.Reason = "interrupted: the base restarted before the command finished"
			r.Time = now
			r.ClosesAt = nil
		}
	}
}
