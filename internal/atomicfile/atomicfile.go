package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File is the part of *os.File a write uses.
type File interface {
	Write(p []byte) (int, error)
	Chmod(mode os.FileMode) error
	Sync() error
	Close() error
}

// FS is the file system calls a write makes. OS is the real one.
type FS interface {
	// OpenFile opens a file for writing (os.OpenFile).
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// OpenDir opens a directory to fsync it.
	OpenDir(name string) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
}

// OS is the operating system's file system.
type OS struct{}

// OpenFile implements FS.
func (OS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	return os.OpenFile(name, flag, perm)
}

// OpenDir implements FS.
func (OS) OpenDir(name string) (File, error) { return os.Open(name) }

// Rename implements FS.
func (OS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Remove implements FS.
func (OS) Remove(name string) error { return os.Remove(name) }

// Options tune a write; the zero value is a plain atomic write on the OS.
type Options struct {
	// FS defaults to OS.
	FS FS
	// Backup, when set, is a name in the same directory that the current
	// file is renamed to (if there is one) once the new content is safely
	// on disk and before it replaces the file. The caller decides whether
	// the current file deserves to be kept (a corrupt one must not
	// overwrite a good backup).
	Backup string
	// NoDirSync leaves out the final directory fsync, for a file that a
	// later write in the same directory (which syncs it) makes durable.
	NoDirSync bool
}

// TempPrefix starts the name of the temporary file of a write in progress
// (".tmp-" and the file's name). A crash can leave one behind; it is
// replaced by the next write of the same file, and RemoveTemps deletes
// them all.
const TempPrefix = ".tmp-"

// Write writes data to dir/name with mode perm, atomically and durably:
// write to dir/.tmp-name, fsync it, close it, [rename name to Backup],
// rename .tmp-name to name, fsync dir. Writes of the same file must not run
// at the same time.
func Write(dir, name string, data []byte, perm os.FileMode, o *Options) error {
	var opt Options
	if o != nil {
		opt = *o
	}
	fsys := opt.FS
	if fsys == nil {
		fsys = OS{}
	}
	path := filepath.Join(dir, name)
	tmp := filepath.Join(dir, TempPrefix+name)
	// A temp file left by a crash is replaced; O_EXCL then makes sure
	// this write owns the file it creates.
	if err := fsys.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err := writeSync(f, data, perm); err != nil {
		_ = f.Close()
		_ = fsys.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		_ = fsys.Remove(tmp)
		return err
	}
	if opt.Backup != "" {
		if err := fsys.Rename(path, filepath.Join(dir, opt.Backup)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			_ = fsys.Remove(tmp)
			return fmt.Errorf("keeping the backup: %w", err)
		}
	}
	if err := fsys.Rename(tmp, path); err != nil {
		_ = fsys.Remove(tmp)
		return err
	}
	if opt.NoDirSync {
		return nil
	}
	return SyncDir(fsys, dir)
}

func writeSync(f File, data []byte, perm os.FileMode) error {
	// The mode is set explicitly: OpenFile's is filtered by the umask.
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

// SyncDir fsyncs a directory, making the renames and creations in it
// durable.
func SyncDir(fsys FS, dir string) error {
	if fsys == nil {
		fsys = OS{}
	}
	d, err := fsys.OpenDir(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}

// RemoveTemps deletes the temporary files that interrupted writes left in
// dir (on the OS file system) for the files whose name own reports as the
// caller's: several owners may share a directory.
func RemoveTemps(dir string, own func(name string) bool) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		name, ok := strings.CutPrefix(e.Name(), TempPrefix)
		if !ok || name == "" || !own(name) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
