// Helpers for the media tests: fixtures made with the ffmpeg program,
// `chorus transcode` runs, and checks of the outputs with ffprobe and by
// reading their bytes. Every fixture lives in a temporary directory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.CHORUS_BIN || path.join(ROOT, 'build/chorus');

const SANITIZER_REPORT =
  /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;

export function tempDir(prefix = 'chorus-media-') {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return r;
}

/**
 * Runs the ffmpeg program (quiet, overwriting); throws with its stderr.
 * With binary, stdout is returned as a Buffer.
 */
export function ffmpeg(args, { binary = false } = {}) {
  const r = run('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args],
    binary ? { encoding: 'buffer' } : {});
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** ffprobe's JSON for file: format, streams (with side data) and extra. */
export function ffprobe(file, extra = []) {
  const r = run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format',
    '-show_streams', ...extra, file]);
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export const videoStream = (p) => p.streams.find((s) => s.codec_type === 'video');
export const audioStream = (p) => p.streams.find((s) => s.codec_type === 'audio');

/** The display rotation ffprobe reads from a stream's side data, or 0. */
export function rotationOf(stream) {
  const dm = (stream.side_data_list || []).find((d) => d.side_data_type === 'Display Matrix');
  return dm ? dm.rotation : 0;
}

/**
 * Runs `chorus transcode in outDir ...args`; checks that it exited (no
 * signal), that no sanitizer spoke, and that stdout is one JSON object.
 * Returns {status, json, stdout, stderr}.
 */
export function transcode(input, outDir, args = []) {
  const r = run(BIN, ['transcode', input, outDir, ...args], { timeout: 600000 });
  assert.equal(r.signal, null, `chorus died of ${r.signal}: ${r.stderr.slice(-3000)}`);
  const m = SANITIZER_REPORT.exec(r.stderr);
  assert.ok(!m, `sanitizer report:\n${r.stderr.slice(Math.max(0, (m?.index ?? 0) - 200))}`);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stdout, got: ${r.stdout}`);
  return { status: r.status, json: JSON.parse(lines[0]), stdout: r.stdout, stderr: r.stderr };
}

/** Integrated loudness (LUFS) and true peak (dBFS) of file's audio, by ebur128. */
export function loudness(file) {
  const r = run('ffmpeg', ['-hide_banner', '-nostdin', '-nostats', '-i', file, '-vn',
    '-af', 'ebur128=peak=true', '-f', 'null', '-']);
  assert.equal(r.status, 0, r.stderr);
  const summary = r.stderr.slice(r.stderr.lastIndexOf('Summary:'));
  const i = /I:\s+(-?[\d.]+) LUFS/.exec(summary);
  const peak = /Peak:\s+(-?[\d.]+|-inf) dBFS/.exec(summary);
  assert.ok(i && peak, `no ebur128 summary in: ${summary}`);
  return { i: Number(i[1]), tp: Number(peak[1]) };
}

/** The first frame of an image or video as 8-bit gray: {w, h, mean, std}. */
export function grayStats(file, { at = null } = {}) {
  const p = videoStream(ffprobe(file));
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  if (at !== null) args.push('-ss', String(at));
  args.push('-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', '-');
  const r = spawnSync('ffmpeg', args, { maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, String(r.stderr));
  const px = r.stdout;
  assert.equal(px.length, p.width * p.height, 'one gray frame');
  let sum = 0;
  let sum2 = 0;
  for (const v of px) {
    sum += v;
    sum2 += v * v;
  }
  const mean = sum / px.length;
  return { w: p.width, h: p.height, mean, std: Math.sqrt(sum2 / px.length - mean * mean), px };
}

/** Presentation times (s) of the video packets of file, and which are keyframes. */
export function videoPackets(file) {
  const r = run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries',
    'packet=pts_time,flags', '-of', 'csv=p=0', file]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => {
    const [pts, flags] = l.split(',');
    return { t: Number(pts), key: flags.includes('K') };
  }).sort((a, b) => a.t - b.t);
}

/**
 * How far apart sound and picture get in file's bytes: walking its
 * packets in the order they are stored, the largest gap (s) between the
 * latest video time and the latest audio time read so far, once both
 * have begun. A player fetching the file over HTTP needs both as it plays.
 */
export function interleaveGap(file) {
  const r = run('ffprobe', ['-v', 'error', '-show_entries',
    'packet=codec_type,pts_time,pos', '-of', 'csv=p=0', file]);
  assert.equal(r.status, 0, r.stderr);
  const pk = r.stdout.trim().split('\n').map((l) => {
    const [type, pts, pos] = l.split(',');
    return { type, t: Number(pts), pos: Number(pos) };
  }).sort((a, b) => a.pos - b.pos);
  const last = { video: null, audio: null };
  let gap = 0;
  for (const p of pk) {
    last[p.type] = Math.max(last[p.type] ?? -Infinity, p.t);
    if (last.video !== null && last.audio !== null) gap = Math.max(gap, Math.abs(last.video - last.audio));
  }
  return gap;
}

/** The top-level box types of an MP4 file, in order. */
export function topBoxes(file) {
  const b = readFileSync(file);
  const types = [];
  for (let off = 0; off + 8 <= b.length;) {
    let size = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    if (size === 1) size = Number(b.readBigUInt64BE(off + 8));
    else if (size === 0) size = b.length - off;
    assert.ok(size >= 8, `box ${type} at ${off} has size ${size}`);
    types.push(type);
    off += size;
  }
  return types;
}

/** Asserts that none of needles occurs in buf (a Buffer or string). */
export function assertAbsent(buf, needles, what) {
  for (const n of needles) assert.ok(!buf.includes(n), `${what} contains "${n}"`);
}
