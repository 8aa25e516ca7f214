package dect

import (
	"context"
	"errors"

	"periph.io/x/conn/v3"
)

var _ conn.Resource = (*Driver)(nil)

// Halt leaves the radio inert, as periph's conn.Resource asks: the
// registration window closes (the module is told), paging stops and no
// device rings. Calls in progress and the link stay up; Run goes on. With
// the module not ready there is nothing to tell it: its window, paging and
// rings ended with the session.
func (d *Driver) Halt() error {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.RequestTimeout)
	defer cancel()
	d.closeWindow("closed", true)
	var errs []error
	if d.Paging() {
		if err := d.Page(ctx, false); err != nil && !errors.Is(err, ErrNotReady) {
			errs = append(errs, err)
		}
	}
	d.mu.Lock()
	devs := make([]*Device, 0, len(d.devices))
	for _, dev := range d.devices {
		devs = append(devs, dev)
	}
	d.mu.Unlock()
	for _, dev := range devs {
		if err := dev.StopRinging(); err != nil && !errors.Is(err, ErrNotReady) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
