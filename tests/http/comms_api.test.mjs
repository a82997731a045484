// The comms library: ZIP export (only approved clips, whatever is asked),
// a streamed ZIP64 export over 4 GiB in bounded memory, reshare marks,
// the "not yet reshared" filter and "withdrawn after use".
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';

import { assertNoSanitizerReport, removeDir, ROOT, SANITIZED, startChorus, tempDir } from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const dir = tempDir('chorus-comms-');
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
  const plan = {
    a1: { country: 'BY', language: 'be', name: 'Алеся', organization: 'БНП' },
    a2: { country: 'UA', language: 'uk', name: '=HYPERLINK("http://x")' },
    a3: { country: 'BY', language: 'ru', consent_scope: 'union', message: 'line one\n"quoted"' },
    pending: { country: 'BY', language: 'be' },
    rejected: { country: 'BY', language: 'be' },
  };
  for (const [k, m] of Object.entries(plan)) {
    const r = await sendMessage(s.url, clip, m);
    ids[k] = r.id;
    receipts[k] = r.receipt;
  }
  for (const id of Object.values(ids)) assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
  mod = await loggedIn(s.url, 'mod', pm);
  comms = await loggedIn(s.url, 'comms', pc);
  for (const k of ['a1', 'a2', 'a3']) assert.equal((await mod.post(`/api/v1/messages/${ids[k]}/approve`, {})).status, 200);
  assert.equal((await mod.post(`/api/v1/messages/${ids.rejected}/reject`, { reason: 'off topic' })).status, 200);
});
after(async () => {
  const r = await s.stop();
  assert.equal(r.code, 0);
  assertNoSanitizerReport(r.log);
  removeDir(dir);
});

async function download(client, query, file) {
  const r = await client.req('GET', `/api/v1/export.zip${query}`, { raw: true });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/zip');
  assert.match(r.headers.get('content-disposition'), /attachment; filename="chorus-export-\d{4}-\d\d-\d\d\.zip"/);
  await pipeline(Readable.fromWeb(r.body), createWriteStream(file));
  const t = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stdout + t.stderr);
  return spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' }).stdout.trim().split('\n').sort();
}

test('an export holds exactly the approved clips, thumbnails and both manifests', async () => {
  const file = path.join(dir, 'all.zip');
  const names = await download(comms, '?status=approved', file);
  const clips = names.filter((n) => n.startsWith('clips/'));
  const thumbs = names.filter((n) => n.startsWith('thumbs/'));
  // a3 is for the union's channels only: apart, and named so.
  assert.equal(clips.length, 2);
  assert.equal(thumbs.length, 2);
  assert.equal(names.filter((n) => /^union-only\/clips\/.*-union-only-/.test(n)).length, 1);
  assert.deepEqual(names.filter((n) => !/^(union-only\/)?(clips|thumbs)\//.test(n)), ['manifest.csv', 'manifest.json']);
  const raw = spawnSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' }).stdout;
  const manifest = JSON.parse(raw);
  assert.deepEqual(manifest.map((m) => m.id).sort(), [ids.a1, ids.a2, ids.a3].sort());
  // Numbers as written: the milliseconds, not 2.0049999999999999.
  const durations = [...raw.matchAll(/"duration_s":([0-9.eE+-]+)/g)].map((m) => m[1]);
  assert.equal(durations.length, 3);
  for (const d of durations) assert.match(d, /^\d+(\.\d{1,3})?$/, d);
  const a1 = manifest.find((m) => m.id === ids.a1);
  assert.equal(a1.name, 'Алеся');
  assert.equal(a1.organization, 'БНП');
  assert.equal(a1.country, 'BY');
  assert.equal(a1.language, 'be');
  assert.equal(a1.consent_scope, 'public');
  assert.equal(a1.approved_by, 'mod');
  assert.ok(Math.abs(a1.duration_s - 2) < 0.2);
  assert.ok(clips.includes(`clips/${a1.file}`));
  assert.equal(manifest.find((m) => m.id === ids.a3).consent_scope, 'union');
  // Stored, not recompressed: the clip inside is byte-identical.
  const inZip = spawnSync('unzip', ['-p', file, `clips/${a1.file}`], { maxBuffer: 1 << 28 }).stdout;
  assert.deepEqual(inZip, readFileSync(path.join(s.dataDir, 'media', ids.a1, 'video.mp4')));
  const csv = spawnSync('unzip', ['-p', file, 'manifest.csv'], { encoding: 'utf8' }).stdout;
  // UTF-8 with a byte-order mark, so Excel on Windows reads Cyrillic.
  assert.ok(csv.startsWith('\ufeffid,file,name,organization,country,language,message,duration_s,consent_version,consent_scope'), csv.slice(0, 40));
  assert.match(csv, /"Алеся","БНП"/);
  assert.match(csv, /"'=HYPERLINK\(""http:\/\/x""\)"/, 'formula defused, quotes doubled');
  assert.match(csv, /"line one\n""quoted"""/);
});

test('ids of messages that are not approved are never exported', async () => {
  const file = path.join(dir, 'ids.zip');
  const names = await download(comms, `?ids=${ids.a2},${ids.pending},${ids.rejected}`, file);
  const manifest = JSON.parse(spawnSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' }).stdout);
  assert.deepEqual(manifest.map((m) => m.id), [ids.a2]);
  assert.equal(names.filter((n) => n.startsWith('clips/')).length, 1);
  assert.equal((await comms.get('/api/v1/export.zip?status=pending')).status, 400);
  assert.equal((await comms.get('/api/v1/export.zip?ids=../../etc')).status, 400);
});

test('filters narrow the export: country and scope', async () => {
  const file = path.join(dir, 'by.zip');
  await download(comms, '?country=BY&scope=public', file);
  const manifest = JSON.parse(spawnSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' }).stdout);
  assert.deepEqual(manifest.map((m) => m.id), [ids.a1]);
});

test('reshare marks: audited, shown, filterable; only approved clips', async () => {
  let r = await comms.post(`/api/v1/messages/${ids.a1}/reshared`, { channel: 'telegram', url: 'https://t.me/union/123' });
  assert.equal(r.status, 201);
  assert.equal(r.body.channel, 'Telegram');
  // A clip the comms role may not see does not exist for it; a moderator
  // (who sees it) is refused by role before its state is even weighed.
  assert.equal((await comms.post(`/api/v1/messages/${ids.pending}/reshared`, { channel: 'X' })).status, 404);
  assert.equal((await mod.post(`/api/v1/messages/${ids.pending}/reshared`, { channel: 'X' })).status, 403);
  assert.equal((await comms.post(`/api/v1/messages/${ids.a2}/reshared`, { channel: '' })).status, 400);
  assert.equal((await comms.post(`/api/v1/messages/${ids.a2}/reshared`, { channel: 'X', url: 'javascript:alert(1)' })).status, 400);
  const one = (await comms.get(`/api/v1/messages/${ids.a1}`)).body;
  assert.equal(one.reshares.length, 1);
  assert.equal(one.reshares[0].url, 'https://t.me/union/123');
  assert.equal(one.reshares[0].by, 'comms');
  const not = (await comms.get('/api/v1/messages?status=approved&reshared=no')).body.items.map((x) => x.id).sort();
  assert.deepEqual(not, [ids.a2, ids.a3].sort());
  const yes = (await comms.get('/api/v1/messages?status=approved&reshared=yes')).body.items;
  assert.deepEqual(yes.map((x) => x.id), [ids.a1]);
  assert.equal(yes[0].reshared, 1);
  assert.equal(sql(s.dataDir, `SELECT action || ' ' || reason FROM audit WHERE target = '${ids.a1}' AND actor = 'comms'`),
    'message.reshared Telegram https://t.me/union/123');
  const file = path.join(dir, 'marks.zip');
  await download(comms, `?ids=${ids.a1}`, file);
  const manifest = JSON.parse(spawnSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' }).stdout);
  assert.equal(manifest[0].reshared[0].channel, 'Telegram');
});

test('a withdrawn clip leaves the library at once and is listed as withdrawn after use', async () => {
  // a1 was exported and reshared; withdraw it with its receipt.
  const r = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${receipts.a1}` } });
  assert.equal(r.status, 200);
  // One the comms team never saw (still pending) is withdrawn too: it has
  // nothing to take down, so it is not listed.
  const p = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${receipts.pending}` } });
  assert.equal(p.status, 200);
  assert.equal(sql(s.dataDir, `SELECT status FROM messages WHERE id = '${ids.pending}'`), 'withdrawn');
  const approved = (await comms.get('/api/v1/messages?status=approved')).body.items.map((x) => x.id);
  assert.ok(!approved.includes(ids.a1));
  const gone = (await comms.get('/api/v1/messages?status=withdrawn')).body.items;
  assert.deepEqual(gone.map((x) => x.id), [ids.a1]);
  assert.equal(gone[0].name, null, 'personal fields cleared');
  assert.equal(gone[0].reshared, 1);
  // What the comms team needs to take the posts down and delete copies.
  assert.deepEqual(gone[0].reshares.map((m) => [m.channel, m.url]), [['Telegram', 'https://t.me/union/123']]);
  // The date, country and language went with the row: the copies are
  // found by the end of their names.
  assert.match(gone[0].file, /^chorus-\*-[0-9a-f]{12}\.mp4$/);
  assert.ok(gone[0].withdrawn_at && gone[0].exported_at);
  const file = path.join(dir, 'after.zip');
  await download(comms, '', file);
  const manifest = JSON.parse(spawnSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' }).stdout);
  assert.ok(!manifest.some((m) => m.id === ids.a1));
});

test('an export over 4 GiB streams as ZIP64 in bounded memory', { skip: SANITIZED && 'memory figures mean nothing under ASan' }, async () => {
  // Large clips registered through the database layer: sparse files.
  // Four of 1 GiB take the archive past 4 GiB, so the small fifth one,
  // and the central directory, start beyond what 32 bits can say.
  const t = await startChorus();
  try {
    const pc = addUser(t.dataDir, 'comms', 'comms');
    const bigIds = [];
    for (let i = 0; i < 5; i++) {
      const id = `${i}BigExport`.padEnd(22, 'x'); // distinct first bytes: distinct names
      bigIds.push(id);
      sql(t.dataDir, `INSERT INTO messages (id, status, country, language, consent_version, consent_scope, created_at, updated_at, decided_at, duration_ms) VALUES ('${id}', 'approved', 'BY', 'be', 'v1', 'public', ${1000 + i}, 0, 1, 1000)`);
      mkdirSync(path.join(t.dataDir, 'media', id), { recursive: true });
      const f = path.join(t.dataDir, 'media', id, 'video.mp4');
      writeFileSync(f, `clip ${i} starts here`);
      truncateSync(f, i < 4 ? 1024 * 1024 * 1024 + i : 1024 * 1024); // 1 GiB (or 1 MiB), mostly holes
    }
    const c = await loggedIn(t.url, 'comms', pc);
    // node:http rather than fetch(): its stream moves gigabytes several
    // times faster.
    const r = await new Promise((resolve, reject) => {
      http.get(`${t.url}/api/v1/export.zip`, { headers: { Cookie: `chorus_session=${c.cookie}` } }, resolve)
        .on('error', reject);
    });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'application/zip');
    // The stream goes straight into a checker that reads it once, CRCs
    // every byte and checks the central directory and ZIP64 records:
    // nothing 4 GiB large touches the disk.
    const checker = spawn('python3', [path.join(ROOT, 'tests/lib/zipcheck.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let report = '';
    checker.stdout.on('data', (d) => { report += d; });
    const exited = new Promise((res) => checker.on('exit', res));
    await pipeline(r, checker.stdin);
    assert.equal(await exited, 0, report);
    const z = JSON.parse(report);
    assert.equal(z.entries, 7); // 5 clips + 2 manifests (no thumbnails)
    assert.ok(z.bytes >= 4 * 1024 ** 3 + 1024 * 1024 + 6);
    assert.equal(z.names.filter((n) => n.startsWith('clips/')).length, 5);
    assert.ok(z.size > 4 * 1024 ** 3, `archive of ${z.size} bytes`);
    assert.equal(z.zip64, true);
    const status = readFileSync(`/proc/${t.proc.pid}/status`, 'utf8');
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]);
    assert.ok(hwm < 64 * 1024, `peak RSS ${hwm} kB`);
  } finally {
    assertNoSanitizerReport((await t.stop()).log);
  }
});
