// Where the time to the first image goes, for one viewer: the same set-up as run.mjs
// (fresh data dir, `rangsi serve`, proxy.mjs for OHIF), one load in a fresh profile
// with a Chromium trace (CDP Tracing via playwright), then a timeline on stdout:
// every request (page and workers) with start and end in ms from navigation, and the
// main thread's and workers' busiest tasks before the first image. The trace itself is
// written to --trace FILE (open it in chrome://tracing or Perfetto).
//
// Usage: node profile.mjs --rangsi BIN --ohif DIST --data CTDIR [--viewer rangsi|ohif]
//        [--link 30/10] [--trace FILE] [--br-cache DIR]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { startProxy } from './proxy.mjs';
import { GPU_FLAGS, PASSWORD, PROBE, USER, startRangsi } from './run.mjs';

function parseArgs(argv) {
  const o = { viewer: 'rangsi', link: '', trace: path.join(os.tmpdir(), 'rangsi-viewer-trace.json') };
  for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (!o.rangsi || !o.data || (o.viewer === 'ohif' && !o.ohif)) throw new Error('usage: node profile.mjs --rangsi BIN --ohif DIST --data CTDIR');
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const study = JSON.parse(fs.readFileSync(path.join(o.data, 'manifest.json'), 'utf8')).studies[0];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rangsi-profile-'));
  const rangsi = await startRangsi(o.rangsi, o.data, work);
  const proxy = o.viewer === 'ohif'
    ? await startProxy({ dist: o.ohif, upstream: rangsi.url, token: rangsi.token, brCache: o['br-cache'] })
    : null;
  const base = proxy ? proxy.url : rangsi.url;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: GPU_FLAGS.webgpu });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    await context.addInitScript({ content: PROBE });
    const page = await context.newPage();
    const requests = [];
    context.on('requestfinished', (r) => requests.push(r));
    if (o.viewer === 'rangsi') {
      const r = await page.request.post(`${base}/api/login`, { data: { username: USER, password: PASSWORD } });
      if (!r.ok()) throw new Error(`login ${r.status()}`);
    }
    if (o.link) {
      const [mbit, ms] = o.link.split('/').map(Number);
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false, latency: ms, downloadThroughput: (mbit * 1e6) / 8, uploadThroughput: (mbit * 1e6) / 8,
      });
    }
    await browser.startTracing(page, {
      path: o.trace,
      categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'v8', 'toplevel', 'blink.user_timing', 'gpu', 'webgpu', 'v8.wasm', 'loading'],
    });
    const navAt = Date.now();
    await page.goto(`${base}/viewer?StudyInstanceUIDs=${study.study_uid}`, { waitUntil: 'commit' });
    await page.waitForFunction(() => window.__bench.firstImage !== null, null, { timeout: 120000 });
    const first = await page.evaluate(() => window.__bench.firstImage);
    const origin = await page.evaluate(() => performance.timeOrigin);
    await page.waitForTimeout(500);
    await browser.stopTracing();
    console.log(`first image at ${first.toFixed(0)} ms (page clock skew vs node ${(origin - navAt).toFixed(0)} ms)`);
    console.log('requests finished before the first image + 500 ms (ms from navigation start):');
    const rows = [];
    for (const r of requests) {
      const t = r.timing();
      const start = t.startTime - origin;
      if (start > first + 500) continue;
      let worker = false;
      try { r.frame(); } catch { worker = true; }
      rows.push({ start, end: start + t.responseEnd, ttfb: t.responseStart, url: r.url().replace(base, '').slice(0, 110), worker });
    }
    rows.sort((a, b) => a.start - b.start);
    for (const r of rows) {
      console.log(`  ${r.start.toFixed(0).padStart(6)} → ${r.end.toFixed(0).padStart(6)}  (ttfb ${r.ttfb.toFixed(0).padStart(4)})  ${r.worker ? '[worker] ' : ''}${r.url}`);
    }
    summariseTrace(o.trace, origin, first);
  } finally {
    await browser.close();
    await proxy?.close();
    await rangsi.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Per thread, the busiest top-level tasks (and what ran in them) before the first image. */
function summariseTrace(file, originMs, firstMs) {
  const trace = JSON.parse(fs.readFileSync(file, 'utf8'));
  const events = trace.traceEvents || trace;
  const names = new Map();
  for (const e of events) {
    if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args.name);
  }
  // Trace timestamps are µs on a monotonic clock: anchor on the navigation's start.
  const nav = events.find((e) => e.name === 'navigationStart' || e.name === 'NavigationBodyLoader::StartLoadingBody');
  const t0 = nav ? nav.ts : Math.min(...events.filter((e) => e.ts).map((e) => e.ts));
  const until = t0 + (firstMs + 50) * 1000;
  const busy = new Map();
  for (const e of events) {
    if (e.ph !== 'X' || !e.dur || e.ts > until) continue;
    const thread = names.get(`${e.pid}:${e.tid}`) || `${e.pid}:${e.tid}`;
    if (!/CrRendererMain|DedicatedWorker|Compositor|VizCompositor|CrGpuMain|ThreadPoolForeground/.test(thread)) continue;
    if (!['RunTask', 'ThreadControllerImpl::RunTask'].includes(e.name)) continue;
    const list = busy.get(thread) || [];
    list.push(e);
    busy.set(thread, list);
  }
  const inner = (task, thread) => events
    .filter((e) => e.ph === 'X' && e.dur && names.get(`${e.pid}:${e.tid}`) === thread && e.ts >= task.ts && e.ts + e.dur <= task.ts + task.dur && e !== task && e.dur > 2000)
    .sort((a, b) => b.dur - a.dur)
    .slice(0, 4)
    .map((e) => `${e.name}${e.args?.data?.url ? ` ${String(e.args.data.url).split('/').pop()}` : ''} ${(e.dur / 1000).toFixed(0)}ms`)
    .join(', ');
  console.log(`\nbusy threads until the first image (trace anchored ${nav ? `on ${nav.name}` : 'on its first event'}):`);
  for (const [thread, tasks] of busy) {
    const total = tasks.reduce((s, e) => s + e.dur, 0) / 1000;
    if (total < 20) continue;
    console.log(`  ${thread}: ${total.toFixed(0)} ms in ${tasks.length} tasks; longest:`);
    for (const t of tasks.sort((a, b) => b.dur - a.dur).slice(0, 5)) {
      console.log(`    at ${((t.ts - t0) / 1000).toFixed(0).padStart(5)} ms, ${(t.dur / 1000).toFixed(0).padStart(4)} ms: ${inner(t, thread)}`);
    }
  }
}

main().catch((e) => {
  console.error(`profile.mjs: ${e.stack || e}`);
  process.exit(1);
});
