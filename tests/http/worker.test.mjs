// The media worker inside chorus serve: jobs claimed, transcoded in a
// child, recorded; hostile files fail their job, never the server; a
// crashing child is retried then failed; a killed worker's job is claimed
// again after its lease; two workers never share a job. Backoffs and
// leases run on the test clock: the tests move it rather than wait.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  assertNoSanitizerReport, removeDir, SANITIZED, startChorus, tempDir, testClock, until,
} from '../lib/chorus.mjs';
import {
  descendants, ended, ffprobe, makeClip, sendMessage, sendTus, sql, waitStatus,
} from '../lib/fixtures.mjs';
import {
  dataReference, gab2Playlist, hugeFrames, manyStreams, timestampJumps, twoHours,
} from '../lib/hostile.mjs';

const dir = tempDir('chorus-worker-');
after(() => removeDir(dir));
const T = SANITIZED ? 120000 : 30000; // for a job's child to appear
// Long enough that a busy machine never lets a lease lapse by itself;
// the test that needs it to lapse moves the clock past it.
const LEASE = 30;
let clip, longClip, slowClip;
before(() => {
  clip = makeClip(path.join(dir, 'clip.mp4'));
  // Over --max-duration 10, and cheap to make and to refuse.
  longClip = makeClip(path.join(dir, 'long.mp4'), { seconds: 12, size: '160x120', rate: 10 });
  // Seconds of work for a child, so that the tests catch it mid-transcode
  // (and those that must, stop it there with SIGSTOP).
  slowClip = makeClip(path.join(dir, 'slow.mp4'), { seconds: 8, size: '1280x720' });
});

async function withServer(args, fn, env = {}) {
  const s = await startChorus({ args: ['--workers', '1', '--job-lease', String(LEASE), ...args], env });
  try {
    await fn(s);
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0, r.log.slice(-3000));
    assertNoSanitizerReport(r.log);
  }
}

async function healthy(s) {
  const r = await fetch(`${s.url}/healthz`);
  assert.equal(r.status, 200);
}

test('a clip is transcoded: pending, outputs in media/, original gone, facts stored', async () => {
  await withServer([], async (s) => {
    const { id, receipt } = await sendMessage(s.url, clip);
    assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending',
      sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id='${id}'`));
    const media = path.join(s.dataDir, 'media', id);
    assert.deepEqual(readdirSync(media).sort(), ['thumb.jpg', 'video.mp4']);
    const probe = ffprobe(path.join(media, 'video.mp4'));
    assert.equal(probe.streams.find((x) => x.codec_type === 'video').codec_name, 'h264');
    assert.ok(!existsSync(path.join(s.dataDir, 'incoming', id)), 'original deleted');
    const row = sql(s.dataDir, `SELECT duration_ms, width, height, has_audio, video_bytes FROM messages WHERE id='${id}'`).split('|').map(Number);
    assert.ok(Math.abs(row[0] - 2000) < 200, `duration ${row[0]}`);
    assert.deepEqual(row.slice(1, 4), [320, 240, 1]);
    assert.equal(row[4], statSync(path.join(media, 'video.mp4')).size);
    assert.equal(sql(s.dataDir, `SELECT state || ' ' || attempts || ' ' || progress FROM jobs WHERE message_id='${id}'`), 'done 1 1.0');
    const rec = await (await fetch(`${s.url}/api/v1/receipt`, { headers: { Authorization: `Bearer ${receipt}` } })).json();
    assert.equal(rec.status, 'in_review');
  });
});

test('--keep-originals keeps the upload in originals/', async () => {
  await withServer(['--keep-originals'], async (s) => {
    const { id } = await sendMessage(s.url, clip);
    assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
    assert.deepEqual(readFileSync(path.join(s.dataDir, 'originals', id)), readFileSync(clip));
  });
});

test('hostile and broken files fail their job with a reason; the server keeps answering', async () => {
  const secret = `SECRET-${Date.now()}-do-not-leak`;
  const secretFile = path.join(dir, 'secret.ts');
  writeFileSync(secretFile, `${secret}\n`.repeat(50));
  const files = {
    text: Buffer.from('just some text, not a video\n'.repeat(20)),
    empty: Buffer.alloc(0),
    truncated: readFileSync(clip).subarray(0, 3000),
    hls: Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile://${secretFile}\n#EXTINF:10,\n${secretFile}\n#EXT-X-ENDLIST\n`),
    ffconcat: Buffer.from(`ffconcat version 1.0\nfile '${secretFile}'\nfile '${clip}'\n`),
  };
  await withServer(['--max-duration', '10'], async (s) => {
    const ids = {};
    // Through tus, as a phone would send them (an empty one included).
    for (const [name, bytes] of Object.entries(files)) {
      // The playlist as the issue describes it: named and typed as an MP4.
      const meta = name === 'hls' ? { filename: 'message.mp4', filetype: 'video/mp4' } : {};
      ids[name] = (await sendTus(s.url, bytes, meta)).id;
    }
    ids.tooLong = (await sendMessage(s.url, longClip)).id; // 12 s > 10 s
    for (const [name, id] of Object.entries(ids)) {
      await healthy(s);
      assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'failed', name);
      const reason = sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id='${id}'`);
      assert.ok(reason.length > 5, `${name}: reason "${reason}"`);
      assert.ok(!existsSync(path.join(s.dataDir, 'media', id, 'video.mp4')), name);
      // A clean refusal is not retried.
      assert.equal(sql(s.dataDir, `SELECT attempts FROM jobs WHERE message_id='${id}'`), '1', name);
    }
    assert.match(sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id='${ids.tooLong}'`), /long|duration/i);
    await healthy(s);
    // The secret file's contents reached no output, log or database row.
    const dump = sql(s.dataDir, '.dump');
    assert.ok(!dump.includes(secret), 'secret in the database');
    assert.ok(!s.log().includes(secret), 'secret in the log');
    for (const id of Object.values(ids)) {
      const m = path.join(s.dataDir, 'media', id);
      if (existsSync(m)) {
        for (const f of readdirSync(m)) assert.ok(!readFileSync(path.join(m, f)).includes(secret));
      }
    }
  });
});

test('the media tests\' hostile files, sent as uploads, fail their job inside the sandbox or come out bounded', async () => {
  const dref = dataReference(dir);
  const gab = gab2Playlist(dir);
  const refused = {
    huge: [hugeFrames(dir), /16384x16384/],
    twoHours: [twoHours(dir), /7200 s long/],
    manyStreams: [manyStreams(dir), /more than 8 streams/],
    dref: [dref.file, /no video/],
  };
  // These two may be transcoded, within the limits and without the secret.
  const bounded = { jump: timestampJumps(dir), gab2: gab.file };
  await withServer(['--max-duration', '60'], async (s) => {
    const ids = {};
    for (const [name, [file]] of Object.entries(refused)) ids[name] = (await sendTus(s.url, readFileSync(file))).id;
    for (const [name, file] of Object.entries(bounded)) ids[name] = (await sendTus(s.url, readFileSync(file))).id;
    for (const [name, [, why]] of Object.entries(refused)) {
      assert.equal(await waitStatus(s.dataDir, ids[name], ['pending', 'failed']), 'failed', name);
      assert.match(sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id='${ids[name]}'`), why, name);
      await healthy(s);
    }
    for (const name of Object.keys(bounded)) {
      const id = ids[name];
      const status = await waitStatus(s.dataDir, id, ['pending', 'failed']);
      if (status === 'pending') {
        const ms = Number(sql(s.dataDir, `SELECT duration_ms FROM messages WHERE id='${id}'`));
        assert.ok(ms > 0 && ms <= 62000, `${name}: ${ms} ms`);
      } else {
        const reason = sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id='${id}'`);
        assert.ok(reason.length > 5, `${name}: reason "${reason}"`);
      }
      await healthy(s);
    }
    const secrets = [dref.secret, gab.secret];
    const dump = sql(s.dataDir, '.dump');
    for (const secret of secrets) {
      assert.ok(!dump.includes(secret), 'secret in the database');
      assert.ok(!s.log().includes(secret), 'secret in the log');
    }
    for (const id of Object.values(ids)) {
      const m = path.join(s.dataDir, 'media', id);
      if (!existsSync(m)) continue;
      for (const f of readdirSync(m)) {
        const bytes = readFileSync(path.join(m, f));
        for (const secret of secrets) assert.ok(!bytes.includes(secret), `${id}/${f}`);
      }
    }
  });
});

test('a crashing child is retried, then the message fails with a reason', async () => {
  const clock = testClock(dir);
  await withServer([], async (s) => {
    const { id } = await sendMessage(s.url, slowClip);
    const job = () => sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE message_id='${id}'`);
    const killed = new Set();
    for (let attempt = 1; attempt <= 3; attempt++) {
      const child = await until(() => descendants(s.proc.pid, 'chorus-job').find((p) => !killed.has(p)),
        T, `the child of attempt ${attempt}`);
      assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id='${id}'`), 'processing',
        `killed ${killed.size} children so far`);
      process.kill(child, 'SIGABRT'); // as an assertion in a library would (ASan reports SIGSEGV itself)
      killed.add(child);
      await healthy(s);
      if (attempt < 3) {
        // Queued again after a backoff (2 s, then 4 s) that the clock skips.
        await until(() => job() === `queued ${attempt}`, T, `attempt ${attempt} to be queued again: ${job()}`);
        clock.advance(10);
      }
    }
    assert.equal(await waitStatus(s.dataDir, id, ['failed', 'pending'], 30000), 'failed');
    assert.match(sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id='${id}'`), /crashed/);
    assert.equal(job(), 'failed 3');
  }, clock.env());
});

test('a worker killed mid-job: its job is claimed again after the lease and finishes', async () => {
  const clock = testClock(dir);
  await withServer([], async (s) => {
    const { id } = await sendMessage(s.url, slowClip);
    const owner = await until(() => sql(s.dataDir, `SELECT worker FROM jobs WHERE message_id='${id}' AND state='running'`),
      T, 'a worker to claim the job');
    const worker = Number(owner.slice(1));
    const child = await until(() => descendants(worker, 'chorus-job')[0], T, 'the job\'s child');
    process.kill(child, 'SIGSTOP'); // held mid-job, so it cannot finish before the kill
    process.kill(worker, 'SIGKILL');
    // Its child dies with it; the job stays running until the lease ends.
    await until(() => ended(worker) && ended(child), T, 'the worker and its child to end');
    assert.equal(sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE message_id='${id}'`), 'running 1');
    clock.advance(LEASE + 5);
    assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed'], 180000), 'pending');
    assert.equal(sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE message_id='${id}'`), 'done 2');
    assert.match(s.log(), /lease expired; claiming it again/);
  }, clock.env());
});

test('two workers never take the same job', async () => {
  const s = await startChorus({ args: ['--workers', '2', '--job-lease', String(LEASE)] });
  try {
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await sendMessage(s.url, clip)).id);
    for (const id of ids) assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
    assert.equal(sql(s.dataDir, 'SELECT count(*) FROM jobs WHERE attempts = 1 AND state = \'done\''), '6');
    const starts = s.log().match(/job \d+: message \S+, attempt \d/g);
    assert.equal(starts.length, 6);
    assert.equal(new Set(starts).size, 6);
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  }
});

test('SIGTERM mid-job gives the job back; after a restart it finishes', async () => {
  const s = await startChorus({ args: ['--workers', '1', '--job-lease', String(LEASE)], keepDir: true });
  const { id } = await sendMessage(s.url, slowClip);
  const child = await until(() => descendants(s.proc.pid, 'chorus-job')[0], T, 'the job\'s child');
  process.kill(child, 'SIGSTOP'); // held mid-job, so it cannot finish before the SIGTERM
  const r = await s.stop('SIGTERM');
  assert.equal(r.code, 0, r.log.slice(-2000));
  assert.ok(r.ms < 5000, `stopped in ${r.ms} ms`);
  assert.equal(sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE message_id='${id}'`), 'queued 0');
  const again = await startChorus({ dataDir: s.dataDir, args: ['--workers', '1'] });
  try {
    assert.equal(await waitStatus(again.dataDir, id, ['pending', 'failed'], 180000), 'pending');
  } finally {
    assertNoSanitizerReport((await again.stop()).log);
    removeDir(s.dataDir);
  }
});

test('a message withdrawn while it is processed leaves no outputs', async () => {
  await withServer([], async (s) => {
    const { id, receipt } = await sendMessage(s.url, slowClip);
    const child = await until(() => descendants(s.proc.pid, 'chorus-job')[0], T, 'the job\'s child');
    process.kill(child, 'SIGSTOP'); // held mid-job: the withdrawal comes first
    const r = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${receipt}` } });
    assert.equal(r.status, 200);
    // The worker learns of it at its next heartbeat, kills the child and
    // drops what it wrote, the message's media directory with it.
    const media = path.join(s.dataDir, 'media', id);
    await until(() => /attempt 1 lost its lease/.test(s.log()) && ended(child) && !existsSync(media), T,
      `the worker to drop the job:\n${s.log().slice(-2000)}`);
    assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id='${id}'`), 'withdrawn');
    assert.ok(!existsSync(path.join(s.dataDir, 'incoming', id)));
  });
});
