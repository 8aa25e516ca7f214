package sipua

import (
	"fmt"
	"strings"
	"time"

	"basestation/sipua/media"
)

// Event is published by the user agent for the cloud and the daemon:
// one of *RegistrationEvent, *MWIEvent, *CallEvent, *QualityEvent,
// *QualityAlertEvent.
type Event interface{ event() }

// RegState is the state of an extension's registration.
type RegState string

const (
	RegUnregistered RegState = "unregistered"
	RegRegistering  RegState = "registering"
	RegRegistered   RegState = "registered"
	RegFailed       RegState = "failed"    // retrying after an error
	RegForbidden    RegState = "forbidden" // 403: long hold-off
)

// RegistrationEvent reports a change of an extension's registration.
type RegistrationEvent struct {
	Extension string
	State     RegState
	Registrar string        // host:port in use
	Expires   time.Duration // granted, when registered
	// ExpiresAt is when the binding lapses at the registrar unless
	// refreshed (registered only). Every successful refresh emits an
	// event with the new ExpiresAt, even when nothing else changed.
	ExpiresAt time.Time
	LastError string        // the last failure, e.g. "403 Forbidden", "timeout"
	RetryIn   time.Duration // when retrying
	Time      time.Time
}

// MWIEvent reports the message-waiting state of an extension (RFC 3842).
type MWIEvent struct {
	Extension string
	Summary   MessageSummary
	Time      time.Time
}

// CallEvent reports call start and end for logs and the cloud.
type CallEvent struct {
	Extension string
	CallID    string
	Direction string // "in" or "out"
	Remote    string // the other party's number or URI
	State     string // "ringing", "connected", "ended", "failed"
	Reason    string // e.g. "487 Request Terminated", "bye", "cancel"
	Endpoint  string // which endpoint has it (fmt %v of the endpoint)
	// Aside is set on an ended call that was held or waiting at its
	// endpoint, not the endpoint's current call: the endpoint is still in
	// its other call and must not be released.
	Aside bool
	// Answered is when the call first connected (zero: never).
	Answered time.Time
	Time     time.Time
}

// TalkTime is how long an ended call was connected, to the second (0
// when it never was).
func (e *CallEvent) TalkTime() time.Duration {
	if e.Answered.IsZero() || e.Time.IsZero() {
		return 0
	}
	return e.Time.Sub(e.Answered).Round(time.Second)
}

// QualityEvent is a call-quality report: every QualityConfig.Interval
// during the call (Report "interval", Metrics of the interval) and when
// it ends (Report "end", Metrics of the whole call, Summary the
// session's counters, Remote the far end's last RTCP XR VoIP Metrics
// about our stream, if it sent any). See quality.go.
type QualityEvent struct {
	Extension string
	CallID    string
	Report    QualityReport
	Metrics   media.Metrics
	Remote    media.RemoteMetrics // end report only
	Summary   QualitySummary      // end report only
	Time      time.Time
}

// Result says how an ended or failed call went: "answered" (it was
// connected), "busy", "no-answer", "rejected" (declined), "cancelled"
// (given up before an answer) or "failed".
func (e *CallEvent) Result() string {
	if e.State == "ended" {
		return "answered"
	}
	r := e.Reason
	switch {
	case strings.HasPrefix(r, "486"), strings.HasPrefix(r, "600"):
		return "busy"
	case r == "no answer", strings.HasPrefix(r, "480"), strings.HasPrefix(r, "408"):
		return "no-answer"
	case strings.HasPrefix(r, "603"), strings.Contains(r, "declined"):
		return "rejected"
	case strings.Contains(r, "cancel"), strings.HasPrefix(r, "487"), strings.HasPrefix(r, "local"):
		return "cancelled"
	}
	return "failed"
}

func (*RegistrationEvent) event() {}
func (*MWIEvent) event()          {}
func (*CallEvent) event()         {}
func (*QualityEvent) event()      {}

func (e *RegistrationEvent) String() string {
	return fmt.Sprintf("registration %s %s via %s err=%q", e.Extension, e.State, e.Registrar, e.LastError)
}
