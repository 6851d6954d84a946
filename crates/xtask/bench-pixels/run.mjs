// Driver of the browser half of `cargo xtask bench pixels`: serves bench.js, the
// wasm-bindgen output, the codec packages and the test frames from a static HTTP server
// on 127.0.0.1 (ephemeral port), opens the page in headless Chromium through
// playwright-core, runs it, and prints results as tab-separated key=value lines
// (parsed by crates/xtask/src/bench/pixels.rs).
//
// Usage: node run.mjs --pkg DIR --data DIR [--pkg-simd DIR] [--native DIR] [--seconds S]
//        [--runs N] [--timeout SECONDS] [--chromium PATH] [--only id,id]
// --pkg-simd: the same crate built with +simd128, measured as a third decoder.
// --native: pixels-bench-native's decoded lossy frames, compared with the wasm build's.
// Lines: `browser	user_agent=…`, `size	name=…	bytes=…	brotli=…	gzip=…`,
// `result	syntax=…	role=rangsi|rangsi-simd128|peer	name=…	fps=…	runs=…	check=…	digest=…
// [agreement=…] [native_agreement=…]` or `…	error=…`.

import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = fileURLToPath(new URL('.', import.meta.url));

function parseArgs(argv) {
  const opts = { seconds: 1, runs: 3, timeout: 600, chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in opts) && !['pkg', 'pkg-simd', 'data', 'native', 'only'].includes(key)) throw new Error(`unknown option ${argv[i]}`);
    opts[key] = argv[i + 1];
  }
  if (!opts.pkg || !opts.data) throw new Error('usage: node run.mjs --pkg DIR --data DIR [--seconds S] [--runs N]');
  return {
    ...opts,
    seconds: Number(opts.seconds),
    runs: Number(opts.runs),
    timeout: Number(opts.timeout),
    only: opts.only ? opts.only.split(',') : null,
  };
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

// URL prefix → folder; nothing outside these folders is served.
function staticServer(roots) {
  return createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const match = Object.keys(roots)
      .sort((a, b) => b.length - a.length)
      .find((prefix) => path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`));
    if (!match) return notFound(res);
    const root = resolve(roots[match]);
    const rest = path === match ? '' : path.slice(match.length);
    let file = resolve(root, normalize(`.${sep}${rest}`));
    if (file !== root && !file.startsWith(root + sep)) return notFound(res);
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const body = readFileSync(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] || 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch {
      notFound(res);
    }
  });
}

function notFound(res) {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found');
}

function field(value) {
  return String(value).replace(/[\t\n]/g, ' ');
}

function line(kind, fields) {
  console.log([kind, ...Object.entries(fields).map(([k, v]) => `${k}=${field(v)}`)].join('\t'));
}

function sizes(file) {
  const bytes = readFileSync(file);
  return {
    bytes: bytes.length,
    brotli: brotliCompressSync(bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    }).length,
    gzip: gzipSync(bytes, { level: 9 }).length,
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const server = staticServer({
    '/': here,
    '/pkg': opts.pkg,
    '/data': opts.data,
    ...(opts.native ? { '/native': opts.native } : {}),
    ...(opts['pkg-simd'] ? { '/pkg-simd128': opts['pkg-simd'] } : {}),
    '/node_modules': join(here, 'node_modules'),
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  const profile = mkdtempSync(join(tmpdir(), 'rangsi-bench-pixels-chromium-'));
  let context;
  const deadline = setTimeout(() => {
    console.error(`run.mjs: no result within ${opts.timeout} s`);
    process.exit(3);
  }, opts.timeout * 1000);
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => console.error(m.text()));
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.goto(`${base}/index.html`);
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30000 });
    const result = await page.evaluate(
      (o) => window.runBench(o),
      { seconds: opts.seconds, runs: opts.runs, only: opts.only, native: Boolean(opts.native),
        simd: Boolean(opts['pkg-simd']) },
    );
    line('browser', { user_agent: result.userAgent });
    const wasm = join(opts.pkg, 'rangsi_pixels_bench_wasm_bg.wasm');
    line('size', { id: 'rangsi', name: 'rangsi-pixels, all codecs (wasm)', ...sizes(wasm) });
    if (opts['pkg-simd']) {
      const simd = join(opts['pkg-simd'], 'rangsi_pixels_bench_wasm_bg.wasm');
      line('size', { id: 'rangsi-simd128', name: 'rangsi-pixels, all codecs (wasm, +simd128)', ...sizes(simd) });
    }
    for (const p of result.peers) {
      line('size', { id: p.id, name: p.name, ...sizes(join(here, p.file)) });
    }
    for (const s of result.syntaxes) {
      if (s.error) {
        line('result', { syntax: s.id, role: 'rangsi', error: s.error });
        continue;
      }
      for (const r of s.results) {
        const common = { syntax: s.id, role: r.role, name: r.name };
        if (r.error) {
          line('result', { ...common, error: r.error });
        } else {
          line('result', {
            ...common,
            fps: r.fps.toFixed(1),
            runs: r.runs.map((x) => x.toFixed(1)).join(','),
            check: r.check,
            digest: r.digest,
            ...(r.agreement ? { agreement: r.agreement } : {}),
            ...(r.native_agreement ? { native_agreement: r.native_agreement } : {}),
          });
        }
      }
    }
  } finally {
    clearTimeout(deadline);
    if (context) await context.close().catch(() => {});
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`run.mjs: ${e.stack || e}`);
  process.exit(1);
});
