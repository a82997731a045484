// The panel API: sessions, access by role, CSRF, throttling, decisions
// and their audit trail, media with Range. Messages come through the real
// upload path and the real worker.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  assertNoSanitizerReport, chorus, removeDir, startChorus, tempDir, testClock,
} from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, Client, loggedIn } from '../lib/panel.mjs';

const dir = tempDir('chorus-panel-');
let s;
const pw = {};
const ids = [];
let admin;
let mod;
let mod2;
let comms;

before(async () => {
  s = await startChorus({ args: ['--workers', '1', '--session-idle', '600'] });
  for (const [n, r] of [['admin', 'admin'], ['mod', 'moderator'], ['mod2', 'moderator'], ['comms', 'comms']]) {
    pw[n] = addUser(s.dataDir, n, r);
  }
  const clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 2 });
  const metas = [
    { country: 'BY', language: 'be', name: 'Алеся', message: 'Свабоду!' },
    { country: 'UA', language: 'uk', name: 'Olena', organization: 'Miners union' },
    { country: 'BY', language: 'ru', consent_scope: 'union' },
    { country: 'KZ', language: 'ru', name: 'Aigul' },
  ];
  for (const m of metas) ids.push((await sendMessage(s.url, clip, m)).id);
  for (const id of ids) assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
  admin = await loggedIn(s.url, 'admin', pw.admin);
  mod = await loggedIn(s.url, 'mod', pw.mod);
  mod2 = await loggedIn(s.url, 'mod2', pw.mod2);
  comms = await loggedIn(s.url, 'comms', pw.comms);
});
after(async () => {
  const r = await s.stop();
  assert.equal(r.code, 0);
  assertNoSanitizerReport(r.log);
  removeDir(dir);
});

const ROUTES = [
  ['GET', '/api/v1/session'], ['DELETE', '/api/v1/session'],
  ['GET', '/api/v1/messages'], ['GET', '/api/v1/messages/AAAAAAAAAAAAAAAAAAAAAA'],
  ['POST', '/api/v1/messages/AAAAAAAAAAAAAAAAAAAAAA/approve'],
  ['POST', '/api/v1/messages/AAAAAAAAAAAAAAAAAAAAAA/reject'],
  ['POST', '/api/v1/messages/AAAAAAAAAAAAAAAAAAAAAA/reopen'],
  ['POST', '/api/v1/messages/AAAAAAAAAAAAAAAAAAAAAA/retry'],
  ['POST', '/api/v1/messages/AAAAAAAAAAAAAAAAAAAAAA/reshared'],
  ['GET', '/api/v1/export.zip'],
  ['GET', '/media/AAAAAAAAAAAAAAAAAAAAAA/video.mp4'],
  ['GET', '/api/v1/users'], ['POST', '/api/v1/users'], ['PATCH', '/api/v1/users/x'],
  ['DELETE', '/api/v1/users/x'], ['GET', '/api/v1/audit'],
];

test('every panel route answers 401 without a session', async () => {
  const anon = new Client(s.url);
  for (const [m, p] of ROUTES) {
    const r = await anon.req(m, p, { json: m === 'GET' || m === 'DELETE' ? undefined : {} });
    assert.equal(r.status, 401, `${m} ${p}`);
    assert.equal(r.body.error, 'login_required');
  }
  // A made-up cookie is no better.
  anon.cookie = 'x'.repeat(43);
  assert.equal((await anon.get('/api/v1/messages')).status, 401);
});

test('the wrong role gets 403', async () => {
  const cases = [
    [comms, 'POST', `/api/v1/messages/${ids[0]}/approve`],
    [comms, 'POST', `/api/v1/messages/${ids[0]}/reject`],
    [comms, 'GET', '/api/v1/messages?status=pending'],
    [mod, 'POST', `/api/v1/messages/${ids[0]}/reopen`],
    [mod, 'POST', `/api/v1/messages/${ids[0]}/retry`],
    [mod, 'POST', `/api/v1/messages/${ids[0]}/reshared`],
    [mod, 'GET', '/api/v1/export.zip'],
    [mod, 'GET', '/api/v1/users'], [mod, 'POST', '/api/v1/users'],
    [comms, 'GET', '/api/v1/audit'], [mod, 'DELETE', '/api/v1/users/admin'],
  ];
  for (const [c, m, p] of cases) {
    const r = await c.req(m, p, { json: m === 'GET' || m === 'DELETE' ? undefined : { reason: 'x' } });
    assert.equal(r.status, 403, `${c === comms ? 'comms' : 'mod'} ${m} ${p}`);
  }
  assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id='${ids[0]}'`), 'pending');
});

test('state changes without the CSRF token, or from another site, get 403', async () => {
  let r = await mod.post(`/api/v1/messages/${ids[0]}/approve`, {}, { csrf: false });
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'csrf');
  r = await mod.post(`/api/v1/messages/${ids[0]}/approve`, {}, { csrf: false, headers: { 'X-CSRF-Token': 'y'.repeat(43) } });
  assert.equal(r.status, 403);
  r = await mod.post(`/api/v1/messages/${ids[0]}/approve`, {}, { headers: { 'Sec-Fetch-Site': 'cross-site' } });
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'cross_site');
  // Another session's token does not fit this one.
  r = await mod.post(`/api/v1/messages/${ids[0]}/approve`, {}, { csrf: false, headers: { 'X-CSRF-Token': mod2.csrf } });
  assert.equal(r.status, 403);
  assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id='${ids[0]}'`), 'pending');
  // Every state-changing route, not only approve: one check guards them all.
  for (const [method, p] of ROUTES.filter(([m]) => m !== 'GET')) {
    r = await admin.req(method, p.replace('AAAAAAAAAAAAAAAAAAAAAA', ids[0]), { json: {}, csrf: false });
    assert.equal(r.status, 403, `${method} ${p}`);
    assert.equal(r.body.error, 'csrf', `${method} ${p}`);
  }
  assert.equal((await admin.get('/api/v1/session')).status, 200, 'the refused logout left the session alone');
});

test('login: cookie flags, a new session each time, same error for unknown user and wrong password', async () => {
  const a = new Client(s.url);
  const r = await a.login('mod', pw.mod);
  assert.match(r.setCookie, /HttpOnly/);
  assert.match(r.setCookie, /SameSite=Strict/);
  assert.match(r.setCookie, /Path=\//);
  assert.doesNotMatch(r.setCookie, /Secure/); // plain http here
  assert.deepEqual(Object.keys(r.body).sort(), ['csrf_token', 'role', 'user']);
  const b = new Client(s.url);
  await b.login('mod', pw.mod);
  assert.notEqual(a.cookie, b.cookie);
  assert.notEqual(a.csrf, b.csrf);
  // The token is stored only as a hash.
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM sessions WHERE hex(token_hash) LIKE '%${Buffer.from(a.cookie).toString('hex').slice(0, 16).toUpperCase()}%'`), '0');
  const unknown = await new Client(s.url).login('nobody', 'whatever-password');
  const wrong = await new Client(s.url).login('mod2', 'wrong-password-x');
  assert.equal(unknown.status, 401);
  assert.equal(wrong.status, 401);
  assert.deepEqual(unknown.body, wrong.body);
});

test('a session over https-served panels gets the Secure flag', async () => {
  const t = await startChorus({ args: ['--public-url', 'https://chorus.example.org'] });
  try {
    const p = addUser(t.dataDir, 'x', 'admin');
    const r = await new Client(t.url).login('x', p);
    assert.match(r.setCookie, /; Secure/);
  } finally { assertNoSanitizerReport((await t.stop()).log); }
});

test('logout ends the session for real; an idle session expires, a busy one at --session-max', async () => {
  const c = await loggedIn(s.url, 'mod2', pw.mod2);
  const stolen = new Client(s.url);
  stolen.cookie = c.cookie;
  assert.equal((await stolen.get('/api/v1/session')).status, 200);
  const r = await c.req('DELETE', '/api/v1/session');
  assert.equal(r.status, 204);
  assert.match(r.headers.get('set-cookie'), /Max-Age=0/);
  assert.equal((await stolen.get('/api/v1/session')).status, 401);

  // Expiry is a matter of the server's clock: the test moves it instead
  // of waiting (steps well clear of the limits, so real time passing
  // meanwhile cannot tip one over).
  const clock = testClock(dir);
  const t = await startChorus({ args: ['--session-idle', '600', '--session-max', '1800'], env: clock.env() });
  try {
    const p = addUser(t.dataDir, 'y', 'moderator');
    const idle = await loggedIn(t.url, 'y', p);
    const busy = await loggedIn(t.url, 'y', p);
    assert.equal((await idle.get('/api/v1/session')).status, 200);
    // One session stays silent, the other is used every 500 s.
    clock.advance(500);
    assert.equal((await busy.get('/api/v1/session')).status, 200, 'busy at 500 s');
    clock.advance(500);
    assert.equal((await busy.get('/api/v1/session')).status, 200, 'busy at 1000 s');
    assert.equal((await idle.get('/api/v1/session')).status, 401, 'idle expiry');
    // In use until shortly before --session-max (counted from the
    // login), the busy one still ends then.
    clock.advance(500);
    assert.equal((await busy.get('/api/v1/session')).status, 200, 'busy at 1500 s');
    clock.advance(200);
    assert.equal((await busy.get('/api/v1/session')).status, 200, 'busy at 1700 s');
    clock.advance(200);
    assert.equal((await busy.get('/api/v1/session')).status, 401, 'absolute expiry');
  } finally { assertNoSanitizerReport((await t.stop()).log); }
});

test('repeated failed logins, per name and per client, are throttled with 429 and Retry-After', async () => {
  const t = await startChorus();
  try {
    const p = addUser(t.dataDir, 'z', 'moderator');
    for (let i = 0; i < 5; i++) assert.equal((await new Client(t.url).login('z', 'bad-password-x')).status, 401);
    const r = await new Client(t.url).login('z', p); // even the right one, for now
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.equal(sql(t.dataDir, "SELECT count(*) FROM audit WHERE action = 'login.failed' AND target = 'z'"), '5');
    // One client guessing across many names is held back too: after 20
    // failures in all (the 5 above count).
    for (let i = 5; i < 20; i++) assert.equal((await new Client(t.url).login(`guess${i}`, 'bad-password-x')).status, 401);
    const g = await new Client(t.url).login('guess-next', 'bad-password-x');
    assert.equal(g.status, 429);
    assert.ok(Number(g.headers.get('retry-after')) > 0);
  } finally { assertNoSanitizerReport((await t.stop()).log); }
});

test('lists: counts, filters, keyset pages', async () => {
  let r = await mod.get('/api/v1/messages?status=pending&limit=50');
  assert.equal(r.status, 200);
  assert.ok(r.body.counts.pending >= 4);
  const all = r.body.items.map((x) => x.id);
  for (const id of ids) assert.ok(all.includes(id));
  r = await mod.get('/api/v1/messages?status=pending&country=UA');
  assert.deepEqual(r.body.items.map((x) => x.id), [ids[1]]);
  r = await mod.get(`/api/v1/messages?status=pending&q=${encodeURIComponent('miners')}`);
  assert.deepEqual(r.body.items.map((x) => x.id), [ids[1]]);
  r = await mod.get('/api/v1/messages?status=pending&scope=union');
  assert.deepEqual(r.body.items.map((x) => x.id), [ids[2]]);
  r = await mod.get('/api/v1/messages?status=pending&q=%25');
  assert.equal(r.body.items.length, 0, 'a % in q is literal');
  // Pages of one, in order, until the end.
  const seen = [];
  let cursor = null;
  do {
    r = await mod.get(`/api/v1/messages?status=pending&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200);
    seen.push(...r.body.items.map((x) => x.id));
    cursor = r.body.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, all);
  for (const bad of ['status=bogus', 'country=ZZ', 'limit=0', 'limit=999', 'cursor=%%%', 'from=yesterday']) {
    assert.equal((await mod.get(`/api/v1/messages?${bad}`)).status, 400, bad);
  }
  const one = (await mod.get(`/api/v1/messages/${ids[0]}`)).body;
  assert.equal(one.name, 'Алеся');
  assert.equal(one.width, 320);
  assert.equal(one.has_audio, true);
  assert.equal(one.job.state, 'done');
  assert.equal(typeof one.facts, 'object');
});

test('approve and reject only from pending; reason required to reject; audited', async () => {
  let r = await mod.post(`/api/v1/messages/${ids[3]}/reject`, {});
  assert.equal(r.status, 400);
  r = await mod.post(`/api/v1/messages/${ids[3]}/reject`, { reason: '   ' });
  assert.equal(r.status, 400);
  r = await mod.post(`/api/v1/messages/${ids[3]}/reject`, { reason: 'shows the face of a minor' });
  assert.equal(r.status, 200);
  r = await mod.post(`/api/v1/messages/${ids[3]}/approve`, {});
  assert.equal(r.status, 409);
  r = await mod.post('/api/v1/messages/AAAAAAAAAAAAAAAAAAAAAA/approve', {});
  assert.equal(r.status, 404);
  // The reason stays on the row; a moderator's words never enter the
  // audit log, which outlives a withdrawal.
  const row = sql(s.dataDir, `SELECT actor || '|' || action || '|' || coalesce(reason, '-') FROM audit WHERE target = '${ids[3]}'`);
  assert.equal(row, 'mod|message.reject|-');
  const detail = (await admin.get(`/api/v1/messages/${ids[3]}`)).body;
  assert.equal(detail.status, 'rejected');
  assert.equal(detail.decided_by, 'mod');
  assert.equal(detail.history.at(-1).action, 'message.reject');
  // An admin re-opens it; a moderator may decide again.
  assert.equal((await admin.post(`/api/v1/messages/${ids[3]}/reopen`, { reason: 'blurred now' })).status, 200);
  assert.equal((await mod.post(`/api/v1/messages/${ids[3]}/approve`, {})).status, 200);
  assert.deepEqual(sql(s.dataDir, `SELECT group_concat(action, ',') FROM audit WHERE target = '${ids[3]}'`).split(','),
    ['message.reject', 'message.reopen', 'message.approve']);
});

test('two moderators deciding at once: exactly one wins', async () => {
  const [a, b] = await Promise.all([
    mod.post(`/api/v1/messages/${ids[2]}/approve`, {}),
    mod2.post(`/api/v1/messages/${ids[2]}/reject`, { reason: 'off topic' }),
  ]);
  assert.deepEqual([a.status, b.status].sort(), [200, 409]);
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM audit WHERE target = '${ids[2]}' AND action LIKE 'message.%'`), '1');
});

test('media: Range, ETag, private caching, a safe file name; comms sees approved only', async () => {
  const file = path.join(s.dataDir, 'media', ids[0], 'video.mp4');
  const size = statSync(file).size;
  let r = await mod.req('GET', `/media/${ids[0]}/video.mp4`, { raw: true });
  assert.equal(r.status, 200);
  assert.equal(Number(r.headers.get('content-length')), size);
  assert.equal(r.headers.get('content-type'), 'video/mp4');
  assert.match(r.headers.get('cache-control'), /private/);
  assert.match(r.headers.get('content-disposition'), /filename="chorus-\d{4}-\d\d-\d\d-BY-be-[0-9a-f]{12}\.mp4"/);
  assert.equal(r.headers.get('accept-ranges'), 'bytes');
  const etag = r.headers.get('etag');
  const whole = Buffer.from(await r.arrayBuffer());
  r = await mod.req('GET', `/media/${ids[0]}/video.mp4`, { raw: true, headers: { Range: 'bytes=0-99' } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), `bytes 0-99/${size}`);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), whole.subarray(0, 100));
  r = await mod.req('GET', `/media/${ids[0]}/video.mp4`, { raw: true, headers: { Range: 'bytes=-100' } });
  assert.equal(r.status, 206);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), whole.subarray(size - 100));
  r = await mod.req('GET', `/media/${ids[0]}/video.mp4`, { raw: true, headers: { Range: 'bytes=1000-' } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), `bytes 1000-${size - 1}/${size}`);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), whole.subarray(1000));
  r = await mod.req('GET', `/media/${ids[0]}/video.mp4`, { raw: true, headers: { Range: `bytes=${size}-` } });
  assert.equal(r.status, 416);
  assert.equal(r.headers.get('content-range'), `bytes */${size}`);
  r = await mod.req('GET', `/media/${ids[0]}/video.mp4`, { raw: true, headers: { 'If-None-Match': etag } });
  assert.equal(r.status, 304);
  r = await mod.req('GET', `/media/${ids[0]}/thumb.jpg`, { raw: true });
  assert.equal(r.headers.get('content-type'), 'image/jpeg');
  // ids[0] is still pending: not for comms.
  assert.equal((await comms.req('GET', `/media/${ids[0]}/video.mp4`, { raw: true })).status, 404);
  assert.equal((await comms.req('GET', `/media/${ids[3]}/video.mp4`, { raw: true })).status, 200);
  assert.equal((await mod.req('GET', `/media/${ids[0]}/../../chorus.db`, { raw: true })).status, 404);
});

test('admins manage users; changes are audited; the last admin stays', async () => {
  let r = await admin.post('/api/v1/users', { username: 'newmod', role: 'moderator' });
  assert.equal(r.status, 201);
  const generated = r.body.password;
  assert.ok(generated.length >= 20);
  const nm = await loggedIn(s.url, 'newmod', generated);
  assert.equal((await admin.post('/api/v1/users', { username: 'newmod', role: 'comms' })).status, 409);
  assert.equal((await admin.req('PATCH', '/api/v1/users/newmod', { json: { role: 'comms' } })).status, 200);
  assert.equal((await admin.req('DELETE', '/api/v1/users/newmod')).status, 200);
  assert.equal((await nm.get('/api/v1/session')).status, 401, 'disabling ends sessions');
  assert.equal((await new Client(s.url).login('newmod', generated)).status, 401);
  r = await admin.req('PATCH', '/api/v1/users/admin', { json: { role: 'moderator' } });
  assert.equal(r.status, 409);
  const list = (await admin.get('/api/v1/users')).body.items;
  assert.deepEqual(list.find((u) => u.username === 'newmod'), { ...list.find((u) => u.username === 'newmod'), role: 'comms', disabled: true });
  assert.ok(!JSON.stringify(list).includes('argon2'));
  // Newest first: created, logged in, role changed, disabled, refused.
  const actions = (await admin.get('/api/v1/audit?target=newmod')).body.items.map((x) => x.action);
  assert.deepEqual(actions, ['login.failed', 'user.disable', 'user.role', 'login', 'user.create']);
});

test('the audit chain verifies, and an edited row is caught', async () => {
  let v = chorus(['audit', 'verify', '--data-dir', s.dataDir]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  const victim = sql(s.dataDir, "SELECT id FROM audit WHERE action = 'message.reject' LIMIT 1");
  const copy = path.join(dir, 'copy.db');
  assert.equal(chorus(['backup', '--data-dir', s.dataDir, copy]).status, 0);
  const edit = spawnSync('sqlite3', [copy, `DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'someone-else' WHERE id = ${victim};`], { encoding: 'utf8' });
  assert.equal(edit.status, 0, edit.stderr);
  const other = tempDir();
  try {
    spawnSync('cp', [copy, path.join(other, 'chorus.db')]);
    // A backup is restored with the log's key and head (they are not in it).
    spawnSync('cp', [path.join(s.dataDir, 'audit.key'), path.join(s.dataDir, 'audit.head'), other]);
    v = chorus(['audit', 'verify', '--data-dir', other]);
    assert.equal(v.status, 1);
    assert.match(v.stdout, new RegExp(`BROKEN at row ${victim}\\b`));
  } finally { removeDir(other); }
});

test('metrics answer on loopback in Prometheus format', async () => {
  const r = await fetch(`${s.url}/metrics`);
  assert.equal(r.status, 200);
  const text = await r.text();
  assert.match(text, /^chorus_messages\{status="pending"\} \d+$/m);
  assert.match(text, /^chorus_transcode_seconds_count [1-9]\d*$/m);
  assert.match(text, /^chorus_uploads_finished_total [1-9]\d*$/m);
});

test('an admin retries a failed message: its job is queued again', async () => {
  const { sendTus } = await import('../lib/fixtures.mjs');
  const { id } = await sendTus(s.url, Buffer.from('not a video at all, but bytes'));
  assert.equal(await waitStatus(s.dataDir, id, ['failed', 'pending']), 'failed');
  assert.equal((await mod.post(`/api/v1/messages/${id}/retry`, {})).status, 403);
  const r = await admin.post(`/api/v1/messages/${id}/retry`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, 'processing');
  // Refused again by the worker, on the record twice.
  assert.equal(await waitStatus(s.dataDir, id, ['failed', 'pending']), 'failed');
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM jobs WHERE message_id = '${id}'`), '2');
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM audit WHERE target = '${id}' AND action = 'message.retry'`), '1');
  assert.equal((await admin.post(`/api/v1/messages/${id}/retry`, {})).status, 200);
  assert.equal((await admin.post(`/api/v1/messages/${ids[0]}/retry`, {})).status, 409, 'only failed ones');
});
