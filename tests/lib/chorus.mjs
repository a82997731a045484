// Helpers for black-box tests: start a real `chorus serve` on a free
// loopback port with a temporary data dir, talk raw HTTP, run commands.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.CHORUS_BIN || path.join(ROOT, 'build/chorus');
export const SANITIZED = /^(1|ON|TRUE)$/i.test(process.env.CHORUS_SANITIZE || '');

const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;

export function tempDir(prefix = 'chorus-test-') {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls fn (sync or async) every 20 ms until it returns something truthy,
 * which it resolves to; throws after ms naming what was awaited. Tests
 * wait on conditions with this, never for a fixed time.
 */
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A test clock for a whole process tree: pass env() to every chorus it
 * starts (CHORUS_TEST_CLOCK), then advance(s) moves all their clocks.
 */
export function testClock(dir) {
  const file = path.join(dir, 'clock');
  let offset = 0;
  writeFileSync(file, '0');
  return {
    env: () => ({ CHORUS_TEST_CLOCK: file }),
    advance(seconds) {
      offset += seconds;
      writeFileSync(file, String(offset));
    },
  };
}

const waitFor = until;

/** Runs `chorus ARGS...` to completion; returns {status, stdout, stderr}. */
export function chorus(args, { input, env = {}, timeout = 60000 } = {}) {
  const r = spawnSync(BIN, args, {
    input, env: { ...process.env, ...env }, encoding: 'utf8', timeout,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Throws if a sanitizer reported anything in text. */
export function assertNoSanitizerReport(text) {
  const m = SANITIZER_REPORT.exec(text);
  if (m) {
    const at = text.indexOf(m[0]);
    throw new Error(`sanitizer report:\n${text.slice(Math.max(0, at - 200), at + 3000)}`);
  }
}

/**
 * Starts `chorus serve` on 127.0.0.1 with a free port. Returns a handle
 * with url, port, dataDir, log() (stderr so far), stop(signal) and kill().
 */
export async function startChorus({ dataDir, args = [], env = {}, keepDir = false } = {}) {
  const ownDir = !dataDir;
  dataDir = dataDir || tempDir();
  // No transcoding workers unless a test asks for them.
  const workers = args.includes('--workers') ? [] : ['--workers', '0'];
  // Every test talks from 127.0.0.1, one client: no cap on its
  // unfinished uploads unless a test asks for one (uploads_caps does).
  const caps = args.includes('--max-open-uploads-per-client') ? [] : ['--max-open-uploads-per-client', '0'];
  const proc = spawn(BIN, ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...workers, ...caps, ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let exited = null;
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const exit = new Promise((resolve) => proc.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  let m;
  try {
    m = await waitFor(
      () => exited ? { failed: true } : /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(log),
      SANITIZED ? 30000 : 10000, 'chorus to listen');
  } catch (e) {
    proc.kill('SIGKILL'); // never leave a server behind
    throw e;
  }
  if (m.failed) throw new Error(`chorus serve exited (${JSON.stringify(exited)}):\n${log}`);
  const port = Number(m[1]);
  const handle = {
    proc, port, dataDir, url: `http://127.0.0.1:${port}`,
    log: () => log,
    exited: () => exited,
    /** Sends signal, waits for exit; returns {code, signal, ms, log}. */
    async stop(signal = 'SIGTERM', timeoutMs = 15000) {
      const t0 = Date.now();
      if (!exited) proc.kill(signal);
      let timer;
      const r = await Promise.race([exit, new Promise((res) => { timer = setTimeout(res, timeoutMs, null); })]);
      clearTimeout(timer);
      if (!r) {
        proc.kill('SIGKILL');
        await exit;
        throw new Error(`chorus did not exit within ${timeoutMs} ms after ${signal}`);
      }
      if (ownDir && !keepDir) removeDir(dataDir);
      return { ...r, ms: Date.now() - t0, log };
    },
    /** SIGKILL: no chance to clean up; the data dir is kept. */
    async kill() {
      if (!exited) proc.kill('SIGKILL');
      await exit;
    },
  };
  return handle;
}

/**
 * Sends text as-is over a new TCP connection and reads the response
 * until the server closes or timeout. Resolves {status, headers, body, raw}.
 */
export function rawRequest(port, text, { timeout = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => { sock.destroy(); finish(); }, timeout);
    function finish() {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const s = raw.toString('latin1');
      const head = s.split('\r\n\r\n')[0];
      const lines = head.split('\r\n');
      const status = Number((/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]) || [])[1] || 0);
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers, body: s.slice(head.length + 4), raw });
    }
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', finish);
    sock.on('error', (e) => (chunks.length ? finish() : reject(e)));
    sock.write(text);
  });
}
