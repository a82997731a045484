// Issue #17, object storage, black-box against a real S3 API (OpenStack
// Swift's s3api on loopback, real SigV4 checks; tests/lib/s3store.mjs):
// a wrong secret is refused at start with a clear reason and never
// logged; a clip goes upload → worker → pending with its video and
// thumbnail moved into the bucket (nothing left on disk) → approve →
// /media with Range from the bucket → the ZIP export from the bucket;
// withdrawal, retention and purge delete its objects (the bucket is
// listed to prove it); a deletion that fails while the store is frozen
// is retried by the sweep until it succeeds, and /media answers a clear
// 502 meanwhile; /metrics counts the store's errors; a remote worker
// with no credentials and no data directory reads the original and
// writes its outputs through pre-signed URLs, so no media byte passes
// through the server, and the private copies go once the job is done.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  assertNoSanitizerReport, BIN, chorus, ROOT, removeDir, SANITIZED, startChorus, tempDir, until,
} from '../lib/chorus.mjs';
import { ffprobe, makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';
import { startS3 } from '../lib/s3store.mjs';

const dir = tempDir('chorus-s3-');
const store = startS3();
const skip = store.skip || false;
if (skip) console.log(`# SKIP: ${skip}`);
// CI installs the store's packages (scripts/deps test): there a store
// that cannot start is a failure, never a skip (only the scripts, which
// live outside the repository, being absent is a skip).
test('the object store starts', { skip: !skip || store.noScripts || process.env.CI !== 'true' }, () => {
  assert.fail(skip);
});
let s;
let mod;
let comms;
let clip;
const PREFIX = 'run1';

before(async () => {
  if (skip) return;
  clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 2 });
  s = await startChorus({
    args: ['--workers', '1', '--sweep-interval', '1', '--rejected-retention-days', '0',
      '--s3-timeout', '2', ...store.args(PREFIX)],
    env: store.env,
  });
  const pm = addUser(s.dataDir, 'mod', 'moderator');
  const pc = addUser(s.dataDir, 'comms', 'comms');
  mod = await loggedIn(s.url, 'mod', pm);
  comms = await loggedIn(s.url, 'comms', pc);
});

after(async () => {
  try {
    if (s) {
      const r = await s.stop();
      assertNoSanitizerReport(r.log);
      assert.ok(!r.log.includes(store.secret), 'the secret is never logged');
    }
  } finally {
    if (!skip) store.stop();
    removeDir(dir);
  }
});

const objects = (id) => store.list(`${PREFIX}/media/${id}/`);
const localFiles = (id) => {
  const d = path.join(s.dataDir, 'media', id);
  return existsSync(d) ? readdirSync(d) : [];
};

/** Sends the clip and waits until its files are the bucket's. */
async function sendProcessed(meta = {}) {
  const f = path.join(dir, `c-${Date.now()}-${Math.random()}.mp4`);
  copyFileSync(clip, f);
  const m = await sendMessage(s.url, f, { country: 'BY', language: 'be', ...meta });
  assert.equal(await waitStatus(s.dataDir, m.id, ['pending', 'failed']), 'pending');
  await until(() => objects(m.id).length === 2 && localFiles(m.id).length === 0, 30000,
    'the video and thumbnail to move to the bucket');
  return m;
}

const withdraw = (receipt) => fetch(`${s.url}/api/v1/receipt`, {
  method: 'DELETE', headers: { Authorization: `Bearer ${receipt}` },
});

async function metric(name) {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

test('a wrong secret is refused by the store at start, said clearly, never logged', { skip }, () => {
  const data = tempDir('chorus-s3-wrong-');
  try {
    const bad = 'not-the-secret-8f3a';
    const r = chorus(['serve', '--data-dir', data, '--listen', '127.0.0.1:0', '--workers', '0',
      ...store.args('wrong')], { env: { ...store.env, AWS_SECRET_ACCESS_KEY: bad }, timeout: 60000 });
    assert.notEqual(r.status, 0);
    assert.equal(r.signal, null, 'a clear failure, not a crash');
    assert.match(r.stderr, /object store refused the request's signature: check AWS_SECRET_ACCESS_KEY/);
    assert.match(r.stderr, /SignatureDoesNotMatch/);
    assert.ok(!r.stderr.includes(bad), 'the wrong secret is not logged either');
    assertNoSanitizerReport(r.stderr);
    // No credentials at all: said before any request.
    const none = chorus(['serve', '--data-dir', data, '--listen', '127.0.0.1:0', '--workers', '0',
      ...store.args('wrong')], { env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set/);
  } finally {
    removeDir(data);
  }
});

test('upload → worker → bucket → approve → /media with Range → ZIP export, then withdrawal empties the bucket', { skip }, async () => {
  const m = await sendProcessed();
  assert.deepEqual(objects(m.id), [`${PREFIX}/media/${m.id}/thumb.jpg`, `${PREFIX}/media/${m.id}/video.mp4`]);
  const r0 = await mod.post(`/api/v1/messages/${m.id}/approve`, {});
  assert.equal(r0.status, 200, JSON.stringify(r0.body));

  const whole = store.get(`${PREFIX}/media/${m.id}/video.mp4`);
  assert.equal(whole.status, 200);
  const size = whole.body.length;
  const part = await comms.req('GET', `/media/${m.id}/video.mp4`, { headers: { Range: 'bytes=100-1099' }, raw: true });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-1099/${size}`);
  assert.equal(part.headers.get('content-type'), 'video/mp4');
  const partBody = Buffer.from(await part.arrayBuffer());
  assert.ok(partBody.equals(whole.body.subarray(100, 1100)), 'the range is the object\'s bytes');
  const etag = part.headers.get('etag');
  assert.ok(etag);
  const again = await comms.req('GET', `/media/${m.id}/video.mp4`, { headers: { 'If-None-Match': etag }, raw: true });
  assert.equal(again.status, 304);
  const bad = await comms.req('GET', `/media/${m.id}/video.mp4`, { headers: { Range: `bytes=${size + 10}-` }, raw: true });
  assert.equal(bad.status, 416);
  const full = await comms.req('GET', `/media/${m.id}/video.mp4`, { raw: true });
  assert.equal(full.status, 200);
  const fullBody = Buffer.from(await full.arrayBuffer());
  assert.ok(fullBody.equals(whole.body));
  writeFileSync(path.join(dir, 'served.mp4'), fullBody);
  const probe = ffprobe(path.join(dir, 'served.mp4'));
  assert.ok(probe.streams.some((st) => st.codec_type === 'video'));
  const thumb = await comms.req('GET', `/media/${m.id}/thumb.jpg`, { raw: true });
  assert.equal(thumb.status, 200);
  assert.equal(Buffer.from(await thumb.arrayBuffer()).subarray(0, 2).toString('hex'), 'ffd8');

  // The export streams the clip and its thumbnail from the bucket.
  const zr = await comms.req('GET', `/api/v1/export.zip?ids=${m.id}`, { raw: true });
  assert.equal(zr.status, 200);
  const zip = Buffer.from(await zr.arrayBuffer());
  const check = spawnSync('python3', [path.join(ROOT, 'tests/lib/zipcheck.py')], { input: zip, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  const z = JSON.parse(check.stdout);
  assert.equal(z.names.filter((n) => n.startsWith('clips/')).length, 1);
  assert.equal(z.names.filter((n) => n.startsWith('thumbs/')).length, 1);
  writeFileSync(path.join(dir, 'export.zip'), zip);
  const clipName = z.names.find((n) => n.startsWith('clips/'));
  const inZip = spawnSync('unzip', ['-p', path.join(dir, 'export.zip'), clipName], { maxBuffer: 1 << 28 }).stdout;
  assert.ok(inZip.equals(whole.body), 'the exported clip is the object');

  // Withdrawal: the bucket's objects go.
  assert.equal((await withdraw(m.receipt)).status, 200);
  await until(() => objects(m.id).length === 0, 30000, 'the withdrawn clip\'s objects to be deleted');
  await until(() => sql(s.dataDir, `SELECT count(*) FROM object_deletions WHERE message_id = '${m.id}'`) === '0',
    10000, 'the deletion\'s record to go');
  const gone = await comms.req('GET', `/media/${m.id}/video.mp4`, { raw: true });
  assert.equal(gone.status, 404);
});

test('a studio version is made from the bucket\'s video, lands in the bucket, and is served and exported from it', { skip }, async () => {
  const m = await sendProcessed();
  assert.equal((await mod.post(`/api/v1/messages/${m.id}/approve`, {})).status, 200);
  const r = await comms.post(`/api/v1/messages/${m.id}/versions`, { format: '1x1', credit: false, branding: false });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  let item;
  await until(async () => {
    [item] = (await comms.get(`/api/v1/messages/${m.id}/versions`)).body.items;
    assert.notEqual(item.state, 'failed', JSON.stringify(item));
    return item.state === 'done';
  }, SANITIZED ? 600000 : 240000, 'the version to be made');
  const key = `${PREFIX}/media/${m.id}/v-${item.name}.mp4`;
  await until(() => objects(m.id).includes(key) && localFiles(m.id).length === 0, 30000,
    'the version to move to the bucket');
  assert.deepEqual(readdirSync(path.join(s.dataDir, 'media')).filter((n) => n.includes('fetch')), [],
    'the fetched input is gone');
  const v = await comms.req('GET', item.url, { raw: true });
  assert.equal(v.status, 200);
  const file = path.join(dir, 'v.mp4');
  writeFileSync(file, Buffer.from(await v.arrayBuffer()));
  const st = ffprobe(file).streams.find((x) => x.codec_type === 'video');
  assert.deepEqual([st.width, st.height], [1080, 1080]);
  // Its first frame, the library's preview, went too and is served from there.
  assert.ok(objects(m.id).includes(`${PREFIX}/media/${m.id}/v-${item.name}.jpg`), 'the preview in the bucket');
  const pv = await comms.req('GET', item.preview, { raw: true });
  assert.equal(pv.status, 200);
  assert.equal(pv.headers.get('content-type'), 'image/jpeg');
  const pfile = path.join(dir, 'v.jpg');
  writeFileSync(pfile, Buffer.from(await pv.arrayBuffer()));
  const ps = ffprobe(pfile).streams[0];
  assert.deepEqual([ps.codec_name, ps.width, ps.height], ['mjpeg', 640, 640]);
  // Asked again: made already, and still there (in the bucket).
  assert.equal((await comms.post(`/api/v1/messages/${m.id}/versions`, { format: '1x1', credit: false, branding: false })).status, 200);
  const zr = await comms.req('GET', `/api/v1/export.zip?ids=${m.id}&versions=1x1`, { raw: true });
  assert.equal(zr.status, 200);
  const check = spawnSync('python3', [path.join(ROOT, 'tests/lib/zipcheck.py')],
    { input: Buffer.from(await zr.arrayBuffer()), encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  assert.equal(JSON.parse(check.stdout).names.filter((n) => n.startsWith('versions/')).length, 1);
  assert.equal((await withdraw(m.receipt)).status, 200);
  await until(() => objects(m.id).length === 0, 30000, 'the version\'s object to be deleted with the clip');
});

test('retention deletes a rejected clip\'s objects; purge deletes a campaign\'s', { skip }, async () => {
  const rejected = await sendProcessed();
  const kept = await sendProcessed();
  const r = await mod.post(`/api/v1/messages/${rejected.id}/reject`, { reason: 'off topic' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // --rejected-retention-days 0: the next sweep deletes its files.
  await until(() => objects(rejected.id).length === 0, 30000, 'the rejected clip\'s objects to be deleted');
  assert.notEqual(sql(s.dataDir, `SELECT media_deleted_at FROM messages WHERE id = '${rejected.id}'`), '');
  assert.equal(objects(kept.id).length, 2, 'the other clip keeps its objects');

  // chorus purge, beside the running server, with the same storage.
  const p = chorus(['purge', '--data-dir', s.dataDir, '--campaign', 'default', '--yes', ...store.args(PREFIX)],
    { env: store.env });
  assert.equal(p.status, 0, p.stderr + p.stdout);
  assertNoSanitizerReport(p.stderr);
  assert.deepEqual(objects(kept.id), []);
  assert.deepEqual(store.list(`${PREFIX}/media/`), [], 'nothing of any clip is left in the bucket');
});

test('a deletion the frozen store failed is retried until it succeeds; /media says 502 meanwhile', { skip }, async () => {
  const m = await sendProcessed({ consent_scope: 'public' });
  await mod.post(`/api/v1/messages/${m.id}/approve`, {});
  const errorsBefore = await metric('chorus_s3_request_errors_total');
  store.signal('SIGSTOP');
  try {
    const r = await comms.req('GET', `/media/${m.id}/video.mp4`, { raw: true });
    assert.equal(r.status, 502);
    assert.equal((await r.json()).error, 'storage_failed');
    assert.equal((await withdraw(m.receipt)).status, 200);
    await until(async () => (await metric('chorus_s3_deletions_failing')) >= 1, 60000,
      'a failed deletion to be counted');
    assert.equal(await metric('chorus_s3_deletions_pending'), 1);
    assert.ok(await metric('chorus_s3_request_errors_total') > errorsBefore);
    assert.match(s.log(), new RegExp(`message ${m.id}: its objects could not be deleted \\(.*\\); trying again in \\d+ s`));
  } finally {
    store.signal('SIGCONT');
  }
  assert.equal(objects(m.id).length, 2, 'still there while the store was frozen');
  await until(() => objects(m.id).length === 0, 60000, 'the retried deletion to succeed');
  await until(async () => (await metric('chorus_s3_deletions_pending')) === 0, 30000, 'no deletion left');
  // The server stayed up throughout.
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
});

test('a remote worker reads and writes the bucket through pre-signed URLs: no media through the server', { skip }, async () => {
  const t = await startChorus({
    args: ['--workers', '0', '--sweep-interval', '1', ...store.args('run2')], env: store.env,
  });
  let proc;
  let wlog = '';
  try {
    const add = chorus(['worker-token', 'add', 'far', '--data-dir', t.dataDir]);
    assert.equal(add.status, 0, add.stderr);
    const home = path.join(dir, 'far');
    mkdirSync(home, { recursive: true });
    const tokenFile = path.join(home, 'token');
    writeFileSync(tokenFile, `${add.stdout.trimEnd().split('\n').pop()}\n`, { mode: 0o600 });
    // Nothing of the server's: no CHORUS_* settings, no AWS credentials.
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('CHORUS_') || k.startsWith('AWS_')) delete env[k];
    proc = spawn(BIN, ['worker', '--server', t.url, '--token-file', tokenFile, '--tmp-dir', path.join(home, 'tmp'),
      '--workers', '1', '--claim-wait', '5'], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.on('data', (d) => { wlog += d; });
    proc.stderr.on('data', (d) => { wlog += d; });
    const f = path.join(dir, 'remote.mp4');
    copyFileSync(clip, f);
    const m = await sendMessage(t.url, f, { country: 'BY', language: 'be' });
    assert.equal(await waitStatus(t.dataDir, m.id, ['pending', 'failed'], SANITIZED ? 240000 : 120000), 'pending',
      wlog);
    assert.deepEqual(store.list(`run2/media/${m.id}/`), [`run2/media/${m.id}/thumb.jpg`, `run2/media/${m.id}/video.mp4`]);
    const video = store.get(`run2/media/${m.id}/video.mp4`);
    assert.equal(video.status, 200);
    writeFileSync(path.join(dir, 'remote-out.mp4'), video.body);
    assert.ok(ffprobe(path.join(dir, 'remote-out.mp4')).streams.some((st) => st.codec_type === 'video'));
    // The server's access log: the job was claimed and finished through
    // it, but its input and outputs never passed through it.
    // (the access log's line comes after the answer, the status before)
    await until(() => /POST \/api\/v1\/worker\/jobs\/\d+\/done 200/.test(t.log()), 10000, 'done in the log');
    assert.doesNotMatch(t.log(), /GET \/api\/v1\/worker\/jobs\/\d+\/input/);
    assert.doesNotMatch(t.log(), /PUT \/api\/v1\/worker\/jobs\/\d+\/outputs\//);
    const local = path.join(t.dataDir, 'media', m.id);
    assert.deepEqual(existsSync(local) ? readdirSync(local) : [], []);
    // The original's private copy and the attempt's outputs go once no
    // remote worker needs them; the server's own copy as without S3.
    await until(() => store.list(`run2/private/${m.id}/`).length === 0, 30000, 'the private objects to be deleted');
    assert.equal(existsSync(path.join(t.dataDir, 'incoming', m.id)), false);
  } finally {
    if (proc) {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.on('exit', r)));
      assertNoSanitizerReport(wlog);
    }
    const r = await t.stop();
    assertNoSanitizerReport(r.log);
    assert.ok(!r.log.includes(store.secret));
    assert.ok(!wlog.includes('X-Amz-Signature'), 'the worker logs no pre-signed URL');
  }
});
