package pbx

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// leg is one dialog of the PBX with a UA.
type leg struct {
	call      *call
	ext       string
	callID    string
	srv       *sipgo.DialogServerSession // the PBX answered this UA's INVITE
	cli       *sipgo.DialogClientSession // the PBX called this UA
	mu        sync.Mutex
	sdp       []byte // the SDP this UA last sent
	transport string
}

func (l *leg) context() context.Context {
	if l.srv != nil {
		return l.srv.Context()
	}
	return l.cli.Context()
}

func (l *leg) getSDP() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sdp
}

func (l *leg) setSDP(b []byte) {
	l.mu.Lock()
	l.sdp = b
	l.mu.Unlock()
}

// remoteTarget is the UA's Contact.
func (l *leg) remoteTarget() sip.Uri {
	if l.srv != nil {
		return l.srv.InviteRequest.Contact().Address
	}
	if c := l.cli.InviteResponse.Contact(); c != nil {
		return c.Address
	}
	return l.cli.InviteRequest.Recipient
}

func (l *leg) bye(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if l.srv != nil {
		return l.srv.Bye(ctx)
	}
	return l.cli.Bye(ctx)
}

func (l *leg) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	if l.srv != nil {
		return l.srv.Do(ctx, req)
	}
	return l.cli.Do(ctx, req)
}

func (l *leg) write(req *sip.Request) error {
	if l.srv != nil {
		return l.srv.WriteRequest(req)
	}
	return l.cli.WriteRequest(req)
}

// reinvite sends an in-dialog INVITE with offer and returns the answer.
func (l *leg) reinvite(ctx context.Context, offer []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	target := l.remoteTarget()
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)
	res, err := l.do(ctx, req)
	if err != nil {
		return nil, err
	}
	if !res.IsSuccess() {
		return nil, &sipgo.ErrDialogResponse{Res: res}
	}
	ack := sip.NewRequest(sip.ACK, target)
	if err := l.write(ack); err != nil {
		return nil, fmt.Errorf("ack re-INVITE: %w", err)
	}
	l.setSDP(res.Body())
	return res.Body(), nil
}

func (p *PBX) addLeg(l *leg) {
	p.mu.Lock()
	p.legs[l.callID] = l
	p.mu.Unlock()
}

func (p *PBX) removeLeg(l *leg) {
	p.mu.Lock()
	if p.legs[l.callID] == l {
		delete(p.legs, l.callID)
	}
	p.mu.Unlock()
}

func (p *PBX) findLeg(callID string) *leg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.legs[callID]
}

// otherLeg returns the leg bridged to l, or nil.
func (p *PBX) otherLeg(l *leg) *leg {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := l.call
	switch l {
	case c.a:
		return c.b
	case c.b:
		return c.a
	}
	return nil
}
