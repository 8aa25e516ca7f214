package media

import "fmt"

// Codec is an audio codec the media layer can encode and decode.
type Codec int

// The supported codecs. The zero value is "no codec".
const (
	PCMU Codec = iota + 1 // G.711 µ-law, static PT 0
	PCMA                  // G.711 A-law, static PT 8
	G722                  // G.722 64 kbit/s, static PT 9, RTP clock 8000 (RFC 3551 §4.5.2)
)

// DefaultCodecs is the preference order used when a Negotiator is given none.
func DefaultCodecs() []Codec { return []Codec{PCMU, PCMA, G722} }

// String returns the RTP encoding name (as in a=rtpmap).
func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	case G722:
		return "G722"
	}
	return fmt.Sprintf("Codec(%d)", int(c))
}

// PayloadType returns the static RTP payload type of the codec.
func (c Codec) PayloadType() uint8 {
	switch c {
	case PCMA:
		return 8
	case G722:
		return 9
	}
	return 0
}

// SampleRate is the audio sampling rate of the codec (16000 for G.722).
func (c Codec) SampleRate() int {
	if c == G722 {
		return 16000
	}
	return 8000
}

// ClockRate is the RTP timestamp clock: 8000 for all three codecs.
func (c Codec) ClockRate() int { return 8000 }

// valid reports whether c is one of the supported codecs.
func (c Codec) valid() bool { return c == PCMU || c == PCMA || c == G722 }

// Direction is the media direction of a stream from one side's point of
// view (RFC 3264 §5.1 / §6.1).
type Direction int

// Directions. The zero value is SendRecv.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

// String returns the SDP attribute name.
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Sends reports whether this side transmits media in direction d.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether this side plays received media in direction d.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// reverse returns the direction seen from the other side.
func (d Direction) reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	}
	return d
}

// intersect returns the direction allowed by both a (ours) and b (ours as
// permitted by the peer).
func (d Direction) intersect(b Direction) Direction {
	s := d.Sends() && b.Sends()
	r := d.Receives() && b.Receives()
	switch {
	case s && r:
		return SendRecv
	case s:
		return SendOnly
	case r:
		return RecvOnly
	}
	return Inactive
}

func parseDirection(s string) (Direction, bool) {
	switch s {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return 0, false
}
