// The worker API by hand (issue #17, DESIGN.md "Scale"): a test that
// plays a remote worker with fetch. A claim long-polls and hands out a
// job with its lease, input URL and options; the input downloads with
// Range; a heartbeat with another attempt hears "lost"; an output is
// checked against its SHA-256 and sending it again is harmless; done
// before every output is in is refused; fail carries the moderator's
// reason and a refusal fails for good; a lease that expired three times
// fails the job as a poison input. Time moves through the test clock.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chorus, removeDir, startChorus, tempDir, testClock } from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql } from '../lib/fixtures.mjs';

const dir = tempDir('chorus-wapi-');
const clock = testClock(dir);
const LEASE = 5;
let s;
let token;
before(async () => {
  s = await startChorus({ env: clock.env(), args: ['--job-lease', String(LEASE)] });
  const r = chorus(['worker-token', 'add', 'hand', '--data-dir', s.dataDir]);
  assert.equal(r.status, 0, r.stderr);
  token = r.stdout.trimEnd().split('\n').pop();
});
after(async () => {
  if (s) await s.stop();
  removeDir(dir);
});

const sha = (b) => createHash('sha256').update(b).digest('hex');

async function api(method, p, { json, body, headers = {} } = {}) {
  const h = { Authorization: `Bearer ${token}`, ...headers };
  if (json !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(`${s.url}${p}`, { method, headers: h, body: json !== undefined ? JSON.stringify(json) : body });
  const buf = Buffer.from(await r.arrayBuffer());
  let parsed = null;
  try { parsed = JSON.parse(buf.toString('utf8')); } catch { /* bytes */ }
  return { status: r.status, json: parsed, buf, headers: r.headers };
}

const claim = (slot, wait = 0) => api('POST', '/api/v1/worker/claim', { json: { slot, wait, kinds: ['transcode'] } });

test('a claim waits for a job, then hands it out with its lease and input', async () => {
  const t0 = Date.now();
  const idle = await claim('s1', 1);
  assert.equal(idle.status, 204);
  assert.ok(Date.now() - t0 >= 900, 'an idle claim waits for its time');

  const clip = makeClip(path.join(dir, 'a.mp4'), { seconds: 1 });
  const bytes = readFileSync(clip);
  // A claim waiting when the message arrives gets it.
  const waiting = claim('s1', 20);
  const { id } = await sendMessage(s.url, clip);
  const c = await waiting;
  assert.equal(c.status, 200, JSON.stringify(c.json));
  const job = c.json.job;
  assert.equal(job.message_id, id);
  assert.equal(job.attempt, 1);
  assert.equal(job.lease_s, LEASE);
  assert.equal(job.input.bytes, bytes.length);
  assert.deepEqual(job.outputs, ['thumb.jpg', 'video.mp4']);
  assert.equal(typeof job.options.max_side, 'number');
  assert.equal(sql(s.dataDir, `SELECT state || ' ' || worker FROM jobs WHERE id=${job.id}`), 'running hand/s1');
  assert.equal((await claim('s2', 0)).status, 204, 'one job, one holder');

  // The input: whole, and the rest of it after a break (Range).
  const whole = await api('GET', job.input.url);
  assert.equal(whole.status, 200);
  assert.ok(whole.buf.equals(bytes));
  const rest = await api('GET', job.input.url, { headers: { Range: 'bytes=1000-' } });
  assert.equal(rest.status, 206);
  assert.equal(rest.headers.get('content-range'), `bytes 1000-${bytes.length - 1}/${bytes.length}`);
  assert.ok(rest.buf.equals(bytes.subarray(1000)));
  // Another slot of the same token, or another attempt, is not the holder.
  const base = `/api/v1/worker/jobs/${job.id}`;
  assert.equal((await api('GET', job.input.url.replace('slot=s1', 'slot=s2'))).status, 409);
  const hb = await api('POST', `${base}/heartbeat`, { json: { slot: 's1', attempt: 2, progress: 0.5 } });
  assert.equal(hb.status, 409);
  assert.equal(hb.json.error, 'lost');
  assert.equal((await api('POST', `${base}/heartbeat`, { json: { slot: 's1', attempt: 1, progress: 0.5 } })).status, 200);

  // Outputs: announced, sent, checked; sending one again does no harm.
  const thumb = readFileSync(clip).subarray(0, 5000); // bytes stand in for a JPEG
  const video = bytes;
  const files = [
    { name: 'thumb.jpg', bytes: thumb.length, sha256: sha(thumb) },
    { name: 'video.mp4', bytes: video.length, sha256: sha(video) },
  ];
  const o = await api('POST', `${base}/outputs`, { json: { slot: 's1', attempt: 1, files } });
  assert.equal(o.status, 200, JSON.stringify(o.json));
  assert.deepEqual(o.json.files.map((f) => [f.name, f.have]), [['thumb.jpg', false], ['video.mp4', false]]);
  const bad = await api('PUT', o.json.files[0].url, { body: Buffer.concat([thumb, Buffer.from('x')]) });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, 'checksum_mismatch');
  const early = await api('POST', `${base}/done`, { json: { slot: 's1', attempt: 1, facts: {}, result: {} } });
  assert.equal(early.status, 400, 'done before every output is in');
  assert.equal(early.json.error, 'outputs_missing');
  for (let i = 0; i < 2; i++) {
    assert.equal((await api('PUT', o.json.files[0].url, { body: thumb })).status, 201);
  }
  assert.equal((await api('PUT', o.json.files[1].url, { body: video })).status, 201);
  const again = await api('POST', `${base}/outputs`, { json: { slot: 's1', attempt: 1, files } });
  assert.deepEqual(again.json.files.map((f) => f.have), [true, true], 'what is in whole is not sent again');
  assert.equal((await api('PUT', `${base}/outputs/../../x?slot=s1&attempt=1&sha256=${'0'.repeat(64)}`, { body: 'x' })).status >= 400, true);

  const facts = { duration_ms: 1000, width: 320, height: 240, has_audio: true, video_bytes: video.length, seconds: 0.5 };
  const done = await api('POST', `${base}/done`, { json: { slot: 's1', attempt: 1, facts, result: { by: 'hand' } } });
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assert.equal(sql(s.dataDir, `SELECT status || ' ' || width FROM messages WHERE id='${id}'`), 'pending 320');
  assert.equal(sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE id=${job.id}`), 'done 1');
  const media = path.join(s.dataDir, 'media', id);
  assert.ok(readFileSync(path.join(media, 'video.mp4')).equals(video));
  assert.ok(readFileSync(path.join(media, 'thumb.jpg')).equals(thumb));
  // Done twice: the lease is over.
  assert.equal((await api('POST', `${base}/done`, { json: { slot: 's1', attempt: 1, facts, result: {} } })).status, 409);
});

test('fail carries the reason; a retryable failure is retried, a refusal is final', async () => {
  const { id } = await sendMessage(s.url, makeClip(path.join(dir, 'b.mp4'), { seconds: 1 }));
  let c = await claim('s1', 5);
  assert.equal(c.status, 200);
  const base = `/api/v1/worker/jobs/${c.json.job.id}`;
  let f = await api('POST', `${base}/fail`, { json: { slot: 's1', attempt: 1, reason: 'processing crashed (Killed)', retryable: true } });
  assert.equal(f.status, 200);
  assert.deepEqual(f.json, { state: 'queued', retry: true });
  assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id='${id}'`), 'processing');
  clock.advance(600); // past the retry's backoff
  c = await claim('s1', 5);
  assert.equal(c.status, 200);
  assert.equal(c.json.job.attempt, 2);
  f = await api('POST', `${base}/fail`, { json: { slot: 's1', attempt: 2, reason: 'not a video we can read', retryable: false } });
  assert.deepEqual(f.json, { state: 'failed', retry: false });
  assert.equal(sql(s.dataDir, `SELECT status || '|' || failure_reason FROM messages WHERE id='${id}'`),
    'failed|not a video we can read');
  assert.equal((await api('POST', `${base}/fail`, { json: { slot: 's1', attempt: 2, reason: 'x' } })).status, 409);
});

test('a job whose lease expires on every attempt fails as a poison input', async () => {
  const { id } = await sendMessage(s.url, makeClip(path.join(dir, 'c.mp4'), { seconds: 1 }));
  for (let attempt = 1; attempt <= 3; attempt++) {
    const c = await claim(`p${attempt}`, 5);
    assert.equal(c.status, 200, `attempt ${attempt}`);
    assert.equal(c.json.job.message_id, id);
    assert.equal(c.json.job.attempt, attempt);
    clock.advance(LEASE + 600); // the holder vanished; past any backoff
  }
  assert.equal((await claim('p4', 0)).status, 204);
  assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id='${id}'`), 'failed');
  assert.equal(sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE message_id='${id}'`), 'failed 3');
});

test('a release gives the job back without counting the attempt', async () => {
  const { id } = await sendMessage(s.url, makeClip(path.join(dir, 'd.mp4'), { seconds: 1 }));
  const c = await claim('r1', 5);
  assert.equal(c.status, 200);
  const r = await api('POST', `/api/v1/worker/jobs/${c.json.job.id}/release`, { json: { slot: 'r1', attempt: 1 } });
  assert.equal(r.status, 200);
  assert.equal(sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE message_id='${id}'`), 'queued 0');
  assert.ok(!s.log().includes(token), 'the token is never logged');
});

test('/metrics: workers seen, jobs by worker, claim latency', async () => {
  const m = await (await fetch(`${s.url}/metrics`)).text();
  const seen = Number(/^chorus_workers_seen (\d+)$/m.exec(m)[1]);
  assert.ok(seen >= 5, `the hand-played slots were seen (${seen})`);
  assert.match(m, /^chorus_worker_jobs\{worker="hand",state="done"\} 1$/m);
  assert.match(m, /^chorus_worker_jobs\{worker="hand",state="failed"\} 2$/m);
  const count = Number(/^chorus_worker_claim_seconds_count (\d+)$/m.exec(m)[1]);
  assert.ok(count >= 6, `claims that handed out a job were timed (${count})`);
  assert.match(m, /^chorus_worker_claim_seconds_bucket\{le="\+Inf"\} \d+$/m);
});
