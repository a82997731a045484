// Fault injection: kill -9 in the middle of decisions and of an export,
// a database held by another writer. After a restart nothing that was
// answered is lost, the database is intact and the audit chain holds.
// Leases run on the test clock, which the tests move past them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import {
  assertNoSanitizerReport, chorus, removeDir, SANITIZED, startChorus, tempDir, testClock, until,
} from '../lib/chorus.mjs';
import { descendants, sendTus, sql } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

/** Registers n pending messages through the database layer. */
function pendingMessages(dataDir, n, prefix) {
  const ids = [];
  const rows = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}${String(i).padStart(22 - prefix.length, '0')}`;
    ids.push(id);
    rows.push(`('${id}', 'pending', 'BY', 'be', 'v1', 'public', ${1000 + i}, 0)`);
  }
  sql(dataDir, `INSERT INTO messages (id, status, country, language, consent_version, consent_scope, created_at, updated_at) VALUES ${rows.join(',')}`);
  return ids;
}

function intact(dataDir) {
  assert.equal(sql(dataDir, 'PRAGMA integrity_check'), 'ok');
  const v = chorus(['audit', 'verify', '--data-dir', dataDir]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
}

test('kill -9 during a stream of decisions: every answered decision and its audit row survive', async () => {
  const s = await startChorus({ keepDir: true });
  const dir = s.dataDir;
  try {
    const pw = addUser(dir, 'mod', 'moderator');
    const ids = pendingMessages(dir, 120, 'D');
    const mod = await loggedIn(s.url, 'mod', pw);
    // Four moderators approve one message after another; the kill comes
    // once some decisions are answered, with others in flight.
    const answered = [];
    let next = 0;
    let killed = false;
    const moderator = async () => {
      while (!killed && next < ids.length) {
        const id = ids[next++];
        try {
          const r = await mod.post(`/api/v1/messages/${id}/approve`, {});
          if (r.status === 200) answered.push(id);
        } catch { /* cut off by the kill */ }
      }
    };
    const inflight = [0, 1, 2, 3].map(moderator);
    await until(() => answered.length >= 20, SANITIZED ? 60000 : 20000, 'the first decisions');
    await s.kill();
    killed = true;
    await Promise.all(inflight);
    assert.ok(answered.length > 0 && answered.length < ids.length,
      `killed mid-way (${answered.length} of ${ids.length} answered)`);
    const t = await startChorus({ dataDir: dir, keepDir: true });
    try {
      intact(dir);
      const approved = new Set(sql(dir, "SELECT id FROM messages WHERE status = 'approved'").split('\n').filter(Boolean));
      for (const id of answered) assert.ok(approved.has(id), `answered approve of ${id} lost`);
      // Decision and audit row committed together: never one without the other.
      assert.equal(sql(dir, "SELECT count(*) FROM audit WHERE action = 'message.approve'"), String(approved.size));
      assert.equal(sql(dir, "SELECT count(*) FROM messages WHERE status NOT IN ('pending', 'approved')"), '0');
      assert.equal(sql(dir, "SELECT n FROM status_counts WHERE status = 'approved'"), String(approved.size));
    } finally { assertNoSanitizerReport((await t.stop()).log); }
  } finally { removeDir(dir); }
});

test('kill -9 during an export: the database stays intact and nothing is left behind', async () => {
  const s = await startChorus({ keepDir: true });
  const dir = s.dataDir;
  try {
    const pw = addUser(dir, 'comms', 'comms');
    const ids = pendingMessages(dir, 3, 'E');
    sql(dir, `UPDATE messages SET status = 'approved', decided_at = 1 WHERE id IN ('${ids.join("','")}')`);
    for (const id of ids) {
      const { mkdirSync, writeFileSync, truncateSync } = await import('node:fs');
      mkdirSync(path.join(dir, 'media', id), { recursive: true });
      const f = path.join(dir, 'media', id, 'video.mp4');
      writeFileSync(f, 'x');
      truncateSync(f, 512 * 1024 * 1024);
    }
    const c = await loggedIn(s.url, 'comms', pw);
    const r = await c.req('GET', '/api/v1/export.zip', { raw: true });
    const reader = r.body.getReader();
    let got = 0;
    while (got < 64 * 1024 * 1024) got += (await reader.read()).value.length;
    await s.kill();
    await reader.read().catch(() => {});
    const t = await startChorus({ dataDir: dir, keepDir: true });
    try {
      intact(dir);
      assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('export-')), []);
      assert.equal(sql(dir, "SELECT count(*) FROM audit WHERE action = 'export'"), '1');
    } finally { assertNoSanitizerReport((await t.stop()).log); }
  } finally { removeDir(dir); }
});

test('a database held by another writer delays requests; none fails with a raw busy error', async () => {
  const s = await startChorus();
  try {
    // Another process holds the write lock for 1 s (a slow writer, well
    // under the busy timeout), and a reader holds a snapshot until the
    // test has its answers.
    const holder = spawn('python3', ['-c', `
import sqlite3, time, sys
r = sqlite3.connect(sys.argv[1], isolation_level=None)
r.execute('BEGIN'); r.execute('SELECT count(*) FROM messages').fetchall()
w = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
w.execute('BEGIN IMMEDIATE')
print('held', flush=True)
time.sleep(1)
w.execute('COMMIT')
sys.stdin.read()
r.execute('COMMIT')
`, path.join(s.dataDir, 'chorus.db')], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((res) => holder.stdout.once('data', res));
    const t0 = Date.now();
    const results = await Promise.all([0, 1, 2].map(() => sendTus(s.url, Buffer.from('not a video, just bytes'))
      .then(() => 201, (e) => e.message)));
    assert.deepEqual(results, [201, 201, 201]);
    assert.ok(Date.now() - t0 >= 800, 'the writes waited for the lock');
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    const exited = new Promise((res) => holder.on('exit', res));
    holder.stdin.end();
    assert.equal(await exited, 0);
    assert.doesNotMatch(s.log(), /database is locked|SQLITE_BUSY/i);
  } finally { assertNoSanitizerReport((await s.stop()).log); }
});

test('kill -9 while workers claim jobs: every job ends in exactly one state, running ones are reclaimed', async () => {
  const clockDir = tempDir('chorus-faults-clock-');
  const clock = testClock(clockDir);
  const LEASE = 30;
  const serve = (dataDir) => startChorus({
    dataDir, keepDir: true, args: ['--workers', '2', '--job-lease', String(LEASE)], env: clock.env(),
  });
  let s = await serve();
  const dir = s.dataDir;
  const count = (where) => sql(dir, `SELECT count(*) FROM jobs WHERE ${where}`);
  try {
    // Forty jobs a worker refuses in a moment: claims come thick and fast.
    const ids = [];
    let running = 0;
    const logs = [];
    for (let i = 0; i < 40; i++) ids.push((await sendTus(s.url, Buffer.from(`not a video ${i}`))).id);
    for (let round = 0; round < 4; round++) {
      // Strike while a worker holds a job (unless none is left).
      await until(() => count("state = 'running'") !== '0' || count("state IN ('queued', 'running')") === '0',
        SANITIZED ? 60000 : 15000, 'a worker to hold a job');
      // The whole tree at once, as a power cut would: no worker gets to
      // give its job back, so running jobs keep their leases...
      const tree = descendants(s.proc.pid, null);
      await s.kill();
      for (const pid of tree) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      running += Number(count("state = 'running'"));
      logs.push(s.log());
      // ...until they run out.
      clock.advance(LEASE + 1);
      s = await serve(dir);
      assert.equal(sql(dir, 'PRAGMA integrity_check'), 'ok');
    }
    await until(() => sql(dir, "SELECT count(*) FROM messages WHERE status = 'processing'") === '0',
      SANITIZED ? 180000 : 60000, 'every message to leave processing');
    // One job per message, finished, in a state that agrees with it.
    assert.equal(sql(dir, 'SELECT count(*) FROM jobs'), String(ids.length));
    assert.equal(count("state = 'failed' AND lease_until IS NULL"), String(ids.length));
    assert.equal(sql(dir, "SELECT count(*) FROM messages m JOIN jobs j ON j.message_id = m.id WHERE m.status = 'failed'"), String(ids.length));
    assert.equal(sql(dir, 'SELECT max(attempts) <= 3 FROM jobs'), '1');
    // Jobs cut off while running were claimed again after their lease.
    assert.ok(running > 0, 'the kills caught jobs running');
    assert.match(logs.join('') + s.log(), /lease expired; claiming it again/);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
    removeDir(dir);
    removeDir(clockDir);
  }
});
