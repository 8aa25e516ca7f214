package dect_test

import (
	"context"
	"testing"
	"time"

	"basestation/dect"
)

// BenchmarkOpenRegistration measures the time from the registration API
// call to the module's confirmation of the open window, through the pty.
func BenchmarkOpenRegistration(b *testing.B) {
	r := newBenchRig(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := r.OpenRegistration(ctx, 60*time.Second, "1234"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = r.CloseRegistration(ctx)
}

func FuzzDecodeTable(f *testing.F) {
	good, _ := tableFor(3).Encode()
	f.Add(good)
	f.Add([]byte("dect-devices v1 sha256=00\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := dect.DecodeTable(data)
		if err != nil {
			return
		}
		b, err := tab.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dect.DecodeTable(b); err != nil {
			t.Fatalf("re-encoded table does not decode: %v", err)
		}
	})
}
