package basestation_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The checks of issue 17 §5 beside the room doors of architecture_test.go:
// what internal/* may import, which files may use hardware and serial
// libraries, and no mutable package-level state or init().

type pkgFiles struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
}

func listPackageFiles(t *testing.T) []pkgFiles {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkgFiles
	for {
		var p pkgFiles
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

// internalRooms lists, for each internal/* package other than
// internal/daemon, the project packages its non-test code may import, and
// who may import it. internal/daemon is the one place that knows every room;
// the others are harnesses (their non-test code imports nothing of the
// project; tests use them) and leaves.
var internalRooms = map[string]struct {
	imports    []string // rooms its non-test code may import
	importedBy string   // "cmd": only cmd/* and internal/daemon; "any": every room but floor 0; "tests": only test code
}{
	"internal/atomicfile": {importedBy: "any"},                                    // leaf: the durable file writer (dect, provisioning, ...)
	"internal/buildinfo":  {importedBy: "cmd"},                                    // leaf: version stamped into the binaries
	"internal/health":     {imports: []string{"hal"}, importedBy: "cmd"},          // the watchdog's loop tracker
	"internal/settings":   {imports: []string{"provisioning"}, importedBy: "cmd"}, // the daemon's settings file
	"internal/perf":       {importedBy: "tests"},                                  // measurement harness
	"internal/testpeer":   {importedBy: "tests"},                                  // third-party peer harness
	"internal/e2e":        {importedBy: "tests"},                                  // end-to-end tests
	"internal/soak":       {importedBy: "tests"},                                  // randomized soak
	"internal/armtest":    {importedBy: "tests"},                                  // the armv7 simulator under qemu
}

// checkInternal returns the violations of the internal/* rules by one
// non-test import.
func checkInternal(from, imp string) (errs []string) {
	r, to := room(from), room(imp)
	if to == "" || to == r {
		return nil
	}
	if strings.HasPrefix(r, "internal/") && r != "internal/daemon" {
		rule, known := internalRooms[r]
		if !known {
			return []string{fmt.Sprintf("%s: internal package %q has no rule in internalRooms", from, r)}
		}
		ok := false
		for _, a := range rule.imports {
			ok = ok || a == to
		}
		if !ok {
			errs = append(errs, fmt.Sprintf("%s imports %s: only internal/daemon imports the rooms; %q may import %v", from, imp, r, rule.imports))
		}
	}
	if to == "internal/daemon" && !strings.HasPrefix(r, "cmd/") {
		errs = append(errs, fmt.Sprintf("%s imports %s: only cmd/* imports internal/daemon", from, imp))
	}
	if strings.HasPrefix(to, "internal/") && to != "internal/daemon" {
		rule, known := internalRooms[to]
		switch {
		case !known:
			errs = append(errs, fmt.Sprintf("%s imports %s: internal package %q has no rule in internalRooms", from, imp, to))
		case rule.importedBy == "tests":
			errs = append(errs, fmt.Sprintf("%s imports %s: %q is a harness for tests only", from, imp, to))
		case rule.importedBy == "cmd" && !strings.HasPrefix(r, "cmd/") && r != "internal/daemon":
			errs = append(errs, fmt.Sprintf("%s imports %s: only cmd/* and internal/daemon use %q", from, imp, to))
		}
	}
	return errs
}

func TestArchitectureInternal(t *testing.T) {
	for _, p := range listPackageFiles(t) {
		if r := room(p.ImportPath); strings.HasPrefix(r, "internal/") && r != "internal/daemon" {
			if _, ok := internalRooms[r]; !ok {
				t.Errorf("%s: internal package %q has no rule in internalRooms", p.ImportPath, r)
			}
		}
		for _, imp := range p.Imports {
			for _, e := range checkInternal(p.ImportPath, imp) {
				t.Error(e)
			}
		}
	}
}

func TestArchitectureInternalRulesBite(t *testing.T) {
	bad := []struct{ from, imp string }{
		{"basestation/internal/perf", "basestation/sipua"},
		{"basestation/internal/testpeer", "basestation/hal"},
		{"basestation/internal/buildinfo", "basestation/internal/atomicfile"},
		{"basestation/internal/e2e", "basestation/internal/daemon"},
		{"basestation/internal/unknown", "os"},
		{"basestation/fxs", "basestation/internal/unknown"},
		{"basestation/sipua", "basestation/internal/daemon"},
		{"basestation/sim/pbx", "basestation/internal/daemon"},
		{"basestation/fxs", "basestation/internal/buildinfo"},
		{"basestation/cmd/bsctl", "basestation/internal/perf"},
		{"basestation/internal/daemon", "basestation/internal/testpeer"},
	}
	for _, b := range bad {
		errs := checkInternal(b.from, b.imp)
		if b.imp == "os" {
			errs = append(errs, checkInternalKnown(b.from)...)
		}
		if len(errs) == 0 {
			t.Errorf("checker allowed %s -> %s", b.from, b.imp)
		}
	}
	good := []struct{ from, imp string }{
		{"basestation/cmd/basestationd", "basestation/internal/daemon"},
		{"basestation/cmd/basestationd", "basestation/internal/buildinfo"},
		{"basestation/internal/daemon", "basestation/fxs"},
		{"basestation/internal/daemon", "basestation/internal/atomicfile"},
		{"basestation/dect", "basestation/internal/atomicfile"},
		{"basestation/internal/perf", "os"},
	}
	for _, g := range good {
		if errs := checkInternal(g.from, g.imp); len(errs) != 0 {
			t.Errorf("checker refused %s -> %s: %v", g.from, g.imp, errs)
		}
	}
}

func checkInternalKnown(pkg string) []string {
	if r := room(pkg); strings.HasPrefix(r, "internal/") && r != "internal/daemon" {
		if _, ok := internalRooms[r]; !ok {
			return []string{fmt.Sprintf("%s: no rule", pkg)}
		}
	}
	return nil
}

// hardwareFiles: the files (module-relative, slash-separated) whose
// non-test code may import a hardware or serial library, by library prefix.
// Only board opens real devices; the radio driver opens its UART in one
// file. Tests may open the emulated module's pty the driver's way.
var hardwareFiles = map[string]func(file string) bool{
	"periph.io/x/host/": func(f string) bool { return strings.HasPrefix(f, "board/") },
	"github.com/tarm/serial": func(f string) bool {
		return strings.HasPrefix(f, "board/") || f == "dect/serialport.go"
	},
}

func checkHardware(file string, imports []string) (errs []string) {
	for _, imp := range imports {
		for lib, may := range hardwareFiles {
			if strings.HasPrefix(imp, lib) && !may(file) {
				errs = append(errs, fmt.Sprintf("%s imports %s: only board (and for tarm/serial the radio's dect/serialport.go) may", file, imp))
			}
		}
	}
	return errs
}

func TestArchitectureHardware(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range listPackageFiles(t) {
		for _, name := range p.GoFiles {
			path := filepath.Join(p.Dir, name)
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(root, path)
			var imps []string
			for _, is := range f.Imports {
				imps = append(imps, strings.Trim(is.Path.Value, `"`))
			}
			for _, e := range checkHardware(filepath.ToSlash(rel), imps) {
				t.Error(e)
			}
		}
	}
}

func TestArchitectureHardwareRulesBite(t *testing.T) {
	bad := []struct{ file, imp string }{
		{"fxs/proslic/proslic.go", "periph.io/x/host/v3"},
		{"internal/daemon/daemon.go", "periph.io/x/host/v3/sysfs"},
		{"dect/driver.go", "github.com/tarm/serial"},
		{"sim/radio/emulator.go", "github.com/tarm/serial"},
	}
	for _, b := range bad {
		if len(checkHardware(b.file, []string{b.imp})) == 0 {
			t.Errorf("checker allowed %s -> %s", b.file, b.imp)
		}
	}
	good := []struct{ file, imp string }{
		{"board/board.go", "periph.io/x/host/v3"},
		{"dect/serialport.go", "github.com/tarm/serial"},
		{"hal/hal.go", "periph.io/x/conn/v3/gpio"},
	}
	for _, g := range good {
		if errs := checkHardware(g.file, []string{g.imp}); len(errs) != 0 {
			t.Errorf("checker refused %s -> %s: %v", g.file, g.imp, errs)
		}
	}
}

// globalsAllowed documents package-level variables that the state check
// below would flag but that are constant in practice. Keep it empty where
// a const or a function can do.
var globalsAllowed = map[string]string{
	// The G.722 QMF coefficients: literal tables that the filter reads
	// through a pointer (qmfLine.dot takes *[12]int32 to avoid a copy per
	// sample); nothing writes them.
	"basestation/sipua/media/g722.qmfFwd": "constant table read through a pointer",
	"basestation/sipua/media/g722.qmfRev": "constant table read through a pointer",
	// The peer harness's ledger of loopback ports handed out in this test
	// process, so two tests never get the same port (the kernel may give a
	// just-closed port again). It lives only in test binaries: no package
	// of the product imports internal/testpeer outside tests
	// (TestArchitectureInternal).
	"basestation/internal/testpeer.portMu":     "test-process port ledger",
	"basestation/internal/testpeer.portsGiven": "test-process port ledger",
	// The web panel's assets: //go:embed needs a package-level variable,
	// and an embed.FS is read-only by construction.
	"basestation/sim/panel.assets": "go:embed file system (read-only)",
}

// checkGlobals returns the package's mutable package-level state: init()
// functions, package-level variables declared without a value (a mutex, a
// counter, a registry), and variables that some function assigns, takes
// the address of or writes through (x = , x++, x[k] = , x.f = , &x).
// Allowed: `var _ I = ...` assertions, and variables given a value at
// declaration that nothing assigns afterwards (error sentinels, tables built
// by literals). Each file is given by its name and parsed source.
func checkGlobals(pkg string, files map[string]*ast.File) (errs []string) {
	globals := map[string]string{} // name -> file
	// The parser's object resolution (deprecated for lack of type
	// information) is enough here: it tells a package-level variable from a
	// local of the same name within one file; names unresolved in a file
	// are taken as the package's own.
	//lint:ignore SA1019 see above
	decls := map[*ast.Object]bool{}
	for name, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.Name == "init" {
					errs = append(errs, fmt.Sprintf("%s (%s): func init(): build explicitly instead", pkg, name))
				}
			case *ast.GenDecl:
				if d.Tok != token.VAR {
					continue
				}
				for _, s := range d.Specs {
					vs := s.(*ast.ValueSpec)
					for _, id := range vs.Names {
						if id.Name == "_" {
							continue
						}
						globals[id.Name] = name
						if id.Obj != nil {
							decls[id.Obj] = true
						}
						if len(vs.Values) == 0 {
							if _, ok := globalsAllowed[pkg+"."+id.Name]; !ok {
								errs = append(errs, fmt.Sprintf("%s (%s): package-level var %s has no value: mutable state", pkg, name, id.Name))
							}
						}
					}
				}
			}
		}
	}
	// isGlobal: the identifier names the package-level variable (resolved
	// to its declaration in this file, or unresolved here and declared in
	// another file of the package), not a local of the same name.
	isGlobal := func(id *ast.Ident) bool {
		if _, ok := globals[id.Name]; !ok {
			return false
		}
		if id.Obj == nil {
			return true
		}
		return decls[id.Obj]
	}
	// root finds the variable an assignment target writes: x, x.f, x[k], *x.
	var root func(e ast.Expr) *ast.Ident
	root = func(e ast.Expr) *ast.Ident {
		switch e := e.(type) {
		case *ast.Ident:
			return e
		case *ast.SelectorExpr:
			return root(e.X)
		case *ast.IndexExpr:
			return root(e.X)
		case *ast.StarExpr:
			return root(e.X)
		case *ast.ParenExpr:
			return root(e.X)
		}
		return nil
	}
	seen := map[string]bool{}
	flag := func(file string, id *ast.Ident, how string) {
		if id == nil || !isGlobal(id) || seen[id.Name] {
			return
		}
		if _, ok := globalsAllowed[pkg+"."+id.Name]; ok {
			return
		}
		seen[id.Name] = true
		errs = append(errs, fmt.Sprintf("%s (%s): package-level var %s is %s in a function: mutable state", pkg, file, id.Name, how))
	}
	for name, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.AssignStmt:
					for _, l := range n.Lhs {
						flag(name, root(l), "assigned")
					}
				case *ast.IncDecStmt:
					flag(name, root(n.X), "assigned")
				case *ast.UnaryExpr:
					if n.Op == token.AND {
						flag(name, root(n.X), "address-taken")
					}
				case *ast.RangeStmt:
					flag(name, root(n.Key), "assigned")
					flag(name, root(n.Value), "assigned")
				}
				return true
			})
		}
	}
	sort.Strings(errs)
	return errs
}

func TestArchitectureNoMutableGlobals(t *testing.T) {
	for _, p := range listPackageFiles(t) {
		fset := token.NewFileSet()
		files := map[string]*ast.File{}
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files[name] = f
		}
		for _, e := range checkGlobals(p.ImportPath, files) {
			t.Error(e)
		}
	}
}

func TestArchitectureGlobalsRulesBite(t *testing.T) {
	parse := func(src string) map[string]*ast.File {
		f, err := parser.ParseFile(token.NewFileSet(), "x.go", "package x\n"+src, 0)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]*ast.File{"x.go": f}
	}
	bad := []string{
		"func init() {}",
		"import \"sync\"\nvar mu sync.Mutex",
		"var n int",
		"var n = 0\nfunc f() { n = 1 }",
		"var n = 0\nfunc f() { n++ }",
		"var m = map[string]int{}\nfunc f() { m[\"a\"] = 1 }",
		"type T struct{ a int }\nvar t = T{}\nfunc f() { t.a = 1 }",
		"var n = 0\nfunc f() *int { return &n }",
		"var n = 0\nfunc f(s []int) { for n = range s {} }",
	}
	for _, src := range bad {
		if len(checkGlobals("x", parse(src))) == 0 {
			t.Errorf("checker allowed %q", src)
		}
	}
	good := []string{
		"import \"errors\"\nvar ErrX = errors.New(\"x\")",
		"import \"io\"\nvar _ io.Reader = (*T)(nil)\ntype T struct{}\nfunc (*T) Read([]byte) (int, error) { return 0, nil }",
		"var names = map[int]string{1: \"a\"}\nfunc f(k int) string { return names[k] }",
		"var n = 0\nfunc f() { n := 2; n = 3; _ = n }",
		"func f() { var n int; n = 1; _ = n }",
	}
	for _, src := range good {
		if errs := checkGlobals("x", parse(src)); len(errs) != 0 {
			t.Errorf("checker refused %q: %v", src, errs)
		}
	}
}
