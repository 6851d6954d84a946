// Driver of `cargo xtask bench viewer`: Rangsi's viewer and OHIF side by side in the
// same headless Chromium (Debian's, driven by playwright-core), on the same study, from
// the same `rangsi serve`.
//
// Set-up: a fresh data dir (hospital, user, API token through the rangsi CLI), the CT
// series imported with `rangsi import`, `rangsi serve` on ephemeral ports, and
// proxy.mjs serving OHIF's dist/ with /dicomweb forwarded to that server.
// Each measured run: a fresh browser profile (no cache), CDP network emulation
// (Network.emulateNetworkConditions) from before navigation, navigation to
// /viewer?StudyInstanceUIDs=UID, then probe.js's signals. Rangsi is logged in through
// POST /api/login first (the session cookie is in the browser context).
//
// Prints one line per measurement on stdout, `kind<TAB>key=value<TAB>…` with kind
// env | run | scroll | memory (nested fields flattened with `_`, e.g.
// bytesToFirstImage_wasm); progress on stderr. Usage:
//   node run.mjs --rangsi BIN --ohif DIST --data CTDIR [--runs N] [--links 30/10,10/50]
//                [--chromium PATH] [--load-timeout S] [--scroll-seconds S] [--gpu webgpu|webgl2]
//                [--viewers rangsi,ohif] [--br-cache DIR]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { startProxy } from './proxy.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PROBE = fs.readFileSync(path.join(here, 'probe.js'), 'utf8');

const HOSPITAL = '10670';
export const USER = 'bench';
export const PASSWORD = 'bench-Password-1';
const VIEWPORT = { width: 1280, height: 800 };
const BASE_FLAGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];
/** The e2e tests' flag sets (e2e/lib/browser.js; /work/shared/ENVIRONMENT.md). */
export const GPU_FLAGS = {
  webgpu: [...BASE_FLAGS, '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--enable-features=Vulkan',
    '--use-angle=swiftshader', '--use-vulkan=swiftshader'],
  webgl2: [...BASE_FLAGS, '--enable-unsafe-swiftshader'],
};

function parseArgs(argv) {
  const o = {
    runs: 3, links: '30/10,10/50', chromium: '/usr/bin/chromium', 'load-timeout': 180,
    'scroll-seconds': 4, gpu: 'webgpu', viewers: 'rangsi,ohif',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o) && !['rangsi', 'ohif', 'data', 'br-cache'].includes(k)) throw new Error(`unknown option ${argv[i]}`);
    o[k] = argv[i + 1];
  }
  if (!o.rangsi || !o.ohif || !o.data) throw new Error('usage: node run.mjs --rangsi BIN --ohif DIST --data CTDIR');
  return {
    ...o,
    runs: Number(o.runs),
    loadTimeout: Number(o['load-timeout']) * 1000,
    scrollSeconds: Number(o['scroll-seconds']),
    links: o.links.split(',').filter(Boolean).map((l) => {
      const [mbit, ms] = l.split('/').map(Number);
      return { name: `${mbit} Mbit/s, ${ms} ms`, mbit, latencyMs: ms };
    }),
    viewers: o.viewers.split(','),
  };
}

const log = (...a) => console.error('run.mjs:', ...a);
/** Flattens `obj` (nested keys joined with `_`) into one `kind<TAB>key=value…` line. */
export function emit({ kind, ...obj }) {
  const fields = [];
  const walk = (o, prefix) => {
    for (const [k, v] of Object.entries(o)) {
      const key = prefix ? `${prefix}_${k}` : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) walk(v, key);
      else if (v !== null && v !== undefined) {
        const text = Array.isArray(v) ? v.join(' | ') : typeof v === 'number' ? String(Math.round(v * 10) / 10) : String(v);
        fields.push(`${key}=${text.replace(/[\t\n]/g, ' ')}`);
      }
    }
  };
  walk(obj, '');
  console.log([kind, ...fields].join('\t'));
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Seeds a data dir with the CT and starts `rangsi serve`; returns { url, token, stop }. */
export async function startRangsi(bin, ctDir, work) {
  const data = path.join(work, 'data');
  const env = { ...process.env, RANGSI_DATA: data, RANGSI_LOG: 'warn', RANGSI_ADMIN_PASSWORD: 'bench-admin-Password-1' };
  run(bin, ['hospital', 'add', HOSPITAL, 'โรงพยาบาลทดสอบ'], { env });
  run(bin, ['user', 'add', USER, '--hospital', HOSPITAL, '--role', 'radiologist', '--password-stdin'],
    { env, input: `${PASSWORD}\n` });
  run(bin, ['import', '--hospital', HOSPITAL, ctDir], { env });
  const token = run(bin, ['token', 'create', '--user', USER], { env }).trim().split(/\s+/).pop();
  const child = spawn(bin, ['serve', '--http', '127.0.0.1:0', '--dicom', '127.0.0.1:0'], {
    env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
  const url = await new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`rangsi serve did not start:\n${out}\n${stderr}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/rangsi: http listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`rangsi serve exited ${code}:\n${stderr}`)); });
  });
  return {
    url,
    token,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => { if (child.exitCode !== null) r(); else child.on('exit', r); });
    },
  };
}

/**
 * CPU time (ms, user + system, all threads) this browser's processes have used, by
 * Chromium process type (`/proc/PID/stat`, 100 ticks a second). On a machine shared
 * with other work this is steadier than wall time.
 */
export function processCpuMs(profile) {
  const out = {};
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd, stat;
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes(profile) && !cmd.includes(`--user-data-dir=${profile}`)) continue;
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch { continue; }
    const type = (cmd.match(/--type=([a-z-]+)/) || [null, 'browser'])[1];
    // Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out[type] = (out[type] || 0) + (Number(f[11]) + Number(f[12])) * 10;
  }
  return out;
}

/** PSS (KiB) of this browser's processes, by Chromium process type. */
function processMemory(profile) {
  const out = {};
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd;
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (!cmd.includes(profile) && !cmd.includes(`--user-data-dir=${profile}`)) continue;
    const type = (cmd.match(/--type=([a-z-]+)/) || [null, 'browser'])[1];
    let pss = 0;
    try {
      const m = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
      pss = m ? Number(m[1]) : 0;
    } catch { continue; }
    out[type] = (out[type] || 0) + pss;
  }
  return out;
}

function kindOf(url, mime) {
  const u = new URL(url);
  if (u.pathname.startsWith('/dicomweb')) return 'dicomweb';
  if (u.pathname.startsWith('/api/')) return 'api';
  const ext = path.extname(u.pathname);
  if (ext === '.wasm' || mime === 'application/wasm') return 'wasm';
  if (ext === '.js' || ext === '.mjs' || /javascript/.test(mime || '')) return 'js';
  if (ext === '.css' || mime === 'text/css') return 'css';
  if (/html/.test(mime || '') || ext === '.html' || ext === '') return 'html';
  return 'other';
}

/**
 * One fresh browser with the probe and a network recorder on the page's CDP session
 * (dedicated workers' requests are reported on it too; checked in `network`).
 */
export async function openBrowser(opts, viewer) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), `rangsi-bench-viewer-${viewer}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: opts.chromium,
    headless: true,
    args: GPU_FLAGS[opts.gpu],
    viewport: VIEWPORT,
    deviceScaleFactor: 1,
    locale: 'en-US',
  });
  const page = context.pages()[0] || (await context.newPage());
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await context.addInitScript({ content: PROBE });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Performance.enable');
  // Every finished request of the page and of its workers (the page's CDP session
  // does not see dedicated workers' requests; playwright attaches to them): bytes on
  // the wire from CDP's encodedDataLength (playwright's sizes()).
  const finished = [];
  const pending = [];
  let t0 = 0;
  context.on('requestfinished', (r) => {
    const at = Date.now() - t0;
    pending.push(r.sizes().then((sz) => {
      const resp = r.existingResponse?.() ?? null;
      let worker = false;
      try { r.frame(); } catch { worker = true; }
      finished.push({
        url: r.url(), at, bytes: sz.responseBodySize + sz.responseHeadersSize,
        mime: resp?.headers()['content-type']?.split(';')[0] || null, worker,
      });
    }).catch(() => {}));
  });
  return {
    context, page, cdp, profile, consoleLines, finished,
    markStart() { t0 = Date.now(); finished.length = 0; },
    settle: () => Promise.all(pending),
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function throttle(cdp, link) {
  if (!link) {
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    return;
  }
  const bytesPerSec = (link.mbit * 1e6) / 8;
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: link.latencyMs, downloadThroughput: bytesPerSec, uploadThroughput: bytesPerSec,
  });
}

function bytesBy(finished, untilMs) {
  const out = { wasm: 0, js: 0, css: 0, html: 0, other: 0, dicomweb: 0, api: 0, requests: 0, frames: 0, fromWorkers: 0 };
  for (const f of finished) {
    if (untilMs !== undefined && f.at > untilMs) continue;
    const k = kindOf(f.url, f.mime);
    out[k] += f.bytes;
    out.requests += 1;
    if (f.worker) out.fromWorkers += 1;
    if (/\/frames\//.test(f.url)) out.frames += 1;
  }
  out.app = out.wasm + out.js + out.css + out.html + out.other;
  return out;
}

async function state(page) {
  return page.evaluate(() => {
    const b = window.__bench;
    return b ? {
      firstImage: b.firstImage, allLoaded: b.allLoaded, loaded: b.loaded, total: b.total, renders: b.renders,
      blankChecks: b.blankChecks, backend: document.querySelector('[data-testid=viewport]')?.dataset.backend || null,
    } : null;
  });
}

/** Navigates `viewer` to the study over `link` and waits for first image and full load. */
async function measureLoad(opts, env, viewer, link, { keep = false } = {}) {
  const br = await openBrowser(opts, viewer);
  const { page, cdp } = br;
  try {
    const base = viewer === 'rangsi' ? env.rangsi.url : env.ohif.url;
    if (viewer === 'rangsi') {
      const r = await page.request.post(`${base}/api/login`, { data: { username: USER, password: PASSWORD } });
      if (!r.ok()) throw new Error(`login answered ${r.status()}`);
    }
    await throttle(cdp, link);
    br.markStart();
    const url = `${base}/viewer?StudyInstanceUIDs=${env.studyUid}`;
    const navStart = Date.now();
    await page.goto(url, { waitUntil: 'commit', timeout: 120000 });
    const deadline = navStart + opts.loadTimeout;
    let s = await state(page).catch(() => null);
    while (Date.now() < deadline) {
      s = await state(page).catch(() => null);
      if (s && s.firstImage !== null && s.allLoaded !== null) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    s = s || {};
    await br.settle();
    // The page's time origin is its navigation start, within a few ms of markStart.
    const firstAt = s.firstImage ?? undefined;
    const result = {
      kind: 'run', viewer, link: link ? link.name : 'loopback', firstImageMs: s.firstImage, allLoadedMs: s.allLoaded,
      loaded: s.loaded, total: s.total, backend: s.backend,
      bytesToFirstImage: firstAt !== undefined ? bytesBy(br.finished, firstAt + 50) : null,
      bytesTotal: bytesBy(br.finished),
      timeoutMs: opts.loadTimeout,
    };
    if (s.firstImage === null || s.firstImage === undefined) {
      result.console = br.consoleLines.slice(-15);
      await page.screenshot({ path: path.join(env.shots, `${viewer}-no-image.png`) }).catch(() => {});
    }
    if (keep) return { result, br };
    await br.close();
    return { result };
  } catch (e) {
    await page.screenshot({ path: path.join(env.shots, `${viewer}-error.png`) }).catch(() => {});
    const console_ = br.consoleLines.slice(-15);
    await br.close();
    return { result: { kind: 'run', viewer, link: link ? link.name : 'loopback', error: String(e.message || e), console: console_ } };
  }
}

/**
 * With the series loaded: one wheel event per animation frame over the viewport
 * (direction reversed at the ends of the stack) for `seconds`; counts animation frames
 * and the viewer's renders.
 */
async function measureScroll(page, seconds, total) {
  return page.evaluate(async ({ seconds, total }) => {
    const x = innerWidth / 2, y = innerHeight / 2;
    // The viewer's canvas itself (the events bubble to the viewers' wheel listeners).
    const target = document.querySelector('[data-testid=viewport-canvas]')
      || document.querySelector('canvas.cornerstone-canvas') || document.elementFromPoint(x, y);
    const rect = target.getBoundingClientRect();
    const cx = rect.x + rect.width / 2, cy = rect.y + rect.height / 2;
    const b = window.__bench;
    const renders0 = b.renders;
    const frames = [];
    let dir = 1, pos = 0;
    await new Promise((done) => {
      const end = performance.now() + seconds * 1000;
      const tick = (t) => {
        frames.push(t);
        if (t >= end) return done();
        if (pos + dir < 0 || pos + dir > total - 1) dir = -dir;
        pos += dir;
        // What a mouse wheel notch down (dir 1) or up sends in Chromium; cornerstone
        // reads the legacy wheelDeltaY first.
        target.dispatchEvent(new WheelEvent('wheel', {
          deltaY: 100 * dir, deltaMode: 0, wheelDeltaY: -120 * dir, wheelDelta: -120 * dir,
          clientX: cx, clientY: cy, bubbles: true, cancelable: true, view: window,
        }));
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const dts = frames.slice(1).map((t, i) => t - frames[i]).sort((a, b2) => a - b2);
    const elapsed = (frames[frames.length - 1] - frames[0]) / 1000;
    return {
      fps: (frames.length - 1) / elapsed,
      rendersPerSec: (b.renders - renders0) / elapsed,
      wheelEvents: frames.length - 1,
      p50FrameMs: dts[Math.floor(dts.length * 0.5)],
      p95FrameMs: dts[Math.floor(dts.length * 0.95)],
      maxFrameMs: dts[dts.length - 1],
      seconds: elapsed,
    };
  }, { seconds, total });
}

export async function measureMemory(br) {
  const { page, cdp } = br;
  await cdp.send('HeapProfiler.enable').catch(() => {});
  await cdp.send('HeapProfiler.collectGarbage').catch(() => {});
  await page.waitForTimeout(1000);
  const heap = await cdp.send('Runtime.getHeapUsage').catch((e) => ({ error: String(e) }));
  const metrics = await cdp.send('Performance.getMetrics').catch(() => ({ metrics: [] }));
  const metric = (n) => metrics.metrics.find((m) => m.name === n)?.value ?? null;
  const inPage = await page.evaluate(async () => {
    const b = window.__bench;
    const out = { wasmBytes: b.wasmMemory ? b.wasmMemory.buffer.byteLength : null, uaMemory: null };
    if (window.crossOriginIsolated && performance.measureUserAgentSpecificMemory) {
      try { out.uaMemory = (await performance.measureUserAgentSpecificMemory()).bytes; } catch { /* not allowed */ }
    }
    if (window.cornerstone?.cache?.getCacheSize) out.cornerstoneCacheBytes = window.cornerstone.cache.getCacheSize();
    return out;
  });
  return {
    jsHeapUsed: metric('JSHeapUsedSize'),
    jsHeapTotal: metric('JSHeapTotalSize'),
    heapUsage: heap,
    ...inPage,
    pssKiB: processMemory(br.profile),
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const manifest = JSON.parse(fs.readFileSync(path.join(opts.data, 'manifest.json'), 'utf8'));
  const study = manifest.studies[0];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rangsi-bench-viewer-'));
  const shots = process.env.BENCH_SHOTS || path.join(work, 'shots');
  fs.mkdirSync(shots, { recursive: true });
  let rangsi, ohif;
  try {
    log('seeding and starting rangsi serve');
    rangsi = await startRangsi(opts.rangsi, opts.data, work);
    ohif = await startProxy({ dist: opts.ohif, upstream: rangsi.url, token: rangsi.token, brCache: opts['br-cache'] });
    const env = { rangsi, ohif, studyUid: study.study_uid, shots };
    const version = await (async () => {
      const br = await chromium.launch({ executablePath: opts.chromium, headless: true, args: GPU_FLAGS[opts.gpu] });
      const v = br.version();
      await br.close();
      return v;
    })();
    emit({ kind: 'env', chromium: version, study: study.study_uid, slices: study.files.length, gpu: opts.gpu, runs: opts.runs });

    // Warm-up: fills OHIF's brotli cache in proxy.mjs and the server's page cache.
    for (const viewer of opts.viewers) {
      log(`warm-up ${viewer}`);
      const { result } = await measureLoad(opts, env, viewer, null);
      log(`warm-up ${viewer}: first image ${result.firstImageMs?.toFixed?.(0)} ms, loaded ${result.loaded}/${result.total}${result.error ? ` error ${result.error}` : ''}`);
    }
    for (const link of opts.links) {
      for (let k = 0; k < opts.runs; k += 1) {
        for (const viewer of opts.viewers) {
          log(`${viewer} over ${link.name}, run ${k + 1}/${opts.runs}`);
          const { result } = await measureLoad(opts, env, viewer, link);
          result.run = k + 1;
          emit(result);
          log(`  first image ${result.firstImageMs?.toFixed?.(0)} ms, all ${result.allLoadedMs?.toFixed?.(0)} ms, ${result.loaded}/${result.total}${result.error ? ` error ${result.error}` : ''}`);
        }
      }
    }
    // Unthrottled: load, then scroll and memory with the whole series in.
    for (const viewer of opts.viewers) {
      log(`${viewer} on loopback: load, scroll, memory`);
      const { result, br } = await measureLoad(opts, env, viewer, null, { keep: true });
      result.run = 1;
      emit(result);
      if (!br) continue;
      try {
        // Focus the viewport (a click in a corner-free spot) before scrolling.
        const scroll = await measureScroll(br.page, opts.scrollSeconds, result.total || study.files.length);
        emit({ kind: 'scroll', viewer, ...scroll });
        log(`  scroll ${scroll.fps.toFixed(1)} fps, ${scroll.rendersPerSec.toFixed(1)} renders/s`);
        await br.page.screenshot({ path: path.join(shots, `${viewer}-scrolled.png`) }).catch(() => {});
        const memory = await measureMemory(br);
        emit({ kind: 'memory', viewer, loaded: result.loaded, total: result.total, ...memory });
      } catch (e) {
        emit({ kind: 'scroll', viewer, error: String(e.message || e) });
      } finally {
        await br.close();
      }
    }
  } finally {
    await ohif?.close().catch(() => {});
    await rangsi?.stop().catch(() => {});
    if (!process.env.BENCH_SHOTS) fs.rmSync(work, { recursive: true, force: true });
    else fs.rmSync(path.join(work, 'data'), { recursive: true, force: true });
  }
}

// Run when started as a script (profile.mjs and volume.mjs import the set-up from here).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`run.mjs: ${e.stack || e}`);
    process.exit(1);
  });
}
