package pbx

import (
	"context"
	"net"
	"time"

	"basestation/sim/softphone/media"

	"github.com/emiago/sipgo/sip"
)

// voicemail answers a call to the voicemail number and plays the prompt
// tone until the caller hangs up or VoicemailMaxDuration passes. Digits the
// caller sends (RFC 4733) are logged.
func (p *PBX) voicemail(req *sip.Request, tx sip.ServerTransaction, info InviteInfo) {
	offer, err := parseOffer(req.Body())
	if err != nil {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request ("+err.Error()+")")
		return
	}
	if len(offer.codecs) == 0 {
		p.respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here (offer has neither PCMU nor PCMA)")
		return
	}
	if !p.track() {
		p.respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable (shutting down)")
		return
	}
	defer p.untrack()
	conn, err := net.ListenPacket("udp4", net.JoinHostPort(p.host, "0"))
	if err != nil {
		p.respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable (no RTP port)")
		return
	}
	defer conn.Close()
	dsA, err := p.dialogUA(req.Transport()).ReadInvite(req, tx)
	if err != nil {
		p.respond(tx, req, sip.StatusBadRequest, "Bad Request ("+err.Error()+")")
		return
	}
	defer dsA.Close()
	c := p.newCall(CallInfo{Caller: info.FromUser, Invite: info, Dialled: p.cfg.VoicemailNumber, Voicemail: true})
	l := &leg{call: c, ext: info.FromUser, callID: req.CallID().Value(), srv: dsA, sdp: req.Body(), transport: req.Transport()}
	p.mu.Lock()
	c.a = l
	p.mu.Unlock()
	p.addLeg(l)
	defer p.removeLeg(l)

	codec := offer.codecs[0]
	answer, err := answerSDP(p.host, conn.LocalAddr().(*net.UDPAddr).Port, codec, offer.dtmfPT)
	if err != nil {
		p.finishFailed(c, dsA, sip.StatusInternalServerError, "Server Internal Error")
		return
	}
	p.updateCall(c, func(ci *CallInfo) {
		ci.State, ci.Status, ci.Callee, ci.Answered = "answered", sip.StatusOK, p.cfg.VoicemailNumber, p.cfg.Now()
	})
	c.respMu.Lock()
	c.answered = true
	c.respMu.Unlock()

	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.VoicemailMaxDuration)
	defer cancel()
	rx := media.NewReceiver(offer.dtmfPT, func(d rune) {
		p.log.Info("voicemail digit", "ext", info.FromUser, "digit", string(d))
	})
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			_ = rx.Handle(buf[:n])
		}
	}()
	tone := media.Tone{Rate: media.Rate}
	tx2 := media.NewSender(conn, offer.addr, media.Codec(codec), offer.dtmfPT)
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		_ = tx2.Run(ctx, func(f []int16) { tone.Fill(f, p.cfg.VoicemailToneHz, 8000) })
	}()
	defer func() { cancel(); <-sendDone }()

	if err := dsA.RespondSDP(answer); err != nil && dsA.Context().Err() == nil {
		p.log.Warn("voicemail: no ACK", "err", err)
		_ = dsA.Bye(context.Background())
		p.endCall(c, sip.StatusOK, "")
		return
	}
	close(c.up)
	select {
	case <-dsA.Context().Done():
		p.endCall(c, sip.StatusOK, info.FromUser)
	case <-ctx.Done():
		byeCtx, cancelBye := context.WithTimeout(context.Background(), 5*time.Second)
		_ = dsA.Bye(byeCtx)
		cancelBye()
		p.endCall(c, sip.StatusOK, "")
	}
}
