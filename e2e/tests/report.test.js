// The report panel (viewer/src/web/report.rs) against a real server: the radiologist
// (somchai) opens the Thai CT, starts a report from a Thai template, writes Thai
// findings with a critical result, saves it preliminary, is refused with a wrong
// password, signs, and adds a signed addendum; the SR the server stored on signing is
// found through QIDO-RS with the text in it (the server's own SR content is checked
// against dcmtk's dsrdump in server/tests/integration/test_reports.py). Then a doctor of
// the hospital, on a phone-sized screen, reads the signed report and acknowledges the
// critical result, after the bell of the top bar told of the report's three steps.
// The panel is DOM, not GPU: it runs once on WebGL2 (desktop) and once
// on the phone set-up. Screenshots in test-results/report-*.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { CONFIGS, launch, waitDrawn } from '../lib/browser.js';
import { E2E_DIR, HOSPITAL, PASSWORD, USER, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const DOCTOR = 'dr_anong';
const DOCTOR_PASSWORD = 'e2e-Doctor-Pw-1';
const FINDINGS = 'พบเลือดออกใต้เยื่อหุ้มสมองด้านซ้าย หนา 8 มม.';
const IMPRESSION = 'เลือดออกใต้เยื่อหุ้มสมองเฉียบพลัน';
const ADDENDUM = 'ทบทวนซ้ำ: ไม่พบกระดูกแตก';
const READING_HOSPITAL = '10671';
const READER = 'rad_remote';
const READER_PASSWORD = 'e2e-Reader-Pw-1';

let server;
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  server = await startServer();
  server.cli(['user', 'add', DOCTOR, '--hospital', HOSPITAL, '--role', 'doctor', '--password-stdin'],
    `${DOCTOR_PASSWORD}\n`);
  server.cli(['hospital', 'add', READING_HOSPITAL, 'โรงพยาบาลศูนย์อ่านผล']);
  server.cli(['user', 'add', READER, '--hospital', READING_HOSPITAL, '--role', 'radiologist', '--password-stdin'],
    `${READER_PASSWORD}\n`);
});
after(async () => {
  await server?.stop();
});

async function openReport(page, user, password, study = server.thai.study_uid) {
  await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${study}`);
  await page.getByTestId('login-username').fill(user);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await waitDrawn(page, 0);
  await page.getByTestId('report-toggle').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=report-panel]')?.dataset.loaded === 'true',
    null, { timeout: 30000 });
}

async function waitState(page, state) {
  await page.waitForFunction((s) => document.querySelector('[data-testid=report-panel]')?.dataset.state === s,
    state, { timeout: 30000 });
}

const shot = (page, step) => page.screenshot({ path: path.join(RESULTS, `report-${step}.png`) });

async function qido(pathAndQuery) {
  const res = await fetch(`${server.url}/dicomweb${pathAndQuery}`, {
    headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, accept: 'application/dicom+json' },
  });
  assert.ok(res.ok, `QIDO ${pathAndQuery}: ${res.status}`);
  return res.status === 204 ? [] : res.json();
}

describe('the report panel', () => {
  const desktop = CONFIGS.find((c) => c.name === 'webgl2');
  const phone = CONFIGS.find((c) => c.name === 'phone');

  test('a radiologist writes, signs and amends a Thai report', async () => {
    const b = await launch(desktop);
    try {
      const { page } = b;
      await openReport(page, USER, PASSWORD);
      assert.equal(await page.getByTestId('report-panel').getAttribute('data-state'), 'none');
      // Templates of the study's modality in the UI's language (Thai) come first.
      const template = await page.getByTestId('report-template').evaluate((s) => s.selectedOptions[0]?.textContent);
      assert.match(template, /CT/);
      await page.getByTestId('report-create').click();
      await waitState(page, 'draft');
      assert.ok((await page.getByTestId('report-findings').inputValue()).length > 0, 'the template filled the findings');

      await page.getByTestId('report-findings').fill(FINDINGS);
      await page.getByTestId('report-impression').fill(IMPRESSION);
      await page.getByTestId('report-critical').check();
      await page.getByTestId('report-save-preliminary').click();
      await waitState(page, 'preliminary');

      await page.getByTestId('report-password').fill('not-the-password');
      await page.getByTestId('report-sign').click();
      await page.getByTestId('report-error').waitFor({ timeout: 30000 });
      assert.match(await page.getByTestId('report-error').textContent(), /password/);
      assert.equal(await page.getByTestId('report-panel').getAttribute('data-state'), 'preliminary');
      await shot(page, '01-preliminary');

      await page.getByTestId('report-password').fill(PASSWORD);
      await page.getByTestId('report-sign').click();
      await waitState(page, 'final');
      assert.match(await page.getByTestId('report-signed').textContent(), new RegExp(USER));
      assert.equal(await page.getByTestId('report-findings').getAttribute('readonly'), '');
      await shot(page, '02-final');

      // The SR is in the study for every DICOM client.
      const sr = await qido(`/studies/${server.thai.study_uid}/series?Modality=SR`);
      assert.equal(sr.length, 1, JSON.stringify(sr));

      await page.getByTestId('report-addendum-text').fill(ADDENDUM);
      await page.getByTestId('report-password').fill(PASSWORD);
      await page.getByTestId('report-add-addendum').click();
      await waitState(page, 'amended');
      assert.match(await page.getByTestId('report-addendum').textContent(), new RegExp(ADDENDUM));
      assert.equal(await page.getByTestId('report-findings').inputValue(), FINDINGS, 'the signed text stays');
      await shot(page, '03-amended');
      // The PDF link: the same session fetches a PDF.
      const href = await page.getByTestId('report-pdf').getAttribute('href');
      const pdf = await page.evaluate(async (u) => {
        const r = await fetch(u);
        return { status: r.status, type: r.headers.get('content-type'), head: new TextDecoder().decode((await r.arrayBuffer()).slice(0, 5)) };
      }, href);
      assert.deepEqual(pdf, { status: 200, type: 'application/pdf', head: '%PDF-' });
    } finally {
      fs.writeFileSync(path.join(RESULTS, 'report-desktop-console.log'), b.console.join('\n'));
      await b.browser.close();
    }
  });

  test('the requesting doctor reads it on a phone and acknowledges the critical result', async () => {
    const b = await launch(phone);
    try {
      const { page } = b;
      await openReport(page, DOCTOR, DOCTOR_PASSWORD);
      await waitState(page, 'amended');
      // The bell: preliminary, final and amended, each with the critical flag.
      await page.getByTestId('notifications-unread').waitFor({ timeout: 30000 });
      assert.equal(await page.getByTestId('notifications-unread').textContent(), '3');
      await page.getByTestId('notifications').click();
      const items = await page.getByTestId('notification').allTextContents();
      assert.equal(items.length, 3, JSON.stringify(items));
      assert.ok(items.every((t) => t.includes('ผลวิกฤต') && t.includes('HN')), JSON.stringify(items));
      await shot(page, '04a-bell');
      await page.getByTestId('notifications').click();
      assert.equal(await page.getByTestId('report-findings').inputValue(), FINDINGS);
      assert.equal(await page.getByTestId('report-create').count(), 0);
      assert.equal(await page.getByTestId('report-sign').count(), 0);
      await shot(page, '04-phone');
      await page.getByTestId('report-acknowledge').click();
      await page.getByTestId('report-acknowledged').waitFor({ timeout: 30000 });
      assert.match(await page.getByTestId('report-acknowledged').textContent(), new RegExp(DOCTOR));
      assert.equal(await page.getByTestId('report-acknowledge').count(), 0);
      await shot(page, '05-acknowledged');
    } finally {
      fs.writeFileSync(path.join(RESULTS, 'report-phone-console.log'), b.console.join('\n'));
      await b.browser.close();
    }
  });

  test('a doctor asks another hospital for a reading; its radiologist claims, reports and signs', async () => {
    const study = server.latin.study_uid;
    const doc = await launch(desktop);
    const reader = await launch(desktop);
    try {
      const d = doc.page;
      await openReport(d, DOCTOR, DOCTOR_PASSWORD, study);
      await d.getByTestId('consult-open').click();
      await d.getByTestId('consult-hospital').selectOption(READING_HOSPITAL);
      await d.getByTestId('consult-priority').selectOption('stat');
      await d.getByTestId('consult-history').fill('ไอเรื้อรัง 3 สัปดาห์');
      await d.getByTestId('consult-question').fill('Mass?');
      await d.getByTestId('consult-allergies').fill('none');
      // A scanned request form goes into the study as an Encapsulated PDF.
      const pdf = '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n';
      await d.getByTestId('consult-attach').setInputFiles({ name: 'request.pdf', mimeType: 'application/pdf', buffer: Buffer.from(pdf) });
      await d.getByTestId('consult-attached').waitFor({ timeout: 30000 });
      const docs = await qido(`/studies/${study}/series?Modality=DOC`);
      assert.equal(docs.length, 1, JSON.stringify(docs));
      await d.getByTestId('consult-send').click();
      await d.locator('[data-testid=consult][data-status=requested]').waitFor({ timeout: 30000 });
      await shot(d, '06-requested');

      const r = reader.page;
      await r.goto(`${server.url}/`);
      await r.getByTestId('login-username').fill(READER);
      await r.getByTestId('login-password').fill(READER_PASSWORD);
      await r.getByTestId('login-submit').click();
      await r.getByTestId('worklist-open-page').click();
      const item = r.locator(`[data-testid=worklist-item][data-study="${study}"]`);
      await item.waitFor({ timeout: 30000 });
      assert.ok((await item.getAttribute('class')).includes('priority-stat'));
      // The filters: routine only hides the STAT request; STAT and a word of the
      // hospital's name bring it back.
      await r.getByTestId('worklist-priority').selectOption('routine');
      await r.getByTestId('worklist-none-match').waitFor({ timeout: 30000 });
      await r.getByTestId('worklist-priority').selectOption('stat');
      await r.getByTestId('worklist-search').fill('nobody-at-all');
      await r.getByTestId('worklist-none-match').waitFor({ timeout: 30000 });
      await r.getByTestId('worklist-search').fill('');
      await item.waitFor({ timeout: 30000 });
      await shot(r, '07-worklist');
      await item.getByTestId('worklist-claim').click();
      await item.getByTestId('worklist-release').waitFor({ timeout: 30000 });
      await item.getByTestId('worklist-open').click();
      await waitDrawn(r, 0);
      // From the worklist the report editor opens beside the images.
      await r.waitForFunction(() => document.querySelector('[data-testid=report-panel]')?.dataset.loaded === 'true',
        null, { timeout: 30000 });
      await r.getByTestId('report-create').click();
      await waitState(r, 'draft');
      await r.getByTestId('report-findings').fill('No mass. ไม่พบก้อน');
      await r.getByTestId('report-impression').fill('Normal chest CT.');
      await r.getByTestId('report-password').fill(READER_PASSWORD);
      await r.getByTestId('report-sign').click();
      await waitState(r, 'final');

      await d.reload();
      await waitDrawn(d, 0);
      await d.getByTestId('report-toggle').click();
      await waitState(d, 'final');
      await d.locator('[data-testid=consult][data-status=reported]').waitFor({ timeout: 30000 });
      assert.equal(await d.getByTestId('report-impression').inputValue(), 'Normal chest CT.');
      await shot(d, '08-reported');
    } finally {
      fs.writeFileSync(path.join(RESULTS, 'report-consult-console.log'), doc.console.concat(reader.console).join('\n'));
      await doc.browser.close();
      await reader.browser.close();
    }
  });
});
