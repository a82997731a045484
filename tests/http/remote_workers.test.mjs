// Remote workers as separate processes (issue #17, DESIGN.md "Scale"):
// `chorus worker --server URL --token-file F` started in their own empty
// directories, told nothing of the data directory. Three of them process
// twelve clips, each exactly once; one killed with SIGKILL mid-job has
// its job finished by another and its directory emptied; one stopped
// (SIGSTOP) past its lease cannot finish; they ride out a server restart
// while they poll; a revoked token is refused at once; one stopped with
// SIGTERM gives its job back. Time moves through
// the server's test clock; every wait is on a condition.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';

import {
  assertNoSanitizerReport, BIN, chorus, removeDir, SANITIZED, startChorus, tempDir, testClock, until,
} from '../lib/chorus.mjs';
import { descendants, ffprobe, makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';

const dir = tempDir('chorus-remote-');
after(() => removeDir(dir));
const LEASE = 5;
const WAIT = SANITIZED ? 240000 : 120000;
const workers = [];
after(async () => { for (const w of workers) await w.stop(); });

function addToken(dataDir, name) {
  const r = chorus(['worker-token', 'add', name, '--data-dir', dataDir]);
  assert.equal(r.status, 0, r.stderr);
  const file = path.join(dir, `${name}.token`);
  writeFileSync(file, `${r.stdout.trimEnd().split('\n').pop()}\n`, { mode: 0o600 });
  return file;
}

/** A remote worker in a directory of its own (its cwd and --tmp-dir). */
function startRemote(url, tokenFile, name, { n = 1 } = {}) {
  const home = path.join(dir, name);
  mkdirSync(home, { recursive: true });
  const tmp = path.join(home, 'tmp');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('CHORUS_')) delete env[k];
  const proc = spawn(BIN, ['worker', '--server', url, '--token-file', tokenFile, '--tmp-dir', tmp,
    '--workers', String(n), '--claim-wait', '5'], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  let exited = null;
  const exit = new Promise((resolve) => proc.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
  const w = {
    proc, tmp, name,
    log: () => log,
    /** The job files in its directory (the lock aside). */
    files: () => {
      const out = [];
      const walk = (d) => {
        let ents = [];
        try { ents = readdirSync(d, { withFileTypes: true }); } catch { return; }
        for (const e of ents) {
          if (e.isDirectory()) walk(path.join(d, e.name));
          else if (e.name !== '.lock') out.push(path.join(d, e.name));
        }
      };
      walk(tmp);
      return out;
    },
    /** Its worker loops: the chorus-worker processes under it. */
    loops: () => descendants(proc.pid, 'chorus-worker'),
    async stop() {
      if (!exited) proc.kill('SIGTERM');
      await exit;
      assertNoSanitizerReport(log);
      return exited;
    },
  };
  workers.push(w);
  return w;
}

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const jobOf = (data, id) => sql(data, `SELECT state || '|' || attempts || '|' || worker FROM jobs WHERE message_id='${id}'`).split('|');

test('a worker without a good token or server says so and stops', () => {
  const junk = path.join(dir, 'junk.token');
  writeFileSync(junk, 'not-a-token\n', { mode: 0o600 });
  let r = chorus(['worker', '--server', 'http://127.0.0.1:9', '--token-file', junk, '--tmp-dir', path.join(dir, 'junk')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /does not hold a worker token/);
  r = chorus(['worker', '--server', 'http://127.0.0.1:9', '--token-file', path.join(dir, 'none')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cannot read/);
  writeFileSync(junk, `${'A'.repeat(43)}\n`, { mode: 0o600 });
  r = chorus(['worker', '--server', 'ftp://127.0.0.1:9', '--token-file', junk]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--server is http\(s\)/);
});

test('three remote workers process twelve clips, each exactly once', async () => {
  const s = await startChorus({ args: ['--job-lease', String(LEASE)] });
  try {
    const tok = addToken(s.dataDir, 'fleet');
    const ws = ['a', 'b', 'c'].map((n) => startRemote(s.url, tok, `fleet-${n}`));
    const clips = [];
    for (let i = 0; i < 12; i++) {
      clips.push(makeClip(path.join(dir, `f${i}.mp4`), { seconds: 1 + (i % 3), size: i % 2 ? '320x240' : '240x320' }));
    }
    const ids = [];
    for (const c of clips) ids.push((await sendMessage(s.url, c)).id);
    for (const id of ids) await waitStatus(s.dataDir, id, ['pending'], WAIT);

    const holders = new Set();
    for (const id of ids) {
      const [state, attempts, worker] = jobOf(s.dataDir, id);
      assert.equal(state, 'done');
      assert.equal(attempts, '1', `job of ${id} was tried once`);
      assert.match(worker, /^fleet\//);
      holders.add(worker);
      assert.deepEqual(readdirSync(path.join(s.dataDir, 'media', id)).sort(), ['thumb.jpg', 'video.mp4']);
    }
    assert.ok(holders.size >= 2, `the clips were shared out (${[...holders]})`);
    // Published once each: one "done by" line a job in the server's log.
    // (logged just after the commit that made the message pending)
    const doneLines = () => (s.log().match(/: done by fleet\//g) || []).length;
    await until(() => doneLines() >= 12, 10000, 'the server to log every job done');
    assert.equal(doneLines(), 12);
    const v = ffprobe(path.join(s.dataDir, 'media', ids[1], 'video.mp4'));
    assert.ok(v.streams.some((st) => st.codec_type === 'video'));
    assert.equal(readdirSync(path.join(s.dataDir, 'incoming')).length, 0, 'the originals are gone');
    for (const w of ws) {
      await until(() => w.files().length === 0, 10000, `${w.name}'s directory to be empty: ${w.files()}`);
      assert.ok(!w.log().includes(s.dataDir), 'nothing of the data directory reaches a worker');
    }
    for (const w of ws) await w.stop();
  } finally {
    await s.stop();
  }
});

test('a worker killed mid-job: another finishes it, its directory is emptied', async () => {
  const clock = testClock(path.join(dir));
  const s = await startChorus({ env: clock.env(), args: ['--job-lease', String(LEASE)] });
  try {
    const tok = addToken(s.dataDir, 'crash');
    const a = startRemote(s.url, tok, 'crash-a');
    const clip = makeClip(path.join(dir, 'long.mp4'), { seconds: 8, size: '1280x720' });
    const { id } = await sendMessage(s.url, clip);
    const owner = await until(() => sql(s.dataDir, `SELECT worker FROM jobs WHERE message_id='${id}' AND state='running'`),
      60000, 'a worker to claim the job');
    const loop = a.loops()[0];
    const child = await until(() => descendants(loop, 'chorus-job')[0], 60000, 'the job\'s child');
    assert.ok(a.files().length > 0, 'the job has files while it runs');
    const b = startRemote(s.url, tok, 'crash-b');
    process.kill(loop, 'SIGKILL');
    // Its child dies with it; its supervisor empties what it left.
    await until(() => { try { process.kill(child, 0); return false; } catch { return true; } }, 30000, 'the child to die');
    await until(() => a.files().length === 0, 30000, `the killed worker's files to go: ${a.files()}`);
    clock.advance(LEASE + 5);
    await waitStatus(s.dataDir, id, ['pending'], WAIT);
    const [state, attempts, worker] = jobOf(s.dataDir, id);
    assert.equal(state, 'done');
    assert.equal(attempts, '2');
    assert.notEqual(worker, owner, 'finished by another process');
    assert.deepEqual(readdirSync(path.join(s.dataDir, 'media', id)).sort(), ['thumb.jpg', 'video.mp4']);
    await until(() => a.files().length === 0 && b.files().length === 0, 10000, 'both directories empty');
    assert.match(a.log(), /ended \(signal 9\); starting another/);
    await a.stop();
    await b.stop();
  } finally {
    await s.stop();
  }
});

test('a worker stopped past its lease cannot finish the job', async () => {
  const clock = testClock(path.join(dir));
  const s = await startChorus({ env: clock.env(), args: ['--job-lease', String(LEASE)] });
  try {
    const tok = addToken(s.dataDir, 'stop');
    const a = startRemote(s.url, tok, 'stop-a');
    const clip = makeClip(path.join(dir, 'long2.mp4'), { seconds: 8, size: '1280x720' });
    const { id } = await sendMessage(s.url, clip);
    const owner = await until(() => sql(s.dataDir, `SELECT worker FROM jobs WHERE message_id='${id}' AND state='running'`),
      60000, 'a worker to claim the job');
    const loop = a.loops()[0];
    const child = await until(() => descendants(loop, 'chorus-job')[0], 60000, 'the job\'s child');
    process.kill(loop, 'SIGSTOP');
    process.kill(child, 'SIGSTOP');
    assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id='${id}'`), 'processing');

    const b = startRemote(s.url, tok, 'stop-b');
    clock.advance(LEASE + 5);
    await waitStatus(s.dataDir, id, ['pending'], WAIT);
    const done = jobOf(s.dataDir, id);
    assert.deepEqual(done.slice(0, 2), ['done', '2']);
    assert.notEqual(done[2], owner);

    process.kill(child, 'SIGCONT');
    process.kill(loop, 'SIGCONT');
    await until(() => /attempt 1 (lost its lease|finished but lost its lease)/.test(a.log()), 60000,
      `the stale worker to hear it lost the job:\n${a.log()}`);
    await until(() => descendants(loop, 'chorus-job').length === 0, 30000, 'the stale child to end');
    await until(() => a.files().length === 0, 10000, `the stale worker's files to go: ${a.files()}`);
    assert.deepEqual(jobOf(s.dataDir, id), done, 'the stale worker changed nothing');
    assert.deepEqual(readdirSync(path.join(s.dataDir, 'media', id)).sort(), ['thumb.jpg', 'video.mp4']);
    assert.equal((s.log().match(/job \d+: done by /g) || []).length, 1);
    await a.stop();
    await b.stop();
  } finally {
    await s.stop();
  }
});

test('a worker stopped with SIGTERM mid-job gives the job back, uncounted, and keeps nothing', async () => {
  const s = await startChorus({ args: ['--job-lease', String(LEASE)] });
  try {
    const tok = addToken(s.dataDir, 'term');
    const a = startRemote(s.url, tok, 'term-a');
    const { id } = await sendMessage(s.url, makeClip(path.join(dir, 'long3.mp4'), { seconds: 8, size: '1280x720' }));
    await until(() => sql(s.dataDir, `SELECT state FROM jobs WHERE message_id='${id}'`) === 'running', 60000, 'the claim');
    const loop = a.loops()[0];
    await until(() => descendants(loop, 'chorus-job')[0], 60000, 'the job\'s child');
    const r = await a.stop();
    assert.equal(r.code, 0, a.log());
    assert.equal(sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE message_id='${id}'`), 'queued 0');
    assert.match(a.log(), /given back/);
    assert.deepEqual(a.files(), []);
    // Another worker takes it from there.
    startRemote(s.url, tok, 'term-b');
    await waitStatus(s.dataDir, id, ['pending'], WAIT);
    assert.equal(jobOf(s.dataDir, id)[1], '1');
  } finally {
    await s.stop();
  }
});

test('workers ride out a server restart while they poll; a revoked token is refused at once', async () => {
  const port = await freePort();
  const data = path.join(dir, 'restart-data');
  const args = ['--listen', `127.0.0.1:${port}`, '--job-lease', String(LEASE)];
  let s = await startChorus({ dataDir: data, args });
  const tok = addToken(data, 'steady');
  const url = `http://127.0.0.1:${port}`;
  const ws = [startRemote(url, tok, 'steady-a'), startRemote(url, tok, 'steady-b')];
  try {
    await until(() => ws.every((w) => /asking .* for jobs/.test(w.log())), 30000, 'the workers to poll');
    const pids = ws.map((w) => w.loops());
    await s.stop();
    await until(() => ws.every((w) => /worker\/claim: /.test(w.log())),
      30000, 'the workers to notice the server is gone');
    s = await startChorus({ dataDir: data, args });
    const { id } = await sendMessage(s.url, makeClip(path.join(dir, 'r.mp4'), { seconds: 1 }));
    await waitStatus(data, id, ['pending'], WAIT);
    assert.deepEqual(ws.map((w) => w.loops()), pids, 'the same worker processes, none restarted');
    assert.equal(jobOf(data, id)[1], '1');

    // Revoked: its very next claim is refused, and it says so.
    const r = chorus(['worker-token', 'revoke', 'steady', '--data-dir', data]);
    assert.equal(r.status, 0, r.stderr);
    await until(() => ws.every((w) => /refuses this worker's token/.test(w.log())), 30000, 'the workers to be refused');
    const { id: late } = await sendMessage(s.url, makeClip(path.join(dir, 'r2.mp4'), { seconds: 1 }));
    assert.equal(sql(data, `SELECT state FROM jobs WHERE message_id='${late}'`), 'queued');
    assert.match(s.log(), /POST \/api\/v1\/worker\/claim 401/);
    for (const w of ws) await w.stop();
  } finally {
    await s.stop();
    removeDir(data);
  }
});
