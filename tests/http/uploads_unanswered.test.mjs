// A creation the client never hears about leaves nothing behind. Before:
// a chunked creation-with-upload whose body ran past Upload-Length was
// cut off without an answer but left an "uploading" row (with the
// contributor's name and message) that nobody could ever resume or
// withdraw. Now a creation's row is made only when its answer is ready;
// a creation cut off before (too long, the client gone, the server
// killed) leaves no row and no part file.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';

import { assertNoSanitizerReport, removeDir, startChorus, tempDir, until } from '../lib/chorus.mjs';
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
