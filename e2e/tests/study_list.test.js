// The study list end to end, against a real `rangsi serve` seeded with the two CT
// studies of lib/server.js plus small studies made here with pydicom (30 in the
// user's hospital, some dated today; 2 in a second hospital) and imported with the
// CLI: a Thai name search, sorting by a header click (order checked against the
// seed, sorted here), paging with the total, the keyboard (/, Up/Down, Enter), the
// session's memory of the last search, quick date ranges, BE/CE dates, thumbnails,
// the hospital column for the regional admin, the deep links (/viewer with several
// UIDs, IHE IID STUDY and PATIENT, after login, unknown studies; e2e/tests/open.test.js
// checks the grouping of several studies), and a 375 px phone
// where the rows are cards. Screenshots: e2e/test-results/list-*.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { CONFIGS, launch } from '../lib/browser.js';
import { E2E_DIR, HOSPITAL, PASSWORD, PYTHON, USER, run, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const ADMIN_PASSWORD = 'e2e-admin-Password-1'; // lib/server.js sets it for the first start
const OTHER_HOSPITAL = '10671';
const SEEDED = 30;

// Tiny single-image studies: PAGE^Pnn / HN P0nn; five of them dated today (local
// date), the rest on distinct days of 2023; two more for the second hospital.
const SEED_PY = String.raw`
import datetime, json, sys
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid, PYDICOM_IMPLEMENTATION_UID
out, n = sys.argv[1], int(sys.argv[2])
today = datetime.date.today()
mods = ["CR", "MR", "US", "DX"]
def study(i, folder, pid, name, date, modality, images):
    uid = generate_uid()
    series = generate_uid()
    for k in range(images):
        ds = Dataset()
        ds.SOPClassUID = SecondaryCaptureImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = uid, series
        ds.StudyDate = ds.SeriesDate = date
        ds.StudyTime = "%02d%02d00" % (8 + i % 10, i % 60)
        ds.AccessionNumber = "E2E%03d" % i
        ds.Modality = modality
        ds.PatientName, ds.PatientID = name, pid
        ds.PatientBirthDate, ds.PatientSex = "19800101", "O"
        ds.StudyDescription = "%s seeded %02d" % (modality, i)
        ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 1, k + 1
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = 16
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit, ds.PixelRepresentation = 15, 0
        ds.PixelData = ((np.arange(256, dtype=np.uint16) * (i + 1) * 7) % 4096).tobytes()
        ds["PixelData"].VR = "OW"
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
        meta.TransferSyntaxUID, meta.ImplementationClassUID = ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID
        ds.file_meta = meta
        ds.save_as("%s/%s-%d-%d.dcm" % (folder, pid, i, k), enforce_file_format=True)
    return {"study_uid": uid, "patient_id": pid, "patient_name": name, "date": date,
            "time": "%02d%02d00" % (8 + i % 10, i % 60), "modality": modality, "images": images}
import os
for f in ("own", "other"):
    os.makedirs(os.path.join(out, f), exist_ok=True)
own = []
for i in range(n):
    date = today.strftime("%Y%m%d") if i < 5 else (datetime.date(2023, 1, 1) + datetime.timedelta(days=7 * i)).strftime("%Y%m%d")
    own.append(study(i, os.path.join(out, "own"), "P%03d" % i, "PAGE^P%02d" % i, date, mods[i % 4], 1 + i % 3))
other = [study(100 + i, os.path.join(out, "other"), "Q%03d" % i, "OTHER^Q%02d" % i, "20230301", "CT", 1) for i in range(2)]
print(json.dumps({"own": own, "other": other}))
`;

let server;
let seed;
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  server = await startServer();
  const dir = path.join(server.work, 'seed');
  seed = JSON.parse(run(PYTHON, ['-c', SEED_PY, dir, String(SEEDED)]));
  server.cli(['hospital', 'add', OTHER_HOSPITAL, 'โรงพยาบาลสกลนคร']);
  server.cli(['import', '--hospital', HOSPITAL, path.join(dir, 'own')]);
  server.cli(['import', '--hospital', OTHER_HOSPITAL, path.join(dir, 'other')]);
});
after(async () => {
  await server?.stop();
});

async function shot(page, name) {
  await page.screenshot({ path: path.join(RESULTS, `list-${name}.png`) });
}

async function login(page, user = USER, password = PASSWORD) {
  await page.getByTestId('login-username').fill(user);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
}

async function rowUids(page) {
  return page.getByTestId('study-row').evaluateAll((rows) => rows.map((r) => r.dataset.studyUid));
}

/** Waits until the list shows `info` in the pager and no search is running. */
async function waitInfo(page, info) {
  await page.getByTestId('page-info').filter({ hasText: info }).waitFor({ timeout: 30000 });
  await page.waitForFunction(() => !document.querySelector('[data-testid=search-status]').textContent.includes('…'));
}

/** Every study the user (hospital 10670) sees, as the list orders them by name. */
function byName() {
  const all = [
    ...seed.own.map((s) => ({ uid: s.study_uid, name: s.patient_name, date: s.date, time: s.time })),
    { uid: server.thai.study_uid, name: server.thai.patient_name, date: '', time: '' },
    { uid: server.latin.study_uid, name: server.latin.patient_name, date: '', time: '' },
  ];
  // Code point order, as stored (UTF-8 byte order is the same).
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((s) => s.uid);
}

const desktop = CONFIGS.find((c) => c.name === 'webgl2');
const phone = CONFIGS.find((c) => c.name === 'phone');

describe('study list (desktop)', () => {
  let b;
  before(async () => { b = await launch(desktop); });
  after(async () => {
    if (b) {
      fs.writeFileSync(path.join(RESULTS, 'list-console.log'), b.console.join('\n'));
      await b.browser.close();
    }
  });

  test('a deep link with two studies opens after login', async () => {
    const { page } = b;
    const uids = `${server.thai.study_uid},${server.latin.study_uid}`;
    await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${uids}`);
    await page.getByTestId('login-submit').waitFor();
    await login(page);
    await page.getByTestId('series-item').first().waitFor({ timeout: 30000 });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=study-header]').length === 2);
    assert.ok(page.url().endsWith(`/viewer?StudyInstanceUIDs=${uids}`), page.url());
    const [family, given] = server.thai.patient_name.split('^');
    await page.getByTestId('viewer-patient').filter({ hasText: `${given} ${family}` }).waitFor();
    await shot(page, '01-deep-link-two-studies');
  });

  test('IHE IID: STUDY opens it; PATIENT opens the patient\'s studies (mostRecentResults=N the newest N)', async () => {
    const { page } = b;
    await page.goto(`${server.url}/iid?requestType=STUDY&studyUID=${server.latin.study_uid}`);
    await page.getByTestId('series-item').first().waitFor({ timeout: 30000 });
    const [lf, lg] = server.latin.patient_name.split('^');
    assert.match(await page.getByTestId('viewer-patient').textContent(), new RegExp(lf, 'i'));

    await page.goto(`${server.url}/iid?requestType=PATIENT&patientID=${encodeURIComponent(server.thai.patient_id)}`);
    await page.locator(`[data-testid=study-header][data-study-uid="${server.thai.study_uid}"]`).waitFor({ timeout: 30000 });
    assert.equal(await page.getByTestId('study-header').count(), 1);
    await page.getByTestId('series-item').first().waitFor();
    await shot(page, '02-iid-patient');

    // The study list of one patient keeps a URL of its own.
    await page.goto(`${server.url}/?patientID=${encodeURIComponent(server.thai.patient_id)}`);
    await page.getByTestId('study-table').waitFor();
    await waitInfo(page, /^1–1 /);
    assert.deepEqual(await rowUids(page), [server.thai.study_uid]);
    await page.getByTestId('all-studies').waitFor();

    await page.goto(`${server.url}/iid?requestType=PATIENT&patientID=${seed.own[7].patient_id}&mostRecentResults=1`);
    await page.locator(`[data-testid=study-header][data-study-uid="${seed.own[7].study_uid}"]`).waitFor({ timeout: 30000 });
    await page.getByTestId('series-item').first().waitFor({ timeout: 30000 });
    assert.ok(lg !== undefined);
  });

  test('unknown or forbidden studies get a clear message; the others open', async () => {
    const { page } = b;
    // The second hospital's study is as invisible as an unknown one.
    const forbidden = seed.other[0].study_uid;
    await page.goto(`${server.url}/viewer?StudyInstanceUIDs=1.2.3.4.5.6.7,${forbidden}`);
    const error = page.getByTestId('deeplink-error');
    await error.waitFor({ timeout: 30000 });
    const text = await error.textContent();
    assert.match(text, /1\.2\.3\.4\.5\.6\.7/);
    assert.ok(text.includes(forbidden));
    assert.equal(await page.getByTestId('series-item').count(), 0);
    await shot(page, '03-unknown-study');

    await page.goto(`${server.url}/viewer?StudyInstanceUIDs=1.2.3.4.5.6.7,${server.thai.study_uid}`);
    await page.getByTestId('series-item').first().waitFor({ timeout: 30000 });
    assert.match(await page.getByTestId('deeplink-error').textContent(), /1\.2\.3\.4\.5\.6\.7/);
    assert.ok(page.url().endsWith(`StudyInstanceUIDs=1.2.3.4.5.6.7,${server.thai.study_uid}`));

    await page.goto(`${server.url}/iid?requestType=PATIENT&patientID=${seed.other[0].patient_id}&mostRecentResults=1`);
    await page.getByTestId('deeplink-error').waitFor({ timeout: 30000 });
  });

  test('Thai search, sort by a header, pages with the total, BE dates, thumbnails', async () => {
    const { page } = b;
    await page.goto(`${server.url}/`);
    await page.getByTestId('search-clear').click();
    const total = SEEDED + 2;
    await waitInfo(page, `1–25 จาก ${total}`);
    // Default: newest first, so today's five seeded studies lead.
    const first = await rowUids(page);
    const today = new Set(seed.own.slice(0, 5).map((s) => s.study_uid));
    assert.ok(first.slice(0, 5).every((u) => today.has(u)), 'newest first');
    // Buddhist Era by default: a 2023 study shows 2566.
    const row = page.locator(`[data-study-uid="${seed.own[20].study_uid}"]`);
    assert.match(await row.getByTestId('study-date').textContent(), /2566/);
    await page.getByTestId('sort-name').click();
    await waitInfo(page, `1–25 จาก ${total}`);
    const want = byName();
    assert.deepEqual(await rowUids(page), want.slice(0, 25), 'sorted by name');
    assert.equal(await page.getByTestId('sort-name').locator('xpath=..').getAttribute('aria-sort'), 'ascending');
    await shot(page, '04-sorted-by-name');
    await page.getByTestId('page-next').click();
    await waitInfo(page, `26–${total} จาก ${total}`);
    assert.deepEqual(await rowUids(page), want.slice(25));
    assert.ok(await page.getByTestId('page-next').isDisabled());
    await page.getByTestId('sort-name').click(); // descending, back to page 1
    await waitInfo(page, `1–25 จาก ${total}`);
    assert.deepEqual(await rowUids(page), [...want].reverse().slice(0, 25));
    await page.getByTestId('page-size').selectOption('50');
    await waitInfo(page, `1–${total} จาก ${total}`);

    // The start of the Thai given name finds the Thai patient.
    const [family, given] = server.thai.patient_name.split('^');
    await page.getByTestId('search-name').fill(given.slice(0, 3));
    await page.getByTestId('search-submit').click();
    await waitInfo(page, '1–1 จาก 1');
    assert.equal(await page.getByTestId('study-patient-name').first().textContent(), `${given} ${family}`);
    // Its thumbnail (server-rendered /thumbnail, lazy) arrives.
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid=study-row] img');
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 30000 });
    assert.equal(await page.locator('[data-testid^=badge-]').count(), 0, 'no badges when none is set');
    await shot(page, '05-thai-search');

    // Era toggle applies to the list.
    await page.getByTestId('era-toggle').click();
    assert.match(await page.getByTestId('study-date').first().textContent(), /2024/);
    await page.getByTestId('era-toggle').click();
    assert.match(await page.getByTestId('study-date').first().textContent(), /2567/);
  });

  test('quick ranges, the keyboard, and the last search remembered', async () => {
    const { page } = b;
    await page.getByTestId('search-clear').click();
    await waitInfo(page, /จาก 32$/);
    await page.getByTestId('quick-today').click();
    await waitInfo(page, '1–5 จาก 5');
    const today = seed.own.slice(0, 5).map((s) => s.study_uid);
    assert.deepEqual(new Set(await rowUids(page)), new Set(today));
    assert.match(await page.getByTestId('search-from-era').textContent(), /\d{4}/);
    await page.getByTestId('quick-30').click();
    await waitInfo(page, '1–5 จาก 5');

    // `/` focuses the search; Escape leaves it; Down twice and Enter opens the third row.
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'search-name');
    await page.keyboard.press('Escape');
    const uids = await rowUids(page);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    const selected = await page.locator('.study-row.selected').getAttribute('data-study-uid');
    assert.equal(selected, uids[2]);
    await shot(page, '06-keyboard-selection');
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`StudyInstanceUIDs=${uids[2].replaceAll('.', '\\.')}$`));

    // Back to the list: the same search (today's studies) is still there, also after a reload.
    await page.getByTestId('back-to-studies').click();
    await waitInfo(page, '1–5 จาก 5');
    await page.reload();
    await waitInfo(page, '1–5 จาก 5');
    assert.notEqual(await page.getByTestId('search-from').inputValue(), '');
    await page.getByTestId('search-clear').click();
    await waitInfo(page, /จาก 32$/);
  });

  test('the regional admin sees the hospital column and filters by hospital', async () => {
    const { page } = b;
    await page.getByTestId('logout').click();
    await login(page, 'admin', ADMIN_PASSWORD);
    await page.getByTestId('search-hospital').waitFor({ timeout: 30000 });
    await page.getByTestId('search-clear').click();
    await waitInfo(page, /จาก 34$/);
    assert.ok(await page.getByTestId('study-hospital').first().isVisible());
    await page.getByTestId('search-hospital').selectOption(OTHER_HOSPITAL);
    await waitInfo(page, '1–2 จาก 2');
    const names = await page.getByTestId('study-hospital').allTextContents();
    assert.deepEqual(names, ['โรงพยาบาลสกลนคร', 'โรงพยาบาลสกลนคร']);
    await shot(page, '07-admin-hospitals');
    await page.getByTestId('search-clear').click();
    await page.getByTestId('logout').click();
  });
});

describe('study list (phone, 375 px)', () => {
  let b;
  before(async () => { b = await launch(phone); });
  after(async () => { await b?.browser.close(); });

  test('rows are cards that fit the screen; a tap opens the study', async () => {
    const { page } = b;
    await page.goto(`${server.url}/`);
    await login(page);
    await waitInfo(page, /จาก 32$/);
    const layout = await page.evaluate(() => {
      const row = document.querySelector('[data-testid=study-row]');
      const r = row.getBoundingClientRect();
      return {
        display: getComputedStyle(row).display,
        width: r.width,
        right: r.right,
        scroll: document.documentElement.scrollWidth,
      };
    });
    assert.equal(layout.display, 'grid', 'a card, not a table row');
    assert.ok(layout.right <= 375 && layout.scroll <= 375, JSON.stringify(layout));
    await shot(page, '08-phone-cards');
    const uid = await page.getByTestId('study-row').nth(1).getAttribute('data-study-uid');
    await page.getByTestId('study-row').nth(1).tap();
    await page.waitForURL(new RegExp(`StudyInstanceUIDs=${uid.replaceAll('.', '\\.')}$`));
    await page.getByTestId('series-item').first().waitFor({ timeout: 30000 });
    await shot(page, '09-phone-opened');
  });
});
