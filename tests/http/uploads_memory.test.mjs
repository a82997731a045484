// Uploads stream to disk: the server's peak RSS (VmHWM) stays under
// 64 MB while a 1 GiB upload goes through in four 256 MiB PATCHes, the
// bytes generated on the fly here and never held whole on either side.
// Memory figures mean nothing under the sanitizer: skipped there.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import { SANITIZED, assertNoSanitizerReport, startChorus } from '../lib/chorus.mjs';
import {
  MiB, createUpload, headUpload, incomingPath, patchUpload, patternChunks, procMemory, sha256File, sql,
} from '../lib/uploads.mjs';

const GiB = 1024 * MiB;
const PART = 256 * MiB;
const LIMIT = 64 * 1000 * 1000;

test('a 1 GiB upload streams through with peak RSS under 64 MB, byte-identical', { skip: SANITIZED && 'memory figures are meaningless under the sanitizer' }, async () => {
  const s = await startChorus();
  try {
    const before = procMemory(s.proc.pid, 'VmHWM');
    const seed = 'one-gib';
    const c = await createUpload(s.port, GiB);
    assert.equal(c.status, 201, c.text);
    const hash = createHash('sha256');
    const t0 = Date.now();
    for (let off = 0; off < GiB; off += PART) {
      const chunks = (function* () {
        for (const chunk of patternChunks(seed, off, off + PART)) {
          hash.update(chunk);
          yield chunk;
        }
      })();
      const r = await patchUpload(s.port, c.id, off, chunks, { headers: { 'Content-Length': String(PART) } });
      assert.equal(r.status, 204, r.text);
      assert.equal(r.headers['upload-offset'], String(off + PART));
      if (off + PART < GiB) assert.equal((await headUpload(s.port, c.id)).offset, off + PART);
    }
    const seconds = (Date.now() - t0) / 1000;
    const peak = procMemory(s.proc.pid, 'VmHWM');
    console.log(`# 1 GiB in ${seconds.toFixed(1)} s (${(1024 / seconds).toFixed(0)} MiB/s); ` +
      `VmHWM ${(before / 1e6).toFixed(1)} MB at start, ${(peak / 1e6).toFixed(1)} MB after`);
    assert.ok(peak < LIMIT, `peak RSS ${(peak / 1e6).toFixed(1)} MB`);
    // Streaming, not buffering: the upload itself adds next to nothing.
    assert.ok(peak - before < 16e6, `the upload grew the peak RSS by ${((peak - before) / 1e6).toFixed(1)} MB`);
    assert.equal(await sha256File(incomingPath(s.dataDir, c.id)), hash.digest('hex'));
    assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id = '${c.id}'`)[0].status, 'processing');
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});
