// Streaming downsampling to the service's 16 kHz: a windowed-sinc low-pass (Blackman window,
// cut-off at 90 % of the new Nyquist frequency) evaluated at the output instants, with linear
// interpolation between input samples, so any input rate (48 kHz, 44.1 kHz, ...) works. Used in
// the AudioWorklet (pcm-worklet.js) and, where there is no AudioWorklet, on the main thread.

/** Low-pass filter taps for downsampling by `ratio` (input rate / output rate), summing to 1. */
export function lowpassTaps(ratio, taps = 63) {
  const fc = 0.45 / ratio; // cycles per input sample
  const h = new Float32Array(taps);
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let n = 0; n < taps; n++) {
    const k = n - mid;
    const sinc = k === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * k) / (Math.PI * k);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * n) / (taps - 1)) + 0.08 * Math.cos((4 * Math.PI * n) / (taps - 1));
    h[n] = sinc * w;
    sum += h[n];
  }
  for (let n = 0; n < taps; n++) h[n] /= sum;
  return h;
}

/** A streaming resampler from `inRate` to `outRate` (mono Float32Array in, Float32Array out). */
export class Downsampler {
  constructor(inRate, outRate = 16000, taps = 63) {
    this.inRate = inRate;
    this.outRate = outRate;
    this.ratio = inRate / outRate;
    this.h = this.ratio > 1 ? lowpassTaps(this.ratio, taps) : Float32Array.of(1);
    const n = this.h.length;
    this.tail = new Float32Array(n); // the last n input samples (zeros before the stream)
    this.n0 = 0; // absolute input index of tail[0]
    this.t = n + (n - 1) / 2; // absolute input position of the next output sample (filter delay included)
  }

  /** The input (Float32Array) resampled; the few samples it cannot end yet come with the next call. */
  process(x) {
    const n = this.h.length;
    const b = new Float32Array(this.tail.length + x.length);
    b.set(this.tail, 0);
    b.set(x, this.tail.length);
    const h = this.h;
    const filtered = (j) => {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += h[k] * b[j - k];
      return acc;
    };
    const out = [];
    while (Math.floor(this.t) + 1 - this.n0 <= b.length - 1) {
      const i = Math.floor(this.t);
      const j = i - this.n0;
      const frac = this.t - i;
      out.push(frac > 0 ? filtered(j) * (1 - frac) + filtered(j + 1) * frac : filtered(j));
      this.t += this.ratio;
    }
    this.tail = b.slice(b.length - n);
    this.n0 += b.length - n;
    return Float32Array.from(out);
  }
}

/** Float samples in [-1, 1] as 16-bit integers (clipped). */
export function toInt16(x) {
  const y = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = Math.max(-1, Math.min(1, x[i]));
    y[i] = Math.round(v < 0 ? v * 32768 : v * 32767);
  }
  return y;
}

/** The channels of one block averaged to mono. */
export function mixDown(channels) {
  if (channels.length === 1) return channels[0];
  const out = new Float32Array(channels[0].length);
  for (const ch of channels) for (let i = 0; i < out.length; i++) out[i] += ch[i] / channels.length;
  return out;
}

/**
 * Collects 16 kHz int16 samples and hands them over in chunks of `chunkSamples`
 * (`onChunk(Int16Array, rms)`), e.g. 4000 samples = 250 ms.
 */
export class PcmChunker {
  constructor(inRate, { outRate = 16000, chunkSamples = 4000, onChunk }) {
    this.ds = new Downsampler(inRate, outRate);
    this.chunk = new Int16Array(chunkSamples);
    this.fill = 0;
    this.sumsq = 0;
    this.onChunk = onChunk;
  }

  push(channels) {
    const y = toInt16(this.ds.process(mixDown(channels)));
    for (let i = 0; i < y.length; i++) {
      this.chunk[this.fill++] = y[i];
      this.sumsq += (y[i] / 32768) ** 2;
      if (this.fill === this.chunk.length) this.flush();
    }
  }

  flush() {
    if (!this.fill) return;
    const out = this.chunk.slice(0, this.fill);
    const rms = Math.sqrt(this.sumsq / this.fill);
    this.fill = 0;
    this.sumsq = 0;
    this.onChunk(out, rms);
  }
}
