// Job ownership through real `chorus worker` processes (issue #18): a
// worker stopped (SIGSTOP) past its lease loses the job to another worker,
// which finishes it; when the stale one resumes it must neither finish nor
// fail the job, nor touch the new owner's files. The message ends pending
// with a valid video and thumbnail. Time moves through the test clock.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import {
  assertNoSanitizerReport, BIN, removeDir, startChorus, tempDir, testClock, until,
} from '../lib/chorus.mjs';
import { descendants, ffprobe, makeClip, sendMessage, sql } from '../lib/fixtures.mjs';

const dir = tempDir('chorus-lease-');
after(() => removeDir(dir));

const LEASE = 5;

/** `chorus worker` as its own process on dataDir; log() is its stderr. */
function startWorker(dataDir, env) {
  const proc = spawn(BIN, ['worker', '--data-dir', dataDir, '--workers', '1',
    '--job-lease', String(LEASE)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const exit = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    log: () => log,
    async stop() {
      proc.kill('SIGTERM');
      return exit;
    },
  };
}

test('a worker stopped past its lease cannot finish the job another worker took over', async () => {
  const clock = testClock(dir);
  // Long enough that the first attempt is still running when it is stopped.
  const clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 8, size: '1280x720' });
  const s = await startChorus({ env: clock.env() });
  const data = s.dataDir;
  const a = startWorker(data, clock.env());
  let b;
  try {
    const { id } = await sendMessage(s.url, clip);
    // Caught while it transcodes: the worker loop and its job's child.
    const owner = await until(() => sql(data, `SELECT worker FROM jobs WHERE message_id='${id}' AND state='running'`),
      60000, 'the first worker to claim the job');
    const loop = Number(owner.slice(1));
    const child = await until(() => descendants(loop, 'chorus-job')[0], 30000, 'the job\'s child');
    process.kill(loop, 'SIGSTOP');
    process.kill(child, 'SIGSTOP');
    assert.equal(sql(data, `SELECT status FROM messages WHERE id='${id}'`), 'processing',
      'the first attempt must still be running when it is stopped');

    // Its lease runs out; a second worker claims the job and finishes it.
    b = startWorker(data, clock.env());
    clock.advance(LEASE + 5);
    await until(() => sql(data, `SELECT status FROM messages WHERE id='${id}'`) === 'pending',
      120000, 'the second worker to finish the job');
    const done = sql(data, `SELECT state, attempts, worker FROM jobs WHERE message_id='${id}'`).split('|');
    assert.equal(done[0], 'done');
    assert.equal(done[1], '2');
    assert.notEqual(done[2], owner);

    // The stale worker wakes: it learns it lost, and drops its own files.
    process.kill(child, 'SIGCONT');
    process.kill(loop, 'SIGCONT');
    await until(() => /attempt 1 (lost its lease|finished but lost its lease)/.test(a.log()), 60000,
      `the stale worker to notice it lost the job:\n${a.log()}`);
    await until(() => descendants(loop, 'chorus-job').length === 0, 30000, 'the stale child to end');

    assert.equal(sql(data, `SELECT status FROM messages WHERE id='${id}'`), 'pending');
    assert.equal(sql(data, `SELECT state || ' ' || attempts FROM jobs WHERE message_id='${id}'`), 'done 2');
    const media = path.join(data, 'media', id);
    assert.deepEqual(readdirSync(media).sort(), ['thumb.jpg', 'video.mp4'],
      'the new owner\'s outputs, and no temporary file of either attempt');
    const probe = ffprobe(path.join(media, 'video.mp4'));
    const v = probe.streams.find((x) => x.codec_type === 'video');
    assert.equal(v.codec_name, 'h264');
    assert.ok(Math.abs(Number(probe.format.duration) - 8) < 0.5, `duration ${probe.format.duration}`);
    assert.equal(Number(sql(data, `SELECT video_bytes FROM messages WHERE id='${id}'`)),
      statSync(path.join(media, 'video.mp4')).size);
    assert.ok(statSync(path.join(media, 'thumb.jpg')).size > 1000);
    assert.deepEqual(readdirSync(path.join(data, 'incoming')), [], 'the original went after success');
  } finally {
    for (const w of [a, b]) {
      if (!w) continue;
      try { process.kill(w.proc.pid, 'SIGCONT'); } catch { /* gone */ }
      const r = await w.stop();
      assertNoSanitizerReport(w.log());
      assert.equal(r.code, 0, w.log().slice(-2000));
    }
    const r = await s.stop();
    assertNoSanitizerReport(r.log);
  }
});

test('a stale worker that wakes while the new owner still works cannot finish first', async () => {
  const clock = testClock(dir);
  const clip = makeClip(path.join(dir, 'clip2.mp4'), { seconds: 8, size: '1280x720' });
  const s = await startChorus({ env: clock.env() });
  const data = s.dataDir;
  const a = startWorker(data, clock.env());
  let b;
  const stopped = [];
  const stop = (pid) => { process.kill(pid, 'SIGSTOP'); stopped.push(pid); };
  try {
    const { id } = await sendMessage(s.url, clip);
    const first = await until(() => sql(data, `SELECT worker FROM jobs WHERE message_id='${id}' AND state='running'`),
      60000, 'the first worker to claim the job');
    const loopA = Number(first.slice(1));
    const childA = await until(() => descendants(loopA, 'chorus-job')[0], 30000, 'the first child');
    stop(loopA);
    stop(childA);
    b = startWorker(data, clock.env());
    clock.advance(LEASE + 5);
    // The second attempt runs; it is stopped in turn, mid-job.
    const second = await until(() => sql(data,
      `SELECT worker FROM jobs WHERE message_id='${id}' AND state='running' AND attempts=2`),
    60000, 'the second worker to claim the job');
    const loopB = Number(second.slice(1));
    const childB = await until(() => descendants(loopB, 'chorus-job')[0], 30000, 'the second child');
    stop(loopB);
    stop(childB);

    // The first attempt finishes now, while the job is the second's.
    process.kill(childA, 'SIGCONT');
    process.kill(loopA, 'SIGCONT');
    await until(() => /attempt 1 (lost its lease|finished but lost its lease)/.test(a.log()), 60000,
      `the stale worker to notice it lost the job:\n${a.log()}`);
    await until(() => descendants(loopA, 'chorus-job').length === 0, 30000, 'the stale child to end');
    assert.equal(sql(data, `SELECT status FROM messages WHERE id='${id}'`), 'processing',
      'a stale attempt must not finish the job');
    assert.equal(sql(data, `SELECT state || ' ' || attempts FROM jobs WHERE message_id='${id}'`), 'running 2');

    process.kill(childB, 'SIGCONT');
    process.kill(loopB, 'SIGCONT');
    stopped.length = 0;
    await until(() => sql(data, `SELECT status FROM messages WHERE id='${id}'`) === 'pending',
      120000, 'the owner to finish the job');
    const media = path.join(data, 'media', id);
    assert.deepEqual(readdirSync(media).sort(), ['thumb.jpg', 'video.mp4']);
    const probe = ffprobe(path.join(media, 'video.mp4'));
    assert.ok(Math.abs(Number(probe.format.duration) - 8) < 0.5, `duration ${probe.format.duration}`);
    assert.equal(Number(sql(data, `SELECT video_bytes FROM messages WHERE id='${id}'`)),
      statSync(path.join(media, 'video.mp4')).size);
  } finally {
    for (const pid of stopped) {
      try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
    }
    for (const w of [a, b]) {
      if (!w) continue;
      const r = await w.stop();
      assertNoSanitizerReport(w.log());
      assert.equal(r.code, 0, w.log().slice(-2000));
    }
    const r = await s.stop();
    assertNoSanitizerReport(r.log);
  }
});
