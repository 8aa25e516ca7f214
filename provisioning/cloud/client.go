package cloud

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"basestation/provisioning"
)

// Options configures a Client.
type Options struct {
	// Brokers are broker URLs (tcp://host:port, ssl://host:port).
	Brokers []string
	// TLS is used for ssl:// brokers (see provisioning.LoadTLS).
	TLS *tls.Config
	// ClientID defaults to "cloud-" and a random suffix.
	ClientID           string
	Username, Password string
	Logger             *slog.Logger
	// OnPending, when set, is told when a configuration published by
	// Update waits on the base for calls to end.
	OnPending func(provisioning.Pending)
	// TopicRoot is the root of the bases' topic tree (default
	// provisioning.TopicPrefix, "bs/v1"); it must match the bases'
	// mqtt.topic_root.
	TopicRoot string
}

// Client is a connected cloud-side client. Its methods may be called from
// several goroutines.
type Client struct {
	c    mqtt.Client
	o    Options
	log  *slog.Logger
	seq  uint64
	mu   sync.Mutex
	rand string

	opMu  sync.Mutex // serializes SUBSCRIBE/UNSUBSCRIBE
	subMu sync.Mutex
	subs  map[string]map[*listener]bool

	// syncTopic is this client's own topic for the markers that end a
	// read of retained messages (readRetained).
	syncTopic string

	bg sync.WaitGroup // resubscribe goroutines, waited for by Close
}

// Errors of the cloud side.
var (
	// ErrNoDesired means the base has no retained desired configuration.
	ErrNoDesired = errors.New("no desired configuration published for this base")
	// ErrNoState means the base has never reported its state.
	ErrNoState = errors.New("the base has not reported its state")
	// ErrNotPublished marks a configuration that failed validation on the
	// cloud side and was therefore never sent to the base.
	ErrNotPublished = errors.New("configuration not published")
	// ErrRefused means the broker refused a subscription (its ACL).
	ErrRefused = errors.New("subscription refused by the broker")
	// ErrOffline means the base's last will says it is offline.
	ErrOffline = errors.New("the base is offline")
)

// Dial connects to the broker and waits until connected or ctx ends.
func Dial(ctx context.Context, o Options) (*Client, error) {
	if len(o.Brokers) == 0 {
		return nil, errors.New("cloud: no broker URL")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.TopicRoot == "" {
		o.TopicRoot = provisioning.TopicPrefix
	}
	if err := provisioning.CheckTopicRoot(o.TopicRoot); err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	if o.ClientID == "" {
		o.ClientID = "cloud-" + hex.EncodeToString(r[:])
	}
	po := mqtt.NewClientOptions()
	for _, b := range o.Brokers {
		po.AddBroker(b)
	}
	po.SetClientID(o.ClientID)
	if o.Username != "" {
		po.SetUsername(o.Username)
		po.SetPassword(o.Password)
	}
	if o.TLS != nil {
		po.SetTLSConfig(o.TLS.Clone())
	}
	po.SetCleanSession(true)
	// In order: a command's accepted result must reach the caller before
	// its final one. dispatch never blocks, so the router cannot stall.
	po.SetOrderMatters(true)
	po.SetAutoReconnect(true)
	po.SetMaxReconnectInterval(5 * time.Second)
	po.SetConnectTimeout(10 * time.Second)
	po.SetKeepAlive(30 * time.Second)
	po.SetDefaultPublishHandler(func(mqtt.Client, mqtt.Message) {})
	cl := &Client{o: o, log: o.Logger, rand: hex.EncodeToString(r[:3]), subs: map[string]map[*listener]bool{},
		syncTopic: o.TopicRoot + "/" + SyncLevel + "/" + hex.EncodeToString(r[:])}
	// The session is clean: after an automatic reconnect the broker has
	// forgotten every subscription, so the ones in use are made again
	// (a Push or Command waiting across a broker restart, or a takeover
	// of the client id, would otherwise wait for a report it never gets).
	connected := false
	var connMu sync.Mutex
	po.SetOnConnectHandler(func(mc mqtt.Client) {
		connMu.Lock()
		again := connected
		connected = true
		connMu.Unlock()
		if again {
			cl.bg.Add(1)
			go func() {
				defer cl.bg.Done()
				cl.resubscribe()
			}()
		}
	})
	c := mqtt.NewClient(po)
	cl.c = c
	if err := provisioning.WaitToken(ctx, c.Connect()); err != nil {
		if ctx.Err() != nil {
			c.Disconnect(0)
		}
		return nil, fmt.Errorf("cloud: connect to %v: %w", o.Brokers, err)
	}
	return cl, nil
}

func (c *Client) root() string { return c.o.TopicRoot }

// topics are base's topics under the client's root.
func (c *Client) topics(base string) provisioning.Topics {
	return provisioning.TopicsUnder(c.o.TopicRoot, base)
}

// Close disconnects.
func (c *Client) Close() {
	c.c.Disconnect(250)
	c.bg.Wait()
}

func wait(ctx context.Context, tok mqtt.Token, what string) error {
	if err := provisioning.WaitToken(ctx, tok); err != nil {
		return fmt.Errorf("cloud: %s: %w", what, err)
	}
	return nil
}

// subscribe subscribes to every filter and delivers their messages, in
// the order the broker sent them, to the returned channel until the
// returned cancel function is called. Several callers may listen on the
// same filter at once (paho keeps one handler per filter): the broker
// subscription is shared and dropped with the last listener. Every call
// sends a SUBSCRIBE, so the broker delivers the retained messages again;
// the other listeners see that copy too. A filter the broker refuses (an
// ACL) is an error.
func (c *Client) subscribe(ctx context.Context, filters ...string) (<-chan mqtt.Message, func(), error) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	l := newListener()
	c.subMu.Lock()
	for _, f := range filters {
		s := c.subs[f]
		if s == nil {
			s = map[*listener]bool{}
			c.subs[f] = s
		}
		s[l] = true
	}
	c.subMu.Unlock()
	// remove takes l off every filter and returns the filters it was the
	// last listener of.
	remove := func() []string {
		c.subMu.Lock()
		defer c.subMu.Unlock()
		var last []string
		for _, f := range filters {
			s := c.subs[f]
			delete(s, l)
			if len(s) == 0 && s != nil {
				delete(c.subs, f)
				last = append(last, f)
			}
		}
		close(l.done)
		return last
	}
	unsubscribe := func(fs []string) {
		for _, f := range fs {
			_ = provisioning.WaitTokenFor(context.Background(), c.c.Unsubscribe(f), 2*time.Second)
		}
	}
	for _, f := range filters {
		if err := c.subscribeOne(ctx, f); err != nil {
			unsubscribe(remove())
			return nil, nil, err
		}
	}
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			c.opMu.Lock()
			defer c.opMu.Unlock()
			unsubscribe(remove())
		})
	}
	return l.ch, cancel, nil
}

// subscribeOne sends one SUBSCRIBE for filter and checks the broker's
// answer. The subscription is QoS 0: the session is clean, so QoS 1 would
// buy no redelivery, and it would put every message to this client in the
// broker's in-flight table, whose packet ids some brokers (mochi) also
// check the client's own SUBSCRIBE against, refusing it as "packet
// identifier in use" (0x91). That refusal is transient and is retried
// with a new packet id; any other refusal (an ACL) is ErrRefused.
func (c *Client) subscribeOne(ctx context.Context, f string) error {
	const idInUse = 0x91
	for try := 1; ; try++ {
		tok := c.c.Subscribe(f, 0, func(_ mqtt.Client, m mqtt.Message) { c.dispatch(f, m) })
		if err := wait(ctx, tok, "subscribe "+f); err != nil {
			return err
		}
		code, ok := tok.(*mqtt.SubscribeToken).Result()[f]
		if !ok || code < 0x80 {
			return nil
		}
		if code != idInUse || try == 5 {
			return fmt.Errorf("cloud: subscribe %s: %w (code %#x)", f, ErrRefused, code)
		}
		c.log.Debug("cloud: subscription refused, packet id in use; retrying", "filter", f)
	}
}

// resubscribe makes every subscription in use again after a reconnect.
func (c *Client) resubscribe() {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.subMu.Lock()
	filters := make([]string, 0, len(c.subs))
	for f := range c.subs {
		filters = append(filters, f)
	}
	c.subMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, f := range filters {
		if err := c.subscribeOne(ctx, f); err != nil {
			c.log.Warn("cloud: subscription not made again after reconnecting", "filter", f, "err", err)
		}
	}
}

// listener is one consumer of a filter: an unbounded queue in arrival
// order, pumped into ch by its own goroutine until done is closed.
type listener struct {
	ch     chan mqtt.Message
	done   chan struct{}
	mu     sync.Mutex
	q      []mqtt.Message
	notify chan struct{}
}

func newListener() *listener {
	l := &listener{ch: make(chan mqtt.Message), done: make(chan struct{}), notify: make(chan struct{}, 1)}
	go l.pump()
	return l
}

func (l *listener) push(m mqtt.Message) {
	l.mu.Lock()
	l.q = append(l.q, m)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

func (l *listener) pump() {
	for {
		select {
		case <-l.notify:
		case <-l.done:
			return
		}
		for {
			l.mu.Lock()
			if len(l.q) == 0 {
				l.mu.Unlock()
				break
			}
			m := l.q[0]
			l.q = l.q[1:]
			l.mu.Unlock()
			select {
			case l.ch <- m:
			case <-l.done:
				return
			}
		}
	}
}

// dispatch queues a message for every listener of filter, in paho's router
// goroutine; it never blocks.
func (c *Client) dispatch(filter string, m mqtt.Message) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	for l := range c.subs[filter] {
		l.push(m)
	}
}

// SyncLevel is the topic level under the topic root of the cloud
// clients' own marker topics (<root>/_cloud/<random>): a client publishes a
// marker there, not retained, to learn that the broker has sent it every
// retained message of a subscription. The portal's broker account needs
// read and write on it (readwrite <root>/# does).
const SyncLevel = "_cloud"

// readRetained passes every retained message on filter to fn and returns
// once the broker has sent them all. It subscribes to filter, then
// publishes a marker on the client's sync topic: a broker sends a new
// subscription's retained messages before it handles the client's next
// packet, and delivers the messages of one client's subscriptions in the
// order it queued them, so the marker arrives after the last retained
// message (if any). No timer decides that a topic has no retained message:
// a slow broker makes the read slow, never wrong.
func (c *Client) readRetained(ctx context.Context, filter string, fn func(mqtt.Message)) error {
	ch, cancel, err := c.subscribe(ctx, filter, c.syncTopic)
	if err != nil {
		return err
	}
	defer cancel()
	marker := []byte(c.NewCommandID())
	if err := c.PublishRaw(ctx, c.syncTopic, marker, false); err != nil {
		return err
	}
	for {
		select {
		case m := <-ch:
			if m.Topic() == c.syncTopic {
				if string(m.Payload()) == string(marker) {
					return nil
				}
				continue // another read's marker
			}
			if m.Retained() {
				fn(m)
			}
		case <-ctx.Done():
			return fmt.Errorf("cloud: read %s: %w", filter, ctx.Err())
		}
	}
}

// retained returns the retained message on topic, or nil if there is none
// (an empty payload is one deleted).
func (c *Client) retained(ctx context.Context, topic string) ([]byte, error) {
	var last []byte
	err := c.readRetained(ctx, topic, func(m mqtt.Message) { last = m.Payload() })
	return last, err
}

// BaseInfo is what the broker holds about one base.
type BaseInfo struct {
	ID     string               `json:"id"`
	Status *provisioning.Status `json:"status,omitempty"`
	State  *provisioning.State  `json:"state,omitempty"`
}

// Bases lists the bases that have a retained status or state on the
// broker, sorted by id.
func (c *Client) Bases(ctx context.Context) ([]BaseInfo, error) {
	found := map[string]*BaseInfo{}
	err := c.readRetained(ctx, c.root()+"/+/+", func(m mqtt.Message) {
		base, leaf, ok := provisioning.ParseTopicUnder(c.root(), m.Topic())
		if !ok || len(m.Payload()) == 0 {
			return
		}
		bi := found[base]
		if bi == nil {
			bi = &BaseInfo{ID: base}
			found[base] = bi
		}
		switch leaf {
		case "status":
			if s, err := provisioning.DecodeStatus(m.Payload()); err == nil && s.Base == base {
				bi.Status = s
			}
		case "state":
			if s, err := provisioning.DecodeState(m.Payload()); err == nil && s.Base == base {
				bi.State = s
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cloud: list bases: %w", err)
	}
	out := make([]BaseInfo, 0, len(found))
	for _, bi := range found {
		if bi.Status != nil || bi.State != nil {
			out = append(out, *bi)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Status returns the base's retained birth message or will.
func (c *Client) Status(ctx context.Context, base string) (*provisioning.Status, error) {
	b, err := c.retained(ctx, c.topics(base).Status)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("cloud: base %s: no status on the broker", base)
	}
	return provisioning.DecodeStatus(b)
}

// State returns the base's retained reported state (ErrNoState if none).
func (c *Client) State(ctx context.Context, base string) (*provisioning.State, error) {
	b, err := c.retained(ctx, c.topics(base).State)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("cloud: base %s: %w", base, ErrNoState)
	}
	return provisioning.DecodeState(b)
}

// Desired returns the retained desired configuration (ErrNoDesired if
// none).
func (c *Client) Desired(ctx context.Context, base string) (*provisioning.Config, error) {
	b, err := c.retained(ctx, c.topics(base).Desired)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("cloud: base %s: %w", base, ErrNoDesired)
	}
	cfg, err := provisioning.DecodeConfig(b)
	if err != nil {
		return nil, fmt.Errorf("cloud: base %s: retained desired configuration: %w", base, err)
	}
	return cfg, nil
}

// Publish publishes cfg as the base's desired configuration (retained,
// QoS 1) without waiting for the base.
func (c *Client) Publish(ctx context.Context, cfg *provisioning.Config) error {
	if !provisioning.ValidBaseID(cfg.Base) {
		return fmt.Errorf("cloud: publish configuration: base %q is not a base id", cfg.Base)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("cloud: encode configuration: %w", err)
	}
	return c.PublishRaw(ctx, c.topics(cfg.Base).Desired, b, true)
}

// PublishRaw publishes any payload with QoS 1 (for tests and scripts).
func (c *Client) PublishRaw(ctx context.Context, topic string, payload []byte, retained bool) error {
	return wait(ctx, c.c.Publish(topic, 1, retained, payload), "publish "+topic)
}

// Push publishes cfg and waits until the base reports it applied (the
// returned state) or rejected (a *provisioning.ValidationError with every
// field error). A deferred configuration keeps it waiting; pending, when
// not nil, is told once.
func (c *Client) Push(ctx context.Context, cfg *provisioning.Config, pending func(provisioning.Pending)) (*provisioning.State, error) {
	ch, cancel, err := c.subscribe(ctx, c.topics(cfg.Base).State)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if err := c.Publish(ctx, cfg); err != nil {
		return nil, err
	}
	told := false
	for {
		select {
		case m := <-ch:
			st, err := provisioning.DecodeState(m.Payload())
			if err != nil || st.Base != cfg.Base {
				continue
			}
			if st.Config.AppliedVersion >= cfg.Version {
				return st, nil
			}
			// The retained copy delivered on subscribing predates this
			// publish: a rejection in it is of an earlier document with
			// the same version, so only live reports count.
			if r := st.Config.Rejected; r != nil && r.Version == cfg.Version && !m.Retained() {
				return st, &provisioning.ValidationError{Version: r.Version, Errors: r.Errors}
			}
			if p := st.Config.Pending; p != nil && p.Version == cfg.Version && !told && pending != nil {
				told = true
				pending(*p)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("cloud: base %s did not report configuration version %d applied: %w", cfg.Base, cfg.Version, ctx.Err())
		}
	}
}

// Update reads the desired configuration, lets modify change a copy, checks
// the result (provisioning.Validate with the devices the base reports),
// publishes it as the next version and waits for the applied report. With
// no desired configuration on the broker it returns ErrNoDesired; an
// invalid result is not published (ErrNotPublished wrapping the
// *provisioning.ValidationError).
func (c *Client) Update(ctx context.Context, base string, modify func(*provisioning.Config) error) (*provisioning.Config, *provisioning.State, error) {
	cur, err := c.Desired(ctx, base)
	if err != nil {
		return nil, nil, err
	}
	st, err := c.State(ctx, base)
	if err != nil && !errors.Is(err, ErrNoState) {
		return nil, nil, err
	}
	next := cur.Clone()
	if err := modify(next); err != nil {
		return nil, nil, err
	}
	next.Version = cur.Version + 1
	var known []provisioning.Device
	if st != nil {
		// Past every version the base has seen: applied, rejected (a
		// report still carrying that rejection would answer the new
		// document) or pending.
		seen := st.Config.AppliedVersion
		if r := st.Config.Rejected; r != nil {
			seen = max(seen, r.Version)
		}
		if p := st.Config.Pending; p != nil {
			seen = max(seen, p.Version)
		}
		next.Version = max(next.Version, seen+1)
		known = append(known, st.Devices...)
	}
	if errs := provisioning.Validate(next, base, known); len(errs) > 0 {
		return nil, nil, fmt.Errorf("%w: %w", ErrNotPublished, &provisioning.ValidationError{Version: next.Version, Errors: errs})
	}
	st, err = c.Push(ctx, next, c.o.OnPending)
	return next, st, err
}

// NewCommandID returns a fresh command id.
func (c *Client) NewCommandID() string {
	c.mu.Lock()
	c.seq++
	n := c.seq
	c.mu.Unlock()
	return fmt.Sprintf("c-%s-%d-%d", c.rand, time.Now().UnixMilli(), n)
}

// Command sends a command with a fresh id and waits for its final result;
// progress, when not nil, sees every result (accepted too). A final status
// other than succeeded is returned as the result with a nil error: the
// caller reads Status and Reason.
func (c *Client) Command(ctx context.Context, base, name string, args any, progress func(provisioning.Result)) (*provisioning.Result, error) {
	return c.CommandID(ctx, base, c.NewCommandID(), name, args, progress)
}

// CommandID is Command with a given id (replays use the same id).
func (c *Client) CommandID(ctx context.Context, base, id, name string, args any, progress func(provisioning.Result)) (*provisioning.Result, error) {
	cmd := provisioning.Command{Schema: provisioning.SchemaVersion, ID: id, Base: base, Name: name}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, fmt.Errorf("cloud: encode %s arguments: %w", name, err)
		}
		cmd.Args = b
	}
	return c.Send(ctx, base, cmd, progress)
}

// Send publishes cmd as it is on base's command topic and waits for the
// final result with cmd.ID. A base whose retained status says offline is
// not sent anything (ErrOffline): commands are not queued for it.
func (c *Client) Send(ctx context.Context, base string, cmd provisioning.Command, progress func(provisioning.Result)) (*provisioning.Result, error) {
	if st, err := c.Status(ctx, base); err == nil && !st.Online {
		return nil, fmt.Errorf("cloud: %s to base %s: %w", cmd.Name, base, ErrOffline)
	}
	payload, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("cloud: encode command: %w", err)
	}
	t := c.topics(base)
	ch, cancel, err := c.subscribe(ctx, t.Results)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if err := c.PublishRaw(ctx, t.Commands, payload, false); err != nil {
		return nil, err
	}
	for {
		select {
		case m := <-ch:
			r, err := provisioning.DecodeResult(m.Payload())
			if err != nil || r.ID != cmd.ID {
				continue
			}
			if progress != nil {
				progress(*r)
			}
			if provisioning.IsFinal(r.Status) {
				return r, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("cloud: %s %s on base %s: no final result: %w", cmd.Name, cmd.ID, base, ctx.Err())
		}
	}
}

// Events delivers the events of base ("+" for every base) to fn until ctx
// ends; undecodable payloads are skipped with a log line.
func (c *Client) Events(ctx context.Context, base string, fn func(provisioning.Event)) error {
	ch, cancel, err := c.subscribe(ctx, c.topics(base).Events)
	if err != nil {
		return err
	}
	defer cancel()
	for {
		select {
		case m := <-ch:
			ev, err := provisioning.DecodeEvent(m.Payload())
			if err != nil {
				c.log.Warn("cloud: undecodable event", "topic", m.Topic(), "err", err)
				continue
			}
			fn(*ev)
		case <-ctx.Done():
			return nil
		}
	}
}
