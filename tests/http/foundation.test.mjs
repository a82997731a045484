// The foundation: a real chorus serve on a loopback port.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  assertNoSanitizerReport, chorus, rawRequest, removeDir, startChorus, tempDir, until,
} from '../lib/chorus.mjs';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

let srv;
before(async () => { srv = await startChorus(); });
after(async () => {
  const r = await srv.stop();
  assertNoSanitizerReport(r.log);
});

/** How many sockets process pid holds open (its listener among them). */
function sockets(pid) {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try { return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:'); } catch { return false; }
  }).length;
}

function assertSecurityHeaders(h) {
  assert.equal(h.get('content-security-policy'), CSP);
  assert.equal(h.get('x-content-type-options'), 'nosniff');
  assert.equal(h.get('referrer-policy'), 'no-referrer');
  assert.equal(h.get('x-frame-options'), 'DENY');
}

test('GET /healthz answers 200 with JSON', async () => {
  const r = await fetch(`${srv.url}/healthz`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.deepEqual(await r.json(), { status: 'ok' });
  assertSecurityHeaders(r.headers);
});

test('an unknown path is a 404 JSON error', async () => {
  const r = await fetch(`${srv.url}/no/such/thing`);
  assert.equal(r.status, 404);
  assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
  const body = await r.json();
  assert.equal(body.error, 'not_found');
  assert.equal(typeof body.message, 'string');
  assertSecurityHeaders(r.headers);
});

test('a wrong method is a 405 with Allow', async () => {
  const r = await fetch(`${srv.url}/healthz`, { method: 'DELETE' });
  assert.equal(r.status, 405);
  assert.match(r.headers.get('allow'), /GET/);
  assert.equal((await r.json()).error, 'method_not_allowed');
});

test('the upload page is served as HTML with the CSP and an ETag', async () => {
  const r = await fetch(`${srv.url}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assertSecurityHeaders(r.headers);
  const etag = r.headers.get('etag');
  assert.ok(etag, 'ETag present');
  assert.match(await r.text(), /<html/);
  const again = await fetch(`${srv.url}/`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get('etag'), etag);
  const other = await fetch(`${srv.url}/`, { headers: { 'If-None-Match': '"nope"' } });
  assert.equal(other.status, 200);
});

test('HEAD on a GET route answers without a body', async () => {
  const r = await fetch(`${srv.url}/healthz`, { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(await r.text(), '');
});

test('no path, however encoded, serves a file outside web/', async () => {
  const attempts = [
    '/static/../../../../etc/passwd',
    '/static/..%2f..%2f..%2f..%2fetc%2fpasswd',
    '/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/static/%252e%252e%252f%252e%252e%252fetc%252fpasswd',
    '/static/%25252e%25252e%25252fetc%25252fpasswd',
    '/static/..%5c..%5c..%5c..%5cetc%5cpasswd',
    '/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
    '/static/.%2e/.%2e/.%2e/.%2e/etc/passwd',
    '/static//etc/passwd',
    '/static/%2fetc%2fpasswd',
    '/static/index.html%00.png',
    '/../../../../etc/passwd',
    '/static/../../CMakeLists.txt',
    '/static/..%2f..%2fCMakeLists.txt',
    '/static/node_modules/tus-js-client/package.json',
    '/static/.npmrc',
  ];
  for (const p of attempts) {
    const r = await rawRequest(srv.port, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.ok(r.status >= 400 && r.status < 500, `${p}: status ${r.status}`);
    assert.doesNotMatch(r.body, /root:.*:0:0:/, `${p} leaked /etc/passwd`);
    assert.doesNotMatch(r.body, /cmake_minimum_required/, `${p} leaked a source file`);
    assert.doesNotMatch(r.body, /tus-js-client|omit-lockfile/, `${p} leaked a dependency file`);
  }
});

test('a symbolic link inside web/ cannot lead outside it', async () => {
  const web = tempDir('chorus-web-');
  writeFileSync(path.join(web, 'index.html'), '<html>ok</html>');
  mkdirSync(path.join(web, 'sub'));
  writeFileSync(path.join(web, 'sub', 'a.txt'), 'inside');
  symlinkSync('/etc', path.join(web, 'etc'));
  symlinkSync('/etc/passwd', path.join(web, 'pw.txt'));
  const s = await startChorus({ args: ['--web-dir', web] });
  try {
    assert.equal(await (await fetch(`${s.url}/static/sub/a.txt`)).text(), 'inside');
    for (const p of ['/static/etc/passwd', '/static/pw.txt']) {
      const r = await fetch(`${s.url}${p}`);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(await r.text(), /root:/);
    }
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
    removeDir(web);
  }
});

test('a 20 KB header gets a 4xx and the server stays up', async () => {
  const big = 'a'.repeat(20 * 1024);
  const r = await rawRequest(srv.port,
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\nConnection: close\r\n\r\n`);
  assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
  const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'b'.repeat(60)}\r\n`).join('');
  const r2 = await rawRequest(srv.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${many}Connection: close\r\n\r\n`);
  assert.ok(r2.status >= 400 && r2.status < 500, `status ${r2.status}`);
  const ok = await fetch(`${srv.url}/healthz`);
  assert.equal(ok.status, 200);
});

test('a JSON body over the limit is refused with 413 before it is read', async () => {
  const r = await rawRequest(srv.port,
    'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    'Content-Length: 100000000\r\nConnection: close\r\n\r\n{');
  assert.ok([405, 413].includes(r.status), `status ${r.status}`);
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
});

test('garbage on the wire gets an error status and nothing breaks', async () => {
  const r = await rawRequest(srv.port, 'BLAH\x01\x02 / HTTP/9.9\r\n\r\n');
  assert.equal(r.status, 505);
  const r2 = await rawRequest(srv.port, 'GET /\x01\x7f HTTP/1.1\r\nHost x\r\n\r\n');
  assert.ok(r2.status === 0 || (r2.status >= 400 && r2.status < 500), `status ${r2.status}`);
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
});

test('the access log names method, path and status but no client address', async () => {
  const logged = () => srv.log().split('\n').filter((l) => / GET \/healthz 200 /.test(l));
  const before = logged().length;
  await fetch(`${srv.url}/healthz?secret=token123`);
  // The line is written once the answer has gone out.
  await until(() => logged().length > before, 10000, 'the access log line');
  const lines = logged();
  assert.ok(lines.length > 0, 'access log line present');
  for (const l of lines) {
    assert.doesNotMatch(l, /127\.0\.0\.1/);
    assert.doesNotMatch(l, /token123/);
  }
});

test('SIGTERM stops the server with exit 0 within 5 s, even with an open connection', async () => {
  const s = await startChorus();
  const open = sockets(s.proc.pid);
  const idle = net.connect(s.port, '127.0.0.1');
  await new Promise((r) => idle.on('connect', r));
  idle.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // never finished
  idle.on('error', () => {});
  await until(() => sockets(s.proc.pid) > open, 10000, 'the server to take the connection');
  const r = await s.stop('SIGTERM');
  idle.destroy();
  assert.equal(r.code, 0, r.log);
  assert.ok(r.ms < 5000, `took ${r.ms} ms`);
  assertNoSanitizerReport(r.log);
});

test('SIGINT stops it too', async () => {
  const s = await startChorus();
  const r = await s.stop('SIGINT');
  assert.equal(r.code, 0, r.log);
  assertNoSanitizerReport(r.log);
});

test('chorus migrate twice in a row succeeds and reports the same version', () => {
  const dir = tempDir();
  try {
    const a = chorus(['migrate', '--data-dir', dir]);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stderr, /applied migration 0001_init/);
    const b = chorus(['migrate', '--data-dir', dir]);
    assert.equal(b.status, 0, b.stderr);
    assert.doesNotMatch(b.stderr, /applied migration/);
    assert.equal(a.stdout, b.stdout);
    assert.ok(existsSync(path.join(dir, 'chorus.db')));
    assertNoSanitizerReport(a.stderr + b.stderr);
  } finally { removeDir(dir); }
});

test('the server refuses to start on a database it cannot migrate', () => {
  const dir = tempDir();
  try {
    // A table the first migration wants to create is already there.
    const sql = spawnSqlite(path.join(dir, 'broken', 'chorus.db'),
      'CREATE TABLE jobs (x INTEGER);');
    assert.equal(sql.status, 0, sql.stderr);
    const r = chorus(['serve', '--data-dir', path.join(dir, 'broken'), '--listen', '127.0.0.1:0']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /migration 0001_init failed and was rolled back/);
    // Nothing of the failed migration stayed behind.
    const tables = spawnSqlite(path.join(dir, 'broken', 'chorus.db'),
      "SELECT group_concat(name) FROM sqlite_master WHERE type='table';");
    assert.equal(tables.stdout.trim(), 'jobs');
    assertNoSanitizerReport(r.stderr);
  } finally { removeDir(dir); }
});

test('every command answers --help, unknown options are refused', () => {
  for (const cmd of ['serve', 'migrate', 'user', 'version', 'audit', 'backup']) {
    const r = chorus([cmd, '--help']);
    assert.equal(r.status, 0, `${cmd} --help`);
    assert.match(r.stdout, /usage: chorus/);
  }
  const serveHelp = chorus(['serve', '--help']).stdout;
  assert.match(serveHelp, /--data-dir[\s\S]*CHORUS_DATA_DIR[\s\S]*\.\/data/);
  assert.match(serveHelp, /--listen[\s\S]*CHORUS_LISTEN[\s\S]*127\.0\.0\.1:8080/);
  const bad = chorus(['serve', '--bogus']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown option --bogus/);
  const badEnv = chorus(['serve', '--help'], { env: { CHORUS_MAX_CONNECTIONS: 'lots' } });
  assert.equal(badEnv.status, 2);
  assert.match(badEnv.stderr, /CHORUS_MAX_CONNECTIONS/);
  const v = chorus(['version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^chorus \d+\.\d+\.\d+/);
});

function spawnSqlite(dbPath, sql) {
  mkdirSync(path.dirname(dbPath), { recursive: true });
  return spawnSync('sqlite3', [dbPath, sql], { encoding: 'utf8' });
}
