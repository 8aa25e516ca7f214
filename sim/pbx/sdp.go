package pbx

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// mediaOffer is the part of an SDP offer the voicemail leg needs.
type mediaOffer struct {
	addr   *net.UDPAddr
	codecs []uint8 // static G.711 payload types offered, in order
	dtmfPT uint8   // telephone-event/8000 payload type, 0 if absent
}

// parseOffer reads the first audio stream of an SDP body.
func parseOffer(body []byte) (mediaOffer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return mediaOffer{}, fmt.Errorf("sdp: %w", err)
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			md = m
			break
		}
	}
	if md == nil {
		return mediaOffer{}, fmt.Errorf("sdp: no audio stream")
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return mediaOffer{}, fmt.Errorf("sdp: no connection address")
	}
	ip := net.ParseIP(ci.Address.Address)
	if ip == nil {
		return mediaOffer{}, fmt.Errorf("sdp: connection address %q is not an IP", ci.Address.Address)
	}
	port := md.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return mediaOffer{}, fmt.Errorf("sdp: audio port %d out of range", port)
	}
	o := mediaOffer{addr: &net.UDPAddr{IP: ip, Port: port}}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil || n > 127 {
			return mediaOffer{}, fmt.Errorf("sdp: payload type %q is not a number 0-127", f)
		}
		if n == 0 || n == 8 {
			o.codecs = append(o.codecs, uint8(n))
		}
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		if strings.EqualFold(strings.TrimSpace(enc), "telephone-event/8000") {
			if n, err := strconv.ParseUint(pt, 10, 8); err == nil && n >= 96 && n <= 127 {
				o.dtmfPT = uint8(n)
			}
		}
	}
	return o, nil
}

// answerSDP builds an answer with one codec (and telephone-event if dtmfPT
// is not 0) on ip:port.
func answerSDP(ip string, port int, codec, dtmfPT uint8) ([]byte, error) {
	id := uint64(time.Now().UnixNano())
	formats := []string{strconv.Itoa(int(codec))}
	name := map[uint8]string{0: "PCMU", 8: "PCMA"}[codec]
	attrs := []sdp.Attribute{{Key: "rtpmap", Value: fmt.Sprintf("%d %s/8000", codec, name)}}
	if dtmfPT != 0 {
		formats = append(formats, strconv.Itoa(int(dtmfPT)))
		attrs = append(attrs, sdp.Attribute{Key: "rtpmap", Value: fmt.Sprintf("%d telephone-event/8000", dtmfPT)},
			sdp.Attribute{Key: "fmtp", Value: fmt.Sprintf("%d 0-16", dtmfPT)})
	}
	attrs = append(attrs, sdp.Attribute{Key: "ptime", Value: "20"}, sdp.Attribute{Key: "sendrecv"})
	sd := sdp.SessionDescription{
		Origin:                sdp.Origin{Username: "-", SessionID: id, SessionVersion: id, NetworkType: "IN", AddressType: "IP4", UnicastAddress: ip},
		SessionName:           "basesim-pbx",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: ip}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName:  sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: port}, Protos: []string{"RTP", "AVP"}, Formats: formats},
			Attributes: attrs,
		}},
	}
	return sd.Marshal()
}
