package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release this tree is. CHANGELOG.md's top entry names the
// same version (buildinfo_test checks it).
const Version = "0.2.0-dev"

// Info is what a binary knows about its own build.
type Info struct {
	Version   string // release version (Version)
	Commit    string // VCS revision, "unknown" when built without VCS info
	Time      string // commit time (RFC 3339), "" when unknown
	Modified  bool   // the work tree had uncommitted changes
	GoVersion string // toolchain
	Platform  string // GOOS/GOARCH
}

// Read gathers the build information of the running binary.
func Read() Info {
	in := Info{Version: Version, Commit: "unknown", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		case "GOARM":
			in.Platform += "/v" + s.Value
		}
	}
	return in
}

// String is the one line --version prints for program prog, e.g.
// "basestationd 0.2.0-dev (commit 1a2b3c4d5e6f, 2026-12-07T17:00:00Z, go1.26.8 linux/arm/v7)".
func String(prog string) string {
	in := Read()
	commit := in.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if in.Modified {
		commit += "+modified"
	}
	when := ""
	if in.Time != "" {
		when = in.Time + ", "
	}
	return fmt.Sprintf("%s %s (commit %s, %s%s %s)", prog, in.Version, commit, when, in.GoVersion, in.Platform)
}
