// The panel's user form in a real browser (Debian's Chromium): names in
// any script are taken (the input's pattern no longer allows ASCII only),
// a name that cannot be used is refused with a message that says why,
// and the new user logs in however the name is cased, typed composed or
// not (the page sends it in NFC).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launch } from '../lib/browser.mjs';
import { assertNoSanitizerReport, SANITIZED, startChorus } from '../lib/chorus.mjs';
import { addUser } from '../lib/panel.mjs';

const T = SANITIZED ? 60000 : 20000;
let s;
let b;
let page;

before(async () => {
  s = await startChorus();
  const pw = addUser(s.dataDir, 'admin', 'admin');
  b = await launch({ timeout: T });
  page = b.page;
  await page.goto(`${s.url}/panel`);
  await page.locator('#login-user').fill('admin');
  await page.locator('#login-pass').fill(pw);
  await page.locator('#login-submit').click();
  await page.locator('#nav a[href="#users"]').click();
  await page.locator('#u-name').waitFor();
});

after(async () => {
  if (b) await b.close();
  if (s) {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  }
});

async function addInForm(name) {
  await page.locator('#u-name').fill(name);
  await page.locator('#u-role').selectOption('moderator');
  await page.locator('#u-pass').fill('a long enough password');
  await page.locator('form.inline-form button[type=submit]').click();
}

test('names in Cyrillic, Greek and with Latin accents are added', async () => {
  for (const name of ['Алесь_Бяляцкі', 'Σοφία', 'Łukasz-Żółć', 'Nguyễn.Văn']) {
    await addInForm(name);
    await page.locator('table tbody th').getByText(name, { exact: true }).waitFor();
  }
});

test('a name with a space or a sign is refused, saying why', async () => {
  for (const name of ['Алесь Бяляцкі', 'anna<b>', 'ok✓']) {
    await addInForm(name);
    const message = await page.locator('#u-name').evaluate((e) => (e.checkValidity() ? '' : e.validationMessage));
    assert.match(message, /cannot be used.*any script/, name);
  }
  assert.equal(await page.locator('table tbody th').getByText('anna<b>', { exact: true }).count(), 0);
  assert.match(await page.locator('#u-name-hint').textContent(), /any script/);
});

test('the server says why when it refuses a name the form let through', async () => {
  // A letter with an accent that has no composed form (q + acute): the
  // browser's pattern takes marks, the server wants every accent
  // composed with its letter.
  await addInForm('Anq\u0301a');
  await page.locator('#toast').getByText(/letters and digits of any script/i).waitFor();
});

test('the new user logs in however the name is cased, and typed decomposed', async () => {
  const ctx = await b.browser.newContext();
  const p = await ctx.newPage();
  p.setDefaultTimeout(T);
  await p.goto(`${s.url}/panel`);
  // "ŁUKASZ-ŻÓŁĆ" with Ó as O + combining acute: NFC makes it one letter.
  await p.locator('#login-user').fill('ŁUKASZ-ŻO\u0301ŁĆ');
  await p.locator('#login-pass').fill('a long enough password');
  await p.locator('#login-submit').click();
  await p.locator('#app').waitFor({ state: 'visible' });
  assert.equal(await p.locator('#login').isHidden(), true);
  await ctx.close();
});
