// Opening several studies at once, end to end: `/viewer?StudyInstanceUIDs=A,B` (the
// OHIF convention) and IHE IID `requestType=PATIENT` list the series of every study,
// grouped under a study header, newest study first; the first requested study's CT
// hangs; a series of the other study goes into a second viewport by drag and drop
// (touch: tap the series, then the viewport); an unknown study is named in a message
// while the others open. The Thai patient gets a prior study here (3 slices of the
// seeded CT rewritten by pydicom as a 2023 study). Runs with WebGPU and on the phone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { CONFIGS, launch } from '../lib/browser.js';
import { E2E_DIR, HOSPITAL, PASSWORD, PYTHON, SLICES, USER, run, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const PRIOR_SLICES = 3;

// A prior study of the same patient: the first slices of the seeded CT, new UIDs, 2023.
const PRIOR_PY = String.raw`
import json, os, sys
import pydicom
from pydicom.uid import generate_uid
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
study, series = generate_uid(), generate_uid()
for name in sorted(os.listdir(src))[:n]:
    if not name.endswith(".dcm"):
        continue
    ds = pydicom.dcmread(os.path.join(src, name))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyDate = ds.SeriesDate = "20230615"
    ds.StudyDescription, ds.SeriesDescription, ds.SeriesNumber = "CT PRIOR", "PRIOR AXIAL", 7
    ds.AccessionNumber = "PRIOR1"
    ds.save_as(os.path.join(out, name), enforce_file_format=True)
print(json.dumps({"study_uid": study, "series_uid": series}))
`;

let server;
let prior;
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  server = await startServer();
  const dir = path.join(server.work, 'prior');
  prior = JSON.parse(run(PYTHON, ['-c', PRIOR_PY, path.join(server.work, 'thai'), dir, String(PRIOR_SLICES)]));
  server.cli(['import', '--hospital', HOSPITAL, dir]);
});
after(async () => {
  await server?.stop();
});

const vp = (page, k = 0) => page.locator(`[data-testid=viewport][data-slot="${k}"]`);

async function dataset(locator) {
  return locator.evaluateAll((els) => els.map((e) => ({ ...e.dataset })));
}

/** Waits until viewport `k` shows series `uid` with `n` slices and its first slice drawn. */
async function waitSeriesDrawn(page, k, uid, n) {
  await page.waitForFunction(([slot, u, total]) => {
    const d = document.querySelector(`[data-testid=viewport][data-slot="${slot}"]`)?.dataset;
    return d && d.seriesUid === u && d.total === String(total) && d.drawn === '0';
  }, [k, uid, n], { timeout: 60000 });
}

async function shot(page, config, step) {
  await page.screenshot({ path: path.join(RESULTS, `open-${config.name}-${step}.png`) });
}

for (const config of CONFIGS.filter((c) => c.name !== 'webgl2')) {
  describe(`opening several studies (${config.name})`, () => {
    let b;
    before(async () => {
      b = await launch(config);
      const { page } = b;
      await page.goto(`${server.url}/`);
      await page.getByTestId('login-username').fill(USER);
      await page.getByTestId('login-password').fill(PASSWORD);
      await page.getByTestId('login-submit').click();
      await page.getByTestId('study-table').waitFor();
    });
    after(async () => {
      if (b) {
        fs.writeFileSync(path.join(RESULTS, `open-${config.name}-console.log`), b.console.join('\n'));
        await b.browser.close();
      }
    });

    test('a two-study link groups the series by study, newest first; the first study hangs', async () => {
      const { page } = b;
      // The prior is named first: its series hangs although the newer study is listed on top.
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${prior.study_uid},${server.thai.study_uid}`);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=series-item]').length === 2, null,
        { timeout: 30000 });
      const headers = await dataset(page.getByTestId('study-header'));
      assert.deepEqual(headers.map((h) => h.studyUid), [server.thai.study_uid, prior.study_uid]);
      assert.deepEqual(await page.getByTestId('study-header-description').allTextContents(),
        ['CT CHEST ABDOMEN WITH CONTRAST', 'CT PRIOR']);
      // Series follow their study's header.
      const order = await page.locator('[data-testid=study-header], [data-testid=series-item]').evaluateAll(
        (els) => els.map((e) => `${e.dataset.testid}:${e.dataset.studyUid}`));
      assert.deepEqual(order, [
        `study-header:${server.thai.study_uid}`, `series-item:${server.thai.study_uid}`,
        `study-header:${prior.study_uid}`, `series-item:${prior.study_uid}`,
      ]);
      await waitSeriesDrawn(page, 0, prior.series_uid, PRIOR_SLICES);
      assert.equal(await page.getByTestId('deeplink-error').count(), 0);
      await shot(page, config, '01-two-studies');

      // The newer study's CT into a second viewport.
      await page.getByTestId('layout-1x2').click();
      await vp(page, 1).waitFor();
      const ct = page.locator(`[data-testid=series-item][data-series-uid="${server.thai.series_uid}"]`);
      if (config.hasTouch) {
        await ct.tap();
        await page.getByTestId('drop-note').waitFor();
        await vp(page, 1).tap();
      } else {
        await ct.dragTo(vp(page, 1).getByTestId('viewport-canvas'));
      }
      await waitSeriesDrawn(page, 1, server.thai.series_uid, SLICES);
      // Each viewport's overlay names its own study (a tap also put the CT into the
      // active first viewport: touch has no drag).
      if (!config.hasTouch) {
        assert.equal(await vp(page, 0).getByTestId('overlay-description').textContent(), 'CT PRIOR');
      }
      assert.equal(await vp(page, 1).getByTestId('overlay-description').textContent(),
        'CT CHEST ABDOMEN WITH CONTRAST');
      await shot(page, config, '02-both-studies-side-by-side');
    });

    test('IHE IID requestType=PATIENT opens every study of the patient, the newest hanging', async () => {
      const { page } = b;
      await page.goto(`${server.url}/iid?requestType=PATIENT&patientID=${encodeURIComponent(server.thai.patient_id)}`);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=study-header]').length === 2, null,
        { timeout: 30000 });
      const headers = await dataset(page.getByTestId('study-header'));
      assert.deepEqual(headers.map((h) => h.studyUid), [server.thai.study_uid, prior.study_uid]);
      await waitSeriesDrawn(page, 0, server.thai.series_uid, SLICES);
      assert.ok(page.url().includes('requestType=PATIENT'), 'the IID link stays in the address bar');

      // mostRecentResults=1: only the newest.
      await page.goto(`${server.url}/iid?requestType=PATIENT&patientID=${encodeURIComponent(server.thai.patient_id)}&mostRecentResults=1`);
      await page.getByTestId('study-header').first().waitFor({ timeout: 30000 });
      await waitSeriesDrawn(page, 0, server.thai.series_uid, SLICES);
      assert.deepEqual((await dataset(page.getByTestId('study-header'))).map((h) => h.studyUid),
        [server.thai.study_uid]);
      await shot(page, config, '03-iid-patient');
    });

    test('an unknown study is named; the others still open', async () => {
      const { page } = b;
      await page.goto(`${server.url}/viewer?StudyInstanceUIDs=1.2.3.4.5.6.7,${server.latin.study_uid}`);
      const error = page.getByTestId('deeplink-error');
      await error.waitFor({ timeout: 30000 });
      assert.match(await error.textContent(), /1\.2\.3\.4\.5\.6\.7/);
      await waitSeriesDrawn(page, 0, server.latin.series_uid, SLICES);
      assert.equal(await page.getByTestId('study-header').count(), 1);
      await shot(page, config, '04-unknown-and-found');
    });
  });
}
