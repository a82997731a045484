// The limits that keep one client (or a full disk) from hurting the
// others, and what each leaves behind: uploads per address (429 with
// Retry-After), the idle timeout (slow-loris), the minimum upload rate,
// and a full disk (507, nothing stored is lost, the upload resumes).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';

import { assertNoSanitizerReport, removeDir, sleep, startChorus, tempDir, until } from '../lib/chorus.mjs';
import {
  MiB, TUS_VERSION, createUpload, filesIn, headUpload, incomingPath, openPatch, partPath,
  patchUpload, patternBytes, sha256, sha256File, sql,
} from '../lib/uploads.mjs';

async function withServer(args, fn, opts = {}) {
  const s = await startChorus({ args, ...opts });
  try {
    await fn(s);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
}

const count = (dir) => sql(dir, 'SELECT count(*) AS n FROM messages')[0].n;

test('429 with Retry-After past --max-uploads-per-ip; a refused creation leaves nothing; the slot frees', async () => {
  await withServer(['--max-uploads-per-ip', '1'], async (s) => {
    const a = await createUpload(s.port, 10000);
    const b = await createUpload(s.port, 10000);
    // A holds the address's only slot while its body comes in: once its
    // first bytes are in the file, the server has given it the slot.
    const pa = openPatch(s.port, a.id, 0, 10000);
    await pa.write(Buffer.alloc(1000, 1));
    await until(() => statSync(partPath(s.dataDir, a.id)).size === 1000, 10000, 'A\'s first bytes');

    const r = await patchUpload(s.port, b.id, 0, Buffer.alloc(1000, 2));
    assert.equal(r.status, 429, r.text);
    assert.equal(r.headers['tus-resumable'], TUS_VERSION);
    assert.ok(Number(r.headers['retry-after']) > 0, `Retry-After: ${r.headers['retry-after']}`);
    assert.equal(r.json().error, 'too_many_uploads');
    assert.equal((await headUpload(s.port, b.id)).offset, 0);

    // Creation-with-upload is an upload too; refused, it must not leave
    // an upload (and the contributor's details) behind that nobody knows.
    const rows = count(s.dataDir);
    const parts = filesIn(s.dataDir, 'uploads').length;
    const c = await createUpload(s.port, 1000, { body: Buffer.alloc(1000, 3) });
    assert.equal(c.status, 429, c.text);
    assert.ok(Number(c.headers['retry-after']) > 0);
    assert.equal(count(s.dataDir), rows, 'a refused creation left a message row');
    assert.equal(filesIn(s.dataDir, 'uploads').length, parts, 'a refused creation left a part file');

    // Creating without bytes and HEAD take no slot.
    assert.equal((await createUpload(s.port, 10)).status, 201);
    assert.equal((await headUpload(s.port, b.id)).status, 200);

    await pa.write(Buffer.alloc(9000, 1));
    pa.end();
    assert.equal((await pa.response).status, 204);
    const again = await patchUpload(s.port, b.id, 0, Buffer.alloc(1000, 2));
    assert.equal(again.status, 204, 'the slot is given back when an upload ends');
  });
});

test('idle timeout: a PATCH that goes silent is cut off, keeps what arrived, and resumes', async () => {
  await withServer(['--idle-timeout', '1'], async (s) => {
    const data = patternBytes('idle', 0, 300000);
    const c = await createUpload(s.port, data.length);
    const p = openPatch(s.port, c.id, 0, data.length);
    await p.write(data.subarray(0, 100000));
    const t0 = Date.now();
    const res = await p.response;
    const ms = Date.now() - t0;
    assert.notEqual(res.status, 204);
    assert.ok(ms < 6000, `the silent upload was cut off only after ${ms} ms`);
    const h = await headUpload(s.port, c.id);
    assert.equal(h.offset, 100000, 'HEAD reports what arrived before the silence');
    assert.equal(sha256(readFileSync(partPath(s.dataDir, c.id))), sha256(data.subarray(0, 100000)));
    assert.equal((await patchUpload(s.port, c.id, 100000, data.subarray(100000))).status, 204);
    assert.equal(await sha256File(incomingPath(s.dataDir, c.id)), sha256(data));

    // Slow-loris: headers that never end.
    const sock = net.connect(s.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(`PATCH /api/v1/uploads/${c.id} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n`);
    const t1 = Date.now();
    await new Promise((r) => { sock.on('close', r); sock.on('error', () => {}); sock.resume(); });
    assert.ok(Date.now() - t1 < 6000, `unfinished headers kept the connection ${Date.now() - t1} ms`);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  });
});

test('minimum upload rate: a trickle is cut off after the window; a normal upload is not', async () => {
  await withServer(['--min-upload-rate', '20000', '--upload-rate-window', '1', '--idle-timeout', '30'], async (s) => {
    const data = patternBytes('rate', 0, 200000);
    const c = await createUpload(s.port, data.length);
    const p = openPatch(s.port, c.id, 0, data.length);
    let sent = 0;
    let answer = null;
    p.response.then((r) => { answer = r; });
    const t0 = Date.now();
    // The first bytes reach the part file (on a loaded machine the server
    // may otherwise cut the trickle before it has read a byte of it)...
    assert.ok(await p.write(data.subarray(0, 1000)));
    sent = 1000;
    await until(() => existsSync(partPath(s.dataDir, c.id)) && statSync(partPath(s.dataDir, c.id)).size > 0,
      10000, 'the first bytes in the part file');
    // ...then a slow client: 1000 bytes every 100 ms, 10 KB/s, half the minimum.
    while (answer === null && sent < data.length && Date.now() - t0 < 10000) {
      if (!(await p.write(data.subarray(sent, sent + 1000)))) break;
      sent += 1000;
      await sleep(100);
    }
    const res = await p.response;
    const ms = Date.now() - t0;
    assert.notEqual(res.status, 204);
    assert.ok(ms < 5000, `a 10 KB/s upload ran ${ms} ms against a 20 KB/s minimum`);
    // What arrived is kept: the cut connection's bytes are recorded as the
    // server closes it, which the client may hear of first.
    const h = await until(async () => {
      const r = await headUpload(s.port, c.id);
      return r.offset > 0 ? r : null;
    }, 10000, 'the bytes that arrived to be recorded');
    assert.ok(h.offset <= sent, `offset ${h.offset} of ${sent} sent`);
    assert.equal(sha256(readFileSync(partPath(s.dataDir, c.id))), sha256(data.subarray(0, h.offset)),
      'what was kept is the start of what was sent');

    // Sent at loopback speed, the rest goes through.
    const rest = await patchUpload(s.port, c.id, h.offset, data.subarray(h.offset));
    assert.equal(rest.status, 204, rest.text);
    assert.equal(await sha256File(incomingPath(s.dataDir, c.id)), sha256(data));
  });
});

test('full disk: 507 for PATCH and creation, the stored bytes untouched; after a restart with room it completes', async () => {
  const dir = tempDir('chorus-full-');
  try {
    const data = patternBytes('full-disk', 0, 3 * MiB);
    let id;
    await withServer([], async (s) => {
      const c = await createUpload(s.port, data.length);
      id = c.id;
      assert.equal((await patchUpload(s.port, id, 0, data.subarray(0, MiB))).status, 204);
    }, { dataDir: dir });

    await withServer(['--min-free-mb', '1000000'], async (s) => {
      const r = await patchUpload(s.port, id, MiB, data.subarray(MiB, 2 * MiB));
      assert.equal(r.status, 507, r.text);
      assert.equal(r.headers['tus-resumable'], TUS_VERSION);
      assert.equal(r.json().error, 'disk_full');
      const h = await headUpload(s.port, id);
      assert.equal(h.status, 200);
      assert.equal(h.offset, MiB, 'HEAD offset unchanged');
      assert.equal(statSync(partPath(dir, id)).size, MiB);
      const rows = count(dir);
      const c = await createUpload(s.port, 1000);
      assert.equal(c.status, 507, c.text);
      assert.equal(count(dir), rows, 'no upload created on a full disk');
    }, { dataDir: dir });

    await withServer([], async (s) => {
      assert.equal((await headUpload(s.port, id)).offset, MiB);
      const r = await patchUpload(s.port, id, MiB, data.subarray(MiB));
      assert.equal(r.status, 204, r.text);
      assert.ok(!existsSync(partPath(dir, id)));
      assert.equal(await sha256File(incomingPath(dir, id)), sha256(data));
      assert.equal(sql(dir, `SELECT status FROM messages WHERE id = '${id}'`)[0].status, 'processing');
    }, { dataDir: dir });
  } finally {
    removeDir(dir);
  }
});
