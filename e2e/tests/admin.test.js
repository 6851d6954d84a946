// The admin portal (viewer/src/web/admin.rs) against a real server: the regional
// administrator opens /admin from the top bar, is told why a 4-digit hospital code is
// refused, creates a hospital (Thai name, province, capabilities), creates a user with a
// generated password (shown once: it logs in), disables the user (the login is refused
// from then on), searches the audit log for that and downloads the CSV (UTF-8 with BOM,
// the disabling row in it), edits a report template (the API answers the new text),
// and looks at the statistics (with a failing hospital gateway) and turnaround. Then, on a phone-sized screen, every tab
// is shown without the page scrolling sideways, and an API token is created and shown
// once. The portal is DOM, not GPU: desktop runs on WebGL2, then the phone set-up.
// Screenshots in test-results/admin-*.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { CONFIGS, launch } from '../lib/browser.js';
import { E2E_DIR, HOSPITAL, startServer } from '../lib/server.js';

const RESULTS = process.env.E2E_RESULTS || path.join(E2E_DIR, 'test-results');
const ADMIN = 'admin';
const ADMIN_PASSWORD = 'e2e-admin-Password-1';
const NEW_HOSPITAL = '10680';
const NEW_HOSPITAL_NAME = 'โรงพยาบาลหนองคาย';
const NEW_USER = 'nurse_e2e';
const FINDINGS = 'เนื้อสมองปกติ ไม่พบเลือดออก (แก้ไขโดยผู้ดูแล)';
const TABS = ['hospitals', 'users', 'aes', 'tokens', 'stats', 'audit', 'templates', 'turnaround'];

let server;
before(async () => {
  fs.mkdirSync(RESULTS, { recursive: true });
  server = await startServer();
  // A hospital gateway that reported a queue and a failing link (as `rangsi gateway` does).
  const token = server.cli(['token', 'create', '--gateway', 'gw-e2e', '--hospital', HOSPITAL]).trim();
  const r = await fetch(`${server.url}/api/gateways/status`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ version: 'e2e', queue_length: 12, bytes_pending: 3 << 20, oldest_pending_secs: 600,
      failed: 1, forwarded_total: 40, last_error: 'connection refused', last_error_at: new Date().toISOString() }),
  });
  assert.ok(r.ok, `gateway status: ${r.status} ${await r.text()}`);
});
after(async () => {
  await server?.stop();
});

const shot = (page, name) => page.screenshot({ path: path.join(RESULTS, `admin-${name}.png`), fullPage: true });

async function openAdmin(page) {
  await page.goto(`${server.url}/`);
  await page.getByTestId('login-username').fill(ADMIN);
  await page.getByTestId('login-password').fill(ADMIN_PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('admin-open').click();
  await page.getByTestId('admin').waitFor();
  assert.equal(new URL(page.url()).pathname, '/admin');
}

async function tab(page, name) {
  await page.getByTestId(`admin-tab-${name}`).click();
  await page.getByTestId(`admin-${name}`).waitFor();
}

/** The login answer of `user` (status), outside the browser (its cookie stays the admin's). */
async function loginStatus(user, password) {
  const r = await fetch(`${server.url}/api/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user, password }),
  });
  return r.status;
}

describe('the admin portal', () => {
  const desktop = CONFIGS.find((c) => c.name === 'webgl2');
  const phone = CONFIGS.find((c) => c.name === 'phone');

  test('the regional administrator manages hospitals, users, the audit log and templates', async () => {
    const b = await launch(desktop);
    try {
      const { page, context } = b;
      await openAdmin(page);

      // Hospitals: the server's message for a bad code, then a new hospital.
      await tab(page, 'hospitals');
      await page.getByTestId('admin-hospital-new').click();
      await page.getByTestId('admin-hospital-code').fill('1234');
      await page.getByTestId('admin-hospital-name').fill(NEW_HOSPITAL_NAME);
      await page.getByTestId('admin-hospital-save').click();
      await page.waitForFunction(() => document.querySelector('[data-testid=admin-error]')?.textContent.includes('5-digit'));
      await page.getByTestId('admin-hospital-code').fill(NEW_HOSPITAL);
      await page.getByTestId('admin-hospital-province-input').fill('Nong Khai');
      await page.getByTestId('admin-cap-CT').check();
      await page.getByTestId('admin-cap-radiologist-on-site').check();
      await page.getByTestId('admin-hospital-save').click();
      const row = page.locator(`[data-testid=admin-hospital-row][data-code="${NEW_HOSPITAL}"]`);
      await row.waitFor();
      assert.equal((await row.getByTestId('admin-hospital-province').textContent()).trim(), 'หนองคาย');
      assert.match(await row.textContent(), /CT, radiologist-on-site/);
      assert.equal(await page.getByTestId('admin-error').textContent(), '');
      await shot(page, 'hospitals-desktop');

      // Users: a generated password, shown once, that logs in; then disabled.
      await tab(page, 'users');
      await page.getByTestId('admin-user-name').fill(NEW_USER);
      await page.getByTestId('admin-user-new-role').selectOption('doctor');
      await page.getByTestId('admin-user-hospital').selectOption(NEW_HOSPITAL);
      await page.getByTestId('admin-user-create').click();
      const password = (await page.getByTestId('admin-password-value').textContent()).trim();
      assert.ok(password.length >= 12, `generated password ${password}`);
      const userRow = page.locator(`[data-testid=admin-user-row][data-user="${NEW_USER}"]`);
      await userRow.waitFor();
      assert.equal(await loginStatus(NEW_USER, password), 200);
      await shot(page, 'users-desktop');
      await userRow.getByTestId('admin-user-toggle').click();
      await page.waitForFunction((u) => document.querySelector(`[data-testid=admin-user-row][data-user="${u}"]`)
        ?.classList.contains('disabled'), NEW_USER);
      assert.equal((await page.locator(`[data-testid=admin-user-row][data-user="${NEW_USER}"] [data-testid=admin-user-status]`)
        .textContent()).trim(), 'ระงับแล้ว');
      assert.equal(await loginStatus(NEW_USER, password), 401);

      // The audit log: the disabling, found and downloaded as CSV.
      await tab(page, 'audit');
      await page.getByTestId('admin-audit-user').fill(ADMIN);
      await page.getByTestId('admin-audit-action').fill('admin-user-disable');
      await page.getByTestId('admin-audit-search').click();
      await page.waitForFunction(() => {
        const rows = document.querySelectorAll('[data-testid=admin-audit-row]');
        return rows.length > 0 && [...rows].every((r) => r.dataset.action === 'admin-user-disable');
      });
      assert.match(await page.getByTestId('admin-audit-row').first().textContent(), new RegExp(NEW_USER));
      await shot(page, 'audit-desktop');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByTestId('admin-audit-csv').click(),
      ]);
      const bytes = fs.readFileSync(await download.path());
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 byte order mark');
      const lines = bytes.toString('utf8').slice(1).trim().split('\r\n');
      assert.equal(lines[0], 'id,at,actor,hospital,protocol,remote,action,study_uid,patient_id,detail,outcome');
      assert.equal(lines.length, 2, lines.join('\n'));
      assert.match(lines[1], new RegExp(`,admin,.*,admin-user-disable,.*${NEW_USER}`));

      // A report template: edited in Thai, the API answers the new text.
      await tab(page, 'templates');
      const first = page.getByTestId('admin-template-row').first();
      const name = await first.getAttribute('data-name');
      await first.getByTestId('admin-template-edit').click();
      await page.getByTestId('admin-template-findings').fill(FINDINGS);
      await page.getByTestId('admin-template-save').click();
      await page.getByTestId('admin-notice').waitFor();
      await shot(page, 'templates-desktop');
      const templates = await (await context.request.get(`${server.url}/api/report-templates`)).json();
      const saved = templates.templates.find((t) => t.name === name);
      assert.equal(saved.findings, FINDINGS);

      // A token for a new gateway of the seeded hospital, shown once with its command line.
      await tab(page, 'tokens');
      await page.getByTestId('admin-gateway-name').fill('gw-ui');
      await page.getByTestId('admin-gateway-hospital').selectOption(HOSPITAL);
      await page.getByTestId('admin-gateway-token-create').click();
      const gwSecret = (await page.getByTestId('admin-gateway-token-value').textContent()).trim();
      assert.match(gwSecret, /^rgw_/);
      assert.ok((await page.getByTestId('admin-gateway-command').textContent()).includes(`--token ${gwSecret}`));
      await shot(page, 'gateway-token-desktop');

      // Statistics of the seeded hospital: what the API says, shown.
      await tab(page, 'stats');
      await page.getByTestId('admin-stats-hospital').selectOption(HOSPITAL);
      const stats = await (await context.request.get(`${server.url}/api/admin/hospitals/${HOSPITAL}/stats`)).json();
      assert.ok(stats.instances > 0);
      await page.waitForFunction((n) => document.querySelector('[data-testid=admin-stats-instances]')?.textContent === String(n),
        stats.instances);
      assert.equal(await page.locator('[data-testid=admin-stats-days] .admin-bar').count(), 30);
      // The days in the UI's era: Buddhist by default in Thai.
      const axis = await page.locator('.admin-bar-axis span').last().textContent();
      assert.ok(axis.includes(String(new Date().getUTCFullYear() + 543)), axis);
      // The hospital's gateway, failing, with its queue and last error.
      const gw = page.locator('[data-testid=admin-gateway]', { hasText: 'gw-e2e' });
      await gw.waitFor();
      assert.equal(await gw.getAttribute('data-health'), 'failing');
      const gwText = await gw.textContent();
      assert.ok(gwText.includes('gw-e2e') && gwText.includes('12 (3.0 MB)') && gwText.includes('connection refused'), gwText);
      // The one made above has not reported yet.
      assert.equal(await page.locator('[data-testid=admin-gateway]', { hasText: 'gw-ui' }).getAttribute('data-health'), 'late');
      await shot(page, 'stats-desktop');

      await tab(page, 'turnaround');
      await page.getByTestId('admin-turnaround-hospitals').waitFor();
      await shot(page, 'turnaround-desktop');
      assert.deepEqual(b.console.filter((m) => m.startsWith('pageerror')), []);
    } finally {
      await b.browser.close();
    }
  });

  test('on a phone every tab fits the width, and a token is shown once', async () => {
    const b = await launch(phone);
    try {
      const { page, context } = b;
      await openAdmin(page);
      for (const name of TABS) {
        await tab(page, name);
        await page.waitForTimeout(300);
        const { scroll, width } = await page.evaluate(() => ({
          scroll: document.documentElement.scrollWidth, width: window.innerWidth,
        }));
        assert.ok(scroll <= width, `${name}: the page scrolls sideways (${scroll} > ${width})`);
        await shot(page, `${name}-phone`);
      }
      await tab(page, 'tokens');
      await page.getByTestId('admin-token-user').fill('somchai');
      await page.getByTestId('admin-token-days').fill('30');
      await page.getByTestId('admin-token-note').fill('เครื่องอ่านผล');
      await page.getByTestId('admin-token-create').click();
      const secret = (await page.getByTestId('admin-token-value').textContent()).trim();
      assert.match(secret, /^rgs_/);
      await page.locator('[data-testid=admin-token-row][data-user=somchai]').waitFor();
      const r = await context.request.get(`${server.url}/api/me`, { headers: { authorization: `Bearer ${secret}` } });
      assert.equal((await r.json()).username, 'somchai');
      const listing = await (await context.request.get(`${server.url}/api/admin/tokens`)).text();
      assert.ok(!listing.includes(secret), 'the secret is never listed');
      await shot(page, 'tokens-created-phone');
      // The same page in English.
      await page.getByTestId('lang-toggle').click();
      assert.equal((await page.getByTestId('admin-tab-audit').textContent()).trim(), 'Audit log');
      await tab(page, 'audit');
      assert.equal((await page.getByTestId('admin-audit-csv').textContent()).trim(), 'Download CSV');
      await shot(page, 'audit-phone-en');
    } finally {
      await b.browser.close();
    }
  });
});
