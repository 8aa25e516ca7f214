// Package g711 is the ITU-T G.711 µ-law and A-law codec, bit-compatible with
// spandsp's g711.h (linear_to_ulaw, ulaw_to_linear, linear_to_alaw,
// alaw_to_linear), which the tests check against a C harness compiled with
// the installed spandsp headers.
//
// It owns sample ↔ octet conversion only; it imports nothing of the
// project. Spec: ITU-T G.711 (11/88); algorithm as in spandsp g711.h.
package g711
