package media

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/pion/sdp/v3"
)

// ErrNoCommonCodec means the remote SDP offers (or answers with) no audio
// codec we support, or rejects the audio stream. The SIP layer answers an
// INVITE whose offer fails this way with 488 Not Acceptable Here. The
// returned error wraps it and says what the remote offered.
var ErrNoCommonCodec = errors.New("no common audio codec")

// ErrSRTPMismatch means the remote's SRTP use does not fit our SRTP mode
// (RTP/SAVP offered while SRTP is off, plain RTP offered while SRTP is
// required, or no usable a=crypto line). The SIP layer maps it to 488.
var ErrSRTPMismatch = errors.New("SRTP requirement not met")

// SDPError is a malformed or unusable session description. Field names the
// SDP line (for example "c=", "m=audio", "a=rtpmap:101", "a=crypto:1").
// The SIP layer answers an offer failing this way with 488 (or 400).
type SDPError struct {
	Field  string
	Reason string
	Err    error // underlying cause, if any
}

func (e *SDPError) Error() string {
	s := "sdp: " + e.Field + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *SDPError) Unwrap() error { return e.Err }

func sdpErr(field, format string, args ...any) *SDPError {
	return &SDPError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// SRTPMode says whether SDES-SRTP is used.
type SRTPMode int

const (
	// SRTPOff offers RTP/AVP and refuses RTP/SAVP offers.
	SRTPOff SRTPMode = iota
	// SRTPOptional offers RTP/AVP with a=crypto lines ("best effort") and
	// accepts both plain and SDES-keyed offers.
	SRTPOptional
	// SRTPRequired offers RTP/SAVP and refuses plain RTP.
	SRTPRequired
)

// SRTP crypto suites (RFC 4568 §6.2) supported for SDES.
const (
	SuiteAES128SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAES128SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
)

// srtpKeyLen is the master key (16) plus master salt (14) length.
const srtpKeyLen = 30

// SRTPKeys are the SDES keys of a negotiated SRTP stream.
type SRTPKeys struct {
	Suite     string // SuiteAES128SHA1_80 or SuiteAES128SHA1_32
	LocalKey  []byte // 30 bytes: master key ‖ master salt, protects what we send
	RemoteKey []byte // 30 bytes: the peer's key, for what we receive
}

// Options configure a Negotiator.
type Options struct {
	// Addr is the address and port written in c= and m=: the Session's
	// LocalAddr with the IP the peer can reach (not 0.0.0.0).
	Addr netip.AddrPort
	// Codecs in preference order; empty means DefaultCodecs().
	Codecs []Codec
	// EventPT is the dynamic payload type for telephone-event/8000 that
	// we offer (96..127); 0 means 101.
	EventPT uint8
	// PTime is our packet time, 10 or 20 ms; 0 means 20 ms.
	PTime time.Duration
	// SRTP selects SDES-SRTP.
	SRTP SRTPMode
	// Username is the o= user name; empty means "-".
	Username string
}

// Negotiated is the outcome of an offer/answer exchange: what the Session
// needs to send and receive. Pass it to Session.Apply.
type Negotiated struct {
	Codec       Codec
	PayloadType uint8         // RTP payload type of Codec
	PTime       time.Duration // packet time we send with (10 or 20 ms)
	// EventPT is the telephone-event payload type we send DTMF with (the
	// peer's number); 0 when the peer does not support RFC 4733.
	EventPT uint8
	// LocalEventPT is the telephone-event payload type we declared; it is
	// accepted on receive together with EventPT.
	LocalEventPT uint8
	// Remote is where RTP goes (from c= and m=). Its IP is unspecified
	// when the peer put the call on hold with c=0.0.0.0.
	Remote netip.AddrPort
	// RemoteRTCP is the peer's RTCP address (a=rtcp, else port+1).
	RemoteRTCP netip.AddrPort
	// Direction is what we do: send, receive, both or neither.
	Direction Direction
	// RemoteHold is true when the peer holds the call (it offered
	// sendonly or inactive, or c=0.0.0.0).
	RemoteHold bool
	// SRTP is non-nil when the stream is SDES-SRTP protected.
	SRTP *SRTPKeys
}

// Negotiator builds our SDP offers and answers for one call and keeps the
// o= session id and version across re-INVITEs. It is not safe for
// concurrent use.
type Negotiator struct {
	opts      Options
	sessID    uint64
	version   uint64
	lastBody  []byte
	dir       Direction
	localKey  []byte
	lastOffer *offerState
}

type offerState struct {
	codecs []Codec
	srtp   bool // offered RTP/SAVP or crypto lines
}

// NewNegotiator checks the options and returns a Negotiator.
func NewNegotiator(o Options) (*Negotiator, error) {
	if !o.Addr.IsValid() || o.Addr.Port() == 0 {
		return nil, fmt.Errorf("media: negotiator: address %v has no IP or port", o.Addr)
	}
	if o.Addr.Addr().IsUnspecified() {
		return nil, fmt.Errorf("media: negotiator: address %v is unspecified; give the IP the peer can reach", o.Addr)
	}
	if len(o.Codecs) == 0 {
		o.Codecs = DefaultCodecs()
	}
	seen := map[Codec]bool{}
	for _, c := range o.Codecs {
		if !c.valid() {
			return nil, fmt.Errorf("media: negotiator: unsupported codec %v", c)
		}
		if seen[c] {
			return nil, fmt.Errorf("media: negotiator: codec %v listed twice", c)
		}
		seen[c] = true
	}
	o.Codecs = append([]Codec(nil), o.Codecs...)
	if o.EventPT == 0 {
		o.EventPT = 101
	}
	if o.EventPT < 96 || o.EventPT > 127 {
		return nil, fmt.Errorf("media: negotiator: telephone-event payload type %d is not dynamic (96..127)", o.EventPT)
	}
	switch o.PTime {
	case 0:
		o.PTime = 20 * time.Millisecond
	case 10 * time.Millisecond, 20 * time.Millisecond:
	default:
		return nil, fmt.Errorf("media: negotiator: ptime %v not supported (10 or 20 ms)", o.PTime)
	}
	if o.Username == "" {
		o.Username = "-"
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := (uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])) >> 2 // keep it < 2^62
	n := &Negotiator{opts: o, sessID: id, version: id}
	if o.SRTP != SRTPOff {
		n.localKey = make([]byte, srtpKeyLen)
		_, _ = rand.Read(n.localKey)
	}
	return n, nil
}

// SetDirection sets the direction we want: SendOnly to put the call on
// hold, Inactive to hold a call the peer holds too, SendRecv to resume.
// It takes effect in the next Offer or Answer.
func (n *Negotiator) SetDirection(d Direction) { n.dir = d }

// SetAddr changes the address written in the next Offer or Answer.
func (n *Negotiator) SetAddr(a netip.AddrPort) { n.opts.Addr = a }

// Offer returns an SDP offer with all our codecs, telephone-event, ptime,
// the direction and (per SRTP mode) a=crypto.
func (n *Negotiator) Offer() ([]byte, error) {
	md := n.mediaBase()
	var formats []string
	for _, c := range n.opts.Codecs {
		formats = append(formats, strconv.Itoa(int(c.PayloadType())))
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", rtpmapValue(c)))
	}
	formats = append(formats, strconv.Itoa(int(n.opts.EventPT)))
	md.MediaName.Formats = formats
	ev := strconv.Itoa(int(n.opts.EventPT))
	md.Attributes = append(md.Attributes,
		sdp.NewAttribute("rtpmap", ev+" telephone-event/8000"),
		sdp.NewAttribute("fmtp", ev+" 0-16"),
		sdp.NewAttribute("ptime", strconv.Itoa(int(n.opts.PTime/time.Millisecond))),
		sdp.NewPropertyAttribute(n.dir.String()),
	)
	st := &offerState{codecs: n.opts.Codecs}
	if n.opts.SRTP != SRTPOff {
		md.MediaName.Protos = protos(n.opts.SRTP == SRTPRequired)
		md.Attributes = append(md.Attributes, sdp.NewAttribute("crypto", "1 "+SuiteAES128SHA1_80+" inline:"+base64.StdEncoding.EncodeToString(n.localKey)))
		st.srtp = true
	}
	body, err := n.finish(md)
	if err != nil {
		return nil, err
	}
	n.lastOffer = st
	return body, nil
}

func protos(savp bool) []string {
	if savp {
		return []string{"RTP", "SAVP"}
	}
	return []string{"RTP", "AVP"}
}

func rtpmapValue(c Codec) string {
	return strconv.Itoa(int(c.PayloadType())) + " " + c.String() + "/" + strconv.Itoa(c.ClockRate())
}

func (n *Negotiator) mediaBase() *sdp.MediaDescription {
	return &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:  "audio",
			Port:   sdp.RangedPort{Value: int(n.opts.Addr.Port())},
			Protos: protos(false),
		},
	}
}

func (n *Negotiator) connInfo() *sdp.ConnectionInformation {
	ip := n.opts.Addr.Addr().Unmap()
	at := "IP4"
	if ip.Is6() {
		at = "IP6"
	}
	return &sdp.ConnectionInformation{NetworkType: "IN", AddressType: at, Address: &sdp.Address{Address: ip.String()}}
}

// finish wraps media descriptions in a session, bumping the o= version when
// the content changed since the last description we produced.
func (n *Negotiator) finish(mds ...*sdp.MediaDescription) ([]byte, error) {
	ci := n.connInfo()
	build := func(version uint64) ([]byte, error) {
		sd := &sdp.SessionDescription{
			Origin: sdp.Origin{
				Username: n.opts.Username, SessionID: n.sessID, SessionVersion: version,
				NetworkType: "IN", AddressType: ci.AddressType, UnicastAddress: ci.Address.Address,
			},
			SessionName:           "basestation",
			ConnectionInformation: ci,
			TimeDescriptions:      []sdp.TimeDescription{{}},
			MediaDescriptions:     mds,
		}
		return sd.Marshal()
	}
	probe, err := build(0)
	if err != nil {
		return nil, fmt.Errorf("media: marshal SDP: %w", err)
	}
	if n.lastBody != nil && !bytes.Equal(probe, n.lastBody) {
		n.version++
	}
	n.lastBody = probe
	return build(n.version)
}

func (n *Negotiator) pickPTime(remote time.Duration) time.Duration {
	switch remote {
	case 10 * time.Millisecond, 20 * time.Millisecond:
		return remote
	}
	return n.opts.PTime
}

// Answer answers a remote offer: it picks the first codec of our preference
// order that the offer contains, matches telephone-event, answers the
// direction (sendonly→recvonly, recvonly→sendonly, inactive→inactive,
// c=0.0.0.0 treated as sendonly) and, per SRTP mode, SDES keys. Other media
// streams of the offer are rejected with port 0. Errors wrap
// ErrNoCommonCodec, ErrSRTPMismatch or are *SDPError.
func (n *Negotiator) Answer(offer []byte) ([]byte, Negotiated, error) {
	sd, rm, err := parseRemote(offer)
	if err != nil {
		return nil, Negotiated{}, err
	}
	var neg Negotiated
	var chosen Codec
	for _, c := range n.opts.Codecs {
		for _, pt := range rm.formats {
			if rc, ok := rm.codecOf(pt); ok && rc == c {
				chosen, neg.PayloadType = c, pt
				break
			}
		}
		if chosen != 0 {
			break
		}
	}
	if chosen == 0 {
		return nil, Negotiated{}, fmt.Errorf("%w: offer has %s; we support %v", ErrNoCommonCodec, rm.offeredList(), n.opts.Codecs)
	}
	neg.Codec = chosen
	keys, useSRTP, err := n.answerSRTP(rm)
	if err != nil {
		return nil, Negotiated{}, err
	}
	neg.SRTP = keys
	neg.PTime = n.pickPTime(rm.ptime)
	if pt, ok := rm.eventPT(); ok {
		neg.EventPT, neg.LocalEventPT = pt, pt
	}
	remoteDir := rm.dir
	if rm.remoteHeld() && remoteDir.Sends() {
		remoteDir = SendOnly
	}
	neg.Direction = n.dir.intersect(remoteDir.reverse())
	neg.RemoteHold = !remoteDir.Receives()
	neg.Remote = netip.AddrPortFrom(rm.addr, rm.port)
	neg.RemoteRTCP = rm.rtcp

	// Build the answer: one m= line per offered one, ours for the chosen
	// audio stream, port 0 for the rest.
	var mds []*sdp.MediaDescription
	for i, omd := range sd.MediaDescriptions {
		if i != rm.index {
			mds = append(mds, &sdp.MediaDescription{MediaName: sdp.MediaName{
				Media: omd.MediaName.Media, Port: sdp.RangedPort{Value: 0},
				Protos: omd.MediaName.Protos, Formats: omd.MediaName.Formats,
			}})
			continue
		}
		md := n.mediaBase()
		md.MediaName.Protos = protos(rm.savp)
		ptS := strconv.Itoa(int(neg.PayloadType))
		md.MediaName.Formats = []string{ptS}
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", ptS+" "+chosen.String()+"/8000"))
		if neg.EventPT != 0 {
			ev := strconv.Itoa(int(neg.EventPT))
			md.MediaName.Formats = append(md.MediaName.Formats, ev)
			md.Attributes = append(md.Attributes,
				sdp.NewAttribute("rtpmap", ev+" telephone-event/8000"),
				sdp.NewAttribute("fmtp", ev+" 0-16"))
		}
		md.Attributes = append(md.Attributes,
			sdp.NewAttribute("ptime", strconv.Itoa(int(neg.PTime/time.Millisecond))),
			sdp.NewPropertyAttribute(neg.Direction.String()))
		if useSRTP {
			md.Attributes = append(md.Attributes, sdp.NewAttribute("crypto",
				useTag(rm, keys.Suite)+" "+keys.Suite+" inline:"+base64.StdEncoding.EncodeToString(n.localKey)))
		}
		mds = append(mds, md)
	}
	body, err := n.finish(mds...)
	if err != nil {
		return nil, Negotiated{}, err
	}
	n.lastOffer = nil
	return body, neg, nil
}

func useTag(rm *remoteMedia, suite string) string {
	for _, c := range rm.cryptos {
		if c.suite == suite {
			return c.tag
		}
	}
	return "1"
}

// answerSRTP decides SRTP for an offer we answer.
func (n *Negotiator) answerSRTP(rm *remoteMedia) (*SRTPKeys, bool, error) {
	if rm.savp && n.opts.SRTP == SRTPOff {
		return nil, false, fmt.Errorf("%w: offer is RTP/SAVP and SRTP is off", ErrSRTPMismatch)
	}
	if !rm.savp && n.opts.SRTP == SRTPRequired {
		return nil, false, fmt.Errorf("%w: offer is plain RTP/AVP and SRTP is required", ErrSRTPMismatch)
	}
	if n.opts.SRTP == SRTPOff {
		return nil, false, nil
	}
	for _, suite := range []string{SuiteAES128SHA1_80, SuiteAES128SHA1_32} {
		for _, c := range rm.cryptos {
			if c.suite == suite {
				return &SRTPKeys{Suite: suite, LocalKey: append([]byte(nil), n.localKey...), RemoteKey: c.key}, true, nil
			}
		}
	}
	if rm.savp {
		return nil, false, fmt.Errorf("%w: RTP/SAVP offer has no usable a=crypto (want %s or %s, inline key, no MKI)", ErrSRTPMismatch, SuiteAES128SHA1_80, SuiteAES128SHA1_32)
	}
	return nil, false, nil // optional SRTP, plain offer
}

// ProcessAnswer applies the remote answer to our last Offer. Errors wrap
// ErrNoCommonCodec (audio rejected or a codec we did not offer),
// ErrSRTPMismatch, or are *SDPError.
func (n *Negotiator) ProcessAnswer(answer []byte) (Negotiated, error) {
	st := n.lastOffer
	if st == nil {
		return Negotiated{}, errors.New("media: ProcessAnswer without a pending Offer")
	}
	_, rm, err := parseRemote(answer)
	if err != nil {
		return Negotiated{}, err
	}
	if rm.index != 0 {
		return Negotiated{}, sdpErr("m=", "answer's audio stream is m-line %d; we offered one audio stream", rm.index+1)
	}
	var neg Negotiated
	for _, pt := range rm.formats {
		c, ok := rm.codecOf(pt)
		if !ok {
			continue
		}
		for _, oc := range st.codecs {
			if oc == c {
				neg.Codec, neg.PayloadType = c, pt
			}
		}
		if neg.Codec != 0 {
			break
		}
	}
	if neg.Codec == 0 {
		return Negotiated{}, fmt.Errorf("%w: answer has %s, none of which we offered (%v)", ErrNoCommonCodec, rm.offeredList(), st.codecs)
	}
	neg.PTime = n.pickPTime(rm.ptime)
	neg.LocalEventPT = n.opts.EventPT
	if pt, ok := rm.eventPT(); ok {
		neg.EventPT = pt
	}
	remoteDir := rm.dir
	if rm.remoteHeld() && remoteDir.Sends() {
		remoteDir = SendOnly
	}
	neg.Direction = n.dir.intersect(remoteDir.reverse())
	neg.RemoteHold = !remoteDir.Receives() && n.dir.Sends()
	neg.Remote = netip.AddrPortFrom(rm.addr, rm.port)
	neg.RemoteRTCP = rm.rtcp
	switch {
	case rm.savp && !st.srtp:
		return Negotiated{}, fmt.Errorf("%w: answer is RTP/SAVP to a plain RTP offer", ErrSRTPMismatch)
	case !rm.savp && n.opts.SRTP == SRTPRequired:
		return Negotiated{}, fmt.Errorf("%w: answer is plain RTP/AVP and SRTP is required", ErrSRTPMismatch)
	}
	if st.srtp {
		for _, c := range rm.cryptos {
			if c.tag == "1" && c.suite == SuiteAES128SHA1_80 {
				neg.SRTP = &SRTPKeys{Suite: c.suite, LocalKey: append([]byte(nil), n.localKey...), RemoteKey: c.key}
			}
		}
		if neg.SRTP == nil && (rm.savp || len(rm.cryptos) > 0) {
			return Negotiated{}, fmt.Errorf("%w: answer has no a=crypto matching our offered tag 1 %s", ErrSRTPMismatch, SuiteAES128SHA1_80)
		}
	}
	n.lastOffer = nil
	return neg, nil
}
