package media

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// Remote is what a simulated phone (the softphone, the stand-in PBX's
// voicemail leg) uses from the other side's SDP.
type Remote struct {
	Addr   *net.UDPAddr
	Codecs []Codec // the G.711 payload types offered, in the offer's order
	DTMFPT uint8   // telephone-event/8000 payload type, 0 if absent
	Dir    string  // sendrecv, sendonly, recvonly or inactive
}

// ParseSDP reads the first active audio stream of an SDP body.
func ParseSDP(body []byte) (Remote, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return Remote{}, fmt.Errorf("sdp: %w", err)
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			md = m
			break
		}
	}
	if md == nil {
		return Remote{}, fmt.Errorf("sdp: no active audio stream")
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return Remote{}, fmt.Errorf("sdp: no connection address")
	}
	ip := net.ParseIP(ci.Address.Address)
	if ip == nil {
		return Remote{}, fmt.Errorf("sdp: connection address %q is not an IP", ci.Address.Address)
	}
	port := md.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return Remote{}, fmt.Errorf("sdp: audio port %d out of range", port)
	}
	r := Remote{Addr: &net.UDPAddr{IP: ip, Port: port}, Dir: "sendrecv"}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil || n > 127 {
			return Remote{}, fmt.Errorf("sdp: payload type %q is not a number 0-127", f)
		}
		if n == uint64(PCMU) || n == uint64(PCMA) {
			r.Codecs = append(r.Codecs, Codec(n))
		}
	}
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			pt, enc, ok := strings.Cut(a.Value, " ")
			if ok && strings.EqualFold(strings.TrimSpace(enc), "telephone-event/8000") {
				if n, err := strconv.ParseUint(pt, 10, 8); err == nil && n >= 96 && n <= 127 {
					r.DTMFPT = uint8(n)
				}
			}
		case "sendrecv", "sendonly", "recvonly", "inactive":
			r.Dir = a.Key
		}
	}
	return r, nil
}

// BuildSDP makes an offer (several codecs) or an answer (one) for an audio
// stream on ip:port, with telephone-event on dtmfPT unless it is 0; dir ""
// is sendrecv. session is the s= line.
func BuildSDP(session, ip string, port int, codecs []Codec, dtmfPT uint8, dir string) ([]byte, error) {
	if dir == "" {
		dir = "sendrecv"
	}
	id := uint64(time.Now().UnixNano())
	var formats []string
	var attrs []sdp.Attribute
	for _, c := range codecs {
		formats = append(formats, strconv.Itoa(int(c)))
		attrs = append(attrs, sdp.Attribute{Key: "rtpmap", Value: fmt.Sprintf("%d %s/8000", c, c)})
	}
	if dtmfPT != 0 {
		formats = append(formats, strconv.Itoa(int(dtmfPT)))
		attrs = append(attrs, sdp.Attribute{Key: "rtpmap", Value: fmt.Sprintf("%d telephone-event/8000", dtmfPT)},
			sdp.Attribute{Key: "fmtp", Value: fmt.Sprintf("%d 0-16", dtmfPT)})
	}
	attrs = append(attrs, sdp.Attribute{Key: "ptime", Value: "20"}, sdp.Attribute{Key: dir})
	sd := sdp.SessionDescription{
		Origin:                sdp.Origin{Username: "-", SessionID: id, SessionVersion: id, NetworkType: "IN", AddressType: "IP4", UnicastAddress: ip},
		SessionName:           sdp.SessionName(session),
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: ip}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName:  sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: port}, Protos: []string{"RTP", "AVP"}, Formats: formats},
			Attributes: attrs,
		}},
	}
	return sd.Marshal()
}
