// The viewer end to end: log in, search a Thai name, open the CT study, check the
// image on the canvas against an independent oracle (pydicom), scroll, W/L presets
// and drag, language and era preferences, the About panel's backend. Runs once with
// WebGPU, once WebGL2-only and once on a 375 px wide phone viewport; screenshots go
// to e2e/test-results/<config>-<step>.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { CONFIGS, analyse, launch, screenFromImage, waitDrawn } from '../lib/browser.js';
import { E2E_DIR, PASSWORD, SLICES, USER, oracle, startServer } from '../lib/server.js';

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

/** The slice file of image number `n` (1-based) of the Thai study. */
function sliceFile(n) {
  return path.join(server.work, 'thai', server.thai.files[n - 1]);
}

async function viewportState(page) {
  return page.getByTestId('viewport').evaluate((el) => ({
    loaded: Number(el.dataset.loaded), total: Number(el.dataset.total), index: Number(el.dataset.index),
    drawn: el.dataset.drawn, draws: Number(el.dataset.draws), backend: el.dataset.backend,
  }));
}

async function canvasRect(page) {
  return page.getByTestId('viewport-canvas').boundingBox();
}

/** The part of `rect` a fitted cols×rows image covers. */
function imageRect(rect, cols, rows) {
  const [x0, y0] = screenFromImage(rect, cols, rows, -0.5, -0.5);
  const [x1, y1] = screenFromImage(rect, cols, rows, cols - 0.5, rows - 0.5);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

async function shot(page, config, step) {
  const file = path.join(RESULTS, `${config.name}-${step}.png`);
  const png = await page.screenshot({ path: file });
  return png;
}

/** Compares the canvas with the oracle's gray levels for slice `n` under (c, w). */
async function assertMatchesOracle(page, png, n, c, w) {
  const rect = await canvasRect(page);
  const o = oracle(sliceFile(n), c, w);
  const pts = o.points.map((p) => screenFromImage(rect, o.cols, o.rows, p.col, p.row).map(Math.floor));
  const { at } = await analyse(page, png, rect, pts);
  const bad = [];
  o.points.forEach((p, k) => {
    const [r, g, b] = at[k];
    const ok = Math.abs(r - g) <= 2 && Math.abs(g - b) <= 2 && r >= p.lo - 8 && r <= p.hi + 8;
    if (!ok) bad.push(`image (${p.col},${p.row}) screen ${pts[k]}: got ${at[k]} want ${p.gray} [${p.lo}..${p.hi}]`);
  });
  // Orientation and windowing errors move most points far out of range; allow a
  // couple of misses where a point sits on a sharp edge.
  assert.ok(bad.length <= 2, `${bad.length}/${o.points.length} points differ from pydicom:\n${bad.join('\n')}`);
}

for (const config of CONFIGS) {
  if (ONLY && !ONLY.includes(config.name)) continue;
  describe(`viewer (${config.name}, ${config.viewport.width}×${config.viewport.height})`, () => {
    let b;
    before(async () => { b = await launch(config); });
    after(async (t) => {
      if (b) {
        fs.writeFileSync(path.join(RESULTS, `${config.name}-console.log`), b.console.join('\n'));
        await b.browser.close();
      }
    });

    test('logs in, finds the Thai patient, opens the study on the CT image', async () => {
      const { page } = b;
      const thaiName = server.thai.patient_name; // "FAMILY^GIVEN" in Thai
      const [family, given] = thaiName.split('^');
      // A deep link first: after login it opens straight into the viewer.
      await page.goto(`${server.url}/`);
      await page.getByTestId('login-username').fill(USER);
      await page.getByTestId('login-password').fill('wrong');
      await page.getByTestId('login-submit').click();
      await assert.doesNotReject(page.getByTestId('login-error').filter({ hasText: /.+/ }).waitFor());
      await page.getByTestId('login-password').fill(PASSWORD);
      await page.getByTestId('login-submit').click();
      await page.getByTestId('study-table').waitFor();
      // Both studies are listed before searching.
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=study-row]').length === 2);
      await shot(page, config, '01-study-list');

      // Fuzzy Thai search on the start of the given name.
      await page.getByTestId('search-name').fill(given.slice(0, 3));
      await page.getByTestId('search-submit').click();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=study-row]').length === 1);
      const name = await page.getByTestId('study-patient-name').first().textContent();
      assert.equal(name, `${given} ${family}`, 'Thai names read given name first');
      await shot(page, config, '02-search-thai');

      await page.getByTestId('study-row').first().click();
      await page.waitForURL(/\/viewer\?StudyInstanceUIDs=/);
      assert.ok(page.url().includes(server.thai.study_uid));
      await page.getByTestId('series-item').first().waitFor();
      const count = await page.getByTestId('series-count').first().textContent();
      assert.match(count, new RegExp(`^${SLICES}\\b`));
      // The series thumbnail (server-rendered /thumbnail) arrives.
      await page.waitForFunction(() => {
        const img = document.querySelector('[data-testid=series-item] img');
        return img && img.complete && img.naturalWidth > 0;
      }, null, { timeout: 30000 });

      await waitDrawn(page, 0);
      // Frames come from WADO-RS /frames as stored (the worker decodes, not the server).
      const frameRequests = b.requests.filter((r) => /\/instances\/[^/]+\/frames\/1$/.test(r.url));
      assert.ok(frameRequests.length >= 1, 'frames requested');
      assert.match(frameRequests[0].headers.accept, /multipart\/related; type="application\/octet-stream"; transfer-syntax=\*/);
      const state = await viewportState(page);
      assert.equal(state.backend, config.backend, `graphics backend (console: ${b.console.join(' | ')})`);
      assert.equal(await page.getByTestId('overlay-patient').textContent(), `${given} ${family}`);
      assert.equal(await page.getByTestId('overlay-image').textContent(), `Im 1/${SLICES}`);
      assert.equal(await page.getByTestId('overlay-wl').textContent(), 'W 400 L 40');
      const png = await shot(page, config, '03-study-open');
      const stats = await analyse(page, png, imageRect(await canvasRect(page), 512, 512));
      assert.ok(stats.std > 20 && stats.litFraction > 0.1 && stats.litFraction < 0.9,
        `canvas not blank: ${JSON.stringify(stats)}`);
      assert.ok(stats.grayFraction > 0.97, `a grayscale image: ${JSON.stringify(stats)}`);
      await assertMatchesOracle(page, png, 1, 40, 400);
    });

    test('scrolls with the wheel and the arrow keys', async () => {
      const { page } = b;
      const rect = await canvasRect(page);
      await page.mouse.move(rect.x + rect.width / 2, rect.y + rect.height / 2);
      for (let k = 0; k < 3; k += 1) {
        await page.mouse.wheel(0, 120);
        await page.waitForTimeout(50);
      }
      await page.waitForFunction(() => document.querySelector('[data-testid=overlay-image]').textContent.startsWith('Im 4/'));
      for (let k = 0; k < 12; k += 1) await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowUp');
      await page.getByTestId('overlay-image').filter({ hasText: `Im 15/${SLICES}` }).waitFor();
      await waitDrawn(page, 14);
      const png = await shot(page, config, '04-scrolled');
      await assertMatchesOracle(page, png, 15, 40, 400);
    });

    test('every wheel step and arrow key is drawn, one per animation frame', async () => {
      const { page } = b;
      // Scrolling over loaded slices only (an unloaded slice draws no image).
      await page.waitForFunction(() => {
        const el = document.querySelector('[data-testid=viewport]');
        return el && el.dataset.loaded === el.dataset.total;
      }, null, { timeout: 60000 });
      const slicesDrawn = () => page.getByTestId('viewport-canvas').evaluate((el) => Number(el.dataset.slicesDrawn));
      /** `steps` input events in the page, one per animation frame (as a fast wheel or key repeat). */
      const perFrame = (kind, steps, dir) => page.evaluate(([kind, steps, dir]) => new Promise((done) => {
        const canvas = document.querySelector('[data-testid=viewport-canvas]');
        const r = canvas.getBoundingClientRect();
        let left = steps;
        const tick = () => {
          if (left === 0) return done();
          left -= 1;
          if (kind === 'wheel') {
            canvas.dispatchEvent(new WheelEvent('wheel', {
              deltaY: 100 * dir, deltaMode: 0, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2,
              bubbles: true, cancelable: true, view: window,
            }));
          } else {
            const key = dir > 0 ? 'ArrowDown' : 'ArrowUp';
            document.body.dispatchEvent(new KeyboardEvent('keydown', { key, code: key, bubbles: true, cancelable: true }));
          }
          requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }), [kind, steps, dir]);

      const start = (await viewportState(page)).index;
      const wheelSteps = Math.min(8, SLICES - 1 - start);
      const before = await slicesDrawn();
      await perFrame('wheel', wheelSteps, 1);
      await waitDrawn(page, start + wheelSteps);
      // Every step was shown: one slice drawn per wheel event, none folded into the next.
      assert.equal(await slicesDrawn() - before, wheelSteps, 'slices drawn while wheeling');

      // Back to where the wheel started (the next test expects that slice).
      const keySteps = wheelSteps;
      const beforeKeys = await slicesDrawn();
      const drawsBeforeKeys = (await viewportState(page)).draws;
      await perFrame('key', keySteps, -1);
      await waitDrawn(page, start + wheelSteps - keySteps, drawsBeforeKeys + keySteps - 1);
      assert.equal(await slicesDrawn() - beforeKeys, keySteps, 'slices drawn while pressing arrow keys');
      assert.equal(await page.getByTestId('overlay-image').textContent(),
        `Im ${start + wheelSteps - keySteps + 1}/${SLICES}`);
      const png = await shot(page, config, '04b-scrolled-per-frame');
      await assertMatchesOracle(page, png, start + wheelSteps - keySteps + 1, 40, 400);
    });

    test('W/L presets on keys re-window without re-upload, drag changes W/L', async () => {
      const { page } = b;
      const before = await viewportState(page);
      await page.keyboard.press('4'); // lung -600/1500
      await page.getByTestId('overlay-wl').filter({ hasText: 'W 1500 L -600' }).waitFor();
      await waitDrawn(page, 14, before.draws);
      let png = await shot(page, config, '05-preset-lung');
      await assertMatchesOracle(page, png, 15, -600, 1500);
      const s1 = await viewportState(page);
      assert.equal(s1.loaded, before.loaded, 'no frame was loaded again');

      await page.keyboard.press('8'); // bone 400/1800
      await page.getByTestId('overlay-wl').filter({ hasText: 'W 1800 L 400' }).waitFor();
      await waitDrawn(page, 14, s1.draws);
      png = await shot(page, config, '06-preset-bone');
      await assertMatchesOracle(page, png, 15, 400, 1800);

      await page.keyboard.press('9'); // the file's own window
      await page.getByTestId('overlay-wl').filter({ hasText: 'W 400 L 40' }).waitFor();

      if (!config.hasTouch) {
        const rect = await canvasRect(page);
        const x = rect.x + rect.width / 2, y = rect.y + rect.height / 2;
        await page.mouse.move(x, y);
        await page.mouse.down();
        await page.mouse.move(x + 60, y + 30, { steps: 4 });
        await page.mouse.up();
        const wl = await page.getByTestId('overlay-wl').textContent();
        assert.notEqual(wl, 'W 400 L 40', 'drag changed the window');
        await shot(page, config, '07-dragged');
      }
    });

    test('About shows the graphics backend; language and era are remembered', async () => {
      const { page } = b;
      await page.getByTestId('about-open').click();
      assert.equal(await page.getByTestId('about-backend').textContent(), config.backend);
      await shot(page, config, '08-about');
      await page.getByTestId('about-close').click();

      // Thai UI and Buddhist Era by default: 2024 is shown as 2567.
      const studyDate = async () => {
        await page.getByTestId('overlay-study-date').filter({ hasText: /\d/ }).waitFor();
        return page.getByTestId('overlay-study-date').textContent();
      };
      assert.match(await studyDate(), /2567/);
      await page.getByTestId('era-toggle').click();
      assert.match(await studyDate(), /2024/);
      await page.getByTestId('lang-toggle').first().click();
      assert.equal(await page.getByTestId('back-to-studies').textContent(), '← Back to studies');
      await page.reload();
      await page.getByTestId('back-to-studies').waitFor();
      assert.equal(await page.getByTestId('back-to-studies').textContent(), '← Back to studies', 'language remembered');
      assert.match(await studyDate(), /2024/, 'era remembered');
      await waitDrawn(page, 0);
      await shot(page, config, '09-english-ce');
      await page.getByTestId('back-to-studies').click();
      await page.getByTestId('study-table').waitFor();
      await shot(page, config, '10-study-list-english');
    });

    test('deep links open the study, after login when logged out', async () => {
      const { page } = b;
      const uid = server.thai.study_uid;
      await page.goto(`${server.url}/iid?requestType=STUDY&studyUID=${uid}`);
      await waitDrawn(page, 0);
      await page.getByTestId('logout').click();
      await page.getByTestId('login-submit').waitFor();
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${uid}`);
      await page.getByTestId('login-username').fill(USER);
      await page.getByTestId('login-password').fill(PASSWORD);
      await page.getByTestId('login-submit').click();
      await waitDrawn(page, 0);
      assert.equal(await page.getByTestId('overlay-image').textContent(), `Im 1/${SLICES}`);
      await shot(page, config, '11-deep-link');
    });
  });
}
