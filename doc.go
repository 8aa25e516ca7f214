// Package basestation is the root of the Base Station firmware module. It
// holds no code: architecture_test.go checks that the packages import only
// across the doors ../shared/ARCHITECTURE.md opens (hal imports nothing of
// the project; fxs and dect only hal; sipua and provisioning no hardware
// package; only board imports periph.io/x/host; only cmd/* imports board or
// sim; nothing imports cmd; the leaf internal/atomicfile imports nothing of
// the project and any room but hal and endpoint may use it).
package basestation
