package broker

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Options configures a Broker. The zero value is a plain-TCP broker on a
// random loopback port that accepts every client.
type Options struct {
	// Addr is the listen address. Empty means "127.0.0.1:0" (a random port).
	// Only loopback addresses are accepted.
	Addr string
	// TLS, when set, makes the listener speak TLS. Set ClientAuth to
	// tls.RequireAndVerifyClientCert (and ClientCAs) for client-certificate
	// authentication; clients without a certificate from ClientCAs are then
	// refused during the handshake.
	TLS *tls.Config
	// ACL, when set, decides every publish (write=true) and subscribe
	// (write=false) of a client. Nil allows everything. ClientInfo.CommonName
	// is the subject CN of the verified client certificate (empty without TLS).
	ACL func(c ClientInfo, topic string, write bool) bool
	// Logger receives the broker's log. Nil discards it.
	Logger *slog.Logger
	// OnPublish, when set, is told of every message the broker accepted
	// (from its own goroutines; it must not block).
	OnPublish func(Message)
}

// Message is what OnPublish is told of a published message.
type Message struct {
	Client string // the publishing client's id
	Topic  string
	Bytes  int // payload size
	QoS    byte
	Retain bool
}

// ClientInfo identifies a connected client to an ACL.
type ClientInfo struct {
	ID         string
	Username   string
	CommonName string
}

// Broker is a running in-process MQTT broker. Close it exactly once (extra
// calls are harmless).
type Broker struct {
	srv       *mqtt.Server
	hook      *authHook
	addr      string
	tls       bool
	closeOnce sync.Once
	closeErr  error
}

// Start binds the listener and starts serving; it returns once clients can
// connect.
func Start(opts Options) (*Broker, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if !strings.HasPrefix(addr, "127.") && !strings.HasPrefix(addr, "[::1]") && !strings.HasPrefix(addr, "localhost:") {
		return nil, fmt.Errorf("broker: listen address %q is not loopback", addr)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: log})
	hook := &authHook{acl: opts.ACL, tls: opts.TLS != nil}
	if err := srv.AddHook(hook, nil); err != nil {
		return nil, fmt.Errorf("broker: add auth hook: %w", err)
	}
	if err := srv.AddHook(&sessionOrderHook{srv: srv, log: log}, nil); err != nil {
		return nil, fmt.Errorf("broker: add session-order hook: %w", err)
	}
	if opts.OnPublish != nil {
		if err := srv.AddHook(&publishHook{fn: opts.OnPublish}, nil); err != nil {
			return nil, fmt.Errorf("broker: add publish hook: %w", err)
		}
	}
	l := listeners.NewTCP(listeners.Config{ID: "sim", Address: addr, TLSConfig: opts.TLS})
	if err := srv.AddListener(l); err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	return &Broker{srv: srv, hook: hook, addr: l.Address(), tls: opts.TLS != nil}, nil
}

// Addr is the bound host:port.
func (b *Broker) Addr() string { return b.addr }

// URL is the address in the form paho expects: tcp://host:port or
// ssl://host:port.
func (b *Broker) URL() string {
	if b.tls {
		return "ssl://" + b.addr
	}
	return "tcp://" + b.addr
}

// Publish publishes a message from the broker itself (for tests and the
// simulator's console).
func (b *Broker) Publish(topic string, payload []byte, retain bool, qos byte) error {
	return b.srv.Publish(topic, payload, retain, qos)
}

// Retained returns the retained message on topic, if any.
func (b *Broker) Retained(topic string) ([]byte, bool) {
	pk, ok := b.srv.Topics.Retained.Get(topic)
	if !ok {
		return nil, false
	}
	return bytes.Clone(pk.Payload), true
}

// Kick disconnects the client with the given id as if its connection had
// died (the broker then sends its will). It reports whether such a client
// was connected.
func (b *Broker) Kick(clientID string) bool {
	cl, ok := b.srv.Clients.Get(clientID)
	if !ok || cl.Closed() {
		return false
	}
	cl.Stop(errors.New("kicked by test"))
	return true
}

// SetOutage starts (true) or ends an outage: while it lasts every client
// is disconnected as if the network had failed (wills are sent) and new
// connections are refused at CONNECT. Retained messages survive it.
func (b *Broker) SetOutage(on bool) {
	b.hook.down.Store(on)
	if !on {
		return
	}
	for _, cl := range b.srv.Clients.GetAll() {
		if !cl.Net.Inline && !cl.Closed() {
			cl.Stop(errors.New("broker outage"))
		}
	}
}

// Outage reports whether an outage is on.
func (b *Broker) Outage() bool { return b.hook.down.Load() }

// Clients counts the connected network clients.
func (b *Broker) Clients() int {
	n := 0
	for _, cl := range b.srv.Clients.GetAll() {
		if !cl.Net.Inline && !cl.Closed() {
			n++
		}
	}
	return n
}

// Close stops the broker and disconnects every client. Clients get no
// DISCONNECT, so their wills are not published by this broker (it is gone).
//
// mochi's Close closes the listeners, then waits for every client
// goroutine; one blocked on a peer that stopped reading would hold it
// forever. Close gives up waiting after closeWait (the listeners are
// closed by then, the port is free) and says so.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		done := make(chan error, 1)
		go func() { done <- b.srv.Close() }()
		select {
		case b.closeErr = <-done:
		case <-time.After(closeWait):
			b.closeErr = fmt.Errorf("broker %s: clients still shutting down after %v", b.Addr(), closeWait)
		}
	})
	return b.closeErr
}

// closeWait bounds how long Close waits for client goroutines.
const closeWait = 5 * time.Second

// authHook admits clients and applies the optional ACL.
type authHook struct {
	mqtt.HookBase
	acl  func(c ClientInfo, topic string, write bool) bool
	tls  bool
	down atomic.Bool // an outage: every CONNECT refused
}

func (h *authHook) ID() string { return "sim-auth" }

func (h *authHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate admits every client that reached CONNECT: with TLS
// client authentication the handshake has already verified the certificate.
// With TLS, a client that presented no certificate is refused here too, so
// a listener configured with tls.VerifyClientCertIfGiven cannot be used to
// slip in anonymously.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if h.down.Load() {
		return false
	}
	if !h.tls {
		return true
	}
	return commonName(cl) != ""
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if h.acl == nil {
		return true
	}
	return h.acl(ClientInfo{ID: cl.ID, Username: string(cl.Properties.Username), CommonName: commonName(cl)}, topic, write)
}

func commonName(cl *mqtt.Client) string {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return ""
	}
	st := tc.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return ""
	}
	return st.PeerCertificates[0].Subject.CommonName
}

// sessionOrderHook makes a client that connects with the id of a clean
// session still being taken down wait until that teardown is over.
//
// mochi (v2.7.9) ends a clean session in the old connection's goroutine:
// it removes the session's subscriptions and its client-table entry by
// client id. When the same id connects again at once (a base that
// restarts), that can run after the new connection subscribed, so the
// new connection loses its subscriptions or its table entry, and with
// them every message for it: the base says it is online and never hears
// a command. Admitting the new connection only after the old one is gone
// from the table orders the two. A live session (a real takeover) is
// stopped first; a persistent (non-clean) session is left to mochi's
// takeover, which keeps it in the table.
type sessionOrderHook struct {
	mqtt.HookBase
	srv *mqtt.Server
	log *slog.Logger
}

func (h *sessionOrderHook) ID() string { return "sim-session-order" }

func (h *sessionOrderHook) Provides(b byte) bool { return b == mqtt.OnConnect }

// teardownWait bounds how long a connection waits for the old session of
// its id to end.
const teardownWait = 3 * time.Second

func (h *sessionOrderHook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	old, ok := h.srv.Clients.Get(cl.ID)
	if !ok || old == cl || !cleanSession(old) {
		return nil
	}
	if !old.Closed() {
		old.Stop(packets.ErrSessionTakenOver)
	}
	deadline := time.Now().Add(teardownWait)
	for {
		cur, ok := h.srv.Clients.Get(cl.ID)
		if !ok || cur != old {
			return nil
		}
		if time.Now().After(deadline) {
			h.log.Warn("broker: old session still being taken down; admitting the new connection anyway", "client", cl.ID)
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// cleanSession reports whether mochi ends c's session when it disconnects.
func cleanSession(c *mqtt.Client) bool {
	if c.Properties.ProtocolVersion == 5 {
		return c.Properties.Props.SessionExpiryInterval == 0
	}
	return c.Properties.Clean
}

// publishHook reports every accepted message to Options.OnPublish.
type publishHook struct {
	mqtt.HookBase
	fn func(Message)
}

func (h *publishHook) ID() string { return "sim-publish" }

func (h *publishHook) Provides(b byte) bool { return b == mqtt.OnPublished }

func (h *publishHook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	h.fn(Message{Client: cl.ID, Topic: pk.TopicName, Bytes: len(pk.Payload), QoS: pk.FixedHeader.Qos, Retain: pk.FixedHeader.Retain})
}
