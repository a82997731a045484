// The studio's transcripts through the API: plain text timed by Chorus
// over the speech it measured (a clip with silence, then sound), cues
// given by hand checked, WebVTT and SRT that validate, who may edit
// (moderators, comms, admins; never a stranger, never without the CSRF
// token), the contributor's own message left as they wrote it, and
// everything gone with a withdrawal.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { assertNoSanitizerReport, removeDir, startChorus, tempDir, until } from '../lib/chorus.mjs';
import { ffmpeg, ffprobe, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, Client, loggedIn } from '../lib/panel.mjs';

const dir = tempDir('chorus-studio-');
let s;
let mod;
let comms;
let id;
let receipt;
let beCues;
const WRITTEN = 'Трымайцеся! Мы з вамі.';

before(async () => {
  s = await startChorus({ args: ['--workers', '1'] });
  const pm = addUser(s.dataDir, 'mod', 'moderator');
  const pc = addUser(s.dataDir, 'comms', 'comms');
  // 1.5 s of silence, then 2.5 s of sound (a voice-like tone).
  const clip = path.join(dir, 'quiet-then-speech.mp4');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-f', 'lavfi', '-i',
    'aevalsrc=if(gt(t\\,1.5)\\,0.3*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*3*t))\\,0):s=48000',
    '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', clip]);
  const r = await sendMessage(s.url, clip, { name: 'Алеся', message: WRITTEN });
  id = r.id;
  receipt = r.receipt;
  assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
  mod = await loggedIn(s.url, 'mod', pm);
  comms = await loggedIn(s.url, 'comms', pc);
});
after(async () => {
  const r = await s.stop();
  assert.equal(r.code, 0);
  assertNoSanitizerReport(r.log);
  removeDir(dir);
});

const put = (c, lang, json, opts = {}) => c.req('PUT', `/api/v1/messages/${id}/transcripts/${lang}`, { json, ...opts });

/** Checks a WebVTT file's shape: header, cues with ordered times. */
function checkVtt(text, n) {
  const lines = text.split('\n');
  assert.equal(lines[0], 'WEBVTT');
  const times = lines.filter((l) => l.includes('-->'));
  assert.equal(times.length, n);
  let last = -1;
  for (const t of times) {
    const m = /^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)$/.exec(t);
    assert.ok(m, `vtt time line ${t}`);
    const a = (+m[1]) * 3600 + (+m[2]) * 60 + (+m[3]) + (+m[4]) / 1000;
    const b = (+m[5]) * 3600 + (+m[6]) * 60 + (+m[7]) + (+m[8]) / 1000;
    assert.ok(a >= last && b > a, `vtt order ${t}`);
    last = b;
  }
}

function checkSrt(text, n) {
  const blocks = text.trim().split(/\n\n/);
  assert.equal(blocks.length, n);
  blocks.forEach((b, i) => {
    const l = b.split('\n');
    assert.equal(l[0], String(i + 1));
    assert.match(l[1], /^\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d$/);
    assert.ok(l.length >= 3 && l.length <= 4, `srt block ${b}`);
  });
}

test('the speech measured is in the facts, and plain text is timed over it', async () => {
  const d = await mod.get(`/api/v1/messages/${id}`);
  assert.equal(d.status, 200);
  const speech = d.body.facts.speech;
  assert.ok(speech.length >= 1, JSON.stringify(speech));
  assert.ok(Math.abs(speech[0][0] - 1.5) < 0.3, `speech starts at ${speech[0][0]}`);

  const text = 'Мы памятаем кожнага з вас. Ваша мужнасць дае нам сілы, і мы не спынімся, '
    + 'пакуль усе палітвязні не выйдуць на волю. Салідарнасць — наша зброя!';
  const r = await put(mod, 'be', { text });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.timed_by, 'chorus');
  const cues = r.body.cues;
  beCues = cues;
  assert.ok(cues.length >= 2, JSON.stringify(cues));
  assert.ok(Math.abs(cues[0].start - speech[0][0]) < 0.25, `first cue at ${cues[0].start}`);
  let last = 0;
  for (const c of cues) {
    assert.ok(c.start >= last && c.end > c.start && c.end <= 4.05, JSON.stringify(c));
    const lines = c.text.split('\n');
    assert.ok(lines.length <= 2, c.text);
    for (const l of lines) assert.ok([...l].length <= 48, `line of ${[...l].length}: ${l}`);
    last = c.end;
  }
  // Every word kept, in order.
  assert.equal(cues.map((c) => c.text.replace(/\n/g, ' ')).join(' '), text);

  const vtt = await mod.get(`/api/v1/messages/${id}/transcripts/be.vtt`);
  assert.equal(vtt.status, 200);
  assert.match(vtt.headers.get('content-type'), /^text\/vtt/);
  checkVtt(vtt.body, cues.length);
  const srt = await mod.get(`/api/v1/messages/${id}/transcripts/be.srt`);
  assert.equal(srt.status, 200);
  checkSrt(srt.body, cues.length);
  const list = await mod.get(`/api/v1/messages/${id}/transcripts`);
  assert.deepEqual(list.body.items.map((x) => x.lang), ['be']);
  assert.equal(list.body.items[0].updated_by, 'mod');
});

test('cues given by hand are checked: in order, inside the clip, with text', async () => {
  for (const [cues, why] of [
    [[{ start: 1, end: 0.5, text: 'x' }], /ends|before/],
    [[{ start: 0, end: 2, text: 'a' }, { start: 1, end: 3, text: 'b' }], /overlap|order|before/],
    [[{ start: 3, end: 9, text: 'x' }], /clip|after|outside|long/],
    [[{ start: 0, end: 1, text: '   ' }], /text|empty/],
    [[], /cues/],
    [[{ start: 'a', end: 1, text: 'x' }], /seconds/],
  ]) {
    const r = await put(mod, 'ru', { cues });
    assert.equal(r.status, 400, JSON.stringify([cues, r.body]));
    assert.equal(r.body.error, 'bad_cues');
    assert.match(r.body.message, why);
  }
  assert.equal((await put(mod, 'ru', { text: 'x', cues: [] })).status, 400);
  assert.equal((await put(mod, 'xx-123456789', { text: 'x' })).status, 400);
  const ok = await put(mod, 'ru', { cues: [{ start: 1.5, end: 2.5, text: 'Держитесь! <b>&' }, { start: 2.5, end: 3.9, text: 'Мы с вами.' }] });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.timed_by, 'editor');
  const vtt = await mod.get(`/api/v1/messages/${id}/transcripts/ru.vtt`);
  checkVtt(vtt.body, 2);
  assert.ok(vtt.body.includes('&lt;b&gt;&amp;'), vtt.body);
  const srt = await mod.get(`/api/v1/messages/${id}/transcripts/ru.srt`);
  assert.equal(srt.body, '1\n00:00:01,500 --> 00:00:02,500\nДержитесь! <b>&\n\n2\n00:00:02,500 --> 00:00:03,900\nМы с вами.\n');
  assert.equal((await mod.get(`/api/v1/messages/${id}/transcripts/uk.vtt`)).status, 404);
  assert.equal((await mod.get(`/api/v1/messages/${id}/transcripts/ru.txt`)).status, 404);
});

test('who may edit: moderators and comms on what they see; nobody else; the written message never changes', async () => {
  const anon = new Client(s.url);
  assert.equal((await put(anon, 'be', { text: 'x' })).status, 401);
  assert.equal((await put(mod, 'be', { text: 'x' }, { csrf: false })).status, 403);
  // Comms see approved clips only: a pending one is not there for them.
  assert.equal((await put(comms, 'be', { text: 'x' })).status, 404);
  assert.equal((await comms.get(`/api/v1/messages/${id}/transcripts/be.vtt`)).status, 404);
  assert.equal((await mod.post(`/api/v1/messages/${id}/approve`, {})).status, 200);
  const r = await put(comms, 'uk', { text: 'Тримайтеся! Ми з вами. Ґанок, Їжак, Європа.' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((await comms.get(`/api/v1/messages/${id}/transcripts/uk.vtt`)).status, 200);
  const d = await comms.get(`/api/v1/messages/${id}`);
  assert.equal(d.body.message, WRITTEN);
  assert.equal(sql(s.dataDir, `SELECT message FROM messages WHERE id = '${id}'`), WRITTEN);
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM transcripts WHERE message_id = '${id}'`), '3');
});

test('a version is asked for once: the same request returns it', async () => {
  const bad = await comms.post(`/api/v1/messages/${id}/versions`, { format: '3x2' });
  assert.equal(bad.status, 400);
  const nocap = await comms.post(`/api/v1/messages/${id}/versions`, { format: '1x1', captions: 'pl' });
  assert.equal(nocap.status, 409);
  assert.equal((await mod.post(`/api/v1/messages/${id}/versions`, { format: '1x1' })).status, 403);
  const a = await comms.post(`/api/v1/messages/${id}/versions`, { format: '9x16', captions: 'be', credit: true, branding: false });
  assert.ok([200, 202].includes(a.status), JSON.stringify(a.body));
  assert.equal(a.body.name, '9x16-be-c');
  const b = await comms.post(`/api/v1/messages/${id}/versions`, { format: '9x16', captions: 'be', credit: true, branding: false });
  assert.equal(b.status, 200);
  assert.equal(b.body.name, a.body.name);
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM jobs WHERE kind = 'version' AND message_id = '${id}'`), '1');
  const l = await comms.get(`/api/v1/messages/${id}/versions`);
  assert.equal(l.status, 200);
  assert.deepEqual(l.body.items.map((x) => x.name), ['9x16-be-c']);
  assert.ok(['queued', 'running', 'done', 'failed'].includes(l.body.items[0].state));
});

test('versions are made by the worker, several from one decode, and downloaded', async () => {
  for (const body of [{ format: '1x1', captions: null }, { format: '16x9', captions: 'uk' },
    { format: '9x16', captions: null, branding: false }]) {
    const r = await comms.post(`/api/v1/messages/${id}/versions`, body);
    assert.ok([200, 202].includes(r.status), JSON.stringify(r.body));
  }
  let items = [];
  await until(async () => {
    items = (await comms.get(`/api/v1/messages/${id}/versions`)).body.items;
    assert.ok(!items.some((x) => x.state === 'failed'), JSON.stringify(items));
    return items.length === 4 && items.every((x) => x.state === 'done');
  }, 600000, 'four versions made');
  const sizes = {
    '9x16-be-c': [1080, 1920], '1x1-c-b': [1080, 1080], '16x9-uk-c-b': [1920, 1080], '9x16-c': [1080, 1920],
  };
  assert.deepEqual(items.map((x) => x.name).sort(), Object.keys(sizes).sort());
  for (const x of items) {
    assert.equal(x.progress, 1);
    const r = await comms.req('GET', x.url, { raw: true });
    assert.equal(r.status, 200, x.url);
    assert.equal(r.headers.get('content-type'), 'video/mp4');
    const file = path.join(dir, `${x.name}.mp4`);
    writeFileSync(file, Buffer.from(await r.arrayBuffer()));
    const v = ffprobe(file).streams.find((st) => st.codec_type === 'video');
    assert.deepEqual([v.width, v.height], sizes[x.name], x.name);
  }
  // Made inside the sandbox, the captions are really in the frames: the
  // caption band differs from the same version without them at a cue's
  // time (libass had its fonts before the sandbox closed).
  const gray = (file, t) => spawnSync('ffmpeg', ['-v', 'error', '-ss', String(t), '-i', file, '-frames:v', '1',
    '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { maxBuffer: 64 << 20 }).stdout;
  const t = (beCues[0].start + beCues[0].end) / 2;
  const a = gray(path.join(dir, '9x16-be-c.mp4'), t);
  const b = gray(path.join(dir, '9x16-c.mp4'), t);
  assert.equal(a.length, 1080 * 1920);
  let diff = 0;
  for (let y = 1920 - 384 - 200; y < 1920 - 384 + 20; y++) {
    for (let x = 0; x < 1080; x++) diff += Math.abs(a[y * 1080 + x] - b[y * 1080 + x]);
  }
  diff /= 220 * 1080;
  assert.ok(diff > 8, `caption band differs by ${diff.toFixed(2)}`);
  assert.equal((await comms.req('GET', `/media/${id}/v/9x16.mp4`, { raw: true })).status, 404);
  assert.equal((await comms.req('GET', `/media/${id}/v/..%2Fvideo.mp4`, { raw: true })).status, 404);
  assert.equal((await new Client(s.url).req('GET', items[0].url, { raw: true })).status, 401);
});

test('export.zip carries the versions and caption files asked for, named in the manifest', async () => {
  const r = await comms.req('GET', `/api/v1/export.zip?ids=${id}&versions=9x16,1x1&captions=srt,vtt`, { raw: true });
  assert.equal(r.status, 200);
  const file = path.join(dir, 'export.zip');
  writeFileSync(file, Buffer.from(await r.arrayBuffer()));
  assert.equal(spawnSync('unzip', ['-t', file]).status, 0);
  const names = spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' }).stdout.trim().split('\n').sort();
  const caps = names.filter((n) => n.startsWith('captions/'));
  const vers = names.filter((n) => n.startsWith('versions/'));
  assert.equal(caps.length, 6, names.join(' '));
  for (const lang of ['be', 'ru', 'uk']) {
    for (const ext of ['vtt', 'srt']) assert.ok(caps.some((n) => n.endsWith(`.${lang}.${ext}`)), `${lang}.${ext}`);
  }
  assert.equal(vers.length, 2, names.join(' '));
  assert.ok(vers.some((n) => n.endsWith('-9x16-be-c.mp4')) && vers.some((n) => n.endsWith('-1x1-c-b.mp4')));
  assert.ok(!names.some((n) => n.includes('16x9')), 'only the formats asked for');
  assert.equal(vers.filter((n) => n.includes('-9x16-')).length, 1, 'one file a format');
  const vtt = spawnSync('unzip', ['-p', file, caps.find((n) => n.endsWith('.ru.vtt'))], { encoding: 'utf8' }).stdout;
  assert.ok(vtt.startsWith('WEBVTT'), vtt);
  const m = JSON.parse(spawnSync('unzip', ['-p', file, 'manifest.json'], { encoding: 'utf8' }).stdout)[0];
  assert.deepEqual(Object.keys(m.versions).sort(), ['1x1', '9x16']);
  assert.ok(names.includes(`versions/${m.versions['9x16']}`));
  assert.ok(names.includes(`captions/${m.captions.be.srt}`));
  const bad = await comms.req('GET', `/api/v1/export.zip?ids=${id}&versions=3x2`, { raw: true });
  assert.equal(bad.status, 400);
});

test('a withdrawal deletes the transcripts and the versions with the message', async () => {
  const r = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${receipt}` } });
  assert.equal(r.status, 200);
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM transcripts WHERE message_id = '${id}'`), '0');
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM jobs WHERE kind = 'version' AND message_id = '${id}' AND state IN ('queued', 'running')`), '0');
  assert.equal((await mod.get(`/api/v1/messages/${id}/transcripts/be.vtt`)).status, 404);
  assert.equal((await put(mod, 'be', { text: 'x' })).status, 409);
  assert.ok(!existsSync(path.join(s.dataDir, 'media', id)), 'the versions are deleted');
  const left = sql(s.dataDir, `SELECT count(*) FROM messages WHERE id = '${id}' AND message IS NULL AND name IS NULL`);
  assert.equal(left, '1');
});
