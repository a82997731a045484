// Campaigns (DESIGN.md "Campaigns") against a real chorus with a worker:
// the migration of a data directory of before campaigns (its messages,
// campaign.json and --consent-version become the default campaign), two
// campaigns side by side (uploads land in the right one; the list, the
// counts and the export filter by campaign; a moderator and a comms user
// limited to one campaign see nothing of the other by any route, /media
// included), the consent history (a contributor's exact text survives
// an edit; a page older than the grace is refused), open and close dates
// on the test clock, the QR code read back by zbarimg, the embedding
// rule, the logo made by the worker, and the command line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  ROOT, assertNoSanitizerReport, chorus, removeDir, startChorus, tempDir, testClock, until,
} from '../lib/chorus.mjs';
import { ffmpeg, makeClip, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const PUBLIC = 'http://chorus.test:8080';
const SITE = 'https://union.example';
const dir = tempDir('chorus-campaigns-');
let s;
let clock;
let clip;
let admin;
let mod;
let modStrike;
let comms;
let commsStrike;
const ids = {};

const b64 = (v) => Buffer.from(v).toString('base64');

/** A tus creation with the whole clip; resolves the raw answer. */
async function tus(meta, bytes = readFileSync(clip)) {
  const md = Object.entries({ consent: 'yes', country: 'BY', language: 'be', ...meta })
    .filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${b64(v)}`).join(',');
  const r = await fetch(`${s.url}/api/v1/uploads`, {
    method: 'POST',
    headers: {
      'Tus-Resumable': '1.0.0', 'Upload-Length': String(bytes.length), 'Upload-Metadata': md,
      'Content-Type': 'application/offset+octet-stream',
    },
    body: bytes,
  });
  const text = await r.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* none */ }
  return { status: r.status, body, headers: r.headers };
}

/** The form upload (campaign first, as the page sends it). */
async function form(fields) {
  const f = new FormData();
  for (const [k, v] of Object.entries({ consent: 'yes', country: 'UA', language: 'uk', ...fields })) f.append(k, v);
  f.append('video', new Blob([readFileSync(clip)]), 'clip.mp4');
  const r = await fetch(`${s.url}/api/v1/messages`, { method: 'POST', body: f });
  return { status: r.status, body: await r.json() };
}

/** An upload that must be taken; resolves its message id. */
async function upload(meta) {
  const r = await tus(meta);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.id;
}

/** Now on the server's clock, as RFC 3339. */
const serverNow = (plus = 0) => new Date(Date.now() + (clock.offset + plus) * 1000).toISOString();

const STRIKE = {
  slug: 'strike',
  languages: ['be', 'en'],
  texts: {
    be: { title: 'Страйк салідарнасці', intro: 'Запішыце відэа для страйкоўцаў.', consent: 'Я згаджаюся, што маё відэа пакажуць.\nВерсія першая.', cta: 'Падтрымайце страйк' },
    en: { title: 'Strike solidarity', consent: 'I agree that my video may be shown.' },
  },
  accent_color: '#C8102E',
  hashtag: '#StrikeBY',
};
const MAY = {
  slug: 'may-day', languages: ['en', 'ru'],
  texts: { en: { title: 'May Day', consent: 'I agree.' }, ru: { title: 'Первомай', consent: 'Я согласен.' } },
};

before(async () => {
  clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 1 });
  const base = testClock(dir);
  clock = { offset: 0, advance(n) { this.offset += n; base.advance(n); }, env: base.env };
  s = await startChorus({
    // Sessions outlast the days the test clock moves on.
    args: ['--workers', '1', '--public-url', PUBLIC, '--cors-origin', SITE,
      '--session-idle', String(30 * 86400), '--session-max', String(90 * 86400)],
    env: clock.env(),
  });
  const pw = {
    admin: addUser(s.dataDir, 'admin', 'admin'),
    mod: addUser(s.dataDir, 'mod', 'moderator'),
    modStrike: addUser(s.dataDir, 'modstrike', 'moderator'),
    comms: addUser(s.dataDir, 'comms', 'comms'),
    commsStrike: addUser(s.dataDir, 'commsstrike', 'comms'),
  };
  admin = await loggedIn(s.url, 'admin', pw.admin);
  for (const c of [STRIKE, MAY]) {
    const r = await admin.post('/api/v1/campaigns', c);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.consent_version, 'v1');
  }
  for (const u of ['modstrike', 'commsstrike']) {
    const r = await admin.req('PUT', `/api/v1/users/${u}/campaigns`, { json: { campaigns: ['strike'] } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  mod = await loggedIn(s.url, 'mod', pw.mod);
  modStrike = await loggedIn(s.url, 'modstrike', pw.modStrike);
  comms = await loggedIn(s.url, 'comms', pw.comms);
  commsStrike = await loggedIn(s.url, 'commsstrike', pw.commsStrike);
  ids.strike1 = await upload({ campaign: 'strike', consent_version: 'v1', consent_language: 'be', name: 'Алесь' });
  ids.strike2 = await upload({ campaign: 'strike', consent_version: 'v1', consent_language: 'en', language: 'en' });
  const m = await form({ campaign: 'may-day', consent_version: 'v1', name: 'Оксана' });
  assert.equal(m.status, 201, JSON.stringify(m.body));
  ids.may = m.body.id;
  ids.dflt = await upload({ consent_version: '2026-11' });
  for (const id of Object.values(ids)) assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
});

after(async () => {
  const r = await s.stop();
  assert.equal(r.code, 0);
  assertNoSanitizerReport(r.log);
  removeDir(dir);
});

test('uploads land in their campaign; the list and its counts filter by campaign', async () => {
  assert.equal(sql(s.dataDir, `SELECT c.slug FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE m.id = '${ids.may}'`), 'may-day');
  assert.equal(sql(s.dataDir, `SELECT campaign_id FROM messages WHERE id = '${ids.dflt}'`), '1');
  const all = await mod.get('/api/v1/messages?status=pending');
  assert.equal(all.status, 200);
  assert.deepEqual(all.body.items.map((m) => m.id).sort(), Object.values(ids).sort());
  assert.equal(all.body.counts.pending, 4);
  const strike = await mod.get('/api/v1/messages?status=pending&campaign=strike');
  assert.deepEqual(strike.body.items.map((m) => m.id).sort(), [ids.strike1, ids.strike2].sort());
  assert.ok(strike.body.items.every((m) => m.campaign === 'strike'));
  assert.equal(strike.body.counts.pending, 2);
  assert.equal((await mod.get('/api/v1/messages?campaign=nope')).status, 400);
  // The detail names the campaign and the consent text, in the language shown.
  const d = (await mod.get(`/api/v1/messages/${ids.strike2}`)).body;
  assert.equal(d.campaign, 'strike');
  assert.deepEqual([d.consent.version, d.consent.language, d.consent.text], ['v1', 'en', STRIKE.texts.en.consent]);
  assert.equal(d.consent.texts.be, STRIKE.texts.be.consent);
});

test('a moderator limited to one campaign sees nothing of another, by any route', async () => {
  const list = await modStrike.get('/api/v1/messages?status=pending');
  assert.deepEqual(list.body.items.map((m) => m.id).sort(), [ids.strike1, ids.strike2].sort());
  assert.deepEqual(list.body.counts, { uploading: 0, processing: 0, pending: 2, approved: 0, rejected: 0, failed: 0, withdrawn: 0 });
  // Every state at once: still only the campaign's own messages.
  const every = await modStrike.get('/api/v1/messages?status=all');
  assert.equal(every.status, 200, JSON.stringify(every.body));
  assert.deepEqual(every.body.items.map((m) => m.id).sort(), [ids.strike1, ids.strike2].sort());
  const everyAll = await mod.get('/api/v1/messages?status=all');
  assert.deepEqual(everyAll.body.items.map((m) => m.id).sort(), Object.values(ids).sort(), 'an unlimited moderator sees them all');
  assert.equal((await modStrike.get('/api/v1/messages?status=pending&q=Оксана')).body.items.length, 0);
  assert.equal((await mod.get('/api/v1/messages?status=pending&q=Оксана')).body.items.length, 1);
  for (const other of [ids.may, ids.dflt]) {
    assert.equal((await modStrike.get(`/api/v1/messages/${other}`)).status, 404);
    for (const f of ['video.mp4', 'thumb.jpg']) {
      const r = await modStrike.get(`/media/${other}/${f}`, { raw: true });
      assert.equal(r.status, 404, `/media/${other}/${f}`);
      await r.arrayBuffer();
    }
    assert.equal((await modStrike.post(`/api/v1/messages/${other}/approve`, {})).status, 404);
    assert.equal((await modStrike.post(`/api/v1/messages/${other}/reject`, { reason: 'x' })).status, 404);
    // The routes added later keep to the campaign as well.
    const claim = await modStrike.post(`/api/v1/messages/${other}/claim`, {});
    assert.equal(claim.status, 404, `claim ${JSON.stringify(claim.body)}`);
    assert.equal((await modStrike.get(`/api/v1/messages/${other}/transcripts`)).status, 404);
    assert.equal((await modStrike.get(`/api/v1/messages/${other}/transcripts/be`)).status, 404);
    assert.equal((await modStrike.get(`/api/v1/messages/${other}/transcripts/be.vtt`)).status, 404);
    const put = await modStrike.req('PUT', `/api/v1/messages/${other}/transcripts/en`, { json: { cues: [{ start: 0, end: 0.8, text: 'Not mine to write' }] } });
    assert.equal(put.status, 404, JSON.stringify(put.body));
    assert.equal((await modStrike.get(`/api/v1/messages/${other}/versions`)).status, 404);
  }
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM message_claims WHERE message_id IN ('${ids.may}', '${ids.dflt}')`), '0');
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM transcripts WHERE message_id IN ('${ids.may}', '${ids.dflt}')`), '0');
  // Bulk approval: the other campaign's ids are unknown, one by one.
  const bulk = await modStrike.post('/api/v1/messages/approve', { ids: [ids.may, ids.dflt] });
  assert.equal(bulk.status, 200, JSON.stringify(bulk.body));
  assert.equal(bulk.body.done, 0);
  assert.deepEqual(bulk.body.results.map((x) => [x.id, x.ok, x.error]), [[ids.may, false, 'not_found'], [ids.dflt, false, 'not_found']]);
  // A claim of another campaign's message is neither taken nor let go:
  // letting go answers as for a message that is not there at all.
  assert.equal((await mod.post(`/api/v1/messages/${ids.may}/claim`, {})).body.mine, true);
  const nowhere = await modStrike.req('DELETE', `/api/v1/messages/${'A'.repeat(22)}/claim`);
  const letGo = await modStrike.req('DELETE', `/api/v1/messages/${ids.may}/claim`);
  assert.equal(letGo.status, nowhere.status);
  assert.equal((await modStrike.post(`/api/v1/messages/${ids.may}/claim`, {})).status, 404);
  const held = (await mod.get(`/api/v1/messages?status=pending&campaign=may-day`)).body.items.find((m) => m.id === ids.may);
  assert.equal(held.claimed_by, 'mod', 'the claim of mod stays');
  assert.equal((await mod.req('DELETE', `/api/v1/messages/${ids.may}/claim`)).status, 204);
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM message_claims WHERE message_id = '${ids.may}'`), '0');
  const mine = await modStrike.get(`/media/${ids.strike1}/thumb.jpg`, { raw: true });
  assert.equal(mine.status, 200);
  await mine.arrayBuffer();
  assert.equal((await modStrike.get('/api/v1/messages?campaign=may-day')).status, 400);
  const camps = await modStrike.get('/api/v1/campaigns');
  assert.deepEqual(camps.body.items.map((c) => c.slug), ['strike']);
  assert.equal(camps.body.items[0].title, STRIKE.texts.be.title);
  assert.equal(camps.body.items[0].texts, undefined, 'only admins read everything');
  // Nothing changed on the way.
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM messages WHERE status = 'pending'`), '4');
});

test('comms limited to one campaign: list, export, reshares and media keep to it', async () => {
  for (const id of [ids.strike1, ids.may]) assert.equal((await mod.post(`/api/v1/messages/${id}/approve`, {})).status, 200);
  const list = await commsStrike.get('/api/v1/messages?status=approved');
  assert.deepEqual(list.body.items.map((m) => m.id), [ids.strike1]);
  assert.equal(list.body.counts.approved, 1);
  assert.equal((await commsStrike.post(`/api/v1/messages/${ids.may}/reshared`, { channel: 'X' })).status, 404);
  assert.equal((await commsStrike.post(`/api/v1/messages/${ids.strike1}/reshared`, { channel: 'X' })).status, 201);
  const m = await commsStrike.get(`/media/${ids.may}/video.mp4`, { raw: true });
  assert.equal(m.status, 404);
  await m.arrayBuffer();
  for (const q of ['', `?ids=${ids.may},${ids.strike1}`, '?campaign=strike']) {
    const manifest = await exportManifest(commsStrike, q);
    assert.deepEqual(manifest.map((x) => x.id), [ids.strike1], q);
  }
  assert.equal((await commsStrike.get('/api/v1/export.zip?campaign=may-day')).status, 400);
  // Unlimited comms: both, or one by filter; the manifest says whose.
  const both = await exportManifest(comms, '');
  assert.deepEqual(both.map((x) => x.id).sort(), [ids.strike1, ids.may].sort());
  const may = await exportManifest(comms, '?campaign=may-day');
  assert.deepEqual(may.map((x) => [x.id, x.campaign]), [[ids.may, 'may-day']]);
});

test('limited to one campaign: another\'s versions and their files are not found', async () => {
  // A version of the May Day clip (approved above), made for the unlimited comms user.
  const ask = { format: '1x1', captions: null, credit: false, branding: false };
  const refused = await commsStrike.post(`/api/v1/messages/${ids.may}/versions`, ask);
  assert.equal(refused.status, 404, JSON.stringify(refused.body));
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM jobs WHERE kind = 'version' AND target LIKE '${ids.may}/%'`), '0');
  const made = await comms.post(`/api/v1/messages/${ids.may}/versions`, ask);
  assert.equal(made.status, 202, JSON.stringify(made.body));
  const v = await until(async () => {
    const items = (await comms.get(`/api/v1/messages/${ids.may}/versions`)).body.items;
    const x = items.find((i) => i.name === made.body.name);
    return x && ['done', 'failed'].includes(x.state) ? x : null;
  }, 300000, 'the version made');
  assert.equal(v.state, 'done', JSON.stringify(v));
  const url = `/media/${ids.may}/v/${v.name}.mp4`;
  assert.equal(v.url, url);
  const mine = await comms.req('GET', url, { raw: true });
  assert.equal(mine.status, 200);
  await mine.arrayBuffer();
  for (const [who, c] of [['commsstrike', commsStrike], ['modstrike', modStrike]]) {
    const r = await c.req('GET', url, { raw: true });
    assert.equal(r.status, 404, `${who} ${url}`);
    await r.arrayBuffer();
    assert.equal((await c.get(`/api/v1/messages/${ids.may}/versions`)).status, 404, who);
  }
});

test('limited to one campaign: another\'s take-down list is not found', async () => {
  // A May Day clip posted, then withdrawn: its take-down list is not theirs.
  const r = await tus({ campaign: 'may-day', consent_version: 'v1', consent_language: 'en' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const gone = r.body.id;
  assert.equal(await waitStatus(s.dataDir, gone, ['pending', 'failed']), 'pending');
  assert.equal((await mod.post(`/api/v1/messages/${gone}/approve`, {})).status, 200);
  const post = await comms.post(`/api/v1/messages/${gone}/reshared`, { channel: 'Telegram', url: 'https://t.me/union/1' });
  assert.equal(post.status, 201, JSON.stringify(post.body));
  const w = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${r.headers.get('chorus-receipt')}` } });
  assert.equal(w.status, 200);
  const [reshare] = (await comms.get('/api/v1/messages?status=withdrawn&used=yes')).body.items.find((m) => m.id === gone).reshares;
  assert.ok(reshare.id > 0);
  assert.ok(!(await commsStrike.get('/api/v1/messages?status=withdrawn&used=all')).body.items.some((m) => m.id === gone));
  for (const body of [{ reshare: reshare.id }, {}]) {
    const t = await commsStrike.post(`/api/v1/messages/${gone}/taken-down`, body);
    assert.equal(t.status, 404, `taken-down ${JSON.stringify(body)}: ${JSON.stringify(t.body)}`);
  }
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM reshares WHERE message_id = '${gone}' AND taken_down_at IS NOT NULL`), '0');
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM audit WHERE action = 'message.taken_down' AND target = '${gone}'`), '0');
  assert.equal((await comms.post(`/api/v1/messages/${gone}/taken-down`, { reshare: reshare.id })).status, 200);
});

/** The manifest.json of an export (the ZIP checked whole). */
async function exportManifest(client, query) {
  const r = await client.req('GET', `/api/v1/export.zip${query}`, { raw: true });
  assert.equal(r.status, 200, query);
  const file = path.join(dir, 'export.zip');
  writeFileSync(file, Buffer.from(await r.arrayBuffer()));
  assert.equal(spawnSync('unzip', ['-t', file]).status, 0);
  return JSON.parse(spawnSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' }).stdout);
}

test('consent history: the exact text a contributor agreed to survives an edit', async () => {
  const before = (await admin.get('/api/v1/campaigns')).body.items.find((c) => c.slug === 'strike');
  assert.equal(before.consent_version, 'v1');
  // A page opened before the edit...
  const page = await (await fetch(`${s.url}/api/v1/campaigns/strike?lang=be`)).json();
  assert.equal(page.consent_version, 'v1');
  // ...and the edit.
  const newText = 'Я згаджаюся, што маё відэа пакажуць у сацыяльных сетках.\nВерсія другая.';
  let r = await admin.req('PATCH', '/api/v1/campaigns/strike', { json: { texts: { be: { consent: newText } } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.consent_version, 'v2');
  assert.deepEqual(r.body.consent_history.map((v) => [v.version, v.texts.be]),
    [['v1', STRIKE.texts.be.consent], ['v2', newText]]);
  // A title alone is no new version.
  r = await admin.req('PATCH', '/api/v1/campaigns/strike', { json: { texts: { en: { title: 'Strike!' } } } });
  assert.equal(r.body.consent_version, 'v2');
  // The contributor who read v1 sends now: taken, and kept as v1.
  const late = await upload({ campaign: 'strike', consent_version: page.consent_version, consent_language: 'be' });
  await waitStatus(s.dataDir, late, ['pending', 'failed']);
  assert.equal(sql(s.dataDir, `SELECT consent_version FROM messages WHERE id = '${late}'`), 'v1');
  for (const id of [ids.strike1, late]) {
    const d = (await mod.get(`/api/v1/messages/${id}`)).body;
    assert.deepEqual([d.consent.version, d.consent.text], ['v1', STRIKE.texts.be.consent], id);
  }
  // The manifest carries it beside the clip.
  const manifest = await exportManifest(comms, '?campaign=strike');
  assert.equal(manifest.find((x) => x.id === ids.strike1).consent_text, STRIKE.texts.be.consent);
  const csv = await exportCsv(comms, '?campaign=strike');
  assert.match(csv.split('\n')[0], /,campaign,consent_language,consent_text,reshared$/);
  assert.ok(csv.includes('"Я згаджаюся, што маё відэа пакажуць.\nВерсія першая."'));
  // A page older than the grace (a day) is refused: it must be reloaded.
  clock.advance(2 * 86400);
  const stale = await tus({ campaign: 'strike', consent_version: 'v1' });
  assert.equal(stale.status, 400);
  assert.equal(stale.body.error, 'consent_outdated');
  assert.equal(stale.body.field, 'consent_version');
  assert.equal((await tus({ campaign: 'strike', consent_version: 'v0' })).status, 400);
  const fresh = await upload({ campaign: 'strike', consent_version: 'v2', consent_language: 'be' });
  await waitStatus(s.dataDir, fresh, ['pending', 'failed']);
  const d = (await mod.get(`/api/v1/messages/${fresh}`)).body;
  assert.deepEqual([d.consent.version, d.consent.text], ['v2', newText]);
  // A language the campaign does not have is not a consent text anyone saw.
  assert.equal((await tus({ campaign: 'strike', consent_version: 'v2', consent_language: 'ru' })).body.field, 'consent_language');
  // And the rows cannot be rewritten behind the panel's back.
  const edit = spawnSync('sqlite3', [path.join(s.dataDir, 'chorus.db'), "UPDATE consent_texts SET text = 'x'"], { encoding: 'utf8' });
  assert.notEqual(edit.status, 0);
});

async function exportCsv(client, query) {
  const r = await client.req('GET', `/api/v1/export.zip${query}`, { raw: true });
  const file = path.join(dir, 'export-csv.zip');
  writeFileSync(file, Buffer.from(await r.arrayBuffer()));
  return spawnSync('unzip', ['-p', file, 'manifest.csv'], { encoding: 'utf8' }).stdout;
}

test('the public view: texts in the asked language, each falling back to the first', async () => {
  let c = await (await fetch(`${s.url}/api/v1/campaigns/strike?lang=en`)).json();
  assert.deepEqual([c.lang, c.title, c.intro, c.consent_language], ['en', 'Strike!', STRIKE.texts.be.intro, 'en']);
  assert.equal(c.cta, STRIKE.texts.be.cta);
  assert.deepEqual([c.accent_color, c.hashtag, c.url, c.open], ['#c8102e', '#StrikeBY', `${PUBLIC}/c/strike`, true]);
  c = await (await fetch(`${s.url}/api/v1/campaigns/strike?lang=ru`)).json();
  assert.deepEqual([c.lang, c.title], ['be', STRIKE.texts.be.title]);
  c = await (await fetch(`${s.url}/api/v1/campaigns/strike`)).json();
  assert.equal(c.lang, 'be');
  assert.equal((await fetch(`${s.url}/api/v1/campaigns/nope`)).status, 404);
  // The page, rendered in the visitor's language, names its campaign.
  const html = await (await fetch(`${s.url}/c/strike`, { headers: { 'Accept-Language': 'be-BY,be;q=0.9,en;q=0.5' } })).text();
  assert.match(html, /<html lang="be"[^>]* data-campaign="strike"/);
  assert.match(html, /<title>Страйк салідарнасці<\/title>/);
  assert.match(html, /<input type="hidden" id="campaign" name="campaign" value="strike">/);
  assert.match(html, /name="consent_version" value="v2"/);
  assert.ok(html.includes('Я згаджаюся, што маё відэа пакажуць у сацыяльных сетках.\nВерсія другая.'));
  const theme = await (await fetch(`${s.url}/c/strike/theme.css`)).text();
  assert.match(theme, /--accent: #c8102e;/);
});

test('a campaign\'s credit line template is kept as set, and shown back', async () => {
  const strike = async () => (await admin.get('/api/v1/campaigns')).body.items.find((c) => c.slug === 'strike');
  assert.equal((await strike()).credit_template, null, 'none until one is set');
  const template = 'Салідарнасць: {name} · {organization} ({country})';
  let r = await admin.req('PATCH', '/api/v1/campaigns/strike', { json: { credit_template: template } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.credit_template, template);
  assert.equal((await strike()).credit_template, template);
  // Too long, or on two lines: refused, and the one kept stays.
  for (const bad of ['я'.repeat(201), 'line one\nline two']) {
    r = await admin.req('PATCH', '/api/v1/campaigns/strike', { json: { credit_template: bad } });
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.field, 'credit_template');
  }
  assert.equal((await strike()).credit_template, template);
  // Only an admin may set one.
  assert.equal((await mod.req('PATCH', '/api/v1/campaigns/strike', { json: { credit_template: 'x' } })).status, 403);
  assert.equal((await strike()).credit_template, template);
});

test('user text is escaped in the pages the server renders', async () => {
  const evil = '<img src=x onerror=alert(1)>"\'&';
  let r = await admin.post('/api/v1/campaigns', {
    slug: 'evil', languages: ['en'], texts: { en: { title: evil, intro: evil, consent: evil, cta: evil } },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  for (const p of ['/c/evil', '/c/evil/poster']) {
    r = await fetch(`${s.url}${p}`);
    const html = await r.text();
    assert.ok(!html.includes('<img src=x'), p);
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;'), p);
  }
  // The admin API never lets a slug or a colour carry anything else.
  assert.equal((await admin.post('/api/v1/campaigns', { slug: '../x', languages: ['en'] })).status, 400);
  assert.equal((await admin.req('PATCH', '/api/v1/campaigns/evil', { json: { accent_color: 'red;}</style>' } })).body.field, 'accent_color');
});

test('a closed campaign refuses uploads with a clear page; so does one not yet open', async () => {
  // It closes in a minute (the server's clock), then the clock moves on.
  let r = await admin.req('PATCH', '/api/v1/campaigns/may-day', { json: { closes_at: serverNow(60) } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.open, true);
  clock.advance(120);
  const c = await (await fetch(`${s.url}/api/v1/campaigns/may-day`)).json();
  assert.deepEqual([c.open, c.state], [false, 'closed']);
  const t = await tus({ campaign: 'may-day', consent_version: 'v1' });
  assert.equal(t.status, 403);
  assert.equal(t.body.error, 'campaign_closed');
  assert.match(t.headers.get('content-type'), /^application\/json/);
  const f = await form({ campaign: 'may-day' });
  assert.equal(f.status, 403);
  assert.equal(f.body.error, 'campaign_closed');
  const page = await (await fetch(`${s.url}/c/may-day`, { headers: { 'Accept-Language': 'ru' } })).text();
  assert.match(page, /<section id="closed" class="card notice" +aria-labelledby/);
  assert.match(page, /Эта кампания завершена/);
  assert.match(page, /<form id="form"[^>]* hidden>/);
  // Reopened, but only from tomorrow.
  r = await admin.req('PATCH', '/api/v1/campaigns/may-day', { json: { closes_at: null, opens_at: serverNow(86400) } });
  assert.equal(r.body.state, 'not_yet_open');
  const soon = await tus({ campaign: 'may-day', consent_version: 'v1' });
  assert.deepEqual([soon.status, soon.body.error, soon.body.state], [403, 'campaign_closed', 'not_yet_open']);
  assert.match(await (await fetch(`${s.url}/c/may-day`)).text(), /This campaign has not opened yet/);
  clock.advance(86400 + 60);
  assert.equal((await (await fetch(`${s.url}/api/v1/campaigns/may-day`)).json()).open, true);
  assert.equal((await tus({ campaign: 'may-day', consent_version: 'v1' })).status, 201);
});

test('the QR code decodes back to the page\'s public address', async () => {
  for (const size of [256, 1200]) {
    const r = await fetch(`${s.url}/api/v1/campaigns/strike/qr.png?size=${size}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/png');
    const file = path.join(dir, `qr-${size}.png`);
    writeFileSync(file, Buffer.from(await r.arrayBuffer()));
    const z = spawnSync('zbarimg', ['--quiet', '--raw', file], { encoding: 'utf8' });
    assert.equal(z.status, 0, z.stderr);
    assert.equal(z.stdout.trim(), `${PUBLIC}/c/strike`);
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=width', '-of', 'csv=p=0', file], { encoding: 'utf8' });
    assert.ok(Number(probe.stdout) <= size && Number(probe.stdout) > size * 0.7, probe.stdout);
  }
  const svg = await fetch(`${s.url}/api/v1/campaigns/strike/qr.svg`);
  assert.equal(svg.headers.get('content-type'), 'image/svg+xml');
  assert.match(await svg.text(), /^<\?xml[^]*<svg [^]*<path fill="#000" d="M/);
  assert.equal((await fetch(`${s.url}/api/v1/campaigns/strike/qr.png?size=99999`)).status, 400);
});

test('embedding: the campaign page may be framed by --cors-origin sites, the panel never', async () => {
  for (const p of ['/', '/c/strike']) {
    const r = await fetch(`${s.url}${p}`);
    assert.equal(r.headers.get('x-frame-options'), null, p);
    assert.match(r.headers.get('content-security-policy'), new RegExp(`frame-ancestors ${SITE}; base-uri 'none'$`));
    assert.match(r.headers.get('content-security-policy'), /script-src 'self'; style-src 'self'/);
  }
  for (const p of ['/panel', '/c/strike/poster', '/receipt', '/api/v1/campaigns/strike']) {
    const r = await fetch(`${s.url}${p}`);
    assert.equal(r.headers.get('x-frame-options'), 'DENY', p);
    assert.match(r.headers.get('content-security-policy'), /frame-ancestors 'none'/, p);
  }
  const c = (await admin.get('/api/v1/campaigns')).body.items.find((x) => x.slug === 'strike');
  assert.match(c.embed.snippet, /^<iframe src="http:\/\/chorus\.test:8080\/c\/strike" title="Страйк салідарнасці"/);
  assert.deepEqual(c.embed.allowed_from, [SITE]);
});

/** PNG chunk with its CRC (to slip text into a logo). */
function crc32(buf) {
  let c;
  let crc = 0xffffffff;
  for (const b of buf) {
    c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

test('the logo: validated and made again by the worker, at most 1 MB, PNG or JPEG in, PNG out', async () => {
  const png = path.join(dir, 'logo.png');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=2000x1000', '-frames:v', '1', png]);
  // A text chunk the logo must lose on the way.
  const raw = readFileSync(png);
  const withText = Buffer.concat([raw.subarray(0, 33), chunk('tEXt', Buffer.from('Comment\0SECRET-ORIGIN')), raw.subarray(33)]);
  let r = await putRaw(withText, 'image/png');
  assert.equal(r.status, 202, await r.text());
  const made = await until(async () => {
    const c = (await admin.get('/api/v1/campaigns')).body.items.find((x) => x.slug === 'strike');
    return c.logo_state.job && ['done', 'failed'].includes(c.logo_state.job.state) ? c : null;
  }, 60000, 'the logo job');
  assert.equal(made.logo_state.job.state, 'done', JSON.stringify(made.logo_state));
  assert.ok(made.logo);
  const logo = await fetch(`${s.url}${made.logo}`);
  assert.equal(logo.status, 200);
  assert.equal(logo.headers.get('content-type'), 'image/png');
  const out = Buffer.from(await logo.arrayBuffer());
  assert.ok(!out.includes('SECRET-ORIGIN'), 'the text chunk went');
  const file = path.join(dir, 'made.png');
  writeFileSync(file, out);
  const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height,pix_fmt', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  assert.equal(probe.stdout.trim(), 'png,1024,512,rgba');
  assert.equal(sql(s.dataDir, "SELECT count(*) FROM jobs WHERE kind = 'logo' AND state = 'done'"), '1');
  // The page and the poster show it.
  assert.match(await (await fetch(`${s.url}/c/strike`)).text(), /<img id="logo" class="logo" src="\/api\/v1\/campaigns\/strike\/logo\.png\?v=\d+" alt="" >/);
  // A JPEG is taken too.
  const jpg = path.join(dir, 'logo.jpg');
  ffmpeg(['-f', 'lavfi', '-i', 'color=red:size=300x200', '-frames:v', '1', jpg]);
  r = await putRaw(readFileSync(jpg), 'image/jpeg');
  assert.equal(r.status, 202);
  await until(async () => sql(s.dataDir, "SELECT count(*) FROM jobs WHERE kind = 'logo' AND state = 'done'") === '2', 60000, 'the JPEG');
  // Anything else fails with a reason an admin can read; the logo stays.
  r = await putRaw(Buffer.from('GIF89a not really'), 'image/png');
  assert.equal(r.status, 202);
  const bad = await until(async () => {
    const c = (await admin.get('/api/v1/campaigns')).body.items.find((x) => x.slug === 'strike');
    return c.logo_state.job.state === 'failed' ? c : null;
  }, 60000, 'the refusal');
  assert.match(bad.logo_state.job.error, /not a PNG or JPEG/);
  assert.ok(bad.logo, 'the made logo is kept');
  assert.equal((await putRaw(Buffer.alloc(1024 * 1024 + 1), 'image/png')).status, 413);
  assert.equal((await putRaw(Buffer.from('x'), 'text/plain')).status, 415);
  assert.equal((await mod.req('PUT', '/api/v1/campaigns/strike/logo', { headers: { 'Content-Type': 'image/png' } })).status, 403);
  // Nothing of the uploads is left behind.
  const left = spawnSync('sh', ['-c', `ls ${s.dataDir}/campaigns/*/`], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(left, /\.in|\.part|\.tmp/);
});

/** PUT .../logo with body as it is. */
async function putRaw(body, type) {
  return fetch(`${s.url}/api/v1/campaigns/strike/logo`, {
    method: 'PUT', body,
    headers: { 'Content-Type': type, Cookie: `chorus_session=${admin.cookie}`, 'X-CSRF-Token': admin.csrf },
  });
}

test('users: limits set and shown by the API; admins are never limited', async () => {
  const u = (await admin.get('/api/v1/users')).body.items;
  assert.deepEqual(u.find((x) => x.username === 'modstrike').campaigns, ['strike']);
  assert.deepEqual(u.find((x) => x.username === 'mod').campaigns, []);
  assert.equal((await admin.req('PUT', '/api/v1/users/admin/campaigns', { json: { campaigns: ['strike'] } })).status, 400);
  assert.equal((await admin.req('PUT', '/api/v1/users/mod/campaigns', { json: { campaigns: ['nope'] } })).status, 400);
  assert.equal((await admin.req('PUT', '/api/v1/users/nobody/campaigns', { json: { campaigns: [] } })).status, 404);
  assert.equal((await mod.req('PUT', '/api/v1/users/mod/campaigns', { json: { campaigns: [] } })).status, 403);
  assert.equal(sql(s.dataDir, "SELECT reason FROM audit WHERE action = 'user.campaigns' AND target = 'modstrike'"), 'strike');
});

test('the command line: chorus campaign add, set and list; chorus user campaigns', () => {
  const run = (...args) => chorus([...args, '--data-dir', s.dataDir], { env: clock.env() });
  let r = run('campaign', 'add', 'birthday', '--languages', 'be,ru', '--title', 'З днём нараджэння', '--consent-text', 'Згода', '--closes', '2031-01-01T00:00:00Z');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /added birthday, consent version v1/);
  r = run('campaign', 'set', 'birthday', '--lang', 'ru', '--title', 'С днём рождения', '--consent-text', 'Согласие');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /consent version v2/);
  assert.equal(run('campaign', 'add', 'birthday', '--title', 'x').status, 1);
  assert.equal(run('campaign', 'add', 'Bad Slug', '--title', 'x').status, 1);
  r = run('campaign', 'list', '--public-url', PUBLIC);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^birthday\s+open\s+be,ru\s+v2\s+-\s+2031-01-01T00:00:00Z\s+http:\/\/chorus\.test:8080\/c\/birthday\n  З днём нараджэння$/m);
  assert.match(r.stdout, /^default\s+open\s+en,ru,uk,be\s+2026-11/m);
  r = run('user', 'campaigns', 'mod', 'birthday,strike');
  assert.equal(r.status, 0, r.stderr);
  assert.match(run('user', 'list').stdout, /^mod\s+moderator\s+active\s+\S+\s+\["strike","birthday"\]$/m);
  assert.equal(run('user', 'campaigns', 'mod', '--all').status, 0);
  assert.match(run('user', 'list').stdout, /^mod\s+moderator\s+active\s+\S+\s+all$/m);
  assert.equal(run('user', 'campaigns', 'mod', 'nope').status, 1);
});

test('the migration: a data directory of before campaigns becomes the default campaign', async () => {
  // Today's schema (0001 + 0002) with data, made with the sqlite3 program.
  const old = tempDir('chorus-premigration-');
  const db = path.join(old, 'chorus.db');
  const schema = ['0001_init.sql', '0002_job_kinds.sql']
    .map((f) => readFileSync(path.join(ROOT, 'migrations', f), 'utf8')).join('\n');
  const seed = `${schema}
    INSERT INTO messages (id, status, name, country, language, consent_version, consent_scope, created_at, updated_at)
      VALUES ('oldpendingxxxxxxxxxxxx', 'pending', 'Янка', 'BY', 'be', '2026-03', 'public', 100, 100);
    INSERT INTO messages (id, status, name, country, language, consent_version, consent_scope, created_at, updated_at, decided_at)
      VALUES ('oldapprovedxxxxxxxxxxx', 'approved', 'Olena', 'UA', 'uk', '2026-03', 'union', 200, 200, 201);
    PRAGMA user_version = 2;`;
  const made = spawnSync('sqlite3', [db], { input: seed, encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  writeFileSync(path.join(old, 'campaign.json'), JSON.stringify({ title: 'Свабоду палітвязням!', intro: 'Адно відэа.' }));
  const t = await startChorus({ dataDir: old, args: ['--consent-version', '2026-09'] });
  try {
    const pw = addUser(old, 'admin', 'admin');
    const a = await loggedIn(t.url, 'admin', pw);
    const c = await (await fetch(`${t.url}/api/v1/campaigns/default?lang=be`)).json();
    assert.deepEqual([c.title, c.intro, c.consent_version], ['Свабоду палітвязням!', 'Адно відэа.', '2026-09']);
    // The old route answers as it did.
    const legacy = await (await fetch(`${t.url}/api/v1/campaign`)).json();
    assert.equal(legacy.title, 'Свабоду палітвязням!');
    const list = await a.get('/api/v1/messages?status=pending&campaign=default');
    assert.deepEqual(list.body.items.map((m) => [m.id, m.campaign, m.name]), [['oldpendingxxxxxxxxxxxx', 'default', 'Янка']]);
    assert.equal(list.body.counts.approved, 1);
    const d = (await a.get('/api/v1/messages/oldapprovedxxxxxxxxxxx')).body;
    assert.equal(d.campaign, 'default');
    assert.equal(d.consent.version, '2026-03');
    // The text the page of then showed, in the message's language.
    assert.equal(d.consent.language, 'uk');
    assert.match(d.consent.text, /^Модератори кампанії переглядають кожне відео до публікації\./);
    assert.equal(sql(old, 'SELECT group_concat(DISTINCT campaign_id) FROM messages'), '1');
    // No public address: no QR code, said plainly; the poster says so too.
    const qr = await fetch(`${t.url}/api/v1/campaigns/default/qr.png`);
    assert.equal(qr.status, 409);
    assert.match((await qr.json()).message, /--public-url/);
    assert.match(await (await fetch(`${t.url}/c/default/poster`)).text(), /<p class="no-url" >No QR code/);
    // Without --cors-origin the page is not embeddable at all.
    assert.equal((await fetch(`${t.url}/`)).headers.get('x-frame-options'), 'DENY');
  } finally {
    assertNoSanitizerReport((await t.stop()).log);
    removeDir(old);
  }
});
