package sipua

import (
	"slices"
	"testing"

	"basestation/endpoint"
	"basestation/sipua/media"
)

// wbEndpoint is a fakeEndpoint whose audio can run at 16 kHz.
type wbEndpoint struct {
	*fakeEndpoint
}

func (w *wbEndpoint) Wideband() bool { return true }

func (w *wbEndpoint) ConnectAudioAt(rate int) (endpoint.AudioPort, error) { return w.ConnectAudio() }

// Issue 10 §2: the answer followed our own order (PCMU first) even for a
// wideband Headset. A call that may reach a wideband endpoint prefers
// G.722; every other call keeps G.711 first.
func TestCodecPreferenceFollowsWidebandEndpoints(t *testing.T) {
	u := startUA(t, Config{Extensions: []Extension{ext("101", "1001", "pw", "127.0.0.1:9"), ext("102", "1002", "pw", "127.0.0.1:9")}})
	hs := &wbEndpoint{fakeEndpoint: newFakeEndpoint("headset", 0)}
	port := newFakeEndpoint("analog", 0)
	for _, a := range []struct {
		ext string
		ep  endpoint.Endpoint
	}{{"101", hs}, {"101", newFakeEndpoint("linx", 0)}, {"102", port}} {
		if _, err := u.Attach(a.ext, a.ep); err != nil {
			t.Fatal(err)
		}
	}
	u.mu.Lock()
	e101, e102 := u.exts["101"], u.exts["102"]
	sHS, sPort := u.attached[hs], u.attached[port]
	u.mu.Unlock()
	wb := []media.Codec{media.G722, media.PCMU, media.PCMA}
	for _, c := range []struct {
		name string
		call *call
		want []media.Codec
	}{
		{"incoming to an extension with a Headset", &call{ext: e101}, wb},
		{"incoming to an extension without one", &call{ext: e102}, media.DefaultCodecs()},
		{"placed from the Headset", &call{ext: e101, out: true, owner: sHS}, wb},
		{"placed from the analog port", &call{ext: e102, out: true, owner: sPort}, media.DefaultCodecs()},
	} {
		if got := u.codecsFor(c.call); !slices.Equal(got, c.want) {
			t.Errorf("%s: codecs %v, want %v", c.name, got, c.want)
		}
	}
}
