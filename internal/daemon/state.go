package daemon

import (
	"sort"

	"basestation/provisioning"
)

// stateSource is the daemon as provisioning.StateSource.
type stateSource Daemon

func (s *stateSource) Registrations() []provisioning.Registration {
	d := (*Daemon)(s)
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]provisioning.Registration, 0, len(d.regs))
	for _, r := range d.regs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Extension < out[j].Extension })
	return out
}

func (s *stateSource) Lines() []provisioning.Line {
	d := (*Daemon)(s)
	st, fault := d.portLine.snapshot()
	out := []provisioning.Line{{Device: PortID, Extension: d.extensionOf(PortID), State: st, Fault: fault}}
	d.mu.Lock()
	ids := make([]string, 0, len(d.dectEP))
	for id := range d.dectEP {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	sort.Strings(ids)
	for _, id := range ids {
		d.mu.Lock()
		ep := d.dectEP[id]
		d.mu.Unlock()
		st, fault := ep.line.snapshot()
		out = append(out, provisioning.Line{Device: id, Extension: d.extensionOf(id), State: st, Fault: fault})
	}
	return out
}
