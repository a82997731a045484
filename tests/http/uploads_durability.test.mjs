// Nothing lost: two PATCHes racing on one upload, a PATCH cut off by the
// client, the server killed (-9) in the middle of an upload and right
// after its last byte was acknowledged, and the start-up recovery of an
// upload whose file was complete when the server died.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { test } from 'node:test';

import { assertNoSanitizerReport, removeDir, startChorus, tempDir } from '../lib/chorus.mjs';
import {
  MiB, createUpload, deleteUpload, headUpload, incomingPath, openPatch, partPath, patchUpload, patternBytes,
  patternChunks, patternSha256, sha256, sha256File, sql, until,
} from '../lib/uploads.mjs';

async function withServer(opts, fn) {
  const s = await startChorus(opts);
  try {
    await fn(s);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
}

/** The message's status and its jobs, read with the sqlite3 program. */
function dbState(dir, id) {
  const [m] = sql(dir, `SELECT status, upload_offset, upload_length FROM messages WHERE id = '${id}'`);
  const jobs = sql(dir, `SELECT state, kind FROM jobs WHERE message_id = '${id}'`);
  return { ...m, jobs };
}

test('two PATCHes on one upload: the second gets 423 while the first writes; the file is the first\'s', async () => {
  await withServer({}, async (s) => {
    const a = patternBytes('writer-a', 0, 2 * MiB);
    const b = patternBytes('writer-b', 0, 2 * MiB);
    const c = await createUpload(s.port, a.length);
    const pa = openPatch(s.port, c.id, 0, a.length);
    await pa.write(a.subarray(0, MiB));
    // Bytes in the file: the server has taken the upload for the first.
    await until(() => statSync(partPath(s.dataDir, c.id)).size > 0, 10000, 'the first PATCH\'s bytes');
    await until(async () => (await headUpload(s.port, c.id)).status === 200, 10000, 'HEAD');
    const rb = await patchUpload(s.port, c.id, 0, b);
    assert.ok([409, 423].includes(rb.status), `concurrent PATCH: ${rb.status} ${rb.text}`);
    assert.equal(rb.status, 423, 'the first PATCH still holds the upload');
    assert.equal(rb.json().error, 'busy');
    // Termination waits for the writer too.
    const d = await deleteUpload(s.port, c.id);
    assert.equal(d.status, 423, 'DELETE while a PATCH writes');
    await pa.write(a.subarray(MiB));
    pa.end();
    const ra = await pa.response;
    assert.equal(ra.status, 204);
    assert.equal(ra.headers['upload-offset'], String(a.length));
    assert.equal(await sha256File(incomingPath(s.dataDir, c.id)), sha256(a));
  });
});

test('PATCH pairs fired at once with different bytes: exactly one wins each time, the file holds the winners\' bytes', async () => {
  await withServer({}, async (s) => {
    const ROUNDS = 12;
    const CHUNK = 256 * 1024;
    const c = await createUpload(s.port, ROUNDS * CHUNK);
    const expected = [];
    let offset = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const bodies = ['x', 'y'].map((who) => patternBytes(`${who}-${i}`, 0, CHUNK));
      const rs = await Promise.all(bodies.map((body) => patchUpload(s.port, c.id, offset, body)));
      const won = rs.filter((r) => r.status === 204);
      assert.equal(won.length, 1, `round ${i}: ${rs.map((r) => r.status)}`);
      const lost = rs.find((r) => r.status !== 204);
      // The loser waits for the winner's request to end, then hears the
      // offset moved on (409), or, once the winner's bytes completed the
      // upload, that there is no upload to send to any more (410).
      const allowed = i < ROUNDS - 1 ? [409, 423] : [409, 410, 423];
      assert.ok(allowed.includes(lost.status), `round ${i}: loser got ${lost.status}`);
      const winner = bodies[rs.indexOf(won[0])];
      expected.push(winner);
      offset += CHUNK;
      assert.equal(won[0].headers['upload-offset'], String(offset));
      if (i < ROUNDS - 1) {
        assert.equal((await headUpload(s.port, c.id)).offset, offset);
        assert.equal(sha256(readFileSync(partPath(s.dataDir, c.id))), sha256(Buffer.concat(expected)),
          `round ${i}: the part file is not the winners' bytes`);
      }
    }
    assert.equal(await sha256File(incomingPath(s.dataDir, c.id)), sha256(Buffer.concat(expected)));
  });
});

test('a PATCH cut off by the client keeps what arrived; HEAD reports it; the upload resumes', async () => {
  await withServer({}, async (s) => {
    const data = patternBytes('cut', 0, 3 * MiB);
    const c = await createUpload(s.port, data.length);
    const cut = 1234567;
    const p = openPatch(s.port, c.id, 0, data.length);
    await p.write(data.subarray(0, cut));
    // The bytes reach the server's file, then the tab closes.
    await until(() => statSync(partPath(s.dataDir, c.id)).size === cut, 10000, `the ${cut} bytes to arrive`);
    p.destroy();
    const h = await until(async () => {
      const r = await headUpload(s.port, c.id);
      return r.offset === cut && r;
    }, 5000, `HEAD to report the ${cut} bytes that arrived`);
    assert.equal(h.offset, cut);
    assert.equal(sha256(readFileSync(partPath(s.dataDir, c.id))), sha256(data.subarray(0, cut)));
    const r = await patchUpload(s.port, c.id, cut, data.subarray(cut));
    assert.equal(r.status, 204, r.text);
    assert.equal(await sha256File(incomingPath(s.dataDir, c.id)), sha256(data));
  });
});

test('kill -9 mid-upload: the restarted server resumes from its durable offset and the file is byte-identical', async () => {
  const dir = tempDir('chorus-kill-');
  try {
    const LEN = 40 * MiB;
    const seed = 'kill-mid';
    let s = await startChorus({ dataDir: dir });
    const c = await createUpload(s.port, LEN);
    const p = openPatch(s.port, c.id, 0, LEN);
    const SENT = 24 * MiB;
    for (const chunk of patternChunks(seed, 0, SENT)) await p.write(chunk);
    // Past the first checkpoint, the offset is durable and recorded.
    const seen = (await until(async () => {
      const r = await headUpload(s.port, c.id);
      return r.offset >= 16 * MiB && r;
    }, 20000, 'a checkpoint')).offset;
    assert.ok(seen <= SENT);
    await s.kill();
    p.destroy();
    assert.deepEqual(sql(dir, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    assert.equal(dbState(dir, c.id).status, 'uploading');

    s = await startChorus({ dataDir: dir });
    try {
      const h = await headUpload(s.port, c.id);
      assert.equal(h.status, 200);
      assert.equal(h.length, LEN);
      assert.ok(h.offset >= seen && h.offset <= SENT, `offset after restart ${h.offset}, seen ${seen}`);
      // The part file may hold more than was made durable; never less.
      assert.ok(statSync(partPath(dir, c.id)).size >= h.offset);
      const r = await patchUpload(s.port, c.id, h.offset, patternChunks(seed, h.offset, LEN),
        { headers: { 'Content-Length': String(LEN - h.offset) } });
      assert.equal(r.status, 204, r.text);
      assert.equal(await sha256File(incomingPath(dir, c.id)), patternSha256(seed, 0, LEN));
      const st = dbState(dir, c.id);
      assert.equal(st.status, 'processing');
      assert.deepEqual(st.jobs, [{ state: 'queued', kind: 'transcode' }]);
    } finally {
      assertNoSanitizerReport((await s.stop()).log);
    }
  } finally {
    removeDir(dir);
  }
});

test('kill -9 right after the last PATCH was answered: the message is processing with its job queued', async () => {
  const dir = tempDir('chorus-kill-end-');
  try {
    const data = patternBytes('kill-end', 0, 5 * MiB + 3);
    let s = await startChorus({ dataDir: dir });
    const c = await createUpload(s.port, data.length);
    assert.equal((await patchUpload(s.port, c.id, 0, data.subarray(0, MiB))).status, 204);
    const r = await patchUpload(s.port, c.id, MiB, data.subarray(MiB));
    assert.equal(r.status, 204);
    await s.kill();

    assert.deepEqual(sql(dir, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    const st = dbState(dir, c.id);
    assert.equal(st.status, 'processing');
    assert.equal(st.upload_offset, data.length);
    assert.deepEqual(st.jobs, [{ state: 'queued', kind: 'transcode' }]);
    assert.equal(await sha256File(incomingPath(dir, c.id)), sha256(data));
    assert.ok(!existsSync(partPath(dir, c.id)));

    s = await startChorus({ dataDir: dir });
    try {
      const h = await headUpload(s.port, c.id);
      assert.equal(h.status, 200);
      assert.equal(h.offset, data.length);
      const after = dbState(dir, c.id);
      assert.equal(after.status, 'processing');
      assert.deepEqual(after.jobs, [{ state: 'queued', kind: 'transcode' }], 'exactly one job, not a second');
      const rc = await fetch(`${s.url}/api/v1/receipt`, { headers: { Authorization: `Bearer ${c.receipt}` } });
      assert.equal((await rc.json()).status, 'received');
    } finally {
      assertNoSanitizerReport((await s.stop()).log);
    }
  } finally {
    removeDir(dir);
  }
});

test('start-up recovery: an upload whose whole file was on disk when the server died is finished, not lost', async () => {
  const dir = tempDir('chorus-recover-');
  try {
    const a = patternBytes('recover-a', 0, 300000);
    const b = patternBytes('recover-b', 0, 200000);
    let ida;
    let idb;
    await withServer({ dataDir: dir }, async (s) => {
      ida = (await createUpload(s.port, a.length)).id;
      idb = (await createUpload(s.port, b.length)).id;
      assert.equal((await patchUpload(s.port, ida, 0, a.subarray(0, a.length - 1))).status, 204);
      assert.equal((await patchUpload(s.port, idb, 0, b.subarray(0, 1000))).status, 204);
    });
    // As if killed between the steps of completing: A's last byte is in
    // its part file (the row not updated); B's whole file was moved to
    // incoming/ (the row not updated).
    appendFileSync(partPath(dir, ida), a.subarray(a.length - 1));
    appendFileSync(partPath(dir, idb), b.subarray(1000));
    renameSync(partPath(dir, idb), incomingPath(dir, idb));
    assert.equal(dbState(dir, ida).status, 'uploading');
    assert.equal(dbState(dir, idb).status, 'uploading');

    await withServer({ dataDir: dir }, async (s) => {
      for (const [id, data] of [[ida, a], [idb, b]]) {
        const st = dbState(dir, id);
        assert.equal(st.status, 'processing', id);
        assert.deepEqual(st.jobs, [{ state: 'queued', kind: 'transcode' }]);
        assert.equal(await sha256File(incomingPath(dir, id)), sha256(data));
        assert.ok(!existsSync(partPath(dir, id)));
        assert.equal((await headUpload(s.port, id)).offset, data.length);
      }
    });
  } finally {
    removeDir(dir);
  }
});
