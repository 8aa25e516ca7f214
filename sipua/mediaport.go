package sipua

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	"basestation/endpoint"
	"basestation/sipua/media"
)

// QualitySummary is the end-of-call quality of a call's media (packets,
// loss, jitter, RTT, MOS): media.Stats.
type QualitySummary = media.Stats

// mediaSess is one call's media: the SDP negotiator and the RTP session,
// run against a switchPort so the endpoint's audio can be attached and
// detached (hold, call-waiting swap) without ending the RTP session.
type mediaSess struct {
	u     *UA
	mon   *qualityMonitor // interval reports and alerts (quality.go)
	s     *media.Session
	neg   *media.Negotiator
	sw    *switchPort
	mu    sync.Mutex
	codec media.Codec // negotiated
	run   bool
	stop  context.CancelFunc
	done  chan struct{}
}

func (u *UA) newMedia(c *call, ip net.IP, mode media.SRTPMode) (*mediaSess, error) {
	codecs := u.codecsFor(c)
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return nil, fmt.Errorf("media: bad local IP %v", ip)
	}
	addr = addr.Unmap()
	bind := netip.AddrPortFrom(addr, 0)
	if u.conf().RTPPortMin > 0 {
		// Try even ports of the configured range.
		var last error
		for p := u.conf().RTPPortMin &^ 1; p+1 <= u.conf().RTPPortMax; p += 2 {
			m, err := u.newMediaAt(c, netip.AddrPortFrom(addr, uint16(p)), addr, mode, codecs)
			if err == nil {
				return m, nil
			}
			last = err
		}
		return nil, fmt.Errorf("media: no free RTP port in %d-%d: %w", u.conf().RTPPortMin, u.conf().RTPPortMax, last)
	}
	return u.newMediaAt(c, bind, addr, mode, codecs)
}

// wideband reports whether ep can take 16 kHz audio.
func wideband(ep endpoint.Endpoint) bool {
	w, ok := ep.(endpoint.Wideband)
	return ok && w.Wideband()
}

// codecsFor is the codec preference of a call's offer or answer. A call
// that may reach a wideband endpoint prefers G.722 (16 kHz end to end
// when the peer offers or accepts it): an outgoing call placed from such
// an endpoint, or an incoming call to an extension that has one. Every
// other call prefers G.711 (PCMU, PCMA), which its 8 kHz endpoints take
// without resampling; G.722 stays acceptable last.
func (u *UA) codecsFor(c *call) []media.Codec {
	u.mu.Lock()
	defer u.mu.Unlock()
	wb := false
	if c.out {
		wb = c.owner != nil && wideband(c.owner.ep)
	} else {
		for _, s := range c.ext.endpoints {
			wb = wb || wideband(s.ep)
		}
	}
	if wb {
		return []media.Codec{media.G722, media.PCMU, media.PCMA}
	}
	return media.DefaultCodecs()
}

func (u *UA) newMediaAt(c *call, bind netip.AddrPort, adv netip.Addr, mode media.SRTPMode, codecs []media.Codec) (*mediaSess, error) {
	conf := u.conf()
	m := &mediaSess{u: u, sw: &switchPort{}, mon: newQualityMonitor(u, c.ext.name, c.dlg.callID, conf.Quality)}
	s, err := media.NewSession(media.Config{
		LocalAddr: bind,
		Logger:    u.log,
		OnDigit: func(d media.Digit) {
			m.sw.playDigit(d.Rune(), d.Duration)
		},
		DSCP:         conf.RTPDSCP,
		OnQuality:    m.mon.observe,
		QualityEvery: m.mon.cfg.Window,
	})
	if err != nil {
		return nil, err
	}
	neg, err := media.NewNegotiator(media.Options{
		Addr:     netip.AddrPortFrom(adv, s.LocalAddr().Port()),
		SRTP:     mode,
		Codecs:   codecs,
		Username: "basestation",
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	m.s, m.neg = s, neg
	return m, nil
}

func (m *mediaSess) Negotiator() *media.Negotiator { return m.neg }

// Apply gives the session its negotiated parameters. With telephone-event
// negotiated the endpoint's digits go out as RFC 4733 events, so the
// endpoint's port is asked to keep their tones out of the audio.
func (m *mediaSess) Apply(n media.Negotiated) error {
	if err := m.s.Apply(n); err != nil {
		return err
	}
	m.sw.setSuppressDTMF(n.EventPT != 0)
	m.mu.Lock()
	m.codec = n.Codec
	m.mu.Unlock()
	return nil
}

// audioRate is the rate the endpoint's channel should run at for this
// call: the rate the media already runs at once started (the endpoint's
// channel is shared by its calls), else the negotiated codec's (16 kHz for
// G.722, 8 kHz for G.711).
func (m *mediaSess) audioRate() int {
	if r := m.sw.Rate(); r != 0 {
		return r
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.codec == 0 {
		return 8000
	}
	return m.codec.SampleRate()
}

// Attach routes the call's audio to p (nil: silence, incoming audio
// dropped). The RTP session starts at the first attach.
func (m *mediaSess) Attach(p endpoint.AudioPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p != nil && !m.run {
		m.run = true
		m.sw.init(p.Rate())
		ctx, cancel := context.WithCancel(context.Background())
		m.stop = cancel
		m.done = make(chan struct{})
		m.mon.begin(time.Now())
		go func() {
			defer close(m.done)
			if err := m.s.Run(ctx, m.sw); err != nil {
				m.u.log.Warn("media session", "error", err)
			}
		}()
	}
	m.sw.set(p)
}

// SendDigit sends an RFC 4733 digit of 100 ms.
func (m *mediaSess) SendDigit(r rune) error { return m.s.SendDigit(r, 0) }

// Close ends the media and returns the call's quality summary.
func (m *mediaSess) Close() QualitySummary {
	m.mu.Lock()
	run, stop, done := m.run, m.stop, m.done
	m.mu.Unlock()
	if run {
		stop()
		<-done
	} else {
		m.s.Close()
	}
	m.sw.set(nil)
	return m.s.Stats()
}

// switchPort is the AudioPort the RTP session runs on. It forwards to the
// endpoint's port when one is attached; otherwise it paces 10 ms frames of
// silence itself and drops what it is given. Received RFC 4733 digits are
// played to the endpoint as DTMF tones (Q.23 pairs, -10 dBm0 per tone)
// replacing the decoded audio while they last.
type switchPort struct {
	mu    sync.Mutex
	rate  int
	cur   endpoint.AudioPort
	next  time.Time
	timer *time.Timer // pacing while detached; only Run's goroutine reads
	tone  [2]float64  // frequencies of the digit being played
	toneN int         // samples left
	phase int
	// suppress: digits go out of band, so the attached port is asked to
	// cut their in-band tones (inBandDTMFSuppressor).
	suppress bool
}

// inBandDTMFSuppressor is an endpoint audio port that can cut the DTMF it
// reports as digits out of the audio it returns (the analog port's).
type inBandDTMFSuppressor interface{ SuppressInBandDTMF(on bool) }

func suppressInBandDTMF(a endpoint.AudioPort, on bool) {
	if l, ok := a.(*lockedPort); ok {
		a = l.p
	}
	if s, ok := a.(inBandDTMFSuppressor); ok {
		s.SuppressInBandDTMF(on)
	}
}

func (p *switchPort) setSuppressDTMF(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.suppress = on
	if p.cur != nil {
		suppressInBandDTMF(p.cur, on)
	}
}

func (p *switchPort) init(rate int) {
	p.mu.Lock()
	p.rate = rate
	p.mu.Unlock()
}

func (p *switchPort) set(a endpoint.AudioPort) {
	p.mu.Lock()
	p.cur = a
	p.next = time.Time{}
	if a != nil {
		suppressInBandDTMF(a, p.suppress)
	}
	p.mu.Unlock()
}

func (p *switchPort) Rate() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

func (p *switchPort) ReadFrame(ctx context.Context, dst []int16) error {
	p.mu.Lock()
	cur := p.cur
	p.mu.Unlock()
	if cur != nil {
		if err := cur.ReadFrame(ctx, dst); err == nil || ctx.Err() != nil {
			return err
		}
		// The endpoint's port failed (closed on detach): go on with
		// silence rather than ending the call's media.
		p.mu.Lock()
		if p.cur == cur {
			p.cur = nil
		}
		p.mu.Unlock()
	}
	clear(dst)
	p.mu.Lock()
	now := time.Now()
	if p.next.IsZero() || now.Sub(p.next) > 100*time.Millisecond {
		p.next = now
	}
	p.next = p.next.Add(10 * time.Millisecond)
	wait := time.Until(p.next)
	p.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(wait)
	} else {
		p.timer.Reset(wait)
	}
	select {
	case <-ctx.Done():
		p.timer.Stop()
		return ctx.Err()
	case <-p.timer.C:
		return nil
	}
}

func (p *switchPort) WriteFrame(ctx context.Context, src []int16) error {
	p.mu.Lock()
	cur := p.cur
	if p.toneN > 0 {
		p.mixTone(src)
	}
	p.mu.Unlock()
	if cur == nil {
		return nil
	}
	if err := cur.WriteFrame(ctx, src); err != nil && ctx.Err() == nil {
		p.mu.Lock()
		if p.cur == cur {
			p.cur = nil
		}
		p.mu.Unlock()
	}
	return nil
}

var dtmfRows = [4]float64{697, 770, 852, 941}
var dtmfCols = [4]float64{1209, 1336, 1477, 1633}

// dtmfPair returns the Q.23 frequency pair of a DTMF character.
func dtmfPair(r rune) (float64, float64, bool) {
	const keys = "123A456B789C*0#D"
	for i, k := range keys {
		if k == r {
			return dtmfRows[i/4], dtmfCols[i%4], true
		}
	}
	return 0, 0, false
}

func (p *switchPort) playDigit(r rune, d time.Duration) {
	lo, hi, ok := dtmfPair(r)
	if !ok {
		return
	}
	if d < 40*time.Millisecond {
		d = 40 * time.Millisecond
	}
	if d > 2*time.Second {
		d = 2 * time.Second
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rate == 0 {
		return
	}
	p.tone = [2]float64{lo, hi}
	p.toneN = int(d.Seconds() * float64(p.rate))
	p.phase = 0
}

// mixTone overwrites frame with the digit's tone pair; p.mu held.
func (p *switchPort) mixTone(frame []int16) {
	// -10 dBm0 per tone: 0 dBm0 is a sine of peak 22730 in 16-bit linear
	// (G.711's full scale is +3.17 dBm0).
	const amp = 22730 * 0.3162
	for i := range frame {
		if p.toneN == 0 {
			break
		}
		t := float64(p.phase) / float64(p.rate)
		v := amp * (math.Sin(2*math.Pi*p.tone[0]*t) + math.Sin(2*math.Pi*p.tone[1]*t))
		frame[i] = int16(v)
		p.phase++
		p.toneN--
	}
}

// lockedPort serialises reads and writes of an endpoint's port: during a
// swap between two calls, the session losing the port may still be in a
// read while the other starts. The locks belong to the endpoint, not to
// one wrapper: a call that ends releases its wrapper while its media loop
// may still be inside a read, and the next call's wrapper of the same port
// must wait for it.
type lockedPort struct {
	*portLocks
	p endpoint.AudioPort
}

// portLocks are an endpoint's audio port locks (epState.locks).
type portLocks struct{ rmu, wmu sync.Mutex }

func (l *lockedPort) Rate() int { return l.p.Rate() }

func (l *lockedPort) ReadFrame(ctx context.Context, dst []int16) error {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	return l.p.ReadFrame(ctx, dst)
}

func (l *lockedPort) WriteFrame(ctx context.Context, src []int16) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.p.WriteFrame(ctx, src)
}
