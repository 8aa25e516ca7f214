package basestation_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The rooms of ARCHITECTURE.md and the doors between them. A package's own
// subpackages belong to its room (fxs/dsp is part of fxs).
const module = "basestation"

type pkgInfo struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func room(path string) string {
	if !strings.HasPrefix(path, module+"/") {
		if path == module {
			return "root"
		}
		return ""
	}
	rest := strings.TrimPrefix(path, module+"/")
	parts := strings.SplitN(rest, "/", 3)
	if parts[0] == "cmd" || parts[0] == "internal" {
		if len(parts) > 1 {
			return parts[0] + "/" + parts[1]
		}
	}
	return parts[0]
}

// allowed lists, for each room, the project rooms it may import in non-test
// code. Rooms not listed may import nothing of the project.
var allowed = map[string][]string{
	"hal":          {},
	"endpoint":     {},
	"fxs":          {"hal", "endpoint"},
	"dect":         {"hal", "endpoint"},
	"sipua":        {"endpoint"},
	"provisioning": {},
	"update":       {},
	"board":        {"hal"},
	"sim":          {"hal"},
}

// leaves are the project's leaf packages: they import nothing of the
// project, and every room above floor 0 may import them
// (internal/atomicfile: the one durable file writer, used by dect and
// provisioning). hal and endpoint stay free of project imports.
var leaves = map[string]bool{
	"internal/atomicfile": true,
}

func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkgInfo
	for {
		var p pkgInfo
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 8 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func checkImports(from string, imports []string, test bool) (errs []string) {
	r := room(from)
	for _, imp := range imports {
		to := room(imp)
		if strings.HasPrefix(imp, "periph.io/x/host/") && r != "board" {
			errs = append(errs, fmt.Sprintf("%s imports %s: only board may use periph.io/x/host", from, imp))
		}
		if to == "" || to == r {
			continue
		}
		if leaves[r] {
			errs = append(errs, fmt.Sprintf("%s imports %s: leaf package %q imports nothing of the project", from, imp, r))
			continue
		}
		if leaves[to] && r != "hal" && r != "endpoint" {
			continue // any room but floor 0 may use a leaf
		}
		if strings.HasPrefix(to, "cmd/") {
			errs = append(errs, fmt.Sprintf("%s imports %s: no package imports cmd", from, imp))
			continue
		}
		if strings.HasPrefix(r, "cmd/") || r == "root" || strings.HasPrefix(r, "internal/") {
			if (to == "board" || to == "sim") && !strings.HasPrefix(r, "cmd/") && !test {
				errs = append(errs, fmt.Sprintf("%s imports %s: only cmd/* imports board or sim", from, imp))
			}
			continue
		}
		if test && (to == "sim" || to == "internal/testpeer") {
			continue // tests of any package may use the simulator and the peer harness
		}
		ok := false
		for _, a := range allowed[r] {
			if a == to {
				ok = true
			}
		}
		if !ok {
			errs = append(errs, fmt.Sprintf("%s imports %s: room %q may not import room %q", from, imp, r, to))
		}
	}
	return errs
}

func TestArchitectureImports(t *testing.T) {
	for _, p := range listPackages(t) {
		var errs []string
		errs = append(errs, checkImports(p.ImportPath, p.Imports, false)...)
		errs = append(errs, checkImports(p.ImportPath, p.TestImports, true)...)
		errs = append(errs, checkImports(p.ImportPath, p.XTestImports, true)...)
		for _, e := range errs {
			t.Error(e)
		}
	}
}

// TestArchitectureRulesBite checks that the checker itself rejects the
// imports the architecture forbids, so a broken checker cannot pass quietly.
func TestArchitectureRulesBite(t *testing.T) {
	bad := []struct{ from, imp string }{
		{"basestation/fxs", "basestation/dect"},
		{"basestation/dect", "basestation/sipua"},
		{"basestation/sipua", "basestation/hal"},
		{"basestation/provisioning", "basestation/fxs"},
		{"basestation/sim", "basestation/fxs"},
		{"basestation/hal", "basestation/sim"},
		{"basestation/fxs", "periph.io/x/host/v3"},
		{"basestation/sipua", "basestation/cmd/bsctl"},
		{"basestation/fxs", "basestation/internal/testpeer"},
		{"basestation/dect", "basestation/internal/daemon"},
		{"basestation/provisioning", "basestation/internal/soak"},
		{"basestation/internal/atomicfile", "basestation/hal"},
		{"basestation/internal/atomicfile", "basestation/provisioning"},
		{"basestation/internal/atomicfile/sub", "basestation/internal/daemon"},
		{"basestation/hal", "basestation/internal/atomicfile"},
		{"basestation/endpoint", "basestation/internal/atomicfile"},
		{"basestation/endpoint", "basestation/hal"},
		{"basestation/endpoint", "basestation/sipua"},
		{"basestation/endpoint", "basestation/fxs"},
		{"basestation/hal", "basestation/endpoint"},
		{"basestation/provisioning", "basestation/endpoint"},
		{"basestation/sim", "basestation/endpoint"},
		{"basestation/board", "basestation/endpoint"},
	}
	for _, b := range bad {
		if len(checkImports(b.from, []string{b.imp}, false)) == 0 {
			t.Errorf("checker allowed %s -> %s", b.from, b.imp)
		}
	}
	// The leaf is open to every room, and only the leaf is; the call
	// vocabulary is open to the call layer and the phones.
	good := []struct{ from, imp string }{
		{"basestation/dect", "basestation/internal/atomicfile"},
		{"basestation/provisioning", "basestation/internal/atomicfile"},
		{"basestation/sim", "basestation/internal/atomicfile"},
		{"basestation/internal/atomicfile", "os"},
		{"basestation/fxs", "basestation/endpoint"},
		{"basestation/dect", "basestation/endpoint"},
		{"basestation/sipua", "basestation/endpoint"},
		{"basestation/endpoint", "time"},
	}
	for _, g := range good {
		if errs := checkImports(g.from, []string{g.imp}, false); len(errs) != 0 {
			t.Errorf("checker refused %s -> %s: %v", g.from, g.imp, errs)
		}
	}
}

// The board's daemon carries no simulator: nothing cmd/basestationd links
// in, directly or through any other package, is basestation/sim or below.
// It reaches the simulator's board only over its socket (board/virtual).
func TestArchitectureDaemonBinaryHasNoSimulator(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./cmd/basestationd").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list -deps found only %d packages", len(deps))
	}
	if bad := simDeps(deps); len(bad) > 0 {
		t.Errorf("cmd/basestationd links in the simulator: %v", bad)
	}
	if len(simDeps([]string{"basestation/sim/vboard", "basestation/board/virtual"})) != 1 {
		t.Error("the check does not see sim/vboard")
	}
}

func simDeps(deps []string) (bad []string) {
	for _, d := range deps {
		if d == module+"/sim" || strings.HasPrefix(d, module+"/sim/") {
			bad = append(bad, d)
		}
	}
	return bad
}
