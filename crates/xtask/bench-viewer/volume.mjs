// Browser half of `cargo xtask bench volume`: MPR (three views) and 3D volume
// rendering of the same 300-slice CT in Rangsi's viewer and in OHIF 3.13.2
// (Cornerstone3D / vtk.js), in the same headless Chromium, from the same `rangsi serve`.
// The set-up (data dir, `rangsi serve`, OHIF behind proxy.mjs, the browser with
// probe.js, memory) is run.mjs's.
//
// Rangsi: log in, open /viewer?StudyInstanceUIDs=UID, press the toolbar's MPR button
//   (data-testid=mpr-toggle), wait until the MPR panel has drawn with every slice in
//   (data-drawn-loaded = data-total), then: scroll the axial pane, drag the crosshair
//   in the axial pane, memory; the 3D button (CT bone preset, shading on, the
//   viewer's defaults): rotate by dragging (interactive quality), zoom by the wheel
//   (each wheel step is drawn at full quality), then the same with the MIP preset.
// OHIF: open /viewer?StudyInstanceUIDs=UID&hangingProtocolId=mpr (its three-view MPR
//   protocol), wait until the series' volume in cornerstone's cache is fully loaded
//   and each of the three viewports has rendered a non-blank canvas, then: scroll the
//   axial viewport, drag with the Crosshairs tool made active on the left button,
//   memory; then, on the same page (the volume loaded), the layout switched to OHIF's
//   `only3D` protocol (one volume3d viewport, its CT-Bone preset) through its hanging
//   protocol service: rotate by dragging (its default left-button tool), zoom by wheel.
//   (Opening `hangingProtocolId=only3D` directly on a fresh page is the fallback: on
//   SwiftShader it had 5 of 300 slices after 223 s, its 3D view redrawn as slices land.)
//
// Sizes: the browser window is resized until each MPR view (Rangsi's axial pane,
// OHIF's first orthographic viewport) and the 3D view is 512 × 512 CSS pixels, at
// device pixel ratio 1.
//
// Frame time: after two idle animation frames (whatever was drawing finishes), one
// synthetic input event per requestAnimationFrame for `seconds` and until the viewer
// drew at least once (at most `max-seconds`), then two more animation frames: frame
// time = elapsed time / animation frames in which the viewer drew (Rangsi: `data-draws`
// of the MPR panel changed; OHIF: at least one CORNERSTONE_IMAGE_RENDERED). Chromium
// paces animation frames by the GPU process, so a frame the GPU has not finished
// holds back the next. rAF interval percentiles are given too.
//
// Prints `kind<TAB>key=value…` lines (kind env | ready | interact | memory | error),
// progress on stderr. Usage:
//   node volume.mjs --rangsi BIN --ohif DIST --data CTDIR [--seconds S] [--max-seconds S] [--gpu webgpu|webgl2]
//                   [--chromium PATH] [--load-timeout S] [--viewers rangsi,ohif] [--ohif-views mpr,3d]
//                   [--rangsi-views mpr,3d] [--input real|synthetic] [--br-cache DIR]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { startProxy } from './proxy.mjs';
import { GPU_FLAGS, PASSWORD, USER, emit, measureMemory, openBrowser, processCpuMs, startRangsi } from './run.mjs';

const log = (...a) => console.error('volume.mjs:', ...a);
/** `--input real` (default: Chromium's input pipeline) or `synthetic` (events made in the page). */
let INPUT = 'real';
/** Each MPR pane and the 3D view: 512 × 512 CSS (= device) pixels. */
const SIDE = 512;

function parseArgs(argv) {
  const o = {
    chromium: '/usr/bin/chromium', 'load-timeout': 300, seconds: 5, 'max-seconds': 240, gpu: 'webgpu', viewers: 'rangsi,ohif',
    'ohif-views': 'mpr,3d', 'rangsi-views': 'mpr,3d', input: 'real',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o) && !['rangsi', 'ohif', 'data', 'br-cache'].includes(k)) throw new Error(`unknown option ${argv[i]}`);
    o[k] = argv[i + 1];
  }
  if (!o.rangsi || !o.ohif || !o.data) throw new Error('usage: node volume.mjs --rangsi BIN --ohif DIST --data CTDIR');
  if (!['real', 'synthetic'].includes(o.input)) throw new Error('--input is real or synthetic');
  INPUT = o.input;
  return { ...o, seconds: Number(o.seconds), maxSeconds: Number(o['max-seconds']), loadTimeout: Number(o['load-timeout']) * 1000, viewers: o.viewers.split(',') };
}

/** Polls `fn` in the page until it returns a truthy value or `ms` pass; returns it or null. */
async function until(page, fn, arg, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // A page busy drawing (software GPU) may not answer: never wait past the deadline.
    const v = await Promise.race([
      page.evaluate(fn, arg).catch(() => null),
      new Promise((r) => setTimeout(() => r(null), Math.max(1000, end - Date.now()))),
    ]);
    if (v) return v;
    await page.waitForTimeout(250);
  }
  return null;
}

/**
 * In the page: `kind` input events (wheel | drag) on the element under (x, y), one per
 * animation frame, for `seconds` and until the viewer drew at least once (at most
 * `maxSeconds`); then two more animation frames without input. Counts the frames in
 * which `counter` (a page expression: the viewer's draw count) changed.
 */
async function interact(page, { kind, x, y, seconds, maxSeconds, counter, radius = 60, turn = 40 }) {
  return page.evaluate(async ({ kind, x, y, seconds, maxSeconds, counter, radius, turn }) => {
    const count = new Function(`return (${counter});`);
    const raf = () => new Promise((r) => requestAnimationFrame(r));
    const target = document.elementFromPoint(x, y);
    if (!target) return { error: `nothing at ${x},${y}` };
    const targetName = target.dataset?.testid || target.className || target.tagName;
    const opts = (cx, cy, buttons) => ({
      clientX: cx, clientY: cy, screenX: cx, screenY: cy, button: 0, buttons, pointerId: 1, pointerType: 'mouse',
      isPrimary: true, bubbles: true, cancelable: true, composed: true, view: window,
    });
    const fire = (type, cx, cy, buttons) => {
      const Ev = type.startsWith('pointer') ? PointerEvent : MouseEvent;
      target.dispatchEvent(new Ev(type, opts(cx, cy, buttons)));
    };
    // Whatever was still drawing (the previous step's last frame) finishes first.
    await raf();
    await raf();
    const frames = [];
    let updated = 0;
    let last = count();
    const start0 = last;
    let dir = 1, step = 0;
    if (kind === 'drag') {
      fire('pointerdown', x + radius, y, 1);
      fire('mousedown', x + radius, y, 1);
    }
    const t0 = performance.now();
    await new Promise((done) => {
      const tick = (t) => {
        frames.push(t);
        const c = count();
        if (c !== last) { updated += 1; last = c; }
        const gone = (performance.now() - t0) / 1000;
        if ((gone >= seconds && updated > 0) || gone >= maxSeconds) return done();
        step += 1;
        if (kind === 'wheel') {
          // Back and forth over `turn` notches: 40 slices for MPR; every notch for a 3D
          // zoom, so that the view keeps its size (a zoomed-out volume covers fewer pixels).
          if (step % turn === 0) dir = -dir;
          target.dispatchEvent(new WheelEvent('wheel', {
            deltaY: 100 * dir, deltaMode: 0, wheelDeltaY: -120 * dir, wheelDelta: -120 * dir,
            clientX: x, clientY: y, bubbles: true, cancelable: true, view: window,
          }));
        } else {
          // Round a circle, 6° per frame.
          const a = (step * 6 * Math.PI) / 180;
          const cx = x + radius * Math.cos(a), cy = y + radius * Math.sin(a);
          fire('pointermove', cx, cy, 1);
          fire('mousemove', cx, cy, 1);
        }
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    // The last frame asked for is drawn and presented within the next two.
    for (let k = 0; k < 2; k += 1) {
      await raf();
      const c = count();
      if (c !== last) { updated += 1; last = c; }
    }
    const elapsed = performance.now() - t0;
    if (kind === 'drag') {
      fire('pointerup', x + radius, y, 0);
      fire('mouseup', x + radius, y, 0);
    }
    const dts = frames.slice(1).map((t, i) => t - frames[i]).sort((a, b) => a - b);
    return {
      seconds: elapsed / 1000,
      inputs: step,
      rafs: frames.length,
      updated,
      draws: last - start0,
      frameMs: updated ? elapsed / updated : null,
      fps: updated ? (updated * 1000) / elapsed : 0,
      rafP50Ms: dts.length ? dts[Math.floor(dts.length * 0.5)] : null,
      rafP95Ms: dts.length ? dts[Math.floor(dts.length * 0.95)] : null,
      target: String(targetName),
    };
  }, { kind, x, y, seconds, maxSeconds, counter, radius, turn });
}

/**
 * Resizes the browser window until the box `measure()` returns (CSS px, device pixel
 * ratio 1) is `side` × `side`: the views are drawn at 512 × 512 as the issue asks.
 */
async function fitTo(page, measure, side) {
  // How much the box grows per pixel of window (OHIF's three columns: a third).
  let slope = { w: 1, h: 1 };
  let prev = null;
  for (let k = 0; k < 8; k += 1) {
    const b = await measure();
    if (!b) return null;
    const v = page.viewportSize();
    if (prev) {
      for (const [d, vd] of [['w', 'width'], ['h', 'height']]) {
        const moved = v[vd] - prev.v[vd];
        if (moved !== 0) slope[d] = Math.min(1, Math.max(0.2, (b[d] - prev.b[d]) / moved));
      }
    }
    const dw = side - b.w, dh = side - b.h;
    if (Math.abs(dw) <= 1 && Math.abs(dh) <= 1) break;
    prev = { b, v };
    await page.setViewportSize({
      width: Math.max(320, Math.round(v.width + dw / slope.w)),
      height: Math.max(320, Math.round(v.height + dh / slope.h)),
    });
    await page.waitForTimeout(1500);
  }
  return { ...(await measure()), window: page.viewportSize() };
}

async function box(page, sel) {
  const b = await page.locator(sel).first().boundingBox();
  if (!b) throw new Error(`${sel}: not on screen`);
  return { x: Math.round(b.x + b.width / 2), y: Math.round(b.y + b.height / 2), w: b.width, h: b.height };
}

/**
 * Like `interact`, but the input is real: Chromium's own input pipeline through the
 * DevTools protocol (playwright's `page.mouse`), one event per animation frame (the
 * next is sent once the page has run a frame). Real wheel and pointer events are
 * dispatched at the start of a frame, before its animation-frame callbacks, as a
 * user's are; `interact`'s synthetic events, dispatched inside an animation-frame
 * callback, make any viewer that draws at the next animation frame wait one frame.
 */
async function interactReal(page, { kind, x, y, seconds, maxSeconds, counter, radius = 60, turn = 40, profile }) {
  const targetName = await page.evaluate(({ x, y }) => {
    const t = document.elementFromPoint(x, y);
    return t ? String(t.dataset?.testid || t.className || t.tagName) : null;
  }, { x, y });
  if (!targetName) return { error: `nothing at ${x},${y}` };
  // The page records every animation frame and whether the viewer drew in it.
  await page.evaluate(async (counter) => {
    const count = new Function(`return (${counter});`);
    const raf = () => new Promise((r) => requestAnimationFrame(r));
    await raf();
    await raf();
    const rec = { frames: [], updated: 0, last: count(), start: count(), stop: false };
    window.__benchRec = rec;
    const tick = (t) => {
      rec.frames.push(t);
      const c = count();
      if (c !== rec.last) { rec.updated += 1; rec.last = c; }
      if (!rec.stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }, counter);
  const nextFrame = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  if (kind === 'drag') {
    await page.mouse.move(x + radius, y);
    await page.mouse.down();
  } else {
    await page.mouse.move(x, y);
  }
  const t0 = Date.now();
  const cpu0 = profile ? processCpuMs(profile) : null;
  let step = 0, dir = 1;
  for (;;) {
    const gone = (Date.now() - t0) / 1000;
    if (gone >= maxSeconds) break;
    if (gone >= seconds && (await page.evaluate(() => window.__benchRec.updated)) > 0) break;
    step += 1;
    if (kind === 'wheel') {
      if (step % turn === 0) dir = -dir;
      await page.mouse.wheel(0, 100 * dir);
    } else {
      const a = (step * 6 * Math.PI) / 180;
      await page.mouse.move(x + radius * Math.cos(a), y + radius * Math.sin(a));
    }
    await nextFrame();
  }
  // The last frame asked for is drawn and presented within the next two.
  await nextFrame();
  await nextFrame();
  if (kind === 'drag') await page.mouse.up();
  const elapsed = Date.now() - t0;
  const cpu1 = profile ? processCpuMs(profile) : null;
  const rec = await page.evaluate(() => {
    const r = window.__benchRec;
    r.stop = true;
    return { frames: r.frames, updated: r.updated, draws: r.last - r.start };
  });
  // CPU per drawn frame of the GPU process (SwiftShader draws there) and the renderer.
  const cpuPerFrame = (type) => (cpu0 && rec.updated ? ((cpu1[type] || 0) - (cpu0[type] || 0)) / rec.updated : null);
  const dts = rec.frames.slice(1).map((t, i) => t - rec.frames[i]).sort((a, b) => a - b);
  return {
    seconds: elapsed / 1000,
    inputs: step,
    rafs: rec.frames.length,
    updated: rec.updated,
    draws: rec.draws,
    frameMs: rec.updated ? elapsed / rec.updated : null,
    fps: rec.updated ? (rec.updated * 1000) / elapsed : 0,
    rafP50Ms: dts.length ? dts[Math.floor(dts.length * 0.5)] : null,
    rafP95Ms: dts.length ? dts[Math.floor(dts.length * 0.95)] : null,
    gpuCpuMs: cpuPerFrame('gpu-process'),
    rendererCpuMs: cpuPerFrame('renderer'),
    target: targetName,
    input: 'real',
  };
}

async function measure(page, viewer, what, args, shots) {
  log(`${viewer}: ${what}`);
  // A page whose GPU process never comes back does not answer at all: give up on it
  // (and on the rest of this view) a while after the interaction's own limit.
  const limit = (args.maxSeconds + 120) * 1000;
  let timer;
  const r = await Promise.race([
    (INPUT === 'real' ? interactReal : interact)(page, args),
    new Promise((ok) => { timer = setTimeout(() => ok({ timedOut: true }), limit); }),
  ]).finally(() => clearTimeout(timer));
  if (r.timedOut) {
    const error = `no answer from the page within ${limit / 1000} s (no animation frame: the GPU process busy)`;
    emit({ kind: 'interact', viewer, what, error });
    throw new Error(`${what}: ${error}`);
  }
  emit({ kind: 'interact', viewer, what, ...r });
  log(`  ${r.error || `${r.updated} frames drawn in ${r.seconds?.toFixed(1)} s: ${r.frameMs?.toFixed(0)} ms/frame`}`);
  await page.screenshot({ path: path.join(shots, `${viewer}-${what}.png`) }).catch(() => {});
}

// --- Rangsi ----------------------------------------------------------------------

const RANGSI_DRAWS = "Number(document.querySelector('[data-testid=mpr]')?.dataset.draws || 0)";

async function rangsiDraws(page) {
  return page.evaluate((e) => new Function(`return (${e});`)(), RANGSI_DRAWS);
}

async function waitRangsiDrawn(page, after, ms) {
  return until(page, (d) => {
    const el = document.querySelector('[data-testid=mpr]');
    return el && Number(el.dataset.total) > 0 && el.dataset.drawnLoaded === el.dataset.total && Number(el.dataset.draws) > d;
  }, after, ms);
}

async function rangsi(opts, env) {
  const br = await openBrowser(opts, 'rangsi');
  const { page } = br;
  try {
    const base = env.rangsi.url;
    const r = await page.request.post(`${base}/api/login`, { data: { username: USER, password: PASSWORD } });
    if (!r.ok()) throw new Error(`login answered ${r.status()}`);
    await page.goto(`${base}/viewer?StudyInstanceUIDs=${env.studyUid}`, { waitUntil: 'commit' });
    const drawn = await until(page, () => document.querySelector('[data-testid=viewport]')?.dataset.drawn === '0', null, opts.loadTimeout);
    if (!drawn) throw new Error('the 2D viewport never drew');
    const t0 = await page.evaluate(() => performance.now());
    await page.getByTestId('mpr-toggle').click();
    if (!(await waitRangsiDrawn(page, 0, opts.loadTimeout))) throw new Error('MPR did not draw every slice');
    const ready = await page.evaluate(() => {
      const el = document.querySelector('[data-testid=mpr]');
      return { ms: performance.now(), total: Number(el.dataset.total), notices: document.querySelector('[data-testid=mpr-notices]')?.textContent || '' };
    });
    // Each pane 512 × 512.
    let d = await rangsiDraws(page);
    const pane = await fitTo(page, () => box(page, '[data-testid=mpr-pane-0]'), SIDE);
    await waitRangsiDrawn(page, d, 60000);
    emit({ kind: 'ready', viewer: 'rangsi', view: 'mpr', ms: ready.ms - t0, slices: ready.total, notices: ready.notices, paneW: pane.w, paneH: pane.h,
      window: `${pane.window.width}x${pane.window.height}`, dpr: await page.evaluate(() => devicePixelRatio),
      backend: await page.evaluate(() => document.querySelector('[data-testid=viewport]')?.dataset.backend || (navigator.gpu ? 'WebGPU available' : 'no WebGPU')) });
    await page.screenshot({ path: path.join(env.shots, 'rangsi-mpr-ready.png') }).catch(() => {});
    const common = { seconds: opts.seconds, maxSeconds: opts.maxSeconds, counter: RANGSI_DRAWS, profile: br.profile };
    await measure(page, 'rangsi', 'mpr-scroll', { kind: 'wheel', x: pane.x, y: pane.y, ...common }, env.shots);
    await measure(page, 'rangsi', 'mpr-crosshair', { kind: 'drag', x: pane.x, y: pane.y, radius: Math.min(pane.w, pane.h) / 4, ...common }, env.shots);
    emit({ kind: 'memory', viewer: 'rangsi', view: 'mpr', ...(await measureMemory(br)) });
    if (!opts['rangsi-views'].includes('3d')) return;

    // 3D: the viewer's defaults (CT bone, shading), then MIP. The 3D view takes the
    // place of the 2 × 2 panes: sized (cheaply, in MPR) so that it is 512 × 512, since
    // every resize of the 3D view is a full-quality frame (tens of seconds on SwiftShader).
    d = await rangsiDraws(page);
    await fitTo(page, () => box(page, '[data-testid=mpr-pane-0]'), SIDE / 2);
    await waitRangsiDrawn(page, d, 60000);
    const t3d = await page.evaluate(() => performance.now());
    d = await rangsiDraws(page);
    await page.getByTestId('mpr-3d').click();
    if (!(await waitRangsiDrawn(page, d, opts.loadTimeout))) throw new Error('the 3D view did not draw');
    const first3d = await page.evaluate(() => performance.now());
    const view = { ...(await box(page, '[data-testid=vr-view]')), window: page.viewportSize() };
    emit({ kind: 'ready', viewer: 'rangsi', view: '3d', ms: first3d - t3d, viewW: view.w, viewH: view.h, window: `${view.window.width}x${view.window.height}` });
    await page.screenshot({ path: path.join(env.shots, 'rangsi-3d-ready.png') }).catch(() => {});
    // Inputs in the view's upper-left quadrant: the MPR panel lies over its lower right.
    const three = (what, kind) => measure(page, 'rangsi', what, {
      kind, x: Math.round(view.x - view.w / 4), y: Math.round(view.y - view.h / 4), radius: Math.min(view.w, view.h) / 10, turn: 1, ...common,
    }, env.shots);
    await three('vr-rotate', 'drag');
    await three('vr-zoom', 'wheel');
    d = await rangsiDraws(page);
    await page.getByTestId('vr-preset').selectOption('mip');
    await waitRangsiDrawn(page, d, opts.loadTimeout);
    await three('mip-rotate', 'drag');
    await three('mip-zoom', 'wheel');
    emit({ kind: 'memory', viewer: 'rangsi', view: '3d', ...(await measureMemory(br)) });
  } catch (e) {
    emit({ kind: 'error', viewer: 'rangsi', error: String(e.message || e), console: br.consoleLines.slice(-10) });
    await page.screenshot({ path: path.join(env.shots, 'rangsi-error.png') }).catch(() => {});
  } finally {
    await br.close();
  }
}

// --- OHIF ------------------------------------------------------------------------

/** In the page: OHIF's volume viewports, their load state and whether each drew. */
function ohifState() {
  const cs = window.cornerstone;
  if (!cs?.getRenderingEngines) return null;
  const vps = [];
  for (const engine of cs.getRenderingEngines() || []) {
    for (const vp of engine.getViewports?.() || []) {
      const canvas = vp.canvas || vp.element?.querySelector('canvas');
      let lit = false;
      if (canvas?.width) {
        const c = Object.assign(document.createElement('canvas'), { width: 32, height: 32 });
        const ctx = c.getContext('2d', { willReadFrequently: true });
        ctx.drawImage(canvas, 0, 0, 32, 32);
        const px = ctx.getImageData(0, 0, 32, 32).data;
        let sum = 0, sum2 = 0;
        for (let i = 0; i < px.length; i += 4) { const l = px[i] + px[i + 1] + px[i + 2]; sum += l; sum2 += l * l; }
        const n = px.length / 4, mean = sum / n;
        lit = Math.sqrt(Math.max(0, sum2 / n - mean * mean)) > 10;
      }
      const r = vp.element?.getBoundingClientRect();
      vps.push({ id: vp.id, type: vp.type, lit, x: r ? r.x + r.width / 2 : 0, y: r ? r.y + r.height / 2 : 0, w: r?.width, h: r?.height,
        cw: canvas?.width, ch: canvas?.height });
    }
  }
  const volumes = [...(cs.cache?._volumeCache?.values?.() || [])].map((v) => v.volume || v);
  const vol = volumes[0];
  const status = vol?.loadStatus || {};
  // The volume's slices: images in cornerstone's image cache (as the viewer bench's probe counts them).
  const ids = vol?.imageIds || [];
  let cached = 0;
  for (const id of ids) {
    const c = cs.cache?._imageCache?.get(id);
    if (c && (c.image || c.loaded)) cached += 1;
  }
  return {
    viewports: vps,
    volumes: volumes.length,
    loaded: !!status.loaded || (ids.length > 0 && cached === ids.length),
    framesLoaded: `${cached}/${ids.length}${status.loaded ? ' (loadStatus.loaded)' : ''}`,
    dims: vol?.dimensions ? vol.dimensions.join('x') : null,
    dataType: vol?.dataType || vol?.voxelManager?.getConstructor?.()?.name || null,
    cacheBytes: cs.cache?.getCacheSize?.() ?? null,
  };
}

async function ohifOpen(opts, env, protocol, wanted, type) {
  const br = await openBrowser(opts, 'ohif');
  const { page } = br;
  const t0 = Date.now();
  await page.goto(`${env.ohif.url}/viewer?StudyInstanceUIDs=${env.studyUid}&hangingProtocolId=${protocol}`, { waitUntil: 'commit' });
  const s = await until(page, ({ src, wanted, type }) => {
    const st = new Function(`return (${src})();`)();
    if (!st || !st.loaded) return null;
    const vps = st.viewports.filter((v) => v.type === type);
    return vps.length >= wanted && vps.every((v) => v.lit) ? st : null;
  }, { src: ohifState.toString(), wanted, type }, opts.loadTimeout);
  const last = s || (await page.evaluate((src) => new Function(`return (${src})();`)(), ohifState.toString()).catch(() => null));
  return { br, page, state: last, ok: !!s, ms: Date.now() - t0 };
}

const OHIF_RENDERS = 'window.__bench.renders';

/** The CSS box of OHIF's first viewport of `type` (its element). */
async function ohifBox(page, type) {
  return page.evaluate((type) => {
    for (const engine of window.cornerstone?.getRenderingEngines?.() || []) {
      for (const vp of engine.getViewports?.() || []) {
        if (vp.type !== type || !vp.element) continue;
        const r = vp.element.getBoundingClientRect();
        return { id: vp.id, x: Math.round(r.x + r.width / 2), y: Math.round(r.y + r.height / 2), w: r.width, h: r.height,
          cw: vp.canvas?.width, ch: vp.canvas?.height };
      }
    }
    return null;
  }, type);
}

async function ohif(opts, env) {
  let o;
  let mprOk = false;
  // MPR.
  if (opts['ohif-views'].includes('mpr')) {
    o = await ohifOpen(opts, env, 'mpr', 3, 'orthographic');
    try {
      const { page, state } = o;
      emit({ kind: 'ready', viewer: 'ohif', view: 'mpr', ok: o.ok, ms: o.ms, volumes: state?.volumes, loaded: state?.loaded,
        framesLoaded: state?.framesLoaded, dims: state?.dims, dataType: state?.dataType,
        viewports: (state?.viewports || []).map((v) => `${v.type} ${Math.round(v.w)}×${Math.round(v.h)} css, canvas ${v.cw}×${v.ch}${v.lit ? '' : ' (blank)'}`) });
      await page.screenshot({ path: path.join(env.shots, 'ohif-mpr-ready.png') }).catch(() => {});
      if (!o.ok) throw new Error(`OHIF's MPR did not show three lit orthographic viewports with the volume loaded within ${opts.loadTimeout / 1000} s`);
      // The first viewport of the protocol is the axial one; each 512 × 512.
      const vp = await fitTo(page, () => ohifBox(page, 'orthographic'), SIDE);
      await page.waitForTimeout(2000);
      emit({ kind: 'size', viewer: 'ohif', view: 'mpr', w: vp.w, h: vp.h, canvas: `${vp.cw}x${vp.ch}`, window: `${vp.window.width}x${vp.window.height}` });
      await page.screenshot({ path: path.join(env.shots, 'ohif-mpr-fitted.png') }).catch(() => {});
      const common = { seconds: opts.seconds, maxSeconds: opts.maxSeconds, counter: OHIF_RENDERS, profile: o.br?.profile };
      await measure(page, 'ohif', 'mpr-scroll', { kind: 'wheel', x: vp.x, y: vp.y, ...common }, env.shots);
      // Crosshairs on the left button (OHIF's MPR tool group has it, passive by default).
      const tool = await page.evaluate((id) => {
        const ct = window.cornerstoneTools;
        const engine = window.cornerstone.getRenderingEngines()[0];
        const group = ct?.ToolGroupManager?.getToolGroupForViewport(id, engine.id);
        if (!group) return 'no tool group';
        if (!group.hasTool?.('Crosshairs') && !group.getToolInstance?.('Crosshairs')) return `no Crosshairs in ${group.id}`;
        const primary = group.getActivePrimaryMouseButtonTool?.();
        if (primary && primary !== 'Crosshairs') group.setToolPassive(primary);
        group.setToolActive('Crosshairs', { bindings: [{ mouseButton: 1 }] });
        return `Crosshairs (was ${primary}) in ${group.id}`;
      }, vp.id).catch((e) => String(e));
      emit({ kind: 'tool', viewer: 'ohif', tool });
      await page.waitForTimeout(500);
      await measure(page, 'ohif', 'mpr-crosshair', { kind: 'drag', x: vp.x, y: vp.y, radius: Math.min(vp.w, vp.h) / 4, ...common }, env.shots);
      emit({ kind: 'memory', viewer: 'ohif', view: 'mpr', ...(await measureMemory(o.br)) });
      mprOk = true;
    } catch (e) {
      emit({ kind: 'error', viewer: 'ohif', view: 'mpr', error: String(e.message || e), console: o.br.consoleLines.slice(-10) });
    } finally {
      if (!mprOk || !opts['ohif-views'].includes('3d')) await o.br.close();
    }
  }
  // 3D.
  if (!opts['ohif-views'].includes('3d')) return;
  if (mprOk) {
    // As a reader would: the volume already loaded for MPR, the layout switched to
    // OHIF's `only3D` protocol (its hanging protocol service, what the layout menu does).
    const t0 = Date.now();
    const switched = await o.page.evaluate(() => {
      window.services.hangingProtocolService.setProtocol('only3D');
      return true;
    }).catch((e) => String(e));
    const s = switched === true ? await until(o.page, ({ src }) => {
      const st = new Function(`return (${src})();`)();
      const vps = (st?.viewports || []).filter((v) => v.type === 'volume3d');
      return st?.loaded && vps.length && vps.every((v) => v.lit) ? st : null;
    }, { src: ohifState.toString() }, opts.loadTimeout) : null;
    const last = s || (await until(o.page, (src) => new Function(`return (${src})();`)(), ohifState.toString(), 10000));
    o = { ...o, state: last, ok: !!s, ms: Date.now() - t0, how: switched === true ? 'setProtocol(only3D) on the MPR page' : `setProtocol failed: ${switched}` };
  } else {
    o = { ...(await ohifOpen(opts, env, 'only3D', 1, 'volume3d')), how: 'a new page with hangingProtocolId=only3D' };
  }
  try {
    const { page, state } = o;
    emit({ kind: 'ready', viewer: 'ohif', view: '3d', ok: o.ok, ms: o.ms, how: o.how, volumes: state?.volumes, loaded: state?.loaded,
      framesLoaded: state?.framesLoaded, dims: state?.dims, dataType: state?.dataType,
      viewports: (state?.viewports || []).map((v) => `${v.type} ${Math.round(v.w)}×${Math.round(v.h)} css, canvas ${v.cw}×${v.ch}${v.lit ? '' : ' (blank)'}`) });
    await page.screenshot({ path: path.join(env.shots, 'ohif-3d-ready.png') }).catch(() => {});
    if (!o.ok) throw new Error(`OHIF's 3D did not show a lit volume3d viewport with the volume loaded within ${opts.loadTimeout / 1000} s`);
    const vp = await fitTo(page, () => ohifBox(page, 'volume3d'), SIDE);
    await page.waitForTimeout(2000);
    emit({ kind: 'size', viewer: 'ohif', view: '3d', w: vp.w, h: vp.h, canvas: `${vp.cw}x${vp.ch}`, window: `${vp.window.width}x${vp.window.height}` });
    await page.screenshot({ path: path.join(env.shots, 'ohif-3d-fitted.png') }).catch(() => {});
    const common = { seconds: opts.seconds, maxSeconds: opts.maxSeconds, counter: OHIF_RENDERS, profile: o.br?.profile };
    await measure(page, 'ohif', 'vr-rotate', { kind: 'drag', x: vp.x, y: vp.y, radius: Math.min(vp.w, vp.h) / 4, ...common }, env.shots);
    await measure(page, 'ohif', 'vr-zoom', { kind: 'wheel', x: vp.x, y: vp.y, turn: 1, ...common }, env.shots);
    emit({ kind: 'memory', viewer: 'ohif', view: '3d', ...(await measureMemory(o.br)) });
  } catch (e) {
    emit({ kind: 'error', viewer: 'ohif', view: '3d', error: String(e.message || e), console: o.br.consoleLines.slice(-10) });
  } finally {
    await o.br.close();
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const manifest = JSON.parse(fs.readFileSync(path.join(opts.data, 'manifest.json'), 'utf8'));
  const study = manifest.studies[0];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rangsi-bench-volume-'));
  const shots = process.env.BENCH_SHOTS || path.join(work, 'shots');
  fs.mkdirSync(shots, { recursive: true });
  let server, proxy;
  try {
    log('seeding and starting rangsi serve');
    server = await startRangsi(opts.rangsi, opts.data, work);
    proxy = await startProxy({ dist: opts.ohif, upstream: server.url, token: server.token, brCache: opts['br-cache'] });
    const env = { rangsi: server, ohif: proxy, studyUid: study.study_uid, shots };
    const b = await chromium.launch({ executablePath: opts.chromium, headless: true, args: GPU_FLAGS[opts.gpu] });
    const version = b.version();
    await b.close();
    emit({ kind: 'env', chromium: version, study: study.study_uid, slices: study.files.length, gpu: opts.gpu, seconds: opts.seconds, shots });
    if (opts.viewers.includes('rangsi')) await rangsi(opts, env);
    if (opts.viewers.includes('ohif')) await ohif(opts, env);
  } finally {
    await proxy?.close().catch(() => {});
    await server?.stop().catch(() => {});
    if (!process.env.BENCH_SHOTS) fs.rmSync(work, { recursive: true, force: true });
    else fs.rmSync(path.join(work, 'data'), { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`volume.mjs: ${e.stack || e}`);
  process.exit(1);
});
