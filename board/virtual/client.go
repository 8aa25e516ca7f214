package virtual

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"basestation/hal"
	wire "basestation/hal/vboard"
)

// Options tune Open. Zero values mean the defaults in the comments.
type Options struct {
	// Client names this client in the simulator's log ("basestationd").
	Client string
	// BusyWait is how long Open retries while another client is still
	// connected, e.g. the daemon this one replaces (2 s).
	BusyWait time.Duration
}

// callTimeout bounds every request that has no context of its own.
const callTimeout = 2 * time.Second

// ErrBusy is returned by Open when another client holds the board.
var ErrBusy = errors.New("another client is connected to the virtual board")

// Open connects to the virtual board served on the Unix socket path.
func Open(ctx context.Context, path string, o Options) (*hal.Board, error) {
	if o.Client == "" {
		o.Client = "basestationd"
	}
	if o.BusyWait <= 0 {
		o.BusyWait = 2 * time.Second
	}
	deadline := time.Now().Add(o.BusyWait)
	for {
		c, w, err := dial(ctx, path, o.Client)
		if err == nil {
			return c.board(w), nil
		}
		if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// client is one connection to the board server.
type client struct {
	path string
	conn net.Conn

	wmu  sync.Mutex
	wbuf []byte

	mu      sync.Mutex
	next    uint16
	pending map[uint16]chan wire.Msg // nil value: abandoned, reply still due
	err     error                    // why the connection ended

	done    chan struct{}  // closed when the reader ends
	pcms    map[uint8]*pcm // the current object of each DECT channel (guarded by mu)
	irq     *irqPin
	presses chan hal.ButtonPress
	once    sync.Once
}

func dial(ctx context.Context, path, name string) (*client, *wire.Msg, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, nil, fmt.Errorf("virtual board %s: %w (is basesim --serve-board running?)", path, err)
	}
	fail := func(err error) (*client, *wire.Msg, error) {
		conn.Close()
		return nil, nil, fmt.Errorf("virtual board %s: %w", path, err)
	}
	b, err := wire.Append(nil, &wire.Msg{Type: wire.THello, Tag: 1, Version: wire.Version, Name: name})
	if err != nil {
		return fail(err)
	}
	_ = conn.SetDeadline(time.Now().Add(callTimeout))
	if _, err := conn.Write(b); err != nil {
		return fail(fmt.Errorf("HELLO: %w", err))
	}
	r := bufio.NewReaderSize(conn, 8192)
	var w wire.Msg
	if _, err := wire.ReadMsg(r, nil, &w); err != nil {
		return fail(fmt.Errorf("waiting for WELCOME: %w", err))
	}
	switch {
	case w.Type == wire.TError && w.Code == wire.CodeBusy:
		return fail(fmt.Errorf("%w (%s)", ErrBusy, w.Name))
	case w.Type == wire.TError:
		return fail(fmt.Errorf("refused: %s (code %d)", w.Name, w.Code))
	case w.Type != wire.TWelcome:
		return fail(fmt.Errorf("%w: %s instead of WELCOME", wire.ErrMalformed, w.Type))
	case w.Version != wire.Version:
		return fail(fmt.Errorf("server speaks protocol version %d, this client %d", w.Version, wire.Version))
	}
	_ = conn.SetDeadline(time.Time{})
	c := &client{path: path, conn: conn, pending: map[uint16]chan wire.Msg{}, done: make(chan struct{}), pcms: map[uint8]*pcm{},
		presses: make(chan hal.ButtonPress, 8)}
	c.irq = newIRQPin(c, w.SLIC, w.Level)
	go c.readLoop(r)
	return c, &w, nil
}

// board builds the hal.Board of the connection.
func (c *client) board(w *wire.Msg) *hal.Board {
	leds := map[string]hal.LED{}
	for _, n := range w.LEDs {
		leds[n] = &led{c: c, name: n}
	}
	slots := int(w.Slots)
	return &hal.Board{
		Name: "virtual:" + c.path,
		SLIC: hal.SLIC{
			Name:  w.SLIC + " (virtual)",
			Port:  &port{c: c},
			IRQ:   c.irq,
			Reset: &resetPin{c: c, line: wire.LineSLIC, name: w.SLIC + " RESET"},
			PCM:   newPCM(c, 0, hal.RateNarrowband),
		},
		Radio: hal.Radio{
			Device: w.RadioDev,
			Baud:   int(w.RadioBaud),
			Reset:  &resetPin{c: c, line: wire.LineRadio, name: "DECT_RESET"},
			Audio: func(slot, rate int) (hal.PCM, error) {
				if slot < 0 || slot >= slots {
					return nil, fmt.Errorf("virtual board: DECT audio slot %d out of range 0..%d", slot, slots-1)
				}
				if rate != hal.RateNarrowband && rate != hal.RateWideband {
					return nil, fmt.Errorf("virtual board: DECT audio rate %d is not 8000 or 16000", rate)
				}
				ch := uint8(slot + 1)
				if _, err := c.call(context.Background(), nil, &wire.Msg{Type: wire.TPCMOpen, Ch: ch, Rate: uint16(rate)}); err != nil {
					return nil, err
				}
				// As on the board, a slot assigned again ends its previous
				// channel: that object's calls return hal.ErrClosed.
				p := newPCM(c, ch, rate)
				c.mu.Lock()
				old := c.pcms[ch]
				c.pcms[ch] = p
				c.mu.Unlock()
				if old != nil {
					old.closeLocal()
				}
				return p, nil
			},
		},
		LEDs:   leds,
		Button: &button{c: c},
		Closer: c,
	}
}

// Close disconnects; the board keeps its state. Calls in flight fail.
func (c *client) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		if c.err == nil {
			c.err = hal.ErrClosed
		}
		c.mu.Unlock()
		c.conn.Close()
	})
	<-c.done
	return nil
}

// lost returns why the connection ended, or nil.
func (c *client) lost() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *client) readLoop(r *bufio.Reader) {
	var buf []byte
	var m wire.Msg
	var err error
	for {
		buf, err = wire.ReadMsg(r, buf, &m)
		if err != nil {
			err = fmt.Errorf("connection lost: %w", err)
			break
		}
		if !m.Type.FromServer() || m.Type == wire.TWelcome {
			err = fmt.Errorf("%w: the server sent %s", wire.ErrMalformed, m.Type)
			break
		}
		if m.Tag == 0 {
			switch m.Type {
			case wire.TIRQ:
				c.irq.set(m.Level)
				continue
			case wire.TButton:
				select {
				case c.presses <- hal.ButtonPress{Held: time.Duration(m.HeldMs) * time.Millisecond}:
				default: // nobody waits for the button: the press is lost, as on a GPIO
				}
				continue
			case wire.TError:
				err = fmt.Errorf("the server ended the connection: %s (code %d)", m.Name, m.Code)
			default:
				err = fmt.Errorf("%w: %s without a tag", wire.ErrMalformed, m.Type)
			}
			break
		}
		if m.Type == wire.TIRQ || m.Type == wire.TButton {
			err = fmt.Errorf("%w: %s with tag %d", wire.ErrMalformed, m.Type, m.Tag)
			break
		}
		c.mu.Lock()
		ch, ok := c.pending[m.Tag]
		delete(c.pending, m.Tag)
		c.mu.Unlock()
		if !ok {
			err = fmt.Errorf("%w: %s answers tag %d, which no request has", wire.ErrMalformed, m.Type, m.Tag)
			break
		}
		if ch != nil {
			ch <- m // buffered: never blocks
		}
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = fmt.Errorf("virtual board %s: %w", c.path, err)
	}
	c.pending = map[uint16]chan wire.Msg{}
	c.mu.Unlock()
	c.conn.Close()
	close(c.done)
}

// call sends a request and waits for its reply, ctx, abort (which fails the
// call with hal.ErrClosed) or the end of the connection. A context without
// deadline gets callTimeout.
func (c *client) call(ctx context.Context, abort <-chan struct{}, m *wire.Msg) (wire.Msg, error) {
	if _, ok := ctx.Deadline(); !ok && ctx.Done() == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	reply := make(chan wire.Msg, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return wire.Msg{}, err
	}
	if len(c.pending) > 60000 {
		c.mu.Unlock()
		return wire.Msg{}, fmt.Errorf("virtual board %s: %s: %d requests unanswered", c.path, m.Type, len(c.pending))
	}
	for {
		c.next++
		if _, used := c.pending[c.next]; c.next != 0 && !used {
			break
		}
	}
	m.Tag = c.next
	c.pending[m.Tag] = reply
	c.mu.Unlock()
	if err := c.send(m); err != nil {
		c.abandon(m.Tag)
		return wire.Msg{}, fmt.Errorf("virtual board %s: sending %s: %w", c.path, m.Type, err)
	}
	select {
	case r := <-reply:
		if r.Type == wire.TError {
			return r, fmt.Errorf("virtual board: %s: %s", m.Type, r.Name)
		}
		return r, nil
	case <-ctx.Done():
		c.abandon(m.Tag)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return wire.Msg{}, fmt.Errorf("virtual board %s: %s: no answer (%w)", c.path, m.Type, ctx.Err())
		}
		return wire.Msg{}, ctx.Err()
	case <-abort:
		c.abandon(m.Tag)
		return wire.Msg{}, hal.ErrClosed
	case <-c.done:
		return wire.Msg{}, c.lost()
	}
}

// abandon keeps tag reserved until its late reply arrives.
func (c *client) abandon(tag uint16) {
	c.mu.Lock()
	if _, ok := c.pending[tag]; ok {
		c.pending[tag] = nil
	}
	c.mu.Unlock()
}

func (c *client) send(m *wire.Msg) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b, err := wire.Append(c.wbuf[:0], m)
	if err != nil {
		return err
	}
	c.wbuf = b
	_ = c.conn.SetWriteDeadline(time.Now().Add(callTimeout))
	_, err = c.conn.Write(b)
	return err
}

// expect checks a reply's type.
func expect(r wire.Msg, t wire.Type) error {
	if r.Type != t {
		return fmt.Errorf("virtual board: %s where %s was due", r.Type, t)
	}
	return nil
}
