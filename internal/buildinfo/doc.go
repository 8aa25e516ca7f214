// Package buildinfo says which build a binary is: the release version
// (the top entry of CHANGELOG.md) and, from the Go toolchain's embedded
// build information, the commit, its time and whether the tree was
// modified. Every binary's --version prints String.
//
// It imports nothing of the project, so any cmd may use it.
package buildinfo
