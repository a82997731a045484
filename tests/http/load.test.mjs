// Load: 300 uploads at once, half of them trickling at 10 KB/s, while a
// moderator pages the queue. None is lost or corrupted, /healthz is never
// queued behind them and memory stays bounded; a slow-loris client is
// dropped; past the connection limit clients hear 503 instead of the
// server falling over.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';

import { assertNoSanitizerReport, SANITIZED, sleep, startChorus, until } from '../lib/chorus.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';
import { sql } from '../lib/fixtures.mjs';
import {
  createUpload, incomingPath, openPatch, patchUpload, patternBytes, patternSha256, procMemory,
  sha256File,
} from '../lib/uploads.mjs';

const FAST = 150;
const SLOW = 150;
const FAST_BYTES = 1024 * 1024;
const SLOW_BYTES = 60 * 1000; // 6 s at 10 KB/s: enough /healthz samples for a p99

async function slowUpload(port, seed) {
  const c = await createUpload(port, SLOW_BYTES);
  assert.equal(c.status, 201, c.text);
  const p = openPatch(port, c.id, 0, SLOW_BYTES);
  for (let off = 0; off < SLOW_BYTES; off += 1000) {
    await p.write(patternBytes(seed, off, 1000));
    await sleep(100); // a slow client: 1000 bytes every 100 ms, 10 KB/s
  }
  p.end();
  const r = await p.response;
  assert.equal(r.status, 204, r.text);
  return { id: c.id, seed, size: SLOW_BYTES };
}

async function fastUpload(port, seed) {
  const c = await createUpload(port, FAST_BYTES);
  assert.equal(c.status, 201, c.text);
  for (let off = 0; off < FAST_BYTES; off += 256 * 1024) {
    const r = await patchUpload(port, c.id, off, patternBytes(seed, off, 256 * 1024));
    assert.equal(r.status, 204, r.text);
  }
  return { id: c.id, seed, size: FAST_BYTES };
}

test('300 uploads at once, half slow: none lost or corrupted, /healthz never waits behind them, memory bounded', async () => {
  const s = await startChorus({ args: ['--max-uploads-per-ip', '0', '--max-connections', '450'] });
  try {
    const pw = addUser(s.dataDir, 'mod', 'moderator');
    const mod = await loggedIn(s.url, 'mod', pw);
    let done = false;
    // /healthz timed from its own process: this one is busy uploading.
    const probe = spawn(process.execPath, ['-e', `
      const lat = [];
      let stop = false;
      process.stdin.on('data', () => { stop = true; });
      (async () => {
        while (!stop) {
          const t0 = performance.now();
          const r = await fetch(process.argv[1] + '/healthz');
          if (r.status !== 200) { console.log('status ' + r.status); process.exit(1); }
          await r.text();
          lat.push(performance.now() - t0);
          await new Promise((res) => setTimeout(res, 50)); // a probe every 50 ms
        }
        lat.sort((a, b) => a - b);
        console.log(JSON.stringify({ n: lat.length, p99: lat[Math.floor(lat.length * 0.99)] }));
        process.exit(0);
      })();
    `, s.url], { stdio: ['pipe', 'pipe', 'inherit'] });
    let probeOut = '';
    probe.stdout.on('data', (d) => { probeOut += d; });
    const probeExit = new Promise((res) => probe.on('exit', res));
    const paging = (async () => {
      let pages = 0;
      while (!done) {
        const r = await mod.get('/api/v1/messages?status=processing&limit=50');
        assert.equal(r.status, 200);
        pages++;
        await sleep(200); // a moderator's pace
      }
      return pages;
    })();
    const uploads = [];
    for (let i = 0; i < SLOW; i++) uploads.push(slowUpload(s.port, `slow-${i}`));
    for (let i = 0; i < FAST; i++) uploads.push(fastUpload(s.port, `fast-${i}`));
    const results = await Promise.all(uploads);
    done = true;
    probe.stdin.end('stop');
    assert.equal(await probeExit, 0, probeOut);
    const { n, p99 } = JSON.parse(probeOut);
    assert.ok(n > 20);
    assert.ok((await paging) > 5);
    for (const u of results) {
      assert.equal(await sha256File(incomingPath(s.dataDir, u.id)), patternSha256(u.seed, 0, u.size), u.id);
    }
    assert.equal(sql(s.dataDir, "SELECT count(*) FROM messages WHERE status = 'processing'"), String(FAST + SLOW));
    assert.equal(sql(s.dataDir, "SELECT count(*) FROM jobs WHERE state = 'queued'"), String(FAST + SLOW));
    if (!SANITIZED) {
      // A behaviour check, not a speed test (scripts/bench measures that):
      // /healthz is never queued behind the uploads. A server that served
      // it after a slow upload would take seconds (each runs 6 s); a busy
      // 2-core CI machine running 300 clients still answers well under 1 s.
      assert.ok(p99 < 1000, `/healthz p99 ${p99.toFixed(1)} ms`);
      const hwm = procMemory(s.proc.pid, 'VmHWM');
      assert.ok(hwm < 128 * 1024 * 1024, `peak RSS ${(hwm / 1048576).toFixed(1)} MiB`);
    }
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});

// A slow-loris client never falls silent long enough for the idle timeout
// (30 s by default): the headers of a request have their own deadline.
// The client sends a byte every everyMs: it is slow on purpose.
async function slowLoris(sock, header, everyMs) {
  const closed = new Promise((r) => sock.on('close', r));
  const t0 = Date.now();
  let i = 0;
  const send = () => { if (i < header.length) sock.write(header[i++]); };
  send();
  const timer = setInterval(send, everyMs);
  await closed;
  clearInterval(timer);
  return { held: Date.now() - t0, sent: i };
}

function connect(port) {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  return new Promise((r) => sock.on('connect', () => r(sock)));
}

/** GET /healthz on a connection of its own; resolves the response, read. */
async function healthz(s) {
  const r = await fetch(`${s.url}/healthz`, { headers: { Connection: 'close' } });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

// The header deadline is measured in real time: the smallest one the
// server takes keeps these tests short.
test('a slow-loris client (one header byte a second) is dropped by the header deadline', async () => {
  const s = await startChorus({ args: ['--header-timeout', '2'] }); // and the default --idle-timeout 30
  try {
    const sock = await connect(s.port);
    const { held, sent } = await slowLoris(sock, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaa', 1000);
    // Bytes kept coming, so only the header deadline can have ended it
    // (sent in full, the header would have taken 43 s).
    assert.ok(sent >= 2, `${sent} bytes sent`);
    assert.ok(held >= 1900 && held < 10000, `held for ${held} ms`);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});

test('a kept-alive connection must send its next request headers in time too', async () => {
  const s = await startChorus({ args: ['--header-timeout', '2'] });
  try {
    const sock = await connect(s.port);
    let answer = '';
    sock.on('data', (d) => { answer += d; });
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => answer.includes('\r\n\r\n'), 10000, 'the first answer');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    // The connection rests a while, under the deadline, as kept-alive
    // connections do; the deadline counts from the end of the last request.
    await sleep(1000);
    const { held, sent } = await slowLoris(sock, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaa', 250);
    assert.ok(sent >= 2, `${sent} bytes sent`);
    assert.ok(held < 6000, `held for ${held} ms`);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});

test('past the connection limit new clients get 503 with Retry-After, and it recovers', async () => {
  const s = await startChorus({ args: ['--max-connections', '20'] });
  const socks = [];
  try {
    for (let i = 0; i < 25; i++) {
      const sock = net.connect(s.port, '127.0.0.1');
      sock.on('error', () => {});
      await new Promise((r) => sock.on('connect', r));
      sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // never finished
      socks.push(sock);
    }
    // The server takes the connections in as it gets to them.
    const r = await until(async () => {
      const h = await healthz(s);
      return h.status === 503 && h;
    }, 10000, 'the connection limit to be reached');
    assert.equal(r.headers.get('retry-after'), '5');
    assert.equal(JSON.parse(r.body).error, 'busy');
    for (const sock of socks) sock.destroy();
    await until(async () => (await healthz(s)).status === 200, 10000, 'the server to take clients again');
  } finally {
    for (const sock of socks) sock.destroy();
    assertNoSanitizerReport((await s.stop()).log);
  }
});
