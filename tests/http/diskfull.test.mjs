// A full disk, for real: the data directory on a small tmpfs. An upload
// that fills it gets 507 and keeps what it stored; a transcode that
// cannot write its output fails with a reason; once there is room again
// the upload resumes and the message can be retried, and nothing else
// was lost. Needs root (mount); skipped with a reason otherwise.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import {
  assertNoSanitizerReport, chorus, removeDir, SANITIZED, startChorus, tempDir, testClock, until,
} from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';
import {
  createUpload, headUpload, incomingPath, openPatch, partPath, patchUpload, patternBytes, patternSha256,
  sha256File,
} from '../lib/uploads.mjs';

const MiB = 1024 * 1024;

function mountTmpfs(dir, mib) {
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0700`, 'tmpfs', dir]).status === 0;
}
const unmount = (dir) => spawnSync('umount', ['-l', dir]);

const canMount = (() => {
  const d = tempDir('chorus-mount-probe-');
  const ok = mountTmpfs(d, 1);
  if (ok) unmount(d);
  removeDir(d);
  return ok;
})();
const skip = canMount ? false : 'needs root to mount a tmpfs';

test('an upload that fills the disk gets 507, keeps what it stored, and resumes once there is room', { skip }, async () => {
  const root = tempDir('chorus-full-');
  const data = path.join(root, 'data');
  assert.ok(mountTmpfs(data, 32));
  let s;
  try {
    s = await startChorus({ dataDir: data, keepDir: true, args: ['--min-free-mb', '0'] });
    // An upload larger than the disk is refused before a byte is sent.
    const big = await createUpload(s.port, 64 * MiB);
    assert.equal(big.status, 507, big.text);
    // One that fits when it starts, until something else fills the disk.
    const size = 16 * MiB;
    const c = await createUpload(s.port, size);
    assert.equal(c.status, 201, c.text);
    // The first 4 MiB are stored and acknowledged.
    const first = await patchUpload(s.port, c.id, 0, patternBytes('full', 0, 4 * MiB));
    assert.equal(first.status, 204, first.text);
    const p = openPatch(s.port, c.id, 4 * MiB, size - 4 * MiB);
    let early = null;
    p.response.then((a) => { early = a; });
    for (let off = 4 * MiB; off < 6 * MiB; off += 256 * 1024) await p.write(patternBytes('full', off, 256 * 1024));
    // Those bytes reach the file; then something else fills the disk.
    await until(() => {
      if (early) throw new Error(`the PATCH was answered early: ${early.status} ${early.text || early.error}`);
      return statSync(partPath(data, c.id)).size === 6 * MiB;
    }, 10000, 'the first 6 MiB');
    const free = Number(spawnSync('df', ['-B1', '--output=avail', data], { encoding: 'utf8' }).stdout.split('\n')[1]);
    writeFileSync(path.join(data, 'filler'), Buffer.alloc(free));
    for (let off = 6 * MiB; off < size; off += 256 * 1024) await p.write(patternBytes('full', off, 256 * 1024));
    p.end();
    const r = await p.response;
    assert.equal(r.status, 507, `${r.text || r.error}: ${s.log().slice(-1500)}`);
    assert.equal(JSON.parse(r.text).error, 'disk_full');
    const h = await headUpload(s.port, c.id);
    assert.equal(h.status, 200);
    // Nothing acknowledged is lost. (What came after it may be, when not
    // even the database has room to record it: the client sends it again.)
    assert.ok(h.offset >= 4 * MiB && h.offset < size, `stored ${h.offset} bytes: ${s.log().slice(-1500)}`);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    // Room again: the client resumes from where the server says it stands.
    rmSync(path.join(data, 'filler'));
    const rest = await patchUpload(s.port, c.id, h.offset, patternBytes('full', h.offset, size - h.offset));
    assert.equal(rest.status, 204, rest.text);
    assert.equal(await sha256File(incomingPath(data, c.id)), patternSha256('full', 0, size));
    assert.equal(sql(data, `SELECT status FROM messages WHERE id = '${c.id}'`), 'processing');
    assert.equal(sql(data, 'PRAGMA integrity_check'), 'ok');
  } finally {
    if (s) assertNoSanitizerReport((await s.stop()).log);
    unmount(data);
    removeDir(root);
  }
});

test('a transcode that cannot write its output fails with a reason; a retry with room succeeds', { skip }, async () => {
  const root = tempDir('chorus-full-');
  const data = path.join(root, 'data');
  const clip = makeClip(path.join(root, 'clip.mp4'), { seconds: 4, size: '640x360' });
  assert.ok(mountTmpfs(data, 24));
  let s;
  try {
    s = await startChorus({ dataDir: data, keepDir: true, args: ['--min-free-mb', '0'] });
    const pw = addUser(data, 'admin', 'admin');
    const { id } = await sendMessage(s.url, clip);
    // Fill the disk but for a little, then let a worker take the job.
    const free = Number(spawnSync('df', ['-B1', '--output=avail', data], { encoding: 'utf8' }).stdout.split('\n')[1]);
    const filler = path.join(data, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, free - 96 * 1024)));
    // Each failed attempt is retried after a backoff, which the clock skips.
    const clock = testClock(root);
    const worker = await startChorus({
      dataDir: data, keepDir: true, args: ['--workers', '1', '--min-free-mb', '0'], env: clock.env(),
    });
    try {
      const status = await until(() => {
        const [message, job, attempts] = sql(data, 'SELECT m.status, j.state, j.attempts FROM messages m' +
          ` JOIN jobs j ON j.message_id = m.id WHERE m.id = '${id}'`).split('|');
        if (job === 'queued' && attempts !== '0') clock.advance(10);
        return ['failed', 'pending'].includes(message) && message;
      }, SANITIZED ? 180000 : 60000, 'the message to fail');
      assert.equal(status, 'failed');
    } finally {
      assertNoSanitizerReport((await worker.stop()).log);
    }
    const reason = sql(data, `SELECT failure_reason FROM messages WHERE id = '${id}'`);
    assert.match(reason, /space|room|disk|write|store/i, reason);
    assert.equal(sql(data, 'PRAGMA integrity_check'), 'ok');
    assert.ok(readFileSync(incomingPath(data, id)).equals(readFileSync(clip)), 'the original is kept');
    // Room again: an admin retries it, and it goes through.
    rmSync(filler);
    const admin = await loggedIn(s.url, 'admin', pw);
    assert.equal((await admin.post(`/api/v1/messages/${id}/retry`, {})).status, 200);
    const again = await startChorus({ dataDir: data, keepDir: true, args: ['--workers', '1'] });
    try {
      assert.equal(await waitStatus(data, id, ['failed', 'pending'], 60000), 'pending');
    } finally {
      assertNoSanitizerReport((await again.stop()).log);
    }
    const v = chorus(['audit', 'verify', '--data-dir', data]);
    assert.equal(v.status, 0, v.stdout);
  } finally {
    if (s) assertNoSanitizerReport((await s.stop()).log);
    unmount(data);
    removeDir(root);
  }
});
