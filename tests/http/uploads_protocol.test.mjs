// tus 1.0.0 at /api/v1/uploads, request by request: discovery, creation
// (with upload), HEAD, PATCH, termination, expiration and its sweep,
// every error status with its headers, X-HTTP-Method-Override, metadata
// checked before any byte, and CORS.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { assertNoSanitizerReport, removeDir, startChorus, tempDir, testClock } from '../lib/chorus.mjs';
import {
  GOOD_META, MiB, OFFSET_TYPE, TUS_VERSION, createUpload, deleteUpload, filesIn,
  headUpload, incomingPath, metadata, partPath, patchUpload, patternBytes, request,
  sha256, sha256File, sql, until,
} from '../lib/uploads.mjs';

const MAX_MB = 8;
const EXPIRY = 3600;
const ORIGINS = ['https://allowed.example', 'https://other.example'];
let srv;
before(async () => {
  srv = await startChorus({
    args: ['--max-upload-mb', String(MAX_MB), '--upload-expiry', String(EXPIRY), '--cors-origin', ORIGINS.join(',')],
  });
});
after(async () => {
  const r = await srv.stop();
  assertNoSanitizerReport(r.log);
});

const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** Headers every tus response but OPTIONS carries. */
function assertTus(r, what = '') {
  assert.equal(r.headers['tus-resumable'], TUS_VERSION, `${what}: Tus-Resumable`);
  assert.equal(r.headers['cache-control'], 'no-store', `${what}: Cache-Control`);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
}

/** A JSON error with the given status and code. */
function assertError(r, status, code, what = '') {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  assertTus(r, what);
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8', what);
  const body = r.json();
  if (code) assert.equal(body.error, code, what);
  assert.equal(typeof body.message, 'string', what);
  assert.ok(body.message.length > 0, what);
  return body;
}

/** Upload-Expires: an HTTP date about `expiry` seconds from now. */
function assertExpires(r, expiry = EXPIRY, what = '') {
  const v = r.headers['upload-expires'];
  assert.ok(v, `${what}: Upload-Expires missing`);
  assert.match(v, HTTP_DATE, what);
  const t = Date.parse(v) / 1000;
  const want = Date.now() / 1000 + expiry;
  assert.ok(Math.abs(t - want) < 10, `${what}: Upload-Expires ${v} is not ~${expiry}s away`);
}

const count = (dir, where = '1') => sql(dir, `SELECT count(*) AS n FROM messages WHERE ${where}`)[0].n;

test('OPTIONS discovery: Tus-Version, Tus-Extension, Tus-Max-Size from --max-upload-mb', async () => {
  const r = await request(srv.port, 'OPTIONS', '/api/v1/uploads');
  assert.ok(r.status === 204 || r.status === 200, `status ${r.status}`);
  assert.equal(r.headers['tus-version'], TUS_VERSION);
  const ext = r.headers['tus-extension'].split(',').map((s) => s.trim()).sort();
  assert.deepEqual(ext, ['creation', 'creation-with-upload', 'expiration', 'termination']);
  assert.equal(r.headers['tus-max-size'], String(MAX_MB * MiB));
  assert.equal(r.headers['tus-resumable'], TUS_VERSION);
});

test('creation: 201 with Location, Chorus-Receipt, Upload-Expires and {id, receipt}; nothing on disk yet', async () => {
  const c = await createUpload(srv.port, 1000);
  assert.equal(c.status, 201, c.text);
  assertTus(c, 'POST');
  assertExpires(c, EXPIRY, 'POST');
  assert.match(c.location, /^(https?:\/\/[^/]+)?\/api\/v1\/uploads\/[A-Za-z0-9_-]{22}$/);
  assert.match(c.receipt, /^[A-Za-z0-9_-]{40,}$/);
  assert.equal(c.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(c.json(), { id: c.id, receipt: c.receipt });
  assert.equal(statSync(partPath(srv.dataDir, c.id)).size, 0);
  const row = sql(srv.dataDir, `SELECT status, upload_length, upload_offset FROM messages WHERE id = '${c.id}'`);
  assert.deepEqual(row, [{ status: 'uploading', upload_length: 1000, upload_offset: 0 }]);
  // Ids and receipts are random.
  const c2 = await createUpload(srv.port, 1000);
  assert.notEqual(c2.id, c.id);
  assert.notEqual(c2.receipt, c.receipt);
});

test('HEAD and PATCH: offsets, lengths, expiry on every answer until the last byte; then incoming/<id>', async () => {
  const data = patternBytes('head-patch', 0, 300000);
  const c = await createUpload(srv.port, data.length);
  let h = await headUpload(srv.port, c.id);
  assert.equal(h.status, 200);
  assertTus(h, 'HEAD');
  assertExpires(h, EXPIRY, 'HEAD');
  assert.equal(h.offset, 0);
  assert.equal(h.length, data.length);
  assert.equal(h.text, '');

  let p = await patchUpload(srv.port, c.id, 0, data.subarray(0, 100000));
  assert.equal(p.status, 204, p.text);
  assertTus(p, 'PATCH');
  assert.equal(p.headers['upload-offset'], '100000');
  assertExpires(p, EXPIRY, 'PATCH');
  h = await headUpload(srv.port, c.id);
  assert.equal(h.offset, 100000);
  assertExpires(h, EXPIRY, 'HEAD after PATCH');
  assert.equal(statSync(partPath(srv.dataDir, c.id)).size, 100000);

  // An empty PATCH changes nothing.
  p = await patchUpload(srv.port, c.id, 100000, Buffer.alloc(0));
  assert.equal(p.status, 204, p.text);
  assert.equal(p.headers['upload-offset'], '100000');

  p = await patchUpload(srv.port, c.id, 100000, data.subarray(100000));
  assert.equal(p.status, 204, p.text);
  assertTus(p, 'final PATCH');
  assert.equal(p.headers['upload-offset'], String(data.length));
  assert.equal(p.headers['upload-expires'], undefined, 'a finished upload does not expire');

  h = await headUpload(srv.port, c.id);
  assert.equal(h.status, 200);
  assert.equal(h.offset, data.length);
  assert.equal(h.length, data.length);
  assert.equal(h.headers['upload-expires'], undefined);
  assert.ok(!existsSync(partPath(srv.dataDir, c.id)), 'the part file is moved away');
  assert.equal(await sha256File(incomingPath(srv.dataDir, c.id)), sha256(data));
  const [row] = sql(srv.dataDir, `SELECT status, upload_offset, upload_expires_at, received_at FROM messages WHERE id = '${c.id}'`);
  assert.equal(row.status, 'processing');
  assert.equal(row.upload_offset, data.length);
  assert.equal(row.upload_expires_at, null);
  assert.ok(row.received_at > 0);
  const jobs = sql(srv.dataDir, `SELECT state, kind FROM jobs WHERE message_id = '${c.id}'`);
  assert.deepEqual(jobs, [{ state: 'queued', kind: 'transcode' }]);
});

test('creation-with-upload: the first bytes ride on the POST (201 with Upload-Offset)', async () => {
  const data = patternBytes('cwu', 0, 200000);
  const c = await createUpload(srv.port, data.length, { body: data.subarray(0, 65536) });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.headers['upload-offset'], '65536');
  assertExpires(c, EXPIRY, 'POST with body');
  assert.equal((await headUpload(srv.port, c.id)).offset, 65536);
  const p = await patchUpload(srv.port, c.id, 65536, data.subarray(65536));
  assert.equal(p.status, 204);
  assert.equal(await sha256File(incomingPath(srv.dataDir, c.id)), sha256(data));

  // The whole video in the POST: complete at once, no expiry.
  const small = patternBytes('cwu-whole', 0, 5000);
  const w = await createUpload(srv.port, small.length, { body: small });
  assert.equal(w.status, 201, w.text);
  assert.equal(w.headers['upload-offset'], '5000');
  assert.equal(w.headers['upload-expires'], undefined);
  assert.equal(await sha256File(incomingPath(srv.dataDir, w.id)), sha256(small));
  assert.equal(sql(srv.dataDir, `SELECT status FROM messages WHERE id = '${w.id}'`)[0].status, 'processing');
});

test('409: PATCH at any other offset than the upload\'s, which is told in Upload-Offset; file untouched', async () => {
  const data = patternBytes('409', 0, 4000);
  const c = await createUpload(srv.port, data.length);
  assert.equal((await patchUpload(srv.port, c.id, 0, data.subarray(0, 1000))).status, 204);
  for (const off of [0, 999, 1001, 3000]) {
    const r = await patchUpload(srv.port, c.id, off, data.subarray(off, off + 500));
    const body = assertError(r, 409, null, `offset ${off}`);
    assert.equal(body.error, 'offset_mismatch');
    assert.equal(r.headers['upload-offset'], '1000', `offset ${off}`);
  }
  assert.equal((await headUpload(srv.port, c.id)).offset, 1000);
  assert.equal(await sha256File(partPath(srv.dataDir, c.id)), sha256(data.subarray(0, 1000)));
  // A finished upload takes nothing more.
  assert.equal((await patchUpload(srv.port, c.id, 1000, data.subarray(1000))).status, 204);
  const again = await patchUpload(srv.port, c.id, 0, data.subarray(0, 10));
  assertError(again, 409, 'offset_mismatch', 'PATCH after the end');
  assert.equal(await sha256File(incomingPath(srv.dataDir, c.id)), sha256(data));
});

test('412: a missing or other Tus-Resumable, on every method, with Tus-Version', async () => {
  const c = await createUpload(srv.port, 100);
  const cases = [
    ['POST', '/api/v1/uploads', { 'Upload-Length': '100', 'Upload-Metadata': metadata(GOOD_META) }],
    ['HEAD', `/api/v1/uploads/${c.id}`, {}],
    ['PATCH', `/api/v1/uploads/${c.id}`, { 'Upload-Offset': '0', 'Content-Type': OFFSET_TYPE }],
    ['DELETE', `/api/v1/uploads/${c.id}`, {}],
  ];
  const before = count(srv.dataDir);
  for (const [method, p, headers] of cases) {
    for (const version of [null, '', '0.2.2', '1.0', '1.0.1']) {
      const h = { ...headers };
      if (version !== null) h['Tus-Resumable'] = version;
      const body = method === 'PATCH' ? Buffer.from('x'.repeat(10)) : undefined;
      const r = await request(srv.port, method, p, { headers: h, ...(body ? { body } : {}) });
      const what = `${method} with Tus-Resumable ${JSON.stringify(version)}`;
      assert.equal(r.status, 412, what);
      assert.equal(r.headers['tus-version'], TUS_VERSION, what);
      assert.equal(r.headers['tus-resumable'], TUS_VERSION, what);
      if (method !== 'HEAD') assert.equal(r.json().error, 'unsupported_version', what);
    }
  }
  assert.equal(count(srv.dataDir), before, 'no upload created');
  const h = await headUpload(srv.port, c.id);
  assert.equal(h.status, 200, 'the DELETE without Tus-Resumable deleted nothing');
  assert.equal(h.offset, 0);
});

test('413: Upload-Length over Tus-Max-Size, or a body past Upload-Length', async () => {
  const before = count(srv.dataDir);
  const big = await createUpload(srv.port, MAX_MB * MiB + 1);
  assertError(big, 413, 'too_large', 'creation over the maximum');
  assert.equal(count(srv.dataDir), before);
  const exact = await createUpload(srv.port, MAX_MB * MiB);
  assert.equal(exact.status, 201, 'exactly the maximum is fine');

  const c = await createUpload(srv.port, 1000);
  const over = await patchUpload(srv.port, c.id, 0, Buffer.alloc(1001, 7));
  assertError(over, 413, 'too_large', 'PATCH past the length');
  const h = await headUpload(srv.port, c.id);
  assert.equal(h.offset, 0);
  assert.equal(statSync(partPath(srv.dataDir, c.id)).size, 0);

  const cwu = await createUpload(srv.port, 10, { body: Buffer.alloc(11, 1) });
  assertError(cwu, 413, 'too_large', 'creation body past the length');

  // A chunked body (no Content-Length) that runs past the length is cut
  // off without a byte past it stored.
  const d = await createUpload(srv.port, 100000);
  const chunked = await patchUpload(srv.port, d.id, 0,
    (function* () { for (let i = 0; i < 4; i++) yield Buffer.alloc(32768, i + 1); })(),
    { headers: { 'Transfer-Encoding': 'chunked' } }).catch((error) => ({ status: 0, error }));
  assert.notEqual(chunked.status, 204, 'a body past the length is not accepted');
  const hd = await headUpload(srv.port, d.id);
  assert.ok(hd.offset <= 100000, `offset ${hd.offset}`);
  assert.ok(statSync(partPath(srv.dataDir, d.id)).size <= 100000);
});

test('415: PATCH bodies only as application/offset+octet-stream; same for creation-with-upload', async () => {
  const c = await createUpload(srv.port, 100);
  for (const type of [undefined, 'application/octet-stream', 'text/plain', 'application/offset+octet-streamX', 'multipart/form-data; boundary=x']) {
    const headers = { 'Tus-Resumable': TUS_VERSION, 'Upload-Offset': '0' };
    if (type) headers['Content-Type'] = type;
    const r = await request(srv.port, 'PATCH', `/api/v1/uploads/${c.id}`, { headers, body: Buffer.alloc(10, 1) });
    assertError(r, 415, 'unsupported_media', `Content-Type ${type}`);
  }
  // Parameters after the type are fine.
  const ok = await patchUpload(srv.port, c.id, 0, Buffer.alloc(10, 2), { headers: { 'Content-Type': `${OFFSET_TYPE}; charset=binary` } });
  assert.equal(ok.status, 204);
  assert.equal((await headUpload(srv.port, c.id)).offset, 10);

  const before = count(srv.dataDir);
  const cwu = await createUpload(srv.port, 100, { body: Buffer.alloc(10), headers: { 'Content-Type': 'text/plain' } });
  assertError(cwu, 415, 'unsupported_media', 'creation with a text body');
  assert.equal(count(srv.dataDir), before);
});

test('404: unknown or malformed upload ids, on HEAD, PATCH and DELETE', async () => {
  // A path that is not an upload at all is the router's plain 404.
  for (const p of ['/api/v1/uploads/..%2f..%2fchorus.db', '/api/v1/uploads/a/b']) {
    assert.equal((await request(srv.port, 'HEAD', p, { headers: { 'Tus-Resumable': TUS_VERSION } })).status, 404, p);
  }
  for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'nope', 'A'.repeat(200), '%2e%2e']) {
    const h = await headUpload(srv.port, id);
    assert.equal(h.status, 404, `HEAD ${id}`);
    assertTus(h, `HEAD ${id}`);
    assertError(await patchUpload(srv.port, id, 0, Buffer.from('abc')), 404, 'not_found', `PATCH ${id}`);
    assertError(await deleteUpload(srv.port, id), 404, 'not_found', `DELETE ${id}`);
  }
});

test('400: bad or missing Upload-Length / Upload-Offset, Upload-Defer-Length; nothing created', async () => {
  const before = count(srv.dataDir);
  const bad = [undefined, '', 'abc', '-1', '1.5', '0x10', '12abc', '99999999999999999999999'];
  for (const len of bad) {
    const headers = { 'Tus-Resumable': TUS_VERSION, 'Upload-Metadata': metadata(GOOD_META) };
    if (len !== undefined) headers['Upload-Length'] = len;
    const r = await request(srv.port, 'POST', '/api/v1/uploads', { headers });
    assertError(r, 400, 'bad_header', `Upload-Length ${JSON.stringify(len)}`);
  }
  const defer = await request(srv.port, 'POST', '/api/v1/uploads', {
    headers: { 'Tus-Resumable': TUS_VERSION, 'Upload-Defer-Length': '1', 'Upload-Metadata': metadata(GOOD_META) },
  });
  assertError(defer, 400, 'bad_header', 'Upload-Defer-Length');
  assert.equal(count(srv.dataDir), before);

  const c = await createUpload(srv.port, 100);
  for (const off of [undefined, '', 'abc', '-5', '1e3']) {
    const headers = { 'Tus-Resumable': TUS_VERSION, 'Content-Type': OFFSET_TYPE };
    if (off !== undefined) headers['Upload-Offset'] = off;
    const r = await request(srv.port, 'PATCH', `/api/v1/uploads/${c.id}`, { headers, body: Buffer.alloc(5) });
    assertError(r, 400, 'bad_header', `Upload-Offset ${JSON.stringify(off)}`);
  }
  assert.equal((await headUpload(srv.port, c.id)).offset, 0);
});

test('X-HTTP-Method-Override: a POST tunnels PATCH and DELETE', async () => {
  const data = patternBytes('override', 0, 2000);
  const c = await createUpload(srv.port, data.length);
  const p = await request(srv.port, 'POST', `/api/v1/uploads/${c.id}`, {
    headers: { 'X-HTTP-Method-Override': 'PATCH', 'Tus-Resumable': TUS_VERSION, 'Upload-Offset': '0', 'Content-Type': OFFSET_TYPE },
    body: data.subarray(0, 1500),
  });
  assert.equal(p.status, 204, p.text);
  assert.equal(p.headers['upload-offset'], '1500');
  assert.equal((await headUpload(srv.port, c.id)).offset, 1500);
  const d = await request(srv.port, 'POST', `/api/v1/uploads/${c.id}`, {
    headers: { 'X-HTTP-Method-Override': 'DELETE', 'Tus-Resumable': TUS_VERSION },
  });
  assert.equal(d.status, 204, d.text);
  assert.equal((await headUpload(srv.port, c.id)).status, 404);
  assert.ok(!existsSync(partPath(srv.dataDir, c.id)));
});

test('termination: DELETE removes an unfinished upload (row and file); a finished one stays', async () => {
  const c = await createUpload(srv.port, 5000);
  assert.equal((await patchUpload(srv.port, c.id, 0, Buffer.alloc(3000, 9))).status, 204);
  assert.ok(existsSync(partPath(srv.dataDir, c.id)));
  const d = await deleteUpload(srv.port, c.id);
  assert.equal(d.status, 204, d.text);
  assertTus(d, 'DELETE');
  assert.ok(!existsSync(partPath(srv.dataDir, c.id)), 'part file deleted');
  assert.equal(count(srv.dataDir, `id = '${c.id}'`), 0, 'row deleted');
  assert.equal((await headUpload(srv.port, c.id)).status, 404);
  assertError(await patchUpload(srv.port, c.id, 3000, Buffer.alloc(10)), 404, 'not_found', 'PATCH after DELETE');
  assertError(await deleteUpload(srv.port, c.id), 404, 'not_found', 'second DELETE');

  const data = patternBytes('finished', 0, 1000);
  const f = await createUpload(srv.port, data.length, { body: data });
  assert.equal(f.status, 201);
  const fd = await deleteUpload(srv.port, f.id);
  assert.ok(fd.status >= 400 && fd.status < 500, `DELETE of a finished upload: ${fd.status}`);
  assertTus(fd, 'DELETE finished');
  assert.equal(await sha256File(incomingPath(srv.dataDir, f.id)), sha256(data));
  assert.equal(sql(srv.dataDir, `SELECT status FROM messages WHERE id = '${f.id}'`)[0].status, 'processing');
});

test('410 after Upload-Expires passes (before the sweep); the sweep then deletes row and file, not finished uploads', async () => {
  // The servers' clock moves past the expiry instead of the test waiting.
  const clockDir = tempDir('chorus-expiry-');
  const clock = testClock(clockDir);
  const expiry = 600;
  try {
    // Sweeps only at start-up: the expired upload is still there, and 410.
    const a = await startChorus({ args: ['--upload-expiry', String(expiry), '--sweep-interval', '3600'], env: clock.env() });
    try {
      const c = await createUpload(a.port, 1000);
      assert.equal(c.status, 201);
      assertExpires(c, expiry, 'POST');
      assert.equal((await patchUpload(a.port, c.id, 0, Buffer.alloc(100, 1))).status, 204);
      assert.equal((await headUpload(a.port, c.id)).status, 200, 'not expired yet');
      clock.advance(expiry + 10);
      const h = await headUpload(a.port, c.id);
      assert.equal(h.status, 410);
      assertTus(h, 'HEAD expired');
      assertError(await patchUpload(a.port, c.id, 100, Buffer.alloc(10)), 410, 'gone', 'PATCH expired');
      assertError(await deleteUpload(a.port, c.id), 410, 'gone', 'DELETE expired');
      assert.ok(existsSync(partPath(a.dataDir, c.id)), 'not swept yet');
    } finally {
      assertNoSanitizerReport((await a.stop()).log);
    }

    const b = await startChorus({ args: ['--upload-expiry', String(expiry), '--sweep-interval', '1'], env: clock.env() });
    try {
      const done = patternBytes('kept', 0, 500);
      const f = await createUpload(b.port, done.length, { body: done });
      assert.equal(f.status, 201);
      const c = await createUpload(b.port, 1000);
      assert.equal((await patchUpload(b.port, c.id, 0, Buffer.alloc(100, 1))).status, 204);
      assert.ok(existsSync(partPath(b.dataDir, c.id)));
      clock.advance(expiry + 10);
      await until(() => !existsSync(partPath(b.dataDir, c.id)) && count(b.dataDir, `id = '${c.id}'`) === 0,
        15000, 'the sweep to delete the expired upload');
      assert.equal((await headUpload(b.port, c.id)).status, 404);
      assert.deepEqual(filesIn(b.dataDir, 'uploads'), []);
      // The finished upload is not the sweep's business.
      assert.equal(await sha256File(incomingPath(b.dataDir, f.id)), sha256(done));
      assert.equal(sql(b.dataDir, `SELECT status FROM messages WHERE id = '${f.id}'`)[0].status, 'processing');
    } finally {
      assertNoSanitizerReport((await b.stop()).log);
    }
  } finally {
    removeDir(clockDir);
  }
});

// ---- Upload-Metadata, checked at creation before any byte is taken.

const over = (n, ch = 'é') => ch.repeat(n);
const REJECTIONS = [
  ['no Upload-Metadata at all', null, 'consent'],
  ['missing consent', metadata({ ...GOOD_META, consent: undefined }), 'consent'],
  ['consent=no', metadata({ ...GOOD_META, consent: 'no' }), 'consent'],
  ['consent=YES', metadata({ ...GOOD_META, consent: 'YES' }), 'consent'],
  ['consent without a value', metadata({ ...GOOD_META, consent: '' }), 'consent'],
  ['missing consent_version', metadata({ ...GOOD_META, consent_version: undefined }), 'consent_version'],
  ['consent_version with a slash', metadata({ ...GOOD_META, consent_version: '../1' }), 'consent_version'],
  ['consent_scope not public/union', metadata({ ...GOOD_META, consent_scope: 'everyone' }), 'consent_scope'],
  ['unknown country code', metadata({ ...GOOD_META, country: 'ZZ' }), 'country'],
  ['three-letter country', metadata({ ...GOOD_META, country: 'BLR' }), 'country'],
  ['missing country', metadata({ ...GOOD_META, country: undefined }), 'country'],
  ['unknown language', metadata({ ...GOOD_META, language: 'xx' }), 'language'],
  ['language with a bad region', metadata({ ...GOOD_META, language: 'en-ZZ' }), 'language'],
  ['language that is not a tag', metadata({ ...GOOD_META, language: 'en_US; DROP' }), 'language'],
  ['missing language', metadata({ ...GOOD_META, language: undefined }), 'language'],
  ['message of 501 characters', metadata({ ...GOOD_META, message: over(501) }), 'message'],
  ['name of 101 characters', metadata({ ...GOOD_META, name: over(101, 'n') }), 'name'],
  ['organization of 201 characters', metadata({ ...GOOD_META, organization: over(201, 'o') }), 'organization'],
  ['filename of 256 bytes', metadata({ ...GOOD_META, filename: 'a'.repeat(252) + '.mp4' }), 'filename'],
  ['invalid UTF-8 in name', metadata({ ...GOOD_META, name: Buffer.from([0x41, 0xff, 0xfe, 0x42]) }), 'name'],
  ['overlong UTF-8 in message', metadata({ ...GOOD_META, message: Buffer.from([0xc0, 0xaf]) }), 'message'],
  ['a surrogate half in organization', metadata({ ...GOOD_META, organization: Buffer.from([0xed, 0xa0, 0x80]) }), 'organization'],
  ['a control character in name', metadata({ ...GOOD_META, name: 'a\x1b[31mb' }), 'name'],
  ['a bidi override in name', metadata({ ...GOOD_META, name: 'abc\u202Egpj.exe' }), 'name'],
  ['a newline in name', metadata({ ...GOOD_META, name: 'a\nb' }), 'name'],
  ['bad base64 in name', metadata({ ...GOOD_META, name: undefined }) + ',name !!!not*base64', 'name'],
  ['bad base64 in consent', metadata({ ...GOOD_META, consent: undefined }) + ',consent y$s', 'consent'],
  ['a non-video filetype', metadata({ ...GOOD_META, filetype: 'text/html' }), 'filetype'],
  ['a key given twice', metadata(GOOD_META) + `,country ${Buffer.from('DE').toString('base64')}`, 'country'],
  ['an Upload-Metadata over 8 KiB', metadata(GOOD_META) + `,message ${'QUFB'.repeat(2100)}`, 'Upload-Metadata'],
];
const UNKNOWN_KEY = metadata({ ...GOOD_META, location: '53.9,27.56' });

test('metadata: each bad field is refused with 400 invalid_metadata naming it; no row, no file', async () => {
  const rowsBefore = count(srv.dataDir);
  const filesBefore = filesIn(srv.dataDir, 'uploads').length;
  for (const [what, header, field] of REJECTIONS) {
    const r = await createUpload(srv.port, 1000, { meta: header });
    const body = assertError(r, 400, 'invalid_metadata', what);
    assert.equal(body.field, field, `${what}: ${r.text}`);
    assert.equal(r.headers.location, undefined, what);
    assert.equal(r.headers['chorus-receipt'], undefined, what);
  }
  const u = await createUpload(srv.port, 1000, { meta: UNKNOWN_KEY });
  const body = assertError(u, 400, 'invalid_metadata', 'unknown key');
  assert.equal(body.field, 'Upload-Metadata');
  assert.match(body.message, /location/);
  // Also when bytes come with the creation: refused before any is taken.
  const withBody = await createUpload(srv.port, 1000, { meta: metadata({ ...GOOD_META, country: 'XX' }), body: Buffer.alloc(1000, 3) });
  assert.equal(withBody.json().field, 'country');
  assert.equal(count(srv.dataDir), rowsBefore, 'no message row');
  assert.equal(filesIn(srv.dataDir, 'uploads').length, filesBefore, 'no part file');
});

test('metadata: valid values are stored normalised; limits are inclusive; the file name is never kept', async () => {
  const meta = {
    ...GOOD_META,
    country: 'by',
    language: 'EN-gb',
    consent_scope: 'union',
    message: `${over(497)}\r\nok`, // CRLF, as browsers send line breaks: kept as LF
    name: over(100, 'Я'),
    filename: 'VID_20260419_Pinsk_Secret.mp4',
  };
  const c = await createUpload(srv.port, 10, { meta });
  assert.equal(c.status, 201, c.text);
  const [row] = sql(srv.dataDir, `SELECT name, organization, country, language, message, consent_version, consent_scope, filetype, consent_at FROM messages WHERE id = '${c.id}'`);
  assert.equal(row.name, meta.name);
  assert.equal(row.organization, GOOD_META.organization);
  assert.equal(row.country, 'BY');
  assert.equal(row.language, 'en-GB');
  assert.equal(row.message, `${over(497)}\nok`);
  assert.equal(row.consent_version, GOOD_META.consent_version);
  assert.equal(row.consent_scope, 'union');
  assert.equal(row.filetype, 'video/mp4');
  assert.ok(row.consent_at > 0);
  // Only the required fields: the optional ones stay empty.
  const m = await createUpload(srv.port, 10, { meta: { consent: 'yes', consent_version: '2026-11', country: 'UA', language: 'uk' } });
  assert.equal(m.status, 201, m.text);
  const [min] = sql(srv.dataDir, `SELECT name, organization, message, consent_scope FROM messages WHERE id = '${m.id}'`);
  assert.deepEqual(min, { name: null, organization: null, message: null, consent_scope: 'public' });
  const db = Buffer.concat(['chorus.db', 'chorus.db-wal'].map((f) => path.join(srv.dataDir, f))
    .filter((f) => existsSync(f)).map((f) => readFileSync(f)));
  assert.ok(!db.includes('Pinsk_Secret'), 'the file name reached the database');
  assert.ok(!srv.log().includes('Pinsk_Secret'), 'the file name reached the log');
});

// ---- CORS

// What a browser adds to a cross-origin fetch from an allowed page.
const BROWSER = { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Dest': 'empty' };

test('CORS: allowed origins get the tus headers exposed; others get none', async () => {
  const origin = ORIGINS[1];
  const c = await createUpload(srv.port, 100, { headers: { Origin: origin, ...BROWSER } });
  assert.equal(c.status, 201);
  assert.equal(c.headers['access-control-allow-origin'], origin);
  assert.match(c.headers.vary || '', /Origin/);
  const exposed = (c.headers['access-control-expose-headers'] || '').split(',').map((s) => s.trim().toLowerCase());
  for (const h of ['location', 'upload-offset', 'upload-length', 'upload-expires', 'tus-resumable', 'tus-version',
    'tus-extension', 'tus-max-size', 'chorus-receipt']) {
    assert.ok(exposed.includes(h), `${h} not exposed: ${exposed}`);
  }
  const h = await headUpload(srv.port, c.id, { Origin: origin, ...BROWSER });
  assert.equal(h.headers['access-control-allow-origin'], origin);
  const p = await patchUpload(srv.port, c.id, 0, Buffer.alloc(50, 1), { headers: { Origin: origin, ...BROWSER } });
  assert.equal(p.status, 204, p.text);
  assert.equal(p.headers['access-control-allow-origin'], origin);
  // Errors reach the page too, so a tus client can act on them.
  const e = await patchUpload(srv.port, c.id, 10, Buffer.alloc(5), { headers: { Origin: origin, ...BROWSER } });
  assert.equal(e.status, 409);
  assert.equal(e.headers['access-control-allow-origin'], origin);
  assert.ok(e.headers['access-control-expose-headers']);
  const rcpt = await request(srv.port, 'GET', '/api/v1/receipt', { headers: { Origin: origin, ...BROWSER, Authorization: `Bearer ${c.receipt}` } });
  assert.equal(rcpt.status, 200);
  assert.equal(rcpt.headers['access-control-allow-origin'], origin);
  const del = await request(srv.port, 'DELETE', `/api/v1/uploads/${c.id}`, { headers: { Origin: origin, ...BROWSER, 'Tus-Resumable': TUS_VERSION } });
  assert.equal(del.status, 204, del.text);
  assert.equal(del.headers['access-control-allow-origin'], origin);

  for (const bad of ['https://evil.example', 'https://allowed.example.evil', 'null', 'https://allowed.exampl']) {
    const r = await createUpload(srv.port, 100, { headers: { Origin: bad } });
    assert.equal(r.headers['access-control-allow-origin'], undefined, bad);
    assert.equal(r.headers['access-control-expose-headers'], undefined, bad);
  }
});

test('CORS preflight: answered for allowed origins with the tus methods and headers; 403 otherwise', async () => {
  const pre = (origin, method, p = '/api/v1/uploads/AAAAAAAAAAAAAAAAAAAAAA') => request(srv.port, 'OPTIONS', p, {
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': method,
      'Access-Control-Request-Headers': 'tus-resumable, upload-offset, content-type',
    },
  });
  for (const [method, p] of [['PATCH', undefined], ['HEAD', undefined], ['DELETE', undefined], ['POST', '/api/v1/uploads'],
    ['GET', '/api/v1/receipt'], ['DELETE', '/api/v1/receipt'], ['POST', '/api/v1/messages']]) {
    const r = await pre(ORIGINS[0], method, p);
    assert.ok(r.status === 204 || r.status === 200, `${method} ${p}: ${r.status}`);
    assert.equal(r.headers['access-control-allow-origin'], ORIGINS[0]);
    const methods = r.headers['access-control-allow-methods'].split(',').map((s) => s.trim());
    assert.ok(methods.includes(method), `${method} not allowed: ${methods}`);
    const allowed = r.headers['access-control-allow-headers'].split(',').map((s) => s.trim().toLowerCase());
    for (const h of ['tus-resumable', 'upload-length', 'upload-metadata', 'upload-offset', 'content-type',
      'x-http-method-override', 'authorization']) {
      assert.ok(allowed.includes(h), `${h} not allowed in a preflight: ${allowed}`);
    }
    assert.ok(Number(r.headers['access-control-max-age']) > 0);
  }
  const bad = await pre('https://evil.example', 'PATCH');
  assert.equal(bad.status, 403);
  assert.equal(bad.headers['access-control-allow-origin'], undefined);
  // No CORS at all without --cors-origin.
  const s = await startChorus();
  try {
    const r = await request(s.port, 'OPTIONS', '/api/v1/uploads', { headers: { Origin: ORIGINS[0], 'Access-Control-Request-Method': 'POST' } });
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    const c = await createUpload(s.port, 10, { headers: { Origin: ORIGINS[0] } });
    assert.equal(c.status, 201);
    assert.equal(c.headers['access-control-allow-origin'], undefined);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});
