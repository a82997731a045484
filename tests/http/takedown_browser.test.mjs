// The panel's side of issue #13 in Chromium: comms marks each post of a
// clip withdrawn after use as taken down (the tab counts what is left and
// the clip leaves once nothing is), a post of a clip still approved is
// taken down from its preview, the library's card and download say
// "union only", and an admin deletes a failed clip's file at once.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launch, screenshot } from '../lib/browser.mjs';
import { SANITIZED, assertNoSanitizerReport, removeDir, startChorus, tempDir } from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const T = SANITIZED ? 60000 : 20000;
const dir = tempDir('chorus-takedown-browser-');
let s;
let b;
const pw = {};
const ids = {};

before(async () => {
  s = await startChorus({ args: ['--workers', '1'] });
  pw.mod = addUser(s.dataDir, 'mod', 'moderator');
  pw.comms = addUser(s.dataDir, 'comms', 'comms');
  pw.admin = addUser(s.dataDir, 'admin', 'admin');
  const clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 2 });
  const bad = path.join(dir, 'bad.mp4');
  writeFileSync(bad, 'not a video');
  const used = await sendMessage(s.url, clip, { name: 'Used-Name' });
  const union = await sendMessage(s.url, clip, { name: 'Union-Name', consent_scope: 'union' });
  const failed = await sendMessage(s.url, bad, {});
  Object.assign(ids, { used: used.id, union: union.id, failed: failed.id });
  for (const id of [used.id, union.id]) assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed']), 'pending');
  assert.equal(await waitStatus(s.dataDir, failed.id, ['failed', 'pending']), 'failed');
  const mod = await loggedIn(s.url, 'mod', pw.mod);
  for (const id of [used.id, union.id]) assert.equal((await mod.post(`/api/v1/messages/${id}/approve`, {})).status, 200);
  const comms = await loggedIn(s.url, 'comms', pw.comms);
  for (const ch of ['Telegram', 'Facebook']) {
    assert.equal((await comms.post(`/api/v1/messages/${used.id}/reshared`, { channel: ch, url: `https://example.org/${ch}` })).status, 201);
  }
  // A post of a clip that stays approved, for the comms team to take down.
  assert.equal((await comms.post(`/api/v1/messages/${union.id}/reshared`, { channel: 'Telegram', url: 'https://example.org/u' })).status, 201);
  const r = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${used.receipt}` } });
  assert.equal(r.status, 200);
  b = await launch({ timeout: T });
});

after(async () => {
  if (b) await b.close();
  if (s) assertNoSanitizerReport((await s.stop()).log);
  removeDir(dir);
});

async function login(page, name) {
  await page.goto(`${s.url}/panel`);
  await page.locator('#login-user').fill(name);
  await page.locator('#login-pass').fill(pw[name]);
  await page.locator('#login-pass').press('Enter');
  await page.locator('#app').waitFor();
}

test('the union-only card says so on its download; posts of a withdrawn clip are marked taken down one by one', async () => {
  const { page } = b;
  await login(page, 'comms');
  const card = page.locator(`.lib-card[data-id="${ids.union}"]`);
  await card.waitFor();
  await card.locator('a.lib-dl .dl-union').getByText('(union only)').waitFor();
  assert.match(await card.locator('a.lib-dl').getAttribute('download'), /-union-only-[0-9a-f]{12}\.mp4$/);

  await page.locator('.tabs a[data-tab=withdrawn] .count').getByText('1', { exact: true }).waitFor();
  await page.locator('.tabs a[data-tab=withdrawn]').click();
  const gone = page.locator(`li.gone[data-id="${ids.used}"]`);
  await gone.waitFor();
  assert.equal(await gone.locator('button.take-down').count(), 2);
  await screenshot(page, 'takedown-before.png', { fullPage: true });
  await gone.locator('li', { hasText: 'Telegram' }).locator('button.take-down').click();
  await gone.locator('li', { hasText: 'Telegram' }).locator('.taken-down').waitFor();
  assert.equal(await gone.locator('button.take-down').count(), 1);
  await page.locator('.tabs a[data-tab=withdrawn] .count').getByText('1', { exact: true }).waitFor();
  await gone.locator('li', { hasText: 'Facebook' }).locator('button.take-down').click();
  // Nothing left of it: it leaves the list, and the count says 0.
  await gone.waitFor({ state: 'detached' });
  await page.locator('.tabs a[data-tab=withdrawn] .count').getByText('0', { exact: true }).waitFor();
  await screenshot(page, 'takedown-after.png', { fullPage: true });
  assert.equal(sql(s.dataDir, `SELECT count(*) FROM audit WHERE action = 'message.taken_down' AND target = '${ids.used}'`), '2');
});

test('a post of a clip still approved is marked taken down from its preview; the clip stays approved', async () => {
  const { page } = b;
  await page.goto(`${s.url}/panel#library`);
  await page.locator(`.lib-card[data-id="${ids.union}"] button.lib-open`).click();
  const dlg = page.locator('dialog#lib-preview');
  const post = dlg.locator('.lp-marks ul.marks li', { hasText: 'Telegram' });
  await post.locator('button.take-down').click();
  await post.locator('.taken-down').waitFor();
  assert.equal(await dlg.locator('button.take-down').count(), 0);
  await screenshot(page, 'takedown-approved.png');
  const q = (w) => sql(s.dataDir, w);
  assert.equal(q(`SELECT status FROM messages WHERE id = '${ids.union}'`), 'approved');
  assert.equal(q(`SELECT count(*) FROM reshares WHERE message_id = '${ids.union}' AND taken_down_at IS NOT NULL`), '1');
  assert.equal(q(`SELECT count(*) FROM audit WHERE action = 'message.taken_down' AND target = '${ids.union}'`), '1');
  // Once is enough; and an approved clip's take-down is never "done":
  // a post made after it is one to take down at a withdrawal.
  const comms = await loggedIn(s.url, 'comms', pw.comms);
  const id = Number(q(`SELECT id FROM reshares WHERE message_id = '${ids.union}'`));
  const again = await comms.post(`/api/v1/messages/${ids.union}/taken-down`, { reshare: id });
  assert.equal(again.status, 404);
  assert.equal(again.body.error, 'unknown_reshare');
  assert.equal((await comms.post(`/api/v1/messages/${ids.union}/taken-down`, {})).status, 200);
  assert.equal(q(`SELECT coalesce(takedown_at, 0) FROM messages WHERE id = '${ids.union}'`), '0');
  // A moderator may not.
  const mod = await loggedIn(s.url, 'mod', pw.mod);
  assert.equal((await mod.post(`/api/v1/messages/${ids.union}/taken-down`, { reshare: id })).status, 403);
});

test('an admin deletes a failed clip\'s uploaded file from its detail, after one confirmation', async () => {
  const ctx = await b.browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(T);
  try {
    const page = await ctx.newPage();
    await login(page, 'admin');
    await page.goto(`${s.url}/panel#queue?status=failed`);
    await page.locator(`[data-id="${ids.failed}"]`).first().click();
    await page.locator('#delete-files').click();
    await page.locator('#delete-files-yes').click();
    await page.locator('#files-gone').getByText(/by an admin/).waitFor();
    assert.ok(!existsSync(path.join(s.dataDir, 'incoming', ids.failed)));
    assert.equal(await page.locator('#delete-files').count(), 0);
    await screenshot(page, 'delete-files.png', { fullPage: true });
  } finally {
    await ctx.close();
  }
});
