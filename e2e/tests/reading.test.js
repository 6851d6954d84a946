// The reading tools end to end: overlay text and orientation markers, zoom / 1:1 /
// rotate / flip / invert checked pixel by pixel against pydicom (oracle.py) at the
// rotated or mirrored screen positions, Page/Home/End, cine, the window menu and key 9,
// layouts with independent viewports, drag and drop of a series, synchronised
// scrolling, the "?" help in Thai and English, and on the phone viewport touch
// gestures (one finger scrolls, pinch zooms, two fingers set W/L) and tap-to-place.
// Screenshots: e2e/test-results/<config>-reading-<step>.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { CONFIGS, analyse, launch, screenFromImage, waitDrawn } from '../lib/browser.js';
import { execFileSync } from 'node:child_process';

import { E2E_DIR, PASSWORD, PYTHON, SLICES, USER, oracle, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const ONLY = process.env.E2E_CONFIGS ? process.env.E2E_CONFIGS.split(',') : null;

// A DX wider than any texture limit (WebGL2/WebGPU: 8192 or 16384), MONOCHROME1,
// 12-bit, a smooth ramp: written by pydicom, sent by STOW-RS.
const BIG_DX = `
import sys
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
cols, rows = 17000, 200
x = np.arange(cols)[None, :] * (3000.0 / cols)
y = np.arange(rows)[:, None] * (1000.0 / rows)
px = np.round(x + y).astype(np.uint16)
meta = FileMetaDataset()
meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
meta.MediaStorageSOPInstanceUID = generate_uid()
meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds = Dataset()
ds.file_meta = meta
ds.SpecificCharacterSet = "ISO_IR 192"
ds.SOPClassUID = meta.MediaStorageSOPClassUID
ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.StudyInstanceUID = generate_uid()
ds.SeriesInstanceUID = generate_uid()
ds.PatientName = "ภาพใหญ่^ทดสอบ"
ds.PatientID = "HN-DX-1"
ds.StudyDate = "20240102"
ds.Modality = "DX"
ds.SeriesNumber = 1
ds.InstanceNumber = 1
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME1"
ds.Rows, ds.Columns = rows, cols
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
ds.WindowCenter, ds.WindowWidth = "2048", "4096"
ds.ImagerPixelSpacing = ["0.1", "0.1"]
ds.PixelData = px.tobytes()
ds.save_as(sys.argv[1], enforce_file_format=True)
print(ds.StudyInstanceUID)
`;

// A sagittal series in the Thai CT study, same frame of reference: 3 slices of 512
// columns along +y (the axial field of view) and 128 rows of 0.5 mm along -z, from
// 10 mm above the first axial slice; written by pydicom from the first axial file.
const SAGITTAL = `
import json, sys
import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
ax = pydicom.dcmread(sys.argv[1])
out = sys.argv[2]
ps = float(ax.PixelSpacing[1])
x0, y0, z0 = (float(v) for v in ax.ImagePositionPatient)
series = generate_uid()
for k in range(3):
    ds = pydicom.dcmread(sys.argv[1])
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SeriesNumber = 3
    ds.SeriesDescription = "Sagittal"
    ds.InstanceNumber = k + 1
    ds.ImageOrientationPatient = ["0", "1", "0", "0", "0", "-1"]
    ds.ImagePositionPatient = [f"{x0 + 256 * ps + 20 * (k - 1):.3f}", f"{y0:.3f}", f"{z0 + 10:.3f}"]
    ds.PixelSpacing = ["0.5", f"{ps:.6f}"]
    ds.Rows, ds.Columns = 128, 512
    ramp = (np.arange(512)[None, :] + 4 * np.arange(128)[:, None]).astype(np.int16)
    ds.PixelData = ramp.astype(ax.pixel_array.dtype).tobytes()
    if "SliceLocation" in ds:
        del ds.SliceLocation
    ds.save_as(f"{out}-{k}.dcm")
print(json.dumps({"series_uid": series, "col_spacing": ps}))
`;

// An ultrasound cine: one multi-frame instance, 12 frames of 80×64, 8-bit, Frame
// Time 50 ms (20 frames per second); frame k is a ramp plus 20·k so frames differ.
const US_CINE = `
import sys
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
frames, rows, cols = 12, 64, 80
px = np.stack([(np.arange(cols)[None, :] + np.arange(rows)[:, None] + 20 * k) % 256 for k in range(frames)]).astype(np.uint8)
meta = FileMetaDataset()
meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
meta.MediaStorageSOPInstanceUID = generate_uid()
meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds = Dataset()
ds.file_meta = meta
ds.SOPClassUID = meta.MediaStorageSOPClassUID
ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
ds.StudyInstanceUID = generate_uid()
ds.SeriesInstanceUID = generate_uid()
ds.PatientName = "CINE^TEST"
ds.PatientID = "HN-US-1"
ds.StudyDate = "20240103"
ds.Modality = "US"
ds.SeriesNumber = 1
ds.InstanceNumber = 1
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME2"
ds.Rows, ds.Columns = rows, cols
ds.NumberOfFrames = frames
ds.FrameTime = "50"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
ds.PixelData = px.tobytes()
ds.save_as(sys.argv[1], enforce_file_format=True)
print(ds.StudyInstanceUID)
`;

/** Writes the big DX and stores it by STOW-RS; returns { file, studyUid }. */
async function storeBigDx() {
  const file = path.join(server.work, 'big-dx.dcm');
  const studyUid = execFileSync(PYTHON, ['-c', BIG_DX, file], { encoding: 'utf8' }).trim();
  await server.stow([file]);
  return { file, studyUid };
}

let sagittal = null;
/** Adds the sagittal series to the Thai study once; returns { series_uid, col_spacing }. */
async function storeSagittal() {
  if (sagittal) return sagittal;
  const base = path.join(server.work, 'sagittal');
  sagittal = JSON.parse(execFileSync(PYTHON, ['-c', SAGITTAL, sliceFile(1), base], { encoding: 'utf8' }));
  await server.stow([0, 1, 2].map((k) => `${base}-${k}.dcm`));
  return sagittal;
}

let server;
let bigDx;
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  server = await startServer();
  bigDx = await storeBigDx();
});
after(async () => {
  await server?.stop();
});

function sliceFile(n) {
  return path.join(server.work, 'thai', server.thai.files[n - 1]);
}

const vp = (page, k = 0) => page.locator(`[data-testid=viewport][data-slot="${k}"]`);

async function state(page, k = 0) {
  return vp(page, k).evaluate((el) => ({ ...el.dataset }));
}

async function shot(page, config, step) {
  return page.screenshot({ path: path.join(RESULTS, `${config.name}-reading-${step}.png`) });
}

const text = async (page, id, k = 0) => vp(page, k).getByTestId(id).textContent();

/**
 * Compares the canvas with pydicom's gray levels of slice `n` under (c, w), where
 * `place(col, row)` gives the fitted, unrotated image position that shows image
 * pixel (col, row) on screen now; `invert` flips the expected grays.
 */
async function assertOracle(page, png, n, c, w, place, invert = false, k = 0) {
  const rect = await vp(page, k).getByTestId('viewport-canvas').boundingBox();
  const o = oracle(sliceFile(n), c, w);
  const pts = o.points.map((p) => {
    const [x, y] = place(p.col, p.row, o.cols, o.rows);
    return screenFromImage(rect, o.cols, o.rows, x, y).map(Math.floor);
  });
  const { at } = await analyse(page, png, rect, pts);
  const bad = [];
  o.points.forEach((p, i) => {
    const [r, g, b] = at[i];
    const lo = invert ? 255 - p.hi : p.lo;
    const hi = invert ? 255 - p.lo : p.hi;
    const ok = Math.abs(r - g) <= 2 && Math.abs(g - b) <= 2 && r >= lo - 8 && r <= hi + 8;
    if (!ok) bad.push(`image (${p.col},${p.row}) screen ${pts[i]}: got ${at[i]} want [${lo}..${hi}]`);
  });
  assert.ok(bad.length <= 2, `${bad.length}/${o.points.length} points differ from pydicom:\n${bad.join('\n')}`);
}

const identity = (c, r) => [c, r];
const rotatedRight = (c, r, cols, rows) => [rows - 1 - r, c];
const mirrored = (c, r, cols) => [cols - 1 - c, r];

async function markers(page, k = 0) {
  const get = (id) => vp(page, k).getByTestId(id).textContent();
  return [await get('marker-left'), await get('marker-right'), await get('marker-top'), await get('marker-bottom')].join(' ');
}

for (const config of CONFIGS) {
  if (ONLY && !ONLY.includes(config.name)) continue;
  describe(`reading (${config.name}, ${config.viewport.width}×${config.viewport.height})`, () => {
    let b;
    before(async () => { b = await launch(config); });
    after(async () => {
      if (b) {
        fs.writeFileSync(path.join(RESULTS, `${config.name}-reading-console.log`), b.console.join('\n'));
        await b.browser.close();
      }
    });

    test('opens on one viewport with the overlay text and orientation markers', async () => {
      const { page } = b;
      const uid = server.thai.study_uid;
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${uid}`);
      await page.getByTestId('login-username').fill(USER);
      await page.getByTestId('login-password').fill(PASSWORD);
      await page.getByTestId('login-submit').click();
      await waitDrawn(page, 0);
      assert.equal(await page.getByTestId('viewport').count(), 1);
      const [family, given] = server.thai.patient_name.split('^');
      assert.equal(await text(page, 'overlay-patient'), `${given} ${family}`);
      assert.equal(await text(page, 'overlay-id'), server.thai.patient_id);
      // Thai UI, Buddhist Era by default: born 1970-01-01 = 2513.
      assert.match(await text(page, 'overlay-birth'), /2513/);
      assert.match(await text(page, 'overlay-study-date'), /25\d\d/);
      assert.equal(await text(page, 'overlay-image'), `Im 1/${SLICES}`);
      assert.match(await text(page, 'overlay-slice'), /^Loc -?\d+\.\d mm\s+Th \d+(\.\d+)? mm$/);
      assert.match(await text(page, 'overlay-series'), /Axial/);
      assert.equal(await text(page, 'overlay-wl'), 'W 400 L 40');
      assert.match(await text(page, 'overlay-zoom'), /^Zoom \d+%$/);
      // Axial, head first supine: patient right on the viewer's left, anterior up.
      assert.equal(await markers(page), 'R L A P');
      assert.equal((await state(page)).active, 'true');
      await shot(page, config, '01-open');
    });

    test('1:1, zoom, rotate, flip and invert redraw exactly where the transform says', async () => {
      const { page } = b;
      await page.getByTestId('viewport-canvas').click({ position: { x: 5, y: 5 } });
      await page.keyboard.press('0');
      await vp(page).getByTestId('overlay-zoom').filter({ hasText: 'Zoom 100%' }).waitFor();
      await page.keyboard.press('+');
      await vp(page).getByTestId('overlay-zoom').filter({ hasText: 'Zoom 125%' }).waitFor();
      await shot(page, config, '02-zoomed');
      await page.keyboard.press('f');
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]').dataset.zoom === '1');

      let s = await state(page);
      await page.keyboard.press('r');
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]').dataset.rotation === '1');
      await waitDrawn(page, 0, Number(s.draws));
      assert.equal(await markers(page), 'P A R L', 'markers follow the rotation');
      let png = await shot(page, config, '03-rotated-right');
      await assertOracle(page, png, 1, 40, 400, rotatedRight);

      s = await state(page);
      await page.keyboard.press('x'); // reset
      await page.keyboard.press('h'); // mirror left-right
      await page.waitForFunction(() => {
        const d = document.querySelector('[data-testid=viewport]').dataset;
        return d.rotation === '0' && d.flip === 'true';
      });
      await waitDrawn(page, 0, Number(s.draws));
      assert.equal(await markers(page), 'L R A P');
      png = await shot(page, config, '04-flipped');
      await assertOracle(page, png, 1, 40, 400, mirrored);

      s = await state(page);
      await page.keyboard.press('x');
      await page.getByTestId('invert').click();
      await page.waitForFunction(() => {
        const d = document.querySelector('[data-testid=viewport]').dataset;
        return d.invert === 'true' && d.flip === 'false';
      });
      await waitDrawn(page, 0, Number(s.draws));
      png = await shot(page, config, '05-inverted');
      await assertOracle(page, png, 1, 40, 400, identity, true);

      // Toolbar buttons do what the keys do.
      await page.getByTestId('rotate-left').click();
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]').dataset.rotation === '3');
      assert.equal(await markers(page), 'A P L R');
      await page.getByTestId('reset').click();
      await page.waitForFunction(() => {
        const d = document.querySelector('[data-testid=viewport]').dataset;
        return d.rotation === '0' && d.invert === 'false' && d.zoom === '1';
      });
    });

    test('Page Up/Down, Home/End and cine move through the stack', async () => {
      const { page } = b;
      await page.keyboard.press('PageDown');
      await vp(page).getByTestId('overlay-image').filter({ hasText: `Im 11/${SLICES}` }).waitFor();
      await page.keyboard.press('End');
      await vp(page).getByTestId('overlay-image').filter({ hasText: `Im ${SLICES}/${SLICES}` }).waitFor();
      await page.keyboard.press('PageUp');
      await vp(page).getByTestId('overlay-image').filter({ hasText: `Im ${SLICES - 10}/${SLICES}` }).waitFor();
      await page.keyboard.press('Home');
      await vp(page).getByTestId('overlay-image').filter({ hasText: `Im 1/${SLICES}` }).waitFor();
      await page.waitForFunction((n) => Number(document.querySelector('[data-testid=viewport]').dataset.loaded) === n, SLICES, { timeout: 60000 });

      assert.equal(await page.getByTestId('cine-fps').textContent(), '15 fps');
      await page.getByTestId('fps-up').click();
      assert.equal(await page.getByTestId('cine-fps').textContent(), '20 fps');
      await page.keyboard.press('c');
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]').dataset.cine === 'true');
      // Cine advances (and wraps) by itself.
      const seen = await page.evaluate(() => new Promise((resolve) => {
        const el = document.querySelector('[data-testid=viewport]');
        const out = new Set();
        const t = setInterval(() => out.add(el.dataset.index), 20);
        setTimeout(() => { clearInterval(t); resolve([...out]); }, 1500);
      }));
      assert.ok(seen.length >= 5, `cine showed ${seen.length} slices: ${seen}`);
      await shot(page, config, '06-cine');
      await page.keyboard.press(' ');
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]').dataset.cine === 'false');
      await page.keyboard.press('Home');
    });

    test('window menu lists the CT presets and the file windows; 9 cycles the file windows', async () => {
      const { page } = b;
      const menu = page.getByTestId('window-menu');
      const options = await menu.locator('option').allTextContents();
      for (const want of ['Lung', 'ปอด', 'MEDIASTINUM', 'LUNG']) {
        if (want === 'Lung' || want === 'ปอด') continue; // language-dependent, checked below
        assert.ok(options.some((o) => o.includes(want)), `${want} in ${options}`);
      }
      assert.ok(options.some((o) => /ปอด|Lung/.test(o)), `a lung preset in ${options}`);
      assert.equal(options.filter((o) => /^[1-8] /.test(o)).length, 8, 'eight CT presets');
      await menu.selectOption('p7'); // bone
      await vp(page).getByTestId('overlay-wl').filter({ hasText: 'W 1800 L 400' }).waitFor();
      await menu.selectOption('f1'); // the file's LUNG window
      await vp(page).getByTestId('overlay-wl').filter({ hasText: 'W 1500 L -600' }).waitFor();
      await page.keyboard.press('9'); // next file window: MEDIASTINUM
      await vp(page).getByTestId('overlay-wl').filter({ hasText: 'W 400 L 40' }).waitFor();
      await page.keyboard.press('9'); // and round again: LUNG
      await vp(page).getByTestId('overlay-wl').filter({ hasText: 'W 1500 L -600' }).waitFor();
      const s = await state(page);
      await waitDrawn(page, 0, Number(s.draws) - 1);
      const png = await shot(page, config, '07-file-lung-window');
      await assertOracle(page, png, 1, -600, 1500, identity);
      await page.keyboard.press('9');
      await vp(page).getByTestId('overlay-wl').filter({ hasText: 'W 400 L 40' }).waitFor();
    });

    test('layouts give independent viewports; series go in by drag and drop or tap', async () => {
      const { page } = b;
      await page.getByTestId('layout-1x2').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=viewport]').length === 2);
      // The second viewport starts with the study's next series, or empty when there is
      // none (the first configuration; a later test adds a sagittal series).
      assert.notEqual((await state(page, 1)).seriesUid, server.thai.series_uid);
      const axial = page.locator(`[data-testid=series-item][data-series-uid="${server.thai.series_uid}"]`);
      if (config.hasTouch) {
        // Touch: tap the series, then the viewport.
        await axial.tap();
        await page.getByTestId('drop-note').waitFor();
        await vp(page, 1).tap();
      } else {
        await axial.dragTo(vp(page, 1).getByTestId('viewport-canvas'));
      }
      await page.waitForFunction(([uid, n]) => {
        const d = document.querySelector('[data-testid=viewport][data-slot="1"]').dataset;
        return d.seriesUid === uid && d.total === String(n) && d.drawn === '0';
      }, [server.thai.series_uid, SLICES], { timeout: 60000 });
      assert.equal((await state(page, 1)).seriesUid, server.thai.series_uid);
      assert.equal((await state(page, 1)).active, 'true', 'the viewport that took the series is active');
      assert.equal((await state(page, 0)).active, 'false');

      // Keys act on the active viewport only.
      await page.keyboard.press('4');
      await vp(page, 1).getByTestId('overlay-wl').filter({ hasText: 'W 1500 L -600' }).waitFor();
      assert.equal(await text(page, 'overlay-wl', 0), 'W 400 L 40');
      for (let i = 0; i < 5; i += 1) await page.keyboard.press('ArrowDown');
      await vp(page, 1).getByTestId('overlay-image').filter({ hasText: `Im 6/${SLICES}` }).waitFor();
      assert.equal(await text(page, 'overlay-image', 0), `Im 1/${SLICES}`);

      // Synchronised scrolling by position: the other viewport follows.
      await page.getByTestId('sync-toggle').click();
      await page.keyboard.press('PageDown');
      await vp(page, 1).getByTestId('overlay-image').filter({ hasText: `Im 16/${SLICES}` }).waitFor();
      await vp(page, 0).getByTestId('overlay-image').filter({ hasText: `Im 16/${SLICES}` }).waitFor();
      await page.getByTestId('sync-toggle').click();
      await shot(page, config, '08-two-viewports');

      // Shift+4: 2×2, Shift+5: 3×3, Shift+1 back to one; keys via the digit code.
      await page.keyboard.press('Shift+Digit4');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=viewport]').length === 4);
      assert.equal(await page.getByTestId('reading').getAttribute('data-layout'), '2x2');
      await page.getByTestId('layout-3x3').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=viewport]').length === 9);
      await vp(page, 8).click();
      assert.equal((await state(page, 8)).active, 'true');
      await shot(page, config, '09-three-by-three');
      await page.keyboard.press('Shift+Digit1');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=viewport]').length === 1);
      assert.equal((await state(page, 0)).active, 'true', 'the active viewport falls back to the first');
    });

    test('"?" lists every shortcut in Thai and in English', async () => {
      const { page } = b;
      await page.keyboard.press('?');
      const help = page.getByTestId('help-overlay');
      await help.waitFor();
      const th = await help.textContent();
      assert.match(th, /คีย์ลัด/);
      assert.match(th, /หมุนขวา/);
      assert.match(th, /Shift\+1/);
      await shot(page, config, '10-help-thai');
      await page.keyboard.press('Escape');
      await help.waitFor({ state: 'detached' });
      await page.getByTestId('lang-toggle').first().click();
      await page.getByTestId('help-open').click();
      const en = await help.textContent();
      assert.match(en, /Rotate 90 degrees right \/ left/);
      assert.match(en, /Synchronised scrolling/);
      await shot(page, config, '11-help-english');
      await page.getByTestId('help-close').click();
      await page.getByTestId('lang-toggle').first().click(); // back to Thai
    });

    test('a DX wider than the texture limit is tiled at full resolution, no notice, MONOCHROME1 inverted', async () => {
      const { page } = b;
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${bigDx.studyUid}`);
      await waitDrawn(page, 0);
      // Wider than the device's limit: held as tiles at full size, not reduced
      // (e2e/tests/large.test.js checks a tiled frame pixel by pixel at 1:1).
      assert.ok(Number((await state(page)).tiles) > 1, 'tiled');
      assert.equal(await vp(page).getByTestId('overlay-reduced').count(), 0);
      assert.equal(await text(page, 'overlay-wl'), 'W 4096 L 2048');
      const png = await shot(page, config, '15-big-dx-tiled');
      // pydicom's gray, inverted (MONOCHROME1: high values dark).
      const rect = await vp(page).getByTestId('viewport-canvas').boundingBox();
      const o = JSON.parse(execFileSync(PYTHON, [path.join(E2E_DIR, 'oracle.py'), bigDx.file, '2048', '4096', '9'], { encoding: 'utf8' }));
      const pts = o.points.map((p) => screenFromImage(rect, o.cols, o.rows, p.col, p.row).map(Math.floor));
      const { at } = await analyse(page, png, rect, pts);
      const bad = [];
      o.points.forEach((p, i) => {
        if (Math.abs(at[i][0] - (255 - p.gray)) > 10) bad.push(`(${p.col},${p.row}) got ${at[i]} want ${255 - p.gray}`);
      });
      assert.ok(bad.length <= 2, bad.join('\n'));
      await page.goBack();
      await waitDrawn(page, 0);
    });

    if (config.hasTouch) {
      test('touch: one finger scrolls, pinch zooms, two fingers set W/L', async () => {
        const { page } = b;
        const cdp = await page.context().newCDPSession(page);
        const rect = await page.getByTestId('viewport-canvas').boundingBox();
        const cx = rect.x + rect.width / 2, cy = rect.y + rect.height / 2;
        const touch = (type, pts) => cdp.send('Input.dispatchTouchEvent', {
          type, touchPoints: pts.map(([x, y], id) => ({ x, y, id, radiusX: 2, radiusY: 2, force: 1 })),
        });
        const gesture = async (from, to, steps = 8) => {
          await touch('touchStart', from);
          for (let i = 1; i <= steps; i += 1) {
            await touch('touchMove', from.map(([x, y], k) => [x + ((to[k][0] - x) * i) / steps, y + ((to[k][1] - y) * i) / steps]));
          }
          await touch('touchEnd', []);
        };
        await page.keyboard.press('Home');
        const s0 = await state(page);
        assert.equal(s0.index, '0');
        // One finger down 60 px: 5 slices (12 px each).
        await gesture([[cx, cy - 40]], [[cx, cy + 20]]);
        await vp(page).getByTestId('overlay-image').filter({ hasText: `Im 6/${SLICES}` }).waitFor();
        // Pinch out: the fingers twice as far apart.
        await gesture([[cx - 40, cy], [cx + 40, cy]], [[cx - 80, cy], [cx + 80, cy]]);
        const zoom = Number((await state(page)).zoom);
        assert.ok(zoom > 1.5 && zoom < 2.5, `pinch zoom ${zoom}`);
        await shot(page, config, '12-pinched');
        // Two fingers moving together (same distance): window/level.
        const wlBefore = await text(page, 'overlay-wl');
        await gesture([[cx - 40, cy], [cx + 40, cy]], [[cx, cy + 40], [cx + 80, cy + 40]]);
        const wlAfter = await text(page, 'overlay-wl');
        assert.notEqual(wlAfter, wlBefore, 'two-finger drag changed W/L');
        await shot(page, config, '13-two-finger-wl');
        // The series drawer opens over the image on a phone.
        // The CDP touch gestures above can still be settling (a tap right after them is
        // sometimes swallowed by the emulated touch stream): tap until the drawer is open.
        const panelOpen = page.locator('[data-testid=series-panel].open');
        for (let attempt = 0; attempt < 5 && !(await panelOpen.count()); attempt += 1) {
          await page.getByTestId('series-drawer').tap();
          await panelOpen.waitFor({ timeout: 3000 }).catch(() => {});
        }
        await panelOpen.waitFor();
        await shot(page, config, '14-series-drawer');
        await page.getByTestId('series-item').first().tap();
        await page.locator('[data-testid=series-panel].open').waitFor({ state: 'detached' });
      });
    }

    test('a multi-frame cine scrolls frame by frame and plays at its Frame Time', async () => {
      const { page } = b;
      const file = path.join(server.work, 'us-cine.dcm');
      const studyUid = execFileSync(PYTHON, ['-c', US_CINE, file], { encoding: 'utf8' }).trim();
      await server.stow([file]);
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${studyUid}`);
      await page.locator('[data-testid=series-item], [data-testid=login-username]').first().waitFor();
      if (await page.getByTestId('login-username').count()) {
        await page.getByTestId('login-username').fill(USER);
        await page.getByTestId('login-password').fill(PASSWORD);
        await page.getByTestId('login-submit').click();
      }
      await waitDrawn(page, 0);
      assert.equal(await text(page, 'overlay-image'), 'Im 1/12');
      assert.equal(await page.getByTestId('cine-fps').textContent(), '20 fps', 'Frame Time 50 ms');
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]').dataset.loaded === '12', null, { timeout: 60000 });
      await page.keyboard.press('ArrowDown');
      await vp(page).getByTestId('overlay-image').filter({ hasText: 'Im 2/12' }).waitFor();
      await page.keyboard.press('c');
      const seen = await page.evaluate(() => new Promise((resolve) => {
        const el = document.querySelector('[data-testid=viewport]');
        const out = new Set();
        const t = setInterval(() => out.add(el.dataset.drawn), 10);
        setTimeout(() => { clearInterval(t); resolve([...out]); }, 1200);
      }));
      assert.ok(seen.length >= 6, `cine drew ${seen.length} frames: ${seen}`);
      await page.keyboard.press('c');
      await shot(page, config, '17-us-cine');
    });

    test('reference lines: the active axial slice is drawn on a sagittal image and follows scrolling', async () => {
      const { page } = b;
      const sag = await storeSagittal();
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${server.thai.study_uid}`);
      await page.locator('[data-testid=series-item], [data-testid=login-username]').first().waitFor();
      if (await page.getByTestId('login-username').count()) {
        await page.getByTestId('login-username').fill(USER);
        await page.getByTestId('login-password').fill(PASSWORD);
        await page.getByTestId('login-submit').click();
      }
      await page.locator(`[data-testid=series-item][data-series-uid="${sag.series_uid}"]`).waitFor();
      await page.getByTestId('layout-1x2').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=viewport]').length === 2);
      await vp(page, 0).click();
      await page.locator(`[data-testid=series-item][data-series-uid="${server.thai.series_uid}"]`).click();
      await vp(page, 1).click();
      await page.locator(`[data-testid=series-item][data-series-uid="${sag.series_uid}"]`).click();
      await page.waitForFunction(() => {
        const el = document.querySelector('[data-testid=viewport][data-slot="1"]');
        return el.dataset.seriesUid && el.dataset.drawn === '0';
      }, null, { timeout: 60000 });
      assert.equal((await state(page, 0)).seriesUid, server.thai.series_uid);
      await vp(page, 0).click(); // the axial viewport is active
      await page.keyboard.press('Home');
      const line = vp(page, 1).getByTestId('reference-line').locator('line');
      await line.waitFor({ state: 'attached' });
      const ends = async () => line.evaluate((l) => ['x1', 'y1', 'x2', 'y2'].map((a) => Number(l.getAttribute(a))));
      const [x1, y1, x2, y2] = await ends();
      assert.ok(Math.abs(y1 - y2) < 0.5 && Math.abs(x2 - x1) > 50, `a horizontal line: ${[x1, y1, x2, y2]}`);
      // The first axial slice is 10 mm below the sagittal's first row centre: row 20 of
      // 128, whose centre lies 20.5 rows below the image's top edge.
      const rect = await vp(page, 1).getByTestId('viewport-canvas').boundingBox();
      const aspect = 0.5 / sag.col_spacing;
      const scale = Math.min(rect.width / 512, rect.height / (128 * aspect));
      const top = (rect.height - 128 * aspect * scale) / 2;
      const want = rect.y - rect.y + top + 20.5 * aspect * scale;
      assert.ok(Math.abs(y1 - want) < 1, `line at ${y1}, want ${want}`);
      await shot(page, config, '16-reference-line');
      // Ten axial slices (10 mm) further down: 20 rows of 0.5 mm lower on the sagittal.
      await page.keyboard.press('PageDown');
      await page.waitForFunction(([y]) => {
        const l = document.querySelector('[data-testid=viewport][data-slot="1"] [data-testid=reference-line] line');
        return l && Math.abs(Number(l.getAttribute('y1')) - y) > 1;
      }, [y1]);
      const [, y1b] = await ends();
      assert.ok(Math.abs(y1b - y1 - 20 * aspect * scale) < 1, `moved ${y1b - y1}, want ${20 * aspect * scale}`);
      // Off: no line.
      await page.keyboard.press('g');
      await vp(page, 1).getByTestId('reference-line').waitFor({ state: 'detached' });
    });
  });
}
