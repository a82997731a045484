// "Protect my identity" in a real browser (Debian's Chromium): the upload
// page explains each choice in the visitor's language, sends the ticked
// ones as `protect`; the receipt shows them and, after a rejection for
// "protection failed", offers to send the clip again; the panel marks a
// protected clip, shows its contact sheet, flags a blur to check, and
// rejects with the code from the keyboard.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { ARTIFACTS, launch } from '../lib/browser.mjs';
import { assertNoSanitizerReport, removeDir, ROOT, SANITIZED, startChorus, tempDir, until } from '../lib/chorus.mjs';
import { makeClip, sendTus, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser } from '../lib/panel.mjs';

const SLOW = SANITIZED ? 4 : 1;
const SHOTS = path.join(ARTIFACTS, 'protect');
const LANG = Object.fromEntries(['en', 'ru', 'be', 'uk'].map((l) => [l,
  JSON.parse(readFileSync(path.join(ROOT, `web/i18n/${l}.json`), 'utf8'))]));
const KEYS = ['protect_heading', 'protect_intro', 'protect_blur', 'protect_blur_x', 'protect_voice',
  'protect_voice_x', 'protect_novideo', 'protect_novideo_x'];

const dir = tempDir('chorus-protect-browser-');
let s;
let b;
let clip;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  clip = makeClip(path.join(dir, 'clip.mp4'));
  s = await startChorus({ args: ['--workers', '1'] });
  b = await launch({ viewport: { width: 390, height: 844 }, timeout: 30000 * SLOW });
});

after(async () => {
  try {
    if (b) await b.close();
    if (s) assertNoSanitizerReport((await s.stop()).log);
  } finally {
    removeDir(dir);
  }
});

test('every language explains every choice, in its own words', () => {
  for (const [l, d] of Object.entries(LANG)) {
    for (const k of [...KEYS, 'rc_protect', 'rc_protect_none', 'rc_protect_blur_faces', 'rc_protect_voice',
      'rc_protect_no_video', 'rc_resend', 'btn_resend']) {
      assert.ok(typeof d[k] === 'string' && d[k].length > 0, `${l}: ${k}`);
      if (l !== 'en') assert.notEqual(d[k], LANG.en[k], `${l}: ${k} is not translated`);
    }
  }
  // Each explanation says what it does not protect.
  assert.match(LANG.en.protect_blur_x, /room|tattoo/);
  assert.match(LANG.en.protect_voice_x, /words/);
  assert.match(LANG.en.protect_novideo_x, /voice and words/);
});

test('the page sends the ticked protections; the receipt shows them and, after "protection failed", offers to send again', async () => {
  const { page, errors } = b;
  for (const l of ['be', 'uk', 'ru', 'en']) {
    await page.addInitScript((lang) => localStorage.setItem('chorus.lang', lang), l);
    await page.goto(`${s.url}/`);
    await page.waitForSelector('body[data-ready]', { state: 'attached' });
    assert.equal(await page.textContent('#protect-h'), LANG[l].protect_heading, l);
    assert.equal(await page.textContent('#protect-blur-x'), LANG[l].protect_blur_x, l);
    assert.equal(await page.textContent('#protect-novideo-x'), LANG[l].protect_novideo_x, l);
    await page.locator('#protect-card').screenshot({ path: path.join(SHOTS, `protect-${l}.png`) });
  }
  await page.check('input[name=protect][value=blur_faces]');
  await page.check('input[name=protect][value=voice]');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('#btn-choose')]);
  await chooser.setFiles(clip);
  await page.waitForSelector('#clip:visible');
  await page.selectOption('#country', 'BY');
  await page.selectOption('#language', 'be');
  await page.check('#consent');
  await page.click('#send');
  await page.waitForSelector('#done:visible', { timeout: 60000 * SLOW });
  const link = await page.inputValue('#receipt-link');
  const token = link.slice(link.indexOf('#') + 1);
  const id = sql(s.dataDir, "SELECT id FROM messages WHERE protect = 'blur_faces,voice'");
  assert.match(id, /^[A-Za-z0-9_-]{22}$/, 'stored with its protection');

  await page.goto(`${s.url}/receipt#${token}`);
  await until(async () => (await page.textContent('#facts')).includes(LANG.en.rc_protect_voice), 10000 * SLOW,
    'the receipt to show the protection');
  const facts = await page.textContent('#facts');
  assert.ok(facts.includes(`${LANG.en.rc_protect_blur_faces}, ${LANG.en.rc_protect_voice}`), facts);
  assert.ok(await page.isHidden('#resend'));

  // A moderator rejects it from the keyboard: R, 6 (protection failed).
  assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed'], 120000), 'pending');
  const pw = addUser(s.dataDir, 'mod', 'moderator');
  const panelCtx = await b.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const panel = await panelCtx.newPage();
  await panel.goto(`${s.url}/panel`);
  await panel.fill('#login-user', 'mod');
  await panel.fill('#login-pass', pw);
  await panel.click('#login-submit');
  await panel.waitForSelector(`button.card[data-id="${id}"]`);
  const card = await panel.textContent(`button.card[data-id="${id}"]`);
  assert.ok(card.includes('faces blurred, voice disguised'), card);
  await panel.click(`button.card[data-id="${id}"]`);
  await panel.waitForSelector('.detail figure.sheet img');
  await until(() => panel.evaluate(() => {
    const img = document.querySelector('.detail figure.sheet img');
    return img && img.complete && img.naturalWidth > 640;
  }), 10000 * SLOW, 'the contact sheet to load, larger than a thumbnail');
  await panel.screenshot({ path: path.join(SHOTS, 'panel-detail.png'), fullPage: true });
  await panel.keyboard.press('r');
  await panel.waitForSelector('#reject[open]');
  await panel.keyboard.press('6');
  await panel.click('#reject-confirm');
  await until(() => sql(s.dataDir, `SELECT status || ' ' || coalesce(decision_code, '-') FROM messages WHERE id = '${id}'`)
    === 'rejected protection_failed', 10000 * SLOW, 'the rejection with its code');
  await panelCtx.close();

  await page.reload();
  await page.waitForSelector('#resend:visible');
  assert.equal(await page.textContent('#resend p'), LANG.en.rc_resend);
  assert.equal(await page.getAttribute('#resend a', 'href'), '/');
  await page.screenshot({ path: path.join(SHOTS, 'receipt-resend.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('the queue marks a blur to check', async () => {
  const m = await sendTus(s.url, readFileSync(clip), { protect: 'blur_faces' });
  assert.equal(await waitStatus(s.dataDir, m.id, ['pending', 'failed'], 120000), 'pending');
  assert.equal(sql(s.dataDir, `SELECT check_protection FROM messages WHERE id = '${m.id}'`), '1');
  const pw = addUser(s.dataDir, 'mod2', 'moderator');
  const panelCtx = await b.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const panel = await panelCtx.newPage();
  try {
    await panel.goto(`${s.url}/panel`);
    await panel.fill('#login-user', 'mod2');
    await panel.fill('#login-pass', pw);
    await panel.click('#login-submit');
    await panel.waitForSelector(`button.card[data-id="${m.id}"] .badge.check`);
    await panel.click(`button.card[data-id="${m.id}"]`);
    await panel.waitForSelector('.detail .check-note');
    assert.match(await panel.textContent('.detail .check-note'), /Check the blur/);
    await panel.screenshot({ path: path.join(SHOTS, 'panel-check.png'), fullPage: true });
  } finally {
    await panelCtx.close();
  }
});
