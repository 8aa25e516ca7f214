package dect

import "errors"

// Errors callers branch on.
var (
	ErrNotReady         = errors.New("dect: radio module not ready")
	ErrTimeout          = errors.New("dect: timed out")
	ErrTableFull        = errors.New("dect: device table full")
	ErrLockedOut        = errors.New("dect: registration locked out after repeated wrong PINs")
	ErrBadRequest       = errors.New("dect: invalid request")
	ErrUnknownDevice    = errors.New("dect: no such paired device")
	ErrNotAuthenticated = errors.New("dect: device not attached and authenticated")
	ErrBusy             = errors.New("dect: device busy")
	ErrNoCall           = errors.New("dect: device has no call")
	ErrNoAudioSlot      = errors.New("dect: no free audio slot")
	ErrStopped          = errors.New("dect: driver stopped")
)
