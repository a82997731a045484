// Interoperability with the real tus-js-client (web/node_modules, the
// version web/package-lock.json pins), run by Node: a clip made with the
// ffmpeg program, uploaded in 256 KiB chunks, interrupted, resumed by a
// new client instance from its stored URL; creation-with-upload;
// termination; PATCH tunnelled through POST; a refusal it can read.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { ROOT, assertNoSanitizerReport, removeDir, startChorus, tempDir } from '../lib/chorus.mjs';
import {
  GOOD_META, headUpload, incomingPath, partPath, sha256, sha256File, sql, until,
} from '../lib/uploads.mjs';

const require = createRequire(path.join(ROOT, 'web/package.json'));
const tus = require('tus-js-client');
const CHUNK = 256 * 1024;

const dir = tempDir('chorus-tusjs-');
let srv;
let clip;
let clipSha;
before(async () => {
  clip = path.join(dir, 'clip.mp4');
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '16', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', clip], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, `ffmpeg: ${r.stderr}`);
  assert.ok(statSync(clip).size > 3 * 1024 * 1024, 'the clip spans many chunks');
  clipSha = sha256(readFileSync(clip));
  srv = await startChorus();
});
after(async () => {
  try {
    if (srv) assertNoSanitizerReport((await srv.stop()).log);
  } finally {
    removeDir(dir);
  }
});

const META = Object.fromEntries(Object.entries(GOOD_META));

/**
 * Runs a tus.Upload with opts until it succeeds or fails; records every
 * request (method, Upload-Offset, Content-Type) and response status.
 * control(upload, bytesSent, total) is called on progress.
 */
function runUpload(file, opts = {}, control = null) {
  const log = [];
  let upload;
  const done = new Promise((resolve) => {
    upload = new tus.Upload(file, {
      endpoint: `${srv.url}/api/v1/uploads`,
      chunkSize: CHUNK,
      metadata: META,
      retryDelays: null,
      ...opts,
      onBeforeRequest(req) {
        log.push({
          method: req.getMethod(),
          override: req.getHeader('X-HTTP-Method-Override'),
          offset: req.getHeader('Upload-Offset'),
          type: req.getHeader('Content-Type'),
        });
      },
      onAfterResponse(req, res) {
        log[log.length - 1].status = res.getStatus();
        log[log.length - 1].resOffset = res.getHeader('Upload-Offset');
      },
      onProgress(sent, total) { if (control) control(upload, sent, total); },
      onSuccess() { resolve({ ok: true }); },
      onError(error) { resolve({ ok: false, error }); },
    });
  });
  return { upload, log, done };
}

const idOf = (url) => /\/api\/v1\/uploads\/([A-Za-z0-9_-]{22})$/.exec(url)[1];

test('tus-js-client: interrupted mid-way (abort), resumed by a new client from the stored URL, byte-identical', async () => {
  const urlStorage = new tus.FileUrlStorage(path.join(dir, 'tus-urls.json'));
  const size = statSync(clip).size;
  let aborted = null;
  const first = runUpload(createReadStream(clip), { urlStorage }, (up, sent, total) => {
    if (aborted === null && sent >= total / 2) {
      aborted = up.abort();
    }
  });
  first.upload.start();
  // abort() ends the upload with neither success nor error: wait for it.
  await until(() => aborted !== null, 60000, 'the first half');
  await aborted;
  const url = first.upload.url;
  assert.ok(url, 'the first client learnt its upload URL');
  const id = idOf(url);
  const h = await until(async () => {
    const r = await headUpload(srv.port, id);
    // The aborted PATCH is checkpointed when the server sees it end.
    return r.status === 200 && r.offset > 0 && r;
  }, 5000, 'a partial offset');
  assert.ok(h.offset < size, `offset ${h.offset} of ${size}: the upload was not interrupted`);
  assert.equal(h.length, size);

  // A new tab: a new client instance, same file, same URL storage.
  const second = runUpload(createReadStream(clip), { urlStorage });
  const previous = await second.upload.findPreviousUploads();
  assert.equal(previous.length, 1);
  assert.equal(previous[0].uploadUrl, url);
  second.upload.resumeFromPreviousUpload(previous[0]);
  second.upload.start();
  const r = await second.done;
  assert.ok(r.ok, `resume failed: ${r.error}`);
  assert.equal(second.upload.url, url);
  assert.ok(!second.log.some((l) => l.method === 'POST'), 'the second client resumed, not re-created');
  assert.equal(second.log[0].method, 'HEAD');
  const patches = second.log.filter((l) => l.method === 'PATCH');
  assert.ok(patches.length >= 2, 'several 256 KiB chunks');
  assert.equal(Number(patches[0].offset), h.offset, 'resumed where the server stands');
  assert.ok(patches.every((p) => p.status === 204 && p.type === 'application/offset+octet-stream'));

  assert.equal(await sha256File(incomingPath(srv.dataDir, id)), clipSha);
  const [m] = sql(srv.dataDir, `SELECT status, name, country FROM messages WHERE id = '${id}'`);
  assert.deepEqual(m, { status: 'processing', name: GOOD_META.name, country: 'BY' });
  assert.deepEqual(sql(srv.dataDir, `SELECT state FROM jobs WHERE message_id = '${id}'`), [{ state: 'queued' }]);
});

test('tus-js-client: creation-with-upload sends the first chunk with the POST', async () => {
  const u = runUpload(createReadStream(clip), { uploadDataDuringCreation: true, storeFingerprintForResuming: false });
  u.upload.start();
  const r = await u.done;
  assert.ok(r.ok, `upload failed: ${r.error}`);
  const post = u.log[0];
  assert.equal(post.method, 'POST');
  assert.equal(post.type, 'application/offset+octet-stream');
  assert.equal(post.status, 201);
  assert.equal(post.resOffset, String(CHUNK));
  assert.equal(Number(u.log[1].offset), CHUNK);
  assert.equal(await sha256File(incomingPath(srv.dataDir, idOf(u.upload.url))), clipSha);
});

test('tus-js-client: PATCH tunnelled through POST (overridePatchMethod) completes the same', async () => {
  const u = runUpload(createReadStream(clip), { overridePatchMethod: true, storeFingerprintForResuming: false });
  u.upload.start();
  const r = await u.done;
  assert.ok(r.ok, `upload failed: ${r.error}`);
  const tunnelled = u.log.filter((l) => l.override === 'PATCH');
  assert.ok(tunnelled.length > 2 && tunnelled.every((l) => l.method === 'POST' && l.status === 204));
  assert.equal(await sha256File(incomingPath(srv.dataDir, idOf(u.upload.url))), clipSha);
});

test('tus-js-client: termination (abort(true)) deletes the upload on the server', async () => {
  const urlStorage = new tus.FileUrlStorage(path.join(dir, 'tus-urls-term.json'));
  let terminated = null;
  const u = runUpload(createReadStream(clip), { urlStorage }, (up, sent) => {
    if (terminated === null && sent >= 4 * CHUNK) terminated = up.abort(true);
  });
  u.upload.start();
  await until(() => terminated !== null, 60000, 'some chunks');
  await terminated;
  const id = idOf(u.upload.url);
  assert.ok(u.log.some((l) => l.method === 'DELETE' && l.status === 204), JSON.stringify(u.log.slice(-3)));
  const h = await headUpload(srv.port, id);
  assert.equal(h.status, 404);
  assert.ok(!existsSync(partPath(srv.dataDir, id)), 'the part file is gone');
  assert.ok(!existsSync(incomingPath(srv.dataDir, id)));
  assert.deepEqual(sql(srv.dataDir, `SELECT id FROM messages WHERE id = '${id}'`), []);
  // tus-js-client forgets the URL after the DELETE, without awaiting it.
  let left = null;
  await until(async () => (left = await urlStorage.findAllUploads()).length === 0, 5000,
    'the client to forget the URL').catch(() => {});
  assert.deepEqual(left, [], 'the client forgot the URL');
});

test('tus-js-client: a refused consent reaches the client as a 400 naming the field, and nothing is stored', async () => {
  const before = sql(srv.dataDir, 'SELECT count(*) AS n FROM messages')[0].n;
  const u = runUpload(createReadStream(clip), { metadata: { ...META, consent: 'no' }, storeFingerprintForResuming: false });
  u.upload.start();
  const r = await u.done;
  assert.equal(r.ok, false);
  const res = r.error.originalResponse;
  assert.equal(res.getStatus(), 400);
  const body = JSON.parse(res.getBody());
  assert.equal(body.error, 'invalid_metadata');
  assert.equal(body.field, 'consent');
  assert.equal(sql(srv.dataDir, 'SELECT count(*) AS n FROM messages')[0].n, before);
});
