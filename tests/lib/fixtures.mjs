// Media fixtures made at test time with the ffmpeg program, and the
// plumbing to send them to a running chorus and watch their messages.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { sleep } from './chorus.mjs';

/** Runs ffmpeg with args (quiet, overwriting); throws with its stderr. */
export function ffmpeg(args) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args],
    { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
}

/** ffprobe's JSON for file (format and streams). */
export function ffprobe(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format',
    '-show_streams', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A small phone-like clip: H.264 + AAC in MP4, seconds long. */
export function makeClip(file, { seconds = 2, size = '320x240', rate = 30, audio = true } = {}) {
  const args = ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}`];
  if (audio) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
  args.push('-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (audio) args.push('-c:a', 'aac', '-b:a', '64k');
  args.push(file);
  ffmpeg(args);
  return file;
}

const META = {
  consent: 'yes', consent_version: '2026-11', country: 'BY', language: 'be',
};

/**
 * Sends file as one multipart POST /api/v1/messages with metadata
 * (defaults filled in). Resolves {id, receipt}.
 */
export async function sendMessage(url, file, meta = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...META, ...meta })) form.append(k, v);
  form.append('video', new Blob([readFileSync(file)]), path.basename(file));
  const r = await fetch(`${url}/api/v1/messages`, { method: 'POST', body: form });
  const body = await r.json();
  assert.equal(r.status, 201, JSON.stringify(body));
  return body;
}

/**
 * Sends bytes as a tus upload (creation with upload, one request).
 * Resolves {id, receipt}. An empty upload is complete at creation.
 */
export async function sendTus(url, bytes, meta = {}) {
  const md = Object.entries({ ...META, ...meta })
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`).join(',');
  const headers = { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(bytes.length), 'Upload-Metadata': md };
  if (bytes.length > 0) headers['Content-Type'] = 'application/offset+octet-stream';
  const r = await fetch(`${url}/api/v1/uploads`, { method: 'POST', headers, body: bytes.length > 0 ? bytes : undefined });
  const body = await r.json();
  assert.equal(r.status, 201, JSON.stringify(body));
  return { id: body.id, receipt: r.headers.get('chorus-receipt') };
}

/** Runs one SQL query on the data dir's database; returns stdout lines. */
export function sql(dataDir, query) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', path.join(dataDir, 'chorus.db'), query],
    { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  return r.stdout.trim();
}

/** Waits until message id's status is one of want; returns it. */
export async function waitStatus(dataDir, id, want, ms = 120000) {
  const end = Date.now() + ms;
  let status;
  while (Date.now() < end) {
    status = sql(dataDir, `SELECT status FROM messages WHERE id = '${id}'`);
    if (want.includes(status)) return status;
    await sleep(100);
  }
  throw new Error(`message ${id} is still ${status}, not ${want.join('|')}`);
}

/** Pids of processes whose comm is name (any, when null) and that
 * descend from root. */
export function descendants(root, name) {
  const parent = new Map();
  const comm = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      parent.set(Number(p), Number(stat.slice(close + 2).split(' ')[1]));
      comm.set(Number(p), stat.slice(stat.indexOf('(') + 1, close));
    } catch { /* gone */ }
  }
  const out = [];
  for (const [pid, c] of comm) {
    if (name !== null && c !== name) continue;
    for (let q = parent.get(pid); q; q = parent.get(q)) {
      if (q === root) { out.push(pid); break; }
    }
  }
  return out;
}

/** Whether process pid has ended (exited, or a zombie nobody reaped). */
export function ended(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state === 'Z' || state === 'X';
  } catch {
    return true; // no such process
  }
}
