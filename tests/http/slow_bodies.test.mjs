// Slow bodies: 44 connections that send a login's headers and then its
// body a byte every 2 s took all 40 connection slots, and everyone else
// heard 503 for as long as they kept trickling (only headers had a
// deadline; libmicrohttpd's idle timeout counts silence only). Now every
// request body must keep up --min-body-rate over each --body-rate-window:
// the trickling connections are dropped while they still trickle, and
// others are served again; an upload that trickles keeps what arrived;
// a body sent at a normal pace is never cut.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';

import { assertNoSanitizerReport, rawRequest, SANITIZED, sleep, startChorus, until } from '../lib/chorus.mjs';
import { createUpload, headUpload, openPatch, patchUpload, patternBytes } from '../lib/uploads.mjs';

const WINDOW = 2; // seconds: --body-rate-window

/** /healthz's status for a newcomer: a fresh connection of its own. */
async function newcomer(port) {
  return (await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status;
}

/**
 * A client that sends headers for a body of length bytes, then one byte
 * every everyMs until the server closes the connection. It asks for
 * 100-continue, so `heard` resolves once the server has taken up its
 * request (100 Continue) or refused it (503).
 */
function trickle(port, head, length, everyMs) {
  const sock = net.connect(port, '127.0.0.1');
  const t = { sock, closedAt: null, sent: 0, answer: '' };
  t.closed = new Promise((resolve) => sock.on('close', () => { t.closedAt = Date.now(); resolve(); }));
  t.heard = new Promise((resolve) => {
    sock.on('data', (d) => { t.answer += d; resolve(); });
    t.closed.then(resolve);
  });
  sock.on('error', () => {});
  sock.on('connect', () => {
    sock.write(`${head}Expect: 100-continue\r\nContent-Length: ${length}\r\n\r\n`);
    t.timer = setInterval(() => {
      if (t.closedAt !== null || t.sent >= length - 1) return; // never finishes
      sock.write('x');
      t.sent++;
    }, everyMs);
  });
  return t;
}

test('44 logins trickling a byte every 2 s hold the slots only until their window ends; others are served again', async () => {
  const s = await startChorus({ args: ['--max-connections', '40', '--body-rate-window', String(WINDOW)] });
  const slow = [];
  try {
    const t0 = Date.now();
    // One after the other, each taken up before the next comes: 40 get
    // the slots, the last 4 hear 503.
    for (let i = 0; i < 44; i++) {
      const t = trickle(s.port, 'POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n',
        200, 2000);
      slow.push(t);
      await t.heard;
    }
    assert.equal(slow.filter((t) => t.answer.startsWith('HTTP/1.1 100')).length, 40);
    // The attack holds: the server is full for anyone else.
    assert.equal(await newcomer(s.port), 503);
    // Then every trickler is dropped, while it still trickles...
    await Promise.all(slow.map((t) => t.closed));
    const ms = Date.now() - t0;
    assert.ok(ms < (WINDOW + (SANITIZED ? 10 : 5)) * 1000, `the slow bodies held their connections ${ms} ms`);
    for (const t of slow) assert.ok(t.sent < 199, 'dropped before its body was done');
    // ... and the others are served.
    assert.equal(await newcomer(s.port), 200);
    const r = await fetch(`${s.url}/api/v1/session`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'nobody', password: 'not a password' }),
    });
    assert.equal(r.status, 401);
    await until(() => /whose request body came at \d+ bytes\/s, under the minimum of 256/.test(s.log()), 5000,
      'the log to say why');
  } finally {
    for (const t of slow) { clearInterval(t.timer); t.sock.destroy(); }
    assertNoSanitizerReport((await s.stop()).log);
  }
});

test('an upload that trickles is dropped and keeps what arrived; one at a normal pace is not; a short pause within the window is fine', async () => {
  const s = await startChorus({ args: ['--body-rate-window', String(WINDOW), '--min-body-rate', '2000', '--idle-timeout', '60'] });
  try {
    // 1000 bytes every 2 s: 500 B/s against a minimum of 2000.
    const c = await createUpload(s.port, 100000);
    const p = openPatch(s.port, c.id, 0, 100000);
    let answer = null;
    p.response.then((r) => { answer = r; });
    const t0 = Date.now();
    let sent = 0;
    while (answer === null && Date.now() - t0 < 20000) {
      if (!(await p.write(patternBytes('trickle', sent, 1000)))) break;
      sent += 1000;
      await sleep(2000);
    }
    const res = await p.response;
    assert.notEqual(res.status, 204);
    assert.ok(Date.now() - t0 < (WINDOW + (SANITIZED ? 12 : 6)) * 1000, 'dropped within its window or the next');
    // What arrived is kept; the server records it as it closes the cut
    // connection, which the client may hear of first.
    const h = await until(async () => {
      const r = await headUpload(s.port, c.id);
      return r.offset > 0 ? r : null;
    }, 10000, 'the bytes that arrived to be recorded');
    assert.ok(h.offset <= sent, `offset ${h.offset} of ${sent} sent`);

    // The rest at a normal pace, with a pause of a second in the middle:
    // the window's average is what counts.
    const rest = openPatch(s.port, c.id, h.offset, 100000 - h.offset);
    const half = Math.floor((100000 - h.offset) / 2);
    await rest.write(patternBytes('rest', 0, half));
    await sleep(1000);
    await rest.write(patternBytes('rest', half, 100000 - h.offset - half));
    rest.end();
    assert.equal((await rest.response).status, 204);

    // A larger body at full speed.
    const big = await createUpload(s.port, 8 * 1024 * 1024);
    assert.equal((await patchUpload(s.port, big.id, 0, patternBytes('big', 0, 8 * 1024 * 1024))).status, 204);
  } finally {
    assertNoSanitizerReport((await s.stop()).log);
  }
});
