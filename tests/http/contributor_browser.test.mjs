// The contributor's page (web/index.html, web/receipt.html) in Debian's
// Chromium, headless, at a phone's size (390x844), driven by
// playwright-core against a real chorus: in-page recording with the fake
// camera, a chosen file interrupted (a dropped request, then the network
// taken offline) and resumed from its offset, a reload mid-upload that
// resumes the same upload, refusals before any byte is sent, the receipt
// page and withdrawal, the no-JavaScript form, and the page in Russian
// with no English left. Screenshots of each step go to
// $CHORUS_ARTIFACTS/contributor/ (default build/artifacts/contributor/).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { ARTIFACTS, launch } from '../lib/browser.mjs';
import {
  ROOT, SANITIZED, assertNoSanitizerReport, chorus, removeDir, sleep, startChorus, tempDir, until,
} from '../lib/chorus.mjs';
import { makeClip, sendTus, sql, waitStatus } from '../lib/fixtures.mjs';

const PHONE = { width: 390, height: 844 };
const SLOW = SANITIZED ? 4 : 1; // the sanitizer build is slower
const SHOTS = path.join(ARTIFACTS, 'contributor');
const LANG = Object.fromEntries(['en', 'ru', 'be', 'uk'].map((l) => [l,
  JSON.parse(readFileSync(path.join(ROOT, `web/i18n/${l}.json`), 'utf8'))]));
const EN = LANG.en;
const CHUNK = 256 * 1024;
const MAX_MB = 8;

const dir = tempDir('chorus-contrib-');
let browser;
let srv;  // no workers: messages stay where the upload leaves them
let work; // one worker: messages go on to processing and pending
let clip;
let clipSha;

/** Debian's Chromium with a fake camera and microphone, allowed. */
async function launchBrowser() {
  const b = await launch({
    launch: {
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--disable-gpu', '--no-first-run',
        '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
    },
  });
  await b.context.close(); // each test makes its own (own storage)
  return b.browser;
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // A clip of a few MB: many 256 KiB chunks.
  clip = path.join(dir, 'clip.mp4');
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k', clip], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, `ffmpeg: ${r.stderr}`);
  const size = statSync(clip).size;
  assert.ok(size > 2.5 * 1024 * 1024 && size < MAX_MB * 1024 * 1024, `clip of ${size} bytes`);
  clipSha = createHash('sha256').update(readFileSync(clip)).digest('hex');
  [srv, work, browser] = await Promise.all([
    startChorus({ args: ['--max-upload-mb', String(MAX_MB)] }),
    startChorus({ args: ['--workers', '1'] }),
    launchBrowser(),
  ]);
});

after(async () => {
  try {
    if (browser) await browser.close();
    for (const s of [srv, work]) if (s) assertNoSanitizerReport((await s.stop()).log);
  } finally {
    removeDir(dir);
  }
});

/**
 * A fresh browser context (own storage) at phone size with one page.
 * Records the tus requests the page makes, the texts #up-state and
 * #up-pct show over time, and any page error or CSP violation. The page
 * itself counts the requests it sends (window.__sent), in step with
 * its own state.
 */
async function openPage(url, { locale = 'en-US', javaScriptEnabled = true, touch = false } = {}) {
  const ctx = await browser.newContext({ viewport: PHONE, locale, javaScriptEnabled, hasTouch: touch, isMobile: touch });
  ctx.setDefaultTimeout(30000 * SLOW);
  await ctx.addInitScript(() => {
    window.__seen = { state: [], pct: [] };
    window.__sent = 0;
    const send = XMLHttpRequest.prototype.send; // tus-js-client's way out
    XMLHttpRequest.prototype.send = function counted(...args) {
      window.__sent += 1;
      return send.apply(this, args);
    };
    document.addEventListener('DOMContentLoaded', () => {
      for (const [id, list] of [['up-state', window.__seen.state], ['up-pct', window.__seen.pct]]) {
        const el = document.getElementById(id);
        if (!el) continue;
        new MutationObserver(() => {
          if (list[list.length - 1] !== el.textContent) list.push(el.textContent);
        }).observe(el, { childList: true, characterData: true, subtree: true });
      }
    });
  });
  const page = await ctx.newPage();
  const problems = [];
  const tus = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/uploads') || r.url().includes('/api/v1/messages')) {
      tus.push({ method: r.method(), url: r.url(), offset: r.headers()['upload-offset'] });
    }
  });
  if (url) await page.goto(url);
  return { ctx, page, problems, tus };
}

async function ready(page) {
  await page.waitForSelector('body[data-ready]', { state: 'attached' });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function chooseFile(page, file, button = '#btn-choose') {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click(button)]);
  await chooser.setFiles(file);
}

async function fillForm(page, { name = '', org = '', country = 'BY', language = 'be', message = '', consent = true, scope = 'public' } = {}) {
  if (name) await page.fill('#name', name);
  if (org) await page.fill('#organization', org);
  await page.selectOption('#country', country);
  await page.selectOption('#language', language);
  if (message) await page.fill('#message', message);
  await page.check(`input[name=consent_scope][value=${scope}]`);
  if (consent) await page.check('#consent');
}

/** Small chunks, so a few MB span many requests (a page attribute). */
async function smallChunks(page) {
  await page.evaluate((n) => { document.body.dataset.chunkSize = String(n); }, CHUNK);
}

/** Waits until the page says fraction of the upload is sent. */
async function waitSent(page, fraction) {
  await page.waitForFunction((f) => {
    const bar = document.getElementById('up-bar');
    return bar.value / bar.max >= f;
  }, fraction, { polling: 50 });
}

const tokenOf = (link) => /\/receipt#([A-Za-z0-9_-]{43})$/.exec(link)[1];
const idOf = (url) => /\/api\/v1\/uploads\/([A-Za-z0-9_-]{22})$/.exec(url)[1];

async function receiptApi(s, token, method = 'GET') {
  const r = await fetch(`${s.url}/api/v1/receipt`, { method, headers: { Authorization: `Bearer ${token}` } });
  return { status: r.status, body: await r.json() };
}

function sha256File(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Visible text on the page (text nodes and labelling attributes),
 * leaving out the language picker, which names each language in itself. */
const visibleTexts = (page) => page.evaluate(() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    const s = n.textContent.trim();
    if (!s || el.closest('#ui-lang, script, style')) continue;
    // Options of a closed <select> still show when it opens.
    const box = el.closest('option') ? el.closest('select') : el;
    if (!box.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    out.push(s);
  }
  for (const el of document.querySelectorAll('[aria-label], [placeholder], [title]')) {
    for (const a of ['aria-label', 'placeholder', 'title']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
  }
  out.push(document.title);
  return out;
});

/**
 * Fails if a visible text is (or holds) an English string of the page,
 * or has a Latin word outside allowed (file names, "IP").
 */
async function assertNoEnglish(page, lang, allowed = []) {
  const texts = await visibleTexts(page);
  assert.ok(texts.length > 10, 'the page shows text');
  const fragments = Object.entries(EN)
    .filter(([k, v]) => !k.startsWith('_') && LANG[lang][k] !== v)
    .flatMap(([, v]) => v.split(/\{\w+\}/))
    .map((f) => f.trim())
    .filter((f) => f.length >= 5 && /[A-Za-z]{3}/.test(f));
  for (const text of texts) {
    for (const f of fragments) assert.ok(!text.includes(f), `English "${f}" in "${text}"`);
    let rest = text;
    for (const a of allowed) rest = rest.split(a).join(' ');
    const latin = rest.match(/[A-Za-z]{2,}/g) || [];
    assert.deepEqual(latin.filter((w) => w !== 'IP'), [], `Latin words in "${text}"`);
  }
}

test('the page: CSP and security headers, assets under 100 KB, labels, 320 px, no page errors', async () => {
  const r = await fetch(`${srv.url}/`);
  assert.equal(r.status, 200);
  const csp = r.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  const html = await r.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline <script>');
  assert.doesNotMatch(html, /\sstyle=|\son[a-z]+=/i, 'no style="" or inline handlers');
  assert.match(html, /<form id="form" method="post" enctype="multipart\/form-data" action="\/api\/v1\/messages"/);

  // Bytes of what the pages load, tus-js-client aside.
  const size = async (p) => {
    const res = await fetch(`${srv.url}${p}`);
    assert.equal(res.status, 200, p);
    return (await res.arrayBuffer()).byteLength;
  };
  const common = ['/static/upload/chorus.css', '/static/upload/i18n.js'];
  const index = ['/', '/static/upload/upload.js', ...common];
  const receipt = ['/receipt', '/static/upload/receipt.js', ...common];
  const langs = Object.keys(LANG).map((l) => `/static/i18n/${l}.json`);
  const sum = async (list) => (await Promise.all(list.map(size))).reduce((a, b) => a + b, 0);
  // A page loads its own files and one language.
  const biggestLang = Math.max(...await Promise.all(langs.map(size)));
  const indexBytes = (await sum(index)) + biggestLang;
  const receiptBytes = (await sum(receipt)) + biggestLang;
  const all = await sum([...new Set([...index, ...receipt, ...langs])]);
  console.log(`page assets: / ${indexBytes} bytes, /receipt ${receiptBytes} bytes (each with its largest language); every file together ${all} bytes`);
  assert.ok(indexBytes < 100000, `/ loads ${indexBytes} bytes`);
  assert.ok(receiptBytes < 100000, `/receipt loads ${receiptBytes} bytes`);
  assert.ok(await size('/static/vendor/tus.min.js') > 10000, 'tus-js-client is served');

  // Every language file has the same strings (a file may add its own
  // "_regions" and "_languages" names, for browsers that lack them).
  const keys = (l) => Object.keys(LANG[l]).filter((k) => !['_regions', '_languages'].includes(k)).sort();
  for (const l of Object.keys(LANG)) assert.deepEqual(keys(l), keys('en'), l);

  const { ctx, page: p, problems } = await openPage(`${srv.url}/`);
  try {
    await ready(p);
    await shot(p, '01-form');
    const unlabelled = await p.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => el.type !== 'hidden' && el.checkVisibility())
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
      .map((el) => el.id || el.outerHTML));
    assert.deepEqual(unlabelled, [], 'every control has a label');
    // The keyboard reaches the controls in order, with a visible focus.
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => document.activeElement.id), 'ui-lang');
    await p.keyboard.press('Tab');
    const focus = await p.evaluate(() => [document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle]);
    assert.equal(focus[0], 'btn-rec');
    assert.notEqual(focus[1], 'none', 'focus is visible');
    await p.screenshot({ path: path.join(SHOTS, '01-form-keyboard-focus.png') });
    // 320 px wide: nothing sticks out sideways.
    await p.setViewportSize({ width: 320, height: 640 });
    assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= 320), 'no sideways scrolling at 320 px');
    await shot(p, '01-form-320px');
    await p.setViewportSize(PHONE);

    // The campaign's own title and introduction (the default campaign's,
    // in the page's language).
    const set = (title, intro) => {
      const r = chorus(['campaign', 'set', 'default', '--lang', 'en', '--title', title, '--intro', intro,
        '--data-dir', srv.dataDir]);
      assert.equal(r.status, 0, r.stderr);
    };
    set('Free Aliaksandr!', 'Thirty seconds for a jailed union leader.');
    await p.reload();
    await ready(p);
    assert.equal(await p.textContent('h1'), 'Free Aliaksandr!');
    assert.equal(await p.textContent('#intro'), 'Thirty seconds for a jailed union leader.');
    assert.equal(await p.title(), 'Free Aliaksandr!');
    await shot(p, '01-form-campaign-title');
    assert.deepEqual(problems, []);
  } finally {
    chorus(['campaign', 'set', 'default', '--lang', 'en', '--title', EN.default_title, '--intro', EN.default_intro,
      '--data-dir', srv.dataDir]);
    await ctx.close();
  }
});

test('in-page recording: 3 s with the fake camera, form, consent, upload, receipt; then processing and pending', async () => {
  const { ctx, page, problems, tus } = await openPage(`${work.url}/`);
  try {
    await ready(page);
    await page.click('#btn-rec');
    await page.waitForSelector('#rec-start:enabled');
    // The camera and microphone can be chosen.
    assert.ok(await page.locator('#rec-cam option').count() >= 1);
    assert.ok(await page.locator('#rec-mic option').count() >= 1);
    await page.waitForFunction(() => document.getElementById('live').videoWidth > 0);
    await shot(page, '02-recorder');
    await page.click('#rec-start');
    await page.waitForSelector('#rec-stop:visible');
    // The fake camera records in real time: 3 s by the page's own timer.
    await page.waitForFunction(() => {
      const [m, sec] = document.getElementById('rec-time').textContent.split(':').map(Number);
      return m * 60 + sec >= 3;
    });
    await shot(page, '03-recording');
    // The clip lasts what the timer showed when Stop was pressed (give
    // or take its second; a loaded machine may take a while to press).
    const shown = await page.textContent('#rec-time');
    assert.match(shown, /^0:\d\d$/);
    await page.click('#rec-stop');
    await page.waitForSelector('#clip:visible');
    const info = await page.textContent('#clip-info');
    const m = info.match(/^Your recording · [\d.]+\s(kB|MB) · 0:(\d\d)$/);
    assert.ok(m, info);
    const clipSeconds = Number(m[2]);
    const shownSeconds = Number(shown.slice(2));
    assert.ok(clipSeconds >= 3 && clipSeconds <= shownSeconds + 2, `${info}, timer ${shown}`);
    assert.match(await page.getAttribute('#preview', 'src'), /^blob:/);
    // The camera is off once the recording is taken.
    assert.equal(await page.evaluate(() => document.getElementById('live').srcObject), null);
    await fillForm(page, {
      name: 'Alesia', org: 'Free Trade Union', country: 'BY', language: 'be',
      message: 'Salidarnasć!\nWe stand with you.', scope: 'union',
    });
    await shot(page, '04-recorded-form-filled');
    await page.click('#send');
    await page.waitForSelector('#done:visible', { timeout: 60000 * SLOW });
    assert.equal(await page.textContent('#up-state'), EN.st_done);
    await shot(page, '05-recorded-sent-receipt');
    const link = await page.inputValue('#receipt-link');
    assert.ok(link.startsWith(`${work.url}/receipt#`), link);
    const token = tokenOf(link);
    assert.equal(tus.filter((r) => r.method === 'POST').length, 1);
    // The link can be copied, and saved as a file.
    await page.click('#copy');
    await page.waitForFunction((s) => document.getElementById('copied')?.textContent === s, EN.copied);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    assert.equal(download.suggestedFilename(), 'receipt.txt');
    assert.ok(readFileSync(await download.path(), 'utf8').includes(link));

    const rec = await receiptApi(work, token);
    assert.equal(rec.status, 200);
    assert.equal(rec.body.consent_scope, 'union');
    const { id } = rec.body;
    const row = sql(work.dataDir, `SELECT name, organization, country, language, message, consent_version, consent_scope, filetype FROM messages WHERE id = '${id}'`);
    assert.equal(row, 'Alesia|Free Trade Union|BY|be|Salidarnasć!\nWe stand with you.|2026-11|union|video/webm');
    assert.ok(['processing', 'pending'].includes(await waitStatus(work.dataDir, id, ['processing', 'pending'], 30000 * SLOW)));
    assert.equal(await waitStatus(work.dataDir, id, ['pending', 'failed'], 300000 * SLOW), 'pending',
      sql(work.dataDir, `SELECT failure_reason FROM messages WHERE id = '${id}'`));
    const duration = Number(sql(work.dataDir, `SELECT duration_ms FROM messages WHERE id = '${id}'`));
    assert.ok(duration > 2000 && duration < 5000, `duration ${duration} ms`);

    // The status page from the link on the page.
    await page.click('#open-receipt');
    await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, EN.status_in_review);
    assert.equal(await page.textContent('#status-text'), EN.status_in_review_x);
    await shot(page, '06-recorded-status-page');
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

test('a chosen file: progress, a dropped request and the network taken offline, resumed from the offset', async () => {
  const { ctx, page, problems, tus } = await openPage(`${srv.url}/`);
  try {
    let patches = 0;
    await page.route('**/api/v1/uploads/*', async (route) => {
      try {
        if (route.request().method() === 'PATCH') {
          patches += 1;
          // The fourth PATCH is cut (a network error), the others slowed
          // like a phone's network, so the test can act mid-upload.
          if (patches === 4) return await route.abort('connectionreset');
          await sleep(150);
        }
        await route.continue();
      } catch (e) { /* the page went offline meanwhile */ }
    });
    await ready(page);
    await smallChunks(page);
    await chooseFile(page, clip);
    await page.waitForSelector('#clip:visible');
    assert.match(await page.textContent('#clip-info'), /^clip\.mp4 · [\d.]+\sMB · 0:04$/);
    await fillForm(page, { country: 'UA', language: 'uk' });
    await shot(page, '10-file-chosen');
    await page.click('#send');
    await page.waitForSelector('#upload:visible');

    // The dropped request: said so, retried after a pause, resumed.
    await page.waitForFunction((s) => document.getElementById('up-state')?.textContent.startsWith(s),
      EN.st_retry.split('{')[0]);
    await shot(page, '11-retrying-after-error');

    // Pause: nothing more is sent until Resume.
    await waitSent(page, 0.3);
    await page.click('#up-pause');
    await page.waitForFunction((s) => document.getElementById('up-state')?.textContent === s, EN.st_paused);
    const sent = () => page.evaluate(() => window.__sent);
    const paused = await sent();
    assert.ok(paused > 0, 'the page counts the requests it sends');
    await shot(page, '12-paused');
    // Nothing to wait for: a window as long as several throttled PATCHes,
    // in which none may start.
    await sleep(500);
    assert.equal(await sent(), paused, 'nothing sent while paused');
    assert.ok(await page.isVisible('#up-resume'));
    await page.click('#up-resume');
    await waitSent(page, 0.5);
    await shot(page, '12-uploading-resumed');

    // Offline: "waiting for the network", nothing sent, then back.
    await ctx.setOffline(true);
    await page.waitForFunction((s) => document.getElementById('up-state')?.textContent === s, EN.st_waiting);
    const url = await page.evaluate(() => JSON.parse(localStorage.getItem('chorus.upload')).url);
    const id = idOf(url);
    await sleep(500); // a while offline, in which the page keeps waiting
    const offset = Number(sql(srv.dataDir, `SELECT upload_offset FROM messages WHERE id = '${id}'`));
    const size = statSync(clip).size;
    assert.ok(offset > 0 && offset < size, `offset ${offset} of ${size}`);
    assert.equal(await page.textContent('#up-state'), EN.st_waiting);
    await shot(page, '13-waiting-for-network');
    const before = tus.length;
    await ctx.setOffline(false);
    await page.waitForSelector('#done:visible', { timeout: 60000 * SLOW });
    await shot(page, '14-file-sent-receipt');

    // One upload; every PATCH but the first carries an offset past 0,
    // and after the network came back the upload went on from where
    // the server had it.
    assert.equal(tus.filter((r) => r.method === 'POST').length, 1);
    const offsets = tus.filter((r) => r.method === 'PATCH').map((r) => Number(r.offset));
    assert.equal(offsets[0], 0);
    assert.ok(offsets.slice(1).every((o) => o > 0), `offsets ${offsets}`);
    const after = tus.slice(before);
    assert.equal(after[0].method, 'HEAD');
    assert.ok(Number(after.find((r) => r.method === 'PATCH').offset) >= offset, 'resumed from the offset');
    assert.ok(tus.filter((r) => r.method === 'HEAD').length >= 2, 'a HEAD after each interruption');

    // Progress was shown as it went; the server has the same bytes.
    const pcts = await page.evaluate(() => window.__seen.pct);
    assert.ok(new Set(pcts).size >= 5, `progress seen: ${pcts}`);
    assert.equal(pcts[pcts.length - 1], '100%');
    const states = await page.evaluate(() => window.__seen.state);
    for (const s of [EN.st_connecting, EN.st_uploading, EN.st_waiting, EN.st_done]) assert.ok(states.includes(s), `${s} in ${states}`);
    assert.equal(sql(srv.dataDir, `SELECT status || ' ' || upload_offset FROM messages WHERE id = '${id}'`), `processing ${size}`);
    assert.equal(sha256File(path.join(srv.dataDir, 'incoming', id)), clipSha);
    const token = tokenOf(await page.inputValue('#receipt-link'));
    assert.equal((await receiptApi(srv, token)).body.id, id);
    // Nothing of the upload stays in the browser once it is done.
    assert.equal(await page.evaluate(() => localStorage.getItem('chorus.upload')), null);
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

test('a reload mid-upload resumes the same upload when the same file is chosen again', async () => {
  const { ctx, page, problems, tus } = await openPage(`${srv.url}/`);
  try {
    await page.route('**/api/v1/uploads/*', async (route) => {
      try {
        if (route.request().method() === 'PATCH') await sleep(150); // a phone's network
        await route.continue();
      } catch (e) { /* the page went away meanwhile */ }
    });
    await ready(page);
    await smallChunks(page);
    await chooseFile(page, clip);
    await page.waitForSelector('#clip:visible');
    await fillForm(page, { name: 'Oksana', country: 'UA', language: 'uk' });
    await page.click('#send');
    await waitSent(page, 0.3);
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('chorus.upload')));
    assert.ok(stored.url && stored.receipt, 'the upload URL and receipt are kept for a reload');
    const id = idOf(stored.url);

    await page.reload();
    await ready(page);
    await page.waitForSelector('#resume:visible');
    await page.waitForFunction(() => /\d%/.test(document.getElementById('resume-text').textContent));
    assert.match(await page.textContent('#resume-text'), /^An upload was interrupted: clip\.mp4 \(\d+% sent\)\.$/);
    await shot(page, '20-reload-resume-offered');
    const before = tus.length;
    await chooseFile(page, clip, '#resume-choose');
    await page.waitForSelector('#done:visible', { timeout: 60000 * SLOW });
    await shot(page, '21-reload-resumed-done');

    const after = tus.slice(before);
    assert.ok(!after.some((r) => r.method === 'POST'), 'no new upload after the reload');
    assert.equal(after[0].method, 'HEAD');
    assert.equal(after[0].url, stored.url);
    assert.ok(after.filter((r) => r.method === 'PATCH').every((r) => Number(r.offset) > 0), 'resumed, not restarted');
    assert.equal(tokenOf(await page.inputValue('#receipt-link')), stored.receipt);
    assert.equal(sha256File(path.join(srv.dataDir, 'incoming', id)), clipSha);
    assert.equal(sql(srv.dataDir, `SELECT name FROM messages WHERE id = '${id}'`), 'Oksana');
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

test('Cancel asks first, then deletes what was sent; the form comes back', async () => {
  const { ctx, page, problems } = await openPage(`${srv.url}/`);
  try {
    await page.route('**/api/v1/uploads/*', async (route) => {
      try {
        if (route.request().method() === 'PATCH') await sleep(300); // slow enough to cancel mid-way
        await route.continue();
      } catch (e) { /* stopped meanwhile */ }
    });
    await ready(page);
    await smallChunks(page);
    await chooseFile(page, clip);
    await page.waitForSelector('#clip:visible');
    await fillForm(page, { name: 'Changed my mind' });
    await page.click('#send');
    await waitSent(page, 0.2);
    const id = idOf(await page.evaluate(() => JSON.parse(localStorage.getItem('chorus.upload')).url));
    await page.click('#up-cancel');
    await page.waitForSelector('#cancel-ask:visible');
    await shot(page, '15-cancel-confirm');
    await page.click('#cancel-no');
    assert.ok(await page.isHidden('#cancel-ask'));
    assert.ok(await page.isVisible('#up-cancel'));
    await page.click('#up-cancel');
    await page.click('#cancel-yes');
    await page.waitForSelector('#form:visible');
    assert.ok(await page.isHidden('#upload'));
    assert.ok(await page.isVisible('#clip'), 'the video is still chosen');
    await until(() => sql(srv.dataDir, `SELECT count(*) FROM messages WHERE id = '${id}'`) === '0', 10000 * SLOW, 'the upload to be deleted');
    assert.equal(await page.evaluate(() => localStorage.getItem('chorus.upload')), null);
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

test('refused before any byte is sent: a file over the size limit, and missing consent', async () => {
  const big = path.join(dir, 'big.mp4');
  writeFileSync(big, Buffer.alloc((MAX_MB + 1) * 1024 * 1024));
  const long = makeClip(path.join(dir, 'long.mp4'), { seconds: 605, size: '64x64', rate: 1, audio: false });
  const count = () => Number(sql(srv.dataDir, 'SELECT count(*) FROM messages'));
  const messages = count();
  const { ctx, page, problems, tus } = await openPage(`${srv.url}/`);
  try {
    await ready(page);
    await chooseFile(page, big);
    await page.waitForSelector('#video-err:visible');
    assert.equal(await page.textContent('#video-err'),
      EN.err_too_big.replace('{size}', '9.4\u00a0MB').replace('{max}', '8.4\u00a0MB'));
    assert.ok(await page.isHidden('#clip'));
    await shot(page, '30-refused-too-big');


    // Longer than the campaign allows (600 s by default).
    await chooseFile(page, long);
    await page.waitForFunction((s) => document.getElementById('video-err')?.textContent === s,
      EN.err_too_long.replace('{duration}', '10:05').replace('{max}', '10:00'));
    assert.ok(await page.isHidden('#clip'));
    await shot(page, '30-refused-too-long');

    await chooseFile(page, clip);
    await page.waitForSelector('#clip:visible');
    assert.ok(await page.isHidden('#video-err'));
    await fillForm(page, { consent: false });
    await page.click('#send');
    await page.waitForSelector('#consent-err:visible');
    assert.equal(await page.textContent('#consent-err'), EN.err_consent);
    assert.equal(await page.textContent('#form-err'), EN.err_summary);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'consent');
    assert.ok(await page.isHidden('#upload'));
    await shot(page, '31-refused-no-consent');
    await sleep(200); // a request would have begun at once
    assert.deepEqual(tus, [], 'no request was sent');
    assert.equal(count(), messages);

    // Ticking the box clears the message and lets it go.
    await page.check('#consent');
    assert.ok(await page.isHidden('#consent-err'));
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

test('on a touch phone "Record a video" opens the phone\'s own camera, "Choose a file" the gallery', async () => {
  const { ctx, page, problems } = await openPage(`${srv.url}/`, { touch: true });
  try {
    await ready(page);
    assert.ok(await page.isVisible('#btn-capture'));
    assert.equal(await page.textContent('#btn-capture'), EN.btn_record);
    const [camera] = await Promise.all([page.waitForEvent('filechooser'), page.click('#btn-capture')]);
    assert.equal(await camera.element().getAttribute('capture'), 'user');
    assert.equal(await camera.element().getAttribute('accept'), 'video/*');
    await camera.setFiles(clip);
    await page.waitForSelector('#clip:visible');
    assert.match(await page.textContent('#clip-info'), /^Your recording · /);
    assert.ok(await page.isVisible('#clip-again'), 'the clip can be recorded again');
    await shot(page, '35-touch-camera-clip');
    const [gallery] = await Promise.all([page.waitForEvent('filechooser'), page.click('#clip-other')]);
    assert.equal(await gallery.element().getAttribute('capture'), null);
    await gallery.setFiles(clip);
    await page.waitForFunction(() => document.getElementById('clip-info').textContent.startsWith('clip.mp4'));
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

test('the receipt page: status, withdrawal with confirmation, reflected after a reload', async () => {
  const { id, receipt } = await sendTus(srv.url, readFileSync(clip), { name: 'Ivan', consent_scope: 'public' });
  const { ctx, page, problems } = await openPage(`${srv.url}/receipt#${receipt}`);
  try {
    await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, EN.status_received);
    assert.equal(await page.textContent('#status-text'), EN.status_received_x);
    const facts = await page.textContent('#facts');
    assert.ok(facts.includes(EN.rc_submitted) && facts.includes(EN.scope_public), facts);
    await shot(page, '40-receipt-status');

    // Asked first; "No" keeps it.
    await page.click('#withdraw');
    await page.waitForSelector('#confirm:visible');
    assert.equal(await page.textContent('#confirm-text'), EN.withdraw_confirm);
    await shot(page, '41-receipt-withdraw-confirm');
    await page.click('#withdraw-no');
    assert.ok(await page.isHidden('#confirm'));
    assert.equal((await receiptApi(srv, receipt)).body.status, 'received');

    await page.click('#withdraw');
    await page.click('#withdraw-yes');
    await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, EN.status_withdrawn);
    assert.equal(await page.textContent('#msg'), EN.rc_withdrawn_ok);
    assert.ok(await page.isHidden('#withdraw'));
    await shot(page, '42-receipt-withdrawn');
    assert.equal(sql(srv.dataDir, `SELECT status || ' ' || coalesce(name, '-') FROM messages WHERE id = '${id}'`), 'withdrawn -');

    // The withdrawal forgot the receipt too: after a reload it leads
    // nowhere, and the page says why that may be.
    await page.reload();
    await page.waitForSelector('#msg:visible');
    assert.equal(await page.textContent('#msg'), EN.rc_unknown);
    assert.ok(await page.isHidden('#card'));

    // An unknown receipt says so and offers to paste one.
    const other = await sendTus(srv.url, readFileSync(clip), { name: 'Olga' });
    await page.goto(`${srv.url}/receipt#${'A'.repeat(43)}`);
    await page.waitForSelector('#msg:visible');
    assert.equal(await page.textContent('#msg'), EN.rc_unknown);
    assert.ok(await page.isVisible('#lookup'));
    await page.fill('#code', `${srv.url}/receipt#${other.receipt}`);
    await page.click('#lookup button');
    await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, EN.status_received);
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

test('without JavaScript the form posts to /api/v1/messages and answers with the result page', async () => {
  const { ctx, page } = await openPage(`${srv.url}/`, { javaScriptEnabled: false });
  try {
    await page.fill('#name', 'Mikalai');
    await page.selectOption('#country', 'BY');
    await page.selectOption('#language', 'be');
    await page.fill('#message', 'Solidarity');
    await page.check('#consent');
    await page.setInputFiles('#video', clip);
    await shot(page, '50-nojs-form');
    await Promise.all([page.waitForURL(`${srv.url}/api/v1/messages`), page.click('#send')]);
    await shot(page, '51-nojs-result');
    const token = tokenOf(await page.inputValue('#receipt-link'));
    const rec = await receiptApi(srv, token);
    assert.equal(rec.status, 200);
    assert.equal(sql(srv.dataDir, `SELECT name || ' ' || country || ' ' || language || ' ' || consent_version || ' ' || consent_scope FROM messages WHERE id = '${rec.body.id}'`),
      'Mikalai BY be 2026-11 public');
  } finally {
    await ctx.close();
  }
});

test('Belarusian and Ukrainian: chosen from the browser\'s language, no English on the form', async () => {
  for (const [lang, locale] of [['be', 'be-BY'], ['uk', 'uk-UA']]) {
    const { ctx, page, problems } = await openPage(`${srv.url}/`, { locale });
    try {
      await ready(page);
      assert.equal(await page.evaluate(() => document.documentElement.lang), lang);
      assert.equal(await page.inputValue('#ui-lang'), lang);
      assert.equal(await page.textContent('#send'), LANG[lang].btn_send);
      assert.equal(await page.inputValue('#language'), lang, 'the message language follows the page');
      await assertNoEnglish(page, lang);
      await shot(page, `65-${lang}-form`);
      assert.deepEqual(problems, []);
    } finally {
      await ctx.close();
    }
  }
});

test('switched to Russian: Russian strings everywhere, no English left on the form, the upload or the receipt', async () => {
  const { ctx, page, problems } = await openPage(`${srv.url}/`);
  try {
    await ready(page);
    await page.selectOption('#ui-lang', 'ru');
    await page.waitForFunction(() => document.documentElement.lang === 'ru');
    // The campaign's own texts in Russian come from its API, just after.
    await page.waitForFunction((t) => document.title === t, LANG.ru.default_title);
    assert.equal(await page.textContent('#btn-choose'), LANG.ru.btn_choose);
    assert.equal(await page.textContent('h1'), LANG.ru.default_title);
    assert.equal(await page.title(), LANG.ru.default_title);
    await assertNoEnglish(page, 'ru');
    // Every country once, named in Russian, BY RU UA KZ first.
    const countries = await page.$$eval('#country option', (os) => os.map((o) => [o.value, o.textContent]));
    // "I prefer not to say" is a choice of its own, right after "Choose".
    assert.deepEqual(countries.slice(0, 8).map((c) => c[0]), ['', 'none', '', 'BY', 'RU', 'UA', 'KZ', '']);
    assert.equal(countries[1][1], LANG.ru.country_none);
    assert.equal(countries.length, 254);
    assert.equal(new Set(countries.map((c) => c[0])).size, 252);
    assert.deepEqual(countries[3], ['BY', 'Беларусь']);
    await shot(page, '60-ru-form');

    await smallChunks(page);
    await chooseFile(page, clip);
    await page.waitForSelector('#clip:visible');
    await page.selectOption('#country', 'RU');
    await page.click('#send');
    await page.waitForSelector('#consent-err:visible');
    assert.equal(await page.textContent('#consent-err'), LANG.ru.err_consent);
    await assertNoEnglish(page, 'ru', ['clip.mp4']);
    await shot(page, '61-ru-errors');

    await page.route('**/api/v1/uploads/*', async (route) => {
      try {
        if (route.request().method() === 'PATCH') await sleep(200); // slow enough to see the speed
        await route.continue();
      } catch (e) { /* gone */ }
    });
    await page.check('#consent');
    await page.click('#send');
    await waitSent(page, 0.3);
    await page.waitForFunction(() => document.getElementById('up-speed').textContent !== '');
    await assertNoEnglish(page, 'ru');
    await shot(page, '62-ru-uploading');
    await page.waitForSelector('#done:visible', { timeout: 60000 * SLOW });
    assert.equal(await page.textContent('#up-state'), LANG.ru.st_done);
    await assertNoEnglish(page, 'ru');
    await shot(page, '63-ru-done');

    // The choice is kept: the receipt page is in Russian too.
    await page.click('#open-receipt');
    await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, LANG.ru.status_received);
    await assertNoEnglish(page, 'ru');
    await shot(page, '64-ru-receipt');
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});
