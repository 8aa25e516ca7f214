package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recorder is the real file system with every call written down (paths
// relative to the test's directory), and an optional failure injected at
// one call.
type recorder struct {
	dir    string
	ops    []string
	failAt string // an op that fails instead of running
}

var errInjected = errors.New("injected failure")

func (r *recorder) rel(p string) string {
	if p == r.dir {
		return "."
	}
	return strings.TrimPrefix(p, r.dir+string(os.PathSeparator))
}

func (r *recorder) do(op string) error {
	r.ops = append(r.ops, op)
	if op == r.failAt {
		return errInjected
	}
	return nil
}

type recFile struct {
	r    *recorder
	name string
	f    *os.File
}

func (f *recFile) Write(p []byte) (int, error) {
	if err := f.r.do("write " + f.name); err != nil {
		return 0, err
	}
	return f.f.Write(p)
}

func (f *recFile) Chmod(m os.FileMode) error {
	if err := f.r.do("chmod " + f.name); err != nil {
		return err
	}
	return f.f.Chmod(m)
}

func (f *recFile) Sync() error {
	if err := f.r.do("fsync " + f.name); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *recFile) Close() error {
	if err := f.r.do("close " + f.name); err != nil {
		_ = f.f.Close()
		return err
	}
	return f.f.Close()
}

func (r *recorder) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if err := r.do("create " + r.rel(name)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &recFile{r: r, name: r.rel(name), f: f}, nil
}

func (r *recorder) OpenDir(name string) (File, error) {
	if err := r.do("open " + r.rel(name)); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return &recFile{r: r, name: r.rel(name), f: f}, nil
}

func (r *recorder) Rename(o, n string) error {
	if err := r.do("rename " + r.rel(o) + " " + r.rel(n)); err != nil {
		return err
	}
	return os.Rename(o, n)
}

func (r *recorder) Remove(name string) error {
	if err := r.do("remove " + r.rel(name)); err != nil {
		return err
	}
	return os.Remove(name)
}

// The durable order: the data is written and fsynced in the temp file
// before the rename makes it the file, and the directory is fsynced after
// the rename; the backup is taken only once the new data is on disk.
func TestWriteOrder(t *testing.T) {
	dir := t.TempDir()
	r := &recorder{dir: dir}
	if err := Write(dir, "t.json", []byte("one"), 0o600, &Options{FS: r}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"remove .tmp-t.json",
		"create .tmp-t.json",
		"chmod .tmp-t.json",
		"write .tmp-t.json",
		"fsync .tmp-t.json",
		"close .tmp-t.json",
		"rename .tmp-t.json t.json",
		"open .",
		"fsync .",
		"close .",
	}
	if !slices.Equal(r.ops, want) {
		t.Fatalf("calls\n %s\nwant\n %s", strings.Join(r.ops, "\n "), strings.Join(want, "\n "))
	}

	r.ops = nil
	if err := Write(dir, "t.json", []byte("two"), 0o600, &Options{FS: r, Backup: "t.json.bak"}); err != nil {
		t.Fatal(err)
	}
	want = slices.Insert(slices.Clone(want), 6, "rename t.json t.json.bak")
	if !slices.Equal(r.ops, want) {
		t.Fatalf("calls with a backup\n %s\nwant\n %s", strings.Join(r.ops, "\n "), strings.Join(want, "\n "))
	}
	for name, content := range map[string]string{"t.json": "two", "t.json.bak": "one"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != content {
			t.Fatalf("%s = %q, %v; want %q", name, b, err, content)
		}
	}

	r.ops = nil
	if err := Write(dir, "s.json", []byte("x"), 0o600, &Options{FS: r, NoDirSync: true}); err != nil {
		t.Fatal(err)
	}
	if last := r.ops[len(r.ops)-1]; last != "rename .tmp-s.json s.json" {
		t.Fatalf("NoDirSync: last call %q", last)
	}
}

// A failure before the rename leaves the file (and its backup) as it was
// and no temp file behind; the error is returned.
func TestWriteFailureLeavesTheOldFile(t *testing.T) {
	for _, fail := range []string{"chmod .tmp-t.json", "write .tmp-t.json", "fsync .tmp-t.json", "close .tmp-t.json", "rename t.json t.json.bak", "rename .tmp-t.json t.json"} {
		t.Run(fail, func(t *testing.T) {
			dir := t.TempDir()
			if err := Write(dir, "t.json", []byte("old"), 0o600, nil); err != nil {
				t.Fatal(err)
			}
			r := &recorder{dir: dir, failAt: fail}
			err := Write(dir, "t.json", []byte("new"), 0o600, &Options{FS: r, Backup: "t.json.bak"})
			if !errors.Is(err, errInjected) {
				t.Fatalf("err = %v", err)
			}
			if i := slices.Index(r.ops, fail); slices.Contains(r.ops[i+1:], "rename .tmp-t.json t.json") {
				t.Fatalf("renamed into place after a failed %s: %v", fail, r.ops)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "t.json")); fail != "rename .tmp-t.json t.json" && (err != nil || string(b) != "old") {
				t.Fatalf("t.json = %q, %v", b, err)
			}
			if _, err := os.Stat(filepath.Join(dir, ".tmp-t.json")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("temp file left behind: %v", err)
			}
		})
	}
}

func TestWriteModeAndLeftovers(t *testing.T) {
	dir := t.TempDir()
	// A temp file left by a crash does not stop the next write.
	if err := os.WriteFile(filepath.Join(dir, ".tmp-t.json"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, "t.json", []byte("full"), 0o640, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "t.json"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	for _, n := range []string{".tmp-mine-1", ".tmp-theirs"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveTemps(dir, func(n string) bool { return strings.HasPrefix(n, "mine-") }); err != nil {
		t.Fatal(err)
	}
	var left []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{".tmp-theirs", "t.json"}) {
		t.Fatalf("left %v", left)
	}
}
