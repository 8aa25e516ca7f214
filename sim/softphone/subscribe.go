package softphone

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// isSubscription reports whether callID is the phone's MWI subscription.
// Called with p.mu held.
func (p *Phone) isSubscription(callID string) bool {
	return p.subCallID != "" && p.subCallID == callID
}

// Subscribe subscribes to the phone's own message-summary (RFC 3842) for
// expires (0 unsubscribes). NOTIFYs arrive as EvMWI events and in MWI.
// The subscription is not refreshed automatically.
func (p *Phone) Subscribe(ctx context.Context, expires time.Duration) error {
	if err := p.waitReady(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	if p.subCallID == "" {
		p.subCallID = uuid.NewString()
		p.subTag = sip.GenerateTagN(16)
	}
	p.subCSeq++
	callID, tag, cseq := p.subCallID, p.subTag, p.subCSeq
	p.mu.Unlock()
	ru := p.registrarURI()
	ru.User = p.cfg.User
	req := sip.NewRequest(sip.SUBSCRIBE, ru)
	from := sip.FromHeader{DisplayName: p.cfg.DisplayName, Address: p.aor(), Params: sip.NewParams()}
	from.Params.Add("tag", tag)
	to := sip.ToHeader{Address: p.aor()}
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.SUBSCRIBE})
	ct := p.dlg.ContactHDR
	req.AppendHeader(sip.HeaderClone(&ct))
	req.AppendHeader(sip.NewHeader("User-Agent", p.cfg.UserAgent))
	req.AppendHeader(sip.NewHeader("Event", "message-summary"))
	req.AppendHeader(sip.NewHeader("Accept", "application/simple-message-summary"))
	exp := sip.ExpiresHeader(uint32(expires / time.Second))
	req.AppendHeader(&exp)
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("softphone %s: SUBSCRIBE: %w", p.cfg.User, err)
	}
	if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
		if res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.cfg.AuthUser, Password: p.cfg.Password}); err != nil {
			return fmt.Errorf("softphone %s: SUBSCRIBE with auth: %w", p.cfg.User, err)
		}
		p.mu.Lock()
		p.subCSeq = req.CSeq().SeqNo
		p.mu.Unlock()
	}
	if res.StatusCode != sip.StatusOK && res.StatusCode != sip.StatusAccepted {
		return &CallError{Code: res.StatusCode, Reason: res.Reason}
	}
	return nil
}
