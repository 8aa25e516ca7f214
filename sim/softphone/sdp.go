package softphone

import (
	"net"

	"basestation/sim/softphone/media"
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

// parseSDP reads the first active audio stream of an SDP body.
func parseSDP(body []byte) (remoteMedia, error) {
	r, err := media.ParseSDP(body)
	if err != nil {
		return remoteMedia{}, err
	}
	return remoteMedia{addr: r.Addr, codecs: r.Codecs, dtmfPT: r.DTMFPT, dir: r.Dir}, nil
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
	var pt uint8
	if withDTMF {
		pt = dtmfPT
	}
	return media.BuildSDP("softphone", ip, port, codecs, pt, dir)
}
