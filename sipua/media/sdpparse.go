package media

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// remoteMedia is the parsed audio stream of a remote description.
type remoteMedia struct {
	index   int
	md      *sdp.MediaDescription
	formats []uint8
	rtpmap  map[uint8]string // PT -> "name/rate" (lower-case name)
	addr    netip.Addr
	port    uint16
	rtcp    netip.AddrPort
	dir     Direction
	ptime   time.Duration
	savp    bool
	cryptos []sdesLine
}

type sdesLine struct {
	tag   string
	suite string
	key   []byte
}

// parseRemote unmarshals body and finds the first usable audio stream.
func parseRemote(body []byte) (*sdp.SessionDescription, *remoteMedia, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, sdpErr("body", "empty session description")
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, nil, &SDPError{Field: "body", Reason: "does not parse", Err: err}
	}
	sessDir := SendRecv
	for _, a := range sd.Attributes {
		if d, ok := parseDirection(a.Key); ok {
			sessDir = d
		}
	}
	var firstErr error
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		rm, err := parseAudio(&sd, i, md, sessDir)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if rm != nil {
			return &sd, rm, nil
		}
	}
	if firstErr != nil {
		return nil, nil, firstErr
	}
	return nil, nil, fmt.Errorf("%w: no audio stream with a non-zero port and RTP/AVP or RTP/SAVP", ErrNoCommonCodec)
}

func parseAudio(sd *sdp.SessionDescription, idx int, md *sdp.MediaDescription, sessDir Direction) (*remoteMedia, error) {
	field := "m=audio"
	proto := strings.Join(md.MediaName.Protos, "/")
	rm := &remoteMedia{index: idx, md: md, rtpmap: map[uint8]string{}, dir: sessDir}
	switch proto {
	case "RTP/AVP":
	case "RTP/SAVP":
		rm.savp = true
	default:
		return nil, nil // not for us (e.g. UDP/TLS/RTP/SAVPF): leave it rejected
	}
	if md.MediaName.Port.Value == 0 {
		return nil, nil // stream rejected or disabled
	}
	if md.MediaName.Port.Value < 0 || md.MediaName.Port.Value > 65535 {
		return nil, sdpErr(field, "port %d out of range", md.MediaName.Port.Value)
	}
	rm.port = uint16(md.MediaName.Port.Value)
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil || pt > 127 {
			return nil, sdpErr(field, "format %q is not an RTP payload type (0..127)", f)
		}
		rm.formats = append(rm.formats, uint8(pt))
	}
	ci := md.ConnectionInformation
	cfield := "c= (media)"
	if ci == nil {
		ci = sd.ConnectionInformation
		cfield = "c="
	}
	if ci == nil || ci.Address == nil {
		return nil, sdpErr("c=", "missing connection address for the audio stream")
	}
	if ci.NetworkType != "IN" {
		return nil, sdpErr(cfield, "network type %q is not IN", ci.NetworkType)
	}
	addr, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return nil, sdpErr(cfield, "address %q is not an IP address", ci.Address.Address)
	}
	if (ci.AddressType == "IP4") != addr.Is4() {
		return nil, sdpErr(cfield, "address %q does not match address type %q", ci.Address.Address, ci.AddressType)
	}
	rm.addr = addr
	rm.rtcp = netip.AddrPortFrom(addr, rm.port+1)
	for _, a := range md.Attributes {
		if d, ok := parseDirection(a.Key); ok {
			rm.dir = d
			continue
		}
		switch a.Key {
		case "rtpmap":
			pt, rest, err := splitPT(a.Value)
			if err != nil {
				return nil, sdpErr("a=rtpmap", "%v in %q", err, a.Value)
			}
			rm.rtpmap[pt] = strings.ToLower(strings.TrimSpace(rest))
		case "ptime":
			v, err := strconv.ParseFloat(strings.TrimSpace(a.Value), 64)
			if err != nil || v <= 0 || v > 1000 {
				return nil, sdpErr("a=ptime", "value %q is not a packet time in ms", a.Value)
			}
			rm.ptime = time.Duration(v * float64(time.Millisecond))
		case "rtcp":
			f := strings.Fields(a.Value)
			if len(f) == 0 {
				return nil, sdpErr("a=rtcp", "empty value")
			}
			p, err := strconv.ParseUint(f[0], 10, 16)
			if err != nil || p == 0 {
				return nil, sdpErr("a=rtcp", "port %q invalid", f[0])
			}
			ra := addr
			if len(f) >= 4 {
				if x, err := netip.ParseAddr(f[3]); err == nil {
					ra = x
				} else {
					return nil, sdpErr("a=rtcp", "address %q is not an IP address", f[3])
				}
			}
			rm.rtcp = netip.AddrPortFrom(ra, uint16(p))
		case "crypto":
			if l, ok, err := parseCrypto(a.Value); err != nil {
				return nil, err
			} else if ok {
				rm.cryptos = append(rm.cryptos, l)
			}
		}
	}
	return rm, nil
}

func splitPT(v string) (uint8, string, error) {
	v = strings.TrimSpace(v)
	i := strings.IndexByte(v, ' ')
	if i < 0 {
		return 0, "", errors.New("missing encoding after payload type")
	}
	pt, err := strconv.ParseUint(v[:i], 10, 8)
	if err != nil || pt > 127 {
		return 0, "", fmt.Errorf("payload type %q invalid", v[:i])
	}
	return uint8(pt), v[i+1:], nil
}

// parseCrypto parses an RFC 4568 a=crypto value. Lines with suites or
// parameters we do not support are skipped (ok=false), as the RFC asks;
// a supported suite with a malformed key is an error.
func parseCrypto(v string) (sdesLine, bool, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return sdesLine{}, false, sdpErr("a=crypto", "want \"tag suite key-params\", got %q", v)
	}
	l := sdesLine{tag: f[0], suite: f[1]}
	field := "a=crypto:" + f[0]
	if _, err := strconv.ParseUint(f[0], 10, 32); err != nil {
		return sdesLine{}, false, sdpErr("a=crypto", "tag %q is not a number", f[0])
	}
	if l.suite != SuiteAES128SHA1_80 && l.suite != SuiteAES128SHA1_32 {
		return sdesLine{}, false, nil
	}
	if len(f) > 3 {
		return sdesLine{}, false, nil // session parameters (e.g. UNENCRYPTED_SRTP) not supported
	}
	kp := f[2]
	if strings.Contains(kp, ";") {
		return sdesLine{}, false, nil // several keys (MKI) not supported
	}
	if !strings.HasPrefix(kp, "inline:") {
		return sdesLine{}, false, sdpErr(field, "key method is not inline: in %q", kp)
	}
	parts := strings.Split(strings.TrimPrefix(kp, "inline:"), "|")
	if len(parts) > 2 {
		return sdesLine{}, false, nil // MKI present
	}
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(parts[0])
	}
	if err != nil {
		return sdesLine{}, false, &SDPError{Field: field, Reason: "key is not base64", Err: err}
	}
	if len(key) != srtpKeyLen {
		return sdesLine{}, false, sdpErr(field, "key+salt is %d bytes, want %d", len(key), srtpKeyLen)
	}
	l.key = key
	return l, true, nil
}

// codecOf returns our codec for payload type pt in rm, honouring rtpmap.
func (rm *remoteMedia) codecOf(pt uint8) (Codec, bool) {
	name, mapped := rm.rtpmap[pt]
	if !mapped {
		switch pt { // static assignments (RFC 3551)
		case 0:
			return PCMU, true
		case 8:
			return PCMA, true
		case 9:
			return G722, true
		}
		return 0, false
	}
	name, rate, _ := strings.Cut(name, "/")
	rate, _, _ = strings.Cut(rate, "/") // drop channel count
	if rate != "8000" {
		return 0, false
	}
	for _, c := range []Codec{PCMU, PCMA, G722} {
		if strings.EqualFold(name, c.String()) {
			return c, true
		}
	}
	return 0, false
}

func (rm *remoteMedia) eventPT() (uint8, bool) {
	for _, pt := range rm.formats {
		if rm.rtpmap[pt] == "telephone-event/8000" {
			return pt, true
		}
	}
	return 0, false
}

func (rm *remoteMedia) offeredList() string {
	var s []string
	for _, pt := range rm.formats {
		if n, ok := rm.rtpmap[pt]; ok {
			s = append(s, fmt.Sprintf("%d %s", pt, n))
		} else {
			s = append(s, strconv.Itoa(int(pt)))
		}
	}
	return strings.Join(s, ", ")
}

// remoteHeld reports hold signalled by c=0.0.0.0 (RFC 2543 style).
func (rm *remoteMedia) remoteHeld() bool { return rm.addr.IsUnspecified() }
