// chorus purge --campaign SLUG --yes and --everything --yes, run while
// chorus serve works on the same data directory: every video and every
// personal byte goes (database, -wal, -shm, files, log), the rows and so
// the counts remain, jobs are cancelled, the WAL is truncated, and the
// server still answers and takes new messages; a campaign's purge leaves
// every other campaign's rows, files and personal data as they were.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { assertNoSanitizerReport, chorus, removeDir, startChorus, tempDir, until } from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { filesUnder, leftovers, walSize } from '../lib/leftovers.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const dir = tempDir('chorus-purge-');
let s;
let mod;
let comms;
let clip;

before(async () => {
  clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 2 });
  s = await startChorus({ args: ['--workers', '1', '--sweep-interval', '1'] });
  mod = await loggedIn(s.url, 'mod', addUser(s.dataDir, 'mod', 'moderator'));
  comms = await loggedIn(s.url, 'comms', addUser(s.dataDir, 'comms', 'comms'));
});

after(async () => {
  try {
    assertNoSanitizerReport((await s.stop()).log);
  } finally {
    removeDir(dir);
  }
});

const counts = () => sql(s.dataDir, "SELECT group_concat(status || '=' || n, ' ') FROM (SELECT * FROM status_counts ORDER BY status)");
const purge = (...args) => chorus(['purge', ...args, '--data-dir', s.dataDir]);

test('purge of the campaign while the server runs: no personal byte, no file, counts kept, WAL truncated, the server answers', async () => {
  const who = (n) => ({ name: `Purge-Name-${n}-Q8`, organization: `Purge-Org-${n}-Z4`, message: `Purge-Text-${n}-W2 Жыве` });
  const m = {};
  for (const k of ['approved', 'rejected', 'pending']) m[k] = await sendMessage(s.url, clip, who(k));
  const bad = path.join(dir, 'bad.mp4');
  writeFileSync(bad, 'Purge-Failed-Text-K9 not a video');
  m.failed = await sendMessage(s.url, bad, who('failed'));
  for (const k of ['approved', 'rejected', 'pending']) assert.equal(await waitStatus(s.dataDir, m[k].id, ['pending', 'failed']), 'pending');
  assert.equal(await waitStatus(s.dataDir, m.failed.id, ['failed', 'pending']), 'failed');
  assert.equal((await mod.post(`/api/v1/messages/${m.approved.id}/approve`, {})).status, 200);
  assert.equal((await mod.post(`/api/v1/messages/${m.rejected.id}/reject`, { reason: 'Purge-Reason-R5 shows a face' })).status, 200);
  assert.equal((await comms.post(`/api/v1/messages/${m.approved.id}/reshared`, { channel: 'Telegram', url: 'https://t.me/union/7' })).status, 201);
  // One still uploading: a part of it sent over tus.
  const md = Object.entries({ consent: 'yes', consent_version: '2026-11', country: 'BY', language: 'be', ...who('uploading') })
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`).join(',');
  const up = await fetch(`${s.url}/api/v1/uploads`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '300000', 'Upload-Metadata': md, 'Content-Type': 'application/offset+octet-stream' },
    body: Buffer.alloc(1000, 7),
  });
  assert.equal(up.status, 201);

  const before = counts();
  assert.match(before, /approved=1 .*failed=1 .*pending=1 .*rejected=1 .*uploading=1/);
  // Asked, not confirmed; an unknown campaign: nothing happens.
  const ask = purge('--campaign', 'default');
  assert.equal(ask.status, 2);
  assert.match(ask.stderr, /--yes/);
  assert.equal(purge('--campaign', 'nope', '--yes').status, 2);
  assert.equal(purge('--yes').status, 2);
  assert.equal(counts(), before);

  const r = purge('--campaign', 'default', '--yes');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /purged \d+ messages of campaign default/);
  // Decided rows keep their state; what was not decided yet is withdrawn.
  const after = counts();
  assert.match(after, /approved=1 .*failed=1 .*pending=0 .*rejected=1/);
  assert.equal(sql(s.dataDir, 'SELECT count(*) FROM messages'), '5');
  assert.equal(sql(s.dataDir, "SELECT count(*) FROM messages WHERE media_deleted_why IS NOT 'purge'"), '0');
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM messages WHERE coalesce(name, organization, message, country, language, decision_reason,
    facts, receipt_hash, consent_at, received_at) IS NOT NULL OR created_at % 86400 <> 0`), '0');
  assert.equal(sql(s.dataDir, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"), '0');
  // The reshare mark (the comms team's, not the contributor's) stays.
  assert.equal(sql(s.dataDir, 'SELECT count(*) FROM reshares'), '1');
  for (const sub of ['uploads', 'incoming', 'originals', 'media']) {
    assert.deepEqual(filesUnder(path.join(s.dataDir, sub)), [], `${sub} is empty`);
  }
  const secrets = ['approved', 'rejected', 'pending', 'failed', 'uploading'].flatMap((k) => Object.values(who(k)))
    .concat(['Purge-Reason-R5', 'Purge-Failed-Text-K9']);
  await until(() => walSize(s.dataDir) === 0, 30000, 'the WAL truncated');
  assert.deepEqual(leftovers(s.dataDir, s.log() + r.stdout + r.stderr, secrets), []);
  // One audit row says so, and the chain still holds with the server on.
  assert.match(sql(s.dataDir, "SELECT actor || ' ' || target || ' ' || reason FROM audit WHERE action = 'purge'"), /^operator default campaign: 5 messages$/);
  const v = chorus(['audit', 'verify', '--data-dir', s.dataDir]);
  assert.equal(v.status, 0, v.stdout + v.stderr);

  // The server goes on: it answers, lists, and processes a new message.
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  const list = await mod.get('/api/v1/messages?status=approved');
  assert.equal(list.status, 200);
  assert.equal(list.body.items.length, 0, 'a purged clip leaves the lists');
  assert.equal(list.body.counts.approved, 1, 'its count remains');
  const fresh = await sendMessage(s.url, clip, { name: 'After-Purge-N1' });
  assert.equal(await waitStatus(s.dataDir, fresh.id, ['pending', 'failed']), 'pending');
});

test('purge --everything --yes: an emergency, every campaign, and again is harmless', async () => {
  const r = purge('--everything', '--yes');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /purged 1 messages of every campaign/);
  await until(() => walSize(s.dataDir) === 0, 30000, 'the WAL truncated');
  assert.deepEqual(leftovers(s.dataDir, s.log(), ['After-Purge-N1']), []);
  assert.deepEqual(filesUnder(path.join(s.dataDir, 'media')), []);
  const again = purge('--everything', '--yes');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /purged 0 messages/);
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
});

/** The plain form upload into campaign slug (campaign first, as the page sends it). */
async function sendTo(slug, meta) {
  const f = new FormData();
  for (const [k, v] of Object.entries({ campaign: slug, consent: 'yes', consent_version: 'v1', country: 'BY', language: 'en', ...meta })) {
    f.append(k, v);
  }
  f.append('video', new Blob([readFileSync(clip)]), 'clip.mp4');
  const r = await fetch(`${s.url}/api/v1/messages`, { method: 'POST', body: f });
  const body = await r.json();
  assert.equal(r.status, 201, JSON.stringify(body));
  return body;
}

test('purge --campaign A leaves campaign B whole: its rows, files, names and messages', async () => {
  const admin = await loggedIn(s.url, 'boss', addUser(s.dataDir, 'boss', 'admin'));
  for (const slug of ['alpha', 'beta']) {
    const r = await admin.post('/api/v1/campaigns', { slug, languages: ['en'], texts: { en: { title: `Campaign ${slug}`, consent: 'I agree.' } } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const who = (c, n) => ({ name: `Name-${c}-${n}-P7`, organization: `Org-${c}-${n}-T3`, message: `Text-${c}-${n}-M6 Жыве` });
  const m = { alpha: {}, beta: {} };
  for (const c of ['alpha', 'beta']) {
    for (const k of ['approved', 'rejected', 'pending']) m[c][k] = await sendTo(c, who(c, k));
  }
  for (const c of ['alpha', 'beta']) {
    for (const k of ['approved', 'rejected', 'pending']) assert.equal(await waitStatus(s.dataDir, m[c][k].id, ['pending', 'failed']), 'pending');
    assert.equal((await mod.post(`/api/v1/messages/${m[c].approved.id}/approve`, {})).status, 200);
    assert.equal((await mod.post(`/api/v1/messages/${m[c].rejected.id}/reject`, { reason: `Reason-${c}-R2` })).status, 200);
  }
  const beta = Object.values(m.beta).map((x) => x.id);
  const alpha = Object.values(m.alpha).map((x) => x.id);
  const rows = (list) => sql(s.dataDir, `SELECT id, status, name, organization, message, country, language, coalesce(decision_reason, ''),
    consent_version, created_at, received_at, video_bytes, coalesce(media_deleted_why, '') FROM messages WHERE id IN ('${list.join("','")}') ORDER BY id`);
  const betaBefore = rows(beta);
  assert.ok(betaBefore.includes('Name-beta-approved-P7') && betaBefore.includes('Reason-beta-R2'));
  const betaFiles = beta.flatMap((id) => filesUnder(path.join(s.dataDir, 'media', id))).sort();
  assert.ok(betaFiles.length >= 6, betaFiles.join('\n'));

  const r = purge('--campaign', 'alpha', '--yes');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /purged 3 messages of campaign alpha/);

  // Alpha: rows kept, everything personal and every file gone.
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM messages WHERE id IN ('${alpha.join("','")}') AND media_deleted_why IS 'purge'
    AND coalesce(name, organization, message, country, language, decision_reason, facts, receipt_hash) IS NULL`), '3');
  for (const id of alpha) assert.deepEqual(filesUnder(path.join(s.dataDir, 'media', id)), [], id);
  // Beta: every column as it was, every file still there.
  assert.equal(rows(beta), betaBefore);
  assert.deepEqual(beta.flatMap((id) => filesUnder(path.join(s.dataDir, 'media', id))).sort(), betaFiles);
  assert.equal(sql(s.dataDir, "SELECT count(*) FROM audit WHERE action = 'purge' AND target = 'alpha'"), '1');
  assert.equal(sql(s.dataDir, "SELECT count(*) FROM audit WHERE action = 'purge' AND target = 'beta'"), '0');
  // And as the panel and the contributors see it.
  const d = (await mod.get(`/api/v1/messages/${m.beta.approved.id}`)).body;
  assert.deepEqual([d.status, d.name, d.organization, d.message], ['approved', ...Object.values(who('beta', 'approved'))]);
  const v = await mod.req('GET', `/media/${m.beta.approved.id}/video.mp4`, { raw: true });
  assert.equal(v.status, 200);
  assert.ok((await v.arrayBuffer()).byteLength > 1000);
  const pending = (await mod.get('/api/v1/messages?status=pending&campaign=beta')).body.items.map((x) => x.id);
  assert.deepEqual(pending, [m.beta.pending.id]);
  assert.equal((await mod.get('/api/v1/messages?status=pending&campaign=alpha')).body.items.length, 0);
  for (const k of ['approved', 'rejected', 'pending']) {
    const rc = await fetch(`${s.url}/api/v1/receipt`, { headers: { Authorization: `Bearer ${m.beta[k].receipt}` } });
    assert.equal(rc.status, 200, `beta's ${k} receipt`);
  }
  await until(() => walSize(s.dataDir) === 0, 30000, 'the WAL truncated');
  const alphaSecrets = ['approved', 'rejected', 'pending'].flatMap((k) => Object.values(who('alpha', k))).concat(['Reason-alpha-R2']);
  assert.deepEqual(leftovers(s.dataDir, s.log() + r.stdout + r.stderr, alphaSecrets), []);
  const check = chorus(['audit', 'verify', '--data-dir', s.dataDir]);
  assert.equal(check.status, 0, check.stdout + check.stderr);
});
