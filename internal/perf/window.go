package perf

import (
	"context"
	"errors"
	"time"
)

// Window is what a process used over a measurement window.
type Window struct {
	Seconds   float64 // wall time between the first and the last reading
	CPUms     float64 // utime+stime spent in the window, ms
	CPUmsPerS float64 // CPUms / Seconds
	RSSKiB    float64 // median VmRSS over the samples
	AnonKiB   float64 // median RssAnon over the samples
	// Context switches per second over the window, all threads.
	VolCSPerS, InvolCSPerS float64
	Samples                int
}

// MeasureWindow reads pid's usage every interval for d (at least two
// readings) and returns the CPU rate and the median memory. It stops early
// with ctx's error.
func MeasureWindow(ctx context.Context, pid int, d, interval time.Duration) (Window, error) {
	if d <= 0 || interval <= 0 || interval > d {
		return Window{}, errors.New("perf: window and interval must be positive, interval ≤ window")
	}
	first, err := ReadUsage(pid)
	if err != nil {
		return Window{}, err
	}
	t0 := time.Now()
	rss := []float64{float64(first.RSSKiB)}
	anon := []float64{float64(first.AnonKiB)}
	last, tl := first, t0
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for time.Since(t0) < d {
		select {
		case <-ctx.Done():
			return Window{}, ctx.Err()
		case <-tick.C:
		}
		u, err := ReadUsage(pid)
		if err != nil {
			return Window{}, err
		}
		last, tl = u, time.Now()
		rss = append(rss, float64(u.RSSKiB))
		anon = append(anon, float64(u.AnonKiB))
	}
	w := Window{
		Seconds: tl.Sub(t0).Seconds(),
		CPUms:   last.CPUMillis() - first.CPUMillis(),
		RSSKiB:  Median(rss),
		AnonKiB: Median(anon),
		Samples: len(rss),
	}
	if w.Seconds > 0 {
		w.CPUmsPerS = w.CPUms / w.Seconds
		// Thread counts only grow in a settled Go process; a thread that
		// exited in the window takes its switches with it (then ≥ 0 here).
		if last.VolCS >= first.VolCS {
			w.VolCSPerS = float64(last.VolCS-first.VolCS) / w.Seconds
		}
		if last.InvolCS >= first.InvolCS {
			w.InvolCSPerS = float64(last.InvolCS-first.InvolCS) / w.Seconds
		}
	}
	return w, nil
}
