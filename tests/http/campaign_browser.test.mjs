// Campaigns in Debian's Chromium (playwright-core, as tests/lib/browser.mjs
// drives it): a Belarusian visitor's page, with a Belarusian tab title
// from the first byte; an upload through a campaign's page that lands in
// that campaign with the consent text it showed; a closed campaign's
// page (its heading and its thanks); in the panel, beside a message, the
// exact consent text its contributor agreed to (not a later version); the
// poster printed to PDF on exactly one A4 page, with a QR code
// a phone reads; the page embedded by a --cors-origin site (and the
// panel refused); and the admin screen: a campaign made with its texts
// side by side and a live preview. Screenshots go to
// $CHORUS_ARTIFACTS/campaigns/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { ARTIFACTS, launch } from '../lib/browser.mjs';
import { SANITIZED, assertNoSanitizerReport, removeDir, startChorus, tempDir } from '../lib/chorus.mjs';
import { makeClip, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const SHOTS = path.join(ARTIFACTS, 'campaigns');
const SLOW = SANITIZED ? 4 : 1;
const PUBLIC = 'https://chorus.example.org';
const dir = tempDir('chorus-campaign-browser-');
let s;
let b;
let site;      // another origin that embeds the page
let siteUrl;
let admin;
let adminPw;
let clip;

const SVABODA = {
  slug: 'svaboda',
  languages: ['be', 'ru', 'en'],
  texts: {
    be: {
      title: 'Свабоду палітвязням!',
      intro: 'Запішыце кароткае відэа ў падтрымку зняволеных прафсаюзных лідараў.',
      consent: 'Я згодны, што маё відэа пакажуць на каналах прафсаюза.',
      cta: 'Адпраўце відэа салідарнасці',
    },
    ru: { title: 'Свободу политзаключённым!', consent: 'Я согласен, что моё видео покажут.' },
    en: { title: 'Free the political prisoners!', consent: 'I agree that my video may be shown.' },
  },
  accent_color: '#b3001b',
};

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 1 });
  // A union's site on another origin, framing the campaign page and the panel.
  site = http.createServer((req, res) => {
    const target = req.url.startsWith('/panel') ? '/panel' : '/c/svaboda';
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><title>Union</title><iframe id="f" src="${s.url}${target}" width="400" height="600"></iframe>`);
  });
  siteUrl = `http://127.0.0.1:${await listen(site)}`;
  s = await startChorus({ args: ['--workers', '1', '--public-url', PUBLIC, '--cors-origin', siteUrl] });
  adminPw = addUser(s.dataDir, 'admin', 'admin');
  admin = await loggedIn(s.url, 'admin', adminPw);
  const r = await admin.post('/api/v1/campaigns', SVABODA);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  b = await launch({ timeout: 30000 * SLOW });
  await b.context.close();
});

after(async () => {
  try {
    if (b) await b.close();
    site.close();
    if (s) assertNoSanitizerReport((await s.stop()).log);
  } finally {
    removeDir(dir);
  }
});

/** A new context (own storage, own language) with a page and its errors. */
async function page(locale = 'en-US', viewport = { width: 390, height: 844 }) {
  const ctx = await b.browser.newContext({ locale, viewport });
  ctx.setDefaultTimeout(30000 * SLOW);
  const p = await ctx.newPage();
  const problems = [];
  p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  p.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  return { ctx, p, problems };
}

const ready = (p) => p.waitForSelector('body[data-ready]', { state: 'attached' });

test('a Belarusian visitor gets a Belarusian page: tab title, headings, consent', async () => {
  const { ctx, p, problems } = await page('be-BY');
  try {
    const res = await p.goto(`${s.url}/c/svaboda`);
    // The title is Belarusian in the HTML itself, before any script runs:
    // it is what lands in the browser's history.
    assert.match(await res.text(), /<title>Свабоду палітвязням!<\/title>/);
    await ready(p);
    assert.equal(await p.title(), 'Свабоду палітвязням!');
    assert.equal(await p.textContent('h1'), 'Свабоду палітвязням!');
    assert.equal(await p.getAttribute('html', 'lang'), 'be');
    assert.equal(await p.textContent('#intro'), SVABODA.texts.be.intro);
    assert.equal(await p.textContent('#consent-text'), SVABODA.texts.be.consent);
    assert.equal(await p.textContent('#consent-h'), 'Ваша згода');
    assert.equal(await p.inputValue('#consent_language'), 'be');
    await p.screenshot({ path: path.join(SHOTS, 'be-page.png'), fullPage: true });
    // Another language picked on the page: its texts, and the tab follows.
    await p.selectOption('#ui-lang', 'ru');
    await p.waitForFunction(() => document.title === 'Свободу политзаключённым!');
    assert.equal(await p.textContent('#consent-text'), SVABODA.texts.ru.consent);
    assert.equal(await p.inputValue('#consent_language'), 'ru');
    // A language the campaign has no texts in: its first language.
    await p.selectOption('#ui-lang', 'uk');
    await p.waitForFunction(() => document.getElementById('consent_language').value === 'be');
    assert.equal(await p.title(), 'Свабоду палітвязням!');
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
  // The default campaign in Belarusian too (a new visitor: no choice saved).
  const fresh = await page('be');
  try {
    await fresh.p.goto(`${s.url}/`);
    await ready(fresh.p);
    assert.equal(await fresh.p.title(), 'Адпраўце відэа ў знак салідарнасці');
    assert.deepEqual(fresh.problems, []);
  } finally {
    await fresh.ctx.close();
  }
});

test('an upload through a campaign\'s page lands in that campaign, with the consent it showed', async () => {
  // A server whose public address is its own: tus follows Location.
  const w = await startChorus({ args: ['--workers', '1'] });
  const pw = addUser(w.dataDir, 'admin', 'admin');
  const a = await loggedIn(w.url, 'admin', pw);
  assert.equal((await a.post('/api/v1/campaigns', SVABODA)).status, 201);
  const { ctx, p, problems } = await page('en-US');
  try {
    await p.goto(`${w.url}/c/svaboda`);
    await ready(p);
    assert.equal(await p.title(), 'Free the political prisoners!');
    await p.setInputFiles('#video', clip);
    await p.waitForSelector('#clip:not([hidden])');
    await p.selectOption('#country', 'BY');
    await p.selectOption('#language', 'be');
    await p.check('#consent');
    await p.click('#send');
    await p.waitForSelector('#done:not([hidden])', { timeout: 60000 * SLOW });
    const id = sql(w.dataDir, "SELECT m.id FROM messages m JOIN campaigns c ON c.id = m.campaign_id WHERE c.slug = 'svaboda'");
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(sql(w.dataDir, `SELECT consent_version || ' ' || consent_language FROM messages WHERE id = '${id}'`), 'v1 en');
    assert.equal(await waitStatus(w.dataDir, id, ['pending', 'failed']), 'pending');
    const d = (await a.get(`/api/v1/messages/${id}`)).body;
    assert.equal(d.consent.text, SVABODA.texts.en.consent);
    assert.equal(await p.getAttribute('#again', 'href'), '/c/svaboda');
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
    assertNoSanitizerReport((await w.stop()).log);
  }
});

test('the poster prints on one A4 page, and its QR code reads back to the address', async () => {
  const { ctx, p, problems } = await page('be-BY', { width: 900, height: 1200 });
  try {
    await p.goto(`${s.url}/c/svaboda/poster`);
    await p.waitForFunction(() => document.querySelector('img.qr').complete && document.querySelector('img.qr').naturalWidth > 0);
    assert.equal(await p.title(), 'Свабоду палітвязням!');
    assert.equal(await p.textContent('.cta'), SVABODA.texts.be.cta);
    assert.equal(await p.textContent('.url'), 'chorus.example.org/c/svaboda');
    assert.equal(await p.textContent('.scan'), 'Навядзіце камеру тэлефона на код');
    const pdf = await p.pdf({ format: 'A4', printBackground: true });
    writeFileSync(path.join(SHOTS, 'poster.pdf'), pdf);
    assert.equal(pages(pdf), 1, 'one A4 page');
    // The code as the browser draws it (the SVG), read by zbarimg.
    const png = path.join(SHOTS, 'poster-qr.png');
    await p.locator('img.qr').screenshot({ path: png });
    const z = spawnSync('zbarimg', ['--quiet', '--raw', png], { encoding: 'utf8' });
    assert.equal(z.status, 0, z.stderr);
    assert.equal(z.stdout.trim(), `${PUBLIC}/c/svaboda`);
    await p.screenshot({ path: path.join(SHOTS, 'poster.png'), fullPage: true });
    // Long words in every box still fit one page, cut rather than spilt.
    const long = 'Салідарнасць '.repeat(15).trim();
    await admin.req('PATCH', '/api/v1/campaigns/svaboda', { json: { texts: { be: { title: long.slice(0, 200), cta: long.slice(0, 200) } } } });
    await p.reload();
    await p.waitForFunction(() => document.querySelector('img.qr').complete);
    const pdf2 = await p.pdf({ format: 'A4', printBackground: true });
    writeFileSync(path.join(SHOTS, 'poster-long.pdf'), pdf2);
    assert.equal(pages(pdf2), 1, 'one A4 page with long texts');
    await admin.req('PATCH', '/api/v1/campaigns/svaboda', { json: { texts: { be: SVABODA.texts.be } } });
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

/** Logs the admin in to the panel on page p; resolves once it shows. */
async function adminLogin(p) {
  await p.goto(`${s.url}/panel`);
  await p.fill('#login-user', 'admin');
  await p.fill('#login-pass', adminPw);
  await p.click('#login-submit');
  await p.waitForSelector('#nav a[href="#campaigns"]');
}

/** Pages of a PDF: its /Type /Page objects (not /Pages). */
function pages(pdf) {
  return (pdf.toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g) || []).length;
}

test('the page of a closed campaign says so in the visitor\'s language, with no form', async () => {
  let r = await admin.post('/api/v1/campaigns', {
    slug: 'over', languages: ['be'], texts: { be: { title: 'Акцыя скончылася', consent: 'Згода' } },
    opens_at: '2020-01-01T00:00:00Z', closes_at: '2020-02-01T00:00:00Z',
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const { ctx, p, problems } = await page('ru-RU');
  try {
    await p.goto(`${s.url}/c/over`);
    await ready(p);
    assert.equal(await p.title(), 'Акцыя скончылася');
    assert.equal(await p.isVisible('#closed'), true);
    assert.equal(await p.textContent('#closed-h'), 'Эта кампания завершена');
    // The thanks, and that it takes no more videos, in the visitor's language.
    assert.equal(await p.isVisible('#closed-text'), true);
    assert.equal(await p.textContent('#closed-text'), 'Спасибо всем, кто прислал видео солидарности. Кампания больше не принимает видео.');
    assert.equal(await p.isVisible('#form'), false);
    await p.screenshot({ path: path.join(SHOTS, 'closed.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
  // Without JavaScript too.
  const nojs = await b.browser.newContext({ javaScriptEnabled: false, locale: 'be' });
  try {
    const q = await nojs.newPage();
    await q.goto(`${s.url}/c/over`);
    assert.equal(await q.isVisible('#form'), false);
    assert.equal(await q.textContent('#closed-h'), 'Гэтая кампанія завершана');
    assert.equal(await q.isVisible('#closed-text'), true);
    assert.equal(await q.textContent('#closed-text'), 'Дзякуй усім, хто даслаў відэа салідарнасці. Кампанія больш не прымае відэа.');
  } finally {
    await nojs.close();
  }
  r = await fetch(`${s.url}/api/v1/campaigns/over`);
  assert.equal((await r.json()).state, 'closed');
});

test('the panel shows beside a message the exact consent text its contributor agreed to, not a later one', async () => {
  const V1 = { be: 'Я згодны, што маё відэа пакажуць. Версія першая.', en: 'I agree that my video may be shown. First version.' };
  const V2 = 'Я згодны, што маё відэа пакажуць усюды. Версія другая.';
  let r = await admin.post('/api/v1/campaigns', {
    slug: 'consented', languages: ['be', 'en'], texts: { be: { title: 'Згода', consent: V1.be }, en: { title: 'Consent', consent: V1.en } },
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const form = new FormData();
  for (const [k, v] of Object.entries({
    campaign: 'consented', consent: 'yes', consent_version: 'v1', consent_language: 'be', country: 'BY', language: 'be',
    message: 'Салідарнасць з Менска',
  })) form.append(k, v);
  form.append('video', new Blob([readFileSync(clip)]), 'clip.mp4');
  const up = await fetch(`${s.url}/api/v1/messages`, { method: 'POST', body: form });
  const { id } = await up.json();
  assert.equal(up.status, 201);
  assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
  // The text changes after the contributor agreed: a new version.
  r = await admin.req('PATCH', '/api/v1/campaigns/consented', { json: { texts: { be: { consent: V2 } } } });
  assert.equal(r.body.consent_version, 'v2');
  const { ctx, p, problems } = await page('en-US', { width: 1400, height: 1000 });
  try {
    await adminLogin(p);
    await p.goto(`${s.url}/panel#queue?status=pending&campaign=consented`);
    await p.click(`button.card[data-id="${id}"]`);
    const side = p.locator('.detail-side');
    await side.locator('.consent-given').waitFor();
    assert.equal(await side.locator('blockquote.message').textContent(), 'Салідарнасць з Менска');
    const given = side.locator('.consent-given > blockquote.consent-text');
    assert.equal(await given.textContent(), V1.be);
    assert.equal(await given.getAttribute('lang'), 'be');
    assert.match(await side.locator('.consent-given > p.muted').textContent(), /Version v1\b/);
    // The same version's other languages, on request; never the later text.
    await side.locator('.consent-given details > summary').click();
    assert.equal(await side.locator('.consent-given details .consent-other blockquote.consent-text[lang="en"]').textContent(), V1.en);
    assert.ok(!(await side.locator('.consent-given').textContent()).includes(V2));
    await p.screenshot({ path: path.join(SHOTS, 'panel-consent.png'), fullPage: true });
    assert.deepEqual(problems.filter((x) => !/status of 401/.test(x)), []);
  } finally {
    await ctx.close();
  }
});

test('a --cors-origin site may embed the campaign page; the panel it may not', async () => {
  const { ctx, p } = await page('en-US', { width: 800, height: 800 });
  try {
    await p.goto(`${siteUrl}/`);
    const frame = await (await p.waitForSelector('#f')).contentFrame();
    await frame.waitForSelector('body[data-ready]', { state: 'attached' });
    assert.equal(await frame.title(), 'Free the political prisoners!');
    await p.screenshot({ path: path.join(SHOTS, 'embedded.png') });
    await p.goto(`${siteUrl}/panel`);
    const panel = await (await p.waitForSelector('#f')).contentFrame();
    // Refused by frame-ancestors 'none' / X-Frame-Options: nothing of it runs.
    await p.waitForTimeout(0);
    const loaded = await panel.evaluate(() => !!document.getElementById('login-form')).catch(() => false);
    assert.equal(loaded, false);
  } finally {
    await ctx.close();
  }
});

test('admin screen: a campaign made with its texts side by side and a live preview', async () => {
  const { ctx, p, problems } = await page('en-US', { width: 1400, height: 1000 });
  try {
    await adminLogin(p);
    await p.click('#nav a[href="#campaigns"]');
    await p.waitForSelector('tr[data-slug="svaboda"]');
    await p.click('#campaign-new');
    await p.waitForSelector('#c-slug');
    await p.fill('#c-slug', 'birthday');
    await p.fill('#c-langs', 'be, en');
    await p.dispatchEvent('#c-langs', 'change');
    await p.waitForSelector('fieldset.lang-col[data-lang="en"]');
    // Side by side: the columns share one row.
    const boxes = await p.$$eval('fieldset.lang-col', (els) => els.map((e) => e.getBoundingClientRect().top));
    assert.equal(boxes.length, 2);
    assert.equal(boxes[0], boxes[1]);
    await p.fill('#c-title-be', 'З днём нараджэння, Алесь!');
    await p.fill('#c-consent-be', 'Я згодны.');
    await p.fill('#c-title-en', 'Happy birthday, Ales!');
    // A new campaign starts from the default campaign's consent wording.
    assert.match(await p.inputValue('#c-consent-en'), /^The campaign's moderators watch every video/);
    await p.fill('#c-consent-en', '');
    // The preview follows the typing, in the language picked.
    await p.selectOption('#c-preview-lang', 'be');
    assert.equal(await p.textContent('.upload-preview .pv-title'), 'З днём нараджэння, Алесь!');
    await p.selectOption('#c-preview-lang', 'en');
    assert.equal(await p.textContent('.upload-preview .pv-title'), 'Happy birthday, Ales!');
    assert.equal(await p.textContent('.upload-preview .pv-consent'), 'Я згодны.', 'the first language fills in');
    await p.screenshot({ path: path.join(SHOTS, 'admin-new.png'), fullPage: true });
    await p.click('#campaign-save');
    await p.waitForSelector('#c-embed');
    assert.match(await p.inputValue('#c-embed'), /^<iframe src="https:\/\/chorus\.example\.org\/c\/birthday"/);
    assert.equal(await p.inputValue('#c-url'), `${PUBLIC}/c/birthday`);
    const c = await (await fetch(`${s.url}/api/v1/campaigns/birthday?lang=en`)).json();
    assert.deepEqual([c.title, c.consent_version], ['Happy birthday, Ales!', 'v1']);
    // An edit of the consent text: a new version in the history.
    await p.fill('#c-consent-be', 'Я згодны, і гэта новы тэкст.');
    await p.click('#campaign-save');
    await p.waitForFunction(() => document.querySelectorAll('.consent-history > li').length === 2);
    await p.screenshot({ path: path.join(SHOTS, 'admin-edit.png'), fullPage: true });
    // (The panel asks who is logged in before the login: a 401.)
    assert.deepEqual(problems.filter((x) => !/status of 401/.test(x)), []);
  } finally {
    await ctx.close();
  }
});
