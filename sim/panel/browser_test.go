package panel

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"basestation/internal/testpeer"
)

// The page's signal helpers (plot.js), run in Debian's chromium: the level
// in dBm0, the spectrum's peak, the Bell 202 burst finder, the WAV parser
// (a valid file read back sample for sample, malformed ones refused with
// what is wrong, and 3000 random buffers neither crashing it nor giving
// more samples than bytes).
func TestSignalHelpersInChromium(t *testing.T) {
	chrome := testpeer.Require(t, "chromium")[0]
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/panel", h))
	t.Cleanup(srv.Close)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
	defer tcancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/panel/"), chromedp.WaitReady(chromedp.CSS("#rec-wave"))); err != nil {
		t.Fatal(err)
	}
	// Each check returns "" or what went wrong.
	checks := map[string]string{
		"level": `(() => {
			const x = new Int16Array(8000);
			const a = 32767 * Math.pow(10, -3.14 / 20);
			for (let i = 0; i < x.length; i++) x[i] = Math.round(a * Math.sin(2 * Math.PI * 1004 * i / 8000));
			const l = Plot.levelDbm0(x);
			if (Math.abs(l) > 0.05) return 'a 0 dBm0 sine measured ' + l;
			if (Plot.levelDbm0(new Int16Array(100)) !== -Infinity) return 'silence is not -Infinity';
			return '';
		})()`,
		"spectrum": `(() => {
			const x = new Int16Array(4096);
			for (let i = 0; i < x.length; i++) x[i] = Math.round(8000 * Math.sin(2 * Math.PI * 1400 * i / 8000));
			const p = Plot.drawSpectrum(document.querySelector('#spectrum'), x, 8000);
			if (!p || Math.abs(p.hz - 1400) > 8) return 'peak ' + JSON.stringify(p);
			if (Math.abs(p.db - 20 * Math.log10(8000 / 32767)) > 0.5) return 'peak level ' + p.db;
			if (Plot.drawSpectrum(document.querySelector('#spectrum'), new Int16Array(4096), 8000) !== null) return 'silence has a peak';
			return '';
		})()`,
		"fsk": `(() => {
			const r = new Int16Array(8000); let ph = 0, seed = 7, bit = 0;
			for (let i = 0; i < r.length; i++) {
				if (i % 7 === 0) { seed = (seed * 1103515245 + 12345) & 0x7fffffff; bit = (seed >> 16) & 1; }
				ph += 2 * Math.PI * (bit ? 1200 : 2200) / 8000;
				r[i] = i >= 2000 && i < 4400 ? Math.round(6000 * Math.sin(ph)) : 0;
			}
			const f = Plot.fskBursts(r, 8000);
			if (f.length !== 1 || Math.abs(f[0].t0 - 0.25) > 0.04 || Math.abs(f[0].t1 - 0.55) > 0.04) return 'burst at 0.25-0.55 s found as ' + JSON.stringify(f);
			const d = new Int16Array(8000);
			for (let i = 0; i < d.length; i++) d[i] = Math.round(5000 * (Math.sin(2 * Math.PI * 697 * i / 8000) + Math.sin(2 * Math.PI * 1209 * i / 8000)));
			if (Plot.fskBursts(d, 8000).length) return 'DTMF 1 taken for FSK';
			const s = new Int16Array(8000);
			for (let i = 0; i < s.length; i++) s[i] = Math.round(8000 * Math.sin(2 * Math.PI * 1200 * i / 8000));
			if (Plot.fskBursts(s, 8000).length) return 'a steady 1200 Hz taken for FSK';
			return '';
		})()`,
		"wav": `(() => {
			const wav = (fmt, ch, rate, bits, n) => {
				const b = new ArrayBuffer(44 + 2 * n * ch), d = new DataView(b), s = (o, t) => [...t].forEach((c, i) => d.setUint8(o + i, c.charCodeAt(0)));
				s(0, 'RIFF'); d.setUint32(4, 36 + 2 * n * ch, true); s(8, 'WAVE');
				s(12, 'fmt '); d.setUint32(16, 16, true); d.setUint16(20, fmt, true); d.setUint16(22, ch, true);
				d.setUint32(24, rate, true); d.setUint16(34, bits, true);
				s(36, 'data'); d.setUint32(40, 2 * n * ch, true);
				for (let i = 0; i < n * ch; i++) d.setInt16(44 + 2 * i, i * 37 - 1000, true);
				return b;
			};
			const w = Plot.parseWAV(wav(1, 2, 8000, 16, 100));
			if (w.rate !== 8000 || w.channels.length !== 2 || w.channels[0].length !== 100) return 'valid file read as ' + w.rate + '/' + w.channels.length;
			for (let i = 0; i < 100; i++) if (w.channels[0][i] !== 2 * i * 37 - 1000 || w.channels[1][i] !== (2 * i + 1) * 37 - 1000) return 'sample ' + i + ' differs';
			const bad = [[wav(3, 1, 8000, 16, 4), 'not PCM'], [wav(1, 3, 8000, 16, 4), '3 channels'], [wav(1, 1, 8000, 8, 4), '8 bits'],
				[wav(1, 1, 0, 16, 4), 'sample rate 0'], [new ArrayBuffer(8), 'not a RIFF/WAVE'], [wav(1, 1, 8000, 16, 4).slice(0, 36), 'no data chunk']];
			for (const [b, want] of bad) {
				try { Plot.parseWAV(b); return 'accepted: ' + want; } catch (e) { if (!e.message.includes(want)) return 'error ' + e.message + ', want ' + want; }
			}
			let seed = 3;
			const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 8;
			const base = new Uint8Array(wav(1, 1, 8000, 16, 8));
			for (let k = 0; k < 3000; k++) {
				const b = base.slice(0, rnd() % (base.length + 1));
				for (let m = rnd() % 6; m > 0; m--) if (b.length) b[rnd() % b.length] = rnd() & 255;
				try {
					const v = Plot.parseWAV(b.buffer);
					const n = v.channels.reduce((a, c) => a + c.length, 0);
					if (2 * n > b.length || !(v.rate > 0)) return 'random buffer ' + k + ': ' + n + ' samples from ' + b.length + ' bytes at ' + v.rate;
				} catch (e) { if (!(e instanceof Error) || !e.message) return 'random buffer ' + k + ' threw ' + e; }
			}
			return '';
		})()`,
	}
	for name, js := range checks {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if got != "" {
			t.Errorf("%s: %s", name, strings.TrimSpace(got))
		}
	}
}
