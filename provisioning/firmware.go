package provisioning

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// CmdFirmwareUpdate starts a firmware update job (docs/mqtt-api.md §5.4).
const CmdFirmwareUpdate = "firmware-update"

// FirmwareUpdateArgs are the arguments of firmware-update.
type FirmwareUpdateArgs struct {
	// URL is the bundle's https:// address.
	URL string `json:"url"`
	// Version is the bundle's firmware version (dotted numbers, e.g. 1.4.2).
	Version string `json:"version"`
	// Size is the bundle's length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the bundle's digest, 64 lower-case hex digits.
	SHA256 string `json:"sha256"`
	// AllowDowngrade lets a lower version install, when the base's
	// configuration allows downgrades too.
	AllowDowngrade bool `json:"allow_downgrade,omitempty"`
}

// MaxBundleSize bounds firmware-update's size (1 GiB).
const MaxBundleSize = 1 << 30

// DecodeFirmwareUpdateArgs parses and checks firmware-update arguments.
func DecodeFirmwareUpdateArgs(raw json.RawMessage) (FirmwareUpdateArgs, error) {
	var a FirmwareUpdateArgs
	if len(raw) == 0 {
		return a, fmt.Errorf("args: are required (url, version, size, sha256)")
	}
	if err := DecodeStrict(raw, &a); err != nil {
		return a, fmt.Errorf("args: %w", err)
	}
	u, err := url.Parse(a.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || len(a.URL) > 2048 {
		return a, fmt.Errorf("args.url: %q is not an https:// URL", a.URL)
	}
	if _, err := ParseFirmwareVersion(a.Version); err != nil {
		return a, fmt.Errorf("args.version: %w", err)
	}
	if a.Size <= 0 || a.Size > MaxBundleSize {
		return a, fmt.Errorf("args.size: %d is out of range (1 to %d)", a.Size, MaxBundleSize)
	}
	if b, err := hex.DecodeString(a.SHA256); err != nil || len(b) != 32 || strings.ToLower(a.SHA256) != a.SHA256 {
		return a, fmt.Errorf("args.sha256: %q is not 64 lower-case hex digits", a.SHA256)
	}
	return a, nil
}

// ParseFirmwareVersion parses a version of 1 to 4 dot-separated decimal
// numbers (each 0..999999), as firmware-update and the bundle manifest carry it.
func ParseFirmwareVersion(v string) ([]int, error) {
	parts := strings.Split(v, ".")
	if v == "" || len(parts) > 4 {
		return nil, fmt.Errorf("%q is not a version (1 to 4 dot-separated numbers)", v)
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		if !isDigits(p, 1, 6) {
			return nil, fmt.Errorf("%q is not a version (1 to 4 dot-separated numbers)", v)
		}
		for _, c := range p {
			out[i] = out[i]*10 + int(c-'0')
		}
	}
	return out, nil
}

// Firmware job states (docs/mqtt-api.md §5.4).
const (
	JobQueued         = "queued"
	JobDownloading    = "downloading"
	JobVerifying      = "verifying"
	JobWaitingForIdle = "waiting-for-idle"
	JobInstalling     = "installing"
	JobRebooting      = "rebooting"
	JobCheckingHealth = "checking-health"
	JobSucceeded      = "succeeded"
	JobFailed         = "failed"
	JobRolledBack     = "rolled-back"
	JobRejected       = "rejected"
)

// Reasons of a rejected firmware job.
const (
	RejectDowngrade    = "downgrade"
	RejectBadSignature = "bad-signature"
	RejectIncompatible = "incompatible-board"
	RejectNoSpace      = "no-space"
	RejectBusy         = "busy"
)

// JobFinal tells whether a job state is final.
func JobFinal(s string) bool {
	switch s {
	case JobSucceeded, JobFailed, JobRolledBack, JobRejected:
		return true
	}
	return false
}

func jobStateKnown(s string) bool {
	switch s {
	case JobQueued, JobDownloading, JobVerifying, JobWaitingForIdle, JobInstalling,
		JobRebooting, JobCheckingHealth:
		return true
	}
	return JobFinal(s)
}

// FirmwareJob is the firmware-update result's job report, published on the
// results topic at each state change (the Result fields plus these).
type FirmwareJob struct {
	Schema  int       `json:"schema"`
	ID      string    `json:"id"`
	Base    string    `json:"base"`
	Name    string    `json:"name"`
	State   string    `json:"state"`
	Reason  string    `json:"reason,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	Version string    `json:"version"`
	Bytes   int64     `json:"bytes,omitempty"`
	Total   int64     `json:"total,omitempty"`
	Time    time.Time `json:"time"`
	// Duplicate marks a re-sent job id's answer: the job's current report,
	// not a new job.
	Duplicate bool `json:"duplicate,omitempty"`
}

// DecodeFirmwareJob parses a firmware job report (cloud side: unknown
// fields ignored, duplicates refused) and checks its state.
func DecodeFirmwareJob(b []byte) (*FirmwareJob, error) {
	if len(b) > MaxPayload {
		return nil, fmt.Errorf("firmware job: payload of %d bytes exceeds the %d-byte limit", len(b), MaxPayload)
	}
	var j FirmwareJob
	if err := DecodeNoDuplicates(b, &j); err != nil {
		return nil, fmt.Errorf("firmware job: %w", err)
	}
	if j.Schema != SchemaVersion {
		return nil, fmt.Errorf("firmware job: schema: unsupported schema version %d (want %d)", j.Schema, SchemaVersion)
	}
	if j.Name != CmdFirmwareUpdate {
		return nil, fmt.Errorf("firmware job: name: %q is not %q", j.Name, CmdFirmwareUpdate)
	}
	if !jobStateKnown(j.State) {
		return nil, fmt.Errorf("firmware job: state: unknown state %q", j.State)
	}
	if j.State == JobRejected {
		switch j.Reason {
		case RejectDowngrade, RejectBadSignature, RejectIncompatible, RejectNoSpace, RejectBusy:
		default:
			return nil, fmt.Errorf("firmware job: reason: %q is not a rejection reason", j.Reason)
		}
	}
	if j.Bytes < 0 || j.Total < 0 || (j.Total > 0 && j.Bytes > j.Total) {
		return nil, fmt.Errorf("firmware job: bytes: %d of %d is not a progress", j.Bytes, j.Total)
	}
	return &j, nil
}
