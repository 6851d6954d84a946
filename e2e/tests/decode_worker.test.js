// The decode worker's two builds (crates/xtask/src/viewer.rs `simd_worker`): trunk's
// baseline build and a second one with wasm SIMD (+simd128). Its loader picks the SIMD
// build where the browser validates a SIMD module, and the `rangsi.decodeBuild` setting
// (localStorage) forces one. Checked here: (1) the loader's choice, run in node's vm with
// WebAssembly.validate stubbed either way (no browser lacks SIMD here to run it in);
// (2) in Chromium, compressed studies (JPEG 2000, HTJ2K, JPEG-LS, JPEG lossless, JPEG
// baseline, RLE; from third-party encoders) opened with each build: the worker reports
// which build ran (`data-decode-build`) and both draw the same pixels. Screenshots go to
// e2e/test-results/<config>-decode-<file>-<build>.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

import { CONFIGS, closeWithLog, launch, logIn, waitDrawn } from '../lib/browser.js';
import { E2E_DIR, PASSWORD, PYTHON, USER, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const ONLY = process.env.E2E_CONFIGS ? process.env.E2E_CONFIGS.split(',') : null;
const ORACLE = path.join(E2E_DIR, 'oracle.py');
const DIST = path.join(E2E_DIR, '..', 'viewer', 'dist');

const TEST_FILES = execFileSync(PYTHON, ['-c',
  'import pathlib, pydicom; print(pathlib.Path(pydicom.__file__).parent / "data" / "test_files")'],
{ encoding: 'utf8' }).trim();

/** pydicom's test files, and rangsi-pixels' fixtures (made by dcmtk, GDCM, OpenJPH). */
const PIXEL_FIXTURES = path.join(E2E_DIR, '..', 'crates', 'pixels', 'tests', 'fixtures');
const FILES = [
  { name: 'ct16s_j2k.dcm', dir: PIXEL_FIXTURES, what: 'JPEG 2000 lossless, signed 16-bit (GDCM)' },
  { name: 'ct16s_htj2k.dcm', dir: PIXEL_FIXTURES, what: 'HTJ2K lossless, signed 16-bit (OpenJPH)' },
  { name: 'rgb8_htj2k_lossy.dcm', dir: PIXEL_FIXTURES, what: 'HTJ2K lossy, YBR_ICT colour (OpenJPH)', lossy: true },
  { name: 'ct16s_jls.dcm', dir: PIXEL_FIXTURES, what: 'JPEG-LS lossless, signed 16-bit (dcmtk)' },
  { name: 'ct16s_jpll_sv1.dcm', dir: PIXEL_FIXTURES, what: 'JPEG lossless SV1, signed 16-bit (dcmtk)' },
  { name: 'MR_small_jp2klossless.dcm', dir: TEST_FILES, what: 'JPEG 2000 lossless MR (pydicom)' },
  { name: 'SC_rgb_jpeg_dcmtk.dcm', dir: TEST_FILES, what: 'JPEG baseline, YBR colour (pydicom)', lossy: true },
  { name: 'MR_small_RLE.dcm', dir: TEST_FILES, what: 'RLE lossless MR (pydicom)' },
];

/** Runs dist's loader as a worker would, with `validate` as the SIMD probe's answer. */
function loaderLoads(search, validate) {
  const loaded = [];
  const context = {
    self: { location: { href: `http://127.0.0.1/static/decode-worker_loader.js${search}` } },
    URL,
    Uint8Array,
    WebAssembly: { validate: () => validate },
    importScripts: (url) => loaded.push(url),
    wasm_bindgen: (url) => loaded.push(url),
  };
  vm.runInNewContext(fs.readFileSync(path.join(DIST, 'decode-worker_loader.js'), 'utf8'), context);
  return loaded;
}

describe('the decode worker loader', () => {
  const SIMD = ['./decode-worker-simd128.js', './decode-worker-simd128_bg.wasm'];
  const BASELINE = ['./decode-worker.js', './decode-worker_bg.wasm'];

  test('picks the SIMD build where the probe validates, the baseline build elsewhere', () => {
    assert.deepEqual(loaderLoads('', true), SIMD);
    assert.deepEqual(loaderLoads('', false), BASELINE);
  });

  test('?build= forces either build', () => {
    assert.deepEqual(loaderLoads('?build=baseline', true), BASELINE);
    assert.deepEqual(loaderLoads('?build=simd128', false), SIMD);
  });

  test('its probe is a SIMD module (it validates in this node) and both builds are in dist', () => {
    const src = fs.readFileSync(path.join(DIST, 'decode-worker_loader.js'), 'utf8');
    const bytes = src.match(/new Uint8Array\(\[([\d,\s]+)\]\)/);
    assert.ok(bytes, 'the loader holds its probe');
    const probe = new Uint8Array(bytes[1].split(',').map(Number));
    assert.ok(WebAssembly.validate(probe));
    // 0xFD is the SIMD opcode prefix: without it the module is plain wasm.
    assert.ok(probe.includes(0xfd));
    for (const f of [...SIMD, ...BASELINE]) {
      assert.ok(fs.statSync(path.join(DIST, f)).size > 0, f);
    }
  });
});

let server;
const studies = {};
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  server = await startServer();
  const dir = path.join(server.work, 'decode');
  fs.mkdirSync(dir);
  const files = FILES.map((f) => {
    const out = path.join(dir, f.name);
    studies[f.name] = JSON.parse(execFileSync(PYTHON, [ORACLE, '--restamp', path.join(f.dir, f.name), out], { encoding: 'utf8' }));
    return out;
  });
  await server.stow(files);
});
after(async () => {
  await server?.stop();
});

// One desktop configuration is enough: the worker decodes the same way under any GPU path.
const config = CONFIGS.find((c) => !c.hasTouch && (!ONLY || ONLY.includes(c.name)));
if (config) {
  describe(`the decode worker's two builds in Chromium (${config.name})`, () => {
    let b;
    before(async () => {
      b = await launch(config);
      await logIn(b.page, server.url, USER, PASSWORD);
    });
    after(async () => {
      await closeWithLog(b, path.join(RESULTS, `${config.name}-decode-console.log`));
    });

    /** Opens `name` with `build` forced (or none) and returns the canvas as PNG bytes. */
    async function open(name, build) {
      const { page } = b;
      await page.evaluate((v) => {
        if (v) localStorage.setItem('rangsi.decodeBuild', v);
        else localStorage.removeItem('rangsi.decodeBuild');
      }, build);
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${studies[name].study_uid}`);
      await waitDrawn(page, 0);
      const ran = await page.evaluate(() => document.documentElement.dataset.decodeBuild);
      const png = await page.getByTestId('viewport-canvas').screenshot({
        path: path.join(RESULTS, `${config.name}-decode-${name.replace(/[^A-Za-z0-9]+/g, '-')}-${build || 'default'}.png`),
      });
      return { ran, png };
    }

    /** The largest channel difference between two same-sized PNGs, and in how many pixels. */
    async function difference(page, a, c) {
      return page.evaluate(async ([x, y]) => {
        const pixels = async (b64) => {
          const img = new Image();
          img.src = `data:image/png;base64,${b64}`;
          await img.decode();
          const cv = document.createElement('canvas');
          cv.width = img.width;
          cv.height = img.height;
          const ctx = cv.getContext('2d');
          ctx.drawImage(img, 0, 0);
          return ctx.getImageData(0, 0, img.width, img.height).data;
        };
        const [p, q] = [await pixels(x), await pixels(y)];
        if (p.length !== q.length) return { max: Infinity, pixels: -1 };
        let max = 0;
        let count = 0;
        for (let i = 0; i < p.length; i += 4) {
          const m = Math.max(Math.abs(p[i] - q[i]), Math.abs(p[i + 1] - q[i + 1]), Math.abs(p[i + 2] - q[i + 2]));
          if (m > 0) count += 1;
          max = Math.max(max, m);
        }
        return { max, pixels: count };
      }, [a.toString('base64'), c.toString('base64')]);
    }

    test('by default Chromium runs the SIMD build', async () => {
      const { ran } = await open(FILES[0].name, null);
      assert.equal(ran, 'simd128');
    });

    for (const f of FILES) {
      test(`${f.what} (${f.name}): both builds run and draw the same pixels`, async () => {
        const baseline = await open(f.name, 'baseline');
        const simd = await open(f.name, 'simd128');
        assert.equal(baseline.ran, 'baseline');
        assert.equal(simd.ran, 'simd128');
        const d = await difference(b.page, baseline.png, simd.png);
        // Lossless: the same samples. Lossy: the same up to rounding (JPEG's IDCT may
        // round differently with SIMD: PS3.5 and ISO 10918-2 allow it; BENCHMARKS.md,
        // Pixels, found JPEG baseline of the plain wasm build ±1 from native).
        assert.ok(d.max <= (f.lossy ? 2 : 0), `${f.name}: the two builds differ by up to ${d.max} in ${d.pixels} pixels`);
        const errors = b.console.filter((l) => /pageerror|cannot decode|decode failed/i.test(l));
        assert.deepEqual(errors, []);
      });
    }
  });
}
