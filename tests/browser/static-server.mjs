// A static file server for the browser tests, on 127.0.0.1 and a free port:
//   /pkg/...      the packed package as installed in tests/js/node_modules/aicostmanager-edge
//   /browser/...  this folder (the contract cases and the page harness)
//   /             a page that loads /browser/harness.mjs
// Anything else, or a path leaving those folders, is 404.

import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
export const packageDir = fileURLToPath(new URL('../js/node_modules/aicostmanager-edge/', import.meta.url));

const roots = { '/pkg/': packageDir, '/browser/': here };
const types = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.html': 'text/html',
};
const page = `<!doctype html><meta charset="utf-8"><title>stores</title>
<script type="module" src="/browser/harness.mjs"></script>`;

/** Starts the server; resolves to `{ origin, close() }`. */
export async function startStaticServer() {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path === '/') return send(res, 200, 'text/html', page);
    const prefix = Object.keys(roots).find((p) => path.startsWith(p));
    if (!prefix) return send(res, 404, 'text/plain', 'not found');
    const root = roots[prefix];
    const file = normalize(join(root, path.slice(prefix.length)));
    if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return send(res, 404, 'text/plain', 'not found');
    try {
      return send(res, 200, types[extname(file)] ?? 'application/octet-stream', await readFile(file));
    } catch {
      return send(res, 404, 'text/plain', 'not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
