// POST /api/v1/messages (one multipart/form-data request, for clients
// without tus) and the contributor's receipt: its status through the
// message's life with no moderator named, withdrawal that deletes every
// file and clears the personal fields with an audit row, and receipts
// kept only as SHA-256 hashes.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { assertNoSanitizerReport, startChorus } from '../lib/chorus.mjs';
import {
  GOOD_META, MiB, createUpload, filesIn, headUpload, incomingPath, openPatch, partPath,
  patchUpload, patternBytes, request, sha256, sha256File, sql, until,
} from '../lib/uploads.mjs';

let srv;
before(async () => { srv = await startChorus({ args: ['--max-upload-mb', '4'] }); });
after(async () => {
  const r = await srv.stop();
  assertNoSanitizerReport(r.log);
});

const FIELDS = Object.fromEntries(Object.entries(GOOD_META).filter(([k]) => k !== 'filename' && k !== 'filetype'));

/**
 * A multipart/form-data body from [name, value] or [name, {data,
 * filename, type}] parts, in order. Values are strings or Buffers
 * (sent as they are, so invalid UTF-8 can be sent too).
 */
function form(parts) {
  const boundary = `----chorus${randomBytes(8).toString('hex')}`;
  const chunks = [];
  for (const [name, v] of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${name}"`;
    let data = v;
    if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
      head += `; filename="${v.filename || 'clip.mp4'}"\r\nContent-Type: ${v.type || 'video/mp4'}`;
      data = v.data;
    }
    chunks.push(Buffer.from(`${head}\r\n\r\n`), Buffer.from(data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

function postForm(parts, headers = {}, port = srv.port) {
  const f = form(parts);
  return request(port, 'POST', '/api/v1/messages', { headers: { 'Content-Type': f.type, ...headers }, body: f.body });
}

const receiptGet = (token, port = srv.port) =>
  request(port, 'GET', '/api/v1/receipt', { headers: token === null ? {} : { Authorization: `Bearer ${token}` } });
const receiptDelete = (token) => request(srv.port, 'DELETE', '/api/v1/receipt', { headers: { Authorization: `Bearer ${token}` } });
const q = (s) => `'${s.replace(/'/g, "''")}'`;
const row = (id) => sql(srv.dataDir, `SELECT * FROM messages WHERE id = ${q(id)}`)[0];
const jobs = (id) => sql(srv.dataDir, `SELECT state FROM jobs WHERE message_id = ${q(id)}`).map((j) => j.state);
const countAll = () => sql(srv.dataDir, 'SELECT count(*) AS n FROM messages')[0].n;

test('multipart: 201 {id, receipt}, the video byte-identical in incoming/, processing with its job queued', async () => {
  const video = patternBytes('form', 0, MiB + 12345);
  const r = await postForm([...Object.entries(FIELDS), ['video', { data: video, filename: 'VID_Hrodna.mp4' }]]);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  const body = r.json();
  assert.deepEqual(Object.keys(body).sort(), ['id', 'receipt']);
  assert.match(body.id, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(r.headers['chorus-receipt'], body.receipt);
  assert.equal(await sha256File(incomingPath(srv.dataDir, body.id)), sha256(video));
  assert.ok(!existsSync(partPath(srv.dataDir, body.id)));
  const m = row(body.id);
  assert.equal(m.status, 'processing');
  assert.equal(m.name, FIELDS.name);
  assert.equal(m.organization, FIELDS.organization);
  assert.equal(m.message, FIELDS.message);
  assert.equal(m.country, 'BY');
  assert.equal(m.language, 'be');
  assert.equal(m.upload_length, video.length);
  assert.deepEqual(jobs(body.id), ['queued']);
  assert.ok(!readFileSync(path.join(srv.dataDir, 'chorus.db')).includes('VID_Hrodna'), 'the file name is not kept');
  const rc = await receiptGet(body.receipt);
  assert.equal(rc.status, 200);
  assert.equal(rc.json().status, 'received');
  assert.equal(rc.json().id, body.id);

  // Field order does not matter: the video may come first.
  const r2 = await postForm([['video', { data: video }], ...Object.entries(FIELDS)]);
  assert.equal(r2.status, 201, r2.text);
  assert.equal(await sha256File(incomingPath(srv.dataDir, r2.json().id)), sha256(video));
});

test('multipart as clients stream it: parts in separate packets, and fetch() with FormData', async () => {
  const video = patternBytes('form-split', 0, 300000);
  const f = form([...Object.entries(FIELDS), ['video', { data: video }]]);
  // Split after every part header and inside every value, with pauses (a
  // client that streams its form slowly), so the server sees the pieces
  // in separate reads.
  const cuts = [];
  for (let i = f.body.indexOf('\r\n\r\n'); i >= 0; i = f.body.indexOf('\r\n\r\n', i + 1)) cuts.push(i + 4, i + 5);
  const pieces = async function* () {
    let at = 0;
    for (const c of [...cuts, f.body.length]) {
      yield f.body.subarray(at, c);
      at = c;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const r = await request(srv.port, 'POST', '/api/v1/messages', {
    headers: { 'Content-Type': f.type, 'Content-Length': String(f.body.length) }, body: pieces(),
  });
  assert.equal(r.status, 201, r.text);
  const m = row(r.json().id);
  assert.deepEqual([m.name, m.organization, m.message, m.country, m.language, m.consent_scope],
    [FIELDS.name, FIELDS.organization, FIELDS.message, 'BY', 'be', 'public']);
  assert.equal(await sha256File(incomingPath(srv.dataDir, r.json().id)), sha256(video));

  // Node's own fetch() writes each part separately, as browsers do.
  for (let i = 0; i < 5; i++) {
    const fd = new FormData();
    for (const [k, v] of Object.entries(FIELDS)) fd.append(k, v);
    fd.append('video', new Blob([video]), 'clip.mp4');
    const res = await fetch(`${srv.url}/api/v1/messages`, { method: 'POST', body: fd });
    const text = await res.text();
    assert.equal(res.status, 201, `fetch #${i}: ${text}`);
    const got = row(JSON.parse(text).id);
    assert.equal(got.name, FIELDS.name);
    assert.equal(got.message, FIELDS.message);
  }
});

test('multipart from a browser form (Accept: text/html): a result page with the receipt, never in a URL', async () => {
  const video = patternBytes('form-html', 0, 50000);
  const r = await postForm([...Object.entries(FIELDS), ['ui_lang', 'uk'], ['video', { data: video }]],
    { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
  assert.equal(r.status, 201, r.text);
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.equal(r.headers.location, undefined);
  const m = /\/receipt#([A-Za-z0-9_-]{43})"/.exec(r.text);
  assert.ok(m, r.text);
  assert.match(r.text, /<html lang="uk"/);
  const rc = await receiptGet(m[1]);
  assert.equal(rc.status, 200);
  assert.equal(rc.json().status, 'received');
  assert.equal(await sha256File(incomingPath(srv.dataDir, rc.json().id)), sha256(video));
});

test('multipart: bad fields are refused with 400 naming the field; nothing is left on disk or in the database', async () => {
  const video = { data: patternBytes('form-bad', 0, 200000) };
  const without = (k) => Object.entries(FIELDS).filter(([key]) => key !== k);
  const cases = [
    ['missing consent', [...without('consent'), ['video', video]], 'consent'],
    ['consent=no', [...without('consent'), ['consent', 'no'], ['video', video]], 'consent'],
    ['bad country', [...without('country'), ['country', 'QQ'], ['video', video]], 'country'],
    ['bad language', [...without('language'), ['language', 'klingon'], ['video', video]], 'language'],
    ['overlong message', [...without('message'), ['message', 'ж'.repeat(501)], ['video', video]], 'message'],
    ['invalid UTF-8 name', [...without('name'), ['name', Buffer.from([0x61, 0xc3, 0x28])], ['video', video]], 'name'],
    ['video first, then a bad country', [['video', video], ...without('country'), ['country', 'QQ']], 'country'],
    ['no video', [...Object.entries(FIELDS)], 'video'],
    ['an empty video', [...Object.entries(FIELDS), ['video', { data: Buffer.alloc(0) }]], 'video'],
    ['two videos', [...Object.entries(FIELDS), ['video', video], ['video', video]], 'video'],
  ];
  const rows = countAll();
  for (const [what, parts, field] of cases) {
    const r = await postForm(parts);
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`);
    const body = r.json();
    assert.equal(body.error, 'invalid_metadata', what);
    assert.equal(body.field, field, `${what}: ${r.text}`);
    assert.equal(typeof body.message, 'string');
    assert.equal(r.headers['chorus-receipt'], undefined);
  }
  const u = await postForm([...Object.entries(FIELDS), ['gps', '53.9,27.5'], ['video', video]]);
  assert.equal(u.status, 400, 'an unknown field');
  assert.equal(u.json().error, 'invalid_metadata');
  assert.match(u.json().message, /gps/);
  // Let the server finish cleaning up after the last request.
  await until(() => filesIn(srv.dataDir, 'uploads').length === 0, 10000, 'uploads/ to be empty');
  assert.equal(countAll(), rows, 'no message row');
  const known = new Set(sql(srv.dataDir, 'SELECT id FROM messages').map((m) => m.id));
  assert.deepEqual(filesIn(srv.dataDir, 'incoming').filter((f) => !known.has(f)), [], 'no orphan in incoming/');
});

test('multipart: 415 for anything but multipart/form-data; 413 over --max-upload-mb, leaving nothing', async () => {
  const j = await request(srv.port, 'POST', '/api/v1/messages', { headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.equal(j.status, 415);
  assert.equal(j.json().error, 'unsupported_media');
  const rows = countAll();
  const big = await postForm([...Object.entries(FIELDS), ['video', { data: Buffer.alloc(5 * MiB, 1) }]]);
  assert.equal(big.status, 413, big.text);
  // Announced small but larger on the wire (chunked): cut off, nothing kept.
  const f = form([...Object.entries(FIELDS), ['video', { data: Buffer.alloc(5 * MiB, 2) }]]);
  const chunked = await request(srv.port, 'POST', '/api/v1/messages', {
    headers: { 'Content-Type': f.type, 'Transfer-Encoding': 'chunked' },
    body: (function* () { for (let i = 0; i < f.body.length; i += 65536) yield f.body.subarray(i, i + 65536); })(),
  }).catch((error) => ({ status: 0, error }));
  assert.notEqual(chunked.status, 201);
  await until(() => filesIn(srv.dataDir, 'uploads').length === 0, 10000, 'uploads/ to be empty');
  assert.equal(countAll(), rows);
});

test('receipt: 401 without a Bearer receipt, 404 for an unknown one', async () => {
  for (const auth of [null, 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer short', `Bearer ${'A'.repeat(43)}x`]) {
    const r = await request(srv.port, 'GET', '/api/v1/receipt', { headers: auth ? { Authorization: auth } : {} });
    assert.ok([401, 404].includes(r.status), `${auth}: ${r.status}`);
    if (auth === null || auth.startsWith('Basic')) {
      assert.equal(r.status, 401);
      assert.match(r.headers['www-authenticate'] || '', /^Bearer/);
    }
  }
  const r = await receiptGet('A'.repeat(43));
  assert.equal(r.status, 404, `unknown receipt: ${r.text}`);
  assert.equal(r.json().error, 'unknown_receipt');
  const d = await receiptDelete('B'.repeat(43));
  assert.equal(d.status, 404);
});

test('receipt status follows the message (uploading → received → processing → in_review → approved / not_published / failed), naming no moderator', async () => {
  const data = patternBytes('status', 0, 4000);
  const c = await createUpload(srv.port, data.length);
  const status = async () => {
    const r = await receiptGet(c.receipt);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['cache-control'], 'no-store');
    return r;
  };
  assert.equal((await status()).json().status, 'uploading');
  assert.equal((await patchUpload(srv.port, c.id, 0, data)).status, 204);
  const received = (await status()).json();
  assert.equal(received.status, 'received');
  assert.equal(received.id, c.id);
  assert.ok(received.received_at, 'received_at is given');

  // What the worker and moderators will do, done here in the database.
  const uname = 'moderator_olena';
  sql(srv.dataDir, `INSERT INTO users (username, password_hash, role, created_at, updated_at)
    VALUES ('${uname}', '$argon2id$v=19$m=65536,t=2,p=1$fake$fake', 'moderator', 1, 1)`);
  const uid = sql(srv.dataDir, `SELECT id FROM users WHERE username = '${uname}'`)[0].id;
  const now = Math.floor(Date.now() / 1000);
  const steps = [
    [`UPDATE jobs SET state = 'running', lease_until = ${now + 60}, worker = 'w1' WHERE message_id = ${q(c.id)}`, 'processing'],
    [`UPDATE jobs SET state = 'done', lease_until = NULL WHERE message_id = ${q(c.id)};
      UPDATE messages SET status = 'pending' WHERE id = ${q(c.id)}`, 'in_review'],
    [`UPDATE messages SET status = 'approved', decided_by = ${uid}, decided_at = ${now}, decision_reason = 'ok by ${uname}' WHERE id = ${q(c.id)}`, 'approved'],
    [`UPDATE messages SET status = 'rejected', decided_by = ${uid}, decided_at = ${now}, decision_reason = 'shows a face; ${uname}' WHERE id = ${q(c.id)}`, 'not_published'],
    [`UPDATE messages SET status = 'failed', decided_by = NULL, decided_at = NULL, decision_reason = NULL, failure_reason = 'bad file' WHERE id = ${q(c.id)}`, 'failed'],
  ];
  for (const [update, want] of steps) {
    sql(srv.dataDir, update);
    const r = await status();
    assert.equal(r.json().status, want, update);
    assert.ok(!r.text.includes(uname), `the receipt names the moderator: ${r.text}`);
    assert.ok(!/decided_by|moderator|username/.test(r.text), r.text);
    if (want === 'approved' || want === 'not_published') assert.ok(r.json().decided_at, 'decided_at is given');
  }
});

/** Files of message id in every place storage keeps them. */
function filesOf(id) {
  return [partPath(srv.dataDir, id), incomingPath(srv.dataDir, id), path.join(srv.dataDir, 'originals', id),
    path.join(srv.dataDir, 'media', id)].filter((f) => existsSync(f));
}

test('withdrawal of a finished message: every file deleted, personal fields cleared, job cancelled, one audit row', async () => {
  const video = patternBytes('withdraw', 0, 300000);
  const r = await postForm([...Object.entries(FIELDS), ['video', { data: video }]]);
  assert.equal(r.status, 201, r.text);
  const { id, receipt } = r.json();
  // As if processed with --keep-originals: outputs and the original exist.
  mkdirSync(path.join(srv.dataDir, 'media', id), { recursive: true });
  writeFileSync(path.join(srv.dataDir, 'media', id, 'video.mp4'), 'out');
  writeFileSync(path.join(srv.dataDir, 'media', id, 'thumb.jpg'), 'thumb');
  writeFileSync(path.join(srv.dataDir, 'originals', id), 'orig');
  assert.equal(filesOf(id).length, 3);

  const d = await receiptDelete(receipt);
  assert.equal(d.status, 200, d.text);
  assert.equal(d.json().status, 'withdrawn');
  assert.equal(d.json().id, id);
  assert.deepEqual(filesOf(id), [], 'files left after withdrawal');
  const m = row(id);
  assert.equal(m.status, 'withdrawn');
  assert.equal(m.name, null);
  assert.equal(m.organization, null);
  assert.equal(m.message, null);
  assert.ok(m.withdrawn_at > 0);
  assert.ok(!jobs(id).includes('queued') && !jobs(id).includes('running'), `jobs: ${jobs(id)}`);
  const audit = sql(srv.dataDir, `SELECT actor, action, target FROM audit WHERE target = ${q(id)}`);
  assert.deepEqual(audit.map((a) => [a.action, a.target]), [['message.withdraw', id]]);
  assert.ok(!audit[0].actor.includes(FIELDS.name));

  // The receipt is forgotten with the rest: a receipt found later leads
  // nowhere, and a second withdrawal changes nothing.
  assert.ok(d.json().withdrawn_at);
  assert.ok(!d.text.includes(FIELDS.name));
  const g = await receiptGet(receipt);
  assert.equal(g.status, 404);
  const again = await receiptDelete(receipt);
  assert.equal(again.status, 404);
  assert.equal(sql(srv.dataDir, `SELECT count(*) AS n FROM audit WHERE target = ${q(id)}`)[0].n, 1);
});

test('withdrawal of an unfinished tus upload: part file gone, HEAD and PATCH 410, even with a PATCH in flight', async () => {
  const data = patternBytes('withdraw-tus', 0, 3 * MiB);
  const c = await createUpload(srv.port, data.length);
  assert.equal((await patchUpload(srv.port, c.id, 0, data.subarray(0, MiB))).status, 204);
  const d = await receiptDelete(c.receipt);
  assert.equal(d.status, 200, d.text);
  assert.deepEqual(filesOf(c.id), []);
  const m = row(c.id);
  assert.equal(m.status, 'withdrawn');
  assert.equal(m.name, null);
  assert.equal((await headUpload(srv.port, c.id)).status, 410);
  assert.equal((await patchUpload(srv.port, c.id, MiB, data.subarray(MiB))).status, 410);
  assert.deepEqual(filesOf(c.id), []);

  // Withdrawn while its last bytes are coming in: nothing may survive.
  const e = await createUpload(srv.port, data.length);
  const p = openPatch(srv.port, e.id, 0, data.length);
  await p.write(data.subarray(0, 2 * MiB));
  await until(() => existsSync(partPath(srv.dataDir, e.id)), 10000, 'the part file');
  assert.equal((await receiptDelete(e.receipt)).status, 200);
  await p.write(data.subarray(2 * MiB));
  p.end();
  const res = await p.response;
  assert.notEqual(res.status, 204, 'a withdrawn upload cannot complete');
  await until(() => filesOf(e.id).length === 0, 10000, 'no file left of the withdrawn upload');
  assert.equal(row(e.id).status, 'withdrawn');
  assert.ok(!jobs(e.id).includes('queued'), 'no job for a withdrawn upload');
});

test('receipts are stored only as their SHA-256: never in the database or the log', async () => {
  const video = patternBytes('hash', 0, 10000);
  const f = await postForm([...Object.entries(FIELDS), ['video', { data: video }]]);
  const t = await createUpload(srv.port, 100);
  for (const [id, token] of [[f.json().id, f.json().receipt], [t.id, t.receipt]]) {
    const [m] = sql(srv.dataDir, `SELECT hex(receipt_hash) AS h FROM messages WHERE id = ${q(id)}`);
    assert.equal(m.h, createHash('sha256').update(token).digest('hex').toUpperCase());
    const files = ['chorus.db', 'chorus.db-wal', 'chorus.db-shm'].map((n) => path.join(srv.dataDir, n)).filter(existsSync);
    for (const file of files) assert.ok(!readFileSync(file).includes(token), `the receipt is in ${file}`);
    assert.ok(!srv.log().includes(token), 'the receipt is in the log');
  }
});
