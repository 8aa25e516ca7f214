package soak

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"basestation/provisioning"
)

// settle is how long the base may take to reach what a step expects: the
// reported state, the PBX and the devices are all asynchronous. It bounds
// a failure; a healthy base settles in milliseconds.
const settle = 10 * time.Second

// check polls the invariants until they all hold or settle passes, and
// returns the violations seen last.
func (r *run) check() []string {
	deadline := time.Now().Add(settle)
	for {
		v := r.invariants()
		if len(v) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return v
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// invariants checks, once, what must hold after every step.
func (r *run) invariants() []string {
	w, m := r.w, r.m
	var v []string
	bad := func(format string, a ...any) { v = append(v, fmt.Sprintf(format, a...)) }
	if err := w.daemonAlive(); err != nil {
		return []string{err.Error()}
	}
	st, err := w.reportedState()
	if err != nil {
		return []string{"reading the reported state: " + err.Error()}
	}

	// The reported state equals the applied configuration.
	if st.Config.AppliedVersion != m.version {
		bad("reported applied_version %d, the portal's last applied version is %d", st.Config.AppliedVersion, m.version)
	}
	if p := st.Config.Pending; p != nil {
		bad("reported a pending version %d waiting for %v", p.Version, p.WaitingFor)
	}
	want := map[string]string{provisioning.PortDeviceID: m.extOf(provisioning.PortDeviceID)}
	for _, d := range r.w.devs {
		if m.paired[d.name] {
			want[d.id] = m.extOf(d.id)
		}
	}
	got := map[string]string{}
	types := map[string]int{}
	for _, d := range st.Devices {
		if _, dup := got[d.ID]; dup {
			bad("device %s reported twice", d.ID)
		}
		got[d.ID] = d.Extension
		if d.Extension != "" {
			types[d.Extension+"/"+string(d.Type)]++
		}
	}
	for id, ext := range want {
		g, ok := got[id]
		switch {
		case !ok:
			bad("device %s (assigned to %q) missing from the reported devices", id, ext)
		case g != ext:
			bad("device %s reported on extension %q, the applied configuration has %q", id, g, ext)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			bad("device %s reported but not paired", id)
		}
	}
	// At most one device of each type per extension.
	for k, n := range types {
		if n > 1 {
			bad("extension/type %s has %d devices", k, n)
		}
	}
	// No registration for an extension that has no device on the base.
	for _, reg := range st.Registrations {
		switch {
		case m.deleted[reg.Extension]:
			bad("registration of extension %s reported (%s), but the applied configuration has no such extension", reg.Extension, reg.State)
		case len(m.devicesOf(reg.Extension)) == 0 && reg.State != provisioning.RegUnregistered:
			bad("registration of extension %s reported %s, but it has no device on the base", reg.Extension, reg.State)
		}
	}
	for ext := range w.baseBindings() {
		if len(m.devicesOf(ext)) == 0 {
			bad("the PBX holds the base's registration of extension %s, which has no device on the base", ext)
		}
	}
	// Lines: one per device, on the right extension, in the state the
	// calls in progress give.
	lines := map[string]provisioning.Line{}
	for _, l := range st.Lines {
		lines[l.Device] = l
	}
	for id, ext := range want {
		l, ok := lines[id]
		if !ok {
			bad("no line reported for device %s", id)
			continue
		}
		if l.Extension != ext {
			bad("line of %s reported on extension %q, want %q", id, l.Extension, ext)
		}
		if ws := m.lineWant(id); !slices.Contains(ws, l.State) {
			bad("line of %s is %q, want %s", id, l.State, strings.Join(ws, " or "))
		}
	}
	for id := range lines {
		if _, ok := want[id]; !ok {
			bad("line reported for %s, which is not a device of the base", id)
		}
	}
	// Registration mode as the walk opened it.
	if open, sure := r.windowOpen(); sure && st.RegistrationMode.Open != open {
		bad("registration mode reported open=%v, want %v", st.RegistrationMode.Open, open)
	}

	// Every ringing or connected call has a live SIP dialog at the PBX and
	// every dialog of a base extension a call on a line.
	if w.thePBX() != nil {
		pc := w.pbxCalls()
		perExt := map[string]int{}
		for _, c := range pc {
			for _, e := range baseExts {
				if c.Caller == e || c.Dialled == e || c.Callee == e {
					perExt[e]++
					break
				}
			}
		}
		wantExt := map[string]int{}
		for _, c := range m.calls {
			wantExt[c.ext]++
		}
		for _, e := range baseExts {
			if perExt[e] != wantExt[e] {
				bad("the PBX has %d live dialogs of extension %s, the walk %d (PBX calls: %s)", perExt[e], e, wantExt[e], describeCalls(pc))
			}
		}
		for _, l := range st.Lines {
			if (l.State == provisioning.LineRinging || l.State == provisioning.LineTalking) && perExt[l.Extension] == 0 {
				bad("line of %s is %s for extension %q with no dialog at the PBX", l.Device, l.State, l.Extension)
			}
		}
	}
	sort.Strings(v)
	return v
}

func describeCalls(cs []pbxCall) string {
	var s []string
	for _, c := range cs {
		s = append(s, fmt.Sprintf("%s→%s(%s,%s)", c.Caller, c.Dialled, c.State, c.Callee))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// resources is what the process holds at a quiet point.
type resources struct {
	goroutines int
	fds        int
	heap       uint64 // live heap after a GC
}

func (x resources) String() string {
	return fmt.Sprintf("goroutines=%d fds=%d heap=%.1fMiB", x.goroutines, x.fds, float64(x.heap)/(1<<20))
}

func measure() resources {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds := -1
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(ents)
	}
	return resources{goroutines: runtime.NumGoroutine(), fds: fds, heap: ms.HeapAlloc}
}

// Tolerances of a quiet point against the baseline. SIP transactions
// linger up to 32 s (timer J) after the last request and a few
// registrations refresh at any moment; a leak of one goroutine or file per
// call or per step exceeds these within a few quiet points.
const (
	tolGoroutines = 40
	tolFDs        = 12
	tolHeapBytes  = 24 << 20
)

// overBaseline describes how far x is above the baseline, "" when within
// the tolerances.
func overBaseline(x, base resources) string {
	var s []string
	if x.goroutines > base.goroutines+tolGoroutines {
		s = append(s, fmt.Sprintf("goroutines %d > baseline %d + %d", x.goroutines, base.goroutines, tolGoroutines))
	}
	if x.fds > base.fds+tolFDs {
		s = append(s, fmt.Sprintf("open files %d > baseline %d + %d", x.fds, base.fds, tolFDs))
	}
	if x.heap > base.heap*3/2+tolHeapBytes {
		s = append(s, fmt.Sprintf("heap %.1f MiB > 1.5 × baseline %.1f MiB + %d MiB", float64(x.heap)/(1<<20), float64(base.heap)/(1<<20), tolHeapBytes>>20))
	}
	return strings.Join(s, "; ")
}
