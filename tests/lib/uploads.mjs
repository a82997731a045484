// Helpers for the upload tests: tus requests over node:http (with control
// over when the body goes out), deterministic test bytes of any size
// generated on the fly, sha256 of files, the SQLite database through the
// sqlite3 program, and the server's memory from /proc.
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export const TUS_VERSION = '1.0.0';
export const OFFSET_TYPE = 'application/offset+octet-stream';
export const MiB = 1024 * 1024;

export const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');

/** A tus Upload-Metadata header from an object of strings or Buffers
 * (undefined values are left out, '' gives a key without a value). */
export function metadata(obj) {
  return Object.entries(obj)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => (v === '' ? k : `${k} ${Buffer.isBuffer(v) ? v.toString('base64') : b64(v)}`))
    .join(',');
}

/** Metadata a contributor would send: everything valid. */
export const GOOD_META = Object.freeze({
  filename: 'VID_20260419_Minsk.mp4',
  filetype: 'video/mp4',
  name: 'Алесь Б.',
  organization: 'Free Trade Union',
  country: 'BY',
  language: 'be',
  message: 'Salidarnasć!\nWe stand with you.',
  consent: 'yes',
  consent_version: '2026-11', // the default campaign's, from --consent-version
  consent_scope: 'public',
});

const NOBODY = Symbol('no body');

/** Resolves when req can take more (or is closed). */
function drained(req) {
  return new Promise((resolve) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

/**
 * One HTTP request over a fresh connection (Connection: close), with
 * Expect: 100-continue when there is a body, so an early answer (409,
 * 413, 423, 507...) arrives without the body being pushed into a
 * closing socket. body: Buffer, string, or an (async) iterable of
 * Buffers written with backpressure. Resolves {status, headers, text,
 * json()}; rejects if the connection fails before an answer.
 */
export function request(port, method, urlPath, { headers = {}, body = NOBODY, timeout = 60000, expectContinue = true } = {}) {
  return new Promise((resolve, reject) => {
    const h = { Connection: 'close', ...headers };
    const hasBody = body !== NOBODY && body !== null;
    let buf = null;
    if (hasBody && (typeof body === 'string' || Buffer.isBuffer(body))) {
      buf = Buffer.from(body);
      if (h['Content-Length'] === undefined) h['Content-Length'] = String(buf.length);
    }
    if (hasBody && expectContinue) h.Expect = '100-continue';
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: h, agent: false });
    let answered = false;
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${urlPath}: no answer in ${timeout} ms`)), timeout);
    const sendBody = async () => {
      if (buf) { req.end(buf); return; }
      try {
        for await (const chunk of body) {
          if (answered || req.destroyed) return;
          if (!req.write(chunk)) await drained(req);
        }
        req.end();
      } catch (e) { req.destroy(e); }
    };
    req.on('continue', () => { if (!answered) sendBody(); });
    req.on('response', (res) => {
      answered = true;
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      const done = () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode,
          headers: res.headers,
          text,
          json: () => JSON.parse(text),
        });
      };
      res.on('end', done);
      res.on('error', done);
      res.on('aborted', done);
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      if (!answered) reject(e);
    });
    if (!hasBody) req.end();
    else if (!expectContinue) sendBody();
    else req.flushHeaders();
  });
}

const tusHeaders = (extra = {}) => ({ 'Tus-Resumable': TUS_VERSION, ...extra });

/** POST /api/v1/uploads. Returns the response plus id, receipt. */
export async function createUpload(port, length, { meta = GOOD_META, headers = {}, body } = {}) {
  const h = tusHeaders({ 'Upload-Length': String(length), ...headers });
  if (meta !== null) h['Upload-Metadata'] = typeof meta === 'string' ? meta : metadata(meta);
  if (body !== undefined && h['Content-Type'] === undefined) h['Content-Type'] = OFFSET_TYPE;
  const r = await request(port, 'POST', '/api/v1/uploads', { headers: h, body: body === undefined ? NOBODY : body });
  const loc = r.headers.location || '';
  const m = /\/api\/v1\/uploads\/([A-Za-z0-9_-]+)$/.exec(loc);
  return { ...r, location: loc, id: m ? m[1] : null, receipt: r.headers['chorus-receipt'] || null };
}

/** HEAD /api/v1/uploads/{id}: status, offset, length (numbers or null). */
export async function headUpload(port, id, headers = {}) {
  const r = await request(port, 'HEAD', `/api/v1/uploads/${id}`, { headers: tusHeaders(headers) });
  const num = (v) => (v === undefined ? null : Number(v));
  return { ...r, offset: num(r.headers['upload-offset']), length: num(r.headers['upload-length']) };
}

/** PATCH /api/v1/uploads/{id} at offset with body. */
export function patchUpload(port, id, offset, body, { headers = {}, ...opts } = {}) {
  return request(port, 'PATCH', `/api/v1/uploads/${id}`, {
    headers: tusHeaders({ 'Upload-Offset': String(offset), 'Content-Type': OFFSET_TYPE, ...headers }),
    body,
    ...opts,
  });
}

export function deleteUpload(port, id, headers = {}) {
  return request(port, 'DELETE', `/api/v1/uploads/${id}`, { headers: tusHeaders(headers) });
}

/** Creates an upload and sends all of data in one PATCH; returns {id, receipt}. */
export async function uploadWhole(port, data, opts = {}) {
  const c = await createUpload(port, data.length, opts);
  if (c.status !== 201) throw new Error(`creation: ${c.status} ${c.text}`);
  const p = await patchUpload(port, c.id, 0, data);
  if (p.status !== 204) throw new Error(`PATCH: ${p.status} ${p.text}`);
  return c;
}

/**
 * A PATCH whose body the test writes piece by piece: {write(buf),
 * end(), destroy(), response}. write() resolves once the bytes are
 * handed to the socket (after draining). response resolves with the
 * answer, or with {status: 0, error} if the connection breaks first.
 */
export function openPatch(port, id, offset, contentLength, { headers = {} } = {}) {
  const h = tusHeaders({ 'Upload-Offset': String(offset), 'Content-Type': OFFSET_TYPE, Connection: 'close', ...headers });
  if (contentLength !== null) h['Content-Length'] = String(contentLength);
  const req = http.request({ host: '127.0.0.1', port, method: 'PATCH', path: `/api/v1/uploads/${id}`, headers: h, agent: false });
  let answered = false;
  const response = new Promise((resolve) => {
    req.on('response', (res) => {
      answered = true;
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', (error) => resolve({ status: res.statusCode, headers: res.headers, error }));
    });
    req.on('error', (error) => resolve({ status: 0, error }));
    // Closed with no answer at all (an answer being read settles itself).
    req.on('close', () => {
      if (!answered) setTimeout(() => resolve({ status: 0, error: new Error('closed') }), 100);
    });
  });
  req.flushHeaders();
  return {
    req,
    response,
    write: async (b) => {
      if (req.destroyed) return false;
      if (!req.write(b)) await drained(req);
      return !req.destroyed;
    },
    end: () => req.end(),
    destroy: () => req.destroy(),
  };
}

/**
 * Deterministic bytes for position-dependent test data: byte i of
 * stream `seed` is the AES-128-CTR keystream at i, so any range can be
 * generated on its own, fast, without holding the whole.
 */
export function patternBytes(seed, start, length) {
  const key = createHash('sha256').update(String(seed)).digest().subarray(0, 16);
  const block = Math.floor(start / 16);
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(block), 8);
  const skip = start - block * 16;
  const c = createCipheriv('aes-128-ctr', key, iv);
  const out = c.update(Buffer.alloc(length + skip));
  return skip ? out.subarray(skip) : out;
}

/** Yields pattern bytes [start, end) in fresh Buffers of chunk bytes. */
export function* patternChunks(seed, start, end, chunk = MiB) {
  for (let p = start; p < end; p += chunk) yield patternBytes(seed, p, Math.min(chunk, end - p));
}

export function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

export function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file, { highWaterMark: 4 * MiB })
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/** sha256 of pattern bytes [start, end) without holding them. */
export function patternSha256(seed, start, end) {
  const h = createHash('sha256');
  for (const c of patternChunks(seed, start, end, 4 * MiB)) h.update(c);
  return h.digest('hex');
}

/** Runs SQL on data/chorus.db with the sqlite3 program; rows as objects. */
export function sql(dataDir, query) {
  const r = spawnSync('sqlite3', ['-json', '-cmd', '.timeout 5000', path.join(dataDir, 'chorus.db'), query], { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout);
}

export const partPath = (dataDir, id) => path.join(dataDir, 'uploads', `${id}.part`);
export const incomingPath = (dataDir, id) => path.join(dataDir, 'incoming', id);

/** Names of the files in data/<sub>/ (none if it does not exist). */
export function filesIn(dataDir, sub) {
  const dir = path.join(dataDir, sub);
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** A field of /proc/<pid>/status in bytes (VmHWM, VmRSS). */
export function procMemory(pid, field = 'VmHWM') {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]) * 1024;
}

/** Waits until fn() is truthy (polling), or throws after ms. */
export { until } from './chorus.mjs';
