// Package media is the media plane of the SIP user agent: SDP offer/answer
// (RFC 3264 on github.com/pion/sdp/v3) and one RTP session per call
// (RFC 3550 on github.com/pion/rtp and github.com/pion/rtcp, SDES-SRTP per
// RFC 4568/3711 on github.com/pion/srtp/v3) with an adaptive jitter buffer,
// packet-loss concealment (after ITU-T G.711 Appendix I), RFC 4733
// telephone events, symmetric RTP (latching) and a quality summary with an
// E-model MOS (ITU-T G.107). Codecs: G.711 µ-law/A-law (subpackage g711)
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
//	// after Run returns: st := sess.Stats() (MOS, loss, jitter, RTT)
//
// Outgoing calls use neg.Offer() for the INVITE and neg.ProcessAnswer on the
// 200 OK body.
package media
