// AudioWorklet processor "pcm-capture": the microphone's blocks (128 frames at the context's rate)
// mixed to mono, downsampled to 16 kHz, turned into 16-bit integers and posted to the page in
// chunks (an ArrayBuffer of int16 little-endian samples, transferred; 250 ms by default).
// The page sends each chunk as one binary WebSocket message. "flush" posts what is left.

import { PcmChunker } from "./resampler.js";

class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.stopped = false;
    this.chunker = new PcmChunker(sampleRate, {
      outRate: o.targetRate || 16000,
      chunkSamples: o.chunkSamples || 4000,
      onChunk: (pcm, rms) => this.port.postMessage({ type: "audio", pcm: pcm.buffer, rms }, [pcm.buffer]),
    });
    this.port.onmessage = (e) => {
      if (e.data === "flush") {
        this.chunker.flush();
        this.port.postMessage({ type: "flushed" });
      } else if (e.data === "stop") {
        this.stopped = true;
      }
    };
  }

  process(inputs) {
    if (this.stopped) return false;
    const input = inputs[0];
    if (input && input.length && input[0].length) this.chunker.push(input);
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
