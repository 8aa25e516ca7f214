package softphone

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"basestation/sim/softphone/media"

	"github.com/pion/sdp/v3"
)

// dtmfPT is the telephone-event payload type the phone offers.
const dtmfPT = 101

// remoteMedia is what the phone uses from the other side's SDP.
type remoteMedia struct {
	addr   *net.UDPAddr
	codecs []media.Codec // G.711 payload types in the other side's order
	dtmfPT uint8
	dir    string // sendrecv, sendonly, recvonly, inactive
}

// parseSDP reads the first audio stream of an SDP body.
func parseSDP(body []byte) (remoteMedia, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return remoteMedia{}, fmt.Errorf("sdp: %w", err)
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			md = m
			break
		}
	}
	if md == nil {
		return remoteMedia{}, fmt.Errorf("sdp: no active audio stream")
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return remoteMedia{}, fmt.Errorf("sdp: no connection address")
	}
	ip := net.ParseIP(ci.Address.Address)
	if ip == nil {
		return remoteMedia{}, fmt.Errorf("sdp: connection address %q is not an IP", ci.Address.Address)
	}
	port := md.MediaName.Port.Value
	if port < 0 || port > 65535 {
		return remoteMedia{}, fmt.Errorf("sdp: port %d out of range", port)
	}
	r := remoteMedia{addr: &net.UDPAddr{IP: ip, Port: port}, dir: "sendrecv"}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil || n > 127 {
			return remoteMedia{}, fmt.Errorf("sdp: payload type %q is not 0-127", f)
		}
		if n == uint64(media.PCMU) || n == uint64(media.PCMA) {
			r.codecs = append(r.codecs, media.Codec(n))
		}
	}
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			pt, enc, ok := strings.Cut(a.Value, " ")
			if ok && strings.EqualFold(strings.TrimSpace(enc), "telephone-event/8000") {
				if n, err := strconv.ParseUint(pt, 10, 8); err == nil && n >= 96 && n <= 127 {
					r.dtmfPT = uint8(n)
				}
			}
		case "sendrecv", "sendonly", "recvonly", "inactive":
			r.dir = a.Key
		}
	}
	return r, nil
}

// answerDirection is the direction that answers an offered one (RFC 3264 §6.1).
func answerDirection(offered string) string {
	switch offered {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

// sends reports whether a local direction lets the phone send audio.
func sends(dir string) bool { return dir == "" || dir == "sendrecv" || dir == "sendonly" }

// buildSDP makes an offer (several codecs) or an answer (one); dir "" is
// sendrecv.
func buildSDP(ip string, port int, codecs []media.Codec, withDTMF bool, dir string) ([]byte, error) {
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
	if withDTMF {
		formats = append(formats, strconv.Itoa(dtmfPT))
		attrs = append(attrs, sdp.Attribute{Key: "rtpmap", Value: fmt.Sprintf("%d telephone-event/8000", dtmfPT)},
			sdp.Attribute{Key: "fmtp", Value: fmt.Sprintf("%d 0-16", dtmfPT)})
	}
	attrs = append(attrs, sdp.Attribute{Key: "ptime", Value: "20"}, sdp.Attribute{Key: dir})
	sd := sdp.SessionDescription{
		Origin:                sdp.Origin{Username: "-", SessionID: id, SessionVersion: id, NetworkType: "IN", AddressType: "IP4", UnicastAddress: ip},
		SessionName:           "softphone",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: ip}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName:  sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: port}, Protos: []string{"RTP", "AVP"}, Formats: formats},
			Attributes: attrs,
		}},
	}
	return sd.Marshal()
}
