// The transcoding child's sandbox: inside it a job cannot open a network
// connection, run a program, start a process or open any file (the
// database least of all, for reading or writing), and it holds no
// descriptor but stdio, its report pipe, its input and its two outputs.
// The self-test (CHORUS_SANDBOX_PROBE) makes a real job's child try,
// after entering the sandbox exactly as every job does; the job then
// fails cleanly with what happened, and the server goes on.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';

import { assertNoSanitizerReport, chorus, removeDir, startChorus, tempDir } from '../lib/chorus.mjs';
import { makeClip, makeFaceClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { greyFrames } from '../lib/measure.mjs';

const dir = tempDir('chorus-sandbox-');
after(() => removeDir(dir));

test('a job child that tries to connect, exec, fork, read the database or write is refused, and its job fails cleanly', async () => {
  const clip = makeClip(path.join(dir, 'clip.mp4'));
  const s = await startChorus({
    args: ['--workers', '1'],
    env: { CHORUS_SANDBOX_PROBE: 'connect,exec,fork,read,write,fds' },
  });
  try {
    const { id } = await sendMessage(s.url, clip);
    assert.equal(await waitStatus(s.dataDir, id, ['failed', 'pending'], 60000), 'failed');
    const reason = sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id = '${id}'`);
    assert.match(reason, /connect refused \(Operation not permitted\)/, reason);
    assert.match(reason, /exec refused \(Operation not permitted\)/, reason);
    assert.match(reason, /a new process refused \(Operation not permitted\)/, reason);
    assert.match(reason, /opening a file for reading refused \(Operation not permitted\)/, reason);
    assert.match(reason, /opening a file for writing refused \(Operation not permitted\)/, reason);
    assert.doesNotMatch(reason, /ALLOWED/, reason);
    // stdin, stdout, stderr, the report pipe, input, video and thumbnail:
    // no more.
    assert.match(reason, /descriptors: 0 1 2 3 \d+ \d+ \d+;/, reason);
    // A clean failure: not retried, nothing left behind, all else intact.
    assert.equal(sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE message_id = '${id}'`), 'failed 1');
    assert.equal(sql(s.dataDir, 'PRAGMA integrity_check'), 'ok');
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  }
  const v = chorus(['audit', 'verify', '--data-dir', s.dataDir]);
  assert.equal(v.status, 0);
});

test('with protection on, the child still opens no file: the cascades and fonts are read before the sandbox closes', async () => {
  const clip = makeClip(path.join(dir, 'protected.mp4'));
  const s = await startChorus({
    args: ['--workers', '1'],
    env: { CHORUS_SANDBOX_PROBE: 'connect,exec,fork,read,write,fds' },
  });
  try {
    const { id } = await sendMessage(s.url, clip, { protect: 'blur_faces,voice,no_video' });
    assert.equal(await waitStatus(s.dataDir, id, ['failed', 'pending'], 60000), 'failed');
    const reason = sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id = '${id}'`);
    assert.match(reason, /opening a file for reading refused \(Operation not permitted\)/, reason);
    assert.match(reason, /opening a file for writing refused \(Operation not permitted\)/, reason);
    assert.doesNotMatch(reason, /ALLOWED/, reason);
    // stdio, the report pipe, input, video, thumbnail and contact sheet:
    // the cascade and font files were read and closed.
    assert.match(reason, /descriptors: 0 1 2 3 \d+ \d+ \d+ \d+;/, reason);
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  }
});

test('a protected job really works inside the sandbox: faces found, the card drawn with its text', async () => {
  const face = makeFaceClip(path.join(dir, 'face.mp4'), { seconds: 2 });
  const s = await startChorus({ args: ['--workers', '1'] });
  try {
    const blur = await sendMessage(s.url, face, { protect: 'blur_faces' });
    const card = await sendMessage(s.url, face, { protect: 'no_video', name: 'Алеся' });
    for (const id of [blur.id, card.id]) {
      assert.equal(await waitStatus(s.dataDir, id, ['failed', 'pending'], 120000), 'pending',
        sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id = '${id}'`));
    }
    const facts = JSON.parse(sql(s.dataDir, `SELECT facts FROM messages WHERE id = '${blur.id}'`));
    assert.ok(facts.protection.blur_faces.runs_with_faces > 0, JSON.stringify(facts.protection));
    assert.equal(sql(s.dataDir, `SELECT check_protection FROM messages WHERE id = '${blur.id}'`), '0');
    // libass drew the credit from fonts in memory: light pixels in the
    // card's lower part (drawtext would have drawn nothing here).
    const v = greyFrames(path.join(s.dataDir, 'media', card.id, 'video.mp4'));
    let light = 0;
    for (let y = Math.floor(v.h * 0.7); y < v.h; y++) {
      for (let x = 0; x < v.w; x++) if (v.frames[10][y * v.w + x] > 180) light++;
    }
    assert.ok(light > 100, `the credit is on the card (${light} light pixels)`);
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  }
});
