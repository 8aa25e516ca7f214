package health

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"basestation/hal"
)

// Health tracks whether the daemon's main loops are making progress, for
// the systemd watchdog (cmd/basestationd pings only while every loop has
// beaten recently). The loops and what counts as a beat:
//
//   - "line": the analog port's frame loop read a PCM frame (100 a second
//     while the line is in use), or answered the ping that ProbeLine sends
//     every ProbeEvery (an idle line sleeps and reads no PCM);
//   - "radio": the DECT driver opened, read or wrote the module's serial
//     port (keepalives every 3 s while the module is up; SYNC and
//     reopen attempts, at most 5 s apart, while it is not — a dead module
//     is the radio's fault to report, not a stuck daemon);
//   - "sip": the user agent's UDP transport answered an OPTIONS that Health
//     itself sends to the SIP listen address over loopback every ProbeEvery;
//   - "mqtt": the provisioning agent's loop ticked (once a second).
//
// The beats are read from signals the loops already produce (the PCM
// reads, the serial port's I/O, a SIP answer); only the agent's loop has a
// hook (provisioning.Options.Heartbeat). Methods are safe for concurrent use.
type Health struct {
	// ProbeEvery is how often the SIP listener is probed (default 1 s).
	ProbeEvery time.Duration

	mu    sync.Mutex
	loops []*Loop
}

// Names of the loops Health tracks.
const (
	LoopLine  = "line"
	LoopRadio = "radio"
	LoopSIP   = "sip"
	LoopMQTT  = "mqtt"
)

// Loop is one tracked loop.
type Loop struct {
	name string
	last atomic.Int64 // time of the last beat, Unix nanoseconds; 0: never
}

// Beat records progress now.
func (l *Loop) Beat() { l.last.Store(time.Now().UnixNano()) }

// NewHealth returns a tracker with the four main loops registered.
func NewHealth() *Health {
	h := &Health{ProbeEvery: time.Second}
	for _, n := range []string{LoopLine, LoopRadio, LoopSIP, LoopMQTT} {
		h.loops = append(h.loops, &Loop{name: n})
	}
	return h
}

// Loop returns the named loop, registering it if new.
func (h *Health) Loop(name string) *Loop {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.loops {
		if l.name == name {
			return l
		}
	}
	l := &Loop{name: name}
	h.loops = append(h.loops, l)
	return l
}

// Started reports whether every loop has beaten at least once: the board
// answered, the stored state is loaded and every loop is running.
func (h *Health) Started() bool { return len(h.Waiting()) == 0 }

// Waiting lists the loops that have not beaten yet.
func (h *Health) Waiting() []string { return h.Stale(time.Now(), -1) }

// Stale lists the loops whose last beat is older than within at now (all
// that never beat; within < 0 lists only those).
func (h *Health) Stale(now time.Time, within time.Duration) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, l := range h.loops {
		t := l.last.Load()
		if t == 0 || within >= 0 && now.Sub(time.Unix(0, t)) > within {
			out = append(out, l.name)
		}
	}
	return out
}

// LinePCM counts the frame loop's reads of the SLIC's PCM channel.
func (h *Health) LinePCM(p hal.PCM) hal.PCM {
	if p == nil {
		return nil
	}
	return &beatPCM{PCM: p, loop: h.Loop(LoopLine)}
}

type beatPCM struct {
	hal.PCM
	loop *Loop
}

func (p *beatPCM) ReadFrame(ctx context.Context, dst []int16) error {
	err := p.PCM.ReadFrame(ctx, dst)
	if err == nil {
		p.loop.Beat()
	}
	return err
}

// RadioPort returns open with the serial port's opens, reads and writes
// counted as the "radio" loop's beats (open is the radio driver's way of
// opening the module's port).
func (h *Health) RadioPort(open func() (io.ReadWriteCloser, error)) func() (io.ReadWriteCloser, error) {
	l := h.Loop(LoopRadio)
	return func() (io.ReadWriteCloser, error) {
		l.Beat() // an attempt is progress; a failing port is logged by dect
		p, err := open()
		if err != nil {
			return nil, err
		}
		return &beatPort{ReadWriteCloser: p, loop: l}, nil
	}
}

type beatPort struct {
	io.ReadWriteCloser
	loop *Loop
}

func (p *beatPort) Read(b []byte) (int, error) {
	n, err := p.ReadWriteCloser.Read(b)
	if n > 0 {
		p.loop.Beat()
	}
	return n, err
}

func (p *beatPort) Write(b []byte) (int, error) {
	n, err := p.ReadWriteCloser.Write(b)
	if err == nil {
		p.loop.Beat()
	}
	return n, err
}

// ProbeSIP sends an OPTIONS to the SIP listener from a loopback UDP socket
// every ProbeEvery and beats the "sip" loop for each answer (the user agent
// answers an OPTIONS from anyone with a stateless 200). listenAddr is the
// user agent's bound address ("" until it listens).
func (h *Health) ProbeSIP(ctx context.Context, listenAddr func() string) error {
	l := h.Loop(LoopSIP)
	every := h.ProbeEvery
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var conn *net.UDPConn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	buf := make([]byte, 4096)
	for seq := 1; ; seq++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		dst := loopbackOf(listenAddr())
		if dst == nil {
			continue
		}
		if conn == nil || conn.RemoteAddr().String() != dst.String() {
			if conn != nil {
				conn.Close()
			}
			c, err := net.DialUDP("udp", nil, dst)
			if err != nil {
				continue // counted as no progress
			}
			conn = c
		}
		callID := fmt.Sprintf("health-%d-%d@basestationd", time.Now().UnixNano(), seq)
		if _, err := conn.Write(optionsProbe(conn.LocalAddr().String(), dst.String(), callID, seq)); err != nil {
			continue
		}
		_ = conn.SetReadDeadline(time.Now().Add(every))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				break // timeout: no answer this round
			}
			if m := string(buf[:n]); strings.HasPrefix(m, "SIP/2.0 ") && strings.Contains(m, callID) {
				l.Beat()
				break
			}
		}
	}
}

// ProbeLine asks the analog port's loop to answer (ping: fxs.Port.Ping)
// every ProbeEvery and beats the "line" loop for each answer within
// ProbeEvery: the sleeping idle line wakes for it, a stuck one does not.
func (h *Health) ProbeLine(ctx context.Context, ping func(context.Context) error) error {
	l := h.Loop(LoopLine)
	every := h.ProbeEvery
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, every)
		err := ping(pctx)
		cancel()
		if err == nil {
			l.Beat()
		}
	}
}

// loopbackOf is where to reach a listener bound to addr from this host.
func loopbackOf(addr string) *net.UDPAddr {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil || a.Port == 0 {
		return nil
	}
	if a.IP == nil || a.IP.IsUnspecified() {
		if a.IP.To4() == nil && a.IP != nil {
			a.IP = net.IPv6loopback
		} else {
			a.IP = net.IPv4(127, 0, 0, 1)
		}
	}
	return a
}

func optionsProbe(local, dst, callID string, seq int) []byte {
	return fmt.Appendf(nil, "OPTIONS sip:health@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-health-%d;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:health@%s>;tag=health%d\r\n"+
		"To: <sip:health@%s>\r\n"+
		"Call-ID: %s\r\n"+
		"CSeq: %d OPTIONS\r\n"+
		"Content-Length: 0\r\n\r\n", dst, local, seq, local, seq, dst, callID, seq)
}
