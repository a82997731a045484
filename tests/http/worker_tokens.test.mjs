// Remote workers' tokens (issue #17, DESIGN.md "Scale"): `chorus
// worker-token add NAME` prints the token once, alone on its last line,
// and stores only its hash; a token opens /api/v1/worker/... and nothing
// else (every other non-public route of the route table is tried with
// it); no session opens the worker routes; a revoked token is refused
// from its very next request on, while the server runs.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chorus, ROOT, startChorus } from '../lib/chorus.mjs';
import { sql } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

let s;
before(async () => { s = await startChorus(); });
after(async () => { if (s) await s.stop(); });

function tokenCmd(...args) {
  return chorus(['worker-token', ...args, '--data-dir', s.dataDir]);
}

function addToken(name) {
  const r = tokenCmd('add', name);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const token = lines[lines.length - 1];
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, `the token alone on the last line:\n${r.stdout}`);
  return token;
}

const hello = (token) => fetch(`${s.url}/api/v1/worker/hello`, {
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});

/** The route table of src/app.c: [{method, pattern, access}]. */
function routes() {
  const src = readFileSync(path.join(ROOT, 'src/app.c'), 'utf8');
  const re = /\{"(GET|POST|PUT|PATCH|DELETE|HEAD)",\s*"([^"]+)",\s*\w+,\s*(ACCESS_\w+)/g;
  const out = [];
  for (let m; (m = re.exec(src));) out.push({ method: m[1], pattern: m[2], access: m[3] });
  return out;
}

test('a token is printed once, stored as a hash, and opens the worker routes', async () => {
  const token = addToken('host-a');
  const r = await hello(token);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { worker: 'host-a' });

  // Only the SHA-256 is kept: neither the database nor its WAL holds it.
  assert.equal(sql(s.dataDir, "SELECT length(hash) FROM worker_tokens WHERE name='host-a'"), '32');
  for (const f of readdirSync(s.dataDir).filter((n) => n.startsWith('chorus.db'))) {
    assert.ok(!readFileSync(path.join(s.dataDir, f)).includes(token), `${f} holds the token`);
  }
  const list = tokenCmd('list');
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /^host-a\s+made \S+\s+last seen \d{4}-/m);
  assert.ok(!list.stdout.includes(token));

  // A name is taken once; a name is a name.
  assert.equal(tokenCmd('add', 'host-a').status, 2);
  assert.equal(tokenCmd('add', '../etc').status, 2);
  assert.equal(tokenCmd('add', 'x'.repeat(33)).status, 2);
  assert.equal(tokenCmd('frobnicate').status, 2);
});

test('no token, a wrong one, or a session: the worker routes stay shut', async () => {
  assert.equal((await hello(null)).status, 401);
  assert.equal((await hello('A'.repeat(43))).status, 401);
  assert.equal((await hello('short')).status, 401);
  const pw = addUser(s.dataDir, 'root', 'admin');
  const admin = await loggedIn(s.url, 'root', pw);
  const r = await admin.get('/api/v1/worker/hello');
  assert.equal(r.status, 401, 'an admin session does not open a worker route');
});

test('a worker token opens no other route of the table', async () => {
  const token = addToken('host-b');
  const table = routes();
  const shut = table.filter((r) => r.access !== 'ACCESS_PUBLIC' && r.access !== 'ACCESS_WORKER');
  assert.ok(shut.length >= 20, `the route table was read (${shut.length} routes)`);
  assert.ok(table.some((r) => r.access === 'ACCESS_WORKER'));
  for (const r of shut) {
    const url = r.pattern.replace(/\{[a-z_]+\}/g, (p) => (p === '{id}' ? 'AAAAAAAAAAAAAAAAAAAAAA' : 'x'));
    const body = ['GET', 'HEAD'].includes(r.method) ? undefined : '{}';
    const res = await fetch(`${s.url}${url}`, {
      method: r.method, body,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    });
    await res.arrayBuffer();
    assert.equal(res.status, 401, `${r.method} ${r.pattern} with a worker token`);
  }
});

test('a revoked token is refused from its next request on', async () => {
  const token = addToken('host-c');
  const other = addToken('host-d');
  assert.equal((await hello(token)).status, 200);
  const r = tokenCmd('revoke', 'host-c');
  assert.equal(r.status, 0, r.stderr);
  const refused = await hello(token);
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).error, 'token_refused');
  assert.equal((await hello(other)).status, 200, 'the others still work');
  assert.equal(tokenCmd('revoke', 'host-c').status, 2, 'revoked once');
  assert.equal(tokenCmd('revoke', 'nobody').status, 2);
  assert.match(tokenCmd('list').stdout, /^host-c\s.*revoked \d{4}-/m);
  // Its name stays taken: a log line naming it means one worker.
  assert.equal(tokenCmd('add', 'host-c').status, 2);
  assert.ok(!s.log().includes(token) && !s.log().includes(other), 'tokens are never logged');
});
