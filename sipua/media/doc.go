// Package media is the media plane of the SIP user agent: SDP offer/answer
// (RFC 3264 on github.com/pion/sdp/v3) and one RTP session per call
// (RFC 3550 on github.com/pion/rtp and github.com/pion/rtcp, SDES-SRTP per
// RFC 4568/3711 on github.com/pion/srtp/v3) with an adaptive jitter buffer,
// packet-loss concealment (after ITU-T G.711 Appendix I), RFC 4733
// telephone events, symmetric RTP (latching) and a quality summary with an
// E-model MOS (ITU-T G.107). Quality: RTCP XR VoIP Metrics (RFC 3611 §4.7,
// on pion/rtcp's ExtendedReport; xr.go) are sent with every RTCP report
// and the peer's are kept; Metrics are the RFC 3611 / RFC 6035 figures of
// any period (QualitySnapshot.Metrics), burst/gap after RFC 3611 Appendix
// A.2 (burstgap.go). RTP and RTCP are marked DSCP EF (qos.go). Codecs: G.711 µ-law/A-law (subpackage g711)
// and G.722 (subpackage g722), RTP clock 8000 for all three (RFC 3551).
//
// It owns everything between the SDP body of a SIP message and the
// endpoint's 10 ms audio frames. It must not import hardware packages
// (hal, fxs, dect, board, sim): the endpoint's audio is the small
// AudioPort interface, which hal.PCM satisfies structurally.
//
// Use from the SIP layer (incoming call):
//
//	sess, err := media.NewSession(media.Config{
//		LocalAddr: netip.MustParseAddrPort("0.0.0.0:0"), // even port, RTCP on +1
//		Logger:    log,
//		OnDigit:   func(d media.Digit) { endpoint.PlayDigit(d.Rune(), d.Duration) },
//	})
//	neg, err := media.NewNegotiator(media.Options{
//		Addr: netip.AddrPortFrom(myIP, sess.LocalAddr().Port()),
//	})
//	answer, params, err := neg.Answer(req.Body())
//	if errors.Is(err, media.ErrNoCommonCodec) || errors.Is(err, media.ErrSRTPMismatch) {
//		// respond 488 Not Acceptable Here (any *media.SDPError: 488 too)
//	}
//	_ = sess.Apply(params)
//	go sess.Run(ctx, audioPort) // until the call ends (cancel ctx)
//	// re-INVITE: answer, params, err = neg.Answer(reinvite.Body()); sess.Apply(params)
//	// hold:      neg.SetDirection(media.SendOnly); offer, _ := neg.Offer(); ...
//	//            params, err = neg.ProcessAnswer(resp.Body()); sess.Apply(params)
//	// DTMF from the endpoint: sess.SendDigit('5', 120*time.Millisecond)
//	// after Run returns: st := sess.Stats() (MOS, loss, jitter, RTT),
//	// m := sess.Quality() (RFC 6035 figures), sess.RemoteQuality() (peer's XR)
//
// Outgoing calls use neg.Offer() for the INVITE and neg.ProcessAnswer on the
// 200 OK body.
//
// Behaviour the SIP layer can rely on:
//   - Sending is paced by the port's ReadFrame (10 ms frames); packets carry
//     PTime (10 or 20 ms) of audio, timestamps count samples (8000 Hz clock
//     for all codecs), M is set on the first packet and after every silence
//     in sending (hold, after a DTMF event). The SSRC and first sequence
//     number are random.
//   - Symmetric RTP: packets from the signalled address latch at once,
//     packets from elsewhere (a NAT) after 5 in a row; Apply with a new
//     remote address re-latches.
//   - Hold: Apply with Direction SendOnly/RecvOnly/Inactive takes effect on
//     the next 10 ms tick; received audio is muted when not Receives().
//   - DTMF out: SendDigit queues up to 16 digits; each replaces audio with
//     RFC 4733 packets (same timestamp, M on the first, duration growing per
//     packet, end packet sent 3 times, one sequence space with audio).
//   - DTMF in: Config.OnDigit fires once per event when it ends (or 500 ms
//     after its last packet if every end packet was lost).
//   - Received payloads must be whole 10 ms frames (80 octets for all
//     three codecs); others are counted in Stats.Invalid and dropped.
//   - The jitter buffer holds JitterMax + 80 ms of audio (at most 640 ms;
//     a burst beyond that restarts playout at its newest frames); its
//     target delay adapts between Config.JitterMin and JitterMax (20 and
//     300 ms by default).
//   - Run is the session's only goroutine: each 10 ms tick (one ReadFrame)
//     it reads the datagrams waiting on the RTP socket without blocking
//     (the RTCP socket every 10th tick), then sends and plays. Arrival
//     times for jitter and RTT come from the kernel (SO_TIMESTAMPNS on
//     Linux), so they do not depend on when the tick ran. There is no
//     per-packet goroutine wake-up or timer; per packet there is one
//     recvmsg and one sendto, and no allocation.
//   - Close ends a running Run; Run returns nil when its ctx ends, and logs
//     the quality summary; Stats is valid before, during and after.
package media
