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

// Lines reports the port and every DECT device known now. The endpoints
// and their extensions are taken in one snapshot under the lock: a device
// removed meanwhile (the portal's "remove a device") is either in the
// snapshot or not, never a nil endpoint read after the lock was released.
// Each line's activity is read after, from the device itself.
func (s *stateSource) Lines() []provisioning.Line {
	d := (*Daemon)(s)
	type dev struct {
		id, ext, fault string
		line           lineDev
	}
	d.mu.Lock()
	devs := make([]dev, 0, 1+len(d.dectEP))
	devs = append(devs, dev{id: PortID, ext: d.extensionOfLocked(PortID), line: d.port, fault: d.faults[PortID]})
	for id, ep := range d.dectEP {
		if ep == nil {
			continue
		}
		devs = append(devs, dev{id: id, ext: d.extensionOfLocked(id), line: ep, fault: d.faults[id]})
	}
	d.mu.Unlock()
	sort.Slice(devs[1:], func(i, j int) bool { return devs[1+i].id < devs[1+j].id })
	out := make([]provisioning.Line, 0, len(devs))
	for _, v := range devs {
		out = append(out, provisioning.Line{Device: v.id, Extension: v.ext, State: lineState(v.line, v.fault), Fault: v.fault})
	}
	return out
}
