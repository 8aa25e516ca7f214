package main

import (
	"context"
	"flag"
	"fmt"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

// Extensions (the portal's users): list, set, add, delete.

type extensionsCmd struct{ noFlags }

func (*extensionsCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, cancel := a.timed(ctx)
	defer cancel()
	cfg, err := c.Desired(ctx, a.g.base)
	if err != nil {
		return err
	}
	if a.g.jsonOut {
		return a.printJSON(cfg.Redacted().Extensions)
	}
	fmt.Fprintf(a.out, "Configuration v%d of base %s\n", cfg.Version, cfg.Base)
	tw := a.table()
	fmt.Fprintln(tw, "EXTENSION\tNAME\tSIP USER\tCALLER ID\tVOICEMAIL\tPORT\tLINX\tHEADSET")
	for _, e := range cfg.Extensions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Number, e.DisplayName, e.SIP.User+"@"+e.SIP.Domain,
			dash(e.CallerID), dash(e.VoicemailNumber), dash(e.Devices.Port), dash(e.Devices.Linx), dash(e.Devices.Headset))
	}
	return tw.Flush()
}

// setCmd changes the settings given on the command line, and only those.
type setCmd struct {
	waitFlag
	ext string
	// set holds the settings given, by flag name.
	set map[string]string
}

func newSetCmd() *setCmd { return &setCmd{set: map[string]string{}} }

// setFields are set's settings and where they go.
func setFields() []struct {
	name, help string
	apply      func(e *provisioning.Extension, v string)
} {
	return []struct {
		name, help string
		apply      func(e *provisioning.Extension, v string)
	}{
		{"caller-id", "outbound caller ID, `E164` (+15551230101); \"\" for the PBX's default", func(e *provisioning.Extension, v string) { e.CallerID = v }},
		{"name", "display `name`", func(e *provisioning.Extension, v string) { e.DisplayName = v }},
		{"voicemail-number", "voicemail access `number` (e.g. *98)", func(e *provisioning.Extension, v string) { e.VoicemailNumber = v }},
		{"sip-password", "new SIP `password`", func(e *provisioning.Extension, v string) { e.SIP.Password = v }},
		{"transport", "SIP `transport`: udp, tcp or tls", func(e *provisioning.Extension, v string) { e.SIP.Transport = v }},
	}
}

func (s *setCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&s.ext, "ext", "", "extension number `N`")
	for _, f := range setFields() {
		fs.Func(f.name, f.help, func(v string) error { s.set[f.name] = v; return nil })
	}
	s.waitFlag.flags(fs)
}

func (s *setCmd) check(args []string) error {
	return required(args, "--ext and at least one setting are", s.ext != "" && len(s.set) > 0)
}

func (s *setCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, finish := a.change(ctx, s.wait)
	cfg, err := c.SetExtension(ctx, a.g.base, s.ext, func(e *provisioning.Extension) error {
		for _, f := range setFields() {
			if v, ok := s.set[f.name]; ok {
				f.apply(e, v)
			}
		}
		return nil
	})
	return a.outcome(finish(), cfg, err, "Extension "+s.ext+" updated")
}

type addExtensionCmd struct {
	waitFlag
	e provisioning.Extension
}

func (x *addExtensionCmd) flags(fs *flag.FlagSet) {
	e := &x.e
	fs.StringVar(&e.Number, "ext", "", "extension number `N` (2 to 6 digits)")
	fs.StringVar(&e.DisplayName, "name", "", "display `name`")
	fs.StringVar(&e.SIP.User, "sip-user", "", "SIP `user`")
	fs.StringVar(&e.SIP.AuthUser, "sip-auth-user", "", "SIP authentication `user` (default: the SIP user)")
	fs.StringVar(&e.SIP.Password, "sip-password", "", "SIP `password`")
	fs.StringVar(&e.SIP.Domain, "sip-domain", "", "SIP `domain`")
	fs.StringVar(&e.SIP.Transport, "transport", "", "SIP `transport`: udp, tcp or tls (default udp)")
	fs.StringVar(&e.CallerID, "caller-id", "", "outbound caller ID, `E164`")
	fs.StringVar(&e.VoicemailNumber, "voicemail-number", "", "voicemail access `number`")
	x.waitFlag.flags(fs)
}

func (x *addExtensionCmd) check(args []string) error {
	e := &x.e
	return required(args, "--ext, --name, --sip-user, --sip-password and --sip-domain are",
		e.Number != "" && e.DisplayName != "" && e.SIP.User != "" && e.SIP.Password != "" && e.SIP.Domain != "")
}

func (x *addExtensionCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, finish := a.change(ctx, x.wait)
	cfg, err := c.AddExtension(ctx, a.g.base, x.e)
	return a.outcome(finish(), cfg, err, "Extension "+x.e.Number+" added")
}

type deleteExtensionCmd struct {
	waitFlag
	ext string
}

func (d *deleteExtensionCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&d.ext, "ext", "", "extension number `N`")
	d.waitFlag.flags(fs)
}

func (d *deleteExtensionCmd) check(args []string) error {
	return required(args, "--ext is", d.ext != "")
}

func (d *deleteExtensionCmd) run(ctx context.Context, a *app, c *cloud.Client, _ []string) error {
	ctx, finish := a.change(ctx, d.wait)
	cfg, err := c.DeleteExtension(ctx, a.g.base, d.ext)
	return a.outcome(finish(), cfg, err, "Extension "+d.ext+" deleted")
}
