// Browser half of `cargo xtask bench pixels`: in one page, decode the same frames with
// rangsi-pixels compiled to wasm (crates/pixels-bench-wasm; also built with +simd128
// when run.mjs serves that build) and with the decoder
// Cornerstone3D uses for that transfer syntax, check both outputs against the source
// pixels (and each other), then time each decoder. run.mjs serves this page and calls
// window.runBench(options); the result is plain JSON.
//
// Peers: @cornerstonejs/codec-openjpeg (JPEG 2000), codec-openjph (HTJ2K), codec-charls
// (JPEG-LS), codec-libjpeg-turbo-8bit (JPEG Baseline), all emscripten builds, used the
// way Cornerstone's dicom-image-loader uses them (encoded bytes copied into the codec,
// decode, decoded samples copied out); jpeg-lossless-decoder-js (plain JS, what the
// dicom-image-loader uses for JPEG Lossless); and for native frames the typed-array
// copy the loader makes. RLE has no peer here.

import initRangsi, { FrameDecoder } from '/pkg/rangsi_pixels_bench_wasm.js';

// The same crate built with `-C target-feature=+simd128` (options.simd), when run.mjs serves it.
let SimdFrameDecoder = null;
import { Decoder as JpegLosslessDecoder } from '/node_modules/jpeg-lossless-decoder-js/release/lossless.js';

const CODECS = '/node_modules/@cornerstonejs';

// Emscripten factories in the packages' CommonJS/UMD wrappers: evaluated with a local
// `module` so that several of them (two call themselves `Module`) can share the page.
async function emscripten(script, wasmDir) {
  const source = await (await fetch(script)).text();
  const module = { exports: {} };
  new Function('module', 'exports', source)(module, module.exports);
  // Quiet, as an application would ship it: OpenJPEG logs three lines per frame.
  const quiet = () => {};
  return module.exports({ locateFile: (file) => `${wasmDir}/${file}`, print: quiet, printErr: quiet });
}

const PEERS = {
  j2k: {
    name: '@cornerstonejs/codec-openjpeg (OpenJPEG, wasm)',
    wasm: `${CODECS}/codec-openjpeg/dist/openjpegwasm_decode.wasm`,
    make: async () => emscriptenDecoder(
      await emscripten(`${CODECS}/codec-openjpeg/dist/openjpegwasm_decode.js`, `${CODECS}/codec-openjpeg/dist`),
      'J2KDecoder'),
  },
  htj2k: {
    name: '@cornerstonejs/codec-openjph (OpenJPH, wasm)',
    wasm: `${CODECS}/codec-openjph/dist/openjphjs.wasm`,
    make: async () => emscriptenDecoder(
      await emscripten(`${CODECS}/codec-openjph/dist/openjphjs.js`, `${CODECS}/codec-openjph/dist`),
      'HTJ2KDecoder'),
  },
  'jpeg-ls': {
    name: '@cornerstonejs/codec-charls (CharLS, wasm)',
    wasm: `${CODECS}/codec-charls/dist/charlswasm_decode.wasm`,
    make: async () => emscriptenDecoder(
      await emscripten(`${CODECS}/codec-charls/dist/charlswasm_decode.js`, `${CODECS}/codec-charls/dist`),
      'JpegLSDecoder'),
  },
  'jpeg-baseline': {
    name: '@cornerstonejs/codec-libjpeg-turbo-8bit (libjpeg-turbo, wasm)',
    wasm: `${CODECS}/codec-libjpeg-turbo-8bit/dist/libjpegturbowasm_decode.wasm`,
    make: async () => emscriptenDecoder(
      await emscripten(`${CODECS}/codec-libjpeg-turbo-8bit/dist/libjpegturbowasm_decode.js`,
        `${CODECS}/codec-libjpeg-turbo-8bit/dist`),
      'JPEGDecoder'),
  },
  'jpeg-lossless': {
    name: 'jpeg-lossless-decoder-js (plain JS, Cornerstone\'s JPEG Lossless decoder)',
    js: '/node_modules/jpeg-lossless-decoder-js/release/lossless.js',
    make: async () => {
      const decoder = new JpegLosslessDecoder();
      return (bytes, s) => {
        const out = decoder.decode(bytes.buffer, bytes.byteOffset, bytes.length, s.bits_allocated <= 8 ? 1 : 2);
        return typed(s, out.buffer, 0, out.byteLength, false);
      };
    },
  },
  native: {
    name: 'typed-array copy (what Cornerstone does with native frames)',
    make: async () => (bytes, s) => typed(s, bytes.buffer, bytes.byteOffset, bytes.byteLength, true),
  },
};

// Samples of `s`'s type over bytes [offset, offset + length) of `buffer`; copied when `copy`.
function typed(s, buffer, offset, length, copy) {
  const Type = s.bits_allocated <= 8 ? Uint8Array : s.pixel_representation ? Int16Array : Uint16Array;
  const view = new Type(buffer, offset, length / Type.BYTES_PER_ELEMENT);
  return copy ? view.slice() : view;
}

function emscriptenDecoder(lib, className) {
  const decoder = new lib[className]();
  return (bytes, s) => {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    decoder.decode();
    const info = decoder.getFrameInfo();
    if (info.width !== s.columns || info.height !== s.rows) {
      throw new Error(`decoded ${info.width}×${info.height}, expected ${s.columns}×${s.rows}`);
    }
    const out = decoder.getDecodedBuffer();
    return typed(s, out.buffer, out.byteOffset, out.byteLength, true);
  };
}

function rangsiDecoder(s, Decoder) {
  const decoder = new Decoder(s.ts, s.rows, s.columns, s.bits_allocated, s.bits_stored,
    s.high_bit, s.pixel_representation, s.photometric);
  const kind = s.bits_allocated <= 8 ? 'decode_u8' : s.pixel_representation ? 'decode_i16' : 'decode_u16';
  return (bytes) => decoder[kind](bytes);
}

// Lossy frames: rangsi's wasm output against the native build's, written by
// pixels-bench-native (IDCTs may round differently on different targets).
async function compareWithNative(s, decoded) {
  let maxDiff = 0;
  let differing = 0;
  let total = 0;
  for (let n = 0; n < decoded.length; n++) {
    const r = await fetch(`/native/${s.id}/${String(n).padStart(3, '0')}.raw`);
    if (!r.ok) return `native frame ${n} not available (HTTP ${r.status})`;
    const buffer = await r.arrayBuffer();
    const native = typed(s, buffer, 0, buffer.byteLength, false);
    const wasm = decoded[n];
    if (native.length !== wasm.length) return `native frame ${n} has ${native.length} samples`;
    for (let i = 0; i < wasm.length; i++) {
      const d = Math.abs(wasm[i] - native[i]);
      if (d) { differing++; maxDiff = Math.max(maxDiff, d); }
    }
    total += wasm.length;
  }
  return differing === 0
    ? 'identical to native'
    : `differs from native in ${(100 * differing / total).toFixed(2)} % of samples, max |Δ| ${maxDiff}`;
}

// Same checksum as prepare.py and the native bench: exact in doubles for these frames.
function checksum(a) {
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < a.length; i++) {
    sum += a[i];
    weighted += a[i] * ((i % 65521) + 1);
  }
  return [sum, weighted];
}

// FNV-1a 64 over each checksum pair as little-endian i64s, as the native bench prints it.
function digest(sums) {
  const mask = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  for (const pair of sums) {
    for (const x of pair) {
      let v = BigInt.asUintN(64, BigInt(x));
      for (let k = 0; k < 8; k++) {
        h = ((h ^ (v & 0xffn)) * 0x100000001b3n) & mask;
        v >>= 8n;
      }
    }
  }
  return h.toString(16).padStart(16, '0');
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function errorText(e) {
  return String(e && e.message ? e.message : e).replace(/\s+/g, ' ').slice(0, 300);
}

async function benchSyntax(s, options, log) {
  const frames = await Promise.all(s.files.map(async (f) => {
    const r = await fetch(`/data/${f}`);
    if (!r.ok) throw new Error(`/data/${f}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  }));
  const peer = PEERS[s.id];
  const decoders = [{ role: 'rangsi', name: 'rangsi-pixels (wasm)', make: async () => rangsiDecoder(s, FrameDecoder) }];
  if (SimdFrameDecoder) {
    decoders.push({
      role: 'rangsi-simd128',
      name: 'rangsi-pixels (wasm, +simd128)',
      make: async () => rangsiDecoder(s, SimdFrameDecoder),
    });
  }
  if (peer) decoders.push({ role: 'peer', name: peer.name, make: peer.make });
  const results = [];
  const outputs = [];
  for (const d of decoders) {
    const r = { role: d.role, name: d.name };
    results.push(r);
    try {
      d.decode = await d.make();
      // Checked pass (also the warm-up): every frame against the source's checksum.
      const sums = [];
      const decoded = [];
      for (let n = 0; n < frames.length; n++) {
        const px = d.decode(frames[n], s);
        if (px.length !== s.rows * s.columns) throw new Error(`frame ${n}: ${px.length} samples`);
        const sum = checksum(px);
        if (!s.lossy && (sum[0] !== s.expected[n][0] || sum[1] !== s.expected[n][1])) {
          throw new Error(`frame ${n}: decoded pixels differ from the source`);
        }
        sums.push(sum);
        decoded.push(px);
      }
      r.digest = digest(sums);
      if (d.role.startsWith('rangsi') && s.lossy && options.native) {
        r.native_agreement = await compareWithNative(s, decoded);
      }
      r.check = s.lossy ? 'lossy' : `${frames.length}/${frames.length} frames identical to the source`;
      outputs.push(decoded);
      r.runs = [];
      d.cursor = 0;
      d.ok = true;
    } catch (e) {
      r.error = errorText(e);
      outputs.push(null);
    }
  }
  // Sample by sample, rangsi against the peer (the only check for lossy JPEG).
  const peerAt = decoders.findIndex((d) => d.role === 'peer');
  if (peerAt > 0 && outputs[0] && outputs[peerAt]) {
    let maxDiff = 0;
    let differing = 0;
    let total = 0;
    for (let n = 0; n < frames.length; n++) {
      const a = outputs[0][n];
      const b = outputs[peerAt][n];
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i] - b[i]);
        if (d) { differing++; maxDiff = Math.max(maxDiff, d); }
      }
      total += a.length;
    }
    results[peerAt].agreement = differing === 0
      ? 'identical to rangsi'
      : `differs from rangsi in ${(100 * differing / total).toFixed(2)} % of samples, max |Δ| ${maxDiff}`;
  }
  outputs.length = 0;
  // Timed runs, interleaved between the decoders; each run at least options.seconds.
  // Run -1 is a warm-up that is not counted: V8 first runs wasm and JS in baseline
  // tiers and optimises hot functions later, which the checked pass alone may not cover.
  for (let run = -1; run < options.runs; run++) {
    for (let k = 0; k < decoders.length; k++) {
      const d = decoders[k];
      if (!d.ok) continue;
      try {
        const started = performance.now();
        let count = 0;
        let elapsed = 0;
        while (count === 0 || elapsed < options.seconds * 1000) {
          d.decode(frames[d.cursor], s);
          d.cursor = (d.cursor + 1) % frames.length;
          count++;
          elapsed = performance.now() - started;
        }
        if (run >= 0) results[k].runs.push(count / (elapsed / 1000));
      } catch (e) {
        results[k].error = errorText(e);
        d.ok = false;
      }
    }
  }
  for (const r of results) {
    if (!r.error) r.fps = median(r.runs);
  }
  log(`${s.id}: ${results.map((r) => `${r.role} ${r.error ? 'error' : r.fps.toFixed(1) + ' fps'}`).join(', ')}`);
  return { id: s.id, results };
}

window.runBench = async (options) => {
  const log = (line) => console.log(`page: ${line}`);
  await initRangsi({ module_or_path: '/pkg/rangsi_pixels_bench_wasm_bg.wasm' });
  if (options.simd) {
    const simd = await import('/pkg-simd128/rangsi_pixels_bench_wasm.js');
    await simd.default({ module_or_path: '/pkg-simd128/rangsi_pixels_bench_wasm_bg.wasm' });
    SimdFrameDecoder = simd.FrameDecoder;
  }
  const manifest = await (await fetch('/data/manifest.json')).json();
  const syntaxes = [];
  for (const s of manifest.syntaxes) {
    if (options.only && !options.only.includes(s.id)) continue;
    try {
      syntaxes.push(await benchSyntax(s, options, log));
    } catch (e) {
      syntaxes.push({ id: s.id, error: errorText(e) });
    }
  }
  const peers = Object.entries(PEERS)
    .filter(([, p]) => p.wasm || p.js)
    .map(([id, p]) => ({ id, name: p.name, file: p.wasm || p.js }));
  return { userAgent: navigator.userAgent, syntaxes, peers };
};

document.querySelector('[data-testid=status]').textContent = 'ready';
window.benchReady = true;
