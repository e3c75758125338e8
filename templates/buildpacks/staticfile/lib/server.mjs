// devbox's static file server, shipped into apps by the staticfile buildpack.
// Usage: node server.mjs [ROOT] [--dotfiles]   (listens on $PORT, default 8080)
// Serves ROOT (default: the current directory): GET and HEAD only, index.html for directories,
// content types by extension, ETag/Last-Modified with 304s. Nothing outside ROOT is ever served
// (no `..`, no symbolic link leading out), nor dot files unless --dotfiles.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { setTimeout } from 'node:timers';
import { URL } from 'node:url';
import console from 'node:console';

const args = process.argv.slice(2);
const dotfiles = args.includes('--dotfiles');
const rootArg = args.find((a) => !a.startsWith('--')) ?? '.';
const root = fs.realpathSync(path.resolve(rootArg));
const port = Number(process.env.PORT) || 8080;

const TEXT = 'charset=utf-8';
const TYPES = {
  '.html': `text/html; ${TEXT}`,
  '.htm': `text/html; ${TEXT}`,
  '.css': `text/css; ${TEXT}`,
  '.js': `text/javascript; ${TEXT}`,
  '.mjs': `text/javascript; ${TEXT}`,
  '.json': `application/json; ${TEXT}`,
  '.map': `application/json; ${TEXT}`,
  '.webmanifest': `application/manifest+json; ${TEXT}`,
  '.txt': `text/plain; ${TEXT}`,
  '.md': `text/markdown; ${TEXT}`,
  '.csv': `text/csv; ${TEXT}`,
  '.xml': `application/xml; ${TEXT}`,
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.bmp': 'image/bmp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.eot': 'application/vnd.ms-fontobject',
  '.pdf': 'application/pdf',
  '.wasm': 'application/wasm',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.ogg': 'audio/ogg',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
};

const inside = (file) => file === root || file.startsWith(root + path.sep);

function send(res, status, body, headers = {}) {
  const text = Buffer.from(body);
  res.writeHead(status, { 'Content-Type': `text/html; ${TEXT}`, 'Content-Length': text.length, ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

const notFound = (res) => send(res, 404, '<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>\n');

async function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, '<h1>405 Method Not Allowed</h1>\n', { Allow: 'GET, HEAD' });
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  let pathname;
  try {
    pathname = decodeURIComponent(url.pathname);
  } catch {
    return send(res, 400, '<h1>400 Bad Request</h1>\n');
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return send(res, 400, '<h1>400 Bad Request</h1>\n');
  const segments = pathname.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || (!dotfiles && s.startsWith('.')))) return notFound(res);
  let file = path.join(root, ...segments);
  if (!inside(file)) return notFound(res);
  let stat;
  try {
    stat = await fs.promises.stat(file);
    if (stat.isDirectory()) {
      if (!url.pathname.endsWith('/')) {
        return send(res, 301, '<h1>301 Moved Permanently</h1>\n', { Location: `${url.pathname}/${url.search}` });
      }
      file = path.join(file, 'index.html');
      stat = await fs.promises.stat(file);
    }
    if (!stat.isFile()) return notFound(res);
    // A symbolic link may point anywhere: what it leads to must be inside the root too.
    if (!inside(await fs.promises.realpath(file))) return notFound(res);
  } catch {
    return notFound(res);
  }
  const etag = `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
  const headers = {
    'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Last-Modified': stat.mtime.toUTCString(),
    ETag: etag,
    'X-Content-Type-Options': 'nosniff',
  };
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  if (req.headers['if-none-match'] === etag || (!req.headers['if-none-match'] && Number.isFinite(since) && Math.floor(stat.mtimeMs / 1000) <= since / 1000)) {
    res.writeHead(304, headers);
    return res.end();
  }
  res.writeHead(200, { ...headers, 'Content-Length': stat.size });
  if (req.method === 'HEAD') return res.end();
  const stream = fs.createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch(() => {
    if (!res.headersSent) send(res, 500, '<h1>500 Internal Server Error</h1>\n');
    else res.destroy();
  });
});
// Loopback, where the router reaches instances, unless the platform says otherwise.
server.listen(port, process.env.VCAP_APP_HOST || '127.0.0.1', () => console.log(`devbox static file server: serving ${root} on port ${port}`));

const shutdown = () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
