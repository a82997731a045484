// Unfinished uploads cannot be used to fill the disk or starve others:
// one client opened 300 uploads of 2000 MiB in a second and parked
// enough partial bytes, one PATCH at a time, that another client's
// upload got 507 for a day. Now one client holds at most
// --max-open-uploads-per-client unfinished uploads and
// --max-parked-mb-per-client of their bytes (429 with a JSON error, on
// creation and on PATCH), while others go on uploading; all unfinished
// uploads together leave --min-free-mb free however many clients write
// at once; and the expiry sweep deletes every expired upload in one run.
//
// Clients are told apart by their address: the test binds 127.0.0.x.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, statfsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';

import { assertNoSanitizerReport, removeDir, startChorus, tempDir, testClock, until } from '../lib/chorus.mjs';
import { GOOD_META, MiB, OFFSET_TYPE, metadata, patternBytes, sql } from '../lib/uploads.mjs';

/** One request from local address `from`; body a Buffer or undefined.
 * Asks 100-continue, so a refusal comes before the body is sent. */
function req(port, from, method, urlPath, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const h = { 'Tus-Resumable': '1.0.0', Connection: 'close', ...headers };
    if (body) { h['Content-Length'] = String(body.length); h.Expect = '100-continue'; }
    const r = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: h, localAddress: from, agent: false });
    r.on('continue', () => r.end(body));
    r.on('response', (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    r.on('error', reject);
    if (body) r.flushHeaders(); else r.end();
  });
}

const MD = metadata(GOOD_META);
const create = (port, from, length) => req(port, from, 'POST', '/api/v1/uploads',
  { 'Upload-Length': String(length), 'Upload-Metadata': MD });
const idOf = (r) => /\/api\/v1\/uploads\/([\w-]+)$/.exec(r.headers.location)[1];
const patch = (port, from, id, offset, body) => req(port, from, 'PATCH', `/api/v1/uploads/${id}`,
  { 'Upload-Offset': String(offset), 'Content-Type': OFFSET_TYPE }, body);

async function withServer(args, fn, opts = {}) {
  const s = await startChorus({ args, ...opts });
  try {
    await fn(s);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
}

test('one client: 4 unfinished uploads, then 429 on creation; others are not held back; finishing one frees its place', async () => {
  // 4 is the default; the tests' helper otherwise lifts the cap.
  await withServer(['--max-open-uploads-per-client', '4'], async (s) => {
    const statuses = [];
    for (let i = 0; i < 300; i++) statuses.push((await create(s.port, '127.0.0.2', 2000 * MiB)).status);
    assert.deepEqual(statuses.slice(0, 4), [201, 201, 201, 201]);
    assert.ok(statuses.slice(4).every((x) => x === 429), 'the 296 others are refused');
    const refused = await create(s.port, '127.0.0.2', 10);
    assert.equal(refused.status, 429);
    assert.equal(refused.json().error, 'too_many_unfinished');
    assert.ok(Number(refused.headers['retry-after']) > 0);
    assert.equal(refused.headers['tus-resumable'], '1.0.0');
    // Nothing of the refused ones is kept.
    assert.equal(sql(s.dataDir, "SELECT count(*) AS n FROM messages WHERE status = 'uploading'")[0].n, 4);

    // Another client uploads as if nothing happened.
    const b = await create(s.port, '127.0.0.3', 1000);
    assert.equal(b.status, 201, b.text);
    assert.equal((await patch(s.port, '127.0.0.3', idOf(b), 0, Buffer.alloc(1000, 7))).status, 204);

    // The first client finishes one: it may start another.
    const mine = await create(s.port, '127.0.0.4', 100); // a fresh client, to have ids
    assert.equal(mine.status, 201);
    for (let i = 0; i < 3; i++) assert.equal((await create(s.port, '127.0.0.4', 100)).status, 201);
    assert.equal((await create(s.port, '127.0.0.4', 100)).status, 429);
    assert.equal((await patch(s.port, '127.0.0.4', idOf(mine), 0, Buffer.alloc(100, 1))).status, 204);
    assert.equal((await create(s.port, '127.0.0.4', 100)).status, 201);
    // Creation with its bytes counts alike.
    const withBody = await req(s.port, '127.0.0.4', 'POST', '/api/v1/uploads',
      { 'Upload-Length': '100', 'Upload-Metadata': MD, 'Content-Type': OFFSET_TYPE }, Buffer.alloc(10, 1));
    assert.equal(withBody.status, 429, withBody.text);
    assert.equal(withBody.json().error, 'too_many_unfinished');
  });
});

test('one client\'s parked bytes are capped on PATCH (429) and creation-with-upload; an upload that moves to another client counts there', async () => {
  // A cap below the largest upload would also stop that upload: the
  // default is --max-upload-mb; here both are 2 MiB.
  await withServer(['--max-open-uploads-per-client', '4', '--max-parked-mb-per-client', '2', '--max-upload-mb', '2'], async (s) => {
    const a = idOf(await create(s.port, '127.0.0.2', 2 * MiB));
    const b = idOf(await create(s.port, '127.0.0.2', 2 * MiB));
    assert.equal((await patch(s.port, '127.0.0.2', a, 0, patternBytes('a', 0, 1.5 * MiB))).status, 204);
    // 1.5 MiB parked: one more MiB would pass the cap of 2.
    const over = await patch(s.port, '127.0.0.2', b, 0, patternBytes('b', 0, MiB));
    assert.equal(over.status, 429, over.text);
    assert.equal(over.json().error, 'too_many_bytes');
    assert.equal(over.headers['tus-resumable'], '1.0.0');
    const head = await req(s.port, '127.0.0.2', 'HEAD', `/api/v1/uploads/${b}`);
    assert.equal(head.headers['upload-offset'], '0', 'nothing of the refused PATCH was stored');
    // Within the cap it goes through.
    assert.equal((await patch(s.port, '127.0.0.2', b, 0, patternBytes('b', 0, 0.5 * MiB))).status, 204);
    const cwu = await req(s.port, '127.0.0.2', 'POST', '/api/v1/uploads',
      { 'Upload-Length': String(MiB), 'Upload-Metadata': MD, 'Content-Type': OFFSET_TYPE }, patternBytes('c', 0, MiB));
    assert.equal(cwu.status, 429);
    assert.equal(cwu.json().error, 'too_many_bytes');

    // The phone changes networks: the upload resumed from another address
    // is that client's now (and finishes there), and the first client has
    // room again for the rest of the other one.
    assert.equal((await patch(s.port, '127.0.0.5', a, 1.5 * MiB, patternBytes('a', 1.5 * MiB, 0.5 * MiB))).status, 204);
    assert.equal((await patch(s.port, '127.0.0.2', b, 0.5 * MiB, patternBytes('b', 0.5 * MiB, 1.5 * MiB))).status, 204);
    // Finished uploads hold nothing.
    const d = idOf(await create(s.port, '127.0.0.2', 2 * MiB));
    assert.equal((await patch(s.port, '127.0.0.2', d, 0, patternBytes('d', 0, 2 * MiB))).status, 204);
    assert.equal(sql(s.dataDir, "SELECT count(*) AS n FROM messages WHERE status = 'processing'")[0].n, 3);
  });
});

const canMount = (() => {
  const d = tempDir('chorus-mount-probe-');
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', d]).status === 0;
  if (ok) spawnSync('umount', ['-l', d]);
  removeDir(d);
  return ok;
})();

test('five clients writing at once never eat into --min-free-mb: the ones that would get 507 before a byte is stored', { skip: canMount ? false : 'needs root to mount a tmpfs' }, async () => {
  const root = tempDir('chorus-reserve-');
  const data = path.join(root, 'data');
  mkdirSync(data);
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'tmpfs', data]).status, 0);
  const RESERVE = 24;
  try {
    await withServer(['--min-free-mb', String(RESERVE), '--max-uploads-per-client', '0'], async (s) => {
      const size = 12 * MiB;
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(idOf(await create(s.port, `127.0.0.${10 + i}`, size)));
      // Every PATCH is open at once, each having sent its first MiB.
      const open = ids.map((id, i) => {
        const h = { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': OFFSET_TYPE, 'Content-Length': String(size), Expect: '100-continue', Connection: 'close' };
        const r = http.request({ host: '127.0.0.1', port: s.port, method: 'PATCH', path: `/api/v1/uploads/${id}`, headers: h, localAddress: `127.0.0.${10 + i}`, agent: false });
        const u = { r, status: null };
        u.heard = new Promise((resolve) => {
          r.on('continue', () => { r.write(patternBytes(id, 0, MiB)); resolve(); });
          r.on('response', (res) => { u.status = res.statusCode; res.resume(); resolve(); });
        });
        u.done = new Promise((resolve) => { r.on('close', resolve); });
        r.on('error', () => {});
        r.flushHeaders();
        return u;
      });
      await Promise.all(open.map((u) => u.heard));
      const admitted = open.filter((u) => u.status === null);
      const refused = open.filter((u) => u.status !== null);
      // 64 MiB, 24 kept free: room for the rest of three uploads, not five.
      assert.equal(admitted.length, 3, `${admitted.length} admitted`);
      for (const u of refused) assert.equal(u.status, 507);
      for (const u of admitted) {
        for (let off = MiB; off < size; off += MiB) u.r.write(patternBytes('x', off, MiB));
        u.r.end();
      }
      await Promise.all(admitted.map((u) => u.done));
      const free = statfsSync(data);
      assert.ok(free.bavail * free.bsize >= RESERVE * MiB,
        `${(free.bavail * free.bsize / MiB).toFixed(1)} MiB free, under the reserve of ${RESERVE}`);
      assert.equal(sql(s.dataDir, "SELECT count(*) AS n FROM messages WHERE status = 'processing'")[0].n, 3);
    }, { dataDir: data, keepDir: true });
  } finally {
    spawnSync('umount', ['-l', data]);
    removeDir(root);
  }
});

test('the expiry sweep deletes every expired upload in one run, however many (not 200 a run)', async () => {
  const dir = tempDir('chorus-sweep-');
  const clock = testClock(dir);
  try {
    await withServer(['--sweep-interval', '1', '--upload-expiry', '3600'], async (s) => {
      for (let i = 0; i < 450; i++) assert.equal((await create(s.port, '127.0.0.2', 10)).status, 201);
      clock.advance(7200);
      await until(() => /deleted 450 expired unfinished uploads/.test(s.log()), 30000, 'one sweep of all 450');
      assert.equal(sql(s.dataDir, 'SELECT count(*) AS n FROM messages')[0].n, 0);
    }, { env: clock.env() });
  } finally {
    removeDir(dir);
  }
});

test('after a restart the unfinished uploads belong to nobody until a client resumes one', async () => {
  const dir = tempDir('chorus-restart-caps-');
  try {
    let ids = [];
    await withServer(['--max-open-uploads-per-client', '2'], async (s) => {
      ids = [idOf(await create(s.port, '127.0.0.2', 100)), idOf(await create(s.port, '127.0.0.2', 100))];
      assert.equal((await create(s.port, '127.0.0.2', 100)).status, 429);
    }, { dataDir: dir, keepDir: true });
    await withServer(['--max-open-uploads-per-client', '2'], async (s) => {
      // Nothing in memory survived: the client starts from nothing...
      const fresh = idOf(await create(s.port, '127.0.0.2', 100));
      // ... and resuming an old upload makes it its own again, counted.
      assert.equal((await patch(s.port, '127.0.0.2', ids[0], 0, Buffer.alloc(10, 1))).status, 204);
      const third = await patch(s.port, '127.0.0.2', ids[1], 0, Buffer.alloc(10, 1));
      assert.equal(third.status, 429, 'a third unfinished upload, resumed, is over the cap');
      assert.equal(third.json().error, 'too_many_unfinished');
      assert.equal((await patch(s.port, '127.0.0.2', fresh, 0, Buffer.alloc(100, 1))).status, 204);
      assert.equal((await patch(s.port, '127.0.0.2', ids[1], 0, Buffer.alloc(100, 1))).status, 204);
    }, { dataDir: dir, keepDir: true });
  } finally {
    removeDir(dir);
  }
});
