// OHIF's prebuilt viewer (npm @ohif/app, dist/) served the way a site would host it,
// on one origin with the DICOMweb server it reads: a small HTTP server that
//   - answers /app-config.js with a configuration naming one DICOMweb data source,
//     `<this origin>/dicomweb` (OHIF's shipped defaults otherwise: 3 web workers,
//     prefetch 25 requests, thumbnails from /thumbnail);
//   - forwards /dicomweb/* to rangsi's /dicomweb/*, streaming the answer through as is
//     (compressed bodies stay compressed) and adding `Authorization: Bearer <token>`;
//   - serves every other path from dist/ (index.html for the SPA's routes), brotli
//     (quality 11, the same as rangsi's embedded twins) when the browser accepts it,
//     compressed once per file and kept in `brCache` (a folder; OHIF's dist is 200 MB,
//     so the first load of a fresh cache is slow: run.mjs warms it up before measuring).
import { createServer, request as httpRequest } from 'node:http';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { brotliCompress, constants } from 'node:zlib';
import { promisify } from 'node:util';

const brotli = promisify(brotliCompress);

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml',
};
/** Types worth compressing (woff2 and png already are). */
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.wasm', '.svg', '.map', '.txt', '.xml', '.ttf']);

export function appConfig() {
  return `// Written by crates/xtask/bench-viewer/proxy.mjs: one DICOMweb source on this origin.
window.config = {
  name: 'rangsi-bench',
  routerBasename: null,
  extensions: [],
  modes: [],
  customizationService: {},
  showStudyList: true,
  maxNumberOfWebWorkers: 3,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  showLoadingIndicator: true,
  strictZSpacingForVolumeViewport: true,
  investigationalUseDialog: { option: 'never' },
  maxNumRequests: { interaction: 100, thumbnail: 5, prefetch: 25 },
  defaultDataSourceName: 'rangsi',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'rangsi',
      configuration: {
        friendlyName: 'Rangsi',
        name: 'rangsi',
        wadoUriRoot: window.location.origin + '/dicomweb',
        qidoRoot: window.location.origin + '/dicomweb',
        wadoRoot: window.location.origin + '/dicomweb',
        qidoSupportsIncludeField: true,
        supportsReject: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'thumbnail',
        thumbnailRequestStrategy: 'fetch',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        staticWado: false,
        singlepart: 'bulkdata,video',
        bulkDataURI: { enabled: true, relativeResolution: 'studies' },
        omitQuotationForMultipartRequest: true,
      },
    },
  ],
};
`;
}

/**
 * Starts the server on 127.0.0.1 (ephemeral port). `upstream`: rangsi's base URL;
 * `token`: its DICOMweb bearer token. Returns { url, close(), compressed: Map }.
 */
export async function startProxy({ dist, upstream, token, brCache }) {
  const root = resolve(dist);
  const up = new URL(upstream);
  const cache = new Map(); // file → Promise<Buffer> (brotli)
  const config = Buffer.from(appConfig());

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://x');
      if (url.pathname.startsWith('/dicomweb/') || url.pathname === '/dicomweb') {
        return forward(req, res);
      }
      if (url.pathname === '/app-config.js') {
        res.writeHead(200, { 'content-type': TYPES['.js'], 'cache-control': 'no-store' });
        return res.end(config);
      }
      let file = resolve(root, normalize(`.${sep}${decodeURIComponent(url.pathname)}`));
      if (file !== root && !file.startsWith(root + sep)) return status(res, 404);
      let info = await stat(file).catch(() => null);
      if (info?.isDirectory()) {
        file = join(file, 'index.html');
        info = await stat(file).catch(() => null);
      }
      if (!info) {
        // A route of the single-page app (/viewer, /studies…), or a missing asset.
        if (extname(url.pathname)) return status(res, 404);
        file = join(root, 'index.html');
        info = await stat(file);
      }
      const ext = extname(file);
      const headers = { 'content-type': TYPES[ext] || 'application/octet-stream', 'cache-control': 'no-store' };
      const wantsBr = /\bbr\b/.test(req.headers['accept-encoding'] || '');
      let body;
      if (wantsBr && COMPRESSIBLE.has(ext)) {
        if (!cache.has(file)) cache.set(file, compressed(file, info));
        body = await cache.get(file);
        headers['content-encoding'] = 'br';
        headers.vary = 'accept-encoding';
      } else {
        body = await readFile(file);
      }
      headers['content-length'] = body.length;
      res.writeHead(200, headers);
      res.end(body);
    } catch (e) {
      if (!res.headersSent) status(res, 500, String(e));
      else res.destroy();
    }
  });

  /** The brotli twin of `file`, from `brCache` when it is there for this size and mtime. */
  async function compressed(file, info) {
    const key = `${file.slice(root.length + 1).replace(/[^A-Za-z0-9._-]/g, '_')}-${info.size}-${Math.floor(info.mtimeMs)}.br`;
    const cached = brCache ? join(brCache, key) : null;
    if (cached) {
      const hit = await readFile(cached).catch(() => null);
      if (hit) return hit;
    }
    const raw = await readFile(file);
    const body = await brotli(raw, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
    });
    if (cached) {
      await mkdir(brCache, { recursive: true });
      await writeFile(`${cached}.tmp`, body);
      await rename(`${cached}.tmp`, cached);
    }
    return body;
  }

  function forward(req, res) {
    const headers = { ...req.headers, host: up.host, authorization: `Bearer ${token}` };
    delete headers.cookie;
    const out = httpRequest({
      host: up.hostname,
      port: up.port,
      method: req.method,
      path: req.url,
      headers,
    }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    out.on('error', (e) => status(res, 502, String(e)));
    req.pipe(out);
  }

  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

function status(res, code, text = '') {
  if (res.headersSent) return res.destroy();
  res.writeHead(code, { 'content-type': 'text/plain' });
  res.end(text || String(code));
}
