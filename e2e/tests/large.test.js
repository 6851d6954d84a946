// A large DX shown at full resolution past the 2D texture limit: the viewer opened
// with `?maxTexture=1024` (a test aid: the renderer treats 1024 as the device's
// texture limit) holds a 3000×2500 MONOCHROME1 16-bit DX as a 3×3 grid of tiles; at
// 1:1 panned to the corner of four tiles (image (2000, 1668)), every screen pixel of a
// block around it, and a grid over the canvas, must equal what an independent oracle
// computes from the file (pydicom + numpy: bilinear between pixel centres, as the
// renderer draws, VOI LINEAR, inverted): no seam, no texel from the wrong tile.
// Screenshots go to e2e/test-results/<config>-large-*.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

import { CONFIGS, analyse, launch, waitDrawn } from '../lib/browser.js';
import { E2E_DIR, PASSWORD, PYTHON, USER, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const ONLY = process.env.E2E_CONFIGS ? process.env.E2E_CONFIGS.split(',') : null;
const COLS = 3000;
const ROWS = 2500;
// With a 1024 limit: columns owned 0..1000..2000..3000, rows 0..834..1668..2500.
const CORNER = [2000, 1668];

// Smooth rings plus per-pixel noise (so a texel read one off, or from the wrong
// tile, changes the gray), 16 bits stored, written by pydicom.
const LARGE_DX = `
import sys
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
cols, rows = ${COLS}, ${ROWS}
y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
r = np.hypot(x - 1800.0, y - 1400.0)
rng = np.random.default_rng(8)
px = 30000.0 + 18000.0 * np.cos(r / 40.0) + rng.integers(-4000, 4000, size=(rows, cols)) + 3.0 * (x - y)
px = np.clip(np.round(px), 0, 65535).astype(np.uint16)
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
ds.PatientName = "ภาพใหญ่^เต็มความละเอียด"
ds.PatientID = "HN-DX-TILES"
ds.StudyDate = "20240103"
ds.Modality = "DX"
ds.SeriesNumber = 1
ds.InstanceNumber = 1
ds.SamplesPerPixel = 1
ds.PhotometricInterpretation = "MONOCHROME1"
ds.Rows, ds.Columns = rows, cols
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
ds.WindowCenter, ds.WindowWidth = "30000", "50000"
ds.ImagerPixelSpacing = ["0.1", "0.1"]
ds.PixelData = px.tobytes()
ds.save_as(sys.argv[1], enforce_file_format=True)
print(ds.StudyInstanceUID)
`;

// The oracle: for image positions (x, y) (image pixels, (0, 0) the top-left corner of
// the first pixel), the modality value bilinear between pixel centres (edges
// clamped), VOI LINEAR (PS3.3 C.11.2.1.2.1) and MONOCHROME1 inversion, 0..255.
const ORACLE = `
import json, sys
import numpy as np
import pydicom
ds = pydicom.dcmread(sys.argv[1])
c, w = float(sys.argv[2]), float(sys.argv[3])
v = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
rows, cols = v.shape
pts = np.array(json.load(sys.stdin), dtype=np.float64).reshape(-1, 2)
t = pts - 0.5
b = np.floor(t)
f = t - b
x0 = np.clip(b[:, 0].astype(int), 0, cols - 1); x1 = np.clip(b[:, 0].astype(int) + 1, 0, cols - 1)
y0 = np.clip(b[:, 1].astype(int), 0, rows - 1); y1 = np.clip(b[:, 1].astype(int) + 1, 0, rows - 1)
fx, fy = f[:, 0], f[:, 1]
m = (v[y0, x0] * (1 - fx) + v[y0, x1] * fx) * (1 - fy) + (v[y1, x0] * (1 - fx) + v[y1, x1] * fx) * fy
g = np.clip((m - (c - 0.5)) / (w - 1) + 0.5, 0.0, 1.0)
json.dump([round(float(x), 3) for x in (1.0 - g) * 255.0], sys.stdout)
`;

let server;
let dx;
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  server = await startServer();
  const file = path.join(server.work, 'large-dx.dcm');
  const studyUid = execFileSync(PYTHON, ['-c', LARGE_DX, file], { encoding: 'utf8' }).trim();
  await server.stow([file]);
  dx = { file, studyUid };
});
after(async () => {
  await server?.stop();
});

const vp = (page) => page.locator('[data-testid=viewport][data-slot="0"]');

for (const config of CONFIGS) {
  if (ONLY && !ONLY.includes(config.name)) continue;
  describe(`large frames (${config.name}, ${config.viewport.width}×${config.viewport.height})`, () => {
    let b;
    before(async () => { b = await launch(config); });
    after(async () => {
      if (b) {
        fs.writeFileSync(path.join(RESULTS, `${config.name}-large-console.log`), b.console.join('\n'));
        await b.browser.close();
      }
    });

    test('a DX past the texture limit is tiled and shown at full resolution at 1:1 across a tile corner', async () => {
      const { page } = b;
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${dx.studyUid}&maxTexture=1024`);
      await page.getByTestId('login-username').fill(USER);
      await page.getByTestId('login-password').fill(PASSWORD);
      await page.getByTestId('login-submit').click();
      await waitDrawn(page, 0);
      const ds = async () => vp(page).evaluate((el) => ({ ...el.dataset }));
      assert.equal((await ds()).tiles, '9', 'held as a 3×3 grid of tiles');
      assert.equal(await vp(page).getByTestId('overlay-reduced').count(), 0, 'not reduced');
      await page.screenshot({ path: path.join(RESULTS, `${config.name}-large-01-fit.png`) });

      // 1:1 about the centre (image (1500, 1250)), then a middle-button drag brings
      // the tile corner near the centre of the canvas, off by a few pixels.
      const canvas = vp(page).getByTestId('viewport-canvas');
      let rect = await canvas.boundingBox();
      await page.mouse.move(rect.x + rect.width / 2, rect.y + rect.height / 2);
      let draws = Number((await ds()).draws);
      await page.keyboard.press('0');
      await waitDrawn(page, 0, draws);
      draws = Number((await ds()).draws);
      const dx0 = -(CORNER[0] - COLS / 2) + 17;
      const dy0 = -(CORNER[1] - ROWS / 2) - 11;
      const cx = rect.x + rect.width / 2, cy = rect.y + rect.height / 2;
      await page.mouse.move(cx, cy);
      await page.mouse.down({ button: 'middle' });
      for (let i = 1; i <= 10; i += 1) {
        await page.mouse.move(cx + (dx0 * i) / 10, cy + (dy0 * i) / 10);
      }
      await page.mouse.up({ button: 'middle' });
      await waitDrawn(page, 0, draws);
      const state = await ds();
      const png = await page.screenshot({ path: path.join(RESULTS, `${config.name}-large-02-one-to-one-corner.png`) });

      // Where each canvas pixel's centre lies in the image (ViewState::image_from_screen,
      // no rotation; device pixel ratio 1).
      rect = await canvas.boundingBox();
      const size = await canvas.evaluate((c) => [c.width, c.height]);
      assert.equal(size[0], Math.round(rect.width), 'canvas backing store = CSS size');
      const zoom = Number(state.zoom);
      const [panX, panY] = state.pan.split(',').map(Number);
      const scale = Math.min(size[0] / COLS, size[1] / ROWS) * zoom;
      assert.ok(Math.abs(scale - 1) < 1e-4, `1:1, got ${scale}`);
      const imageAt = (px, py) => [
        (px + 0.5 - (size[0] / 2 + panX)) / scale + COLS / 2,
        (py + 0.5 - (size[1] / 2 + panY)) / scale + ROWS / 2,
      ];
      // The corner on screen, and a block of pixels around it; plus a sparse grid over
      // the middle of the canvas (the overlay text sits in its corners).
      const cornerPx = [Math.floor(size[0] / 2 + panX + CORNER[0] - COLS / 2), Math.floor(size[1] / 2 + panY + CORNER[1] - ROWS / 2)];
      assert.ok(cornerPx[0] > 30 && cornerPx[0] < size[0] - 30 && cornerPx[1] > 30 && cornerPx[1] < size[1] - 30, `corner on screen: ${cornerPx}`);
      const pixels = [];
      for (let y = cornerPx[1] - 20; y < cornerPx[1] + 20; y += 1) {
        for (let x = cornerPx[0] - 20; x < cornerPx[0] + 20; x += 1) pixels.push([x, y]);
      }
      for (let y = Math.round(size[1] * 0.25); y < size[1] * 0.75; y += 7) {
        for (let x = Math.round(size[0] * 0.2); x < size[0] * 0.8; x += 13) pixels.push([x, y]);
      }
      const want = JSON.parse(execFileSync(PYTHON, ['-c', ORACLE, dx.file, '30000', '50000'], {
        encoding: 'utf8', input: JSON.stringify(pixels.map(([x, y]) => imageAt(x, y))),
      }));
      const { at } = await analyse(page, png, rect, pixels.map(([x, y]) => [Math.round(rect.x) + x, Math.round(rect.y) + y]));
      const bad = [];
      pixels.forEach(([x, y], i) => {
        const [r, g, bl] = at[i];
        if (Math.abs(r - want[i]) > 2.5 || r !== g || g !== bl) {
          bad.push(`screen (${x},${y}) image ${imageAt(x, y).map((v) => v.toFixed(2))}: got ${at[i]} want ${want[i]}`);
        }
      });
      assert.ok(bad.length === 0, `${bad.length}/${pixels.length} pixels differ from the oracle:\n${bad.slice(0, 12).join('\n')}`);
    });
  });
}
