// Behind a real reverse proxy: Debian's nginx, started here on loopback
// with its own configuration in a temporary directory (the README's
// recipe: X-Forwarded-For appended, bodies streamed). Before, every
// request came from 127.0.0.1: /metrics was public, one stranger's
// failed logins locked every panel user out, and the per-client upload
// limits became site-wide. With --trusted-proxy the client is the
// address nginx forwarded: each is limited on its own, what a client
// writes into X-Forwarded-For itself counts for nothing, and /metrics
// wants its token for anything that came through the proxy.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { assertNoSanitizerReport, removeDir, startChorus, tempDir, until } from '../lib/chorus.mjs';
import { addUser } from '../lib/panel.mjs';
import { GOOD_META, OFFSET_TYPE, metadata, patternBytes, sha256, sha256File } from '../lib/uploads.mjs';

const NGINX = '/usr/sbin/nginx';
const TOKEN = 'metrics-token-for-the-proxy-test';
const haveNginx = spawnSync(NGINX, ['-v']).status === 0;
const dir = tempDir('chorus-proxy-');
let s;
let nginx;
let port; // nginx's

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
  });
}

/** The README's recipe, on plain HTTP, everything in dir. */
function nginxConf(listen, upstream) {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    server {
        listen 127.0.0.1:${listen};
        client_max_body_size 64m;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_http_version 1.1;
        proxy_read_timeout 300s;
        location / {
            proxy_pass http://127.0.0.1:${upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
        }
    }
}
`;
}

before(async () => {
  if (!haveNginx) return;
  s = await startChorus({ args: ['--trusted-proxy', '127.0.0.1/32', '--metrics-token', TOKEN, '--max-open-uploads-per-client', '2'] });
  port = await freePort();
  mkdirSync(path.join(dir, 'body'));
  writeFileSync(path.join(dir, 'nginx.conf'), nginxConf(port, s.port));
  nginx = spawn(NGINX, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  await until(async () => {
    try { return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200; } catch { return false; }
  }, 10000, 'nginx to pass requests on');
});

after(async () => {
  if (nginx) {
    nginx.kill('SIGTERM');
    await new Promise((r) => { if (nginx.exitCode !== null) r(); else nginx.on('exit', r); });
  }
  if (s) {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  }
  removeDir(dir);
});

/** A request to `to` (nginx's port, or chorus's directly) from local
 * address `from`. */
function req(to, from, method, p, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const h = { Connection: 'close', ...headers };
    if (body !== undefined) h['Content-Length'] = String(Buffer.byteLength(body));
    const r = http.request({ host: '127.0.0.1', port: to, method, path: p, headers: h, localAddress: from, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

const skip = haveNginx ? false : 'needs nginx (scripts/deps test installs it)';
const loginBody = (name, pw) => JSON.stringify({ username: name, password: pw });
const json = { 'Content-Type': 'application/json' };

test('/metrics: open to this host directly, wants the token through the proxy', { skip }, async () => {
  assert.equal((await req(s.port, '127.0.0.1', 'GET', '/metrics')).status, 200);
  const via = await req(port, '127.0.0.1', 'GET', '/metrics');
  assert.equal(via.status, 403, 'public through the proxy');
  assert.equal((await req(port, '127.0.0.2', 'GET', '/metrics', { Authorization: `Bearer ${TOKEN}` })).status, 200);
  // Anything forwarded wants it, from loopback too.
  assert.equal((await req(s.port, '127.0.0.1', 'GET', '/metrics', { 'X-Forwarded-For': '127.0.0.1' })).status, 403);
});

test('one stranger\'s failed logins through the proxy lock out that client, not everyone behind it', { skip }, async () => {
  const pw = addUser(s.dataDir, 'editor', 'comms');
  for (let i = 0; i < 20; i++) {
    assert.equal((await req(port, '127.0.0.2', 'POST', '/api/v1/session', json, loginBody(`nobody${i}`, 'wrong password!'))).status, 401);
  }
  assert.equal((await req(port, '127.0.0.2', 'POST', '/api/v1/session', json, loginBody('editor', pw))).status, 429);
  // What it writes into X-Forwarded-For itself does not make it anyone
  // else: nginx appends the address it really came from.
  for (const spoof of ['198.51.100.1', '127.0.0.3', '10.0.0.1, 198.51.100.2']) {
    const r = await req(port, '127.0.0.2', 'POST', '/api/v1/session', { ...json, 'X-Forwarded-For': spoof }, loginBody('editor', pw));
    assert.equal(r.status, 429, `X-Forwarded-For: ${spoof}`);
  }
  // Another client behind the same proxy logs in.
  const ok = await req(port, '127.0.0.3', 'POST', '/api/v1/session', json, loginBody('editor', pw));
  assert.equal(ok.status, 200, ok.text);
  // A client that is not a trusted proxy cannot forward for anyone.
  for (let i = 0; i < 20; i++) {
    await req(s.port, '127.0.0.4', 'POST', '/api/v1/session', { ...json, 'X-Forwarded-For': `198.51.100.${i}` }, loginBody(`x${i}`, 'wrong password!'));
  }
  assert.equal((await req(s.port, '127.0.0.4', 'POST', '/api/v1/session', { ...json, 'X-Forwarded-For': '198.51.100.99' },
    loginBody('editor', pw))).status, 429);
});

test('unfinished uploads are counted per client behind the proxy; an upload goes through it byte for byte', { skip }, async () => {
  const md = metadata(GOOD_META);
  const create = (from, length) => req(port, from, 'POST', '/api/v1/uploads',
    { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(length), 'Upload-Metadata': md });
  assert.equal((await create('127.0.0.5', 100)).status, 201);
  assert.equal((await create('127.0.0.5', 100)).status, 201);
  const third = await create('127.0.0.5', 100);
  assert.equal(third.status, 429, 'the cap of 2 is this client\'s');
  assert.equal(JSON.parse(third.text).error, 'too_many_unfinished');
  const other = await create('127.0.0.6', 3 * 1024 * 1024);
  assert.equal(other.status, 201, 'another client is not held back');
  // The Location names the upload; PATCH it through the proxy.
  const id = /\/api\/v1\/uploads\/([\w-]+)$/.exec(other.headers.location)[1];
  const data = patternBytes('proxy', 0, 3 * 1024 * 1024);
  const p = await req(port, '127.0.0.6', 'PATCH', `/api/v1/uploads/${id}`,
    { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': OFFSET_TYPE }, data);
  assert.equal(p.status, 204, p.text);
  assert.equal(await sha256File(path.join(s.dataDir, 'incoming', id)), sha256(data));
  // nginx said nothing went wrong on its side.
  assert.doesNotMatch(readFileSync(path.join(dir, 'error.log'), 'utf8'), /\[(error|crit|alert|emerg)\]/);
});
