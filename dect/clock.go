package dect

import (
	"context"
	"fmt"
	"time"

	"basestation/dect/wire"
)

func toDateTime(t time.Time) wire.DateTime {
	if t.IsZero() || t.Year() < 2000 || t.Year() > 2099 {
		return wire.DateTime{}
	}
	return wire.DateTime{Year: uint16(t.Year()), Month: byte(t.Month()), Day: byte(t.Day()),
		Hour: byte(t.Hour()), Min: byte(t.Minute()), Sec: byte(t.Second())}
}

// localNow is the devices' clock: now in the configured time zone.
func (d *Driver) localNow() wire.DateTime {
	return toDateTime(time.Now().In(d.location()))
}

// location is the devices' time zone: SetLocation's, else
// Options.Location's, else the host's.
func (d *Driver) location() *time.Location {
	if z := d.zone.Load(); z != nil {
		return z
	}
	if loc := d.opts.Location(); loc != nil {
		return loc
	}
	return time.Local
}

// SetLocation sets the devices' time zone (the configured one) and their
// clock again soon; nil goes back to Options.Location.
func (d *Driver) SetLocation(loc *time.Location) {
	d.zone.Store(loc)
	d.SyncClock()
}

// SyncClock sets the devices' clock again soon (the configured time zone
// changed). It does not wait; a module that is not ready gets the clock
// when it starts.
func (d *Driver) SyncClock() {
	select {
	case d.clockQ <- struct{}{}:
	default:
	}
}

// clockLoop keeps the devices' clock right: it sets it every
// ClockInterval (drift), at the instant the zone's offset changes
// (daylight saving time) and on SyncClock. Module start-up sets it too.
func (d *Driver) clockLoop(ctx context.Context) {
	t := time.NewTimer(d.nextClock())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.clockQ:
			t.Stop()
		}
		if s, err := d.current(); err == nil {
			rctx, cancel := context.WithTimeout(ctx, d.opts.RequestTimeout)
			if _, err := s.request(rctx, wire.Msg{Type: wire.TDateTime, Time: d.localNow()}); err != nil && ctx.Err() == nil {
				d.log.Warn("dect: setting the devices' clock", "err", err)
			}
			cancel()
		}
		t.Reset(d.nextClock())
	}
}

// nextClock is how long until the clock is set again: ClockInterval, or
// less if the zone's offset changes before.
func (d *Driver) nextClock() time.Duration {
	loc := d.location()
	wait := d.opts.ClockInterval
	if _, end := time.Now().In(loc).ZoneBounds(); !end.IsZero() {
		wait = min(wait, time.Until(end))
	}
	return max(wait, 0)
}

// SetDateTime sends the date and time to every device's display.
func (d *Driver) SetDateTime(ctx context.Context, t time.Time) error {
	dt := toDateTime(t)
	if dt.IsZero() {
		return fmt.Errorf("%w: date %v outside 2000-2099", ErrBadRequest, t)
	}
	_, err := d.request(ctx, wire.Msg{Type: wire.TDateTime, Time: dt})
	return err
}
