// Package atomicfile writes a file so that a crash or power cut leaves
// either its old or its new content, never a mix: the data goes to a
// temporary file in the same directory, which is fsynced and closed, then
// renamed over the file, then the directory is fsynced so the rename itself
// is durable. Optionally the current file is kept as a backup first.
//
// It is a leaf: it imports nothing of the project, so every room (dect,
// provisioning, ...) may use it (architecture_test.go allows exactly this).
// The few file-system calls go through FS so a test can check their order;
// a SIGKILL test cannot see page-cache loss, the order is what makes the
// write durable.
package atomicfile
