// The moderator panel in a real browser (Debian's Chromium through
// playwright-core): log in, the queue with thumbnails, the detail with a
// playing video, decisions by keyboard, a conflict, hostile text shown as
// text. Messages come through the real upload path and the real worker.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { screenshot, launch } from '../lib/browser.mjs';
import {
  assertNoSanitizerReport, removeDir, SANITIZED, startChorus, tempDir, testClock,
} from '../lib/chorus.mjs';
import { makeClip, sendMessage, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const T = SANITIZED ? 60000 : 20000; // per browser action
const HOSTILE_NAME = '<img src=x onerror=window.__xss=1>';
const HOSTILE_ORG = '<script>window.__xss=2</script>';

const dir = tempDir('chorus-panel-browser-');
let s;
let b;
let page;
let admin;
const pw = {};
const ids = {};

before(async () => {
  const clock = testClock(dir);
  s = await startChorus({ args: ['--workers', '1', '--session-idle', '3600'], env: clock.env() });
  pw.mod = addUser(s.dataDir, 'mod', 'moderator');
  pw.admin = addUser(s.dataDir, 'admin', 'admin');
  const clip = makeClip(path.join(dir, 'clip.mp4'), { seconds: 3, size: '480x360' });
  const metas = {
    hostile: { name: HOSTILE_NAME, organization: HOSTILE_ORG, message: 'Solidarity <b>now</b>', country: 'BY', language: 'be' },
    olena: { name: 'Olena', organization: 'Miners union', country: 'UA', language: 'uk', consent_scope: 'union' },
    anon: { country: 'KZ', language: 'ru', message: 'Freedom for the strikers!' },
  };
  // One after the other: the queue is oldest first, in this order.
  for (const [k, m] of Object.entries(metas)) {
    ids[k] = (await sendMessage(s.url, clip, m)).id;
    clock.advance(1); // distinct created_at seconds, without waiting for them
  }
  for (const id of Object.values(ids)) {
    assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed'], SANITIZED ? 600000 : 120000), 'pending');
  }
  admin = await loggedIn(s.url, 'admin', pw.admin);
  b = await launch({ timeout: T });
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

const count = (status) => page.locator(`.tabs a[data-status=${status}] .count`);
const card = (id) => page.locator(`button.card[data-id="${id}"]`);
const selectedId = () => page.locator('button.card[aria-current=true]').getAttribute('data-id');

async function apiStatus(id) {
  const r = await admin.get(`/api/v1/messages/${id}`);
  assert.equal(r.status, 200);
  return r.body;
}

test('a wrong password shows an error; repeated failures say when to try again', async () => {
  await page.goto(`${s.url}/panel`);
  await page.locator('#login-user').fill('mod');
  await page.locator('#login-pass').fill('not-the-password');
  await page.locator('#login-submit').click();
  await page.locator('#login-error').getByText(/wrong username or password/i).waitFor();
  assert.equal(await page.locator('#app').isHidden(), true);

  // Five failures for one name, then the form says how long to wait.
  for (let i = 0; i < 5; i++) {
    await fetch(`${s.url}/api/v1/session`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'ghost', password: 'wrong-password' }),
    });
  }
  await page.locator('#login-user').fill('ghost');
  await page.locator('#login-pass').fill('wrong-password');
  await page.locator('#login-submit').click();
  await page.locator('#login-error').getByText(/try again in \d+ s/).waitFor();
  assert.equal(await page.locator('#login-submit').isDisabled(), true);
});

test('log in: the pending queue with counts and thumbnails', async () => {
  await page.reload(); // clears the countdown
  await page.locator('#login-user').fill('mod');
  await page.locator('#login-pass').fill(pw.mod);
  await page.locator('#login-pass').press('Enter');
  await page.locator('#app').waitFor();
  await page.locator('button.card').nth(2).waitFor();
  assert.equal(await count('pending').textContent(), '3');
  assert.deepEqual(await page.locator('button.card').evaluateAll((l) => l.map((e) => e.dataset.id)),
    [ids.hostile, ids.olena, ids.anon]);
  // Every thumbnail loads from /media/<id>/thumb.jpg.
  await page.waitForFunction(() => [...document.querySelectorAll('button.card img.thumb')]
    .every((i) => i.complete && i.naturalWidth > 0), null, { timeout: T });
  assert.equal(await card(ids.olena).locator('img.thumb').getAttribute('src'), `/media/${ids.olena}/thumb.jpg`);
  // What a moderator must see on each card.
  await card(ids.olena).getByText('union channels only').waitFor();
  await card(ids.olena).getByText('🇺🇦 UA · uk').waitFor();
  await card(ids.anon).getByText('anonymous').waitFor();
  assert.match(await card(ids.anon).locator('.meta').textContent(), /0:03 · just now|0:03 · \d+ min ago/);
});

test('hostile names and organizations are shown as text, never run', async () => {
  await card(ids.hostile).getByText(HOSTILE_NAME, { exact: true }).waitFor();
  await card(ids.hostile).getByText(HOSTILE_ORG, { exact: true }).waitFor();
  await card(ids.hostile).click();
  await page.locator('.detail h2').getByText(HOSTILE_NAME, { exact: true }).waitFor();
  await page.locator('.detail .message').getByText('Solidarity <b>now</b>').waitFor();
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.locator('img[src="x"], .detail b, .cards script').count(), 0);
});

test('J and K move the selection', async () => {
  await card(ids.hostile).focus();
  assert.equal(await selectedId(), ids.hostile);
  await page.keyboard.press('j');
  assert.equal(await selectedId(), ids.olena);
  await page.locator('.detail h2').getByText('Olena').waitFor();
  await page.locator('.detail .scope-note').getByText(/union channels only/i).waitFor();
  await page.keyboard.press('j');
  assert.equal(await selectedId(), ids.anon);
  await page.keyboard.press('j'); // stays on the last one
  assert.equal(await selectedId(), ids.anon);
  await page.keyboard.press('k');
  assert.equal(await selectedId(), ids.olena);
  await screenshot(page, 'panel-queue.png');
});

test('the detail view plays the video; Space pauses it', async () => {
  await card(ids.olena).click();
  const video = page.locator('.detail video');
  await video.waitFor();
  assert.equal(await video.getAttribute('src'), `/media/${ids.olena}/video.mp4`);
  await page.locator('.detail .facts').getByText('480×360', { exact: true }).waitFor();
  await page.locator('.detail summary').getByText('Media facts').waitFor();
  const t = await video.evaluate(async (v) => {
    v.muted = true;
    await v.play();
    const end = Date.now() + 15000;
    while (v.currentTime <= 0.3 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return v.currentTime;
  });
  assert.ok(t > 0.3, `currentTime ${t}`);
  await card(ids.olena).focus();
  await page.keyboard.press(' ');
  assert.equal(await video.evaluate((v) => v.paused), true);
  await page.keyboard.press(' ');
  assert.equal(await video.evaluate((v) => v.paused), false);
  await page.keyboard.press(' ');
  await screenshot(page, 'panel-detail.png');
  // The help overlay opens with ? and closes with Esc.
  await page.keyboard.press('?');
  await page.locator('#help').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('#help').waitFor({ state: 'hidden' });
});

test('A approves: the message leaves the queue and the count drops', async () => {
  assert.equal(await selectedId(), ids.olena);
  await page.keyboard.press('a');
  await page.locator('#toast').getByText('Approved.').waitFor();
  await card(ids.olena).waitFor({ state: 'detached' });
  await page.locator('.tabs a[data-status=pending] .count').getByText('2', { exact: true }).waitFor();
  const m = await apiStatus(ids.olena);
  assert.equal(m.status, 'approved');
  assert.equal(m.decided_by, 'mod');
  // The next message is selected.
  assert.equal(await selectedId(), ids.anon);
});

test('R asks for a reason, then rejects', async () => {
  await card(ids.anon).focus();
  await page.keyboard.press('r');
  const dlg = page.locator('#reject');
  await dlg.waitFor();
  await page.keyboard.press('2'); // unsafe for the contributor
  assert.equal(await dlg.getByLabel(/unsafe for the contributor/i).isChecked(), true);
  await page.locator('#reject-note').fill('face and workplace visible');
  await page.locator('#reject-confirm').click();
  await dlg.waitFor({ state: 'hidden' });
  await card(ids.anon).waitFor({ state: 'detached' });
  await page.locator('.tabs a[data-status=pending] .count').getByText('1', { exact: true }).waitFor();
  const m = await apiStatus(ids.anon);
  assert.equal(m.status, 'rejected');
  assert.equal(m.decision_reason, 'Unsafe for the contributor (identifying details): face and workplace visible');
});

test('a message decided by someone else: "already decided", and it leaves the queue', async () => {
  await card(ids.hostile).click();
  await page.locator('.detail #approve').waitFor();
  const r = await admin.post(`/api/v1/messages/${ids.hostile}/reject`, { reason: 'Duplicate' });
  assert.equal(r.status, 200);
  await page.keyboard.press('a');
  await page.locator('#toast').getByText(/already decided by someone else/i).waitFor();
  await card(ids.hostile).waitFor({ state: 'detached' });
  await page.locator('.tabs a[data-status=pending] .count').getByText('0', { exact: true }).waitFor();
  assert.equal((await apiStatus(ids.hostile)).status, 'rejected');
  await page.locator('.empty').getByText('No pending messages.').waitFor();
});

test('the decisions are in the audit log, and in the approved tab', async () => {
  const r = await admin.get('/api/v1/audit?actor=mod');
  assert.equal(r.status, 200);
  const rows = r.body.items.map((a) => `${a.action} ${a.target}`);
  assert.ok(rows.includes(`message.approve ${ids.olena}`), rows.join('\n'));
  assert.ok(rows.includes(`message.reject ${ids.anon}`), rows.join('\n'));
  await page.locator('.tabs a[data-status=approved]').click();
  await card(ids.olena).waitFor();
  assert.equal(await page.locator('button.card').count(), 1);
  await page.locator('.detail .decision').getByText(/approved by mod/).waitFor();
  assert.equal(await page.locator('.detail #approve').count(), 0);
});

async function logInAs(name) {
  await page.locator('#logout').click();
  await page.locator('#login-user').waitFor();
  await page.locator('#login-user').fill(name);
  await page.locator('#login-pass').fill(pw[name]);
  await page.locator('#login-submit').click();
  await page.locator('#app').waitFor();
}

test('comms lands in the Library, without the queue, and cannot decide', async () => {
  pw.comms = addUser(s.dataDir, 'comms', 'comms');
  await logInAs('comms');
  await page.waitForFunction(() => location.hash.startsWith('#library'));
  await page.locator(`.lib-card[data-id="${ids.olena}"]`).waitFor();
  assert.equal(await page.locator('#nav a[href="#queue"]').count(), 0);
  await page.keyboard.press('a');
  assert.equal((await apiStatus(ids.olena)).status, 'approved');
});

test('admins get Users and Audit', async () => {
  await logInAs('admin');
  await page.locator('#nav a[href="#users"]').click();
  await page.locator('table tbody th').getByText('comms', { exact: true }).waitFor();
  await page.locator('#nav a[href="#audit"]').click();
  await page.locator('#a-actor').fill('mod');
  await page.locator('#a-actor').press('Enter');
  await page.waitForFunction(() => location.hash.includes('actor=mod'));
  // The hash changes first; the filtered table replaces the whole one a
  // moment later, once it has loaded (the whole one has admin's login).
  await page.waitForFunction(() => {
    const who = [...document.querySelectorAll('table tbody tr td:nth-child(2)')].map((td) => td.textContent);
    return who.length > 0 && who.every((a) => a === 'mod');
  });
  const row = (id) => page.locator('table tbody tr').filter({ has: page.getByText(id, { exact: true }) });
  // Actions in the panel's words (the code in the title), targets as links.
  await row(ids.olena).locator('td[title="message.approve"]').getByText('approved', { exact: true }).waitFor();
  await row(ids.anon).locator('td[title="message.reject"]').getByText('rejected', { exact: true }).waitFor();
  assert.equal(await row(ids.olena).locator(`a[href="#queue?status=all&open=${ids.olena}"]`).count(), 1);
  const actors = await page.locator('table tbody tr td:nth-child(2)').allTextContents();
  assert.deepEqual([...new Set(actors)], ['mod']);
});

test('no script errors and no CSP violations on the page', async () => {
  const bad = b.errors.filter((e) => !/Failed to load resource: the server responded with a status of 4(01|09|29)/.test(e));
  assert.deepEqual(bad, []);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});
