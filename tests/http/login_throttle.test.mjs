// Login throttling that strangers cannot abuse. Before: the per-account
// limit was keyed on the bytes typed while names matched regardless of
// case, so "Moderator", "MODERATOR"... each got five fresh guesses; and
// five wrong passwords from anywhere locked the owner out for 15
// minutes. Now the name is case-folded everywhere (Cyrillic and Greek
// too), and a browser that logged in as an account before carries a
// signed device cookie: the account's lockout of strangers does not
// apply to it. Strangers are throttled per account and per client.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';

import { assertNoSanitizerReport, startChorus } from '../lib/chorus.mjs';
import { addUser } from '../lib/panel.mjs';

/** POST /api/v1/session from local address `from` with cookies. */
function login(port, name, password, { from = '127.0.0.1', cookies = [] } = {}) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ username: name, password });
    const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' };
    if (cookies.length > 0) headers.Cookie = cookies.join('; ');
    const r = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/session', headers, localAddress: from, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const set = res.headers['set-cookie'] || [];
        const device = set.map((c) => c.split(';')[0]).filter((c) => c.startsWith('chorus_device_'));
        resolve({ status: res.statusCode, headers: res.headers, set, device, body: Buffer.concat(chunks).toString() });
      });
    });
    r.on('error', reject);
    r.end(body);
  });
}

async function withServer(fn) {
  const s = await startChorus();
  try {
    await fn(s);
  } finally {
    const r = await s.stop();
    assertNoSanitizerReport(r.log);
  }
}

test('every casing of a name shares one account\'s guesses, in every script', async () => {
  await withServer(async (s) => {
    addUser(s.dataDir, 'Moderator', 'moderator');
    const latin = ['moderator', 'MODERATOR', 'MoDeRaToR', 'mODERATOR', 'Moderator'];
    for (const n of latin) assert.equal((await login(s.port, n, 'wrong password!')).status, 401, n);
    for (const n of [...latin, 'moderatoR']) {
      const r = await login(s.port, n, 'wrong password!');
      assert.equal(r.status, 429, `${n}: a fresh casing is no fresh guess`);
      assert.ok(Number(r.headers['retry-after']) > 0);
    }
    // Even the right password, from a stranger, waits.
    assert.equal((await login(s.port, 'MODERATOR', 'Moderator-long-password')).status, 429);

    const pw = addUser(s.dataDir, 'Модератор', 'moderator');
    for (const n of ['модератор', 'МОДЕРАТОР', 'мОдЕрАтОр', 'Модератор', 'МОДЕРАТОр']) {
      assert.equal((await login(s.port, n, 'wrong password!', { from: '127.0.0.2' })).status, 401, n);
    }
    assert.equal((await login(s.port, 'модераТОР', 'wrong password!', { from: '127.0.0.2' })).status, 429);
    assert.equal((await login(s.port, 'мОДЕРАТОР', pw, { from: '127.0.0.2' })).status, 429);

    // A Greek name logs in in any casing (one account), final sigma too.
    const gpw = addUser(s.dataDir, 'Σοφίας', 'comms');
    const ok = await login(s.port, 'ΣΟΦΊΑΣ', gpw, { from: '127.0.0.3' });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).user, 'Σοφίας');
  });
});

test('a stranger\'s failures never lock out the owner\'s browser; the device cookie is signed, per account, and kept off the disk\'s database', async () => {
  await withServer(async (s) => {
    const pw = addUser(s.dataDir, 'Anna', 'moderator');
    const other = addUser(s.dataDir, 'Boris', 'moderator');
    // The owner logs in once: the browser gets a device cookie for Anna.
    const first = await login(s.port, 'anna', pw);
    assert.equal(first.status, 200);
    assert.equal(first.device.length, 1);
    const cookie = first.device[0];
    assert.match(first.set.find((c) => c.startsWith('chorus_device_')), /Path=\/api\/v1\/session; HttpOnly; SameSite=Strict/);

    // Strangers, from two clients, fail on purpose until Anna is locked.
    for (let i = 0; i < 5; i++) await login(s.port, i % 2 ? 'ANNA' : 'anna', 'guess number one', { from: '127.0.0.9' });
    assert.equal((await login(s.port, 'Anna', 'guess number two', { from: '127.0.0.8' })).status, 429);
    assert.equal((await login(s.port, 'Anna', pw, { from: '127.0.0.8' })).status, 429, 'strangers wait');

    // The owner's browser logs in at once, even from the attacker's own
    // address, and is given a new cookie.
    const again = await login(s.port, 'Anna', pw, { from: '127.0.0.9', cookies: [cookie] });
    assert.equal(again.status, 200, again.body);
    assert.equal(again.device.length, 1);

    // The cookie is Anna's only: it does not help with Boris, and a
    // forged or altered one counts for nothing.
    for (let i = 0; i < 5; i++) await login(s.port, 'boris', 'guess number one', { from: '127.0.0.7' });
    assert.equal((await login(s.port, 'Boris', other, { cookies: [cookie] })).status, 429);
    const [name, value] = cookie.split('=');
    // (The character replaced is the one looked at: it always changes.)
    const altered = `${name}=${value.slice(0, -2)}${value.at(-2) === 'A' ? 'B' : 'A'}${value.slice(-1)}`;
    assert.notEqual(altered, cookie);
    assert.equal((await login(s.port, 'Anna', pw, { cookies: [altered] })).status, 429);
    assert.equal((await login(s.port, 'Anna', pw, { cookies: [`${name}=${'A'.repeat(22)}.${'B'.repeat(43)}`] })).status, 429);

    // A device's own failures lock out that cookie alone (ten in the
    // window): the owner mistyping, or a stolen cookie.
    for (let i = 0; i < 10; i++) {
      assert.equal((await login(s.port, 'anna', 'mistyped password', { cookies: [cookie] })).status, 401, `try ${i}`);
    }
    assert.equal((await login(s.port, 'anna', pw, { cookies: [cookie] })).status, 429);
    assert.equal((await login(s.port, 'anna', pw, { cookies: [again.device[0]] })).status, 200, 'another device is not');

    // The key: in the data directory, 0600, never in the database or log.
    const keyFile = path.join(s.dataDir, 'device.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const key = readFileSync(keyFile);
    assert.equal(key.length, 32);
    const db = Buffer.concat(['chorus.db', 'chorus.db-wal'].map((f) => {
      try { return readFileSync(path.join(s.dataDir, f)); } catch { return Buffer.alloc(0); }
    }));
    assert.equal(db.indexOf(key), -1, 'the key is in the database');
    assert.ok(!s.log().includes(key.toString('hex')) && !s.log().includes(key.toString('base64')));
    assert.ok(!s.log().includes(value), 'a device cookie in the log');
  });
});

test('strangers are throttled per client too: twenty failures with any names, then that client waits; others do not', async () => {
  await withServer(async (s) => {
    const pw = addUser(s.dataDir, 'Olga', 'comms');
    const owner = await login(s.port, 'olga', pw, { from: '127.0.0.6' });
    assert.equal(owner.status, 200);
    for (let i = 0; i < 20; i++) {
      assert.equal((await login(s.port, `user${i}`, 'wrong password!', { from: '127.0.0.5' })).status, 401);
    }
    const r = await login(s.port, 'someone-else', 'wrong password!', { from: '127.0.0.5' });
    assert.equal(r.status, 429);
    assert.equal((await login(s.port, 'olga', pw, { from: '127.0.0.5' })).status, 429, 'a stranger there waits');
    // The owner's browser behind the same address does not.
    assert.equal((await login(s.port, 'olga', pw, { from: '127.0.0.5', cookies: owner.device })).status, 200);
    assert.equal((await login(s.port, 'olga', pw, { from: '127.0.0.4' })).status, 200, 'another client does not');
  });
});
