package provisioning

import "errors"

// Sentinel errors. Wrapped errors name the operation; branch with errors.Is.
var (
	// ErrRegistrationTimeout is delivered by a Radio when the registration
	// window closed without a device pairing.
	ErrRegistrationTimeout = errors.New("registration window elapsed without a device pairing")
	// ErrRegistrationClosed is delivered by a Radio when registration mode
	// was closed (close-registration, the base's button) before a pairing.
	ErrRegistrationClosed = errors.New("registration mode closed before a device paired")
	// ErrRegistrationBusy is returned by a Radio asked to open registration
	// mode while it is already open.
	ErrRegistrationBusy = errors.New("registration mode already open")
	// ErrUnknownDevice is returned by a Radio asked to remove a device it
	// does not know.
	ErrUnknownDevice = errors.New("unknown device")
	// ErrNoConfig is returned by Store.Load when no configuration was ever
	// saved.
	ErrNoConfig = errors.New("no stored configuration")
	// ErrCorrupt marks a stored file that failed its checksum or could not
	// be decoded.
	ErrCorrupt = errors.New("stored file is corrupt")
	// ErrLineBusy is returned by a LineTester when the port is in use.
	ErrLineBusy = errors.New("line busy")
	// ErrUnsupported is returned by a LineTester whose SLIC cannot test.
	ErrUnsupported = errors.New("not supported by this base")
)
