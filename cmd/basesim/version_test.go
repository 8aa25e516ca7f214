package main

import (
	"context"
	"strings"
	"testing"

	"basestation/internal/buildinfo"
)

// --version prints the build on standard output and starts nothing.
func TestVersionFlag(t *testing.T) {
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"--version"}, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("run --version: %v (stderr %q)", err, errOut.String())
	}
	if got := out.String(); !strings.HasPrefix(got, "basesim "+buildinfo.Version+" (commit ") || strings.Count(got, "\n") != 1 {
		t.Fatalf("--version printed %q", got)
	}
}
