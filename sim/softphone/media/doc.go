// Package media is the simulated far end's own audio path: G.711 µ-law and
// A-law (ITU-T G.711), a sine tone source, a frequency analyser (Hann-windowed
// Goertzel scan), RFC 4733 telephone-event payloads, and an RTP sender and
// receiver on github.com/pion/rtp paced by a 20 ms ticker, and the small SDP
// offer/answer (github.com/pion/sdp) the simulated phones speak.
//
// It belongs to the sim room and is used by sim/softphone and sim/pbx. It
// must not import sipua, fxs, dect or provisioning: it is the independent
// ear and mouth that tests use to check the daemon's DSP, so it shares no
// code with it.
package media
