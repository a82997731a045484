// Issue #14's API, black-box: full-text search in every script (the list
// and the export's q=, limits in characters, hostile queries), status=all
// for moderators and admins (403 for comms), claims (test clock: they
// expire), bulk approval and bulk reshare marks (one audit row each), the
// panel's language per user, the audit log's filters and links, and a
// withdrawn message's words gone from the search index's pages and the
// WAL. Messages come through the real upload path and worker.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';

import {
  assertNoSanitizerReport, removeDir, startChorus, tempDir, testClock, until,
} from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { filesUnder, walSize } from '../lib/leftovers.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const dir = tempDir('chorus-work-');
const clock = testClock(dir);
let s;
let admin;
let olga;
let ivan;
let comms;
const ids = {};

const MESSAGES = {
  be: { name: 'Алеся', organization: 'БНП', message: 'Свабоду палітвязням!', language: 'be' },
  fr: { name: 'Élodie Müller', organization: 'CGT', message: 'Solidarité, toujours', country: 'FR', language: 'fr' },
  pl: { name: 'Łukasz', organization: 'NSZZ Solidarność', message: 'Pozdrowienia z Łodzi', country: 'PL', language: 'pl' },
  gr: { name: 'Νίκος', organization: 'ΓΣΕΕ', message: 'Ελευθερία στους απεργούς', country: 'GR', language: 'el' },
  ar: { name: 'أحمد', message: 'كَتَبَ الحرية للعمال', country: 'EG', language: 'ar' },
  a: { name: 'Ivan One', message: 'first of the bulk' },
  b: { name: 'Ivan Two', message: 'second of the bulk' },
  c: { name: 'Ivan Three', message: 'third of the bulk' },
};

before(async () => {
  s = await startChorus({ args: ['--workers', '1', '--sweep-interval', '1'], env: clock.env() });
  const pw = {
    admin: addUser(s.dataDir, 'admin', 'admin'), olga: addUser(s.dataDir, 'olga', 'moderator'),
    ivan: addUser(s.dataDir, 'ivan', 'moderator'), comms: addUser(s.dataDir, 'comms', 'comms'),
  };
  const clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 2 });
  for (const [k, meta] of Object.entries(MESSAGES)) ids[k] = (await sendMessage(s.url, clip, meta)).id;
  for (const id of Object.values(ids)) assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
  admin = await loggedIn(s.url, 'admin', pw.admin);
  olga = await loggedIn(s.url, 'olga', pw.olga);
  ivan = await loggedIn(s.url, 'ivan', pw.ivan);
  comms = await loggedIn(s.url, 'comms', pw.comms);
});

after(async () => {
  try {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  } finally {
    removeDir(dir);
  }
});

const found = async (client, query) => {
  const r = await client.get(`/api/v1/messages?${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.items.map((m) => Object.keys(ids).find((k) => ids[k] === m.id)).sort();
};
const q = (text, more = 'status=pending') => `${more}&q=${encodeURIComponent(text)}`;

test('search: case and accents folded in Cyrillic, Latin, Greek and Arabic; prefixes while typing; every word needed', async () => {
  const cases = [
    ['свабоду', ['be']], ['СВАБОДУ', ['be']], ['Свабоду', ['be']], ['свабо', ['be']], ['свабо ', []],
    ['алеся бнп', ['be']], ['алеся cgt', []],
    ['elodie muller', ['fr']], ['SOLIDARITE', ['fr']], ['ÉLO', ['fr']],
    ['lukasz lodzi', ['pl']], ['solidarnosc', ['pl']],
    ['ελευθερια', ['gr']], ['ΝΙΚΟΣ', ['gr']], ['απεργ', ['gr']],
    ['كتب', ['ar']], ['احمد', ['ar']],
    ['ivan', ['a', 'b', 'c']], ['ivan tw', ['b']], ['bulk', ['a', 'b', 'c']],
  ];
  for (const [text, want] of cases) assert.deepEqual(await found(olga, q(text)), want, text);
  // The library's search is the same one.
  assert.deepEqual(await found(comms, q('свабоду', 'status=approved')), []);
});

test('search: a query is text, never syntax; limits count characters', async () => {
  for (const text of ['"', '*', 'NEAR(алеся', 'name:алеся', 'алеся OR ivan', '(', ')', 'a"*"b', '{name}:x', '^', ':', "'; DROP TABLE messages; --"]) {
    const r = await olga.get(`/api/v1/messages?${q(text)}`);
    assert.equal(r.status, 200, `${text}: ${JSON.stringify(r.body)}`);
  }
  assert.deepEqual(await found(olga, q('-алеся')), ['be']);
  assert.deepEqual(await found(olga, q('алеся OR ivan')), []); // OR is a word here
  // 100 Cyrillic letters (200 bytes) are a query; 101 characters are not.
  assert.equal((await olga.get(`/api/v1/messages?${q('ж'.repeat(100))}`)).status, 200);
  const long = await olga.get(`/api/v1/messages?${q('ж'.repeat(101))}`);
  assert.equal(long.status, 400);
  assert.equal(long.body.error, 'bad_query');
  assert.match(long.body.message, /100 characters/);
  assert.equal((await olga.get('/api/v1/messages?q=%01')).status, 400);
  assert.equal((await olga.get('/api/v1/messages?q=%FF')).status, 400);
});

test('search pages: keyset over the index, each message once, the cursor bound to a search', async () => {
  const seen = [];
  let cursor = null;
  do {
    const r = await olga.get(`/api/v1/messages?${q('bulk')}&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200);
    seen.push(...r.body.items.map((m) => m.id));
    cursor = r.body.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, [ids.a, ids.b, ids.c]); // the order they came in
  const first = await olga.get(`/api/v1/messages?${q('bulk')}&limit=1`);
  // A search's cursor means nothing to a plain list, and the other way round.
  assert.equal((await olga.get(`/api/v1/messages?status=pending&cursor=${first.body.next_cursor}`)).status, 400);
  const plain = await olga.get('/api/v1/messages?status=pending&limit=1');
  assert.equal((await olga.get(`/api/v1/messages?${q('bulk')}&cursor=${plain.body.next_cursor}`)).status, 400);
});

test('status=all: every state for moderators and admins, each row with its status; 403 for comms', async () => {
  assert.equal((await olga.post(`/api/v1/messages/${ids.gr}/reject`, { reason: 'Off-topic' })).status, 200);
  for (const who of [olga, admin]) {
    const r = await who.get('/api/v1/messages?status=all&limit=200');
    assert.equal(r.status, 200);
    const byId = Object.fromEntries(r.body.items.map((m) => [m.id, m.status]));
    assert.equal(byId[ids.gr], 'rejected');
    assert.equal(byId[ids.be], 'pending');
    assert.equal(Object.keys(byId).length, Object.keys(ids).length);
    // Newest first, and the counts are still per status.
    const times = r.body.items.map((m) => Date.parse(m.created_at));
    assert.deepEqual(times, [...times].sort((x, y) => y - x));
    assert.equal(r.body.counts.rejected, 1);
    assert.equal(r.body.counts.pending, Object.keys(ids).length - 1);
  }
  assert.deepEqual(await found(olga, 'status=all&q=%CE%B5%CE%BB%CE%B5%CF%85%CE%B8%CE%B5%CF%81%CE%B9%CE%B1'), ['gr']);
  const r = await comms.get('/api/v1/messages?status=all');
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'forbidden');
  assert.equal((await comms.get('/api/v1/messages?status=every')).status, 400);
});

test('claims: shown to others, refuse another moderator\'s decision, never an admin\'s, and expire', async () => {
  const mine = await olga.post(`/api/v1/messages/${ids.be}/claim`, {});
  assert.equal(mine.status, 200);
  assert.deepEqual([mine.body.mine, mine.body.claimed_by], [true, 'olga']);
  const theirs = await ivan.post(`/api/v1/messages/${ids.be}/claim`, {});
  assert.equal(theirs.status, 200);
  assert.deepEqual([theirs.body.mine, theirs.body.claimed_by, theirs.body.until], [false, 'olga', mine.body.until]);
  const item = (await ivan.get('/api/v1/messages?status=pending&limit=200')).body.items.find((m) => m.id === ids.be);
  assert.equal(item.claimed_by, 'olga');
  assert.equal(item.claim_until, mine.body.until);
  // Ivan cannot decide it while Olga reviews it.
  const refused = await ivan.post(`/api/v1/messages/${ids.be}/approve`, {});
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error, 'claimed');
  assert.match(refused.body.message, /olga is reviewing/);
  assert.equal((await ivan.post(`/api/v1/messages/${ids.be}/reject`, { reason: 'Duplicate' })).status, 409);
  // Claims are not decisions: nothing in the audit log.
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM audit WHERE target = '${ids.be}'`), '0');
  // Renewing keeps it; letting it go frees it.
  assert.equal((await olga.post(`/api/v1/messages/${ids.be}/claim`, {})).body.mine, true);
  // Two of Olga's pages: the one that closes lets go only of a claim it
  // still holds, not one her other page took since.
  assert.equal((await olga.post(`/api/v1/messages/${ids.be}/claim`, { tab: 'page-b' })).body.mine, true);
  assert.equal((await olga.req('DELETE', `/api/v1/messages/${ids.be}/claim?tab=page-a`)).status, 204);
  assert.equal(sql(s.dataDir, `SELECT tab FROM message_claims WHERE message_id = '${ids.be}'`), 'page-b');
  assert.equal((await olga.post(`/api/v1/messages/${ids.be}/claim`, { tab: 'no spaces' })).status, 400);
  assert.equal((await olga.req('DELETE', `/api/v1/messages/${ids.be}/claim?tab=${'x'.repeat(65)}`)).status, 400);
  assert.equal((await olga.req('DELETE', `/api/v1/messages/${ids.be}/claim?tab=page-b`)).status, 204);
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM message_claims WHERE message_id = '${ids.be}'`), '0');
  assert.equal((await olga.post(`/api/v1/messages/${ids.be}/claim`, {})).body.mine, true);
  assert.equal((await olga.req('DELETE', `/api/v1/messages/${ids.be}/claim`)).status, 204);
  assert.equal((await ivan.post(`/api/v1/messages/${ids.be}/claim`, {})).body.mine, true);
  // A claim ends by itself after a few minutes.
  clock.advance(299);
  assert.equal((await olga.post(`/api/v1/messages/${ids.be}/claim`, {})).body.claimed_by, 'ivan');
  clock.advance(2);
  assert.equal((await olga.post(`/api/v1/messages/${ids.be}/claim`, {})).body.mine, true);
  assert.equal((await ivan.get('/api/v1/messages?status=pending&limit=200')).body.items.find((m) => m.id === ids.be).claimed_by, 'olga');
  // An admin decides whatever the claim; the claim goes with the decision.
  assert.equal((await admin.post(`/api/v1/messages/${ids.fr}/approve`, {})).status, 200);
  assert.equal((await olga.post(`/api/v1/messages/${ids.pl}/claim`, {})).body.mine, true);
  assert.equal((await admin.post(`/api/v1/messages/${ids.pl}/reject`, { reason: 'Duplicate' })).status, 200);
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM message_claims WHERE message_id = '${ids.pl}'`), '0');
  // Only pending clips are claimed; comms may not claim.
  const decided = await olga.post(`/api/v1/messages/${ids.pl}/claim`, {});
  assert.equal(decided.status, 409);
  assert.equal((await comms.post(`/api/v1/messages/${ids.be}/claim`, {})).status, 403);
  assert.equal((await olga.post('/api/v1/messages/AAAAAAAAAAAAAAAAAAAAAA/claim', {})).status, 404);
  // Olga's own claim does not stop her.
  assert.equal((await olga.post(`/api/v1/messages/${ids.be}/approve`, {})).status, 200);
});

test('bulk approval: one event and one audit row per message; what cannot be is said per message', async () => {
  assert.equal((await ivan.post(`/api/v1/messages/${ids.c}/claim`, {})).body.mine, true);
  const r = await olga.post('/api/v1/messages/approve', { ids: [ids.a, ids.b, ids.c, ids.be] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const byId = Object.fromEntries(r.body.results.map((x) => [x.id, x]));
  assert.deepEqual([byId[ids.a].ok, byId[ids.a].status, byId[ids.b].ok], [true, 'approved', true]);
  assert.deepEqual([byId[ids.c].ok, byId[ids.c].error], [false, 'claimed']);
  assert.match(byId[ids.c].message, /ivan is reviewing/);
  assert.deepEqual([byId[ids.be].ok, byId[ids.be].error], [false, 'conflict']);
  assert.equal(r.body.done, 2);
  for (const id of [ids.a, ids.b]) {
    assert.equal(sql(s.dataDir, `SELECT count(*) || ' ' || max(actor) FROM audit WHERE action = 'message.approve' AND target = '${id}'`), '1 olga');
    assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id = '${id}'`), 'approved');
  }
  // An admin's bulk approval takes the claimed one too.
  const a = await admin.post('/api/v1/messages/approve', { ids: [ids.c] });
  assert.deepEqual(a.body.results.map((x) => x.ok), [true]);
  // Bad lists, and roles.
  for (const body of [{}, { ids: [] }, { ids: 'x' }, { ids: [ids.a, ids.a] }, { ids: ['../x'] }, { ids: Array(201).fill(ids.a) }]) {
    assert.equal((await olga.post('/api/v1/messages/approve', body)).status, 400, JSON.stringify(body).slice(0, 80));
  }
  assert.equal((await comms.post('/api/v1/messages/approve', { ids: [ids.ar] })).status, 403);
  // Rejection stays one at a time, with its reason.
  assert.equal((await olga.post('/api/v1/messages/reject', { ids: [ids.ar], reason: 'x' })).status, 405);
});

test('bulk reshare marks: the same mark on several approved clips, audited each; only approved ones', async () => {
  const r = await comms.post('/api/v1/messages/reshared', { ids: [ids.a, ids.b, ids.ar], channel: 'telegram', url: 'https://t.me/union/42' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.results.map((x) => [x.ok, x.error || x.status]), [[true, 'approved'], [true, 'approved'], [false, 'not_found']]);
  for (const id of [ids.a, ids.b]) {
    assert.equal(sql(s.dataDir, `SELECT channel || ' ' || url FROM reshares WHERE message_id = '${id}'`), 'Telegram https://t.me/union/42');
    assert.equal(sql(s.dataDir, `SELECT count(*) FROM audit WHERE action = 'message.reshared' AND target = '${id}'`), '1');
  }
  assert.equal((await comms.post('/api/v1/messages/reshared', { ids: [ids.a] })).status, 400); // no channel
  assert.equal((await comms.post('/api/v1/messages/reshared', { ids: [ids.a], channel: 'X', url: 'javascript:x' })).status, 400);
  assert.equal((await olga.post('/api/v1/messages/reshared', { ids: [ids.a], channel: 'X' })).status, 403);
});

test('the panel\'s language is kept on the user', async () => {
  let r = await olga.get('/api/v1/preferences');
  assert.equal(r.status, 200);
  assert.equal(r.body.language, null);
  assert.deepEqual(r.body.languages, ['be', 'en', 'ru', 'uk']);
  r = await olga.req('PUT', '/api/v1/preferences', { json: { language: 'be' } });
  assert.deepEqual([r.status, r.body.language], [200, 'be']);
  assert.equal((await olga.get('/api/v1/preferences')).body.language, 'be');
  assert.equal((await ivan.get('/api/v1/preferences')).body.language, null); // per user
  for (const language of ['xx', '../en', 'EN', 'be-BY', 7, '']) {
    assert.equal((await olga.req('PUT', '/api/v1/preferences', { json: { language } })).status, 400, String(language));
  }
  assert.equal((await olga.req('PUT', '/api/v1/preferences', { json: { language: 'ru' }, csrf: false })).status, 403);
  r = await olga.req('PUT', '/api/v1/preferences', { json: { language: null } });
  assert.deepEqual([r.status, r.body.language], [200, null]);
});

test('the audit log: filtered by action (or its family), actor and dates; targets say what they are', async () => {
  const day = (d) => new Date(Date.now() + d * 86400000).toISOString().slice(0, 10);
  let r = await admin.get('/api/v1/audit?action=message.approve&actor=olga');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.items.map((a) => a.target).sort(), [ids.a, ids.b, ids.be].sort());
  assert.ok(r.body.items.every((a) => a.target_kind === 'message'));
  r = await admin.get('/api/v1/audit?action=message.');
  assert.ok(r.body.items.some((a) => a.action === 'message.reject') && r.body.items.some((a) => a.action === 'message.reshared'));
  assert.ok(r.body.items.every((a) => a.action.startsWith('message.')));
  r = await admin.get(`/api/v1/audit?action=login&from=${day(-1)}&to=${day(1)}`);
  assert.ok(r.body.items.length >= 4);
  assert.ok(r.body.items.every((a) => a.target_kind === 'user' || a.target === null));
  assert.equal((await admin.get('/api/v1/audit?from=2000-01-01&to=2000-01-02')).body.items.length, 0);
  assert.equal((await admin.get('/api/v1/audit?from=yesterday')).status, 400);
  assert.equal((await olga.get('/api/v1/audit')).status, 403);
});

async function exportZip(client, query, file) {
  const r = await client.req('GET', `/api/v1/export.zip${query}`, { raw: true });
  assert.equal(r.status, 200);
  await pipeline(Readable.fromWeb(r.body), createWriteStream(file));
  return JSON.parse(spawnSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' }).stdout);
}

test('the export\'s q= is the same search; its audit row says a search was used, never the words', async () => {
  const file = path.join(dir, 'q.zip');
  assert.deepEqual((await exportZip(comms, `?q=${encodeURIComponent('IVAN TW')}`, file)).map((m) => m.id), [ids.b]);
  assert.deepEqual((await exportZip(comms, `?q=${encodeURIComponent('solidarite')}`, file)).map((m) => m.id), [ids.fr]);
  const row = sql(s.dataDir, "SELECT reason FROM audit WHERE action = 'export' ORDER BY id DESC LIMIT 1");
  assert.match(row, /search=yes/);
  assert.ok(!/solidar/i.test(row), row);
  assert.equal((await comms.req('GET', `/api/v1/export.zip?q=${'ж'.repeat(101)}`)).status, 400);
});

/** The files of the data directory that hold any of words (as bytes). */
function holders(words) {
  return filesUnder(s.dataDir).filter((f) => {
    const bytes = readFileSync(f);
    return words.some((w) => bytes.includes(Buffer.from(w, 'utf8')));
  }).map((f) => path.basename(f));
}

test('withdrawn: its words leave the search index, and no page of chorus.db or the WAL keeps them', async () => {
  const words = { name: 'Шчыглюкевіч Xylofonist', organization: 'Прафсаюз Zqwertunion', message: 'Vrblmfrazzle тэрміновае' };
  const clip = makeClip(path.join(dir, 'w.mp4'), { seconds: 1 });
  const m = await sendMessage(s.url, clip, { ...words, language: 'be' });
  assert.equal(await waitStatus(s.dataDir, m.id, ['pending', 'failed']), 'pending');
  assert.equal((await olga.get(`/api/v1/messages?${q('шчыглюкевіч')}`)).body.items.length, 1);
  // The index holds the words folded to lower case, which the message's
  // row does not: there they are, in its pages on disk...
  await until(() => holders(['xylofonist', 'zqwertunion']).length > 0, 10000, 'the index on disk');
  const r = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${m.receipt}` } });
  assert.equal(r.status, 200);
  assert.equal((await olga.get(`/api/v1/messages?${q('шчыглюкевіч')}`)).body.items.length, 0);
  assert.equal((await olga.get(`/api/v1/messages?${q('vrblmfrazzle')}`)).body.items.length, 0);
  // ...and gone once the WAL is truncated: from chorus.db, -wal, -shm,
  // and what `strings` finds in them. (A page shares a term's first
  // letters with the term before it: the words' tails are looked for
  // too, in both cases.)
  await until(() => walSize(s.dataDir) === 0, 30000, 'the WAL truncated after the withdrawal');
  const tails = ['Шчыглюкевіч', 'шчыглюкевіч', 'ыглюкевіч', 'Xylofonist', 'xylofonist', 'lofonist', 'Zqwertunion', 'zqwertunion',
    'wertunion', 'Vrblmfrazzle', 'vrblmfrazzle', 'blmfrazzle', 'тэрміновае', 'рміновае', 'Прафсаюз'];
  assert.deepEqual(holders(tails), []);
  for (const f of ['chorus.db', 'chorus.db-wal']) {
    const p = path.join(s.dataDir, f);
    const strings = spawnSync('strings', ['-a', '-n', '6', p], { encoding: 'latin1', maxBuffer: 1 << 28 }).stdout || '';
    for (const t of ['lofonist', 'wertunion', 'blmfrazzle']) assert.ok(!strings.toLowerCase().includes(t), `${t} in ${f}`);
  }
  // The index still agrees with the messages it indexes.
  sql(s.dataDir, "INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 1)");
});
