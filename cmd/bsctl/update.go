package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"basestation/provisioning"
	"basestation/provisioning/cloud"
)

// updateCmd starts a firmware-update job and follows it to its final
// result (docs/mqtt-api.md §5.4).
type updateCmd struct {
	version, sum, file, id string
	size                   int64
	allowDowngrade         bool
}

func (u *updateCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&u.version, "fw-version", "", "the bundle's firmware `VERSION` (required)")
	fs.StringVar(&u.file, "file", "", "local copy of the bundle: its size and sha256 are computed")
	fs.Int64Var(&u.size, "size", 0, "the bundle's size in bytes (without --file)")
	fs.StringVar(&u.sum, "sha256", "", "the bundle's sha256, hex (without --file)")
	fs.StringVar(&u.id, "id", "", "job `ID` (default: a new one; the same id never installs twice)")
	fs.BoolVar(&u.allowDowngrade, "allow-downgrade", false, "allow a lower version (the base's configuration must allow it too)")
}

func (u *updateCmd) check(args []string) error {
	if len(args) != 1 {
		return errors.New("want one argument: the bundle's https:// URL")
	}
	if u.file != "" {
		if u.size != 0 || u.sum != "" {
			return errors.New("--file computes --size and --sha256: give one or the other")
		}
		f, err := os.Open(u.file)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		u.size, u.sum = n, hex.EncodeToString(h.Sum(nil))
	}
	u.sum = strings.ToLower(u.sum)
	raw := fmt.Appendf(nil, `{"url":%q,"version":%q,"size":%d,"sha256":%q,"allow_downgrade":%v}`, args[0], u.version, u.size, u.sum, u.allowDowngrade)
	if _, err := provisioning.DecodeFirmwareUpdateArgs(raw); err != nil {
		msg := strings.Replace(err.Error(), "args.", "--", 1)
		msg = strings.Replace(msg, "--version", "--fw-version", 1)
		return errors.New(strings.Replace(msg, "--url", "URL", 1))
	}
	return nil
}

func (u *updateCmd) run(ctx context.Context, a *app, c *cloud.Client, args []string) error {
	id := u.id
	if id == "" {
		id = c.NewCommandID()
	}
	fa := provisioning.FirmwareUpdateArgs{URL: args[0], Version: u.version, Size: u.size, SHA256: u.sum, AllowDowngrade: u.allowDowngrade}
	last := ""
	j, r, err := c.FirmwareUpdate(ctx, a.g.base, id, fa, func(j provisioning.FirmwareJob) {
		line := progressLine(j)
		if line != last {
			fmt.Fprintln(a.errOut, line)
			last = line
		}
	})
	if err != nil {
		return err
	}
	if r != nil {
		return fmt.Errorf("firmware-update %s: %s: %s", id, r.Status, r.Reason)
	}
	fmt.Fprintf(a.out, "%s %s: %s\n", id, j.Version, finalLine(j))
	if j.State != provisioning.JobSucceeded {
		return fmt.Errorf("firmware-update %s ended %s", id, j.State)
	}
	return nil
}

// progressLine is one job report as a line; downloading shows a bar.
func progressLine(j provisioning.FirmwareJob) string {
	if j.State == provisioning.JobDownloading && j.Total > 0 {
		const width = 30
		n := int(j.Bytes * width / j.Total)
		return fmt.Sprintf("downloading [%s%s] %3d%% %d/%d bytes", strings.Repeat("#", n), strings.Repeat(".", width-n), j.Bytes*100/j.Total, j.Bytes, j.Total)
	}
	if provisioning.JobFinal(j.State) {
		return finalLine(&j)
	}
	s := j.State
	if j.Detail != "" {
		s += ": " + j.Detail
	}
	return s
}

func finalLine(j *provisioning.FirmwareJob) string {
	s := j.State
	if j.Reason != "" {
		s += " (" + j.Reason + ")"
	}
	if j.Detail != "" {
		s += ": " + j.Detail
	}
	if j.Duplicate {
		s += " [job seen before; not run again]"
	}
	return s
}
