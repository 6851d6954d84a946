// Colour images end to end: real colour files from pydicom's test set (RGB by plane in
// Big Endian, YBR_FULL_422 JPEG baseline and uncompressed, 16-bit RGB RLE with two
// frames, YBR_RCT JPEG 2000, PALETTE COLOR, and a 30-frame YBR ultrasound cine), each
// restamped as a study of its own and sent by STOW-RS, opened by deep link, and
// checked on the canvas against the R, G, B that pydicom computes (oracle.py --rgb).
// Also: no W/L text or CT presets on colour, W/L drag as linear contrast, the probe's
// R G B, coloured series thumbnails and cine; and, on WebGL2, a lost context
// (WEBGL_lose_context) recovered without a reload. Runs with WebGPU and with WebGL2;
// screenshots go to e2e/test-results/<config>-colour-<step>.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { CONFIGS, analyse, closeWithLog, launch, logIn, screenFromImage, waitDrawn } from '../lib/browser.js';
import { E2E_DIR, PASSWORD, PYTHON, USER, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const ONLY = process.env.E2E_CONFIGS ? process.env.E2E_CONFIGS.split(',') : null;
const ORACLE = path.join(E2E_DIR, 'oracle.py');

/** pydicom's own test files (shipped in its wheel), as the venv has them. */
const TEST_FILES = execFileSync(PYTHON, ['-c',
  'import pathlib, pydicom; print(pathlib.Path(pydicom.__file__).parent / "data" / "test_files")'],
{ encoding: 'utf8' }).trim();

/** The files, what they exercise, and whether most of their pixels are coloured. */
const FILES = [
  { name: 'ExplVR_BigEnd.dcm', what: 'RGB, planar configuration 1, big endian', colourful: true },
  { name: 'SC_rgb_dcmtk_+eb+cy+s2.dcm', what: 'YBR_FULL_422 JPEG baseline', colourful: true },
  { name: 'SC_ybr_full_422_uncompressed.dcm', what: 'YBR_FULL_422 uncompressed', colourful: true },
  { name: 'SC_rgb_rle_16bit_2frame.dcm', what: '16-bit RGB RLE, 2 frames', colourful: true },
  { name: 'examples_jpeg2k.dcm', what: 'YBR_RCT JPEG 2000 (US)', colourful: false },
  { name: 'examples_palette.dcm', what: 'PALETTE COLOR', colourful: false },
  {
    name: 'palette_bulk.dcm', source: 'examples_palette.dcm', widen: true,
    what: 'PALETTE COLOR, a 4096-entry table fetched as bulk data', colourful: false,
  },
  { name: 'examples_ybr_color.dcm', what: 'YBR_FULL_422 JPEG, 30-frame US cine', colourful: false },
];

let server;
const studies = {};
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  server = await startServer();
  const dir = path.join(server.work, 'colour');
  fs.mkdirSync(dir);
  const files = FILES.map((f) => {
    const out = path.join(dir, f.name);
    const args = [ORACLE, '--restamp', path.join(TEST_FILES, f.source ?? f.name), out, ...(f.widen ? ['--widen-palette'] : [])];
    studies[f.name] = JSON.parse(execFileSync(PYTHON, args, { encoding: 'utf8' }));
    return out;
  });
  await server.stow(files);
});
after(async () => {
  await server?.stop();
});

/** pydicom's R, G, B on a grid of frame `frame` (from 1) of the stored copy of `name`. */
function rgbOracle(name, frame = 1, grid = 7) {
  const file = path.join(server.work, 'colour', name);
  return JSON.parse(execFileSync(PYTHON, [ORACLE, '--rgb', file, String(frame), String(grid)], { encoding: 'utf8' }));
}

async function canvasRect(page) {
  return page.getByTestId('viewport-canvas').boundingBox();
}

async function shot(page, config, step) {
  return page.screenshot({ path: path.join(RESULTS, `${config.name}-colour-${step}.png`) });
}

/**
 * Compares the canvas with pydicom's colours at the oracle's grid points: each channel
 * within the 3×3 neighbourhood's range (the browser resamples) ± 10 (JPEG decoders and
 * YBR conversions round differently). Returns the colours read.
 */
async function assertMatchesOracle(page, png, o, label) {
  const rect = await canvasRect(page);
  const pts = o.points.map((p) => screenFromImage(rect, o.cols, o.rows, p.col, p.row).map(Math.floor));
  const { at } = await analyse(page, png, rect, pts);
  const bad = [];
  o.points.forEach((p, k) => {
    const ok = [0, 1, 2].every((c) => at[k][c] >= p.lo[c] - 10 && at[k][c] <= p.hi[c] + 10);
    if (!ok) bad.push(`image (${p.col},${p.row}): got ${at[k]} want ${p.rgb} [${p.lo}..${p.hi}]`);
  });
  assert.ok(bad.length <= 2, `${label}: ${bad.length}/${o.points.length} points differ from pydicom:\n${bad.join('\n')}`);
  return at;
}

async function openStudy(page, name) {
  await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${studies[name].study_uid}`);
  await waitDrawn(page, 0);
}

for (const config of CONFIGS) {
  if (ONLY && !ONLY.includes(config.name)) continue;
  if (config.hasTouch) continue; // the phone layout adds nothing to the colour path
  describe(`colour images (${config.name})`, () => {
    let b;
    before(async () => {
      b = await launch(config);
      await logIn(b.page, server.url, USER, PASSWORD);
    });
    after(async () => {
      await closeWithLog(b, path.join(RESULTS, `${config.name}-colour-console.log`));
    });

    for (const f of FILES) {
      test(`${f.what} (${f.name}) shows pydicom's colours`, async () => {
        const { page } = b;
        await openStudy(page, f.name);
        const backend = await page.getByTestId('viewport').evaluate((el) => el.dataset.backend);
        assert.equal(backend, config.backend);
        // Shown as is: no window to tell.
        assert.equal(await page.getByTestId('overlay-wl').textContent(), '');
        const png = await shot(page, config, f.name.replace(/[^A-Za-z0-9]+/g, '-'));
        const o = rgbOracle(f.name);
        const at = await assertMatchesOracle(page, png, o, f.name);
        if (f.colourful) {
          // Channels in their places: the colours differ between channels somewhere.
          assert.ok(at.some(([r, g, bl]) => Math.max(r, g, bl) - Math.min(r, g, bl) > 60), `colours: ${JSON.stringify(at)}`);
        }
        // The series thumbnail (server-rendered) arrives, in colour when the image is.
        await page.waitForFunction(() => {
          const img = document.querySelector('[data-testid=series-item] img');
          return img && img.complete && img.naturalWidth > 0;
        }, null, { timeout: 30000 });
        if (f.colourful) {
          const thumb = await page.locator('[data-testid=series-item] img').first().boundingBox();
          const stats = await analyse(page, await page.screenshot(), thumb);
          assert.ok(stats.grayFraction < 0.8, `a colour thumbnail: ${JSON.stringify(stats)}`);
        }
        const errors = b.console.filter((l) => /colour images are not shown|pageerror/.test(l));
        assert.deepEqual(errors, []);
        if (f.widen) {
          // The table came by WADO-RS bulk data, fetched by the decode worker.
          assert.ok(b.requests.some((r) => /\/bulk\/00281201$/.test(r.url)), 'palette fetched as bulk data');
        }
      });
    }

    test('the second frame of a 16-bit RGB instance matches too', async () => {
      const { page } = b;
      const name = 'SC_rgb_rle_16bit_2frame.dcm';
      await openStudy(page, name);
      assert.equal(await page.getByTestId('overlay-image').textContent(), 'Im 1/2');
      await page.keyboard.press('ArrowDown');
      await waitDrawn(page, 1);
      const png = await shot(page, config, 'rgb16-frame2');
      await assertMatchesOracle(page, png, rgbOracle(name, 2), `${name} frame 2`);
    });

    test('W/L drag is linear contrast on colour; CT presets do not apply', async () => {
      const { page } = b;
      const name = 'SC_rgb_dcmtk_+eb+cy+s2.dcm';
      await openStudy(page, name);
      const before = await page.getByTestId('viewport').evaluate((el) => Number(el.dataset.draws));
      await page.keyboard.press('4'); // the lung preset on a CT
      await page.waitForTimeout(300);
      assert.equal(await page.getByTestId('overlay-wl').textContent(), '', 'a CT preset left the colours alone');
      const rect = await canvasRect(page);
      const x = rect.x + rect.width / 2, y = rect.y + rect.height / 2;
      await page.mouse.move(x, y);
      await page.mouse.down();
      await page.mouse.move(x - 128, y, { steps: 4 }); // narrower: more contrast
      await page.mouse.up();
      const wl = await page.getByTestId('overlay-wl').textContent();
      const m = wl.match(/^W (\d+) L (\d+)$/);
      assert.ok(m, `W/L shown once changed: "${wl}"`);
      await waitDrawn(page, 0, before);
      const png = await shot(page, config, 'contrast');
      // Each channel through the VOI LINEAR function of the new window.
      const [w, c] = [Number(m[1]), Number(m[2])];
      const lin = (v) => {
        const t = (v - (c - 0.5)) / (w - 1) + 0.5;
        return Math.round(255 * Math.min(1, Math.max(0, t)));
      };
      const o = rgbOracle(name);
      const windowed = {
        ...o,
        points: o.points.map((p) => ({ ...p, rgb: p.rgb.map(lin), lo: p.lo.map(lin), hi: p.hi.map(lin) })),
      };
      await assertMatchesOracle(page, png, windowed, `${name} windowed ${wl}`);
      await page.keyboard.press('x'); // reset
      await page.waitForFunction(() => document.querySelector('[data-testid=overlay-wl]').textContent === '');
    });

    test('the probe reads R, G, B as pydicom does', async () => {
      const { page } = b;
      const name = 'ExplVR_BigEnd.dcm';
      await openStudy(page, name);
      await page.getByTestId('tool-probe').click();
      const rect = await canvasRect(page);
      const o = rgbOracle(name);
      const p = o.points[Math.floor(o.points.length / 2)];
      const at = screenFromImage(rect, o.cols, o.rows, p.col, p.row);
      await page.mouse.move(at[0] - 20, at[1]);
      await page.mouse.move(at[0], at[1], { steps: 4 });
      const readout = page.getByTestId('probe-readout');
      await readout.waitFor({ timeout: 30000 });
      const got = await readout.evaluate((el) => ({ ...el.dataset, text: el.textContent }));
      const col = Number(got.column), row = Number(got.row);
      const exact = rgbOracle(name, 1, 1);
      // The pixel under the pointer, as pydicom reads it (from a one-point grid when
      // that is the same pixel, else from the neighbourhood of the grid point).
      const want = (exact.points[0].col === col && exact.points[0].row === row) ? exact.points[0].rgb : null;
      const rgb = got.rgb.split(',').map(Number);
      assert.equal(rgb.length, 3, `data-rgb "${got.rgb}"`);
      if (want) assert.deepEqual(rgb, want);
      else [0, 1, 2].forEach((c) => assert.ok(rgb[c] >= p.lo[c] && rgb[c] <= p.hi[c], `probe ${rgb} at (${col},${row}) vs ${p.lo}..${p.hi}`));
      assert.match(got.text, new RegExp(`R ${rgb[0]}\\s+G ${rgb[1]}\\s+B ${rgb[2]}`));
      await shot(page, config, 'probe');
      await page.getByTestId('tool-probe').click();
    });

    test('a multi-frame colour ultrasound plays as cine', async () => {
      const { page } = b;
      await openStudy(page, 'examples_ybr_color.dcm');
      assert.equal(await page.getByTestId('overlay-image').textContent(), 'Im 1/30');
      await page.waitForFunction(() => Number(document.querySelector('[data-testid=viewport]').dataset.loaded) === 30,
        null, { timeout: 60000 });
      await page.keyboard.press('c');
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]').dataset.cine === 'true');
      const seen = await page.evaluate(() => new Promise((resolve) => {
        const el = document.querySelector('[data-testid=viewport]');
        const out = new Set();
        const t = setInterval(() => out.add(el.dataset.drawn), 20);
        setTimeout(() => { clearInterval(t); resolve([...out]); }, 1500);
      }));
      assert.ok(seen.length >= 5, `cine drew ${seen.length} frames: ${seen}`);
      await page.keyboard.press(' ');
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]').dataset.cine === 'false');
      // Frame 10 on screen matches pydicom's frame 10.
      await page.keyboard.press('Home');
      for (let k = 0; k < 9; k += 1) await page.keyboard.press('ArrowDown');
      await waitDrawn(page, 9);
      const png = await shot(page, config, 'cine-frame10');
      await assertMatchesOracle(page, png, rgbOracle('examples_ybr_color.dcm', 10), 'US frame 10');
    });

    test('a lost WebGL context comes back without a reload, every frame re-uploaded', async (t) => {
      if (config.backend !== 'WebGL2') {
        t.skip('WEBGL_lose_context exists on the WebGL2 path only');
        return;
      }
      const { page } = b;
      const name = 'SC_rgb_rle_16bit_2frame.dcm';
      await openStudy(page, name);
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]').dataset.loaded === '2',
        null, { timeout: 60000 });
      const draws = await page.getByTestId('viewport').evaluate((el) => Number(el.dataset.draws));
      await page.evaluate(async () => {
        window.rangsiNoReload = true;
        const canvas = document.querySelector('[data-testid=viewport-canvas]');
        // The context the viewer draws with (getContext returns the existing one).
        const lose = canvas.getContext('webgl2').getExtension('WEBGL_lose_context');
        lose.loseContext();
        await new Promise((r) => setTimeout(r, 500));
        lose.restoreContext();
      });
      await page.waitForFunction(() => document.querySelector('[data-testid=viewport]').dataset.restores === '1',
        null, { timeout: 30000 });
      await waitDrawn(page, 0, draws);
      assert.equal(await page.evaluate(() => window.rangsiNoReload), true, 'the page was not reloaded');
      let png = await shot(page, config, 'restored-frame1');
      await assertMatchesOracle(page, png, rgbOracle(name, 1), `${name} frame 1 after the context came back`);
      await page.keyboard.press('ArrowDown');
      await waitDrawn(page, 1);
      png = await shot(page, config, 'restored-frame2');
      await assertMatchesOracle(page, png, rgbOracle(name, 2), `${name} frame 2 after the context came back`);
      assert.ok(b.console.some((l) => /WebGL context lost/.test(l)), 'the loss was seen');
    });
  });
}
