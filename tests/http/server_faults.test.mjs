// A fault of the server's own is never answered as "not found": a
// database that fails gives 500 with a JSON error on /media and the API
// alike; and conditional requests take If-None-Match lists.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertNoSanitizerReport, startChorus } from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

let s;
let admin;
let id;

before(async () => {
  s = await startChorus({ args: ['--workers', '1'] });
  admin = await loggedIn(s.url, 'admin', addUser(s.dataDir, 'admin', 'admin'));
  const clip = makeClip(`${s.dataDir}/clip.mp4`, { seconds: 1 });
  ({ id } = await sendMessage(s.url, clip));
  assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
});

after(async () => {
  const r = await s.stop();
  assert.equal(r.code, 0);
  assertNoSanitizerReport(r.log);
});

test('If-None-Match with a list, or a weak tag, answers 304', async () => {
  for (const path of ['/static/upload/chorus.css', `/media/${id}/thumb.jpg`]) {
    const first = await admin.get(path, { raw: true });
    assert.equal(first.status, 200);
    await first.arrayBuffer();
    const etag = first.headers.get('etag');
    assert.match(etag, /^"[0-9a-f-]+"$/);
    for (const inm of [`"nope", ${etag}`, `W/${etag}`, '*']) {
      const r = await admin.get(path, { raw: true, headers: { 'If-None-Match': inm } });
      assert.equal(r.status, 304, `${path} with If-None-Match: ${inm}`);
      assert.equal(r.headers.get('etag'), etag);
    }
    const r = await admin.get(path, { raw: true, headers: { 'If-None-Match': '"nope", W/"other"' } });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  }
});

test('a database fault is a 500 with a JSON error, not a 404', async () => {
  assert.equal((await admin.get(`/media/${id}/video.mp4`, { raw: true })).status, 200);
  // The table disappears under the running server.
  sql(s.dataDir, 'ALTER TABLE messages RENAME TO messages_away');
  try {
    for (const path of [`/media/${id}/video.mp4`, `/api/v1/messages/${id}`, '/api/v1/messages']) {
      const r = await admin.get(path);
      assert.equal(r.status, 500, `${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'internal');
      assert.equal(typeof r.body.message, 'string');
    }
    const r = await admin.post(`/api/v1/messages/${id}/approve`, {});
    assert.equal(r.status, 500, JSON.stringify(r.body));
  } finally {
    sql(s.dataDir, 'ALTER TABLE messages_away RENAME TO messages');
  }
  assert.equal((await admin.get(`/api/v1/messages/${id}`)).status, 200);
});
