// Offsets and lengths a client chooses, at the edges of 64 bits, on every
// path that adds them up: a tus PATCH (Upload-Offset 5 with
// Content-Length 2^63-1 overflowed offset + length, and the sanitizer
// build aborted), creation with and without a body, the multipart form,
// a JSON body and the Range of a clip. Each is refused with its status,
// nothing is stored past what was declared, and the server (in the
// sanitizer build, UBSan with halt_on_error) goes on answering.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { assertNoSanitizerReport, rawRequest, removeDir, SANITIZED, startChorus, tempDir } from '../lib/chorus.mjs';
import { makeClip, sendMessage, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';
import { GOOD_META, createUpload, headUpload, metadata, patchUpload } from '../lib/uploads.mjs';

const MAX = '9223372036854775807'; // 2^63 - 1
const U64 = '18446744073709551615'; // 2^64 - 1
const dir = tempDir('chorus-overflow-');
let s;

before(async () => { s = await startChorus({ args: ['--workers', '1'] }); });
after(async () => {
  const r = await s.stop();
  assert.equal(r.code, 0, r.log.slice(-2000));
  assertNoSanitizerReport(r.log);
  removeDir(dir);
});

/** Raw request text: headers (an object), then body as given. */
function raw(method, p, headers, body = '') {
  const lines = [`${method} ${p} HTTP/1.1`, 'Host: x', 'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

const tus = (extra) => ({ 'Tus-Resumable': '1.0.0', ...extra });

async function alive() {
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'the server still answers');
}

test('PATCH at offset 5 with Content-Length 2^63-1: 413, the upload untouched', async () => {
  const c = await createUpload(s.port, 100);
  assert.equal(c.status, 201, c.text);
  assert.equal((await patchUpload(s.port, c.id, 0, Buffer.alloc(5, 1))).status, 204);
  for (const cl of [MAX, '9223372036854775803', '9223372036854775796']) {
    const r = await rawRequest(s.port, raw('PATCH', `/api/v1/uploads/${c.id}`, tus({
      'Upload-Offset': '5', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': cl,
    }), 'xxxxx'));
    assert.equal(r.status, 413, `Content-Length ${cl}: ${r.raw.toString().slice(0, 300)}`);
    assert.match(r.body, /"too_large"/);
  }
  // Content-Length past 2^64 and an offset near 2^63: refused as malformed
  // or as not where the upload stands, never wrapped around.
  const over = await rawRequest(s.port, raw('PATCH', `/api/v1/uploads/${c.id}`, tus({
    'Upload-Offset': '5', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': `${U64}0`,
  }), 'x'));
  assert.ok(over.status === 0 || over.status === 400 || over.status === 413, `status ${over.status}`);
  const far = await rawRequest(s.port, raw('PATCH', `/api/v1/uploads/${c.id}`, tus({
    'Upload-Offset': MAX, 'Content-Type': 'application/offset+octet-stream', 'Content-Length': '1',
  }), 'x'));
  assert.equal(far.status, 409);
  assert.equal(far.headers['upload-offset'], '5');
  const h = await headUpload(s.port, c.id);
  assert.equal(h.offset, 5, 'nothing past what was sent before');
  assert.equal((await patchUpload(s.port, c.id, 5, Buffer.alloc(95, 2))).status, 204, 'and it still completes');
  await alive();
});

test('creation: Upload-Length and a body at the edges of 64 bits', async () => {
  const md = metadata(GOOD_META);
  for (const len of [MAX, U64, `${U64}9`, '-1']) {
    const r = await rawRequest(s.port, raw('POST', '/api/v1/uploads', tus({ 'Upload-Length': len, 'Upload-Metadata': md })));
    assert.ok(r.status === 400 || r.status === 413, `Upload-Length ${len}: ${r.status}`);
  }
  // creation-with-upload: a body longer than the upload, or absurdly long.
  for (const cl of [MAX, '101']) {
    const r = await rawRequest(s.port, raw('POST', '/api/v1/uploads', tus({
      'Upload-Length': '100', 'Upload-Metadata': md, 'Content-Type': 'application/offset+octet-stream',
      'Content-Length': cl,
    }), 'x'.repeat(10)));
    assert.equal(r.status, 413, `Content-Length ${cl}`);
  }
  await alive();
});

test('a JSON body and a form announcing 2^63-1 bytes: 413 before a byte is read', async () => {
  const login = await rawRequest(s.port, raw('POST', '/api/v1/session', {
    'Content-Type': 'application/json', 'Content-Length': MAX,
  }, '{"username":'));
  assert.equal(login.status, 413);
  const form = await rawRequest(s.port, raw('POST', '/api/v1/messages', {
    'Content-Type': 'multipart/form-data; boundary=b', 'Content-Length': MAX,
  }, '--b\r\n'));
  assert.equal(form.status, 413);
  await alive();
});

test('Range at the edges of 64 bits on a real clip: 206 within the file, 416 past it, never more bytes than it has', async () => {
  const clip = makeClip(path.join(dir, 'clip.mp4'));
  const { id } = await sendMessage(s.url, clip);
  assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed'], SANITIZED ? 300000 : 60000), 'pending');
  const pw = addUser(s.dataDir, 'mod', 'moderator');
  const mod = await loggedIn(s.url, 'mod', pw);
  const whole = await mod.get(`/media/${id}/video.mp4`, { raw: true });
  const size = (await whole.arrayBuffer()).byteLength;
  const cases = [
    [`bytes=0-${U64}`, 206, size],
    [`bytes=0-${MAX}`, 206, size],
    [`bytes=${size - 1}-${U64}`, 206, 1],
    [`bytes=-${U64}`, 206, size],
    [`bytes=${MAX}-`, 416, null],
    [`bytes=${U64}-`, 416, null],
    [`bytes=${U64}9-`, 200, size], // not a number we can hold: ignored
    [`bytes=-${U64}9`, 200, size],
    [`bytes=1-0`, 200, size],
  ];
  for (const [range, status, bytes] of cases) {
    const r = await mod.get(`/media/${id}/video.mp4`, { raw: true, headers: { Range: range } });
    const body = await r.arrayBuffer();
    assert.equal(r.status, status, range);
    if (bytes !== null) assert.equal(body.byteLength, bytes, range);
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(r.headers.get('content-range'));
      assert.ok(m, r.headers.get('content-range'));
      assert.equal(Number(m[2]) - Number(m[1]) + 1, bytes, range);
      assert.equal(Number(m[3]), size);
    }
  }
  await alive();
});
