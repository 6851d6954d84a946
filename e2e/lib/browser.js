// Debian's Chromium, headless, driven by playwright-core (never downloads a browser),
// with the flag sets that give a WebGPU adapter that really draws (SwiftShader
// Vulkan) or WebGL2 only; and pixel checks on screenshots decoded by the browser.
import fs from 'node:fs';

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const BASE = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** The browser set-ups every scenario runs in. */
export const CONFIGS = [
  {
    name: 'webgpu',
    backend: 'WebGPU',
    viewport: { width: 1280, height: 800 },
    args: [...BASE, '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--enable-features=Vulkan',
      '--use-angle=swiftshader', '--use-vulkan=swiftshader'],
  },
  {
    name: 'webgl2',
    backend: 'WebGL2',
    viewport: { width: 1280, height: 800 },
    args: [...BASE, '--enable-unsafe-swiftshader'],
  },
  {
    name: 'phone',
    backend: 'WebGL2',
    viewport: { width: 375, height: 812 },
    isMobile: true,
    hasTouch: true,
    args: [...BASE, '--enable-unsafe-swiftshader'],
  },
];

export async function launch(config) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: config.args });
  const context = await browser.newContext({
    viewport: config.viewport,
    deviceScaleFactor: 1,
    isMobile: config.isMobile ?? false,
    hasTouch: config.hasTouch ?? false,
    locale: 'th-TH',
  });
  const page = await context.newPage();
  const console = [];
  page.on('console', (m) => console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => console.push(`pageerror: ${e.message}`));
  // Requests of the page and of its workers (frames are fetched by the decode worker).
  const requests = [];
  context.on('request', (r) => requests.push({ url: r.url(), headers: r.headers() }));
  return { browser, context, page, console, requests };
}

/**
 * Decodes a PNG screenshot in the page and returns, for the rectangle `rect` (CSS
 * pixels of the screenshot), luminance statistics and the RGB at `points`.
 */
export async function analyse(page, png, rect, points = []) {
  return page.evaluate(async ({ b64, rect, points }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(img, 0, 0);
    const x0 = Math.round(rect.x), y0 = Math.round(rect.y);
    const w = Math.round(rect.width), h = Math.round(rect.height);
    const d = ctx.getImageData(x0, y0, w, h).data;
    let sum = 0, sum2 = 0, lit = 0, gray = 0;
    const n = w * h;
    for (let i = 0; i < d.length; i += 4) {
      const l = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      sum += l; sum2 += l * l;
      if (l > 12) lit += 1;
      if (Math.abs(d[i] - d[i + 1]) <= 2 && Math.abs(d[i + 1] - d[i + 2]) <= 2) gray += 1;
    }
    const mean = sum / n;
    const at = points.map(([x, y]) => {
      const p = ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data;
      return [p[0], p[1], p[2]];
    });
    return { mean, std: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), litFraction: lit / n, grayFraction: gray / n, at };
  }, { b64: png.toString('base64'), rect, points });
}

/** Screen position (CSS px) of the centre of image pixel (col, row) when the image is fitted in `rect`. */
export function screenFromImage(rect, cols, rows, col, row) {
  const scale = Math.min(rect.width / cols, rect.height / rows);
  const ox = rect.x + (rect.width - cols * scale) / 2;
  const oy = rect.y + (rect.height - rows * scale) / 2;
  return [ox + (col + 0.5) * scale, oy + (row + 0.5) * scale];
}

/** Waits two animation frames, so that what was drawn is presented before a screenshot. */
/** Logs in through the login page at `baseUrl` and waits for the study list. */
export async function logIn(page, baseUrl, user, password) {
  await page.goto(`${baseUrl}/`);
  await page.getByTestId('login-username').fill(user);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('study-table').waitFor();
}

/** Writes the page's console lines to `logFile`, then closes the browser of `launch`. */
export async function closeWithLog(b, logFile) {
  if (!b) return;
  fs.writeFileSync(logFile, b.console.join('\n'));
  await b.browser.close();
}

export async function settle(page) {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/**
 * Waits until viewport `slot` has drawn image `index` with more than `after` draws in
 * all, then lets the compositor present it.
 */
export async function waitDrawn(page, index, after = -1, slot = 0) {
  await page.waitForFunction(([i, a, k]) => {
    const el = document.querySelector(`[data-testid=viewport][data-slot="${k}"]`);
    return el && el.dataset.drawn === String(i) && Number(el.dataset.draws) > a;
  }, [index, after, slot], { timeout: 60000 });
  await settle(page);
}
