// chorus user add | passwd | list, and the first admin of scripts/run
// (run for real: its first start, and the next).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { ROOT, assertNoSanitizerReport, chorus, removeDir, tempDir, until } from '../lib/chorus.mjs';
import { loggedIn } from '../lib/panel.mjs';

const dir = tempDir();
after(() => removeDir(dir));
const d = ['--data-dir', dir];

function sql(query) {
  return spawnSync('sqlite3', [path.join(dir, 'chorus.db'), query], { encoding: 'utf8' }).stdout.trim();
}

test('user add reads the password from stdin and stores only an argon2id hash', () => {
  const r = chorus(['user', 'add', 'maria', '--role', 'moderator', ...d], { input: 'a long enough secret\n' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /added maria \(moderator\)/);
  assert.doesNotMatch(r.stdout + r.stderr, /a long enough secret/);
  const hash = sql("SELECT password_hash FROM users WHERE username = 'maria'");
  assert.match(hash, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=1\$/);
  assert.ok(!hash.includes('a long enough secret'));
  assertNoSanitizerReport(r.stderr);
});

test('user add --generate prints a new password once', () => {
  const r = chorus(['user', 'add', 'admin', '--role', 'admin', '--generate', ...d]);
  assert.equal(r.status, 0, r.stderr);
  const m = /^password: (\S{20,})$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  const again = chorus(['user', 'add', 'other', '--role', 'comms', '--generate', ...d]);
  assert.notEqual(/^password: (\S+)$/m.exec(again.stdout)[1], m[1]);
});

test('a taken name, a bad role, a bad name or a weak password is refused', () => {
  const dup = chorus(['user', 'add', 'MARIA', '--role', 'comms', ...d], { input: 'another long secret\n' });
  assert.equal(dup.status, 1);
  assert.match(dup.stderr, /exists already/);
  const role = chorus(['user', 'add', 'x', '--role', 'root', ...d], { input: 'another long secret\n' });
  assert.equal(role.status, 2);
  assert.match(role.stderr, /--role must be admin, moderator or comms/);
  const name = chorus(['user', 'add', '<b>x</b>', '--role', 'comms', ...d], { input: 'another long secret\n' });
  assert.equal(name.status, 2);
  const weak = chorus(['user', 'add', 'shorty', '--role', 'comms', ...d], { input: 'short\n' });
  assert.equal(weak.status, 1);
  assert.match(weak.stderr, /at least 10 characters/);
  assert.equal(sql("SELECT count(*) FROM users WHERE username IN ('x', 'shorty')"), '0');
});

test('user passwd changes the hash; user list shows users without hashes', () => {
  const before = sql("SELECT password_hash FROM users WHERE username = 'maria'");
  const r = chorus(['user', 'passwd', 'maria', ...d], { input: 'a different long secret\n' });
  assert.equal(r.status, 0, r.stderr);
  assert.notEqual(sql("SELECT password_hash FROM users WHERE username = 'maria'"), before);
  const none = chorus(['user', 'passwd', 'nobody', ...d], { input: 'a different long secret\n' });
  assert.equal(none.status, 1);
  const list = chorus(['user', 'list', ...d]);
  assert.equal(list.status, 0);
  assert.match(list.stdout, /maria\s+moderator\s+active/);
  assert.match(list.stdout, /admin\s+admin\s+active/);
  assert.doesNotMatch(list.stdout, /argon2/);
});

test('user changes are in the audit log and the chain verifies', () => {
  assert.equal(sql("SELECT group_concat(action || ':' || target, ' ') FROM audit"),
    'user.create:maria user.create:admin user.create:other user.password:maria');
  const v = chorus(['audit', 'verify', ...d]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /intact/);
});

/** Runs scripts/run on its own data dir until it serves; returns what it
 * printed, the address and a stop(). */
async function scriptsRun(dataDir) {
  const proc = spawn('bash', [path.join(ROOT, 'scripts/run'), '--listen', '127.0.0.1:0', '--workers', '0'], {
    env: { ...process.env, CHORUS_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = null;
  proc.stdout.on('data', (b) => { out += b; });
  proc.stderr.on('data', (b) => { out += b; });
  const exit = new Promise((res) => proc.on('exit', (code) => { exited = { code }; res(); }));
  try {
    await until(() => exited || /listening on http:\/\/127\.0\.0\.1:\d+\//.test(out), 600000, 'scripts/run to serve (it builds what is not built)');
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  assert.equal(exited, null, out);
  const url = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)[1];
  return { out: () => out, url, stop: async () => { proc.kill('SIGTERM'); await exit; } };
}

test('scripts/run: the first start makes the admin and prints where the password is, never the password', async () => {
  const data = tempDir('chorus-run-');
  try {
    const first = await scriptsRun(data);
    const file = path.join(data, 'admin-password');
    let pw;
    try {
      assert.ok(first.out().includes(`as "admin" with the password in ${file}`), first.out());
      pw = readFileSync(file, 'utf8').trim();
      assert.ok(pw.length >= 20);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.ok(!first.out().includes(pw), 'the password is not in the output');
      await loggedIn(first.url, 'admin', pw);
    } finally {
      await first.stop();
    }
    // The next start has an admin already: it makes none and says nothing of it.
    const again = await scriptsRun(data);
    try {
      assert.doesNotMatch(again.out(), /First start|admin-password/);
      assert.equal(readFileSync(file, 'utf8').trim(), pw);
      await loggedIn(again.url, 'admin', pw);
    } finally {
      await again.stop();
    }
  } finally {
    removeDir(data);
  }
});
