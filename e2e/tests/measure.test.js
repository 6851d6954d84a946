// Pixel probe and measurements end to end: open the CT, probe a pixel and compare the
// stored value and HU with pydicom (oracle.py --pixel), draw a length and compare its
// mm with the distance computed from the file's Pixel Spacing, reload and find it
// restored from the server, then delete it; draw an ellipse ROI and compare its
// statistics with pydicom's over the corners the server saved (oracle.py --roi). Runs in every browser set-up of
// lib/browser.js (WebGPU, WebGL2, and the 375 px phone with touch input); screenshots
// go to e2e/test-results/<config>-measure-<step>.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { CONFIGS, launch, settle, waitDrawn } from '../lib/browser.js';
import { E2E_DIR, PASSWORD, PYTHON, USER, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const ONLY = process.env.E2E_CONFIGS ? process.env.E2E_CONFIGS.split(',') : null;

let server;
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

function runOracle(args) {
  const r = spawnSync(PYTHON, [path.join(E2E_DIR, 'oracle.py'), ...args.map(String)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`oracle.py ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

function sliceFile(n) {
  return path.join(server.work, 'thai', server.thai.files[n - 1]);
}

/** pydicom's reading of one pixel of image number `n` (1-based) of the Thai CT. */
function pixelOracle(n, col, row) {
  return runOracle(['--pixel', sliceFile(n), col, row]);
}

/** The user's measurements as the server has them (the page's own session). */
async function serverMeasurements(page) {
  return page.evaluate(async (uid) => {
    const r = await fetch(`/api/measurements?study=${uid}`, { headers: { Accept: 'application/json' } });
    return (await r.json()).measurements;
  }, server.thai.study_uid);
}

async function shot(page, config, step) {
  await settle(page);
  await page.screenshot({ path: path.join(RESULTS, `${config.name}-measure-${step}.png`) });
}

async function layerState(page) {
  return page.getByTestId('measure-layer').evaluate((el) => ({
    loaded: el.dataset.loaded === 'true', pending: Number(el.dataset.pending), count: Number(el.dataset.count),
  }));
}

/** Screen position (CSS px) of image position (x, y) (pixel corners at integers) in a fitted image. */
function screenOf(rect, cols, rows, x, y) {
  const scale = Math.min(rect.width / cols, rect.height / rows);
  const ox = rect.x + (rect.width - cols * scale) / 2;
  const oy = rect.y + (rect.height - rows * scale) / 2;
  return [ox + x * scale, oy + y * scale];
}

/** Deletes the user's measurements on the study (earlier configurations share the
 *  server) and reloads, so new drawings do not land on old handles. */
async function clearMeasurements(page) {
  await page.evaluate(async (uid) => {
    const r = await fetch(`/api/measurements?study=${uid}`, { headers: { Accept: 'application/json' } });
    for (const m of (await r.json()).measurements) {
      await fetch(`/api/measurements/${m.id}`, { method: 'DELETE' });
    }
  }, server.thai.study_uid);
  await page.reload();
  await page.getByTestId('measure-layer').waitFor({ timeout: 60000 });
  await waitDrawn(page, 0, 0);
  await page.waitForFunction(() => document.querySelector('[data-testid=measure-layer]')?.dataset.loaded === 'true');
  assert.equal((await layerState(page)).count, 0);
}

/** A press–move–release from `a` to `b`: the mouse, or one finger (CDP touch events) on the phone. */
async function drag(page, config, a, b, steps = 6) {
  if (config.hasTouch) {
    const cdp = await page.context().newCDPSession(page);
    const touch = (type, [x, y]) => cdp.send('Input.dispatchTouchEvent', {
      type, touchPoints: type === 'touchEnd' ? [] : [{ x, y, id: 1, radiusX: 1, radiusY: 1, force: 1 }],
    });
    await touch('touchStart', a);
    for (let k = 1; k <= steps; k += 1) {
      await touch('touchMove', [a[0] + (b[0] - a[0]) * k / steps, a[1] + (b[1] - a[1]) * k / steps]);
    }
    await touch('touchEnd', b);
    await cdp.detach();
    return;
  }
  await page.mouse.move(a[0], a[1]);
  await page.mouse.down();
  await page.mouse.move(b[0], b[1], { steps });
  await page.mouse.up();
}

async function openStudy(page) {
  await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${server.thai.study_uid}`);
  // The login form (a new browser) or straight the viewer (a session already open).
  await page.waitForSelector('[data-testid=login-username], [data-testid=measure-layer]', { timeout: 60000 });
  const login = page.getByTestId('login-username');
  if (await login.count()) {
    await login.fill(USER);
    await page.getByTestId('login-password').fill(PASSWORD);
    await page.getByTestId('login-submit').click();
  }
  await page.getByTestId('measure-layer').waitFor({ timeout: 60000 });
  await waitDrawn(page, 0, 0);
  await page.waitForFunction(() => document.querySelector('[data-testid=measure-layer]')?.dataset.loaded === 'true');
}

for (const config of CONFIGS) {
  if (ONLY && !ONLY.includes(config.name)) continue;
  describe(`measurements (${config.name}, ${config.viewport.width}×${config.viewport.height})`, () => {
    let b;
    before(async () => { b = await launch(config); });
    after(async () => {
      if (b) {
        fs.writeFileSync(path.join(RESULTS, `${config.name}-measure-console.log`), b.console.join('\n'));
        await b.browser.close();
      }
    });

    test('the probe shows the stored value and HU that pydicom reads', async () => {
      const { page } = b;
      await openStudy(page);
      await page.getByTestId('tool-probe').click();
      const rect = await page.getByTestId('viewport-canvas').boundingBox();
      const target = [200, 300];
      const at = screenOf(rect, 512, 512, target[0] + 0.5, target[1] + 0.5);
      if (config.hasTouch) {
        await drag(page, config, [at[0] - 20, at[1]], at, 4);
      } else {
        await page.mouse.move(at[0] - 20, at[1]);
        await page.mouse.move(at[0], at[1], { steps: 4 });
      }
      const readout = page.getByTestId('probe-readout');
      await readout.waitFor({ timeout: 30000 });
      const got = await readout.evaluate((el) => ({ ...el.dataset, text: el.textContent }));
      const col = Number(got.column), row = Number(got.row);
      assert.ok(Math.abs(col - target[0]) <= 1 && Math.abs(row - target[1]) <= 1,
        `probe at (${col}, ${row}), pointer over (${target})`);
      const want = pixelOracle(1, col, row);
      assert.equal(Number(got.stored), want.stored, `stored value at (${col}, ${row})`);
      assert.equal(Number(got.modality), want.modality, `HU at (${col}, ${row})`);
      assert.match(got.text, new RegExp(`HU ${want.modality}\\b`));
      const [x, y, z] = want.patient.map((v) => v.toFixed(1));
      assert.ok(got.text.includes(`${x}, ${y}, ${z} mm`), `patient position ${x}, ${y}, ${z} in ${got.text}`);
      await shot(page, config, '01-probe');
    });

    test('a length in mm from Pixel Spacing, saved on the server, restored after reload, deleted', async () => {
      const { page } = b;
      await page.getByTestId('tool-length').click();
      const rect = await page.getByTestId('viewport-canvas').boundingBox();
      const from = [120, 150], to = [380, 330]; // image positions
      const a = screenOf(rect, 512, 512, ...from), c = screenOf(rect, 512, 512, ...to);
      const before = await layerState(page);
      await drag(page, config, a, c);
      await page.waitForFunction((n) => Number(document.querySelector('[data-testid=measure-layer]').dataset.count) === n + 1,
        before.count, { timeout: 30000 });
      const m = page.getByTestId('measurement').last();
      const { id, kind, value } = await m.evaluate((el) => el.dataset);
      const label = await m.getByTestId('measurement-label').textContent();
      assert.equal(kind, 'length');
      // The oracle: Pixel Spacing from pydicom (row, column spacing), the same two
      // image positions; one screen pixel of error at each end is allowed.
      const { pixel_spacing: [rowMm, colMm] } = pixelOracle(1, 0, 0);
      const want = Math.hypot((to[0] - from[0]) * colMm, (to[1] - from[1]) * rowMm);
      const imagePerScreen = 512 / Math.min(rect.width, rect.height);
      const tolerance = 2 * imagePerScreen * Math.max(rowMm, colMm) + 0.05;
      assert.ok(Math.abs(Number(value) - want) <= tolerance, `length ${value} mm, want ${want.toFixed(2)} ± ${tolerance.toFixed(2)}`);
      assert.match(label, new RegExp(`${Number(value).toFixed(1)} mm`));
      assert.match(label, /PixelSpacing/);
      await shot(page, config, '02-length');

      // Saved for this user on the server (read back with the page's own session).
      await page.waitForFunction(() => document.querySelector('[data-testid=measure-layer]').dataset.pending === '0');
      const stored = await serverMeasurements(page);
      const saved = stored.find((s) => s.id === id);
      assert.ok(saved, `measurement ${id} on the server: ${JSON.stringify(stored)}`);
      assert.equal(saved.kind, 'length');

      await page.reload();
      await page.getByTestId('measure-layer').waitFor({ timeout: 60000 });
      await waitDrawn(page, 0, 0);
      await page.waitForFunction((mid) => !!document.querySelector(`[data-testid=measurement][data-id="${mid}"]`), id,
        { timeout: 30000 });
      const again = await page.locator(`[data-testid=measurement][data-id="${id}"]`).evaluate((el) => el.dataset.value);
      assert.equal(Number(again).toFixed(3), Number(value).toFixed(3), 'the same length after reload');
      await shot(page, config, '03-restored');

      // Select it (a press on a handle) and delete it with the button; gone after a reload too.
      const handle = page.locator(`[data-testid=measurement][data-id="${id}"] [data-testid=measurement-handle]`).first();
      const h = await handle.boundingBox();
      const hc = [h.x + h.width / 2, h.y + h.height / 2];
      if (config.hasTouch) {
        await drag(page, config, hc, hc, 1);
      } else {
        await page.mouse.click(hc[0], hc[1]);
      }
      await page.getByTestId('measurement-delete').click();
      await page.waitForFunction((mid) => !document.querySelector(`[data-testid=measurement][data-id="${mid}"]`), id);
      await page.waitForFunction(() => document.querySelector('[data-testid=measure-layer]').dataset.pending === '0');
      await page.reload();
      await page.getByTestId('measure-layer').waitFor({ timeout: 60000 });
      await page.waitForFunction(() => document.querySelector('[data-testid=measure-layer]')?.dataset.loaded === 'true');
      await waitDrawn(page, 0, 0);
      assert.equal(await page.locator(`[data-testid=measurement][data-id="${id}"]`).count(), 0, 'deleted on the server');
      await shot(page, config, '04-deleted');
    });

    test('an ellipse ROI has the mean, SD, min, max and area pydicom computes', async () => {
      const { page } = b;
      await page.getByTestId('tool-ellipse').click();
      const rect = await page.getByTestId('viewport-canvas').boundingBox();
      const before = await layerState(page);
      await drag(page, config, screenOf(rect, 512, 512, 170, 230), screenOf(rect, 512, 512, 300, 330));
      await page.waitForFunction((n) => Number(document.querySelector('[data-testid=measure-layer]').dataset.count) === n + 1,
        before.count, { timeout: 30000 });
      await page.waitForFunction(() => document.querySelector('[data-testid=measure-layer]').dataset.pending === '0');
      const m = page.getByTestId('measurement').last();
      const { id, kind, value } = await m.evaluate((el) => el.dataset);
      assert.equal(kind, 'ellipse');
      // The oracle gets the exact corners the server saved.
      const saved = (await serverMeasurements(page)).find((s) => s.id === id);
      assert.ok(saved, `ellipse ${id} saved`);
      const [[x0, y0], [x1, y1]] = saved.points;
      const want = runOracle(['--roi', sliceFile(1), 'ellipse', x0, y0, x1, y1]);
      assert.ok(Math.abs(Number(value) - want.mean) < 1e-6, `mean ${value}, pydicom ${want.mean}`);
      const label = await m.getByTestId('measurement-label').textContent();
      for (const part of [`${want.mean.toFixed(1)} HU`, want.sd.toFixed(1), `${want.min}`, `${want.max}`,
        `${want.area.toFixed(1)} mm²`, `(${want.pixels} `]) {
        assert.ok(label.includes(part), `label ${JSON.stringify(label)} shows ${part}`);
      }
      await shot(page, config, '05-ellipse');
      // Selected when drawn: the Delete key removes it.
      await page.keyboard.press('Delete');
      await page.waitForFunction((mid) => !document.querySelector(`[data-testid=measurement][data-id="${mid}"]`), id);
      await page.waitForFunction(() => document.querySelector('[data-testid=measure-layer]').dataset.pending === '0');
      assert.equal((await serverMeasurements(page)).filter((s) => s.id === id).length, 0, 'deleted on the server');
    });

    test('an angle (drag one arm, click the other) and a Cobb angle (drag two lines)', async () => {
      const { page } = b;
      await clearMeasurements(page);
      const rect = await page.getByTestId('viewport-canvas').boundingBox();
      const at = (x, y) => screenOf(rect, 512, 512, x, y);
      const tap = async ([x, y]) => (config.hasTouch ? drag(page, config, [x, y], [x, y], 1) : page.mouse.click(x, y));
      const newest = async (kind) => {
        await page.waitForFunction((k) => !!document.querySelector(`[data-testid=measurement][data-kind=${k}]`), kind,
          { timeout: 30000 });
        return Number(await page.locator(`[data-testid=measurement][data-kind=${kind}]`).last()
          .evaluate((el) => el.dataset.value));
      };
      // Vertex (250, 250); arms to (350, 250) and (250, 150): a right angle (square pixels).
      await page.getByTestId('tool-angle').click();
      await drag(page, config, at(350, 250), at(250, 250));
      await tap(at(250, 150));
      const angle = await newest('angle');
      assert.ok(Math.abs(angle - 90) < 1.5, `angle ${angle}°, want 90`);
      // Lines at 0° and at atan(60/100) = 30.96°: Cobb 30.96°.
      await page.getByTestId('tool-cobb').click();
      await drag(page, config, at(150, 200), at(350, 200));
      await drag(page, config, at(150, 260), at(350, 380));
      const cobb = await newest('cobb');
      const want = (Math.atan2(120, 200) * 180) / Math.PI;
      assert.ok(Math.abs(cobb - want) < 1.5, `Cobb ${cobb}°, want ${want.toFixed(2)}`);
      await shot(page, config, '06-angles');
      await page.waitForFunction(() => document.querySelector('[data-testid=measure-layer]').dataset.pending === '0');
      const kinds = (await serverMeasurements(page)).map((m) => m.kind);
      assert.ok(kinds.includes('angle') && kinds.includes('cobb'), `saved: ${kinds}`);
      await clearMeasurements(page);
    });
  });
}
