package dsp

import (
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"basestation/internal/testpeer"
)

// talkOffText is read by several voices; numbers and sibilants included on
// purpose.
const talkOffText = `Thank you for calling the front desk. Our office hours are nine to five,
Monday through Friday. Please call me back at five five five, one two three four, or
leave a message after the tone. She sells sea shells by the sea shore. The quick brown
fox jumps over the lazy dog while seventy seven sheep sleep soundly in the meadow.
Hello? Hello, can you hear me? Yes, I can hear you now. We shipped the order on the
twenty first of November and it should arrive within three business days. Would you
like to speak to sales, support or billing? Press any key to return to the main menu.
Peter Piper picked a peck of pickled peppers. How much wood would a woodchuck chuck?
Whistling, humming, singing la la la, ooh and aah, mmm, eee, ohh, the high notes ring.`

// speech returns minutes of espeak-ng speech at rate: several voices and
// pitches, resampled with sox.
func speech(t *testing.T, rate int) []int16 {
	t.Helper()
	bins := testpeer.Require(t, "espeak-ng", "sox")
	dir := t.TempDir()
	voices := []struct {
		voice string
		pitch int
		speed int
	}{
		{"en-us", 50, 160}, {"en-us+f3", 80, 150}, {"en-gb", 30, 170},
		{"en-us+f5", 99, 140}, {"en-gb-scotland+m3", 60, 175}, {"en-us+f2", 70, 130},
	}
	var out []int16
	for i, v := range voices {
		wav := filepath.Join(dir, "v"+strconv.Itoa(i)+".wav")
		raw := filepath.Join(dir, "v"+strconv.Itoa(i)+".s16")
		text := talkOffText
		cmd := exec.Command(bins[0], "-v", v.voice, "-p", strconv.Itoa(v.pitch), "-s", strconv.Itoa(v.speed), "-w", wav, text)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("espeak-ng: %v\n%s", err, b)
		}
		// loud: peaks near full scale, the hardest case for talk-off
		cmd = exec.Command(bins[1], wav, "-t", "raw", "-r", strconv.Itoa(rate), "-c", "1", "-b", "16", "-e", "signed-integer", raw, "gain", "-n", "-1")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sox: %v\n%s", err, b)
		}
		out = append(out, readRaw(t, raw)...)
	}
	return out
}

func TestDTMFTalkOff(t *testing.T) {
	if testing.Short() {
		t.Skip("talk-off needs minutes of speech")
	}
	for _, rate := range rates {
		pcm := speech(t, rate)
		dur := time.Duration(len(pcm)) * time.Second / time.Duration(rate)
		if dur < 3*time.Minute {
			t.Fatalf("only %v of speech", dur)
		}
		// also at -20 dB, where the level threshold no longer helps
		quiet := make([]int16, len(pcm))
		for i, v := range pcm {
			quiet[i] = v / 10
		}
		// Real digits after the speech prove the detector was listening.
		r := rand.New(rand.NewPCG(1, 1))
		var tail []float64
		for _, d := range []byte("159#") {
			tail = concat(tail, silence(rate, 100*ms), dtmfTone(r, rate, d, 60*ms, 0, 0, -10, -10))
		}
		for name, x := range map[string][]int16{"loud": pcm, "quiet": quiet} {
			ev := detectAll(t, rate, nil, append(x[:len(x):len(x)], toPCM(tail)...))
			if got := digitsOf(t, ev); got != "159#" {
				t.Errorf("%d Hz %s speech (%v) then digits 159#: detected %q (events %v)", rate, name, dur.Round(time.Second), got, ev)
			}
			t.Logf("%d Hz, %s: %v of speech, no false digit; the real digits after it found", rate, name, dur.Round(time.Second))
		}
	}
}
