// Issue #14 in a real browser (Debian's Chromium through playwright-core)
// at a laptop's 1366×800: the Library shows at least 8 cards at once,
// thumbnails of one height for portrait and landscape clips, each card
// with the message's first line and its consent mark; the preview and
// the queue's detail put the message and facts beside the player; the
// panel in Belarusian, the choice kept on the user (a fresh browser gets
// it back at login); a claim as another moderator sees it; and the
// queue's counts and the tab's title follow new clips without a reload.
//
// Two clips come through the real upload path and worker (one portrait,
// one landscape); the rest of the library are copies of their rows and
// files made with sqlite3, so that a dozen cards cost two transcodes.
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launch, screenshot } from '../lib/browser.mjs';
import { assertNoSanitizerReport, removeDir, SANITIZED, startChorus, tempDir, until } from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser } from '../lib/panel.mjs';

const T = SANITIZED ? 60000 : 20000; // per browser action
const VIEWPORT = { width: 1366, height: 800 };
const dir = tempDir('chorus-work-browser-');
let s;
let b;
let page;
const pw = {};
const ids = {};
let copies = 0;

/** A copy of message from's row and files as a new message; its id. */
function copyMessage(from, fields) {
  copies += 1;
  const id = `copy${String(copies).padStart(18, '0')}`;
  cpSync(path.join(s.dataDir, 'media', from), path.join(s.dataDir, 'media', id), { recursive: true });
  const set = Object.entries({ id, ...fields })
    .map(([k, v]) => `${k} = ${typeof v === 'number' || v === 'NULL' ? v : `'${String(v).replaceAll("'", "''")}'`}`).join(', ');
  sql(s.dataDir, `CREATE TEMP TABLE c AS SELECT * FROM messages WHERE id = '${from}';
    UPDATE c SET ${set}, receipt_hash = randomblob(32); INSERT INTO messages SELECT * FROM c;`);
  return id;
}

before(async () => {
  s = await startChorus({ args: ['--workers', '1', '--session-idle', '3600'] });
  for (const [name, role] of [['mod', 'moderator'], ['comms', 'comms'], ['alesia', 'moderator'], ['boss', 'admin']]) {
    pw[name] = addUser(s.dataDir, name, role);
  }
  const tall = makeClip(path.join(dir, 'tall.mp4'), { seconds: 2, size: '360x640' });
  const wide = makeClip(path.join(dir, 'wide.mp4'), { seconds: 2, size: '640x360' });
  ids.tall = (await sendMessage(s.url, tall, {
    name: 'Алеся Каваль', organization: 'Незалежны прафсаюз', country: 'BY', language: 'be',
    message: 'Свабоду палітвязням!\nДругі радок не паказваецца.',
  })).id;
  ids.wide = (await sendMessage(s.url, wide, {
    name: 'Olena', organization: 'Teachers', country: 'UA', language: 'uk', message: 'Solidarity from Kyiv',
    consent_scope: 'union',
  })).id;
  for (const id of Object.values(ids)) {
    assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed'], SANITIZED ? 600000 : 120000), 'pending');
  }
  // A library of 12: the two approved, ten copies.
  const now = Math.floor(Date.now() / 1000);
  sql(s.dataDir, `UPDATE messages SET status = 'approved', decided_at = ${now} WHERE id IN ('${ids.tall}', '${ids.wide}')`);
  for (let i = 0; i < 10; i++) {
    copyMessage(i % 2 ? ids.wide : ids.tall, {
      name: `Copy ${i}`, message: `Message number ${i}\nsecond line`, created_at: now - 100 + i, decided_at: now - 100 + i,
    });
  }
  // And two pending clips for the queue.
  for (let i = 0; i < 2; i++) {
    ids[`p${i}`] = copyMessage(ids.wide, { name: `Pending ${i}`, status: 'pending', decided_at: 'NULL', created_at: now - 50 + i });
  }
  b = await launch({ viewport: VIEWPORT, timeout: T });
  page = b.page;
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

async function logIn(p, name) {
  await p.goto(`${s.url}/panel`);
  // Signed in already (this browser's session): out first.
  await p.waitForFunction(() => !document.querySelector('#login').hidden || !document.querySelector('#app').hidden);
  if (await p.locator('#app').isVisible()) {
    await p.locator('#logout').click();
    await p.locator('#login-user').waitFor();
  }
  await p.locator('#login-user').fill(name);
  await p.locator('#login-pass').fill(pw[name]);
  await p.locator('#login-submit').click();
  await p.locator('#app').waitFor();
}

test('the library at 1366×800: at least 8 whole cards, one thumbnail height, the first line and the consent', async () => {
  await logIn(page, 'comms');
  await page.locator('.lib-card').nth(11).waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('.lib-card img')]
    .every((i) => i.complete && i.naturalWidth > 0), null, { timeout: T });
  const m = await page.evaluate(() => {
    const vh = window.innerHeight;
    const vw = window.innerWidth;
    const cards = [...document.querySelectorAll('.lib-card')];
    const whole = cards.filter((c) => {
      const r = c.getBoundingClientRect();
      return r.top >= 0 && r.bottom <= vh && r.left >= 0 && r.right <= vw;
    });
    const thumbs = cards.map((c) => Math.round(c.querySelector('.lib-thumb').getBoundingClientRect().height));
    return {
      whole: whole.length,
      thumbs: [...new Set(thumbs)],
      firsts: cards.map((c) => c.querySelector('.lib-first').textContent),
      scopes: cards.map((c) => c.querySelector('.lib-scope').textContent),
      downloads: whole.filter((c) => {
        const r = c.querySelector('a.lib-dl').getBoundingClientRect();
        return r.bottom <= vh;
      }).length,
    };
  });
  await screenshot(page, 'work-library-1366.png');
  assert.ok(m.whole >= 8, `${m.whole} whole cards in view`);
  assert.equal(m.downloads, m.whole, 'every whole card shows its Download button');
  assert.equal(m.thumbs.length, 1, `thumbnail heights ${m.thumbs}`);
  assert.ok(m.firsts.includes('Свабоду палітвязням!'), 'the first line of a Belarusian message');
  assert.ok(!m.firsts.some((x) => /second line|Другі радок/.test(x)), 'only the first line');
  assert.ok(m.scopes.every((x) => /Public|Union channels only/.test(x)), 'every card has its consent mark');
  const wide = page.locator(`.lib-card[data-id="${ids.wide}"] .lib-scope`);
  assert.match(await wide.textContent(), /Union channels only/);
});

test('the preview puts the message and the facts beside the player', async () => {
  await page.locator(`.lib-card[data-id="${ids.tall}"] .lib-open`).click();
  const dlg = page.locator('#lib-preview');
  await dlg.locator('video').waitFor();
  await dlg.locator('blockquote.message').waitFor();
  const r = await page.evaluate(() => {
    const box = (sel) => document.querySelector(sel).getBoundingClientRect().toJSON();
    return { media: box('#lib-preview .lp-media'), side: box('#lib-preview .lp-side'), facts: box('#lib-preview .facts') };
  });
  await screenshot(page, 'work-library-preview-1366.png');
  assert.ok(r.side.left >= r.media.right - 1, `side ${r.side.left} beside media ${r.media.right}`);
  assert.ok(r.facts.top < VIEWPORT.height, 'the facts are on the screen');
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
});

test('the panel in Belarusian, kept on the user: a fresh browser gets it back at login', async () => {
  await logIn(page, 'mod');
  await page.locator('button.card').first().waitFor();
  await page.locator('#lang').selectOption('be');
  // (A moderator has one view: no navigation, the title names it.)
  await page.locator('.tabs a[data-status=pending]').getByText(/Чакаюць/).waitFor();
  await page.waitForFunction(() => /Чарга · Chorus$/.test(document.title));
  await page.locator('#approve').getByText(/Ухваліць/).waitFor();
  await page.locator('#logout').getByText('Выйсці', { exact: true }).waitFor();
  await page.locator('.detail .facts dt').getByText('Краіна', { exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'be');
  await screenshot(page, 'work-queue-be.png');

  // Another browser, nothing remembered in it: the server says "be".
  const ctx = await b.browser.newContext({ viewport: VIEWPORT });
  const p2 = await ctx.newPage();
  try {
    await logIn(p2, 'mod');
    await p2.locator('.tabs a[data-status=pending]').getByText(/Чакаюць/).waitFor();
    assert.equal(await p2.locator('#lang').inputValue(), 'be');
    // The page's own words (panel.html) too.
    await p2.keyboard.press('?');
    await p2.locator('#help h2').getByText('Клавішы', { exact: true }).waitFor();
  } finally {
    await ctx.close();
  }
  // Someone else's choice is their own.
  const ctx3 = await b.browser.newContext({ viewport: VIEWPORT });
  const p3 = await ctx3.newPage();
  try {
    await logIn(p3, 'alesia');
    await p3.locator('.tabs a[data-status=pending]').getByText(/Pending/).waitFor();
  } finally {
    await ctx3.close();
  }
});

test('the queue\'s detail: the message and the facts beside the player', async () => {
  await page.locator(`button.card[data-id="${ids.p0}"]`).click();
  await page.locator('.detail video').waitFor();
  const r = await page.evaluate(() => {
    const box = (sel) => document.querySelector(sel).getBoundingClientRect().toJSON();
    return { media: box('.detail-media'), side: box('.detail-side'), facts: box('.detail .facts') };
  });
  assert.ok(r.side.left >= r.media.right - 1, `side ${r.side.left} beside media ${r.media.right}`);
  assert.ok(r.facts.top < VIEWPORT.height, 'the facts are on the screen');
  await screenshot(page, 'work-queue-detail-be.png');
});

test('claims: another moderator sees who reviews a clip, J skips it, and may not decide it', async () => {
  // No claim left from the earlier tests' browsers (a page closed at once
  // may never send its release: its claim would run its 5 minutes).
  sql(s.dataDir, 'DELETE FROM message_claims');
  // mod opens Pending 0 again, which claims it.
  const holder = (id) => sql(s.dataDir, `SELECT u.username FROM message_claims c JOIN users u ON u.id = c.user_id WHERE c.message_id = '${id}'`);
  await page.locator(`button.card[data-id="${ids.p1}"]`).click();
  await until(() => holder(ids.p1) === 'mod', T, 'mod\'s claim on Pending 1');
  await page.locator(`button.card[data-id="${ids.p0}"]`).click();
  await until(() => holder(ids.p0) === 'mod', T, 'mod\'s claim on Pending 0');
  const ctx = await b.browser.newContext({ viewport: VIEWPORT });
  const p = await ctx.newPage();
  try {
    await logIn(p, 'alesia');
    const held = p.locator(`button.card[data-id="${ids.p0}"]`);
    await held.locator('.badge.claim').getByText('mod is reviewing', { exact: true }).waitFor();
    // Not in a bulk approval either: its box is disabled, the free one's is not.
    const box = (id) => p.locator(`li:has(button.card[data-id="${id}"]) input.pick`);
    assert.equal(await box(ids.p0).isDisabled(), true, 'the claimed clip cannot be picked');
    assert.equal(await box(ids.p1).isDisabled(), false, 'a free clip can be');
    // The first clip nobody else reviews is the one opened.
    await p.locator(`button.card[data-id="${ids.p1}"][aria-current=true]`).waitFor();
    await p.keyboard.press('k');
    await p.locator(`button.card[data-id="${ids.p1}"][aria-current=true]`).waitFor();
    await held.click();
    await p.locator('#claim-note').getByText('mod is reviewing this message.', { exact: true }).waitFor();
    assert.equal(await p.locator('#approve').isDisabled(), true);
    await screenshot(p, 'work-queue-claimed.png');
  } finally {
    await ctx.close();
  }
});

test('new clips: the counts and the title follow without a reload', async () => {
  await page.locator('#lang').selectOption('en');
  await page.locator('.tabs a[data-status=pending]').getByText(/Pending/).waitFor();
  const pending = page.locator('.tabs a[data-status=pending] .count');
  await pending.getByText('2', { exact: true }).waitFor();
  await page.waitForFunction(() => document.title.startsWith('(2) '));
  await page.evaluate(() => { window.__same = true; });
  const now = Math.floor(Date.now() / 1000);
  copyMessage(ids.wide, { name: 'Pending new', status: 'pending', decided_at: 'NULL', created_at: now });
  copyMessage(ids.wide, { name: 'Pending newer', status: 'pending', decided_at: 'NULL', created_at: now + 1 });
  await pending.getByText('4', { exact: true }).waitFor({ timeout: 30000 });
  await page.waitForFunction(() => document.title.startsWith('(4) '), null, { timeout: 30000 });
  assert.equal(await page.evaluate(() => window.__same), true, 'the page was not reloaded');
  await page.locator('button.card').getByText('Pending newer', { exact: true }).waitFor({ timeout: 30000 });
  await screenshot(page, 'work-queue-live.png');
});

test('an admin in Belarusian: campaigns, users and the audit log with links', async () => {
  const ctx = await b.browser.newContext({ viewport: VIEWPORT });
  const p = await ctx.newPage();
  try {
    await logIn(p, 'boss');
    await p.locator('#lang').selectOption('be');
    await p.locator('#nav a[href="#campaigns"]').getByText('Кампаніі', { exact: true }).click();
    await p.locator('h1').getByText('Кампаніі', { exact: true }).waitFor();
    await p.locator('#nav a[href="#users"]').getByText('Карыстальнікі', { exact: true }).click();
    await p.locator('#add-h').getByText('Дадаць карыстальніка', { exact: true }).waitFor();
    await p.locator('#nav a[href="#audit"]').getByText('Журнал', { exact: true }).click();
    await p.locator('h1').getByText('Журнал дзеянняў', { exact: true }).waitFor();
    // boss's own change of language is not audited; mod's sign-in is, its
    // actor a link to what mod did.
    await p.locator('table tbody a[href="#audit?actor=mod"]').first().waitFor();
    await p.locator('table tbody td[title="login"]').getByText('уваход', { exact: true }).first().waitFor();
    await screenshot(p, 'work-audit-be.png');
  } finally {
    await ctx.close();
  }
});

test('no script errors on the pages', async () => {
  const bad = b.errors.filter((e) => !/Failed to load resource: the server responded with a status of 4(01|09|29)/.test(e));
  assert.deepEqual(bad, []);
});
