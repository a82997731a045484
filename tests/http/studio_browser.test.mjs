// The studio in a real browser (Debian's Chromium through playwright-core):
// the library's preview makes a clip's ready-to-post versions on demand
// (progress while the job runs, then the version's first frame and its
// download), the first frame checked with ffprobe and against the
// version's own first frame; the caption editor starts a transcript from
// the contributor's written message, plays from a cue (the video seeks to
// its start), moves a cue's start and end with the keys the page lists,
// and saves them; the editor and the versions in Belarusian; a moderator
// edits captions too. Messages come through the real upload path and the
// real worker.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launch, screenshot } from '../lib/browser.mjs';
import { assertNoSanitizerReport, removeDir, SANITIZED, startChorus, tempDir } from '../lib/chorus.mjs';
import { ffprobe, makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { greyFrames, meanAbsDiff } from '../lib/measure.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const T = SANITIZED ? 60000 : 20000; // per browser action
const JOB = SANITIZED ? 900000 : 180000; // a version's job
const WRITTEN = 'Трымайцеся, сябры! Мы з вамі кожны дзень. ' +
  'Свабоду ўсім палітвязням, і шахцёрам Салігорска, і настаўнікам, і ўсім, хто не маўчыць.';

const dir = tempDir('chorus-studio-browser-');
let s;
let b;
let page;
let comms;
let id;
let receipt;
const pw = {};
const notFound = []; // paths the page asked for and did not get

/** No script error and no CSP violation; the one 404 the page may meet
 * is a transcript not written yet (the editor then starts empty), and a
 * 401 is the login page's question before logging in. */
function noErrors() {
  const bad = b.errors.filter((e) => !/Failed to load resource: the server responded with a status of 40[14]/.test(e));
  assert.deepEqual(bad, []);
  assert.deepEqual(notFound.filter((p) => p !== `/api/v1/messages/${id}/transcripts/be`), []);
}

before(async () => {
  s = await startChorus({ args: ['--workers', '1', '--session-idle', '3600'] });
  pw.mod = addUser(s.dataDir, 'mod', 'moderator');
  pw.comms = addUser(s.dataDir, 'comms', 'comms');
  const clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 4, size: '480x360' });
  const r = await sendMessage(s.url, clip, { name: 'Алеся', organization: 'Шахцёры', language: 'be', message: WRITTEN });
  id = r.id;
  receipt = r.receipt;
  assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed'], SANITIZED ? 600000 : 120000), 'pending');
  const mod = await loggedIn(s.url, 'mod', pw.mod);
  assert.equal((await mod.post(`/api/v1/messages/${id}/approve`, {})).status, 200);
  comms = await loggedIn(s.url, 'comms', pw.comms);
  b = await launch({ timeout: T, viewport: { width: 1366, height: 900 } });
  page = b.page;
  page.on('response', (r) => { if (r.status() === 404) notFound.push(new URL(r.url()).pathname); });
});

after(async () => {
  if (b) await b.close();
  if (s) {
    const r = await s.stop();
    assert.equal(r.code, 0, r.log.slice(-3000));
    assertNoSanitizerReport(r.log);
  }
  removeDir(dir);
});

async function logIn(name) {
  await page.goto(`${s.url}/panel`);
  await page.locator('#login-user').fill(name);
  await page.locator('#login-pass').fill(pw[name]);
  await page.locator('#login-pass').press('Enter');
  await page.locator('#app').waitFor();
}

const row = (format) => page.locator(`#lp-versions li.version[data-format="${format}"]`);

/** The file of a URL path fetched with the comms session, into dir. */
async function fetchTo(urlPath, name) {
  const r = await comms.req('GET', urlPath, { raw: true });
  assert.equal(r.status, 200, urlPath);
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.from(await r.arrayBuffer()));
  return { file, type: r.headers.get('content-type') };
}

test('the library makes versions on demand: progress, then the first frame and the download', async () => {
  await logIn('comms');
  await page.locator(`.lib-card[data-id="${id}"] .lib-open`).click();
  await page.locator('#lib-preview[open]').waitFor();
  for (const f of ['9x16', '1x1', '4x5', '16x9']) await row(f).locator('button.v-make').waitFor();
  assert.equal(await page.locator('#lp-versions-h').textContent(), 'Ready-to-post versions');

  await row('9x16').locator('button.v-make').click();
  // Asked for: its progress shows until the job is done.
  await row('9x16').locator('progress').waitFor();
  assert.match(await row('9x16').getAttribute('data-state'), /^(queued|running)$/);
  await row('1x1').locator('button.v-make').click();
  await row('1x1').locator('progress').waitFor();
  await screenshot(page, 'studio-versions-making.png');

  for (const f of ['9x16', '1x1']) {
    await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state === 'done',
      `#lp-versions li.version[data-format="${f}"]`, { timeout: JOB });
    await page.waitForFunction((sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; },
      `#lp-versions li.version[data-format="${f}"] img.v-preview`, { timeout: T });
    const href = await row(f).locator('a.v-download').getAttribute('href');
    assert.equal(href, `/media/${id}/v/${f}-c-b.mp4?download=1`);
  }
  // The others are still to make.
  assert.equal(await row('4x5').getAttribute('data-state'), 'none');
  await screenshot(page, 'studio-versions-made.png');

  // The first frame: a small JPEG in the version's shape, showing the
  // version's own first frame (and not a later one).
  const want = { '9x16': [360, 640], '1x1': [640, 640] };
  for (const [f, [w, h]] of Object.entries(want)) {
    const src = await row(f).locator('img.v-preview').getAttribute('src');
    assert.equal(src, `/media/${id}/v/${f}-c-b.jpg`);
    const jpg = await fetchTo(src, `${f}.jpg`);
    assert.equal(jpg.type, 'image/jpeg');
    const st = ffprobe(jpg.file).streams[0];
    assert.equal(st.codec_name, 'mjpeg');
    assert.deepEqual([st.width, st.height], [w, h]);
    const mp4 = await fetchTo(`/media/${id}/v/${f}-c-b.mp4`, `${f}.mp4`);
    const v = ffprobe(mp4.file).streams.find((x) => x.codec_type === 'video');
    assert.equal(v.width * h, v.height * w, `${f}: the JPEG has the version's aspect ratio`);
    const still = greyFrames(jpg.file).frames[0];
    const frames = greyFrames(mp4.file, { w, h }).frames;
    const all = { x: 0, y: 0, w, h };
    const first = meanAbsDiff(still, frames[0], w, h, all);
    const later = meanAbsDiff(still, frames[frames.length - 1], w, h, all);
    assert.ok(first < 6, `${f}: the JPEG is the first frame (mean difference ${first.toFixed(2)})`);
    assert.ok(later > first * 2, `${f}: and not the last one (${later.toFixed(2)} vs ${first.toFixed(2)})`);
  }
  // The files sit with the message's others, nothing temporary left.
  const files = readdirSync(path.join(s.dataDir, 'media', id)).sort();
  for (const f of ['v-9x16-c-b.jpg', 'v-9x16-c-b.mp4', 'v-1x1-c-b.jpg', 'v-1x1-c-b.mp4']) assert.ok(files.includes(f), files.join());
  assert.ok(!files.some((f) => f.endsWith('.tmp')), files.join());
  noErrors();
});

/** The transcript in be as the API has it now. */
async function savedCues() {
  const r = await comms.get(`/api/v1/messages/${id}/transcripts/be`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const cueTimes = (i) => page.locator(`#cap-cues li.cue[data-i="${i}"] .cue-times`).textContent();

test('the caption editor: from the written message, play from a cue, the keys move its times, saved', async () => {
  await page.locator('#lp-edit-captions').click();
  await page.locator('#cap-from-message').waitFor();
  assert.match(await page.evaluate(() => location.hash), new RegExp(`^#captions\\?id=${id}`));
  await page.locator('.cap-status').getByText('No transcript in this language yet.').waitFor();
  // The page says which keys do what.
  const keys = await page.locator('#cap-keys').textContent();
  for (const k of ['[', ']', '{', '}', 'Alt', 'Shift']) assert.ok(keys.includes(k), `${k} in ${keys}`);

  await page.locator('#cap-from-message').click();
  await page.locator('#cap-cues li.cue').first().waitFor();
  const made = await savedCues();
  assert.equal(made.timed_by, 'chorus');
  assert.ok(made.cues.length >= 2, JSON.stringify(made.cues));
  assert.equal(await page.locator('#cap-cues li.cue').count(), made.cues.length);
  assert.equal(made.cues.map((c) => c.text.replace(/\n/g, ' ')).join(' '), WRITTEN, 'the words are the contributor\'s');
  await page.locator('#cap-vtt').waitFor();

  // A click on the last cue plays the video from its start.
  const last = made.cues.length - 1;
  const cue = made.cues[last];
  assert.ok(cue.start > 0.5, `the last cue starts at ${cue.start}`);
  await page.waitForFunction(() => document.querySelector('#cap-video').readyState >= 1, null, { timeout: T });
  await page.locator(`#cap-cues li.cue[data-i="${last}"] .cue-play`).click();
  await page.waitForFunction((t0) => {
    const v = document.querySelector('#cap-video');
    return v.currentTime >= t0 - 0.05 && v.currentTime < t0 + 0.5;
  }, cue.start, { timeout: T });
  assert.match(await page.locator(`#cap-cues li.cue[data-i="${last}"]`).getAttribute('class'), /\bselected\b/);
  await page.locator('#cap-video').evaluate((v) => v.pause());

  // ] ] moves its start 0.2 s later; Alt+Shift+Left its end 0.1 s earlier.
  const before = await cueTimes(last);
  await page.keyboard.press(']');
  await page.keyboard.press(']');
  await page.keyboard.press('Alt+Shift+ArrowLeft');
  await page.locator('.cap-status').getByText('Unsaved changes.').or(page.locator('.cap-status').getByText(/ends at/)).waitFor();
  assert.notEqual(await cueTimes(last), before);
  // The cue's words are edited in place too; [ typed there is a letter.
  const input = page.locator(`#cap-cues li.cue[data-i="${last}"] input.cue-text`);
  await input.fill('');
  await input.type('Свабоду ўсім [і кожнаму]');
  await page.locator('#cap-save').click();
  await page.locator('.cap-status').getByText('Captions saved.').waitFor();

  const saved = await savedCues();
  assert.equal(saved.timed_by, 'editor');
  const c = saved.cues[last];
  assert.ok(Math.abs(c.start - (cue.start + 0.2)) < 0.002, `start ${c.start}, was ${cue.start}`);
  assert.ok(Math.abs(c.end - (cue.end - 0.1)) < 0.002, `end ${c.end}, was ${cue.end}`);
  assert.equal(c.text, 'Свабоду ўсім [і кожнаму]');
  // The other cues are as they were.
  for (let i = 0; i < last; i++) assert.deepEqual(saved.cues[i], made.cues[i]);
  // Alt+Up selects the cue before and plays from it.
  await page.keyboard.press('Alt+ArrowUp');
  await page.waitForFunction((n) => document.querySelector(`#cap-cues li.cue[data-i="${n}"]`).classList.contains('selected'), last - 1);
  await page.waitForFunction((t0) => Math.abs(document.querySelector('#cap-video').currentTime - t0) < 0.5, made.cues[last - 1].start);
  await page.locator('#cap-video').evaluate((v) => v.pause());
  await screenshot(page, 'studio-captions.png');
  // Who edited which language is audited; the words are not.
  assert.equal(sql(s.dataDir, `SELECT group_concat(actor || ' ' || reason, ',') FROM audit WHERE action = 'message.transcript' AND target = '${id}'`),
    'comms be,comms be');
  noErrors();
});

test('in Belarusian: the editor and the versions speak it', async () => {
  await page.locator('#lang').selectOption('be');
  await page.locator('#cap-save').getByText('Захаваць субтытры').waitFor();
  await page.locator('#cap-from-message').getByText('Пачаць з напісанага паведамлення').waitFor();
  await page.locator('#cap-keys-h').getByText('Клавішы').waitFor();
  assert.match(await page.locator('#cap-keys').textContent(), /пачатак выбранага субтытра/);
  await page.locator('#cap-cues li.cue').first().waitFor();
  await page.locator('#cap-back').click();
  await page.locator(`.lib-card[data-id="${id}"] .lib-open`).click();
  await page.locator('#lp-versions-h').getByText('Версіі, гатовыя да публікацыі').waitFor();
  await row('9x16').locator('a.v-download').getByText('Спампаваць').waitFor();
  await row('4x5').locator('button.v-make').getByText('Зрабіць').waitFor();
  // Captions in be are offered for the next version.
  assert.ok((await page.locator('#lp-captions option').allTextContents()).some((o) => o.includes('(be)')));
  await screenshot(page, 'studio-be.png');
  await page.locator('#lang').selectOption('en');
  await page.keyboard.press('Escape');
  noErrors();
});

test('a moderator edits captions from the queue\'s detail too', async () => {
  await page.locator('#logout').click();
  await page.locator('#login').waitFor();
  await logIn('mod');
  await page.goto(`${s.url}/panel#queue?status=approved`);
  await page.locator(`[data-id="${id}"]`).first().click();
  await page.locator('#d-captions').click();
  await page.locator('#cap-cues li.cue').first().waitFor();
  const input = page.locator('#cap-cues li.cue[data-i="0"] input.cue-text');
  await input.fill('Трымайцеся, сябры!');
  await page.locator('#cap-save').click();
  await page.locator('.cap-status').getByText('Captions saved.').waitFor();
  assert.equal((await savedCues()).cues[0].text, 'Трымайцеся, сябры!');
  assert.equal(sql(s.dataDir, `SELECT actor FROM audit WHERE action = 'message.transcript' ORDER BY id DESC LIMIT 1`), 'mod');
  noErrors();
  // A withdrawal takes the versions' files, first frames included.
  assert.ok(existsSync(path.join(s.dataDir, 'media', id, 'v-9x16-c-b.jpg')));
  const w = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${receipt}` } });
  assert.equal(w.status, 200);
  assert.ok(!existsSync(path.join(s.dataDir, 'media', id)), 'the versions and their first frames are deleted');
  assert.equal((await comms.get(`/media/${id}/v/9x16-c-b.jpg`)).status, 404);
});
