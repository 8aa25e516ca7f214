// Signal helpers of the panel: WAV parsing, FFT, level, spectrum,
// waveform and spectrogram plots. Plain browser JavaScript, no libraries.
'use strict';
const Plot = (() => {
  // fft transforms re/im (length a power of two) in place.
  function fft(re, im) {
    const n = re.length;
    for (let i = 1, j = 0; i < n; i++) {
      let bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) { [re[i], re[j]] = [re[j], re[i]]; [im[i], im[j]] = [im[j], im[i]]; }
    }
    for (let len = 2; len <= n; len <<= 1) {
      const ang = -2 * Math.PI / len, wr = Math.cos(ang), wi = Math.sin(ang);
      for (let i = 0; i < n; i += len) {
        let cr = 1, ci = 0;
        for (let k = 0; k < len / 2; k++) {
          const a = i + k, b = a + len / 2;
          const tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
          re[b] = re[a] - tr; im[b] = im[a] - ti; re[a] += tr; im[a] += ti;
          const nr = cr * wr - ci * wi; ci = cr * wi + ci * wr; cr = nr;
        }
      }
    }
  }

  // power returns |X(k)|² for k < n/2 of a Hann-windowed frame of x at off.
  function power(x, off, n) {
    const re = new Float64Array(n), im = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = off + i < x.length ? x[off + i] : 0;
      re[i] = v * (0.5 - 0.5 * Math.cos(2 * Math.PI * i / n));
    }
    fft(re, im);
    const p = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) p[k] = re[k] * re[k] + im[k] * im[k];
    return p;
  }

  // dBm0 of 16-bit PCM: a sine of peak 32767·10^(-3.14/20) is 0 dBm0
  // (the project's convention, fxs/dsp tests).
  function levelDbm0(x) {
    if (!x.length) return -Infinity;
    let s = 0;
    for (const v of x) s += v * v;
    const rms = Math.sqrt(s / x.length);
    return rms > 0 ? 20 * Math.log10(rms * Math.SQRT2 / 32767) + 3.14 : -Infinity;
  }

  // parseWAV reads 16-bit PCM WAV; errors name what is wrong.
  function parseWAV(buf) {
    const d = new DataView(buf);
    const str = (o, n) => String.fromCharCode(...new Uint8Array(buf, o, n));
    if (buf.byteLength < 12 || str(0, 4) !== 'RIFF' || str(8, 4) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
    let fmt = null;
    for (let off = 12; off + 8 <= buf.byteLength;) {
      const id = str(off, 4), size = d.getUint32(off + 4, true), body = off + 8;
      if (id === 'fmt ') {
        if (size < 16 || body + 16 > buf.byteLength) throw new Error(`fmt chunk of ${size} bytes`);
        fmt = { format: d.getUint16(body, true), channels: d.getUint16(body + 2, true),
          rate: d.getUint32(body + 4, true), bits: d.getUint16(body + 14, true) };
        if (fmt.format !== 1) throw new Error(`format ${fmt.format} is not PCM`);
        if (fmt.bits !== 16) throw new Error(`${fmt.bits} bits per sample, want 16`);
        if (fmt.channels < 1 || fmt.channels > 2) throw new Error(`${fmt.channels} channels, want 1 or 2`);
        if (fmt.rate < 1000 || fmt.rate > 48000) throw new Error(`sample rate ${fmt.rate}`);
      } else if (id === 'data') {
        if (!fmt) throw new Error('data chunk before fmt');
        const n = Math.floor(Math.min(size, buf.byteLength - body) / 2 / fmt.channels);
        const ch = [];
        for (let c = 0; c < fmt.channels; c++) ch.push(new Int16Array(n));
        for (let i = 0; i < n; i++) for (let c = 0; c < fmt.channels; c++) ch[c][i] = d.getInt16(body + 2 * (i * fmt.channels + c), true);
        return { rate: fmt.rate, channels: ch };
      }
      off = body + size + (size & 1);
    }
    throw new Error('no data chunk');
  }

  // decodeB64PCM turns base64 16-bit little-endian PCM into an Int16Array.
  function decodeB64PCM(s) {
    const b = atob(s), out = new Int16Array(b.length >> 1);
    for (let i = 0; i < out.length; i++) {
      const v = b.charCodeAt(2 * i) | (b.charCodeAt(2 * i + 1) << 8);
      out[i] = v > 32767 ? v - 65536 : v;
    }
    return out;
  }

  // drawSpectrum plots the spectrum of x (0..rate/2) and returns the peak's
  // frequency and level (dB relative to full scale), or null for silence.
  function drawSpectrum(cv, x, rate) {
    const g = cv.getContext('2d'), W = cv.width, H = cv.height, n = 1024;
    g.fillStyle = '#111'; g.fillRect(0, 0, W, H);
    grid(g, W, H, rate / 2, 500, 'Hz');
    if (x.length < n) return null;
    const acc = new Float64Array(n / 2);
    let frames = 0;
    for (let off = 0; off + n <= x.length; off += n / 2, frames++) {
      const p = power(x, off, n);
      for (let k = 0; k < n / 2; k++) acc[k] += p[k];
    }
    const ref = (32767 * n / 4) ** 2;
    let peak = 1, peakDb = -Infinity;
    g.strokeStyle = '#4fc3f7'; g.beginPath();
    for (let k = 1; k < n / 2; k++) {
      const db = 10 * Math.log10(acc[k] / frames / ref + 1e-12);
      if (db > peakDb) { peakDb = db; peak = k; }
      const px = k / (n / 2) * W, py = H - (db + 100) / 100 * H;
      k === 1 ? g.moveTo(px, py) : g.lineTo(px, py);
    }
    g.stroke();
    return peakDb < -80 ? null : { hz: peak * rate / n, db: peakDb };
  }

  function grid(g, W, H, max, step, unit) {
    g.strokeStyle = '#333'; g.fillStyle = '#888'; g.font = '10px sans-serif';
    for (let v = step; v < max; v += step) {
      const px = v / max * W;
      g.beginPath(); g.moveTo(px, 0); g.lineTo(px, H); g.stroke();
      g.fillText(v + (v === step ? ' ' + unit : ''), px + 2, 10);
    }
  }

  // drawMarks shades the marks ({t0, t1, label, color}) over a plot of dur s.
  function drawMarks(g, W, H, dur, marks) {
    for (const m of marks) {
      const x0 = m.t0 / dur * W, x1 = Math.max(x0 + 2, (m.t1 ?? m.t0) / dur * W);
      g.fillStyle = m.color + '44'; g.fillRect(x0, 0, x1 - x0, H);
      g.fillStyle = m.color; g.font = '11px sans-serif'; g.fillText(m.label, x0 + 2, H - 4);
    }
  }

  function drawWave(cv, x, rate, marks) {
    const g = cv.getContext('2d'), W = cv.width, H = cv.height, dur = x.length / rate;
    g.fillStyle = '#111'; g.fillRect(0, 0, W, H);
    grid(g, W, H, dur, dur > 20 ? 5 : 1, 's');
    drawMarks(g, W, H, dur, marks);
    g.strokeStyle = '#81c784'; g.beginPath();
    const per = Math.max(1, Math.floor(x.length / W));
    for (let px = 0; px < W; px++) {
      let lo = 0, hi = 0;
      for (let i = px * per; i < Math.min(x.length, (px + 1) * per); i++) { lo = Math.min(lo, x[i]); hi = Math.max(hi, x[i]); }
      g.moveTo(px, H / 2 - hi / 32768 * H / 2); g.lineTo(px, H / 2 - lo / 32768 * H / 2 + 1);
    }
    g.stroke();
  }

  function drawSpectrogram(cv, x, rate, marks) {
    const g = cv.getContext('2d'), W = cv.width, H = cv.height, n = 256, dur = x.length / rate;
    const img = g.createImageData(W, H), ref = (32767 * n / 4) ** 2;
    const hop = Math.max(1, (x.length - n) / W);
    for (let px = 0; px < W; px++) {
      const p = power(x, Math.floor(px * hop), n);
      for (let py = 0; py < H; py++) {
        const k = Math.min(n / 2 - 1, Math.floor((H - 1 - py) / H * n / 2));
        const db = 10 * Math.log10(p[k] / ref + 1e-12);
        const v = Math.max(0, Math.min(1, (db + 90) / 80));
        const o = 4 * (py * W + px);
        img.data[o] = 255 * Math.min(1, v * 2); img.data[o + 1] = 255 * Math.max(0, v * 2 - 1);
        img.data[o + 2] = 120 * (1 - v) + 40; img.data[o + 3] = 255;
      }
    }
    g.putImageData(img, 0, 0);
    g.strokeStyle = '#fff3'; g.fillStyle = '#ccc'; g.font = '10px sans-serif';
    for (let f = 1000; f < rate / 2; f += 1000) { const py = H - f / (rate / 2) * H; g.fillText(f + ' Hz', 2, py - 2); }
    drawMarks(g, W, H, dur, marks);
  }

  // fskBursts finds the Bell 202 bursts (caller ID, message waiting):
  // stretches of at least 60 ms whose energy lies in 1100-2300 Hz, with both
  // the mark (1200 Hz) and the space (2200 Hz) tone present in the stretch.
  // Returns [{t0, t1}] in seconds.
  function fskBursts(x, rate) {
    const n = 256, frames = [];
    const floor = (32767 * n / 4) ** 2 * 1e-6;
    for (let off = 0; off + n <= x.length; off += n) {
      const p = power(x, off, n);
      let tot = 0, band = 0, mark = 0, space = 0;
      for (let k = 1; k < n / 2; k++) {
        const hz = k * rate / n;
        tot += p[k];
        if (hz >= 1100 && hz <= 2300) band += p[k];
        if (hz >= 1050 && hz <= 1350) mark += p[k];
        if (hz >= 2050 && hz <= 2350) space += p[k];
      }
      frames.push({ on: tot > floor && band / tot > 0.7, tot, mark, space });
    }
    const out = [];
    for (let i = 0; i < frames.length;) {
      if (!frames[i].on) { i++; continue; }
      let j = i, tot = 0, mark = 0, space = 0;
      while (j < frames.length && (frames[j].on || (j + 1 < frames.length && frames[j + 1].on))) {
        tot += frames[j].tot; mark += frames[j].mark; space += frames[j].space; j++;
      }
      if ((j - i) * n / rate >= 0.06 && mark >= 0.1 * tot && space >= 0.1 * tot) out.push({ t0: i * n / rate, t1: j * n / rate });
      i = j;
    }
    return out;
  }

  return { fft, levelDbm0, parseWAV, decodeB64PCM, drawSpectrum, drawWave, drawSpectrogram, fskBursts };
})();
