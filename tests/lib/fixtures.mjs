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

/** Debian's python3-skimage ships this portrait (NASA, public domain). */
export const FACE_PHOTO = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';

/**
 * Where makeFaceClip puts the face at frame i: the top left corner of the
 * face itself (not of its tile) and its size, in the clip's pixels. The
 * photo's face, cropped and scaled, fills about x 51..169, y 43..188 of the
 * 220x240 tile that is turned and moved; the central part is returned.
 */
export function facePlace(i, { width = 480, rate = 30, seconds = 4 } = {}) {
  const t = i / rate;
  const ox = Math.floor(10 + ((width - 230) * t) / seconds);
  const oy = Math.floor(30 + 40 * Math.sin(Math.PI * t));
  return { x: ox + 66, y: oy + 58, w: 90, h: 118 };
}

/**
 * A phone-like portrait clip (width x 640) of a real face (FACE_PHOTO)
 * crossing the frame from left to right while it bobs and turns (±8°)
 * over testsrc2's moving pattern, with a tone; the face appears at
 * `appear` seconds (on that frame, suddenly). facePlace() says where the
 * face is in each frame.
 */
export function makeFaceClip(file, { seconds = 4, width = 480, rate = 30, appear = 0 } = {}) {
  ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${width}x640:rate=${rate}`,
    '-loop', '1', '-i', FACE_PHOTO,
    '-f', 'lavfi', '-i', 'sine=frequency=220:sample_rate=48000',
    '-filter_complex',
    '[1:v]crop=200:230:135:0,scale=180:208,format=rgba,' +
    "rotate='0.14*sin(2*PI*t/3)':c=none:ow=220:oh=240[f];" +
    `[0:v][f]overlay=x='10+(W-230)*t/${seconds}':y='30+40*sin(PI*t)':` +
    `enable='gte(t,${appear})':shortest=1,format=yuv420p[v]`,
    '-map', '[v]', '-map', '2:a', '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', '-c:a', 'aac', file]);
  return file;
}

/**
 * A clip of synthetic speech (espeak-ng, a voice raised to about 140 Hz,
 * where the fundamental is easy to measure) over testsrc2, seconds long.
 */
export function makeSpeechClip(file, { seconds = 4, size = '320x240' } = {}) {
  const wav = `${file}.wav`;
  const r = spawnSync('espeak-ng', ['-v', 'en', '-s', '140', '-p', '80', '-w', wav,
    'Solidarity with the workers of Belarus. Free them all, and free them now.'],
  { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`espeak-ng: ${r.stderr}`);
  ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30`, '-i', wav,
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast',
    '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', file]);
  return file;
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

/** A texture from the same package (gravel: edges everywhere, no face). */
export const TEXTURE_PHOTO = '/usr/lib/python3/dist-packages/skimage/data/gravel.png';

/** Where makeStillFaceClip's face is (the central part of the face, in
 * the clip's pixels; the same photo and crop as makeFaceClip's, unturned,
 * its 180x208 tile at 150, 150). */
export const STILL_FACE = { x: 196, y: 192, w: 90, h: 118 };

/**
 * A portrait clip (480x640) of FACE_PHOTO's face standing still over
 * testsrc2, shown only during the intervals of `shown` ([[from, to], ...]
 * in seconds, from inclusive, to exclusive): at other times the same tile
 * shows gravel (TEXTURE_PHOTO), so that the face's place keeps as many
 * edges as the face had and a cover left there can be seen. No sound.
 */
export function makeStillFaceClip(file, { seconds = 3, rate = 30, shown = [[0, seconds]] } = {}) {
  const enable = shown.map(([a, b]) => `gte(t,${a})*lt(t,${b})`).join('+');
  ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=480x640:rate=${rate}`,
    '-loop', '1', '-i', FACE_PHOTO, '-loop', '1', '-i', TEXTURE_PHOTO,
    '-filter_complex',
    '[1:v]crop=200:230:135:0,scale=180:208,format=yuv420p[f];' +
    '[2:v]crop=180:208:100:100,format=yuv420p[g];' +
    '[0:v][g]overlay=150:150:shortest=1[b];' +
    `[b][f]overlay=150:150:enable='${enable}':shortest=1,format=yuv420p[v]`,
    '-map', '[v]', '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', file]);
  return file;
}

/** Debian's python3-skimage's "cameraman": a man seen from the side (his
 * right profile), looking into a camera. */
export const PROFILE_PHOTO = '/usr/lib/python3/dist-packages/skimage/data/camera.png';

/** Where makeProfileClip's face is: eye, nose, mouth and ear, without the
 * hair and the camera, in the clip's pixels. */
export const PROFILE_FACE = { x: 195, y: 212, w: 62, h: 72 };

/**
 * A portrait clip (480x640) of PROFILE_PHOTO's head and shoulders (a
 * 150x170 crop at its own scale) standing still at 150, 150 over testsrc2.
 * Measured with this project's detection settings (OpenCV's
 * haarcascade_frontalface_default and haarcascade_profileface, scale step
 * 1.2, 3 neighbours, 20 px, on the 240x320 grey copy, equalised): the
 * frontal cascade finds it on none of 90 frames, the profile cascade run
 * on the mirror image on all of them, the unmirrored one on none.
 */
export function makeProfileClip(file, { seconds = 2, rate = 30 } = {}) {
  ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=480x640:rate=${rate}`,
    '-loop', '1', '-i', PROFILE_PHOTO,
    '-filter_complex',
    '[1:v]crop=150:170:140:60,format=yuv420p[f];' +
    '[0:v][f]overlay=150:150:shortest=1,format=yuv420p[v]',
    '-map', '[v]', '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', file]);
  return file;
}
