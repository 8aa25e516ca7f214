package pbx

import (
	"net"

	"basestation/sim/softphone/media"
)

// mediaOffer is the part of an SDP offer the voicemail leg needs.
type mediaOffer struct {
	addr   *net.UDPAddr
	codecs []uint8 // static G.711 payload types offered, in order
	dtmfPT uint8   // telephone-event/8000 payload type, 0 if absent
}

// parseOffer reads the first active audio stream of an SDP body.
func parseOffer(body []byte) (mediaOffer, error) {
	r, err := media.ParseSDP(body)
	if err != nil {
		return mediaOffer{}, err
	}
	o := mediaOffer{addr: r.Addr, dtmfPT: r.DTMFPT}
	for _, c := range r.Codecs {
		o.codecs = append(o.codecs, uint8(c))
	}
	return o, nil
}

// answerSDP builds an answer with one codec (and telephone-event if dtmfPT
// is not 0) on ip:port.
func answerSDP(ip string, port int, codec, dtmfPT uint8) ([]byte, error) {
	return media.BuildSDP("basesim-pbx", ip, port, []media.Codec{media.Codec(codec)}, dtmfPT, "sendrecv")
}
