// MPR end to end: the MPR button opens the CT series as axial, sagittal and coronal
// panes of one GPU volume; every pane's pixels are checked against an independent
// oracle (pydicom + numpy: the slices sorted by position, trilinear interpolation at
// the patient point under each checked pixel, rescale, VOI LINEAR window), the
// orientation letters, the crosshair moving the other planes, scrolling one slice,
// oblique rotation, a MIP slab, a length in mm, the 3D view (bone preset, orbit,
// MIP), and back to 2D; then the clip box (its outline against the DICOM geometry,
// the 3D view cut at it), the transfer-function editor (its histogram against numpy,
// shifting it past the volume's largest value blanks the view, dragging, adding and
// removing points), and the phase picker of a 4D series (each phase against the
// oracle).
// Screenshots: e2e/test-results/<config>-mpr-<step>.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

import { CONFIGS, analyse, launch } from '../lib/browser.js';
import { E2E_DIR, PASSWORD, PYTHON, USER, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const ONLY = process.env.E2E_CONFIGS ? process.env.E2E_CONFIGS.split(',') : null;

// Reads a folder of one CT series and prints, for each patient point given as JSON
// on stdin ({"points": [[x,y,z],...], "center": c, "width": w}), the display gray
// (0–255) by trilinear interpolation of modality values between voxel centres, or
// null outside the volume. Written from the standard, independently of Rangsi.
const ORACLE = `
import json, sys, glob
import numpy as np
import pydicom
files = [pydicom.dcmread(f) for f in glob.glob(sys.argv[1] + "/**/*.dcm", recursive=True)]
files = [d for d in files if "ImagePositionPatient" in d]
iop = np.array([float(v) for v in files[0].ImageOrientationPatient])
row, col = iop[:3], iop[3:]
normal = np.cross(row, col)
files.sort(key=lambda d: float(np.dot([float(v) for v in d.ImagePositionPatient], normal)))
p0 = np.array([float(v) for v in files[0].ImagePositionPatient])
pn = np.array([float(v) for v in files[-1].ImagePositionPatient])
gap = float(np.dot(pn - p0, normal)) / (len(files) - 1)
ps_row, ps_col = (float(v) for v in files[0].PixelSpacing)
vol = np.stack([d.pixel_array.astype(np.float64) * float(getattr(d, "RescaleSlope", 1)) + float(getattr(d, "RescaleIntercept", 0)) for d in files])
req = json.load(sys.stdin)
c, w = req["center"], req["width"]
def gray(x):
    lo, hi = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
    if x <= lo: return 0
    if x > hi: return 255
    return int(round(((x - (c - 0.5)) / (w - 1) + 0.5) * 255))
out = []
nk, nj, ni = vol.shape
for p in req["points"]:
    d = np.array(p) - p0
    i, j, k = np.dot(d, row) / ps_col, np.dot(d, col) / ps_row, np.dot(d, normal) / gap
    if not (-1e-3 <= i <= ni - 1 + 1e-3 and -1e-3 <= j <= nj - 1 + 1e-3 and -1e-3 <= k <= nk - 1 + 1e-3):
        out.append(None); continue
    i0, j0, k0 = (min(int(np.floor(max(v, 0))), n - 2) for v, n in ((i, ni), (j, nj), (k, nk)))
    fi, fj, fk = i - i0, j - j0, k - k0
    cube = vol[k0:k0 + 2, j0:j0 + 2, i0:i0 + 2]
    a = cube[:, :, 0] * (1 - fi) + cube[:, :, 1] * fi
    b = a[:, 0] * (1 - fj) + a[:, 1] * fj
    out.append(gray(b[0] * (1 - fk) + b[1] * fk))
print(json.dumps(out))
`;

// Modality-value histogram of the series in 16-wide bins, floor(value / 16), and the
// largest value (pydicom + numpy), for the transfer-function editor.
const HISTOGRAM = `
import json, sys, glob
import numpy as np
import pydicom
files = [pydicom.dcmread(f) for f in glob.glob(sys.argv[1] + "/**/*.dcm", recursive=True)]
v = np.concatenate([(d.pixel_array.astype(np.float64) * float(getattr(d, "RescaleSlope", 1)) + float(getattr(d, "RescaleIntercept", 0))).ravel() for d in files if "PixelData" in d])
k = np.floor(v / 16).astype(np.int64)
print(json.dumps({"first": int(k.min()), "counts": np.bincount(k - k.min()).tolist(), "max": float(v.max())}))
`;

// First voxel's position, the row and column directions and spacings (pydicom).
const GEOMETRY = `
import json, sys, glob
import pydicom
d = pydicom.dcmread(sorted(glob.glob(sys.argv[1] + "/**/*.dcm", recursive=True))[0])
print(json.dumps({"ipp": [float(x) for x in d.ImagePositionPatient], "iop": [float(x) for x in d.ImageOrientationPatient], "spacing": [float(x) for x in d.PixelSpacing]}))
`;

let server;
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  // A 4D series: the Thai CT twice, phase 2 raised by 300 HU; and a study of two of
  // its images, too few for a volume (lib/gen_4d_series.py).
  const gen = (work, name, args) => {
    const dir = path.join(work, name);
    const info = JSON.parse(execFileSync(PYTHON, [path.join(E2E_DIR, 'lib', 'gen_4d_series.py'), path.join(work, 'thai'), dir, ...args], { encoding: 'utf8' }));
    return { ...info, dir };
  };
  server = await startServer({
    prepare: (work) => {
      const fourD = gen(work, '4d', []);
      const short = gen(work, 'short', ['--phases', '1', '--limit', '2']);
      return { folders: [fourD.dir, short.dir], fourD, short };
    },
  });
});
after(async () => {
  await server?.stop();
});

const pane = (page, p) => page.getByTestId(`mpr-pane-${p}`);

async function paneGeometry(page, p) {
  const el = pane(page, p);
  const plane = (await el.getAttribute('data-plane')).split(',').map(Number);
  const mm = Number(await el.getAttribute('data-mm-per-px'));
  const box = await el.boundingBox();
  return { center: plane.slice(0, 3), right: plane.slice(3, 6), down: plane.slice(6, 9), mm, box };
}

/**
 * Patient point at page position (x, y) in pane geometry g (the pane's box is its
 * canvas area); `centre` takes the centre of the pixel at (x, y), as drawn.
 */
function patientAt(g, x, y, centre = true) {
  const h = centre ? 0.5 : 0;
  const u = (x + h - g.box.x - g.box.width / 2) * g.mm;
  const v = (y + h - g.box.y - g.box.height / 2) * g.mm;
  return [0, 1, 2].map((a) => g.center[a] + u * g.right[a] + v * g.down[a]);
}

/**
 * Waits until the panel drew after `draws` with every slice in, at full quality (a
 * drag or wheel step first draws previews; the full redraw follows a pause).
 */
async function waitLoaded(page, draws = 0) {
  await page.waitForFunction((d) => {
    const el = document.querySelector('[data-testid=mpr]');
    const full = document.querySelector('[data-testid=mpr-canvas]')?.dataset.quality === 'full';
    return el && full && Number(el.dataset.total) > 0 && el.dataset.drawnLoaded === el.dataset.total && Number(el.dataset.draws) > d;
  }, draws, { timeout: 90000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

async function draws(page) {
  return Number(await page.getByTestId('mpr').getAttribute('data-draws'));
}

/** Checks a 5×5 grid of pixels of pane p (on the screenshot) against the oracle. */
async function assertOracle(page, png, p, center, width, folder = path.join(server.work, 'thai')) {
  const g = await paneGeometry(page, p);
  // A 5×5 grid over the pane, and a band of 9×3 around the pane's middle row (the
  // test CT is 24 slices thin: in sagittal and coronal panes it is a strip there).
  // The crosshair and measurement lines drawn over the pane (page coordinates).
  const lines = await pane(page, p).evaluate((el) => {
    const r = el.querySelector('svg').getBoundingClientRect();
    return [...el.querySelectorAll('svg line')].map((l) => [
      r.x + l.x1.baseVal.value, r.y + l.y1.baseVal.value, r.x + l.x2.baseVal.value, r.y + l.y2.baseVal.value]);
  });
  const nearLine = ([x, y]) => lines.some(([x1, y1, x2, y2]) => {
    const dx = x2 - x1, dy = y2 - y1;
    return Math.abs((x - x1) * dy - (y - y1) * dx) / Math.hypot(dx, dy) < 2.5;
  });
  // The orientation letters and pane texts (with their dark outline) are over the image too.
  const labels = await pane(page, p).evaluate((el) => [...el.querySelectorAll('span')].map((t) => {
    const r = t.getBoundingClientRect();
    return [r.left - 3, r.top - 3, r.right + 3, r.bottom + 3];
  }));
  const onLabel = ([x, y]) => labels.some(([l, t, r, bt]) => x >= l && x <= r && y >= t && y <= bt);
  let pts = [];
  // Points keep 5 px away from the crosshair lines through the middle.
  for (let a = 1; a <= 5; a += 1) {
    for (let b = 1; b <= 5; b += 1) {
      pts.push([Math.floor(g.box.x + (g.box.width * a) / 6 + 7), Math.floor(g.box.y + (g.box.height * b) / 6 + 7)]);
    }
  }
  for (let a = 1; a <= 9; a += 1) {
    for (const dy of [-10, -5, -4, -3, 3, 4, 5, 10]) {
      pts.push([Math.floor(g.box.x + (g.box.width * a) / 10 + 7), Math.floor(g.box.y + g.box.height / 2 + dy)]);
    }
  }
  pts = pts.filter((pt) => !nearLine(pt) && !onLabel(pt));
  // Expected at the pixel and its 8 neighbours: lo/hi bound the half-pixel conventions.
  const patient = pts.flatMap(([x, y]) => [-1, 0, 1].flatMap((dy) => [-1, 0, 1].map((dx) => patientAt(g, x + dx, y + dy))));
  const input = JSON.stringify({ points: patient, center, width });
  const grays = JSON.parse(execFileSync(PYTHON, ['-c', ORACLE, folder], { input, encoding: 'utf8' }));
  const { at } = await analyse(page, png, { x: 0, y: 0, width: 1, height: 1 }, pts);
  const bad = [];
  let checked = 0;
  pts.forEach((pt, i) => {
    const near = grays.slice(i * 9, i * 9 + 9);
    if (near.some((v) => v === null)) return; // at the volume's edge
    checked += 1;
    const lo = Math.min(...near), hi = Math.max(...near);
    const [r, gg, b] = at[i];
    if (!(Math.abs(r - gg) <= 2 && Math.abs(gg - b) <= 2 && r >= lo - 8 && r <= hi + 8)) {
      bad.push(`pane ${p} screen ${pt}: got ${at[i]} want [${lo}..${hi}]`);
    }
  });
  assert.ok(checked >= 8, `pane ${p}: only ${checked} points inside the volume`);
  assert.ok(bad.length <= 1, `${bad.length}/${checked} points differ from the oracle:\n${bad.join('\n')}`);
}

/** Sets a range input as a user's drag would (Playwright cannot fill ranges). */
async function setRange(page, id, value) {
  await page.getByTestId(id).evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

/** The transfer function's points as [value, opacity per mm]. */
async function tfPoints(page) {
  const d = await page.getByTestId('vr-tf').getAttribute('data-points');
  return d.split(',').map((p) => p.split(':').map(Number));
}

/** The value below which the function is fully transparent. */
function transparentBelow(points) {
  const k = points.findIndex(([, o]) => o > 0);
  return k <= 0 ? -Infinity : points[k - 1][0];
}

/** The part of the 3D canvas left of the floating panel: [whole, left half, right half]. */
async function vrRegions(page) {
  const area = await page.getByTestId('mpr-canvas').boundingBox();
  const panel = await page.getByTestId('mpr-panel').boundingBox();
  const cx = area.x + area.width / 2;
  const right = Math.min(panel.x, area.x + area.width) - 4;
  return {
    visible: { x: area.x, y: area.y, width: right - area.x, height: area.height },
    left: { x: area.x, y: area.y, width: cx - 4 - area.x, height: area.height },
    right: right - cx > 60 ? { x: cx + 4, y: area.y, width: right - cx - 4, height: area.height } : null,
  };
}

async function markers(page, p) {
  const get = (side) => page.getByTestId(`mpr-marker-${p}-${side}`).textContent();
  return [await get('left'), await get('right'), await get('top'), await get('bottom')].join(' ');
}

for (const config of CONFIGS) {
  if (ONLY && !ONLY.includes(config.name)) continue;
  const desktop = !config.isMobile;
  describe(`MPR (${config.name}, ${config.viewport.width}×${config.viewport.height})`, () => {
    let b;
    before(async () => { b = await launch(config); });
    after(async () => {
      if (b) {
        fs.writeFileSync(path.join(RESULTS, `${config.name}-mpr-console.log`), b.console.join('\n'));
        await b.browser.close();
      }
    });
    const shot = (step) => b.page.screenshot({ path: path.join(RESULTS, `${config.name}-mpr-${step}.png`) });

    test('the MPR button shows three planes that match the oracle', async () => {
      const { page } = b;
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${server.thai.study_uid}`);
      await page.getByTestId('login-username').fill(USER);
      await page.getByTestId('login-password').fill(PASSWORD);
      await page.getByTestId('login-submit').click();
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]')?.dataset.drawn === '0', null, { timeout: 60000 });
      await page.getByTestId('mpr-toggle').click();
      await waitLoaded(page);
      assert.equal(await markers(page, 0), 'R L A P');
      assert.equal(await markers(page, 1), 'A P H F');
      assert.equal(await markers(page, 2), 'R L H F');
      const png = await shot('01-open');
      for (const p of desktop ? [0, 1, 2] : [0, 2]) await assertOracle(page, png, p, 40, 400);
      assert.match(await page.getByTestId('mpr-notices').textContent(), /512 × 512 × \d+/);
    });

    // Known defect, kept visible: on the emulated phone (WebGL2 on SwiftShader, 375 px)
    // the top-right pane stays black, whichever plane it shows (the planes swapped:
    // the sagittal drew bottom-left and the coronal vanished top-right), whether the
    // panes are drawn with viewport+scissor, as quads in separate passes, in one pass,
    // or (now) kept in textures and copied by a full-target triangle under a scissor;
    // WebGPU at the same size and WebGL2 on the desktop draw it. It happens for any
    // canvas up to ~600 px wide, not for 1084 px. The canvas does hold the pane: a
    // later repaint of the page for another reason (a style change of the panel
    // beside it, no new draw) shows it; the frame shown is stale in that quarter.
    // So it looks like Chromium's compositing of a SwiftShader WebGL2 canvas, not our
    // drawing; not confirmed on a real phone.
    test('the top-right pane on the phone matches the oracle', { todo: desktop ? false : 'top-right MPR pane black on emulated-phone WebGL2' }, async () => {
      const { page } = b;
      await assertOracle(page, await shot('01b-top-right'), 1, 40, 400);
    });

    test('clicking moves the crosshair; the wheel scrolls one slice', async () => {
      if (!desktop) return;
      const { page } = b;
      const ax = await paneGeometry(page, 0);
      const x = Math.floor(ax.box.x + ax.box.width * 0.3), y = Math.floor(ax.box.y + ax.box.height * 0.6);
      const target = patientAt(ax, x, y, false);
      let d = await draws(page);
      await page.mouse.click(x, y);
      await waitLoaded(page, d);
      const sag = await paneGeometry(page, 1);
      const cor = await paneGeometry(page, 2);
      // The sagittal plane now passes through the clicked x, the coronal through its y.
      assert.ok(Math.abs(sag.center[0] - target[0]) < ax.mm * 1.01, `${sag.center} vs ${target}`);
      assert.ok(Math.abs(cor.center[1] - target[1]) < ax.mm * 1.01, `${cor.center} vs ${target}`);
      let png = await shot('02-crosshair');
      await assertOracle(page, png, 1, 40, 400);
      await assertOracle(page, png, 2, 40, 400);
      const z0 = (await paneGeometry(page, 0)).center[2];
      d = await draws(page);
      await page.mouse.move(ax.box.x + ax.box.width / 2, ax.box.y + ax.box.height / 2);
      await page.mouse.wheel(0, 100);
      await waitLoaded(page, d);
      // Only the scrolled pane was drawn again: the other two planes did not move, and
      // their kept images were copied (MprPaneCache).
      assert.equal(await page.getByTestId('mpr').getAttribute('data-panes-drawn'), '1');
      const z1 = (await paneGeometry(page, 0)).center[2];
      // gen_ct_series.py: contiguous 1 mm slices.
      assert.ok(Math.abs(Math.abs(z1 - z0) - 1.0) < 0.01, `one wheel step moved the axial plane by ${z1 - z0} mm`);
      png = await shot('03-scrolled');
      await assertOracle(page, png, 0, 40, 400);
    });

    test('a drag draws previews; when it pauses the panes are drawn again in full (oracle)', async () => {
      if (!desktop) return;
      const { page } = b;
      const ax = await paneGeometry(page, 0);
      const previews = Number(await page.getByTestId('mpr-canvas').getAttribute('data-preview-draws'));
      const d = await draws(page);
      const x = Math.floor(ax.box.x + ax.box.width * 0.45), y = Math.floor(ax.box.y + ax.box.height * 0.55);
      await page.mouse.move(x, y);
      await page.mouse.down();
      await page.mouse.move(x + 40, y - 30, { steps: 6 });
      // While the pointer moves with the button held, changed panes are previews.
      await page.waitForFunction(
        (n) => Number(document.querySelector('[data-testid=mpr-canvas]').dataset.previewDraws) > n,
        previews, { timeout: 60000 });
      // The button still held but the pointer still: the previewed panes are drawn
      // again at full resolution, and match the oracle.
      await waitLoaded(page, d);
      assert.equal(await page.getByTestId('mpr-canvas').getAttribute('data-quality'), 'full');
      assert.ok(Number(await page.getByTestId('mpr').getAttribute('data-panes-drawn')) >= 1, 'the full redraw drew the previewed panes');
      const png = await shot('03b-drag-paused');
      await assertOracle(page, png, 1, 40, 400);
      await assertOracle(page, png, 2, 40, 400);
      const full = await draws(page);
      await page.mouse.up();
      // Released after the full redraw: nothing left to draw.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      assert.equal(await draws(page), full);
    });

    test('oblique rotation, MIP slab, a length in mm, 3D, and back to 2D', async () => {
      const { page } = b;
      if (desktop) {
        const ax = await paneGeometry(page, 0);
        const cx = ax.box.x + ax.box.width / 2, cy = ax.box.y + ax.box.height / 2;
        let d = await draws(page);
        await page.keyboard.down('Alt');
        await page.mouse.move(cx + 80, cy);
        await page.mouse.down();
        await page.mouse.move(cx + 60, cy + 60, { steps: 4 });
        await page.mouse.up();
        await page.keyboard.up('Alt');
        await waitLoaded(page, d);
        assert.match(await page.getByTestId('mpr-title-1').textContent(), /Oblique|เฉียง/);
        assert.doesNotMatch(await page.getByTestId('mpr-title-0').textContent(), /Oblique|เฉียง/);
        await shot('04-oblique');
        await assertOracle(page, await shot('04-oblique'), 1, 40, 400);
        // Reset, then a 20 mm MIP: never darker than the thin plane.
        await page.getByTestId('mpr-reset').click();
        d = await draws(page);
        await waitLoaded(page, d - 1);
        const thin = await analyse(page, await shot('05-thin'), ax.box);
        d = await draws(page);
        await page.getByTestId('mpr-slab').selectOption('mip:20');
        await waitLoaded(page, d);
        const mip = await analyse(page, await shot('06-mip'), ax.box);
        assert.ok(mip.mean > thin.mean + 1, `MIP mean ${mip.mean} vs thin ${thin.mean}`);
        // A length: Shift-drag 100 CSS px to the right.
        await page.keyboard.down('Shift');
        await page.mouse.move(cx - 50, cy);
        await page.mouse.down();
        await page.mouse.move(cx + 50, cy, { steps: 4 });
        await page.mouse.up();
        await page.keyboard.up('Shift');
        const mm = Number((await page.getByTestId('mpr-length').textContent()).replace(' mm', ''));
        assert.ok(Math.abs(mm - 100 * ax.mm) < 0.2, `length ${mm} mm, expected ${100 * ax.mm}`);
        await shot('07-length');
      }
      // The 3D view: bone preset from the front, an orbit, then MIP.
      let d = await draws(page);
      await page.getByTestId('mpr-3d').click();
      await waitLoaded(page, d);
      const area = await page.getByTestId('mpr-canvas').boundingBox();
      const front = await analyse(page, await shot('08-3d'), area);
      assert.ok(front.litFraction > 0.02, `3D view lit ${front.litFraction}`);
      assert.equal(await page.getByTestId('vr-preset').inputValue(), 'ct-bone');
      if (desktop) {
        d = await draws(page);
        await page.mouse.move(area.x + area.width / 3, area.y + area.height / 3);
        await page.mouse.down();
        await page.mouse.move(area.x + area.width / 3 + 120, area.y + area.height / 3, { steps: 3 });
        await page.mouse.up();
        await waitLoaded(page, d);
        const turned = await analyse(page, await shot('09-3d-orbit'), area);
        assert.ok(Math.abs(turned.mean - front.mean) > 0.05, `orbit changed nothing (${turned.mean} vs ${front.mean})`);
      }
      d = await draws(page);
      await page.getByTestId('vr-preset').selectOption('mip');
      await waitLoaded(page, d);
      const mipView = await analyse(page, await shot('10-3d-mip'), area);
      assert.ok(mipView.litFraction > 0.02, `3D MIP lit ${mipView.litFraction}`);
      await page.getByTestId('mpr-3d').click();
      await page.getByTestId('mpr-pane-0').waitFor();
      await page.getByTestId('mpr-close').click();
      await page.getByTestId('viewport-grid').waitFor();
      assert.equal(await page.getByTestId('mpr').count(), 0);
    });

    test('the clip box: outlined in the panes at the DICOM geometry, cuts the 3D view, resets', async () => {
      const { page } = b;
      await page.getByTestId('mpr-toggle').click();
      await waitLoaded(page);
      await page.getByTestId('vr-clip-toggle').click();
      const top = Number(await page.getByTestId('vr-clip-0-max').getAttribute('max'));
      assert.equal(top, 511);
      assert.equal(await page.getByTestId('mpr-clip-0').count(), 0, 'no outline while nothing is clipped');
      // Keyboard: one step left on the max slider of the first axis.
      let d = await draws(page);
      await page.getByTestId('vr-clip-0-max').focus();
      await page.keyboard.press('ArrowLeft');
      assert.equal(await page.getByTestId('vr-clip-0-range').textContent(), '0–510');
      // Keep columns 0…255: the outline's far side is at column 255's centre.
      await setRange(page, 'vr-clip-0-max', 255);
      await waitLoaded(page, d);
      assert.equal(await page.getByTestId('vr-clip-0-range').textContent(), '0–255');
      const geo = JSON.parse(execFileSync(PYTHON, ['-c', GEOMETRY, path.join(server.work, 'thai')], { encoding: 'utf8' }));
      // Column i is at IPP + i × column spacing (PixelSpacing[1]) along the row direction.
      const edge = [0, 1, 2].map((a) => geo.ipp[a] + 255 * geo.spacing[1] * geo.iop[a]);
      const g = await paneGeometry(page, 0);
      const u = [0, 1, 2].reduce((acc, a) => acc + (edge[a] - g.center[a]) * g.right[a], 0);
      const expectX = g.box.x + g.box.width / 2 + u / g.mm;
      const xs = await page.getByTestId('mpr-clip-0').evaluate((el) => {
        const r = el.ownerSVGElement.getBoundingClientRect();
        return [...el.querySelectorAll('line')].flatMap((l) => [r.x + l.x1.baseVal.value, r.x + l.x2.baseVal.value]);
      });
      const farX = Math.max(...xs);
      assert.ok(Math.abs(farX - expectX) < 2, `clip outline at x ${farX}, DICOM geometry says ${expectX}`);
      await shot('11-clip-mpr');
      // 3D from the front: the patient's right (columns 0…255, screen left) is kept.
      d = await draws(page);
      await page.getByTestId('mpr-3d').click();
      await waitLoaded(page, d);
      const r = await vrRegions(page);
      const png = await shot('12-clip-3d');
      const left = await analyse(page, png, r.left);
      assert.ok(left.litFraction > 0.01, `kept half lit ${left.litFraction}`);
      if (r.right) {
        const right = await analyse(page, png, r.right);
        assert.ok(right.litFraction < 0.002, `clipped half lit ${right.litFraction}`);
      }
      d = await draws(page);
      await page.getByTestId('vr-clip-reset').click();
      await waitLoaded(page, d);
      assert.equal(await page.getByTestId('vr-clip-0-range').textContent(), '0–511');
      if (r.right) {
        const right = await analyse(page, await shot('13-clip-reset'), r.right);
        assert.ok(right.litFraction > 0.01, `after reset the right half is lit ${right.litFraction}`);
      }
    });

    test('the transfer-function editor: histogram, shift, drag, add and remove points', async () => {
      const { page } = b;
      const hist = JSON.parse(execFileSync(PYTHON, ['-c', HISTOGRAM, path.join(server.work, 'thai')], { encoding: 'utf8' }));
      const [start, width, counts] = (await page.getByTestId('vr-tf').getAttribute('data-hist')).split(';');
      assert.equal(Number(width), 16);
      assert.equal(Number(start), hist.first * 16);
      assert.deepEqual(counts.split(',').map(Number), hist.counts);
      const preset = await tfPoints(page);
      assert.equal(await page.locator('[data-testid^=vr-tf-point-]').count(), preset.length);
      const r = await vrRegions(page);
      const before = await analyse(page, await shot('14-tf'), r.visible);
      assert.ok(before.litFraction > 0.01, `bone preset lit ${before.litFraction}`);
      // Shift the whole function (Shift+→, 10 % of the axis a press) until every value
      // of the volume is below its transparent foot: nothing left to draw.
      await page.getByTestId('vr-tf').focus();
      let presses = 0;
      while (transparentBelow(await tfPoints(page)) <= hist.max && presses < 40) {
        await page.keyboard.press('Shift+ArrowRight');
        presses += 1;
      }
      let d = await draws(page);
      await page.keyboard.press('Shift+ArrowRight');
      await waitLoaded(page, d);
      const shifted = await tfPoints(page);
      assert.ok(transparentBelow(shifted) > hist.max, `${shifted} vs max ${hist.max}`);
      const blank = await analyse(page, await shot('15-tf-shifted'), r.visible);
      assert.ok(blank.litFraction < 0.002, `shifted past the data yet lit ${blank.litFraction}`);
      // Back with the preset button.
      d = await draws(page);
      await page.getByTestId('vr-tf-reset').click();
      await waitLoaded(page, d);
      assert.deepEqual(await tfPoints(page), preset);
      // Drag the most opaque point to the bottom: opacity 0 there, and the view changes.
      const k = preset.reduce((best, p, i) => (p[1] > preset[best][1] ? i : best), 0);
      const dot = await page.getByTestId(`vr-tf-point-${k}`).boundingBox();
      const chart = await page.getByTestId('vr-tf-chart').boundingBox();
      d = await draws(page);
      await page.mouse.move(dot.x + dot.width / 2, dot.y + dot.height / 2);
      await page.mouse.down();
      await page.mouse.move(dot.x + dot.width / 2, chart.y + chart.height + 20, { steps: 4 });
      await page.mouse.up();
      await waitLoaded(page, d);
      const dragged = await tfPoints(page);
      assert.equal(dragged.length, preset.length);
      assert.ok(dragged.some(([v, o]) => Math.abs(v - preset[k][0]) < 30 && o === 0), `no point dragged to 0: ${dragged}`);
      const after = await analyse(page, await shot('16-tf-dragged'), r.visible);
      assert.ok(Math.abs(after.mean - before.mean) > 0.05, `dragging changed nothing (${after.mean} vs ${before.mean})`);
      // Double-click empty chart: a point is added; Delete removes the selected one.
      await page.mouse.dblclick(chart.x + chart.width * 0.5, chart.y + chart.height * 0.15);
      assert.equal((await tfPoints(page)).length, preset.length + 1);
      await page.keyboard.press('Delete');
      assert.equal((await tfPoints(page)).length, preset.length);
      await shot('17-tf-edited');
    });

    test('a 4D series: the phase picker loads each phase, checked against the oracle', async () => {
      const { page } = b;
      const four = server.extra.fourD;
      await page.getByTestId('mpr-close').click();
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${four.study_uid}`);
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]')?.dataset.drawn === '0', null, { timeout: 60000 });
      await page.getByTestId('mpr-toggle').click();
      await waitLoaded(page);
      const options = await page.getByTestId('mpr-phase').locator('option').allTextContents();
      assert.deepEqual(options, ['1 · TemporalPositionIdentifier 1', '2 · TemporalPositionIdentifier 2']);
      await assertOracle(page, await shot('18-phase-1'), 0, 40, 400, path.join(four.dir, 'phase-1'));
      const d = await draws(page);
      await page.getByTestId('mpr-phase').selectOption('1');
      await waitLoaded(page, d);
      assert.match(await page.getByTestId('mpr-notices').textContent(), /phase 2 of 2/);
      await assertOracle(page, await shot('19-phase-2'), 0, 40, 400, path.join(four.dir, 'phase-2'));
    });

    test('a series that is not a volume says why', async () => {
      const { page } = b;
      await page.getByTestId('mpr-close').click();
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${server.extra.short.study_uid}`);
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]')?.dataset.drawn === '0', null, { timeout: 60000 });
      await page.getByTestId('mpr-toggle').click();
      await page.waitForFunction(() => document.querySelector('[data-testid=mpr-error]')?.textContent, null, { timeout: 30000 });
      assert.match(await page.getByTestId('mpr-error').textContent(), /^(not a volume: 2 image\(s\) with a common geometry; a volume needs at least 3|ไม่ใช่ภาพปริมาตร: มีภาพที่เรขาคณิตตรงกันเพียง 2 ภาพ ต้องมีอย่างน้อย 3 ภาพ)$/);
      assert.equal(await page.getByTestId('mpr-phase').count(), 0);
      await shot('20-not-a-volume');
    });
  });
}
