// Referral and sharing end to end (issue 6): a user of hospital A (somchai, 10670)
// refers the Thai CT to hospital B (10671) from the reading page and makes a share
// link; B's user logs in, sees the referral, moves its status and opens the images;
// the QR code on screen is decoded by an independent decoder (zbarimg, Debian
// zbar-tools) and its URL followed in a fresh phone-sized context with no account: the
// image appears, and no other study or API path answers that session; a revoked and an
// expired link are refused; wrong PINs are throttled. Screenshots go to
// e2e/test-results/share-<step>.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { CONFIGS, launch } from '../lib/browser.js';
import { E2E_DIR, PASSWORD, SLICES, USER, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const ONLY = process.env.E2E_CONFIGS ? process.env.E2E_CONFIGS.split(',') : null;
const HOSPITAL_B = '10671';
const USER_B = 'bob';
const PASSWORD_B = 'e2e-Password-B-1';
const ADMIN = 'Basic ' + Buffer.from('admin:e2e-admin-Password-1').toString('base64');

const desktop = CONFIGS.find((c) => c.name !== 'phone' && (!ONLY || ONLY.includes(c.name)))
  ?? CONFIGS.find((c) => c.name === 'webgl2');
const phone = CONFIGS.find((c) => c.name === 'phone');

let server;
const opened = [];
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  server = await startServer();
  const env = { ...process.env, RANGSI_DATA: path.join(server.work, 'data') };
  const cli = (args, input) => {
    const r = spawnSync(process.env.RANGSI_BIN, args, { env, input, encoding: 'utf8' });
    assert.equal(r.status, 0, `rangsi ${args.join(' ')}: ${r.stderr}`);
  };
  cli(['hospital', 'add', HOSPITAL_B, 'โรงพยาบาลสกลนคร']);
  cli(['user', 'add', USER_B, '--hospital', HOSPITAL_B, '--role', 'radiologist', '--password-stdin'], `${PASSWORD_B}\n`);
});
after(async () => {
  for (const b of opened) {
    await b.browser.close().catch(() => {});
  }
  await server?.stop();
});

async function open(config, name) {
  const b = await launch(config);
  opened.push(b);
  b.name = name;
  return b;
}

async function shot(page, step) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: path.join(RESULTS, `share-${step}.png`) });
}

async function login(page, user, password) {
  await page.goto(`${server.url}/`);
  await page.getByTestId('login-username').fill(user);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('study-table').waitFor();
}

async function waitDrawn(page, seriesUid) {
  await page.waitForFunction(([u, total]) => {
    const d = document.querySelector('[data-testid=viewport][data-slot="0"]')?.dataset;
    return d && d.seriesUid === u && d.total === String(total) && d.drawn === '0' && Number(d.draws) > 0;
  }, [seriesUid, SLICES], { timeout: 90000 });
}

/** Status codes of GETs from the page (its cookies, its origin). */
async function statuses(page, urls) {
  return page.evaluate(async (list) => {
    const out = {};
    for (const u of list) {
      const accept = u.includes('/frames/') ? 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
        : /thumbnail|rendered/.test(u) ? 'image/jpeg' : 'application/dicom+json';
      const r = await fetch(u, { headers: { Accept: accept } });
      out[u] = r.status;
    }
    return out;
  }, urls);
}

/** A share link made through the API by the page's user. */
async function apiShare(page, body) {
  return page.evaluate(async (b) => {
    const r = await fetch('/api/shares', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(b) });
    return { status: r.status, body: await r.json() };
  }, body);
}

async function clock(offsetSecs) {
  const r = await fetch(`${server.url}/api/test/clock`, {
    method: 'POST', headers: { Authorization: ADMIN, 'Content-Type': 'application/json' },
    body: JSON.stringify({ offset_secs: offsetSecs }),
  });
  assert.equal(r.status, 204, await r.text());
}

describe('referral and sharing', () => {
  let a;
  let linkUrl;

  test('A refers the open study to B and makes a share link with a QR code', async () => {
    a = await open(desktop, 'a');
    const { page } = a;
    await login(page, USER, PASSWORD);
    await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${server.thai.study_uid}`);
    await waitDrawn(page, server.thai.series_uid);

    await page.getByTestId('refer-open').click();
    await page.getByTestId('referral-form').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=refer-to] option').length > 0);
    await page.getByTestId('refer-to').selectOption(HOSPITAL_B);
    await page.getByTestId('refer-reason').fill('ส่งต่อเพื่อตรวจ MRI สมอง');
    await page.getByTestId('refer-urgency').selectOption('urgent');
    await page.getByTestId('refer-summary').fill('ปวดศีรษะรุนแรงเฉียบพลัน');
    await page.getByTestId('refer-send').click();
    await page.getByTestId('refer-sent').waitFor();
    await shot(page, '01-referral-sent');
    await page.getByTestId('refer-close').click();

    await page.getByTestId('share-open').click();
    await page.getByTestId('share-dialog').waitFor();
    await page.getByTestId('share-create').click();
    await page.locator('[data-testid=share-qr] svg').waitFor();
    linkUrl = (await page.getByTestId('share-url').textContent()).trim();
    assert.match(linkUrl, new RegExp(`^${server.url}/s/rgsh_[A-Za-z0-9_-]{40,}$`));
    await shot(page, '02-share-dialog');

    // The QR on screen, decoded by zbarimg: the same URL.
    const png = path.join(RESULTS, 'share-qr.png');
    await page.getByTestId('share-qr').screenshot({ path: png });
    const z = spawnSync('zbarimg', ['-q', '--raw', png], { encoding: 'utf8' });
    assert.equal(z.status, 0, `zbarimg (Debian zbar-tools) failed: ${z.stderr}`);
    assert.equal(z.stdout.trim(), linkUrl);
  });

  test('B logs in, sees the referral, moves its status and opens the images', async () => {
    const b = await open(desktop, 'b');
    const { page } = b;
    await login(page, USER_B, PASSWORD_B);
    await page.getByTestId('referrals-open').click();
    const row = page.getByTestId('referral-row').first();
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'sent');
    assert.match(await row.getByTestId('referral-patient').textContent(), new RegExp(server.thai.patient_id));
    await shot(page, '03-b-incoming');
    await row.getByTestId('referral-set-received').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=referral-row]')?.dataset.status === 'received');
    await page.getByTestId('referral-row').first().getByTestId('referral-open-images').click();
    await waitDrawn(page, server.thai.series_uid);
    await shot(page, '04-b-images');

    // A sees the new status in its outgoing list.
    await a.page.goto(`${server.url}/referrals`);
    await a.page.getByTestId('referrals-outgoing').click();
    await a.page.waitForFunction(() => document.querySelector('[data-testid=referral-row]')?.dataset.status === 'received',
      null, { timeout: 30000 });
  });

  test('the QR URL opens the image on a phone without an account, and nothing else', async () => {
    const p = await open(phone, 'phone');
    const { page } = p;
    await page.goto(linkUrl);
    await waitDrawn(page, server.thai.series_uid);
    assert.equal(await page.getByTestId('login-username').count(), 0);
    assert.equal(await page.getByTestId('share-open').count(), 0);
    await shot(page, '05-phone-link');
    const s = server.thai;
    const other = server.latin;
    const codes = await statuses(page, [
      `/dicomweb/studies/${s.study_uid}/metadata`,
      `/dicomweb/studies/${other.study_uid}/metadata`,
      `/dicomweb/studies/${other.study_uid}/series`,
      `/dicomweb/studies/${other.study_uid}/series/${other.series_uid}/metadata`,
      `/dicomweb/studies/${other.study_uid}/thumbnail`,
      `/dicomweb/studies/${s.study_uid}/thumbnail`,
      '/api/studies',
      '/api/referrals?direction=outgoing',
      '/api/shares',
      `/api/measurements?study=${s.study_uid}`,
      `/dicomweb/studies/${s.study_uid}`,
    ]);
    assert.deepEqual(Object.values(codes), [200, 404, 200, 404, 404, 200, 403, 403, 403, 403, 403], JSON.stringify(codes));
    // The series search of another study answers, but empty.
    const series = await page.evaluate(async (u) => (await fetch(u, { headers: { Accept: 'application/dicom+json' } })).text(),
      `/dicomweb/studies/${other.study_uid}/series`);
    assert.ok(series === '' || series === '[]', series);
    const all = await page.evaluate(async () => (await fetch('/dicomweb/studies', { headers: { Accept: 'application/dicom+json' } })).json());
    assert.deepEqual(all.map((x) => x['0020000D'].Value[0]), [s.study_uid]);
  });

  test('a revoked and an expired link are refused', async () => {
    const { page } = a;
    await page.goto(`${server.url}/viewer?StudyInstanceUIDs=${server.thai.study_uid}`);
    await page.getByTestId('share-open').click();
    const link = page.locator('[data-testid=share-link]').first();
    await link.waitFor();
    await link.getByTestId('share-revoke').click();
    await page.locator('[data-testid=share-link] .revoked').first().waitFor();
    const fresh = await open(phone, 'revoked');
    await fresh.page.goto(linkUrl);
    await fresh.page.getByTestId('share-error').waitFor();
    assert.match(await fresh.page.getByTestId('share-error').textContent(), /revoked/);
    await shot(fresh.page, '06-revoked');

    const made = await apiShare(page, { study_uids: [server.thai.study_uid], expires_days: 1 });
    assert.equal(made.status, 201);
    try {
      await clock(2 * 86400);
      const late = await open(phone, 'expired');
      await late.page.goto(`${server.url}${made.body.path}`);
      await late.page.getByTestId('share-error').waitFor();
      assert.match(await late.page.getByTestId('share-error').textContent(), /expired/);
      await shot(late.page, '07-expired');
    } finally {
      await clock(0);
    }
  });

  test('a PIN is asked, and wrong PINs are throttled', async () => {
    const made = await apiShare(a.page, { study_uids: [server.thai.study_uid], pin: '2468' });
    assert.equal(made.status, 201);
    const p = await open(phone, 'pin');
    const { page } = p;
    await page.goto(`${server.url}${made.body.path}`);
    const pin = page.getByTestId('share-pin');
    await pin.waitFor();
    await shot(page, '08-pin-asked');
    for (let i = 0; i < 5; i++) {
      await pin.fill(`111${i}`);
      await page.getByTestId('share-submit').click();
      await page.waitForFunction((n) => {
        const e = document.querySelector('[data-testid=share-error]');
        return e && e.dataset.n !== String(n) && !document.querySelector('[data-testid=share-submit]')?.disabled;
      }, i);
      await page.getByTestId('share-error').evaluate((e, n) => { e.dataset.n = String(n); }, i);
    }
    const message = await page.getByTestId('share-error').textContent();
    assert.match(message, /try again/, message);
    await shot(page, '09-pin-throttled');
    // Even a fresh browser with the right PIN is refused while the link is throttled.
    const q = await open(phone, 'pin-again');
    await q.page.goto(`${server.url}${made.body.path}`);
    await q.page.getByTestId('share-error').waitFor();
    assert.match(await q.page.getByTestId('share-error').textContent(), /try again/);
    assert.equal(await q.page.getByTestId('share-pin').count(), 0);
    const direct = await q.page.evaluate(async (token) => (await fetch('/api/share/open', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token, pin: '2468' }),
    })).status, made.body.token);
    assert.equal(direct, 429);
  });
});
