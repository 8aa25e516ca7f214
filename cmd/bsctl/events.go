package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

// Following events live.

type eventsCmd struct{ count int }

func (e *eventsCmd) flags(fs *flag.FlagSet) {
	fs.IntVar(&e.count, "count", 0, "exit after this many events (0: follow until Ctrl-C)")
}

func (*eventsCmd) check(args []string) error { return noArgs(args) }

func (e *eventsCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	base := a.g.base
	if base == "" {
		base = "+"
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := 0
	if !a.g.jsonOut {
		fmt.Fprintf(a.errOut, "Following events of %s (Ctrl-C to stop)\n", strings.ReplaceAll(base, "+", "every base"))
	}
	return c.Events(ctx, base, func(ev provisioning.Event) {
		if a.g.jsonOut {
			b, _ := json.Marshal(ev)
			fmt.Fprintln(a.out, string(b))
		} else {
			fmt.Fprintf(a.out, "%s  %s  #%d  %-18s %s\n", ev.Time.Local().Format(time.TimeOnly), ev.Base, ev.Seq, ev.Type, eventText(ev))
		}
		n++
		if e.count > 0 && n >= e.count {
			cancel()
		}
	})
}

func eventText(ev provisioning.Event) string {
	var p []string
	if ev.Device != nil {
		p = append(p, fmt.Sprintf("%s %s", ev.Device.Type, ev.Device.ID))
	}
	if ev.Extension != "" {
		p = append(p, "ext "+ev.Extension)
	}
	if ev.State != "" {
		p = append(p, ev.State)
	}
	if ev.Version != 0 {
		p = append(p, fmt.Sprintf("v%d", ev.Version))
	}
	if len(ev.Waiting) > 0 {
		p = append(p, "waiting for "+strings.Join(ev.Waiting, ","))
	}
	if ev.Fault != "" {
		p = append(p, "fault: "+ev.Fault)
	}
	if q := ev.Quality; q != nil {
		p = append(p, fmt.Sprintf("%.0fs loss %.1f%% jitter %.1fms MOS %.1f", q.DurationS, q.LossPct, q.JitterMs, q.MOS))
	}
	for _, e := range ev.Errors {
		p = append(p, e.Path+": "+e.Message)
	}
	if ev.Reason != "" {
		p = append(p, ev.Reason)
	}
	if ev.Topic != "" {
		p = append(p, "topic "+ev.Topic)
	}
	return strings.Join(p, "; ")
}
