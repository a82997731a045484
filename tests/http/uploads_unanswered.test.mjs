// A creation the client never hears about leaves nothing behind. Before:
// a chunked creation-with-upload whose body ran past Upload-Length was
// cut off without an answer but left an "uploading" row (with the
// contributor's name and message) that nobody could ever resume or
// withdraw. Now a creation's row is made only when its answer is ready;
// a creation cut off before (too long, the client gone, the server
// killed) leaves no row and no part file, and one whose answer cannot
// go out (the client reset the connection while its row was being made)
// is dropped, or, whole, withdrawn. The same for the form.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';

import { assertNoSanitizerReport, rawRequest, removeDir, startChorus, tempDir, until } from '../lib/chorus.mjs';
import { leftovers, walSize } from '../lib/leftovers.mjs';
import { GOOD_META, createUpload, filesIn, metadata, partPath, sql } from '../lib/uploads.mjs';

const count = (dir) => sql(dir, 'SELECT count(*) AS n FROM messages')[0].n;

/** Sends the head of a chunked creation-with-upload; returns the socket
 * and a promise of everything it heard until it closed. */
function chunkedCreation(port, length) {
  const sock = net.connect(port, '127.0.0.1');
  let heard = '';
  sock.on('data', (d) => { heard += d; });
  sock.on('error', () => {});
  const closed = new Promise((r) => sock.on('close', () => r(heard)));
  sock.write(['POST /api/v1/uploads HTTP/1.1', 'Host: x', 'Tus-Resumable: 1.0.0', `Upload-Length: ${length}`,
    `Upload-Metadata: ${metadata(GOOD_META)}`, 'Content-Type: application/offset+octet-stream',
    'Transfer-Encoding: chunked', '', ''].join('\r\n'));
  const chunk = (buf) => sock.write(`${buf.length.toString(16)}\r\n${buf.toString('latin1')}\r\n`);
  return { sock, closed, chunk };
}

test('a chunked creation-with-upload that runs past Upload-Length is cut off and leaves no row, no file', async () => {
  const s = await startChorus();
  try {
    const c = chunkedCreation(s.port, 100);
    c.chunk(Buffer.alloc(60, 1));
    c.chunk(Buffer.alloc(60, 2)); // 120 > 100
    c.sock.write('0\r\n\r\n');
    const heard = await c.closed;
    assert.doesNotMatch(heard, /^HTTP\/1\.1 201/, 'it was never created');
    await until(() => filesIn(s.dataDir, 'uploads').length === 0, 5000, 'the part file to go');
    assert.equal(count(s.dataDir), 0, 'a row the client never learnt of');
    assert.doesNotMatch(s.log(), /Алесь|Free Trade Union/);

    // The same within its length is created, and says where it stands.
    const ok = await createUpload(s.port, 100, { body: Buffer.alloc(60, 3) });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.headers['upload-offset'], '60');
    assert.equal(sql(s.dataDir, `SELECT upload_offset AS o FROM messages WHERE id = '${ok.id}'`)[0].o, 60);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});

test('a creation-with-upload whose client goes away mid-body leaves no row, no file', async () => {
  const s = await startChorus();
  try {
    const c = chunkedCreation(s.port, 1000000);
    c.chunk(Buffer.alloc(50000, 1));
    await until(() => filesIn(s.dataDir, 'uploads').length === 1, 5000, 'the body to start arriving');
    c.sock.destroy();
    await until(() => filesIn(s.dataDir, 'uploads').length === 0, 5000, 'the part file to go');
    assert.equal(count(s.dataDir), 0);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});

test('a creation cut off by kill -9 mid-body: after the restart no row and no part file', async () => {
  const dir = tempDir('chorus-unanswered-');
  try {
    let s = await startChorus({ dataDir: dir, keepDir: true });
    const c = chunkedCreation(s.port, 1000000);
    c.chunk(Buffer.alloc(50000, 1));
    await until(() => filesIn(dir, 'uploads').length === 1, 5000, 'the body to start arriving');
    const [part] = filesIn(dir, 'uploads');
    await s.kill();
    c.sock.destroy();
    assert.equal(count(dir), 0);
    s = await startChorus({ dataDir: dir, keepDir: true });
    try {
      assert.ok(!existsSync(partPath(dir, part.replace(/\.part$/, ''))), 'the orphan part file stayed');
      assert.deepEqual(filesIn(dir, 'uploads'), []);
      assert.match(s.log(), /a part file no answered request made; deleted/);
    } finally {
      assertNoSanitizerReport((await s.stop()).log);
    }
  } finally {
    removeDir(dir);
  }
});

/**
 * Holds SQLite's write lock on the server's database from another
 * process (the sqlite3 program) until release(): a request that reached
 * the point of making its row waits there, with every byte read, while
 * the test cuts the connection, so its answer cannot go out.
 */
async function holdWriteLock(dir) {
  const p = spawn('sqlite3', ['-cmd', '.timeout 5000', path.join(dir, 'chorus.db')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => p.on('exit', r));
  p.stdin.write("BEGIN IMMEDIATE;\nSELECT 'locked';\n");
  await until(() => /locked/.test(out), 10000, `the write lock (${out})`);
  return {
    async release() {
      p.stdin.end('ROLLBACK;\n');
      await exited;
    },
  };
}

/** Writes a whole request over a raw socket; resolves once it is
 * handed to the kernel. reset() then cuts the connection with an RST
 * and resolves once it is closed; heard() is what came back. */
async function rawSend(port, bytes) {
  const sock = net.connect(port, '127.0.0.1');
  let heard = '';
  sock.on('data', (d) => { heard += d.toString('latin1'); });
  sock.on('error', () => {});
  const closed = new Promise((r) => sock.on('close', r));
  await new Promise((r) => sock.once('connect', r));
  await new Promise((r, j) => sock.write(bytes, (e) => (e ? j(e) : r())));
  return {
    heard: () => heard,
    async reset() {
      sock.resetAndDestroy();
      await closed;
    },
  };
}

const tusCreation = (length, body) => Buffer.concat([
  Buffer.from(['POST /api/v1/uploads HTTP/1.1', 'Host: x', 'Tus-Resumable: 1.0.0', `Upload-Length: ${length}`,
    `Upload-Metadata: ${metadata(GOOD_META)}`, 'Content-Type: application/offset+octet-stream',
    `Content-Length: ${body.length}`, '', ''].join('\r\n')),
  body]);

const rows = (dir) => sql(dir, 'SELECT id, status, name, organization, message, country FROM messages');
const PERSONAL = /Алесь|Free Trade Union|Salidarn/;

/**
 * Sends request, waits until ready() says the server has read it all and
 * is making its row (held there by the write lock), resets the
 * connection, lets the row be made. Returns what the client heard.
 */
async function unanswered(s, request, ready) {
  const lock = await holdWriteLock(s.dataDir);
  let c;
  try {
    c = await rawSend(s.port, request);
    await until(ready, 10000, 'the whole request to be read');
    await c.reset();
  } finally {
    await lock.release();
  }
  await until(() => /\(cut off\)/.test(s.log()), 15000, 'the server to find the answer undeliverable');
  return c.heard();
}

/** The one row left of a whole upload whose answer never went out: its
 * id, status and day, no personal data, no job, no file, nothing logged;
 * once the WAL is truncated, nothing of what it carried in any file. */
async function assertWithdrawnHusk(s) {
  const r = rows(s.dataDir);
  assert.equal(r.length, 1, JSON.stringify(r));
  assert.equal(r[0].status, 'withdrawn');
  assert.deepEqual([r[0].name, r[0].organization, r[0].message, r[0].country], [null, null, null, null]);
  assert.deepEqual(sql(s.dataDir, "SELECT state FROM jobs WHERE state IN ('queued', 'running')"), [], 'a job for it');
  for (const sub of ['uploads', 'incoming', 'originals', 'media']) assert.deepEqual(filesIn(s.dataDir, sub), [], sub);
  assert.doesNotMatch(s.log(), PERSONAL);
  await until(() => walSize(s.dataDir) === 0, 10000, 'the WAL truncated after the withdrawal');
  assert.deepEqual(leftovers(s.dataDir, s.log(), [GOOD_META.name, GOOD_META.organization, 'Salidarnas']), []);
}

test('a whole creation-with-upload whose 201 cannot be sent: withdrawn, no file, no personal data', async () => {
  const s = await startChorus();
  try {
    const body = Buffer.alloc(3000, 7);
    const heard = await unanswered(s, tusCreation(body.length, body),
      () => filesIn(s.dataDir, 'incoming').length === 1); // moved there, whole, before its row
    assert.equal(heard, '', 'no answer reached the client');
    await until(() => /its creation was not answered; dropped/.test(s.log()), 10000, 'the creation to be dropped');
    // The row was made (the client might have heard of it) and then
    // withdrawn: only its id, status and day are left.
    await assertWithdrawnHusk(s);

    // The server goes on answering.
    const ok = await createUpload(s.port, 100, { body: Buffer.alloc(100, 3) });
    assert.equal(ok.status, 201, ok.text);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});

test('a partial creation-with-upload whose 201 cannot be sent: no row, no part file', async () => {
  const s = await startChorus();
  try {
    const body = Buffer.alloc(3000, 8);
    const part = () => filesIn(s.dataDir, 'uploads').find((f) => f.endsWith('.part'));
    const heard = await unanswered(s, tusCreation(10000, body),
      () => part() && statSync(path.join(s.dataDir, 'uploads', part())).size === body.length);
    assert.equal(heard, '', 'no answer reached the client');
    await until(() => /its creation was not answered; dropped/.test(s.log()), 10000, 'the creation to be dropped');
    assert.deepEqual(rows(s.dataDir), []);
    assert.deepEqual(filesIn(s.dataDir, 'uploads'), []);
    assert.doesNotMatch(s.log(), PERSONAL);

    const ok = await createUpload(s.port, 100, { body: Buffer.alloc(60, 3) });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.headers['upload-offset'], '60');
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});

/** A multipart/form-data POST /api/v1/messages: its head and body. */
function formRequest(video) {
  const boundary = '----chorusunanswered';
  const fields = Object.entries(GOOD_META).filter(([k]) => k !== 'filename' && k !== 'filetype');
  const parts = fields.map(([k, v]) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="video"; filename="clip.mp4"\r\n` +
    'Content-Type: video/mp4\r\n\r\n'), video, Buffer.from(`\r\n--${boundary}--\r\n`));
  const body = Buffer.concat(parts);
  const head = Buffer.from(['POST /api/v1/messages HTTP/1.1', 'Host: x', 'Connection: close',
    `Content-Type: multipart/form-data; boundary=${boundary}`, `Content-Length: ${body.length}`, '', ''].join('\r\n'));
  return { head, body };
}

test('a form cut off mid-way leaves no row and no file', async () => {
  const s = await startChorus();
  try {
    const { head, body } = formRequest(Buffer.alloc(200000, 5));
    const c = await rawSend(s.port, Buffer.concat([head, body.subarray(0, 100000)]));
    await until(() => filesIn(s.dataDir, 'uploads').length === 1, 5000, 'the video to start arriving');
    await c.reset();
    await until(() => filesIn(s.dataDir, 'uploads').length === 0, 5000, 'the part file to go');
    assert.deepEqual(rows(s.dataDir), []);
    assert.deepEqual(filesIn(s.dataDir, 'incoming'), []);
    assert.doesNotMatch(s.log(), PERSONAL);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});

test('a whole form whose 201 cannot be sent: withdrawn, no file, no personal data', async () => {
  const s = await startChorus();
  try {
    const { head, body } = formRequest(Buffer.alloc(3000, 6));
    const heard = await unanswered(s, Buffer.concat([head, body]),
      () => filesIn(s.dataDir, 'incoming').length === 1);
    assert.equal(heard, '', 'no answer reached the client');
    await until(() => /its answer did not go out; withdrawn/.test(s.log()), 10000, 'the message to be withdrawn');
    await assertWithdrawnHusk(s);

    // The same form, answered, is taken.
    const again = formRequest(Buffer.alloc(3000, 6));
    const ok = await rawRequest(s.port, Buffer.concat([again.head, again.body]));
    assert.equal(ok.status, 201, ok.body);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});
