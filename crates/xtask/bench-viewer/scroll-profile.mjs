// Where a scroll step's time goes: Rangsi's viewer on a deep link (loopback), the whole
// series loaded, then one wheel event per animation frame for a few seconds under a
// Chromium trace; prints the frames, slices drawn, and per thread the busy time and the
// longest kinds of work (CPU time per wheel step: which process the frame waits on).
// Usage: node scroll-profile.mjs --rangsi BIN --data CTDIR [--seconds 3] [--gpu webgpu|webgl2]
//                                [--size 1280x800] [--trace FILE]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { GPU_FLAGS, PASSWORD, PROBE, USER, startRangsi } from './run.mjs';

function parseArgs(argv) {
  const o = { seconds: '3', gpu: 'webgpu', size: '1280x800', trace: path.join(os.tmpdir(), 'rangsi-scroll-trace.json') };
  for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1];
  if (!o.rangsi || !o.data) throw new Error('usage: node scroll-profile.mjs --rangsi BIN --data CTDIR');
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const study = JSON.parse(fs.readFileSync(path.join(o.data, 'manifest.json'), 'utf8')).studies[0];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rangsi-scroll-profile-'));
  const rangsi = await startRangsi(o.rangsi, o.data, work);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: GPU_FLAGS[o.gpu] });
  try {
    const [width, height] = o.size.split('x').map(Number);
    const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
    await context.addInitScript({ content: PROBE });
    const page = await context.newPage();
    const r = await page.request.post(`${rangsi.url}/api/login`, { data: { username: USER, password: PASSWORD } });
    if (!r.ok()) throw new Error(`login ${r.status()}`);
    await page.goto(`${rangsi.url}/viewer?StudyInstanceUIDs=${study.study_uid}`);
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid=viewport]');
      return el && el.dataset.total !== '0' && el.dataset.loaded === el.dataset.total;
    }, null, { timeout: 120000 });
    await page.waitForTimeout(500);
    await browser.startTracing(page, {
      path: o.trace,
      categories: ['toplevel', 'gpu', 'webgpu', 'viz', 'cc', 'benchmark', 'devtools.timeline', 'v8.execute'],
    });
    const result = await page.evaluate(async (seconds) => {
      const canvas = document.querySelector('[data-testid=viewport-canvas]');
      const rect = canvas.getBoundingClientRect();
      const slices = () => Number(canvas.dataset.slicesDrawn || 0);
      const s0 = slices();
      const frames = [];
      await new Promise((done) => {
        const end = performance.now() + seconds * 1000;
        const tick = (t) => {
          frames.push(t);
          if (t >= end) return done();
          canvas.dispatchEvent(new WheelEvent('wheel', {
            deltaY: 100, deltaMode: 0, clientX: rect.x + rect.width / 2, clientY: rect.y + rect.height / 2,
            bubbles: true, cancelable: true, view: window,
          }));
          requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      });
      const elapsed = (frames[frames.length - 1] - frames[0]) / 1000;
      return { fps: (frames.length - 1) / elapsed, slicesPerSec: (slices() - s0) / elapsed, steps: frames.length - 1, elapsed };
    }, Number(o.seconds));
    await browser.stopTracing();
    console.log(`${result.steps} wheel steps in ${result.elapsed.toFixed(2)} s: ${result.fps.toFixed(1)} fps, ${result.slicesPerSec.toFixed(1)} slices drawn/s`);
    summarise(o.trace, result.steps);
  } finally {
    await browser.close();
    await rangsi.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Per thread: busy ms (top-level tasks) per wheel step, and the costliest event names in them. */
function summarise(file, steps) {
  const trace = JSON.parse(fs.readFileSync(file, 'utf8'));
  const events = trace.traceEvents || trace;
  const names = new Map();
  const procs = new Map();
  for (const e of events) {
    if (e.ph === 'M' && e.name === 'thread_name') names.set(`${e.pid}:${e.tid}`, e.args.name);
    if (e.ph === 'M' && e.name === 'process_name') procs.set(e.pid, e.args.name);
  }
  const byThread = new Map();
  for (const e of events) {
    if (e.ph !== 'X' || !e.dur) continue;
    const key = `${procs.get(e.pid) || e.pid}/${names.get(`${e.pid}:${e.tid}`) || e.tid}`;
    const t = byThread.get(key) || { top: 0, names: new Map() };
    if (['ThreadControllerImpl::RunTask', 'RunTask'].includes(e.name)) t.top += e.dur;
    else t.names.set(e.name, (t.names.get(e.name) || 0) + e.dur);
    byThread.set(key, t);
  }
  const rows = [...byThread.entries()].sort((a, b) => b[1].top - a[1].top).slice(0, 10);
  for (const [thread, t] of rows) {
    const top = [...t.names.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6)
      .map(([n, d]) => `${n} ${(d / 1000 / steps).toFixed(2)}`).join(', ');
    console.log(`${thread}: ${(t.top / 1000 / steps).toFixed(2)} ms/step busy; ${top}`);
  }
}

main().catch((e) => {
  console.error(`scroll-profile.mjs: ${e.stack || e}`);
  process.exit(1);
});
