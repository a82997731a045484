// The audit chain, black-box: `chorus audit verify` reports every
// tampering of the issue with its first bad row and exits non-zero (the
// last row, the last three or all rows deleted; a row rewritten with its
// chain recomputed; a forged row appended; a head kept elsewhere with
// --head), the head is written beside the database and logged, and a log
// of the old keyless scheme is verified and re-chained at start-up.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { ROOT, assertNoSanitizerReport, chorus, removeDir, startChorus, tempDir } from '../lib/chorus.mjs';
import { sql } from '../lib/fixtures.mjs';
import { addUser, Client, loggedIn } from '../lib/panel.mjs';

const dir = tempDir('chorus-audit-');
let data;
let last;
let head;
let serial = 0;

before(async () => {
  const s = await startChorus({ keepDir: true });
  data = s.dataDir;
  const pw = addUser(data, 'boss', 'admin');
  addUser(data, 'mod', 'moderator');
  await loggedIn(s.url, 'boss', pw);
  await new Client(s.url).login('boss', 'wrong password');
  await loggedIn(s.url, 'boss', pw);
  const r = await s.stop();
  assertNoSanitizerReport(r.log);
  last = Number(sql(data, 'SELECT max(id) FROM audit'));
  assert.ok(last >= 5, `${last} rows`);
  // Every append's head went to the log too.
  assert.match(r.log, new RegExp(`audit: head ${last}:[0-9a-f]{64}`));
  head = chorus(['audit', 'head', '--data-dir', data]).stdout.trim();
  assert.match(head, new RegExp(`^${last}:[0-9a-f]{64}$`));
  assert.equal(readFileSync(path.join(data, 'audit.head'), 'utf8').trim(), head);
});

after(() => {
  removeDir(dir);
  if (data) removeDir(data);
});

/** A copy of the data directory with sql run on its database. */
function tampered(query, { dropHead = false } = {}) {
  const copy = path.join(dir, `copy${++serial}`);
  cpSync(data, copy, { recursive: true });
  if (query) sql(copy, query);
  if (dropHead) rmSync(path.join(copy, 'audit.head'));
  return copy;
}

const verify = (d, ...args) => chorus(['audit', 'verify', '--data-dir', d, ...args]);

function broken(d, row, ...args) {
  const r = verify(d, ...args);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`^audit log BROKEN at row ${row}: `), r.stdout);
  return r.stdout;
}

/** 0001's keyless formula: what anyone with the file can recompute. */
function oldHash(prev, row) {
  const h = createHash('sha256');
  h.update(prev);
  for (const v of [String(row.at), row.actor, row.action, row.target, row.reason]) {
    const b = v === null || v === undefined ? Buffer.alloc(0) : Buffer.from(v, 'utf8');
    const hdr = Buffer.alloc(9);
    hdr[0] = v === null || v === undefined ? 0 : 1;
    hdr.writeBigUInt64BE(BigInt(b.length), 1);
    h.update(hdr);
    h.update(b);
  }
  return h.digest();
}

function rows(d) {
  const r = spawnSync('sqlite3', ['-json', path.join(d, 'chorus.db'),
    'SELECT id, at, actor, action, target, reason, hex(prev_hash) AS prev, hex(hash) AS hash FROM audit ORDER BY id'], { encoding: 'utf8' });
  return JSON.parse(r.stdout || '[]');
}

test('intact: verified against the head beside it; the key and the head are 0600', () => {
  const r = verify(data);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`audit log intact: ${last} rows`));
  assert.equal(statSync(path.join(data, 'audit.key')).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(data, 'audit.head')).mode & 0o777, 0o600);
  assert.equal(sql(data, "SELECT count(*) FROM audit WHERE hex(hash) LIKE '%'"), String(last));
});

test('the last row deleted', () => {
  broken(tampered(`DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = ${last}`), last);
});

test('the last three rows deleted', () => {
  broken(tampered(`DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id > ${last - 3}`), last - 2);
});

test('every row deleted', () => {
  broken(tampered('DROP TRIGGER audit_no_delete; DELETE FROM audit'), 1);
});

test('a row rewritten and the chain recomputed after it', () => {
  const copy = tampered(null);
  const all = rows(copy);
  let prev = Buffer.from(all[0].prev, 'hex');
  const updates = ['DROP TRIGGER audit_no_update;'];
  for (const row of all) {
    if (row.id === 2) row.actor = 'someone-else';
    if (row.id >= 2) {
      const hash = oldHash(prev, row);
      updates.push(`UPDATE audit SET actor = '${row.actor}', prev_hash = x'${prev.toString('hex')}', hash = x'${hash.toString('hex')}' WHERE id = ${row.id};`);
      prev = hash;
    } else {
      prev = Buffer.from(row.hash, 'hex');
    }
  }
  sql(copy, updates.join('\n'));
  broken(copy, 2);
});

test('a forged row appended after the head', () => {
  const lastHash = rows(data).at(-1).hash;
  broken(tampered(`INSERT INTO audit (id, at, actor, action, target, reason, prev_hash, hash) VALUES
    (${last + 1}, 1, 'boss', 'message.approve', 'x', NULL, x'${lastHash}', randomblob(32))`), last + 1);
});

test('rows deleted with the head file too: unverified alone, found against a head kept elsewhere', () => {
  const copy = tampered(`DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = ${last}`, { dropHead: true });
  const r = verify(copy);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /UNVERIFIED: no head is recorded/);
  broken(copy, last, '--head', head);
  assert.equal(verify(copy, '--head', 'nonsense').status, 2);
});

test('an old keyless log: verified under SHA-256 and re-chained at start-up, the migration recorded', () => {
  for (const breakIt of [false, true]) {
    const d = path.join(dir, `old${breakIt ? '-broken' : ''}`);
    const init = readFileSync(path.join(ROOT, 'migrations/0001_init.sql'), 'utf8');
    const inserts = [];
    let prev = Buffer.alloc(32);
    for (let id = 1; id <= 3; id++) {
      const row = { at: 1000 + id, actor: 'mod', action: 'message.approve', target: `m${id}`, reason: null };
      const hash = oldHash(prev, row);
      inserts.push(`INSERT INTO audit (id, at, actor, action, target, reason, prev_hash, hash) VALUES (${id}, ${row.at}, 'mod',
        'message.approve', '${breakIt && id === 2 ? 'edited' : row.target}', NULL, x'${prev.toString('hex')}', x'${hash.toString('hex')}');`);
      prev = hash;
    }
    spawnSync('mkdir', ['-p', d]);
    const r0 = spawnSync('sqlite3', [path.join(d, 'chorus.db')], { input: `${init}\nPRAGMA user_version = 1;\n${inserts.join('\n')}\n`, encoding: 'utf8' });
    assert.equal(r0.status, 0, r0.stderr);
    const r = verify(d);
    const all = rows(d);
    assert.equal(all.length, 4);
    assert.equal(all[3].action, 'audit.rechain');
    if (!breakIt) {
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.equal(all[3].reason, 'sha256 chain of 3 rows: intact');
      assert.match(r.stderr, /re-chained 3 rows/);
    } else {
      assert.equal(r.status, 1);
      assert.match(r.stdout, /BROKEN at row 2: row 4 records that the old, keyless log was already broken at row 2/);
    }
  }
});
