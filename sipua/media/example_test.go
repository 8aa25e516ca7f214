package media_test

import (
	"errors"
	"fmt"
	"net/netip"

	"basestation/sipua/media"
)

// An incoming INVITE's offer answered, then the caller putting us on hold.
func ExampleNegotiator_Answer() {
	neg, err := media.NewNegotiator(media.Options{Addr: netip.MustParseAddrPort("192.0.2.10:40000")})
	if err != nil {
		panic(err)
	}
	offer := "v=0\r\no=pbx 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n" +
		"m=audio 5004 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
	_, params, err := neg.Answer([]byte(offer))
	if err != nil {
		panic(err)
	}
	fmt.Println(params.Codec, params.PTime, params.EventPT, params.Remote, params.Direction)

	hold := "v=0\r\no=pbx 1 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n" +
		"m=audio 5004 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n"
	_, params, _ = neg.Answer([]byte(hold))
	fmt.Println(params.Direction, params.RemoteHold)

	_, _, err = neg.Answer([]byte("v=0\r\no=pbx 1 3 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18\r\n"))
	fmt.Println(errors.Is(err, media.ErrNoCommonCodec))
	// Output:
	// PCMU 20ms 101 198.51.100.7:5004 sendrecv
	// recvonly true
	// true
}
