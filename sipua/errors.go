package sipua

import (
	"errors"
	"fmt"
)

// Errors that the user agent returns, wrapped with %w and the detail (which
// extension, which request, which status): test them with errors.Is. A
// failure the far end answered with a status code is a *StatusError, which
// also matches ErrRejected and, by its code, ErrForbidden or ErrBusy.
var (
	// ErrInvalidConfig: New or SetConfig was given a configuration that
	// Config.Validate refuses; the wrapped error names each bad field.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrNoSuchExtension: Attach named an extension the configuration does
	// not hold.
	ErrNoSuchExtension = errors.New("no such extension")
	// ErrAlreadyAttached: Attach was given an endpoint attached already.
	ErrAlreadyAttached = errors.New("endpoint already attached")
	// ErrNotAttached: Detach was given an endpoint that is not attached.
	ErrNotAttached = errors.New("endpoint not attached")
	// ErrNotRegistered: the request needs a registration (a call, a
	// subscription) and the extension has none in force.
	ErrNotRegistered = errors.New("not registered")
	// ErrTimeout: a request got no final response in time.
	ErrTimeout = errors.New("timeout")
	// ErrUnreachable: the registrar's UDP port answered ICMP port
	// unreachable (no server listens there).
	ErrUnreachable = errors.New("port unreachable")
	// ErrBadChallenge: a 401/407 carried no digest challenge the user agent
	// can answer (missing, malformed, or an unsupported algorithm or qop).
	ErrBadChallenge = errors.New("unusable digest challenge")
	// ErrNoMedia: a re-INVITE was asked of a call without a media session.
	ErrNoMedia = errors.New("no media")
	// ErrGlare: re-INVITEs kept colliding with the far end's (491) after
	// the retries RFC 3261 §14.1 allows.
	ErrGlare = errors.New("glare persisted")
	// ErrRejected: the far end answered with a final failure status; the
	// error is a *StatusError.
	ErrRejected = errors.New("rejected")
	// ErrForbidden: the far end answered 403 or 603 (a *StatusError).
	ErrForbidden = errors.New("forbidden")
	// ErrBusy: the far end answered 486 or 600 (a *StatusError).
	ErrBusy = errors.New("busy")
)

// StatusError is a request the far end answered with a final failure
// status.
type StatusError struct {
	Method string // the request: "SUBSCRIBE", "re-INVITE", ...
	Code   int
	Reason string
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s: %d %s", e.Method, e.Code, e.Reason) }

// Is matches ErrRejected, and ErrForbidden or ErrBusy by the status code.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrRejected:
		return true
	case ErrForbidden:
		return e.Code == 403 || e.Code == 603
	case ErrBusy:
		return e.Code == 486 || e.Code == 600
	}
	return false
}
