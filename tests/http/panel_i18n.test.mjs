// The panel's languages (web/panel/i18n/<lang>.json): every key the
// panel's code and page use is in English, every language has exactly
// English's keys, with the same {placeholders}, none empty. A key added
// to the code and not to a file fails here, naming the file and the key.
// No server: the files and the sources are read as they are.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { ROOT } from '../lib/chorus.mjs';

const WEB = path.join(ROOT, 'web');
const LANGS = ['be', 'en', 'ru', 'uk'];
const load = (lang) => JSON.parse(readFileSync(path.join(WEB, 'panel', 'i18n', `${lang}.json`), 'utf8'));
const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

// Keys the code builds from a value (t(`status_${s}`)): every value
// the server can send is listed, so each of them needs its words.
const DYNAMIC = {
  status_: ['pending', 'processing', 'failed', 'approved', 'rejected', 'withdrawn', 'uploading'],
  tab_: ['pending', 'processing', 'failed', 'approved', 'rejected', 'withdrawn', 'all'],
  q_list_: ['pending', 'processing', 'failed', 'approved', 'rejected', 'withdrawn', 'all'],
  q_empty_: ['pending', 'processing', 'failed', 'approved', 'rejected', 'withdrawn', 'all'],
  role_: ['moderator', 'comms', 'admin'],
  ch_: ['website', 'press', 'other'],
  files_gone_: ['retention', 'admin', 'purge'],
  protect_: ['blur_faces', 'voice', 'no_video'],
  v_for_: ['9x16', '1x1', '4x5', '16x9'],
  action_: ['received', 'login', 'login.failed', 'logout', 'message.approve', 'message.reject',
    'message.reopen', 'message.retry', 'message.withdraw', 'message.reshared', 'message.taken_down',
    'message.transcript',
    'message.files_deleted', 'export', 'user.create', 'user.role', 'user.password', 'user.disable',
    'user.enable', 'user.campaigns', 'campaign.create', 'campaign.update', 'campaign.logo',
    'campaign.adopt', 'retention', 'purge'],
};

/** Every key the sources name literally. */
function usedKeys() {
  const keys = new Set();
  for (const f of ['panel.js', 'queue.js', 'library.js', 'admin.js', 'campaigns.js', 'captions.js']) {
    const src = readFileSync(path.join(WEB, 'panel', f), 'utf8');
    for (const m of src.matchAll(/\bt\(\s*'([a-z_0-9.]+)'/g)) keys.add(m[1]);
    for (const m of src.matchAll(/\btr\(\s*'([a-z_0-9.]+)'/g)) keys.add(m[1]);
    for (const m of src.matchAll(/\bt\(\s*\w+ \? '([a-z_0-9]+)' : '([a-z_0-9]+)'/g)) { keys.add(m[1]); keys.add(m[2]); }
    for (const m of src.matchAll(/\b(?:add|tt)\('([a-z_]+)'/g)) keys.add(m[1]);
    for (const m of src.matchAll(/label: '(nav_[a-z]+)'/g)) keys.add(m[1]);
    for (const m of src.matchAll(/'((?:shape|consent|reason)_[a-z_]+)'/g)) keys.add(m[1]);
  }
  const html = readFileSync(path.join(WEB, 'panel.html'), 'utf8');
  for (const m of html.matchAll(/data-i18n(?:-[a-z]+)?="([a-z_0-9]+)"/g)) keys.add(m[1]);
  for (const [prefix, values] of Object.entries(DYNAMIC)) for (const v of values) keys.add(prefix + v);
  return keys;
}

test('the panel speaks exactly be, en, ru and uk', () => {
  const files = readdirSync(path.join(WEB, 'panel', 'i18n')).sort();
  assert.deepEqual(files, LANGS.map((l) => `${l}.json`).sort());
  // The upload page's machinery knows each one (its picker's list).
  const i18n = readFileSync(path.join(WEB, 'upload', 'i18n.js'), 'utf8');
  for (const l of LANGS) assert.match(i18n, new RegExp(`\\b${l}: '`), l);
});

test('every key the panel uses has English words', () => {
  const en = load('en');
  const missing = [...usedKeys()].filter((k) => !(k in en));
  assert.deepEqual(missing, [], 'keys used by web/panel but missing from panel/i18n/en.json');
  assert.ok(usedKeys().size > 300, 'the key scan found the keys');
});

for (const lang of LANGS.filter((l) => l !== 'en')) {
  test(`panel/i18n/${lang}.json has every key of English, with its placeholders`, () => {
    const en = load('en');
    const other = load(lang);
    assert.deepEqual(Object.keys(en).filter((k) => !(k in other)), [], `missing from panel/i18n/${lang}.json`);
    assert.deepEqual(Object.keys(other).filter((k) => !(k in en)), [], `in panel/i18n/${lang}.json, not in English`);
    for (const k of Object.keys(en)) {
      assert.equal(typeof other[k], 'string', `${lang}: ${k}`);
      assert.ok(other[k].trim().length > 0, `${lang}: ${k} is empty`);
      assert.deepEqual(placeholders(other[k]), placeholders(en[k]), `${lang}: ${k}'s placeholders`);
    }
  });
}

test('the words are translated, not copied: most differ from English', () => {
  const en = load('en');
  for (const lang of ['be', 'ru', 'uk']) {
    const other = load(lang);
    const same = Object.keys(en).filter((k) => other[k] === en[k] && /[a-z]{4}/i.test(en[k]));
    assert.ok(same.length < 5, `${lang}: ${same.join(', ')}`);
  }
});
