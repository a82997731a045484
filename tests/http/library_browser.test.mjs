// The comms Library in a real browser (Debian's Chromium through
// playwright-core): approved clips only, the union-only clip marked as
// such, a country filter, a selection downloaded as a ZIP (checked with
// unzip), one clip downloaded, the preview playing, a reshare mark, the
// "not yet reshared" filter, and a withdrawal through the receipt: the
// clip leaves the grid by itself and is listed under "Withdrawn after
// use" with where it was posted. Messages come through the real upload
// path and the real worker; decisions through the API.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { screenshot, launch } from '../lib/browser.mjs';
import { assertNoSanitizerReport, removeDir, SANITIZED, startChorus, tempDir } from '../lib/chorus.mjs';
import { makeClip, sendMessage, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const T = SANITIZED ? 60000 : 20000; // per browser action
const POST = 'https://t.me/union_channel/42';

const dir = tempDir('chorus-library-browser-');
let s;
let b;
let page;
let comms;
const pw = {};
const ids = {};
const receipts = {};
let clipName; // the generated name of the single download

before(async () => {
  s = await startChorus({ args: ['--workers', '1', '--session-idle', '3600'] });
  pw.mod = addUser(s.dataDir, 'mod', 'moderator');
  pw.comms = addUser(s.dataDir, 'comms', 'comms');
  pw.admin = addUser(s.dataDir, 'admin', 'admin');
  const clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 3, size: '480x360' });
  const plan = {
    alesia: { name: 'Alesia', organization: 'Miners union', country: 'BY', language: 'be', message: 'Solidarity!' },
    ihar: { name: 'Ihar', country: 'BY', language: 'ru' }, // rejected
    olena: { name: 'Olena', organization: 'Teachers', country: 'UA', language: 'uk' },
    union: { name: 'Siarhei', country: 'BY', language: 'be', consent_scope: 'union' },
  };
  for (const [k, m] of Object.entries(plan)) {
    const r = await sendMessage(s.url, clip, m);
    ids[k] = r.id;
    receipts[k] = r.receipt;
  }
  for (const id of Object.values(ids)) {
    assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed'], SANITIZED ? 600000 : 120000), 'pending');
  }
  const mod = await loggedIn(s.url, 'mod', pw.mod);
  for (const k of ['alesia', 'olena', 'union']) {
    assert.equal((await mod.post(`/api/v1/messages/${ids[k]}/approve`, {})).status, 200);
  }
  assert.equal((await mod.post(`/api/v1/messages/${ids.ihar}/reject`, { reason: 'Duplicate' })).status, 200);
  comms = await loggedIn(s.url, 'comms', pw.comms);
  b = await launch({ timeout: T, context: { acceptDownloads: true } });
  page = b.page;
  // The page's own timers run on a clock the tests can move forward.
  await page.clock.install();
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

const card = (id) => page.locator(`.lib-card[data-id="${id}"]`);
const cardIds = () => page.locator('.lib-card').evaluateAll((l) => l.map((e) => e.dataset.id).sort());
const sorted = (...keys) => keys.map((k) => ids[k]).sort();

/** Waits until the grid shows exactly the clips of keys. */
async function waitCards(...keys) {
  const want = JSON.stringify(sorted(...keys));
  await page.waitForFunction((w) => JSON.stringify([...document.querySelectorAll('.lib-card')]
    .map((e) => e.dataset.id).sort()) === w, want, { timeout: T });
}

function unzip(args) {
  const r = spawnSync('unzip', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout;
}

test('comms logs in to the Library: the approved clips, never the rejected one', async () => {
  await page.goto(`${s.url}/panel`);
  await page.locator('#login-user').fill('comms');
  await page.locator('#login-pass').fill(pw.comms);
  await page.locator('#login-pass').press('Enter');
  await page.locator('#app').waitFor();
  await waitCards('alesia', 'olena', 'union');
  assert.match(await page.evaluate(() => location.hash), /^#library/);
  assert.equal(await card(ids.ihar).count(), 0);
  // The queue is not the comms team's: no way there.
  assert.equal(await page.locator('#nav a[href="#queue"]').count(), 0);
  await page.locator('.tabs a[data-tab=library] .count').getByText('3', { exact: true }).waitFor();

  // What every card says.
  const a = card(ids.alesia);
  await a.locator('.lib-open .name').getByText('Alesia', { exact: true }).waitFor();
  await a.locator('.lib-open .org').getByText('Miners union', { exact: true }).waitFor();
  await a.getByText('🇧🇾 BY · be').waitFor();
  await a.locator('.lib-meta .dur').getByText('0:03', { exact: true }).waitFor();
  await a.locator('.lib-meta time[title^="Approved "]').waitFor();
  await a.getByText('Public: social media and press').waitFor();
  assert.equal(await a.locator('.badge.reshared').count(), 0);
  assert.equal(await a.locator('a.lib-dl').getAttribute('href'), `/media/${ids.alesia}/video.mp4?download=1`);
  await page.waitForFunction(() => [...document.querySelectorAll('.lib-card img')]
    .every((i) => i.complete && i.naturalWidth > 0), null, { timeout: T });

  // The union-only clip never looks ready for public social media.
  const u = card(ids.union);
  assert.match(await u.getAttribute('class'), /\bunion\b/);
  assert.match(await u.locator('.lib-scope').textContent(), /Union channels only — not for public social media/);
  for (const k of ['alesia', 'olena']) {
    assert.doesNotMatch(await card(ids[k]).getAttribute('class'), /\bunion\b/);
    assert.equal(await card(ids[k]).getByText(/union channels only/i).count(), 0);
  }
  await screenshot(page, 'library-grid.png');
});

test('one clip downloads under its generated name', async () => {
  const [dl] = await Promise.all([
    page.waitForEvent('download'),
    card(ids.alesia).locator('a.lib-dl').click(),
  ]);
  clipName = dl.suggestedFilename();
  assert.match(clipName, /^chorus-\d{4}-\d\d-\d\d-BY-be-[0-9a-f]{12}\.mp4$/);
  const file = path.join(dir, clipName);
  await dl.saveAs(file);
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  assert.ok(Math.abs(Number(r.stdout) - 3) < 0.3, r.stdout + r.stderr);
});

test('filter by country; select both; the selection downloads as one ZIP', async () => {
  await page.locator('#l-country').fill('by');
  await page.locator('#l-country').press('Enter');
  await page.waitForFunction(() => location.hash.includes('country=BY'));
  await waitCards('alesia', 'union');

  await page.locator('#l-all').check();
  assert.equal(await card(ids.alesia).locator('input.pick').isChecked(), true);
  assert.equal(await card(ids.union).locator('input.pick').isChecked(), true);
  await page.locator('.lib-tools .sel-info').getByText('2 selected').waitFor();
  await page.locator('.lib-tools .sel-warn').getByText('⚠ 1 union-only').waitFor();
  // One off and on again with its own box, from the keyboard.
  await card(ids.union).locator('input.pick').focus();
  await page.keyboard.press('Space');
  await page.locator('.lib-tools .sel-info').getByText('1 selected').waitFor();
  assert.equal(await page.locator('#l-all').evaluate((e) => e.indeterminate), true);
  await page.keyboard.press('Space');
  await page.locator('.lib-tools .sel-info').getByText('2 selected').waitFor();
  await screenshot(page, 'library-selection.png');

  const [dl] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('#l-dl-selection').click(),
  ]);
  assert.match(dl.suggestedFilename(), /^chorus-export-\d{4}-\d\d-\d\d\.zip$/);
  const file = path.join(dir, 'selection.zip');
  await dl.saveAs(file);
  assert.equal(await dl.failure(), null);
  unzip(['-t', file]);
  const names = unzip(['-Z1', file]).trim().split('\n').sort();
  assert.equal(names.length, 6, names.join('\n'));
  // The union-only clip goes apart, named so (DESIGN.md "Studio").
  assert.equal(names.filter((n) => /^clips\/chorus-[\w-]+\.mp4$/.test(n)).length, 1, names.join('\n'));
  assert.equal(names.filter((n) => /^union-only\/clips\/chorus-[\w-]+-union-only-[0-9a-f]{12}\.mp4$/.test(n)).length, 1, names.join('\n'));
  assert.equal(names.filter((n) => /^(union-only\/)?thumbs\/chorus-[\w-]+\.jpg$/.test(n)).length, 2, names.join('\n'));
  assert.deepEqual(names.filter((n) => !/^(union-only\/)?(clips|thumbs)\//.test(n)), ['manifest.csv', 'manifest.json']);
  assert.ok(names.includes(`clips/${clipName}`), `${clipName} in ${names.join(' ')}`);
  const manifest = JSON.parse(unzip(['-p', file, 'manifest.json']));
  assert.deepEqual(manifest.map((m) => m.id).sort(), sorted('alesia', 'union'));
  assert.equal(manifest.find((m) => m.id === ids.union).consent_scope, 'union');

  // "Download all matching" carries the filter.
  assert.equal(await page.locator('#l-dl-all').getAttribute('href'), '/api/v1/export.zip?country=BY');
});

test('the preview plays the clip; marking it reshared shows the badge', async () => {
  await card(ids.alesia).locator('button.lib-open').click();
  const dlg = page.locator('dialog#lib-preview');
  await dlg.waitFor();
  await dlg.locator('h2').getByText('Alesia', { exact: true }).waitFor();
  await dlg.locator('.message').getByText('Solidarity!').waitFor();
  await dlg.locator('.lp-marks').getByText('Not marked as reshared yet.').waitFor();
  const video = dlg.locator('video');
  assert.equal(await video.getAttribute('src'), `/media/${ids.alesia}/video.mp4`);
  assert.equal(await dlg.locator('.facts code').textContent(), clipName);
  const t = await video.evaluate(async (v) => {
    v.muted = true;
    await v.play();
    const end = Date.now() + 15000;
    while (v.currentTime <= 0.3 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return v.currentTime;
  });
  assert.ok(t > 0.3, `currentTime ${t}`);
  await video.evaluate((v) => v.pause());

  // A link that is not a web address is refused before it is sent.
  await dlg.locator('#lp-channel').selectOption({ label: 'Telegram' });
  await dlg.locator('#lp-url').fill('javascript:alert(1)');
  await dlg.locator('#lp-mark').click();
  await dlg.locator('.lp-mark .error').getByText(/starting with https:\/\//).waitFor();
  await dlg.locator('#lp-url').fill(POST);
  await dlg.locator('#lp-mark').click();
  await page.locator('#toast').getByText('Marked as reshared on Telegram.').waitFor();
  const mark = dlg.locator('.lp-marks ul.marks li');
  await mark.locator('.channel').getByText('Telegram', { exact: true }).waitFor();
  assert.equal(await mark.locator('a.post').getAttribute('href'), POST);
  await screenshot(page, 'library-preview.png');
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
  // Focus is back on the card it came from; the card wears the badge.
  await page.waitForFunction((id) => document.activeElement?.closest('.lib-card')?.dataset.id === id,
    ids.alesia, { timeout: T });
  await card(ids.alesia).locator('.badge.reshared').getByText('reshared 1×').waitFor();
  assert.equal(await card(ids.union).locator('.badge.reshared').count(), 0);

  const one = (await comms.get(`/api/v1/messages/${ids.alesia}`)).body;
  assert.deepEqual(one.reshares.map((r) => [r.channel, r.url, r.by]), [['Telegram', POST, 'comms']]);
});

test('a union-only clip asks where it was posted before it is marked', async () => {
  // From the keyboard: / goes to the search, Tab to the cards, Enter opens.
  await page.locator('#view').focus();
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'l-q');
  await card(ids.union).locator('button.lib-open').focus();
  await page.keyboard.press('Enter');
  const dlg = page.locator('dialog#lib-preview');
  await dlg.waitFor();
  await dlg.locator('.lp-scope').getByText(/union channels only — not for public social media/i).waitFor();
  await dlg.locator('#lp-channel').selectOption('website');
  await dlg.locator('#lp-mark').click();
  await dlg.locator('.lp-mark .error').getByText(/confirm where it was posted/).waitFor();
  await screenshot(page, 'library-preview-union.png');
  assert.equal((await comms.get(`/api/v1/messages/${ids.union}`)).body.reshares.length, 0);
  await dlg.locator('button[aria-label="Close the preview"]').click();
  await dlg.waitFor({ state: 'hidden' });
});

test('"not yet reshared" hides the reshared clip', async () => {
  await page.locator('#l-unshared').check();
  await page.waitForFunction(() => location.hash.includes('reshared=no'));
  await waitCards('union');
  assert.equal(await page.locator('#l-dl-all').getAttribute('href'), '/api/v1/export.zip?country=BY&reshared=no');
  // The selection was of the other list: it starts empty.
  await page.locator('.lib-tools .sel-info').getByText('Nothing selected').waitFor();
  assert.equal(await page.locator('#l-dl-selection').getAttribute('aria-disabled'), 'true');
  await page.locator('.lib-top button', { hasText: 'Clear' }).click();
  await waitCards('alesia', 'olena', 'union');
});

test('withdrawn through the receipt: it leaves the grid and is listed as withdrawn after use', async () => {
  await card(ids.alesia).locator('input.pick').check();
  await card(ids.alesia).locator('button.lib-open').click();
  const dlg = page.locator('dialog#lib-preview');
  await dlg.locator('video').waitFor();
  const r = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${receipts.alesia}` } });
  assert.equal(r.status, 200);
  // No reload: the Library refreshes itself every 15 s, which the page's
  // clock skips to. The open preview says the clip is gone and offers
  // nothing more; the clip leaves the grid and the selection.
  await page.clock.fastForward(15000);
  await dlg.locator('.lp-gone').getByText(/no longer in the library/).waitFor();
  assert.equal(await dlg.locator('video').getAttribute('src'), null);
  assert.equal(await dlg.locator('#lp-mark').isDisabled(), true);
  assert.equal(await dlg.locator('#lp-download').getAttribute('href'), null);
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
  await card(ids.alesia).waitFor({ state: 'detached' });
  await waitCards('olena', 'union');
  await page.locator('.lib-tools .sel-info').getByText('Nothing selected').waitFor();
  await page.locator('.tabs a[data-tab=library] .count').getByText('2', { exact: true }).waitFor();
  await page.locator('.tabs a[data-tab=withdrawn] .count').getByText('1', { exact: true }).waitFor();

  await page.locator('.tabs a[data-tab=withdrawn]').click();
  const gone = page.locator(`li.gone[data-id="${ids.alesia}"]`);
  await gone.waitFor();
  assert.equal(await page.locator('li.gone').count(), 1);
  // Where it was posted, and the file to delete.
  await gone.locator('.marks .channel').getByText('Telegram', { exact: true }).waitFor();
  assert.equal(await gone.locator('.marks a.post').getAttribute('href'), POST);
  // Its copies, found by the end of their names (the rest went with the row).
  const pattern = await gone.locator('h3 code.file').textContent();
  assert.match(pattern, /^chorus-\*-[0-9a-f]{12}\.mp4$/);
  assert.ok(clipName.endsWith(pattern.slice('chorus-*'.length)), `${clipName} ~ ${pattern}`);
  await gone.locator('.badge.reshared').getByText('reshared 1×').waitFor();
  // Nothing personal is left to show.
  assert.equal(await gone.getByText('Alesia').count(), 0);
  assert.equal(await gone.locator('img, video').count(), 0);
  await screenshot(page, 'library-withdrawn.png');
});

test('an admin sees the same marks, from the server', async () => {
  const ctx = await b.browser.newContext({ viewport: { width: 1024, height: 768 } });
  ctx.setDefaultTimeout(T);
  try {
    const p = await ctx.newPage();
    await p.goto(`${s.url}/panel#library?tab=withdrawn`);
    await p.locator('#login-user').fill('admin');
    await p.locator('#login-pass').fill(pw.admin);
    await p.locator('#login-pass').press('Enter');
    const gone = p.locator(`li.gone[data-id="${ids.alesia}"]`);
    await gone.locator('.marks .channel').getByText('Telegram', { exact: true }).waitFor();
    assert.equal(await gone.locator('.marks a.post').getAttribute('href'), POST);
    // The admin keeps the queue and gets the Library as well.
    await p.locator('#nav a[href="#queue"]').waitFor();
    await p.locator('#nav a[href="#library"]').waitFor();
  } finally {
    await ctx.close();
  }
});

test('a tablet: one column of controls, cards still show their consent', async () => {
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.locator('.tabs a[data-tab=library]').click();
  await waitCards('olena', 'union');
  await card(ids.union).getByText(/Union channels only/).waitFor();
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(w <= 768, `no sideways scrolling (${w} px)`);
  await screenshot(page, 'library-tablet.png');
  await card(ids.olena).locator('button.lib-open').click();
  await page.locator('dialog#lib-preview video').waitFor();
  const box = await page.locator('dialog#lib-preview').boundingBox();
  assert.ok(box.width <= 768, `preview ${box.width} px wide`);
  await screenshot(page, 'library-tablet-preview.png');
  await page.keyboard.press('Escape');
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('no script errors and no CSP violations on the page', async () => {
  const bad = b.errors.filter((e) => !/Failed to load resource: the server responded with a status of 4(01|09|29)/.test(e));
  assert.deepEqual(bad, []);
});
