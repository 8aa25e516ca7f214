package wire

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Append appends the encoded message to dst.
func (m *Msg) Append(dst []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return dst, err
	}
	dst = append(dst, byte(m.Type), m.TID)
	t := m.Type
	if t.IsConfirm() {
		dst = append(dst, byte(m.Status))
		t &^= CnfBit
		if m.Bare {
			return dst, nil
		}
		switch t {
		case THello:
			dst = append(dst, m.ProtoMajor, m.ProtoMinor)
			dst = append(dst, m.RFPI[:]...)
			dst = append(dst, m.Slots, m.Capacity)
			dst = appendStr(dst, m.Firmware)
		case TKeepalive:
			dst = binary.BigEndian.AppendUint32(dst, m.Counter)
		case TPairChall:
			dst = append(dst, m.Res[:]...)
			dst = append(dst, m.RandP[:]...)
		case TAuth:
			dst = append(dst, m.Res[:]...)
		case TDeviceStatus:
			dst = append(dst, m.Link, byte(m.RSSI), m.Quality, m.Battery)
			dst = appendStr(dst, m.Firmware)
		case TDeviceList:
			dst = append(dst, byte(len(m.Devices)))
			for _, e := range m.Devices {
				dst = appendEntry(dst, e)
			}
		}
		return dst, nil
	}
	switch t {
	case THello:
		dst = append(dst, m.ProtoMajor, m.ProtoMinor)
	case TKeepalive:
		dst = binary.BigEndian.AppendUint32(dst, m.Counter)
	case TRegOpen:
		dst = binary.BigEndian.AppendUint16(dst, m.Seconds)
		dst = appendStr(dst, m.PIN)
	case TRegClose, TDeviceList:
	case TPairChall:
		dst = appendIPEI(dst, m.IPEI)
		dst = append(dst, m.RS[:]...)
		dst = append(dst, m.RandF[:]...)
	case TPairAccept:
		dst = appendIPEI(dst, m.IPEI)
		dst = append(dst, m.Handset)
		dst = append(dst, m.Res[:]...)
	case TPairReject:
		dst = appendIPEI(dst, m.IPEI)
		dst = append(dst, m.Reason)
	case TAuth:
		dst = append(dst, m.Handset)
		dst = append(dst, m.RS[:]...)
		dst = append(dst, m.RandF[:]...)
	case TAuthResult:
		dst = append(dst, m.Handset, m.Reason)
	case TDeviceAdd:
		dst = appendEntry(dst, DeviceEntry{Handset: m.Handset, IPEI: m.IPEI, Type: m.DevType, Caps: m.Caps, Model: m.Model})
	case TDeregister:
		dst = append(dst, m.Handset)
		dst = appendIPEI(dst, m.IPEI)
	case TPage:
		dst = append(dst, m.On)
	case TRing:
		dst = append(dst, m.Handset, m.Cadence, m.CLI)
		dst = appendTime(dst, m.Time)
		dst = appendStr(dst, m.Number)
		dst = appendStr(dst, m.Name)
	case TCallProceed, TAudioDisc, TDeviceStatus:
		dst = append(dst, m.Handset)
	case TLocate:
		dst = append(dst, m.Handset, m.On)
	case TLinkInd:
		dst = append(dst, m.Handset, m.Link, byte(m.RSSI), m.Quality, m.Battery)
	case TRelease:
		dst = append(dst, m.Handset, m.Reason)
	case TTone:
		dst = append(dst, m.Handset, m.Tone)
	case TAudioConnect:
		dst = append(dst, m.Handset, m.Slot, m.Rate)
	case TMWI:
		dst = append(dst, m.Handset, m.On, m.Count)
	case TCallWaiting:
		dst = append(dst, m.Handset, m.CLI)
		dst = appendStr(dst, m.Number)
		dst = appendStr(dst, m.Name)
	case TDateTime:
		dst = appendTime(dst, m.Time)
	case TRegClosedInd:
		dst = append(dst, m.Reason)
	case TPairReqInd:
		dst = appendIPEI(dst, m.IPEI)
		dst = append(dst, byte(m.DevType), m.Caps)
		dst = appendStr(dst, m.Model)
	case TAttachInd:
		dst = append(dst, m.Handset)
		dst = appendIPEI(dst, m.IPEI)
	case TDetachInd, TSetupInd, TAlertingInd, TConnectInd:
		dst = append(dst, m.Handset)
	case TReleaseInd:
		dst = append(dst, m.Handset, m.Reason)
	case TKeysInd:
		dst = append(dst, m.Handset)
		dst = appendStr(dst, m.Digits)
	}
	return dst, nil
}

func (m *Msg) validate() error {
	t := m.Type
	if !t.IsRequest() && !t.IsConfirm() && !t.IsIndication() {
		return fmt.Errorf("wire: unknown message type 0x%02x", byte(t))
	}
	if t.IsIndication() && m.TID != 0 {
		return fmt.Errorf("wire: %v: indications carry tid 0, not %d", t, m.TID)
	}
	if !t.IsIndication() && m.TID == 0 {
		return fmt.Errorf("wire: %v: requests and confirmations need a non-zero tid", t)
	}
	if m.Bare && (!t.IsConfirm() || m.Status == StatusOK) {
		return fmt.Errorf("wire: %v: only a refused confirmation may end at its status", t)
	}
	for name, s := range map[string]string{"firmware": m.Firmware, "model": m.Model, "number": m.Number, "name": m.Name, "digits": m.Digits} {
		if len(s) > MaxText {
			return fmt.Errorf("wire: %v: %s of %d bytes exceeds %d", t, name, len(s), MaxText)
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("wire: %v: %s is not UTF-8", t, name)
		}
	}
	if len(m.Devices) > MaxDevices {
		return fmt.Errorf("wire: %v: %d devices exceeds %d", t, len(m.Devices), MaxDevices)
	}
	for _, e := range m.Devices {
		if len(e.Model) > MaxText || !utf8.ValidString(e.Model) {
			return fmt.Errorf("wire: %v: device %d: bad model %q", t, e.Handset, e.Model)
		}
	}
	if m.IPEI.PSN > 0xFFFFF {
		return fmt.Errorf("wire: %v: IPEI serial %d exceeds 20 bits", t, m.IPEI.PSN)
	}
	switch t {
	case TRegOpen:
		if err := CheckPIN(m.PIN); err != nil {
			return err
		}
	case TDeviceStatus | CnfBit, TLinkInd:
		if err := checkLink(m.Link, m.Quality, m.Battery); err != nil {
			return fmt.Errorf("wire: %v: %w", t, err)
		}
	case TRing, TCallWaiting, TDateTime:
		if !m.Time.valid() {
			return fmt.Errorf("wire: %v: invalid date-time %+v", t, m.Time)
		}
	}
	return nil
}

// checkLink validates the link fields of DEVICE-STATUS-CNF and LINK-IND.
func checkLink(link, quality, battery byte) error {
	if link > LinkMax {
		return fmt.Errorf("unknown link state 0x%02x", link)
	}
	if quality > 100 && quality != QualityUnknown {
		return fmt.Errorf("link quality %d out of range (0-100, or 255 unknown)", quality)
	}
	if battery > 100 && battery != BatteryNone {
		return fmt.Errorf("battery %d out of range (0-100, or 255 none)", battery)
	}
	return nil
}

// CheckPIN validates a registration PIN: 4 to 8 decimal digits.
func CheckPIN(pin string) error {
	if len(pin) < 4 || len(pin) > 8 {
		return fmt.Errorf("wire: PIN must have 4 to 8 digits, got %d", len(pin))
	}
	for _, c := range pin {
		if c < '0' || c > '9' {
			return fmt.Errorf("wire: PIN must be decimal digits only")
		}
	}
	return nil
}

func appendStr(dst []byte, s string) []byte {
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}

func appendIPEI(dst []byte, i IPEI) []byte {
	b := i.Bytes()
	return append(dst, b[:]...)
}

func appendTime(dst []byte, d DateTime) []byte {
	dst = binary.BigEndian.AppendUint16(dst, d.Year)
	return append(dst, d.Month, d.Day, d.Hour, d.Min, d.Sec)
}

func appendEntry(dst []byte, e DeviceEntry) []byte {
	dst = append(dst, e.Handset)
	dst = appendIPEI(dst, e.IPEI)
	dst = append(dst, byte(e.Type), e.Caps)
	return appendStr(dst, e.Model)
}
