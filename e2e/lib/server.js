// A real `rangsi serve` for the browser tests: a fresh data dir seeded through the
// CLI (hospital, user) with CT studies from ../shared/gen_ct_series.py (one with a
// Thai patient name, one Latin), imported with `rangsi import`, served on
// ephemeral ports (127.0.0.1:0). Environment (set by `cargo xtask test`):
//   RANGSI_BIN     the rangsi binary (required)
//   RANGSI_PYTHON  a Python with pydicom + numpy (default: python3)
//   RANGSI_SHARED  the folder with gen_ct_series.py (default: ../../shared from e2e/)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const E2E_DIR = path.resolve(here, '..');
export const PYTHON = process.env.RANGSI_PYTHON || 'python3';
const SHARED = process.env.RANGSI_SHARED || path.resolve(E2E_DIR, '../../shared');

export const HOSPITAL = '10670';
export const USER = 'somchai';
export const PASSWORD = 'e2e-Password-1';
export const SLICES = 24;

/** Runs a command; its stdout, or an error with both outputs. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

function generate(out, extra) {
  run(PYTHON, [path.join(SHARED, 'gen_ct_series.py'), '--out', out, '--slices', String(SLICES), ...extra]);
  return JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')).studies[0];
}

/**
 * Seeds a data dir and starts the server; returns { url, thai, latin, extra, stop() }.
 * `prepare(work)`, if given, runs after the two CT studies are generated and returns
 * { folders: [more folders to import], ... }, kept as `extra`.
 */
export async function startServer({ prepare } = {}) {
  const bin = process.env.RANGSI_BIN;
  if (!bin || !fs.existsSync(bin)) {
    throw new Error(`RANGSI_BIN must name a built rangsi binary (got ${bin}); run through \`cargo xtask test\``);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rangsi-e2e-'));
  const data = path.join(work, 'data');
  const env = { ...process.env, RANGSI_DATA: data, RANGSI_LOG: 'warn', RANGSI_ADMIN_PASSWORD: 'e2e-admin-Password-1' };
  run(bin, ['hospital', 'add', HOSPITAL, 'โรงพยาบาลทดสอบ'], { env });
  run(bin, ['user', 'add', USER, '--hospital', HOSPITAL, '--role', 'radiologist', '--password-stdin'],
    { env, input: `${PASSWORD}\n` });
  const thai = generate(path.join(work, 'thai'), ['--thai', '--seed', '3']);
  const latin = generate(path.join(work, 'latin'), ['--seed', '5']);
  const extra = prepare ? prepare(work) : {};
  run(bin, ['import', '--hospital', HOSPITAL, path.join(work, 'thai'), path.join(work, 'latin'), ...(extra.folders || [])], { env });

  const child = spawn(bin, ['serve', '--http', '127.0.0.1:0', '--dicom', '127.0.0.1:0'], {
    env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`rangsi serve did not start:\n${out}\n${stderr}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/rangsi: http listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`rangsi serve exited ${code}:\n${stderr}`)); });
  });
  return {
    url,
    work,
    /** Runs `rangsi ARGS` on the server's data dir (import, hospital add, …). */
    cli: (args, input) => run(bin, args, { env, input }),
    /** POSTs Part 10 files to STOW-RS as the e2e user. */
    stow: (files) => stow(url, files),
    thai,
    latin,
    extra,
    logs: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => { if (child.exitCode !== null) r(); else child.on('exit', r); });
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

async function stow(url, files) {
  const boundary = 'rangsi-e2e-boundary';
  const parts = files.flatMap((f) => [
    Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
    fs.readFileSync(f),
    Buffer.from('\r\n'),
  ]);
  const body = Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]);
  const res = await fetch(`${url}/dicomweb/studies`, {
    method: 'POST',
    headers: {
      'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
      authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
      accept: 'application/dicom+json',
    },
    body,
  });
  if (!res.ok) throw new Error(`STOW-RS answered ${res.status}: ${await res.text()}`);
}

/**
 * Display gray levels the independent oracle (pydicom + the VOI LINEAR formula of
 * PS3.3 C.11.2.1.2.1, in oracle.py) expects for `file` under window (center, width)
 * at a grid of image points: [{col, row, gray, lo, hi}], lo/hi over the 3×3 neighbourhood.
 */
export function oracle(file, center, width, grid = 9) {
  const out = run(PYTHON, [path.join(E2E_DIR, 'oracle.py'), file, String(center), String(width), String(grid)]);
  return JSON.parse(out);
}
