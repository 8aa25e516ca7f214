package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"basestation/provisioning"
)

func TestUpdateCheckNamesTheFlag(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "b.raucb")
	if err := os.WriteFile(bundle, []byte("bundle"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		u    updateCmd
		args []string
		want string
	}{
		{updateCmd{version: "1.2.0", file: bundle}, []string{"http://x/b"}, "URL"},
		{updateCmd{version: "1.x", file: bundle}, []string{"https://x/b"}, "--fw-version"},
		{updateCmd{version: "1.2.0", size: 6, sum: "zz"}, []string{"https://x/b"}, "--sha256"},
		{updateCmd{version: "1.2.0", size: 6, file: bundle}, []string{"https://x/b"}, "--file"},
		{updateCmd{version: "1.2.0", file: bundle}, nil, "one argument"},
		{updateCmd{version: "1.2.0", file: bundle}, []string{"https://x/b"}, ""},
	} {
		err := c.u.check(c.args)
		if c.want == "" {
			if err != nil || c.u.size != 6 || len(c.u.sum) != 64 {
				t.Errorf("%+v: %v", c.u, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v %q: error %v, want one naming %s", c.u, c.args, err, c.want)
		}
	}
}

func TestUpdateProgressLine(t *testing.T) {
	got := progressLine(provisioning.FirmwareJob{State: provisioning.JobDownloading, Bytes: 50, Total: 100})
	if !strings.Contains(got, "[###############...............]  50%") {
		t.Errorf("progress %q", got)
	}
	got = progressLine(provisioning.FirmwareJob{State: provisioning.JobRejected, Reason: "downgrade", Detail: "1.0 < 1.1"})
	if got != "rejected (downgrade): 1.0 < 1.1" {
		t.Errorf("final %q", got)
	}
}
