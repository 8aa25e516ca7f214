package dect

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"basestation/hal"
)

// Options configures a Driver. The zero value of every field means the
// default given in its comment (see DefaultOptions).
type Options struct {
	// StateDir is where the paired-device table is kept. Required.
	StateDir string
	// MaxDevices is the size of the device table (default 6, at most 32). The
	// module's own capacity, learnt at the handshake, may lower it.
	MaxDevices int
	// LED shows the registration window (blinks while open). Nil: no LED.
	LED hal.LED
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// Window is the default registration window (60 s); MaxWindow the
	// longest allowed (120 s, the DECT security certification limit).
	Window, MaxWindow time.Duration
	// LockoutAttempts wrong PINs in a row (default 3) lock registration out
	// for LockoutDuration (default 5 min).
	LockoutAttempts int
	LockoutDuration time.Duration

	// Link timing. ReadTimeout is the serial read timeout (default 3 s, or
	// the keepalive interval when that is shorter, so an idle link wakes the reader only for the
	// module's answers; tarm/serial's granularity is 100 ms, its maximum
	// 25.5 s): a read returns as soon as bytes arrive, so it bounds only how
	// often a silent line wakes the reader, and how late a silent module's
	// timeouts (which wait for the reader to have looked, see readClock)
	// are judged: a module silent for the keepalive limit is found within
	// one ReadTimeout more.
	// AckTimeout is the retransmission timer
	// (default 100 ms), MaxRetries the retransmissions before the link is
	// declared dead (default 10). RequestTimeout bounds a request's wait for
	// its confirmation, air round trips included (default 3 s).
	ReadTimeout    time.Duration
	AckTimeout     time.Duration
	MaxRetries     int
	RequestTimeout time.Duration
	// KeepaliveInterval (default 3 s) and KeepaliveMisses (default 3):
	// a module silent for Interval×Misses (9 s) is reset through its reset
	// pin. The interval is long so that an idle base sleeps; a module that
	// stops acknowledging while the host talks to it is found sooner, by
	// the retransmissions (AckTimeout × MaxRetries).
	KeepaliveInterval time.Duration
	KeepaliveMisses   int
	// SyncInterval is how often SYNC is repeated until answered (200 ms);
	// BootTimeout how long a module may take to answer after reset (2 s).
	SyncInterval, BootTimeout time.Duration
	// StallTimeout is how long a partial frame may wait for the rest of its
	// bytes before the decoder abandons it and rescans (default: twice the
	// time a maximum-size frame takes at the port's baud rate, plus 20 ms;
	// 110 ms at 115200 baud).
	StallTimeout time.Duration
	// ResetPulse is how long the reset line is held low (20 ms).
	ResetPulse time.Duration

	// PageDuration is how long paging lasts unless stopped (30 s).
	PageDuration time.Duration
	// LongPress is how long the base's button must be held to open the
	// registration window (3 s); shorter presses page (Button).
	LongPress time.Duration

	// Location is the time zone of the devices' clock (the configured
	// one; it may change at run time). Nil means the machine's (time.Local).
	Location func() *time.Location
	// ClockInterval is how often the devices' clock is set again against
	// drift (1 h). It is also set at module start, at every change of the
	// zone's offset (daylight saving time) and on SyncClock.
	ClockInterval time.Duration

	// InterDigitTimeout ends a Linx's dialing when no digit follows (4 s).
	InterDigitTimeout time.Duration
	// DialComplete, if set, is asked after each dialed digit whether the
	// number is complete (the dial plan). '#' always completes a number.
	DialComplete func(number string) bool

	// Rand is the source of challenges and keys (default crypto/rand).
	Rand io.Reader
	// OpenPort opens the serial link. Nil opens hal.Radio.Device with
	// github.com/tarm/serial at hal.Radio.Baud with ReadTimeout. Like
	// tarm/serial, its Read must return (0 bytes, nil or io.EOF) after at
	// most about ReadTimeout without data: the link judges the module's
	// silence by how far its reader has read, so a read that never returns
	// hides a silent module.
	OpenPort func() (io.ReadWriteCloser, error)
}

// DefaultOptions returns the defaults (StateDir left empty).
func DefaultOptions() Options {
	return Options{
		MaxDevices:        6,
		Window:            60 * time.Second,
		MaxWindow:         120 * time.Second,
		LockoutAttempts:   3,
		LockoutDuration:   5 * time.Minute,
		ReadTimeout:       3 * time.Second,
		AckTimeout:        100 * time.Millisecond,
		MaxRetries:        10,
		RequestTimeout:    3 * time.Second,
		KeepaliveInterval: 3 * time.Second,
		KeepaliveMisses:   3,
		SyncInterval:      200 * time.Millisecond,
		BootTimeout:       2 * time.Second,
		ResetPulse:        20 * time.Millisecond,
		InterDigitTimeout: 4 * time.Second,
		PageDuration:      30 * time.Second,
		LongPress:         3 * time.Second,
		ClockInterval:     time.Hour,
	}
}

func (o *Options) fill() error {
	d := DefaultOptions()
	if o.StateDir == "" {
		return fmt.Errorf("dect: Options.StateDir is required")
	}
	if o.MaxDevices == 0 {
		o.MaxDevices = d.MaxDevices
	}
	if o.MaxDevices < 1 || o.MaxDevices > 32 {
		return fmt.Errorf("dect: MaxDevices %d out of range 1..32", o.MaxDevices)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&o.Window, d.Window)
	set(&o.MaxWindow, d.MaxWindow)
	set(&o.LockoutDuration, d.LockoutDuration)
	set(&o.AckTimeout, d.AckTimeout)
	set(&o.RequestTimeout, d.RequestTimeout)
	set(&o.KeepaliveInterval, d.KeepaliveInterval)
	// A shorter keepalive than the default shortens the read timeout with
	// it: silence is judged once the reader has looked.
	set(&o.ReadTimeout, min(d.ReadTimeout, o.KeepaliveInterval))
	set(&o.SyncInterval, d.SyncInterval)
	set(&o.BootTimeout, d.BootTimeout)
	set(&o.ResetPulse, d.ResetPulse)
	set(&o.InterDigitTimeout, d.InterDigitTimeout)
	set(&o.PageDuration, d.PageDuration)
	set(&o.LongPress, d.LongPress)
	set(&o.ClockInterval, d.ClockInterval)
	if o.Location == nil {
		o.Location = func() *time.Location { return time.Local }
	}
	if o.MaxWindow > 120*time.Second {
		return fmt.Errorf("dect: MaxWindow %v exceeds 120 s", o.MaxWindow)
	}
	if o.Window > o.MaxWindow {
		return fmt.Errorf("dect: Window %v exceeds MaxWindow %v", o.Window, o.MaxWindow)
	}
	if o.LockoutAttempts <= 0 {
		o.LockoutAttempts = d.LockoutAttempts
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = d.MaxRetries
	}
	if o.KeepaliveMisses <= 0 {
		o.KeepaliveMisses = d.KeepaliveMisses
	}
	return nil
}
