package slic

import (
	"testing"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// BenchmarkRegisterRead is one direct-register read as the driver does it
// (two one-byte transfers).
func BenchmarkRegisterRead(b *testing.B) {
	m := New(Config{Logger: quiet()})
	c, err := m.Port().Connect(physic.MegaHertz, spi.Mode3, 8)
	if err != nil {
		b.Fatal(err)
	}
	w0, w1, r := []byte{0x80 | 68}, []byte{0}, []byte{0}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = c.Tx(w0, nil)
		_ = c.Tx(w1, r)
	}
}

// BenchmarkPCMTick is the model's work per 10 ms PCM frame (no terminal).
func BenchmarkPCMTick(b *testing.B) {
	m := New(Config{Logger: quiet()})
	var down, up [frameSamples]int16
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.tick(&down, &up)
	}
}
