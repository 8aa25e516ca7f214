package media

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"basestation/sipua/media/g722"
)

// AudioPort is the endpoint's audio channel: 16-bit mono frames of 10 ms at
// Rate() (8000 or 16000), paced by the device clock. hal.PCM satisfies it.
type AudioPort interface {
	Rate() int
	ReadFrame(ctx context.Context, dst []int16) error
	WriteFrame(ctx context.Context, src []int16) error
}

// Config configures a Session.
type Config struct {
	// LocalAddr is the address to bind RTP on; RTCP binds port+1. Port 0
	// picks a free even port whose successor is free too.
	LocalAddr netip.AddrPort
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// OnDigit is called once per telephone event received from the peer,
	// when it ends, from the session's goroutines; it must not block.
	OnDigit func(Digit)
	// JitterMin and JitterMax bound the adaptive jitter buffer's target
	// delay; defaults 20 ms and 300 ms.
	JitterMin, JitterMax time.Duration
	// RTCPInterval is the mean RTCP report interval; default 5 s.
	RTCPInterval time.Duration
	// CNAME for RTCP SDES; default "basestation".
	CNAME string
	// DSCP marks the RTP and RTCP packets sent (qos.go): 0 means EF (46);
	// negative leaves them unmarked.
	DSCP int
	// OnQuality, if set, is called from Run's goroutine every
	// QualityEvery (default 5 s) with the reception counters
	// (QualitySnapshot; Metrics of a period are the difference of two).
	// It must not block.
	OnQuality    func(QualitySnapshot)
	QualityEvery time.Duration
}

// Errors returned by Session methods.
var (
	ErrNotApplied = errors.New("media: session has no negotiated parameters (call Apply first)")
	ErrNotSending = errors.New("media: session is not sending (hold or no telephone-event negotiated)")
	ErrClosed     = errors.New("media: session closed")
)

// Session is one call's RTP/RTCP media stream. Create it with NewSession
// (which binds the sockets, so LocalAddr can go into the SDP), give it the
// negotiated parameters with Apply (again on every re-INVITE), then Run it
// with the endpoint's audio port. All methods are safe for concurrent use.
type Session struct {
	cfg      Config
	log      *slog.Logger
	rtpConn  *net.UDPConn
	rtcpConn *net.UDPConn
	local    netip.AddrPort
	start    time.Time

	mu      sync.Mutex
	neg     Negotiated
	applied bool
	closed  bool
	running bool
	stopRun context.CancelFunc

	// send state
	ssrc      uint32
	seq       uint16
	ts        uint32 // RTP timestamp of the next audio packet
	marker    bool
	pkt       rtp.Packet
	sendBuf   [rtpHeaderLen + maxPayload]byte
	srtpBuf   *srtpBuffers // allocated when SRTP is first applied
	payload   [maxPayload]byte
	payN      int
	chunks    int
	enc       encoder
	dest      netip.AddrPort
	rtcpDest  netip.AddrPort
	srtpOut   *srtp.Context
	srtpIn    *srtp.Context
	srtpKeys  *SRTPKeys
	dtmfQ     [16]pendingDigit
	dtmfHead  int
	dtmfLen   int
	dtmfTx    dtmfTx
	sentPkts  uint64
	sentBytes uint64
	lastSRRTP uint32

	// receive state: both sockets are read without blocking by Run's tick
	// loop into rxBuf
	rxBuf      [1500]byte
	rx         *datagramReader // socket 0: RTP, 1: RTCP
	rpkt       rtp.Packet
	latched    bool
	latchCand  netip.AddrPort
	latchCount int
	remoteSSRC uint32
	haveRemote bool
	jb         *jitterBuffer
	dec        decoder
	plc        *plc
	dtmfRx     dtmfRx
	pendDigits [8]Digit
	pendN      int
	lsr        uint32    // middle 32 bits of the peer's last SR NTP time
	lsrAt      time.Time // when it arrived
	rtt        time.Duration
	remoteLoss uint8
	remoteLost uint32
	remoteJit  uint32
	badPackets uint64
	lastRecvAt time.Time
	rtcpRecv   uint64
	portRate   int
	up, down   *halfband
	codecFrame []int16 // one 10 ms frame at the codec rate
	played     uint64
	q          qualityState // RFC 3611 / RFC 6035 accounting (quality.go)
}

const (
	rtpHeaderLen = 12             // no CSRCs, no extension
	maxPayload   = 2 * frameBytes // one 20 ms packet
	rtcpPollTick = 10             // RTCP socket read every 10 ticks (arrival is kernel-stamped)
)

// srtpBuffers are the SRTP encrypt/decrypt scratch buffers, only for
// sessions that use SRTP.
type srtpBuffers struct {
	enc, dec [1500]byte
}

type pendingDigit struct {
	event uint8
	dur   time.Duration
}

type dtmfTx struct {
	active   bool
	event    uint8
	ts       uint32
	total    uint32 // duration in ticks
	sent     uint32 // duration reported so far
	endsLeft int
	first    bool
}

// NewSession binds the RTP and RTCP sockets.
func NewSession(cfg Config) (*Session, error) {
	if !cfg.LocalAddr.IsValid() {
		return nil, fmt.Errorf("media: session: invalid local address %v", cfg.LocalAddr)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DSCP > 63 {
		return nil, fmt.Errorf("media: session: DSCP %d: must be 0..63 (or negative: unmarked)", cfg.DSCP)
	}
	if cfg.JitterMin <= 0 {
		cfg.JitterMin = 20 * time.Millisecond
	}
	if cfg.JitterMax <= 0 {
		cfg.JitterMax = 300 * time.Millisecond
	}
	if cfg.RTCPInterval <= 0 {
		cfg.RTCPInterval = 5 * time.Second
	}
	if cfg.CNAME == "" {
		cfg.CNAME = "basestation"
	}
	if cfg.QualityEvery <= 0 {
		cfg.QualityEvery = 5 * time.Second
	}
	rc, cc, err := bindPair(cfg.LocalAddr)
	if err != nil {
		return nil, err
	}
	if cfg.DSCP == 0 {
		cfg.DSCP = DSCPEF
	}
	if cfg.DSCP > 0 {
		for _, c := range []*net.UDPConn{rc, cc} {
			if err := MarkDSCP(c, cfg.DSCP); err != nil {
				rc.Close()
				cc.Close()
				return nil, fmt.Errorf("media: session: %w", err)
			}
		}
	}
	s := &Session{cfg: cfg, rtpConn: rc, rtcpConn: cc, start: time.Now()}
	if s.rx, err = newDatagramReader(s.rxBuf[:], rc, cc); err != nil {
		rc.Close()
		cc.Close()
		return nil, fmt.Errorf("media: session: %w", err)
	}
	s.local = rc.LocalAddr().(*net.UDPAddr).AddrPort()
	s.log = cfg.Logger.With("rtp", s.local.String())
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.ssrc = binary.BigEndian.Uint32(b[0:4])
	s.seq = binary.BigEndian.Uint16(b[4:6]) & 0x7FFF
	s.ts = binary.BigEndian.Uint32(b[2:6]) ^ uint32(b[6])<<24
	s.marker = true
	s.jb = newJitterBuffer(int(cfg.JitterMin/(10*time.Millisecond)), int(cfg.JitterMax/(10*time.Millisecond)))
	s.q.bg = newBurstGap()
	return s, nil
}

func bindPair(a netip.AddrPort) (*net.UDPConn, *net.UDPConn, error) {
	if a.Port() != 0 {
		if a.Port() == 65535 {
			return nil, nil, fmt.Errorf("media: session: port %d leaves no room for RTCP", a.Port())
		}
		rc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(a))
		if err != nil {
			return nil, nil, fmt.Errorf("media: bind RTP %v: %w", a, err)
		}
		cc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.Addr(), a.Port()+1)))
		if err != nil {
			rc.Close()
			return nil, nil, fmt.Errorf("media: bind RTCP %v:%d: %w", a.Addr(), a.Port()+1, err)
		}
		return rc, cc, nil
	}
	var lastErr error
	for range 64 {
		rc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(a))
		if err != nil {
			return nil, nil, fmt.Errorf("media: bind RTP %v: %w", a, err)
		}
		p := rc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		if p%2 != 0 || p == 65534 {
			rc.Close()
			continue
		}
		cc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.Addr(), p+1)))
		if err != nil {
			rc.Close()
			lastErr = err
			continue
		}
		return rc, cc, nil
	}
	return nil, nil, fmt.Errorf("media: no free even RTP port with RTCP on %v: %v", a.Addr(), lastErr)
}

// LocalAddr is the bound RTP address (RTCP is on port+1).
func (s *Session) LocalAddr() netip.AddrPort { return s.local }

// Apply sets or changes the negotiated parameters: codec, packet time,
// telephone-event, remote address (re-latched), direction (hold and resume
// take effect on the next packet) and SRTP keys. It may be called before
// and during Run.
func (s *Session) Apply(n Negotiated) error {
	if !n.Codec.valid() {
		return fmt.Errorf("media: apply: unsupported codec %v", n.Codec)
	}
	if n.PTime != 10*time.Millisecond && n.PTime != 20*time.Millisecond {
		return fmt.Errorf("media: apply: packet time %v not supported (10 or 20 ms)", n.PTime)
	}
	var out, in *srtp.Context
	if n.SRTP != nil {
		prof := srtp.ProtectionProfileAes128CmHmacSha1_80
		if n.SRTP.Suite == SuiteAES128SHA1_32 {
			prof = srtp.ProtectionProfileAes128CmHmacSha1_32
		} else if n.SRTP.Suite != SuiteAES128SHA1_80 {
			return fmt.Errorf("media: apply: SRTP suite %q not supported", n.SRTP.Suite)
		}
		if len(n.SRTP.LocalKey) != srtpKeyLen || len(n.SRTP.RemoteKey) != srtpKeyLen {
			return fmt.Errorf("media: apply: SRTP keys must be %d bytes", srtpKeyLen)
		}
		var err error
		if out, err = srtp.CreateContext(n.SRTP.LocalKey[:16], n.SRTP.LocalKey[16:], prof); err != nil {
			return fmt.Errorf("media: apply: SRTP send context: %w", err)
		}
		if in, err = srtp.CreateContext(n.SRTP.RemoteKey[:16], n.SRTP.RemoteKey[16:], prof); err != nil {
			return fmt.Errorf("media: apply: SRTP receive context: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if n.SRTP != nil && s.srtpKeys != nil && sameKeys(n.SRTP, s.srtpKeys) {
		out, in = s.srtpOut, s.srtpIn // keep rollover state across re-INVITEs
	}
	s.srtpOut, s.srtpIn, s.srtpKeys = out, in, n.SRTP
	if n.SRTP != nil && s.srtpBuf == nil {
		s.srtpBuf = new(srtpBuffers)
	}
	codecChanged := !s.applied || n.Codec != s.neg.Codec
	if s.applied && n.Remote != s.neg.Remote {
		s.latched, s.latchCount = false, 0
	}
	wasSending := s.applied && s.neg.Direction.Sends()
	s.neg = n
	s.applied = true
	if !s.latched || !s.dest.IsValid() {
		s.dest = n.Remote
	}
	if s.applied && n.RemoteRTCP != s.rtcpDest && n.RemoteRTCP.IsValid() {
		s.rtcpDest = n.RemoteRTCP
	}
	if codecChanged {
		s.setupCodec()
	}
	if n.Direction.Sends() && !wasSending {
		s.marker = true
	}
	// A packet in progress is abandoned; its frames still count in the
	// timestamp, which follows the sample clock.
	s.ts += uint32(s.chunks * frameTicks)
	s.payN, s.chunks = 0, 0
	return nil
}

func sameKeys(a, b *SRTPKeys) bool {
	return a.Suite == b.Suite && string(a.LocalKey) == string(b.LocalKey) && string(a.RemoteKey) == string(b.RemoteKey)
}

// setupCodec (re)creates codec state; s.mu held.
func (s *Session) setupCodec() {
	switch s.neg.Codec {
	case PCMU:
		s.enc, s.dec = ulaw{}, ulaw{}
	case PCMA:
		s.enc, s.dec = alaw{}, alaw{}
	case G722:
		s.enc, s.dec = g722enc{g722.NewEncoder()}, g722dec{g722.NewDecoder()}
	}
	rate := s.neg.Codec.SampleRate()
	s.plc = newPLC(rate)
	s.codecFrame = make([]int16, rate/100)
	s.up, s.down = newHalfband(), newHalfband()
	s.jb.reset()
	s.marker = true
}

// Close ends the session: a running Run returns (and closes the sockets);
// otherwise the sockets are closed here. Further calls do nothing.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.q.flush = true // no more packets: Quality decides the pending ones
	running, stop := s.running, s.stopRun
	s.mu.Unlock()
	if running {
		stop() // Run returns and closes the sockets
		return nil
	}
	s.rtpConn.Close()
	s.rtcpConn.Close()
	return nil
}

// Run streams media until ctx ends (or the audio port fails): it reads a
// frame from port every 10 ms, sends packets of the negotiated packet time
// paced by those reads, plays the jitter buffer's output to port, receives
// RTP and RTCP and sends RTCP reports. It returns nil when ctx ends, and
// closes the sockets. The quality summary is in Stats afterwards.
func (s *Session) Run(ctx context.Context, port AudioPort) error {
	rate := port.Rate()
	if rate != 8000 && rate != 16000 {
		return fmt.Errorf("media: audio port rate %d not supported (8000 or 16000)", rate)
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case !s.applied:
		s.mu.Unlock()
		return ErrNotApplied
	case s.running:
		s.mu.Unlock()
		return errors.New("media: session already running")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.running = true
	s.stopRun = cancel
	s.portRate = rate
	s.mu.Unlock()

	runErr := s.loop(ctx, port, rate)
	cancel()
	s.finish()
	return runErr
}

// loop is Run's tick loop. It is kept apart from Run's setup and summary
// so that the goroutine's stack, parked in ReadFrame most of the time,
// stays small (the runtime then shrinks it to its minimum).
func (s *Session) loop(ctx context.Context, port AudioPort, rate int) error {
	in := make([]int16, rate/100)
	out := make([]int16, rate/100)
	nextRTCP := time.Now().Add(s.rtcpDelay())
	nextQuality := time.Now().Add(s.cfg.QualityEvery)
	for n := 0; ; n++ {
		if err := port.ReadFrame(ctx, in); err != nil {
			if ctx.Err() == nil {
				return fmt.Errorf("media: audio port read: %w", err)
			}
			return nil
		}
		now := time.Now()
		s.tick(in, out, now, n%rtcpPollTick == 0)
		if !now.Before(nextRTCP) {
			s.sendRTCP(false)
			nextRTCP = now.Add(s.rtcpDelay())
		}
		if s.cfg.OnQuality != nil && !now.Before(nextQuality) {
			s.cfg.OnQuality(s.QualitySnapshot())
			nextQuality = now.Add(s.cfg.QualityEvery)
		}
		if err := port.WriteFrame(ctx, out); err != nil {
			if ctx.Err() == nil {
				return fmt.Errorf("media: audio port write: %w", err)
			}
			return nil
		}
	}
}

// finish ends a run: RTCP BYE, sockets closed, quality summary logged.
func (s *Session) finish() {
	s.mu.Lock()
	s.q.flush = true // the stream ends: decide the packets still pending (quality.go)
	s.mu.Unlock()
	s.sendRTCP(true)
	s.mu.Lock()
	s.closed = true
	s.running = false
	s.mu.Unlock()
	s.rtpConn.Close()
	s.rtcpConn.Close()
	st := s.Stats()
	s.log.Info("media: call quality", "codec", st.Codec.String(), "sent", st.PacketsSent, "received", st.PacketsReceived,
		"lost", st.Lost, "late", st.Late, "duplicates", st.Duplicates, "jitter", st.Jitter, "rtt", st.RTT, "mos", fmt.Sprintf("%.2f", st.MOS))
}

// tick is one 10 ms step: the datagrams that arrived since the last tick
// are processed (RTCP's socket only when pollRTCP), the captured frame in
// goes out, the frame to play is written to out.
func (s *Session) tick(in, out []int16, now time.Time, pollRTCP bool) {
	s.mu.Lock()
	s.receive(0, now)
	if pollRTCP {
		s.receive(1, now)
	}
	s.sendTick(in)
	s.playTick(out)
	cb := s.cfg.OnDigit
	n := s.pendN
	var local [8]Digit
	copy(local[:], s.pendDigits[:n])
	s.pendN = 0
	s.mu.Unlock()
	if cb != nil {
		for i := range n {
			cb(local[i])
		}
	}
}
