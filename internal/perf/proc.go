package perf

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"syscall"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. The
// kernel exports these fields in USER_HZ, which is 100 on every Linux
// architecture regardless of CONFIG_HZ.
const ClockTicks = 100

// Usage is one reading of a process's CPU time and memory.
type Usage struct {
	CPUTicks uint64 // utime + stime, in 1/ClockTicks s
	RSSKiB   uint64 // VmRSS
	AnonKiB  uint64 // RssAnon (heap, stacks, anonymous mappings)
	// Context switches summed over the process's threads alive at the
	// reading (/proc/PID/task/*/status): voluntary ones are the wake-ups
	// (a thread blocked and was woken again).
	VolCS, InvolCS uint64
}

// CPUMillis returns the CPU time in milliseconds.
func (u Usage) CPUMillis() float64 { return float64(u.CPUTicks) * 1000 / ClockTicks }

// ReadUsage reads /proc/PID/stat and /proc/PID/status.
func ReadUsage(pid int) (Usage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, err
	}
	ut, st, err := ParseStat(b)
	if err != nil {
		return Usage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Usage{}, err
	}
	rss, anon, err := ParseStatus(b)
	if err != nil {
		return Usage{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	vol, invol, err := ReadSwitches(pid)
	if err != nil {
		return Usage{}, err
	}
	return Usage{CPUTicks: ut + st, RSSKiB: rss, AnonKiB: anon, VolCS: vol, InvolCS: invol}, nil
}

// ReadSwitches sums the voluntary and involuntary context switches of
// pid's threads (/proc/PID/task/*/status). A thread that ends between the
// listing and its reading is skipped.
func ReadSwitches(pid int) (vol, invol uint64, err error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/status")
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		v, i, err := ParseSwitches(b)
		if err != nil {
			return 0, 0, fmt.Errorf("%s/%s/status: %w", dir, e.Name(), err)
		}
		vol, invol = vol+v, invol+i
	}
	return vol, invol, nil
}

// ParseSwitches returns voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches from a /proc status file; both must be
// present exactly once.
func ParseSwitches(b []byte) (vol, invol uint64, err error) {
	return statusPair(b, "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches", func(val []byte) (uint64, error) {
		return strconv.ParseUint(string(bytes.TrimSpace(val)), 10, 64)
	})
}

// statusPair reads the values of keys k1 and k2 from a /proc status file,
// each present exactly once, with parse.
func statusPair(b []byte, k1, k2 string, parse func(val []byte) (uint64, error)) (v1, v2 uint64, err error) {
	var have1, have2 bool
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		var dst *uint64
		var seen *bool
		switch string(key) {
		case k1:
			dst, seen = &v1, &have1
		case k2:
			dst, seen = &v2, &have2
		default:
			continue
		}
		if *seen {
			return 0, 0, fmt.Errorf("%s appears twice", key)
		}
		n, err := parse(val)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %v", key, err)
		}
		*dst, *seen = n, true
	}
	if !have1 {
		return 0, 0, fmt.Errorf("no %s line", k1)
	}
	if !have2 {
		return 0, 0, fmt.Errorf("no %s line", k2)
	}
	return v1, v2, nil
}

// ParseStat returns utime and stime (fields 14 and 15) of a /proc/PID/stat
// line. The command name (field 2) is in parentheses and may itself hold
// spaces and parentheses, so fields are counted after the last ')'.
func ParseStat(b []byte) (utime, stime uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || bytes.IndexByte(b, '(') < 0 || bytes.IndexByte(b, '(') > i {
		return 0, 0, errors.New("no parenthesised command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime is field 14 → f[11], stime f[12].
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	if len(f[0]) != 1 {
		return 0, 0, fmt.Errorf("state field %q is not one letter", f[0])
	}
	utime, err = strconv.ParseUint(string(f[11]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("utime (field 14): %v", err)
	}
	stime, err = strconv.ParseUint(string(f[12]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("stime (field 15): %v", err)
	}
	return utime, stime, nil
}

// ParseStatus returns VmRSS and RssAnon in KiB from /proc/PID/status.
// Both must be present exactly once, in kB.
func ParseStatus(b []byte) (rssKiB, anonKiB uint64, err error) {
	return statusPair(b, "VmRSS", "RssAnon", func(val []byte) (uint64, error) {
		f := bytes.Fields(val)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("%q is not \"N kB\"", bytes.TrimSpace(val))
		}
		return strconv.ParseUint(string(f[0]), 10, 64)
	})
}

// Fit is a least-squares line y = Intercept + Slope·x.
type Fit struct {
	Slope, Intercept float64
}

// LeastSquares fits a line through the points (xs[i], ys[i]). It needs at
// least two distinct x values.
func LeastSquares(xs, ys []float64) (Fit, error) {
	if len(xs) != len(ys) {
		return Fit{}, fmt.Errorf("%d x values and %d y values", len(xs), len(ys))
	}
	n := float64(len(xs))
	if len(xs) < 2 {
		return Fit{}, errors.New("fewer than two points")
	}
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for i := range xs {
		dx := xs[i] - mx
		sxx += dx * dx
		sxy += dx * (ys[i] - my)
	}
	if sxx == 0 {
		return Fit{}, errors.New("all x values are equal")
	}
	s := sxy / sxx
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return Fit{}, errors.New("values are not finite")
	}
	return Fit{Slope: s, Intercept: my - s*mx}, nil
}

// Median returns the median of xs (NaN for none); xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
