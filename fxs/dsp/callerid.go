package dsp

import (
	"time"
)

// Message types and MDMF parameter codes (Telcordia GR-30; reference
// telephony.md §5.3).
const (
	MsgSDMFCallerID   = 0x04 // SDMF caller ID
	MsgSDMFMsgWaiting = 0x06 // SDMF VMWI
	MsgMDMFCallerID   = 0x80 // MDMF caller ID
	MsgMDMFMsgWaiting = 0x82 // MDMF VMWI

	ParamDateTime     = 0x01 // 8 ASCII digits MMDDHHMM
	ParamNumber       = 0x02 // calling number, ASCII digits
	ParamNumberAbsent = 0x04 // reason for absence of number: 'O' or 'P'
	ParamName         = 0x07 // calling name, printable ASCII
	ParamNameAbsent   = 0x08 // reason for absence of name: 'O' or 'P'
	ParamVisualInd    = 0x0B // VMWI: 0xFF on, 0x00 off
)

// Field limits. GR-30 leaves the number length to the network; NANP numbers
// are 10 digits and international ones up to 15 after a 1-3 digit prefix.
// Calling names (CNAM) are at most 15 characters.
const (
	MaxNumberLen = 18
	MaxNameLen   = 15
)

// Absence is why a number or name is not delivered.
type Absence byte

const (
	NotAbsent   Absence = 0   // the field is present (or simply omitted)
	Private     Absence = 'P' // withheld by the caller
	Unavailable Absence = 'O' // out of area / unavailable
)

// CallerID is the content of a caller-ID message.
type CallerID struct {
	// Time is sent as month, day, hour and minute of its own location.
	// Zero: no date/time parameter (MDMF only; SDMF requires it).
	Time time.Time
	// Number is the calling number, 1 to MaxNumberLen ASCII digits; or
	// empty with NumberAbsent giving the reason (or with neither, for MDMF,
	// no number parameter at all).
	Number       string
	NumberAbsent Absence
	// Name is the calling name, 1 to MaxNameLen printable ASCII characters
	// (0x20-0x7E); or empty with NameAbsent giving the reason. MDMF only.
	Name       string
	NameAbsent Absence
}

// MDMF returns the complete MDMF caller-ID message (type 0x80, length,
// parameters in the order date/time, number or its absence, name or its
// absence, then the checksum), or an error naming the field that cannot be
// sent.
func (c *CallerID) MDMF() ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	body := make([]byte, 0, 64)
	if !c.Time.IsZero() {
		body = append(append(body, ParamDateTime, 8), c.dateTime()...)
	}
	switch {
	case c.Number != "":
		body = append(append(body, ParamNumber, byte(len(c.Number))), c.Number...)
	case c.NumberAbsent != NotAbsent:
		body = append(body, ParamNumberAbsent, 1, byte(c.NumberAbsent))
	}
	switch {
	case c.Name != "":
		body = append(append(body, ParamName, byte(len(c.Name))), c.Name...)
	case c.NameAbsent != NotAbsent:
		body = append(body, ParamNameAbsent, 1, byte(c.NameAbsent))
	}
	if len(body) == 0 {
		return nil, fmtErr(ErrCallerID, "MDMF message with no parameter (set Time, Number or NumberAbsent, Name or NameAbsent)")
	}
	return frame(MsgMDMFCallerID, body), nil
}

// SDMF returns the complete SDMF caller-ID message (type 0x04): MMDDHHMM
// then the number, or 'O'/'P' when it is absent. SDMF carries no name.
func (c *CallerID) SDMF() ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Time.IsZero() {
		return nil, fmtErr(ErrCallerID, "SDMF requires the date and time")
	}
	if c.Name != "" || c.NameAbsent != NotAbsent {
		return nil, fmtErr(ErrCallerID, "SDMF cannot carry a name (use MDMF)")
	}
	body := append(make([]byte, 0, 8+MaxNumberLen), c.dateTime()...)
	switch {
	case c.Number != "":
		body = append(body, c.Number...)
	case c.NumberAbsent != NotAbsent:
		body = append(body, byte(c.NumberAbsent))
	default:
		return nil, fmtErr(ErrCallerID, "SDMF requires a number or the reason for its absence")
	}
	return frame(MsgSDMFCallerID, body), nil
}

func (c *CallerID) validate() error {
	if c.Number != "" && c.NumberAbsent != NotAbsent {
		return fmtErr(ErrCallerID, "number %q given together with absence reason %q", c.Number, byte(c.NumberAbsent))
	}
	if c.Name != "" && c.NameAbsent != NotAbsent {
		return fmtErr(ErrCallerID, "name %q given together with absence reason %q", c.Name, byte(c.NameAbsent))
	}
	if err := checkAbsence("number", c.NumberAbsent); err != nil {
		return err
	}
	if err := checkAbsence("name", c.NameAbsent); err != nil {
		return err
	}
	if len(c.Number) > MaxNumberLen {
		return fmtErr(ErrCallerID, "number %q is %d digits long (max %d)", c.Number, len(c.Number), MaxNumberLen)
	}
	for i := 0; i < len(c.Number); i++ {
		if b := c.Number[i]; b < '0' || b > '9' {
			return fmtErr(ErrCallerID, "number %q: character %q at %d is not a digit", c.Number, b, i)
		}
	}
	if len(c.Name) > MaxNameLen {
		return fmtErr(ErrCallerID, "name %q is %d bytes long (max %d)", c.Name, len(c.Name), MaxNameLen)
	}
	for i := 0; i < len(c.Name); i++ {
		if b := c.Name[i]; b < 0x20 || b > 0x7E {
			return fmtErr(ErrCallerID, "name %q: byte 0x%02X at %d is not printable ASCII", c.Name, b, i)
		}
	}
	return nil
}

func checkAbsence(what string, a Absence) error {
	switch a {
	case NotAbsent, Private, Unavailable:
		return nil
	}
	return fmtErr(ErrCallerID, "%s absence reason %q (want 'P' private or 'O' unavailable)", what, byte(a))
}

func (c *CallerID) dateTime() []byte {
	t := c.Time
	b := make([]byte, 0, 8)
	for _, v := range [4]int{int(t.Month()), t.Day(), t.Hour(), t.Minute()} {
		b = append(b, byte('0'+v/10), byte('0'+v%10))
	}
	return b
}

// VMWI returns the MDMF message-waiting message: type 0x82 with the visual
// indicator parameter 0x0B set to 0xFF (on) or 0x00 (off).
func VMWI(on bool) []byte {
	v := byte(0x00)
	if on {
		v = 0xFF
	}
	return frame(MsgMDMFMsgWaiting, []byte{ParamVisualInd, 1, v})
}

// VMWISDMF returns the SDMF message-waiting message: type 0x06 with
// 0x42 0x42 0x42 (on) or 0x6F 0x6F 0x6F (off).
func VMWISDMF(on bool) []byte {
	v := byte(0x6F)
	if on {
		v = 0x42
	}
	return frame(MsgSDMFMsgWaiting, []byte{v, v, v})
}

// frame wraps body as type, length, body, checksum (two's complement of the
// sum of all preceding bytes, so the receiver's sum including it is 0).
func frame(typ byte, body []byte) []byte {
	m := make([]byte, 0, len(body)+3)
	m = append(append(m, typ, byte(len(body))), body...)
	return append(m, Checksum(m))
}

// Checksum returns the caller-ID checksum of msg (all bytes before the
// checksum).
func Checksum(msg []byte) byte {
	var s byte
	for _, b := range msg {
		s += b
	}
	return -s
}
