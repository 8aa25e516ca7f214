package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"basestation/internal/atomicfile"
)

// Job states and rejection reasons (the same words as provisioning's
// contract; internal/daemon maps them one to one).
const (
	Queued         = "queued"
	Downloading    = "downloading"
	Verifying      = "verifying"
	WaitingForIdle = "waiting-for-idle"
	Installing     = "installing"
	Rebooting      = "rebooting"
	CheckingHealth = "checking-health"
	Succeeded      = "succeeded"
	Failed         = "failed"
	RolledBack     = "rolled-back"
	Rejected       = "rejected"

	ReasonDowngrade    = "downgrade"
	ReasonBadSignature = "bad-signature"
	ReasonIncompatible = "incompatible-board"
	ReasonNoSpace      = "no-space"
	ReasonBusy         = "busy"
)

// Final tells whether a state is final.
func Final(s string) bool {
	return s == Succeeded || s == Failed || s == RolledBack || s == Rejected
}

func knownState(s string) bool {
	switch s {
	case Queued, Downloading, Verifying, WaitingForIdle, Installing, Rebooting, CheckingHealth:
		return true
	}
	return Final(s)
}

// Request is a firmware-update command, already checked by provisioning.
type Request struct {
	ID             string `json:"id"`
	URL            string `json:"url"`
	Version        string `json:"version"`
	Size           int64  `json:"size"`
	SHA256         string `json:"sha256"`
	AllowDowngrade bool   `json:"allow_downgrade,omitempty"`
}

// Job is a request and where it stands.
type Job struct {
	Request
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	// FromSlot and TargetSlot are the bootnames of the slot that ran when
	// installation started and of the slot it installed into.
	FromSlot   string    `json:"from_slot,omitempty"`
	TargetSlot string    `json:"target_slot,omitempty"`
	Updated    time.Time `json:"updated"`
	// Duplicate is set on the answer to a re-sent job id (never stored).
	Duplicate bool `json:"duplicate,omitempty"`
}

// jobsFile is the persisted state: the job in progress and the last
// finished ones (so a re-sent id is answered, not run again).
type jobsFile struct {
	Current *Job  `json:"current"`
	Done    []Job `json:"done"`
}

const (
	jobsName = "update-jobs.json"
	maxDone  = 64
	maxJobs  = 1 << 20
)

// decodeJobs parses and checks a persisted jobs file.
func decodeJobs(b []byte) (*jobsFile, error) {
	if len(b) > maxJobs {
		return nil, fmt.Errorf("jobs file: %d bytes exceeds %d", len(b), maxJobs)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f jobsFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("jobs file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("jobs file: trailing data")
	}
	if f.Current != nil {
		if err := checkJob(f.Current); err != nil {
			return nil, fmt.Errorf("jobs file: current: %w", err)
		}
		if Final(f.Current.State) {
			return nil, fmt.Errorf("jobs file: current: state %q is final", f.Current.State)
		}
	}
	if len(f.Done) > maxDone {
		return nil, fmt.Errorf("jobs file: %d finished jobs exceeds %d", len(f.Done), maxDone)
	}
	for i := range f.Done {
		if err := checkJob(&f.Done[i]); err != nil {
			return nil, fmt.Errorf("jobs file: done[%d]: %w", i, err)
		}
		if !Final(f.Done[i].State) {
			return nil, fmt.Errorf("jobs file: done[%d]: state %q is not final", i, f.Done[i].State)
		}
	}
	return &f, nil
}

func checkJob(j *Job) error {
	if j.ID == "" || len(j.ID) > 64 {
		return fmt.Errorf("id: %q is not a job id", j.ID)
	}
	if !knownState(j.State) {
		return fmt.Errorf("state: unknown state %q", j.State)
	}
	if j.Size <= 0 || j.Bytes < 0 || j.Bytes > j.Size {
		return fmt.Errorf("bytes: %d of %d is not a progress", j.Bytes, j.Size)
	}
	if _, err := parseVersion(j.Version); err != nil {
		return fmt.Errorf("version: %w", err)
	}
	return nil
}

// store persists the jobs file in dir (outside the slots).
type store struct{ dir string }

func (s store) load() (*jobsFile, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, jobsName))
	if errors.Is(err, os.ErrNotExist) {
		return &jobsFile{}, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeJobs(b)
}

func (s store) save(f *jobsFile) error {
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.dir, jobsName, b, 0o600, nil)
}

// parseVersion parses 1 to 4 dot-separated decimal numbers.
func parseVersion(v string) ([]int, error) {
	parts := strings.Split(v, ".")
	if v == "" || len(parts) > 4 {
		return nil, fmt.Errorf("%q is not a version", v)
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		if p == "" || len(p) > 6 || strings.TrimLeft(p, "0123456789") != "" {
			return nil, fmt.Errorf("%q is not a version", v)
		}
		out[i], _ = strconv.Atoi(p)
	}
	return out, nil
}

// compareVersions returns -1, 0 or 1 (missing parts count as 0).
func compareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
