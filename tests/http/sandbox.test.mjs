// The transcoding child's sandbox, probed from inside real jobs: its
// seccomp filter is an allow-list that kills on anything else. With
// CHORUS_SANDBOX_PROBE set, a job whose input begins with
// "chorus-sandbox-probe:" tries the probes it names after entering the
// sandbox exactly as every job does. Each route to harm is tried in a
// job of its own: one the filter kills ends its child with SIGSYS (the
// job fails for good, without a retry, and the worker and the server go
// on); one that is refused says so; nothing is ALLOWED. A normal clip
// still transcodes beside them, under a test clock (the child must not
// open its file), and the child's environment is empty (no server pid,
// no configuration).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';

import { assertNoSanitizerReport, chorus, removeDir, startChorus, tempDir, testClock, until } from '../lib/chorus.mjs';
import { descendants, makeClip, makeFaceClip, sendMessage, sendTus, sql, waitStatus } from '../lib/fixtures.mjs';
import { greyFrames } from '../lib/measure.mjs';

const dir = tempDir('chorus-sandbox-');
after(() => removeDir(dir));

// Probes whose system call the filter kills.
const KILLED = [
  // signals to the parent (the worker), by every route
  'kill', 'tgkill', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'pidfd_open', 'pidfd_send_signal',
  // the network, other programs, other processes
  'socket', 'exec', 'fork', 'vfork', 'clone', 'ptrace', 'io_uring',
  // code made at run time
  'mmap_exec', 'mprotect_exec',
  // a call through the i386 ABI (int $0x80), which the allow-list's
  // rules do not describe: the architecture check kills it
  ...(process.arch === 'x64' ? ['i386_abi'] : []),
];
// Probes refused with an error: opening files fails quietly (libav asks
// for /dev/urandom and falls back), clone3 is "not there" so that the C
// library falls back to clone, whose flags the filter can see.
const REFUSED = {
  open: /open refused \(Operation not permitted\)/,
  openat: /openat refused \(Operation not permitted\)/,
  openat2: /openat2 refused \(Operation not permitted\)/,
  write: /write refused \(Operation not permitted\)/,
  clone3: /clone3 refused \(Function not implemented\)/,
};

const probe = (names) => Buffer.from(`chorus-sandbox-probe:${names}\n`);

test('from inside real jobs: every route to signal the parent, sockets, exec, new processes, opens, io_uring, ptrace, executable memory and the i386 ABI are stopped; a normal clip transcodes', async () => {
  const clip = makeClip(path.join(dir, 'clip.mp4'));
  const clock = testClock(dir);
  const s = await startChorus({
    args: ['--workers', '1'],
    env: { CHORUS_SANDBOX_PROBE: '1', ...clock.env() },
  });
  try {
    const [worker] = await until(() => {
      const w = descendants(s.proc.pid, 'chorus-worker');
      return w.length > 0 && w;
    }, 10000, 'the worker loop');
    const ids = {};
    for (const name of [...KILLED, ...Object.keys(REFUSED)]) ids[name] = (await sendTus(s.url, probe(name))).id;
    ids.report = (await sendTus(s.url, probe('fds,env'))).id;
    const normal = (await sendMessage(s.url, clip)).id;

    const reason = (id) => sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id = '${id}'`);
    const job = (id) => sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE message_id = '${id}'`);
    for (const name of KILLED) {
      assert.equal(await waitStatus(s.dataDir, ids[name], ['failed', 'pending'], 60000), 'failed', name);
      const r = reason(ids[name]);
      assert.match(r, /sandbox stopped processing: a forbidden system call \(Bad system call\)/, `${name}: ${r}`);
      assert.doesNotMatch(r, /ALLOWED/, name);
      // Killed for good on the first attempt: no retry of a hostile file.
      assert.equal(job(ids[name]), 'failed 1', name);
      // The log names the probe its child was trying when it died (the
      // log may arrive after the row changed).
      await until(() => s.log().includes(`sandbox probe: trying ${name}\n`), 5000, `the log of ${name}`);
    }
    for (const [name, want] of Object.entries(REFUSED)) {
      assert.equal(await waitStatus(s.dataDir, ids[name], ['failed', 'pending'], 60000), 'failed', name);
      const r = reason(ids[name]);
      assert.match(r, want, `${name}: ${r}`);
      assert.doesNotMatch(r, /ALLOWED/, name);
      assert.equal(job(ids[name]), 'failed 1', name);
    }
    assert.equal(await waitStatus(s.dataDir, ids.report, ['failed', 'pending'], 60000), 'failed');
    const report = reason(ids.report);
    // stdin, stdout, stderr, the report pipe, input, video, thumbnail
    // and the spool (the sound's packets while it is measured): no more;
    // and not one environment variable (no CHORUS_PARENT_PID, no
    // configuration, no token).
    assert.match(report, /descriptors: 0 1 2 3 \d+ \d+ \d+ \d+;/, report);
    assert.match(report, /environment: \(empty\);/, report);

    // Beside all that, a real clip goes through the same sandbox.
    assert.equal(await waitStatus(s.dataDir, normal, ['failed', 'pending'], 120000), 'pending', reason(normal));
    assert.equal(job(normal), 'done 1');
    // The worker that ran every probe is the one that started: nothing
    // reached it.
    assert.deepEqual(descendants(s.proc.pid, 'chorus-worker'), [worker]);
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
  const s = await startChorus({ args: ['--workers', '1'], env: { CHORUS_SANDBOX_PROBE: '1' } });
  try {
    // The probes run inside jobs whose child loaded, before the filter
    // went on, the fonts (a card: no_video, where no face is looked
    // for) and OpenCV with its cascades (blur_faces on the picture).
    const jobs = {};
    for (const protect of ['blur_faces,voice,no_video', 'blur_faces,voice']) {
      jobs[protect] = (await sendTus(s.url, probe('open,openat,write,fds,env'), { protect })).id;
    }
    for (const [protect, id] of Object.entries(jobs)) {
      assert.equal(await waitStatus(s.dataDir, id, ['failed', 'pending'], 60000), 'failed', protect);
      const reason = sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id = '${id}'`);
      // The child got as far as the probes: its assets were loaded.
      assert.match(reason, /sandbox self-test:/, `${protect}: ${reason}`);
      for (const name of ['open', 'openat', 'write']) assert.match(reason, REFUSED[name], `${protect}: ${reason}`);
      assert.doesNotMatch(reason, /ALLOWED/, `${protect}: ${reason}`);
      // stdio, the report pipe, input, video, thumbnail, contact sheet and
      // spool: the cascade and font files were read and closed.
      assert.match(reason, /descriptors: 0 1 2 3 \d+ \d+ \d+ \d+ \d+;/, `${protect}: ${reason}`);
      assert.match(reason, /environment: \(empty\);/, `${protect}: ${reason}`);
    }
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
