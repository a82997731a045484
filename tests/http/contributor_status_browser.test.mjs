// The contributor's side of issue #13 in Debian's Chromium: without
// JavaScript (Tor Browser on "Safest") the form's answer is a page with
// the status, the receipt link and a withdraw button that works; with
// JavaScript no country is guessed, a file that is not a playable video
// is refused before a byte is sent, and after the upload the page follows
// the status live, with the reason of a failure in words.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launch, screenshot } from '../lib/browser.mjs';
import { SANITIZED, assertNoSanitizerReport, removeDir, startChorus, tempDir } from '../lib/chorus.mjs';
import { makeClip, sql } from '../lib/fixtures.mjs';

const EN = JSON.parse(readFileSync(new URL('../../web/i18n/en.json', import.meta.url), 'utf8'));
const BE = JSON.parse(readFileSync(new URL('../../web/i18n/be.json', import.meta.url), 'utf8'));
const T = SANITIZED ? 90000 : 30000;
const dir = tempDir('chorus-status-browser-');
let s;
let b;
let clip;

before(async () => {
  clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 2 });
  [s, b] = await Promise.all([startChorus({ args: ['--workers', '1'] }), launch({ timeout: T })]);
});

after(async () => {
  try {
    if (b) await b.close();
    if (s) assertNoSanitizerReport((await s.stop()).log);
  } finally {
    removeDir(dir);
  }
});

async function context(opts = {}) {
  const ctx = await b.browser.newContext({ viewport: { width: 420, height: 900 }, ...opts });
  ctx.setDefaultTimeout(T);
  const page = await ctx.newPage();
  const problems = [];
  const sent = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`); });
  page.on('request', (r) => { if (/\/api\/v1\/(uploads|messages)/.test(r.url())) sent.push(`${r.method()} ${r.url()}`); });
  return { ctx, page, problems, sent };
}

const text = (page, sel) => page.locator(sel).textContent();

test('without JavaScript: the result page has the status, the receipt link and a withdraw button that works', async () => {
  const { ctx, page, problems } = await context({ javaScriptEnabled: false });
  try {
    await page.goto(`${s.url}/`);
    // Nothing chosen for the contributor; not saying is a choice.
    assert.equal(await page.inputValue('#country'), '');
    await page.fill('#name', 'Nojs-Name-T4');
    await page.selectOption('#country', 'none');
    await page.selectOption('#language', 'be');
    await page.check('#consent');
    await page.setInputFiles('#video', clip);
    await Promise.all([page.waitForURL(`${s.url}/api/v1/messages`), page.click('#send')]);
    await screenshot(page, 'nojs-result.png', { fullPage: true });
    assert.equal(await text(page, 'h1'), EN.done_heading);
    assert.equal(await text(page, '#status'), EN.status_received);
    const link = await page.inputValue('#receipt-link');
    const m = /\/receipt#([A-Za-z0-9_-]{43})$/.exec(link);
    assert.ok(m, link);
    assert.ok(!page.url().includes(m[1]), 'the receipt is in no URL');
    const id = sql(s.dataDir, "SELECT id FROM messages WHERE name = 'Nojs-Name-T4'");
    assert.equal(sql(s.dataDir, `SELECT coalesce(country, 'none') FROM messages WHERE id = '${id}'`), 'none');

    // Check again: the status page, from the server.
    await Promise.all([page.waitForURL(`${s.url}/receipt`), page.click('#refresh')]);
    assert.ok([EN.status_received, EN.status_processing, EN.status_in_review].includes(await text(page, '#status')));
    // Withdraw: asked first, then done.
    await page.click('#withdraw');
    assert.equal(await text(page, '#confirm-text'), EN.withdraw_confirm);
    await screenshot(page, 'nojs-withdraw-confirm.png', { fullPage: true });
    await page.click('#withdraw-yes');
    assert.equal(await text(page, '#msg'), EN.rc_withdrawn_ok);
    assert.equal(await text(page, '#status'), EN.status_withdrawn);
    assert.equal(await page.locator('#withdraw').count(), 0);
    await screenshot(page, 'nojs-withdrawn.png', { fullPage: true });
    assert.equal(sql(s.dataDir, `SELECT status || ' ' || coalesce(name, '-') FROM messages WHERE id = '${id}'`), 'withdrawn -');

    // The receipt page's own form, without JavaScript: a receipt that leads nowhere.
    await page.goto(`${s.url}/receipt`);
    await page.fill('#nojs-code', link);
    await Promise.all([page.waitForURL(`${s.url}/receipt`), page.click('#nojs-lookup button')]);
    assert.equal(await text(page, '#msg'), EN.rc_unknown);
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

test('without JavaScript, in the language the form was in', async () => {
  const { ctx, page } = await context({ javaScriptEnabled: false });
  try {
    // The form says its language in ui_lang (the page with JavaScript
    // keeps it up to date); here as a Belarusian page would send it.
    await page.goto(`${s.url}/`);
    assert.equal(await page.inputValue('#ui_lang'), 'en');
    const form = new FormData();
    for (const [k, v] of Object.entries({ consent: 'yes', country: 'BY', language: 'be', ui_lang: 'be' })) form.append(k, v);
    form.append('video', new Blob([readFileSync(clip)]), 'clip.mp4');
    const r = await fetch(`${s.url}/api/v1/messages`, { method: 'POST', body: form, headers: { Accept: 'text/html' } });
    assert.equal(r.status, 201);
    const html = await r.text();
    await page.setContent(html);
    assert.equal(await text(page, 'h1'), BE.done_heading);
    assert.equal(await text(page, '#status'), BE.status_received);
    assert.equal(await page.getAttribute('html', 'lang'), 'be');
  } finally {
    await ctx.close();
  }
});

test('with JavaScript: no country guessed from a ru-RU phone; a file that is not a video is refused before a byte is sent', async () => {
  const { ctx, page, problems, sent } = await context({ locale: 'ru-RU', timezoneId: 'Europe/Minsk' });
  try {
    await page.goto(`${s.url}/`);
    await page.waitForSelector('body[data-ready]', { state: 'attached' });
    assert.equal(await page.inputValue('#country'), '', 'no country pre-selected');
    await page.selectOption('#ui-lang', 'en');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    const fake = path.join(dir, 'holiday.mp4');
    writeFileSync(fake, 'This is a text file that only pretends to be a video.\n'.repeat(200));
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('#btn-choose')]);
    await chooser.setFiles(fake);
    await page.waitForSelector('#video-err:visible');
    assert.equal(await text(page, '#video-err'), EN.err_not_playable);
    assert.ok(await page.isHidden('#clip'));
    await screenshot(page, 'not-playable.png', { fullPage: true });
    assert.deepEqual(sent, [], 'nothing was sent');
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

/** Fills the form with file chosen and sends it; waits for the receipt. */
async function upload(page, file) {
  await page.goto(`${s.url}/`);
  await page.waitForSelector('body[data-ready]', { state: 'attached' });
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('#btn-choose')]);
  await chooser.setFiles(file);
  await page.waitForSelector('#clip:visible');
  await page.selectOption('#country', 'BY');
  await page.selectOption('#language', 'be');
  await page.check('#consent');
  await page.click('#send');
  await page.waitForSelector('#done:visible');
}

test('with JavaScript: after the upload the page follows the status live, to "waiting for review" or a failure with its reason', async () => {
  const { ctx, page, problems } = await context({ locale: 'en-US' });
  try {
    await upload(page, clip);
    const seen = [];
    await page.waitForFunction((want) => document.getElementById('live-status').textContent === want, EN.status_in_review, { timeout: T * 2 });
    seen.push(await text(page, '#live-text'));
    assert.equal(seen[0], EN.status_in_review_x);
    assert.ok(await page.isHidden('#live-reason'));
    await screenshot(page, 'live-in-review.png', { fullPage: true });

    // Shaped like an MP4 but cut short: the browser cannot play it, the
    // server may still try; it cannot, and the page says why.
    const cut = path.join(dir, 'cut.mp4');
    writeFileSync(cut, readFileSync(clip).subarray(0, 20000));
    await upload(page, cut);
    await page.waitForFunction((want) => document.getElementById('live-status').textContent === want, EN.status_failed, { timeout: T * 2 });
    const reason = await text(page, '#live-reason');
    assert.ok(await page.isVisible('#live-reason'));
    assert.ok(Object.entries(EN).some(([k, v]) => k.startsWith('reason_') && v === reason), reason);
    await screenshot(page, 'live-failed.png', { fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});
