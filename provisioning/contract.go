package provisioning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// TopicPrefix is the default root of the contract's topic tree. Every
// base has its own subtree <root>/<base-id>/ (docs/mqtt-api.md §2); a
// deployment may choose another root (Options.TopicRoot, the daemon's
// mqtt.topic_root).
const TopicPrefix = "bs/v1"

// Topics are the topics of one base.
type Topics struct {
	Root     string // the topic root (TopicPrefix by default)
	Base     string // the base id
	Desired  string // cloud → base, retained, QoS 1: the desired Config
	State    string // base → cloud, retained, QoS 1: the reported State
	Status   string // base → cloud, retained, QoS 1: birth / last will (Status)
	Commands string // cloud → base, QoS 1: Command
	Results  string // base → cloud, QoS 1: Result
	Events   string // base → cloud, QoS 1: Event
}

// TopicsFor returns the topics of base under the default root.
func TopicsFor(base string) Topics { return TopicsUnder(TopicPrefix, base) }

// TopicsUnder returns the topics of base under root ("" means
// TopicPrefix).
func TopicsUnder(root, base string) Topics {
	if root == "" {
		root = TopicPrefix
	}
	p := root + "/" + base + "/"
	return Topics{
		Root:     root,
		Base:     base,
		Desired:  p + "config/desired",
		State:    p + "state",
		Status:   p + "status",
		Commands: p + "commands",
		Results:  p + "results",
		Events:   p + "events",
	}
}

// CheckTopicRoot reports what is wrong with a topic root: it must be 1-128
// bytes of UTF-8 without the MQTT wildcards '+' and '#', NUL, or an empty
// level (no leading, trailing or double '/').
func CheckTopicRoot(root string) error {
	switch {
	case root == "" || len(root) > 128:
		return fmt.Errorf("topic root %q must be 1-128 bytes", root)
	case !utf8.ValidString(root) || strings.ContainsAny(root, "+#\x00"):
		return fmt.Errorf("topic root %q must be UTF-8 without MQTT wildcards '+', '#' or NUL", root)
	case strings.HasPrefix(root, "/") || strings.HasSuffix(root, "/") || strings.Contains(root, "//"):
		return fmt.Errorf("topic root %q must not start or end with '/' or have an empty level", root)
	}
	return nil
}

// ParseTopic splits a contract topic under the default root into its base
// id and the rest ("config/desired", "commands", ...). ok is false for
// topics outside the tree.
func ParseTopic(topic string) (base, leaf string, ok bool) {
	return ParseTopicUnder(TopicPrefix, topic)
}

// ParseTopicUnder is ParseTopic for the tree under root ("" means
// TopicPrefix).
func ParseTopicUnder(root, topic string) (base, leaf string, ok bool) {
	if root == "" {
		root = TopicPrefix
	}
	rest, found := strings.CutPrefix(topic, root+"/")
	if !found {
		return "", "", false
	}
	base, leaf, found = strings.Cut(rest, "/")
	if !found || !ValidBaseID(base) || leaf == "" {
		return "", "", false
	}
	return base, leaf, true
}

// BaseIDRule is the base-id rule in words, for error messages and docs
// (docs/mqtt-api.md §2).
const BaseIDRule = "1-64 characters of a-z, 0-9 and '-', starting with a letter or digit"

// CheckBaseID is the one base-id rule of the project (the daemon's
// configuration, the agent, the contract's payloads and topics, bsctl):
// 1..64 characters of lower-case letters, digits and '-', starting with a
// letter or digit (so it never holds MQTT wildcards or a '/'). The error
// quotes the id and states the rule.
func CheckBaseID(id string) error {
	ok := len(id) > 0 && len(id) <= 64 && id[0] != '-'
	for i := 0; ok && i < len(id); i++ {
		ch := id[i]
		ok = ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-'
	}
	if !ok {
		return fmt.Errorf("base id %q is not %s", id, BaseIDRule)
	}
	return nil
}

// ValidBaseID reports whether id can name a base (CheckBaseID).
func ValidBaseID(id string) bool { return CheckBaseID(id) == nil }

// Device is a device the base knows: its phone port or a paired DECT device.
type Device struct {
	ID   string     `json:"id"`
	Type DeviceType `json:"type"`
	// Name is a human label (model, firmware), informative only.
	Name string `json:"name,omitempty"`
	// Extension is the number of the extension the device is assigned to in
	// the applied configuration (reports only).
	Extension string `json:"extension,omitempty"`
	// Radio is a DECT device's radio health (reports only; issue 16 §4).
	Radio *RadioHealth `json:"radio,omitempty"`
}

// RadioHealth is what the base knows of a paired DECT device's link.
type RadioHealth struct {
	// Link is "in-range", "out-of-range", "switched-off", "detached" (left;
	// the module did not say why) or "unknown" (not heard of since start).
	Link string `json:"link"`
	// RSSIdBm is the signal received at the base; omitted when not measured.
	RSSIdBm int `json:"rssi_dbm,omitempty"`
	// LinkQualityPct is the share of frames received intact; -1 unknown.
	LinkQualityPct int `json:"link_quality_pct"`
	// BatteryPct is the battery charge; -1: no battery or not reported.
	BatteryPct int        `json:"battery_pct"`
	Firmware   string     `json:"firmware,omitempty"`
	LastSeen   *time.Time `json:"last_seen,omitempty"`
}

// CallSummary is a finished call (call-ended events).
type CallSummary struct {
	Direction string `json:"direction"` // "in" or "out"
	// Result: "answered", "no-answer", "busy", "rejected", "cancelled",
	// "failed" (with the event's Reason).
	Result    string  `json:"result"`
	Peer      string  `json:"peer,omitempty"` // the other party's number
	DurationS float64 `json:"duration_s"`     // talk time; 0 when not answered
}

// Status is the birth message and last will on Topics.Status.
type Status struct {
	Schema   int    `json:"schema"`
	Base     string `json:"base"`
	Online   bool   `json:"online"`
	Session  string `json:"session"`
	Firmware string `json:"firmware,omitempty"`
	// Time is set on birth; the will is composed at connect time and has
	// none (the broker sends it later).
	Time *time.Time `json:"time,omitempty"`
}

// Command names (docs/mqtt-api.md §5).
const (
	CmdRegisterDevice    = "register-device"
	CmdCloseRegistration = "close-registration"
	CmdRemoveDevice      = "remove-device"
	CmdPage              = "page"
	CmdResync            = "resync"
	CmdReboot            = "reboot"
)

// Command is a request from the cloud on Topics.Commands.
type Command struct {
	Schema int    `json:"schema"`
	ID     string `json:"id"`
	Base   string `json:"base"`
	Name   string `json:"name"`
	// Args depend on Name; see the *Args types.
	Args json.RawMessage `json:"args,omitempty"`
	// ExpiresAt, when set, is the moment after which the base must not run
	// the command (it then reports timed-out).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// RegisterDeviceArgs are the arguments of register-device.
type RegisterDeviceArgs struct {
	// WindowS is how long registration mode stays open, in seconds
	// (10..120); 0 means the configured default.
	WindowS int `json:"window_s,omitempty"`
	// PIN is the 4-digit DECT authentication code the device must present;
	// empty means "0000".
	PIN string `json:"pin,omitempty"`
}

// RemoveDeviceArgs are the arguments of remove-device.
type RemoveDeviceArgs struct {
	Device string `json:"device"`
}

// PageArgs are the arguments of page (ring every DECT device to find it).
type PageArgs struct {
	// DurationS is how long to page, 1..60 seconds; 0 means 30.
	DurationS int `json:"duration_s,omitempty"`
}

// Result statuses. accepted is intermediate; the others are final.
const (
	StatusAccepted  = "accepted"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusTimedOut  = "timed-out"
	StatusRejected  = "rejected"
)

// IsFinal reports whether a result status ends the command.
func IsFinal(status string) bool {
	switch status {
	case StatusSucceeded, StatusFailed, StatusTimedOut, StatusRejected:
		return true
	}
	return false
}

// Result is the base's answer to a command on Topics.Results.
type Result struct {
	Schema int       `json:"schema"`
	ID     string    `json:"id"`
	Base   string    `json:"base"`
	Name   string    `json:"name,omitempty"`
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"time"`
	// Duplicate is set when the command id had been seen before: the
	// result is the one recorded then, and nothing ran again.
	Duplicate bool `json:"duplicate,omitempty"`
	// Device is the paired device (register-device) or the removed one
	// (remove-device).
	Device *Device `json:"device,omitempty"`
	// ClosesAt is when the registration window closes (register-device,
	// accepted).
	ClosesAt *time.Time `json:"closes_at,omitempty"`
	// Unassigned lists the extensions a removed device was taken from.
	Unassigned []string `json:"unassigned,omitempty"`
	// Events are the event-log command's events, newest first.
	Events []Event `json:"events,omitempty"`
	// Detail explains a rejected or failed diagnostic (§5.5).
	Detail string `json:"detail,omitempty"`
	// LineTest and SelfTest are the line-test and callerid-self-test
	// results (§5.5), as the port reports them.
	LineTest json.RawMessage `json:"line_test,omitempty"`
	SelfTest json.RawMessage `json:"self_test,omitempty"`
}

// Event types (docs/mqtt-api.md §6).
const (
	EvDevicePaired      = "device-paired"
	EvDeviceRemoved     = "device-removed"
	EvRegistrationState = "registration-state"
	EvLineFault         = "line-fault"
	EvCallQuality       = "call-quality"
	EvRegistrationMode  = "registration-mode"
	EvConfigApplied     = "config-applied"
	EvConfigRejected    = "config-rejected"
	EvConfigPending     = "config-pending"
	EvError             = "error"
	// Radio health (issue 16 §4): a paired device left radio contact
	// (Reason "out-of-range", "switched-off" or "detached") or came back.
	EvDeviceOutOfRange  = "device-out-of-range"
	EvDeviceBackInRange = "device-back-in-range"
	// EvCallEnded: a call on a device of the base ended (Call set).
	EvCallEnded = "call-ended"
	// EvSelfTest: the caller-ID self-test ran by itself (after a firmware
	// update); Reason says after what and its verdict.
	EvSelfTest = "callerid-self-test"
)

// knownEventType: t is an event type of the contract (or the log's restart).
func knownEventType(t string) bool {
	switch t {
	case EvDevicePaired, EvDeviceRemoved, EvRegistrationState, EvLineFault, EvCallQuality,
		EvRegistrationMode, EvConfigApplied, EvConfigRejected, EvConfigPending, EvError,
		EvDeviceOutOfRange, EvDeviceBackInRange, EvCallEnded, EvCallQualityAlert, EvSelfTest, EvRestart:
		return true
	}
	return false
}

// Event is something that happened on the base, on Topics.Events.
type Event struct {
	Schema int       `json:"schema"`
	Base   string    `json:"base"`
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Type   string    `json:"type"`

	Device    *Device `json:"device,omitempty"`    // device-paired, device-removed, line-fault
	Extension string  `json:"extension,omitempty"` // registration-state, line-fault, call-quality(-alert)
	// State is the registration state (registration-state) or "open" /
	// "closed" (registration-mode).
	State   string        `json:"state,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	Fault   string        `json:"fault,omitempty"`   // line-fault
	Quality *CallQuality  `json:"quality,omitempty"` // call-quality
	Alert   *QualityAlert `json:"alert,omitempty"`   // call-quality-alert
	Version uint64        `json:"version,omitempty"` // config-*
	Errors  []FieldError  `json:"errors,omitempty"`  // config-rejected
	Waiting []string      `json:"waiting_for,omitempty"`
	Topic   string        `json:"topic,omitempty"` // error: the offending topic
	Call    *CallSummary  `json:"call,omitempty"`  // call-ended
}

// CallQuality is a call-quality report: Report "interval" (the figures
// of the last call_quality.interval_s) or "end" (the whole call). The
// RFC 6035 figures are in Metrics; Remote are the far end's, from its
// RTCP XR, when it sends them (end report).
type CallQuality struct {
	CallID      string          `json:"call_id,omitempty"`
	Report      string          `json:"report,omitempty"` // interval, end (absent: end)
	Codec       string          `json:"codec,omitempty"`  // PCMU, PCMA, G722
	DurationS   float64         `json:"duration_s"`       // of the period reported
	PacketsRx   uint64          `json:"packets_rx"`
	PacketsLost uint64          `json:"packets_lost"`
	LossPct     float64         `json:"loss_pct"`
	JitterMs    float64         `json:"jitter_ms"`
	RTTMs       float64         `json:"rtt_ms,omitempty"`
	MOS         float64         `json:"mos,omitempty"`
	Metrics     *QualityMetrics `json:"metrics,omitempty"`
	Remote      *QualityMetrics `json:"remote,omitempty"`
}

// Registration states of an extension's SIP account.
const (
	RegRegistered   = "registered"
	RegRegistering  = "registering"
	RegFailed       = "failed"
	RegUnregistered = "unregistered"
)

// Registration is the SIP registration state of one extension.
type Registration struct {
	Extension string     `json:"extension"`
	State     string     `json:"state"`
	Registrar string     `json:"registrar,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Line states.
const (
	LineIdle    = "idle"
	LineRinging = "ringing"
	LineDialing = "dialing"
	LineTalking = "talking"
	LineFault   = "fault"
)

// Line is the call state of one device.
type Line struct {
	Device    string `json:"device"`
	Extension string `json:"extension,omitempty"`
	State     string `json:"state"`
	Fault     string `json:"fault,omitempty"`
}

// Busy reports whether a call is up or being set up on the line.
func (l Line) Busy() bool {
	return l.State == LineRinging || l.State == LineDialing || l.State == LineTalking
}

// State is the reported state on Topics.State.
type State struct {
	Schema           int              `json:"schema"`
	Base             string           `json:"base"`
	Time             time.Time        `json:"time"`
	Firmware         string           `json:"firmware,omitempty"`
	UptimeS          int64            `json:"uptime_s"`
	Config           ConfigState      `json:"config"`
	Devices          []Device         `json:"devices"`
	Registrations    []Registration   `json:"registrations"`
	Lines            []Line           `json:"lines"`
	RegistrationMode RegistrationMode `json:"registration_mode"`
}

// ConfigState is the configuration part of the reported state.
type ConfigState struct {
	// AppliedVersion is the version in force; 0 means none yet.
	AppliedVersion uint64     `json:"applied_version"`
	AppliedAt      *time.Time `json:"applied_at,omitempty"`
	// Pending is a valid version waiting for busy lines to go idle.
	Pending *Pending `json:"pending,omitempty"`
	// Rejected is the last version refused, with every error.
	Rejected *Rejected `json:"rejected,omitempty"`
}

// Pending is a deferred configuration.
type Pending struct {
	Version    uint64   `json:"version"`
	WaitingFor []string `json:"waiting_for"` // extensions with a live call
	Reason     string   `json:"reason"`
}

// Rejected is a refused configuration.
type Rejected struct {
	Version uint64       `json:"version"`
	Errors  []FieldError `json:"errors"`
	Time    time.Time    `json:"time"`
}

// RegistrationMode tells whether the radio accepts new devices.
type RegistrationMode struct {
	Open     bool       `json:"open"`
	ClosesAt *time.Time `json:"closes_at,omitempty"`
	Command  string     `json:"command,omitempty"` // the register-device command id
}

// DecodeCommand parses a command payload (strictly: unknown fields refused).
// It checks the envelope only; the arguments are checked by
// DecodeRegisterDeviceArgs and friends.
func DecodeCommand(b []byte) (*Command, error) {
	var c Command
	if err := decodeStrict(b, &c); err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	if c.Schema != SchemaVersion {
		return &c, fmt.Errorf("command: schema: unsupported schema version %d (want %d)", c.Schema, SchemaVersion)
	}
	if !validCommandID(c.ID) {
		return &c, fmt.Errorf("command: id: %q is not a command id (1 to 64 characters of letters, digits, '-', '_', '.', ':')", c.ID)
	}
	if c.Name == "" {
		return &c, errors.New("command: name: is required")
	}
	return &c, nil
}

func validCommandID(id string) bool { return isDeviceID(id) }

// DecodeRegisterDeviceArgs parses and checks register-device arguments.
func DecodeRegisterDeviceArgs(raw json.RawMessage) (RegisterDeviceArgs, error) {
	var a RegisterDeviceArgs
	if err := decodeArgs(raw, &a); err != nil {
		return a, err
	}
	if a.WindowS != 0 && (a.WindowS < 10 || a.WindowS > MaxRegistrationWindowS) {
		return a, fmt.Errorf("args.window_s: %d is out of range (10 to %d)", a.WindowS, MaxRegistrationWindowS)
	}
	if a.PIN != "" && !isDigits(a.PIN, 4, 4) {
		return a, fmt.Errorf("args.pin: %q is not a 4-digit PIN", a.PIN)
	}
	return a, nil
}

// DecodeRemoveDeviceArgs parses and checks remove-device arguments.
func DecodeRemoveDeviceArgs(raw json.RawMessage) (RemoveDeviceArgs, error) {
	var a RemoveDeviceArgs
	if err := decodeArgs(raw, &a); err != nil {
		return a, err
	}
	if !isDeviceID(a.Device) {
		return a, fmt.Errorf("args.device: %q is not a device id", a.Device)
	}
	return a, nil
}

// DecodePageArgs parses and checks page arguments.
func DecodePageArgs(raw json.RawMessage) (PageArgs, error) {
	var a PageArgs
	if err := decodeArgs(raw, &a); err != nil {
		return a, err
	}
	if a.DurationS != 0 && (a.DurationS < 1 || a.DurationS > 60) {
		return a, fmt.Errorf("args.duration_s: %d is out of range (1 to 60)", a.DurationS)
	}
	return a, nil
}

// decodeNoArgs accepts absent, null or {} arguments.
func decodeNoArgs(raw json.RawMessage) error {
	var a struct{}
	return decodeArgs(raw, &a)
}

func decodeArgs(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	if err := decodeStrict(raw, v); err != nil {
		return fmt.Errorf("args: %w", err)
	}
	return nil
}

// decodeLenient decodes a base → cloud payload: unknown fields are allowed
// (a newer base may add some), duplicate keys are not, the schema version
// must match.
func decodeLenient(what string, b []byte, v any, schema *int) error {
	if len(b) > MaxPayload {
		return fmt.Errorf("%s: payload of %d bytes exceeds the %d-byte limit", what, len(b), MaxPayload)
	}
	if err := DecodeNoDuplicates(b, v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if *schema != SchemaVersion {
		return fmt.Errorf("%s: schema: unsupported schema version %d (want %d)", what, *schema, SchemaVersion)
	}
	return nil
}

// DecodeResult parses a command result.
func DecodeResult(b []byte) (*Result, error) {
	var r Result
	if err := decodeLenient("result", b, &r, &r.Schema); err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, errors.New("result: id: is required")
	}
	switch r.Status {
	case StatusAccepted, StatusSucceeded, StatusFailed, StatusTimedOut, StatusRejected:
	default:
		return nil, fmt.Errorf("result: status: unknown status %q", r.Status)
	}
	return &r, nil
}

// DecodeEvent parses an event.
func DecodeEvent(b []byte) (*Event, error) {
	var e Event
	if err := decodeLenient("event", b, &e, &e.Schema); err != nil {
		return nil, err
	}
	if e.Type == "" {
		return nil, errors.New("event: type: is required")
	}
	return &e, nil
}

// DecodeState parses a reported state.
func DecodeState(b []byte) (*State, error) {
	var s State
	if err := decodeLenient("state", b, &s, &s.Schema); err != nil {
		return nil, err
	}
	if !ValidBaseID(s.Base) {
		return nil, fmt.Errorf("state: base: %q is not a base id", s.Base)
	}
	return &s, nil
}

// DecodeStatus parses a birth message or last will.
func DecodeStatus(b []byte) (*Status, error) {
	var s Status
	if err := decodeLenient("status", b, &s, &s.Schema); err != nil {
		return nil, err
	}
	if !ValidBaseID(s.Base) {
		return nil, fmt.Errorf("status: base: %q is not a base id", s.Base)
	}
	return &s, nil
}
