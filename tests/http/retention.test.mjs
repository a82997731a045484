// DESIGN.md "Retention and withdrawal", black-box: after a withdrawal
// nothing the contributor gave is left in chorus.db, -wal, -shm, the data
// directory or the log (texts, the moderator's reason, the search term,
// exact sizes, the file name); failed originals and rejected media go
// after their retention (test clock, and --failed-retention-days 0); an
// admin deletes them at once (a rejected clip then cannot be reopened);
// the no-JS withdraw form is refused from another site; the ZIP keeps
// union-only clips apart; the comms team marks posts taken down and the
// tab counts what is left.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  assertNoSanitizerReport, chorus, removeDir, startChorus, tempDir, testClock, until,
} from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { leftovers, walSize } from '../lib/leftovers.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const dir = tempDir('chorus-retention-');
let s;
let mod;
let comms;
let admin;
let clip;
const stopped = [];

before(async () => {
  clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 2 });
  s = await startChorus({ args: ['--workers', '1', '--sweep-interval', '1'] });
  const pm = addUser(s.dataDir, 'mod', 'moderator');
  const pc = addUser(s.dataDir, 'comms', 'comms');
  const pa = addUser(s.dataDir, 'boss', 'admin');
  mod = await loggedIn(s.url, 'mod', pm);
  comms = await loggedIn(s.url, 'comms', pc);
  admin = await loggedIn(s.url, 'boss', pa);
});

after(async () => {
  try {
    const r = await s.stop();
    assertNoSanitizerReport(r.log);
    for (const log of stopped) assertNoSanitizerReport(log);
  } finally {
    removeDir(dir);
  }
});

/** Sends clip under file name `name` with meta; resolves {id, receipt}. */
async function send(url, name, meta, file = clip) {
  const f = path.join(dir, name);
  copyFileSync(file, f);
  return sendMessage(url, f, meta);
}

const withdraw = (url, receipt) => fetch(`${url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${receipt}` } });

async function zipNames(client, query, file) {
  const r = await client.req('GET', `/api/v1/export.zip${query}`, { raw: true });
  assert.equal(r.status, 200);
  await pipeline(Readable.fromWeb(r.body), createWriteStream(file));
  return spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' }).stdout.trim().split('\n').sort();
}

test('after a withdrawal nothing the contributor gave is left: database, -wal, -shm, data directory, log', async () => {
  const a = {
    name: 'Ляксей Zmitrok-7Q', organization: 'Zavod-Horizon-91 прафсаюз', message: 'Solidarity-from-Minsk-4412 Свабоду палітвязням!',
    country: 'BY', language: 'be',
  };
  const b = { name: 'Hanna-Kvetka-38', organization: 'Mine-Union-55', message: 'Stay-strong-Hrodna-77', country: 'UA', language: 'uk' };
  const fileA = 'VID_20260419_Minsk_Q7a.mp4';
  const fileB = 'VID_20260420_Hrodna_Q7b.mp4';
  const ma = await send(s.url, fileA, a);
  const mb = await send(s.url, fileB, b);
  for (const m of [ma, mb]) assert.equal(await waitStatus(s.dataDir, m.id, ['pending', 'failed']), 'pending');
  const sizes = sql(s.dataDir, `SELECT upload_length || ' ' || video_bytes FROM messages WHERE id IN ('${ma.id}', '${mb.id}')`)
    .split(/\s+/).filter(Boolean);
  assert.equal(sizes.length, 4);
  const reason = `the face of ${b.name} is visible`;
  assert.equal((await mod.post(`/api/v1/messages/${ma.id}/approve`, {})).status, 200);
  assert.equal((await mod.post(`/api/v1/messages/${mb.id}/reject`, { reason })).status, 200);
  // A search for A's name, on the record as an export.
  const names = await zipNames(comms, '?q=Zmitrok', path.join(dir, 'q.zip'));
  assert.equal(names.filter((n) => n.startsWith('clips/')).length, 1);
  const exportRow = sql(s.dataDir, "SELECT reason FROM audit WHERE action = 'export' ORDER BY id DESC LIMIT 1");
  assert.match(exportRow, /search=yes/);
  assert.ok(!exportRow.includes('Zmitrok'), exportRow);
  assert.equal(sql(s.dataDir, `SELECT coalesce(reason, '-') FROM audit WHERE action = 'message.reject' AND target = '${mb.id}'`), '-');

  for (const m of [ma, mb]) {
    const r = await withdraw(s.url, m.receipt);
    assert.equal(r.status, 200);
    assert.equal((await r.json()).status, 'withdrawn');
  }
  // The row keeps its id, status and the day; everything else is gone.
  const row = sql(s.dataDir, `SELECT coalesce(name, '') || coalesce(organization, '') || coalesce(message, '') || coalesce(country, '')
    || coalesce(language, '') || coalesce(decision_reason, '') || coalesce(facts, '') || coalesce(upload_length, '') || coalesce(video_bytes, '')
    || coalesce(duration_ms, '') || coalesce(width, '') || coalesce(receipt_hash, '') || coalesce(received_at, '') || coalesce(consent_at, '')
    || '|' || (created_at % 86400) || (withdrawn_at % 86400) FROM messages WHERE id = '${mb.id}'`);
  assert.equal(row, '|00');
  // A receipt found later leads nowhere.
  const again = await fetch(`${s.url}/api/v1/receipt`, { headers: { Authorization: `Bearer ${ma.receipt}` } });
  assert.equal(again.status, 404);

  const secrets = [a.name, 'Zmitrok', a.organization, 'Zavod-Horizon-91', a.message, 'Solidarity-from-Minsk-4412', 'Свабоду палітвязням',
    b.name, b.organization, b.message, reason, fileA, fileB, 'VID_20260419', ...sizes];
  // Once the WAL is truncated nothing is left anywhere.
  await until(() => walSize(s.dataDir) === 0, 30000, 'the WAL truncated after the withdrawals');
  assert.deepEqual(leftovers(s.dataDir, s.log(), secrets), []);
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
});

test('the ZIP keeps union-only clips under union-only/, with union-only in their names; the library and the download say so too', async () => {
  const u = await send(s.url, 'u.mp4', { consent_scope: 'union' });
  const p = await send(s.url, 'p.mp4', { consent_scope: 'public' });
  for (const m of [u, p]) {
    assert.equal(await waitStatus(s.dataDir, m.id, ['pending', 'failed']), 'pending');
    assert.equal((await mod.post(`/api/v1/messages/${m.id}/approve`, {})).status, 200);
  }
  const file = path.join(dir, 'union.zip');
  const names = await zipNames(comms, `?ids=${u.id},${p.id}`, file);
  const unionClips = names.filter((n) => n.startsWith('union-only/clips/'));
  assert.equal(unionClips.length, 1, names.join('\n'));
  assert.match(unionClips[0], /^union-only\/clips\/chorus-[\w-]+-union-only-[0-9a-f]{12}\.mp4$/);
  assert.equal(names.filter((n) => n.startsWith('union-only/thumbs/') && n.includes('-union-only-')).length, 1);
  const publicClips = names.filter((n) => n.startsWith('clips/'));
  assert.equal(publicClips.length, 1);
  assert.ok(!publicClips[0].includes('union-only'));
  const manifest = JSON.parse(spawnSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' }).stdout);
  const mu = manifest.find((m) => m.id === u.id);
  assert.equal(mu.path, unionClips[0]);
  assert.ok(mu.file.includes('-union-only-'));
  // The library's card names the same file; its download carries it.
  const items = (await comms.get(`/api/v1/messages?status=approved&scope=union`)).body.items;
  const item = items.find((m) => m.id === u.id);
  assert.equal(`union-only/clips/${item.file}`, unionClips[0]);
  const dl = await comms.req('GET', `/media/${u.id}/video.mp4?download=1`, { raw: true });
  assert.equal(dl.status, 200);
  assert.ok(dl.headers.get('content-disposition').includes(`filename="${item.file}"`), dl.headers.get('content-disposition'));
  await dl.arrayBuffer();
});

test('withdrawn after use: each post marked taken down (audited); the list counts only what is left', async () => {
  const x = await send(s.url, 'x.mp4', {});
  const y = await send(s.url, 'y.mp4', {});
  for (const m of [x, y]) {
    assert.equal(await waitStatus(s.dataDir, m.id, ['pending', 'failed']), 'pending');
    assert.equal((await mod.post(`/api/v1/messages/${m.id}/approve`, {})).status, 200);
  }
  // A clip still approved may be marked taken down (DESIGN.md's lifecycle
  // table), but its take-down is never done: it stays approved, and a post
  // made after it is one to take down at its withdrawal.
  assert.equal((await comms.post(`/api/v1/messages/${x.id}/taken-down`, {})).status, 200);
  assert.equal(sql(s.dataDir, `SELECT status || ' ' || coalesce(takedown_at, 0) FROM messages WHERE id = '${x.id}'`), 'approved 0');
  for (const ch of ['Telegram', 'Facebook']) {
    assert.equal((await comms.post(`/api/v1/messages/${x.id}/reshared`, { channel: ch, url: `https://example.org/${ch}` })).status, 201);
  }
  await zipNames(comms, `?ids=${y.id}`, path.join(dir, 'y.zip'));
  for (const m of [x, y]) assert.equal((await withdraw(s.url, m.receipt)).status, 200);
  const left = async () => (await comms.get('/api/v1/messages?status=withdrawn&used=yes')).body.items;
  let items = await left();
  assert.deepEqual(items.map((m) => m.id).filter((id) => id === x.id || id === y.id).sort(), [x.id, y.id].sort());
  const ix = items.find((m) => m.id === x.id);
  assert.equal(ix.reshares_left, 2);
  assert.match(ix.file, /^chorus-\*-[0-9a-f]{12}\.mp4$/);
  const [p1, p2] = ix.reshares;
  assert.equal((await comms.post(`/api/v1/messages/${x.id}/taken-down`, { reshare: p1.id })).status, 200);
  // Twice, or a post of another clip: not found.
  assert.equal((await comms.post(`/api/v1/messages/${x.id}/taken-down`, { reshare: p1.id })).status, 404);
  assert.equal((await comms.post(`/api/v1/messages/${y.id}/taken-down`, { reshare: p2.id })).status, 404);
  items = await left();
  assert.equal(items.find((m) => m.id === x.id).reshares_left, 1);
  assert.ok(items.find((m) => m.id === x.id).reshares[0].taken_down_at);
  assert.equal((await comms.post(`/api/v1/messages/${x.id}/taken-down`, { reshare: p2.id })).status, 200);
  // Only downloaded, never posted: done as a whole.
  assert.equal((await comms.post(`/api/v1/messages/${y.id}/taken-down`, {})).status, 200);
  items = await left();
  assert.ok(!items.some((m) => m.id === x.id || m.id === y.id));
  const all = (await comms.get('/api/v1/messages?status=withdrawn&used=all')).body.items.map((m) => m.id);
  assert.ok(all.includes(x.id) && all.includes(y.id));
  assert.deepEqual(sql(s.dataDir, `SELECT actor || ' ' || reason FROM audit WHERE action = 'message.taken_down' AND target IN ('${x.id}', '${y.id}') ORDER BY id`).split('\n'),
    ['comms every post and copy', `comms post ${p1.id}`, `comms post ${p2.id}`, 'comms every post and copy']);
});

test('an admin deletes a failed clip\'s original at once; the row says so; nothing to retry', async () => {
  const bad = path.join(dir, 'notes.mp4');
  writeFileSync(bad, 'These are my notes, not a video. '.repeat(100));
  const m = await sendMessage(s.url, bad, {});
  assert.equal(await waitStatus(s.dataDir, m.id, ['failed', 'pending']), 'failed');
  const original = path.join(s.dataDir, 'incoming', m.id);
  assert.ok(existsSync(original));
  assert.equal((await comms.post(`/api/v1/messages/${m.id}/delete-files`, {})).status, 403);
  const r = await admin.post(`/api/v1/messages/${m.id}/delete-files`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.media_deleted_why, 'admin');
  assert.ok(!existsSync(original));
  const d = (await admin.get(`/api/v1/messages/${m.id}`)).body;
  assert.equal(d.media_deleted_why, 'admin');
  assert.ok(d.media_deleted_at);
  assert.equal((await admin.post(`/api/v1/messages/${m.id}/delete-files`, {})).status, 409);
  assert.equal((await admin.post(`/api/v1/messages/${m.id}/retry`, {})).status, 409);
  assert.equal(sql(s.dataDir, `SELECT actor || ' ' || reason FROM audit WHERE action = 'message.files_deleted' AND target = '${m.id}'`),
    'boss now, by an admin');
});

test('an admin deletes a rejected clip\'s media at once; the row says so; it cannot be reopened', async () => {
  const m = await send(s.url, 'rejected-now.mp4', {});
  assert.equal(await waitStatus(s.dataDir, m.id, ['pending', 'failed']), 'pending');
  assert.equal((await mod.post(`/api/v1/messages/${m.id}/reject`, { reason: 'shows a colleague\'s face' })).status, 200);
  const media = path.join(s.dataDir, 'media', m.id);
  assert.ok(existsSync(path.join(media, 'video.mp4')) && existsSync(path.join(media, 'thumb.jpg')));
  // Only an admin: not the moderator who rejected it, not comms.
  assert.equal((await mod.post(`/api/v1/messages/${m.id}/delete-files`, {})).status, 403);
  assert.equal((await comms.post(`/api/v1/messages/${m.id}/delete-files`, {})).status, 403);
  assert.ok(existsSync(path.join(media, 'video.mp4')));
  const r = await admin.post(`/api/v1/messages/${m.id}/delete-files`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.media_deleted_why, 'admin');
  assert.ok(!existsSync(media), 'media/<id> is gone');
  const d = (await admin.get(`/api/v1/messages/${m.id}`)).body;
  assert.equal(d.status, 'rejected');
  assert.equal(d.media_deleted_why, 'admin');
  assert.ok(d.media_deleted_at);
  assert.equal(d.decision_reason, 'shows a colleague\'s face', 'the row stays');
  for (const f of ['video.mp4', 'thumb.jpg']) {
    const g = await admin.req('GET', `/media/${m.id}/${f}`, { raw: true });
    assert.equal(g.status, 404, f);
    await g.arrayBuffer();
  }
  // Nothing to review again: reopening would bring back a clip with no video.
  const reopen = await admin.post(`/api/v1/messages/${m.id}/reopen`, {});
  assert.equal(reopen.status, 409, JSON.stringify(reopen.body));
  assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id = '${m.id}'`), 'rejected');
  assert.equal((await admin.post(`/api/v1/messages/${m.id}/delete-files`, {})).status, 409);
  assert.equal(sql(s.dataDir, `SELECT actor || ' ' || reason FROM audit WHERE action = 'message.files_deleted' AND target = '${m.id}'`),
    'boss now, by an admin');
});

/** The no-JS result page's withdraw form, sent with headers. */
const receiptForm = (url, receipt, headers = {}) => fetch(`${url}/receipt`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams({ receipt, action: 'withdraw-confirmed', ui_lang: 'en' }).toString(),
});

test('the no-JS withdraw form: refused from another site (nothing withdrawn), done from the page itself', async () => {
  const m = await send(s.url, 'nojs.mp4', { name: 'NoJS-Name-K3' });
  assert.equal(await waitStatus(s.dataDir, m.id, ['pending', 'failed']), 'pending');
  const evil = 'https://evil.example';
  for (const headers of [
    { 'Sec-Fetch-Site': 'cross-site', Origin: evil },
    { 'Sec-Fetch-Site': 'cross-site' },
  ]) {
    const r = await receiptForm(s.url, m.receipt, headers);
    assert.equal(r.status, 403, JSON.stringify(headers));
    const body = await r.text();
    assert.match(body, /cross_site/);
    assert.equal(sql(s.dataDir, `SELECT status || ' ' || coalesce(name, '-') FROM messages WHERE id = '${m.id}'`), 'pending NoJS-Name-K3',
      `withdrawn by ${JSON.stringify(headers)}`);
  }
  // The receipt still works: nothing happened to it.
  const still = await fetch(`${s.url}/api/v1/receipt`, { headers: { Authorization: `Bearer ${m.receipt}` } });
  assert.equal(still.status, 200);
  assert.equal((await still.json()).status, 'in_review');
  // The result page's own form (same origin) withdraws it.
  const ok = await receiptForm(s.url, `${s.url}/receipt#${m.receipt}`, { 'Sec-Fetch-Site': 'same-origin', Origin: s.url });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /id="msg" class="ok"/);
  assert.equal(sql(s.dataDir, `SELECT status || ' ' || coalesce(name, '-') FROM messages WHERE id = '${m.id}'`), 'withdrawn -');
  assert.ok(!existsSync(path.join(s.dataDir, 'media', m.id)));
});

test('retention: a failed original after --failed-retention-days, rejected media after --rejected-retention-days (test clock)', async () => {
  const work = tempDir('chorus-retention-clock-');
  const clock = testClock(work);
  const t = await startChorus({
    args: ['--workers', '1', '--sweep-interval', '1', '--failed-retention-days', '7', '--rejected-retention-days', '30'],
    env: clock.env(),
  });
  try {
    const pa = addUser(t.dataDir, 'boss', 'admin');
    let boss = await loggedIn(t.url, 'boss', pa);
    const bad = path.join(work, 'gps.mp4');
    writeFileSync(bad, 'not a video at all, but it says where I live');
    const f = await sendMessage(t.url, bad, {});
    const r = await send(t.url, 'rej.mp4', {});
    assert.equal(await waitStatus(t.dataDir, f.id, ['failed', 'pending']), 'failed');
    assert.equal(await waitStatus(t.dataDir, r.id, ['pending', 'failed']), 'pending');
    assert.equal((await boss.post(`/api/v1/messages/${r.id}/reject`, { reason: 'off topic' })).status, 200);
    const original = path.join(t.dataDir, 'incoming', f.id);
    const media = path.join(t.dataDir, 'media', r.id);
    assert.ok(existsSync(original) && existsSync(path.join(media, 'video.mp4')));

    clock.advance(8 * 86400);
    // The files go inside the transaction that marks the row: wait for both.
    await until(() => !existsSync(original) && sql(t.dataDir, `SELECT media_deleted_why FROM messages WHERE id = '${f.id}'`) === 'retention',
      30000, 'the failed original deleted after 7 days');
    assert.ok(existsSync(path.join(media, 'video.mp4')), 'a rejected clip is kept for 30 days');

    clock.advance(23 * 86400);
    await until(() => !existsSync(media) && sql(t.dataDir, `SELECT status || ' ' || media_deleted_why FROM messages WHERE id = '${r.id}'`) === 'rejected retention',
      30000, 'the rejected media deleted after 30 days');
    // A month later the admin logs in again.
    boss = await loggedIn(t.url, 'boss', pa);
    const d = (await boss.get(`/api/v1/messages/${r.id}`)).body;
    assert.ok(d.media_deleted_at);
    assert.equal(d.decision_reason, 'off topic', 'the row stays');
    assert.equal((await boss.post(`/api/v1/messages/${r.id}/reopen`, {})).status, 409);
    assert.equal((await boss.req('GET', `/media/${r.id}/video.mp4`)).status, 404);
    assert.deepEqual(sql(t.dataDir, "SELECT actor || ' ' || reason FROM audit WHERE action = 'message.files_deleted' ORDER BY id").split('\n'),
      ['system retention: failed 7 days', 'system retention: rejected 30 days']);
  } finally {
    stopped.push((await t.stop()).log);
    removeDir(work);
  }
});

test('--failed-retention-days 0: the original goes at the next sweep', async () => {
  const t = await startChorus({ args: ['--workers', '1', '--sweep-interval', '1', '--failed-retention-days', '0'] });
  try {
    const bad = path.join(dir, 'text.mp4');
    writeFileSync(bad, 'plain text');
    const f = await sendMessage(t.url, bad, {});
    assert.equal(await waitStatus(t.dataDir, f.id, ['failed', 'pending']), 'failed');
    await until(() => !existsSync(path.join(t.dataDir, 'incoming', f.id)), 30000, 'the original deleted');
    await until(() => sql(t.dataDir, `SELECT media_deleted_why FROM messages WHERE id = '${f.id}'`) === 'retention', 10000, 'the row says so');
  } finally {
    stopped.push((await t.stop()).log);
  }
});

test('the first admin password goes to a 0600 file, never to the output', () => {
  const d = tempDir('chorus-pw-');
  try {
    const file = path.join(d, 'admin-password');
    const r = chorus(['user', 'add', 'admin', '--role', 'admin', '--generate', '--password-file', file, '--data-dir', d]);
    assert.equal(r.status, 0, r.stderr);
    const pw = readFileSync(file, 'utf8').trim();
    assert.ok(pw.length >= 20);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(!r.stdout.includes(pw) && !r.stderr.includes(pw));
    assert.ok(r.stderr.includes(file), r.stderr);
    // Without --generate there is nothing to write.
    assert.notEqual(chorus(['user', 'add', 'x', '--role', 'admin', '--password-file', file, '--data-dir', d], { input: 'a-long-password-1\n' }).status, 0);
    assert.equal(readFileSync(file, 'utf8').trim(), pw, 'a refused command leaves the file alone');
    assert.equal(statSync(path.join(d, 'audit.key')).mode & 0o777, 0o600);
  } finally {
    removeDir(d);
  }
});
