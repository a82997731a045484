// Transcripts in the panel's full-text search (migration 0011): a word
// said only in a clip's transcript finds the clip, in Latin and in
// Cyrillic (case folded as the rest of the index folds it); a transcript
// changed no longer finds the clip by its old words; a withdrawn clip's
// transcript words find nothing; the index stays consistent throughout
// (FTS5's integrity check). A transcript's edit is audited with who and
// which language, never its words; a contributor's receipt cannot edit.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { assertNoSanitizerReport, removeDir, startChorus, tempDir } from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const dir = tempDir('chorus-transcript-search-');
let s;
let mod;
let comms;
const ids = {};
const receipts = {};

before(async () => {
  s = await startChorus({ args: ['--workers', '1'] });
  const pm = addUser(s.dataDir, 'mod', 'moderator');
  const pc = addUser(s.dataDir, 'comms', 'comms');
  const clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 2 });
  for (const [k, meta] of Object.entries({
    a: { name: 'Alesia', message: 'Written words only' },
    b: { name: 'Ihar', message: 'Another written message' },
  })) {
    const r = await sendMessage(s.url, clip, meta);
    ids[k] = r.id;
    receipts[k] = r.receipt;
  }
  for (const id of Object.values(ids)) assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
  mod = await loggedIn(s.url, 'mod', pm);
  comms = await loggedIn(s.url, 'comms', pc);
  // The comms team sees (and captions) approved clips.
  for (const id of Object.values(ids)) assert.equal((await mod.post(`/api/v1/messages/${id}/approve`, {})).status, 200);
});

after(async () => {
  const r = await s.stop();
  assert.equal(r.code, 0, r.log.slice(-3000));
  assertNoSanitizerReport(r.log);
  removeDir(dir);
});

/** The ids (as keys of ids) that a search of text finds, every state. */
async function found(text) {
  const r = await mod.get(`/api/v1/messages?status=all&q=${encodeURIComponent(text)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const byId = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v, k]));
  return r.body.items.map((m) => byId[m.id]).sort();
}

function indexIsSound() {
  sql(s.dataDir, "INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 1)");
}

const put = (c, id, lang, json) => c.req('PUT', `/api/v1/messages/${id}/transcripts/${lang}`, { json });

test('a word said only in a transcript finds its clip', async () => {
  assert.deepEqual(await found('solidarnosc'), []);
  assert.equal((await put(mod, ids.a, 'en', { text: 'Solidarnosc with the miners of Salihorsk.' })).status, 200);
  assert.deepEqual(await found('solidarnosc'), ['a']);
  assert.deepEqual(await found('salihorsk'), ['a']);
  assert.deepEqual(await found('SALIH'), ['a'], 'the last word is a prefix, as one types');
  // The written message still finds it, and the other clip is untouched.
  assert.deepEqual(await found('written'), ['a', 'b']);
  indexIsSound();
});

test('in Cyrillic too, case folded: свабоду finds Свабоду', async () => {
  const r = await put(comms, ids.b, 'be', {
    cues: [{ start: 0, end: 1.2, text: 'Свабоду палітвязням!' }, { start: 1.2, end: 1.9, text: 'Жыве Беларусь.' }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(await found('свабоду'), ['b']);
  assert.deepEqual(await found('ПАЛІТВЯЗНЯМ'), ['b']);
  assert.deepEqual(await found('жыве беларусь'), ['b']);
  // A second language of the same clip: both are searched.
  assert.equal((await put(comms, ids.b, 'ru', { text: 'Свободу политзаключённым!' })).status, 200);
  assert.deepEqual(await found('политзаключенным'), ['b'], 'ё is folded as е');
  assert.deepEqual(await found('свабоду'), ['b']);
  indexIsSound();
});

test('a transcript changed: its old words no longer find the clip, its new ones do', async () => {
  assert.equal((await put(mod, ids.a, 'en', { text: 'Greetings to the dockers of Gdansk.' })).status, 200);
  assert.deepEqual(await found('solidarnosc'), []);
  assert.deepEqual(await found('salihorsk'), []);
  assert.deepEqual(await found('dockers'), ['a']);
  assert.deepEqual(await found('gdańsk'), ['a'], 'diacritics folded');
  assert.deepEqual(await found('alesia'), ['a'], 'the name is still there');
  assert.equal((await put(comms, ids.b, 'be', { text: 'Дзякуй за падтрымку.' })).status, 200);
  assert.deepEqual(await found('свабоду'), [], 'the old be words are gone');
  assert.deepEqual(await found('падтрымку'), ['b']);
  assert.deepEqual(await found('политзаключенным'), ['b'], 'the ru transcript stays');
  indexIsSound();
});

test('edits are audited: who and which language, never the words; a receipt cannot edit', async () => {
  const rows = sql(s.dataDir, `SELECT actor || ' ' || target || ' ' || reason FROM audit WHERE action = 'message.transcript' ORDER BY id`).split('\n');
  assert.deepEqual(rows, [
    `mod ${ids.a} en`, `comms ${ids.b} be`, `comms ${ids.b} ru`, `mod ${ids.a} en`, `comms ${ids.b} be`,
  ]);
  const all = sql(s.dataDir, 'SELECT group_concat(coalesce(target, \'\') || coalesce(reason, \'\'), \' \') FROM audit');
  for (const w of ['Greetings', 'Дзякуй', 'Свабоду', 'Solidarnosc']) assert.ok(!all.includes(w), `the audit log holds no "${w}"`);
  // A contributor's receipt is no panel session.
  const r = await fetch(`${s.url}/api/v1/messages/${ids.a}/transcripts/en`, {
    method: 'PUT', headers: { Authorization: `Bearer ${receipts.a}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ text: 'Not theirs to change' }),
  });
  assert.equal(r.status, 401);
  assert.deepEqual(await found('theirs'), []);
});

test('a withdrawn clip: its transcripts\' words find nothing', async () => {
  const r = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${receipts.b}` } });
  assert.equal(r.status, 200);
  assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id = '${ids.b}'`), 'withdrawn');
  assert.deepEqual(await found('падтрымку'), []);
  assert.deepEqual(await found('политзаключенным'), []);
  assert.deepEqual(await found('ihar'), []);
  assert.deepEqual(await found('dockers'), ['a']);
  indexIsSound();
  // Its words are in no row of the index's source either.
  assert.equal(sql(s.dataDir, "SELECT count(*) FROM message_search_source WHERE text LIKE '%падтрымку%'"), '0');
});
