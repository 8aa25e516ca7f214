package dect_test

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has

	"basestation/dect"
	"basestation/dect/wire"
)

func dtString(dt wire.DateTime) string {
	return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", dt.Year, dt.Month, dt.Day, dt.Hour, dt.Min, dt.Sec)
}

// zoneSetting is a time zone the configuration can change at run time.
type zoneSetting struct {
	mu  sync.Mutex
	loc *time.Location
}

func (z *zoneSetting) get() *time.Location {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.loc
}

func (z *zoneSetting) set(l *time.Location) {
	z.mu.Lock()
	z.loc = l
	z.mu.Unlock()
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Issue 10 §2: the devices' clock was set once at module start, in the
// machine's time zone. It is set in the configured zone, again at the
// instant daylight saving time starts (America/Toronto, 2000-04-02 02:00
// EST becomes 03:00 EDT), every hour against drift, and at once when the
// configured zone changes. Production timings, in virtual time.
func TestDevicesClockFollowsConfiguredZoneAndDST(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		toronto := mustZone(t, "America/Toronto")
		// The bubble's clock starts at 2000-01-01 00:00 UTC; go to
		// 01:58:30 EST on the day DST starts (06:58:30 UTC).
		dst := time.Date(2000, 4, 2, 7, 0, 0, 0, time.UTC)
		time.Sleep(time.Until(dst.Add(-90 * time.Second)))
		zone := &zoneSetting{loc: toronto}
		drv, f, stop := startVirtual(t, dect.Options{Location: zone.get})
		defer stop()

		c := f.clocks()
		if len(c) != 1 || dtString(c[0].dt) != "2000-04-02 01:58:30" {
			t.Fatalf("clock at module start %v, want 2000-04-02 01:58:30 (Toronto, EST)", c)
		}
		time.Sleep(2 * time.Minute)
		c = f.clocks()
		if len(c) != 2 || !c[1].at.Equal(dst) || dtString(c[1].dt) != "2000-04-02 03:00:00" {
			t.Fatalf("after the DST change the devices got %v, want 03:00:00 EDT at %v", c, dst)
		}

		// Hourly against drift.
		time.Sleep(time.Until(dst.Add(time.Hour + time.Second)))
		c = f.clocks()
		if len(c) != 3 || !c[2].at.Equal(dst.Add(time.Hour)) || dtString(c[2].dt) != "2000-04-02 04:00:00" {
			t.Fatalf("an hour later the devices got %v, want 04:00:00 at %v", c, dst.Add(time.Hour))
		}

		// The configuration moves the base to Vancouver: set at once.
		zone.set(mustZone(t, "America/Vancouver"))
		drv.SyncClock()
		time.Sleep(time.Second)
		c = f.clocks()
		if len(c) != 4 || dtString(c[3].dt) != "2000-04-02 00:00:01" {
			t.Fatalf("after the zone change the devices got %v, want 00:00:01 (Vancouver, still PST)", c)
		}

	})
}

// When daylight saving time ends (Toronto, 2000-10-29 02:00 EDT becomes
// 01:00 EST) the devices' clock steps back at that instant.
func TestDevicesClockStepsBackWhenDSTEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		end := time.Date(2000, 10, 29, 6, 0, 0, 0, time.UTC)
		time.Sleep(time.Until(end.Add(-30 * time.Second)))
		zone := &zoneSetting{loc: mustZone(t, "America/Toronto")}
		_, f, stop := startVirtual(t, dect.Options{Location: zone.get})
		defer stop()
		time.Sleep(time.Minute)
		c := f.clocks()
		if len(c) != 2 || dtString(c[0].dt) != "2000-10-29 01:59:30" ||
			!c[1].at.Equal(end) || dtString(c[1].dt) != "2000-10-29 01:00:00" {
			t.Fatalf("the devices got %v, want 01:59:30 EDT at start and 01:00:00 EST at %v", c, end)
		}
	})
}
