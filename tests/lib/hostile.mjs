// Hostile media files, made at test time, shared by the media tests
// (`chorus transcode`) and the worker tests (a real job in the sandbox).
// Each builder checks that its fixture really has the property it is
// about, writes it into dir and returns its path (and, where the file
// points at another one, the secret that must never come out).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { ffmpeg, ffprobe, videoStream } from '../media/lib.mjs';

const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];

function lavfi(file, v, seconds, args) {
  ffmpeg(['-f', 'lavfi', '-i', v, '-t', String(seconds), ...args, file]);
  return file;
}

/** A stream declaring 16384x16384 frames: a tiny MJPEG AVI whose header
 * and JPEG frames are patched to say so. */
export function hugeFrames(dir) {
  const avi = readFileSync(lavfi(path.join(dir, 'small.avi'), 'testsrc2=size=16x16:rate=5', 1,
    ['-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p']));
  let at = avi.indexOf('avih');
  avi.writeUInt32LE(16384, at + 8 + 32);
  avi.writeUInt32LE(16384, at + 8 + 36);
  at = avi.indexOf('strf');
  avi.writeInt32LE(16384, at + 8 + 4);
  avi.writeInt32LE(16384, at + 8 + 8);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08]);
  for (let j = avi.indexOf(sof); j >= 0; j = avi.indexOf(sof, j + 5)) {
    avi.writeUInt16BE(16384, j + 5);
    avi.writeUInt16BE(16384, j + 7);
  }
  const file = path.join(dir, 'huge');
  writeFileSync(file, avi);
  assert.equal(videoStream(ffprobe(file)).codec_name, 'mjpeg');
  return file;
}

/** Two hours of 16x16 at 1 fps: small, cheap, and far too long. */
export function twoHours(dir) {
  const file = lavfi(path.join(dir, 'two-hours.mp4'), 'color=gray:size=16x16:rate=1', 7200, [...H264, '-g', '600']);
  assert.ok(Number(ffprobe(file).format.duration) >= 7199);
  return file;
}

/** An EBML element: id bytes, an 8-byte size, the payload. */
function ebml(id, payload) {
  const size = Buffer.alloc(8);
  size.writeBigUInt64BE(BigInt(payload.length) | (1n << 56n));
  return Buffer.concat([Buffer.from(id), size, payload]);
}
const uint = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const flt = (x) => { const b = Buffer.alloc(8); b.writeDoubleBE(x); return b; };

/** A Matroska file declaring 10 000 audio tracks (written by hand: the
 * ffmpeg program's own muxer stops at 1 000). */
export function manyStreams(dir) {
  const tracks = [];
  for (let i = 1; i <= 10000; i++) {
    tracks.push(ebml([0xae], Buffer.concat([
      ebml([0xd7], uint(i)), ebml([0x73, 0xc5], uint(i)), ebml([0x83], Buffer.from([2])),
      ebml([0x86], Buffer.from('A_PCM/INT/LIT')),
      ebml([0xe1], Buffer.concat([ebml([0xb5], flt(8000)), ebml([0x9f], Buffer.from([1]))])),
    ])));
  }
  const many = Buffer.concat([
    ebml([0x1a, 0x45, 0xdf, 0xa3], Buffer.concat([
      ebml([0x42, 0x86], Buffer.from([1])), ebml([0x42, 0xf7], Buffer.from([1])),
      ebml([0x42, 0xf2], Buffer.from([4])), ebml([0x42, 0xf3], Buffer.from([8])),
      ebml([0x42, 0x82], Buffer.from('matroska')), ebml([0x42, 0x87], Buffer.from([4])),
      ebml([0x42, 0x85], Buffer.from([2])),
    ])),
    ebml([0x18, 0x53, 0x80, 0x67], Buffer.concat([
      ebml([0x15, 0x49, 0xa9, 0x66], Buffer.concat([ebml([0x2a, 0xd7, 0xb1], uint(1000000)), ebml([0x44, 0x89], flt(1000))])),
      ebml([0x16, 0x54, 0xae, 0x6b], Buffer.concat(tracks)),
      // One cluster with one block of track 1, so that it parses.
      ebml([0x1f, 0x43, 0xb6, 0x75], Buffer.concat([
        ebml([0xe7], Buffer.from([0])),
        ebml([0xa3], Buffer.concat([Buffer.from([0x81, 0, 0, 0x80]), Buffer.alloc(800, 0x80)])),
      ])),
    ])),
  ]);
  const file = path.join(dir, 'many-streams');
  writeFileSync(file, many);
  assert.equal(ffprobe(file, ['-max_streams', '20000']).streams.length, 10000, 'the fixture declares 10 000 streams');
  return file;
}

/** Timestamps that jump by two hours after the first second. */
export function timestampJumps(dir) {
  const file = lavfi(path.join(dir, 'jump.mkv'), 'testsrc2=size=64x48:rate=10:duration=3', 86400,
    [...H264, '-vf', "setpts='if(gte(N,10),PTS+7200/TB,PTS)'", '-vsync', 'passthrough']);
  assert.ok(Number(ffprobe(file).format.duration) > 7000, 'the fixture jumps by hours');
  return file;
}

/**
 * A MOV whose video data is said to be in another file: a data reference
 * ('alis', a Macintosh alias record with an absolute path) to a file
 * holding the returned secret. libavformat must not follow it.
 */
export function dataReference(dir) {
  const secret = `DREF-SECRET-${process.pid}`;
  const target = path.join(dir, 'dref-secret.mov');
  writeFileSync(target, `${secret}\n`.repeat(1000));
  const mov = readFileSync(lavfi(path.join(dir, 'dref-src.mov'), 'testsrc2=size=64x48:rate=10', 1, H264));
  const url = mov.indexOf(Buffer.from('url '), mov.indexOf(Buffer.from('dref')));
  assert.ok(mov.indexOf(Buffer.from('dref')) > 0 && url > 4, 'a url entry in the dref');
  const pathBytes = Buffer.from(target);
  const padded = pathBytes.length + (pathBytes.length & 1);
  const alias = Buffer.alloc(12 + 150 + 4 + padded + 4);
  alias.writeUInt32BE(alias.length);
  alias.write('alis', 4);
  alias.writeUInt32BE(0, 8); // not self-contained
  alias.writeUInt8(4, 12 + 10); // volume name "Disk"
  alias.write('Disk', 12 + 11);
  alias.writeUInt8(pathBytes.length > 63 ? 63 : path.basename(target).length, 12 + 50);
  alias.write(path.basename(target).slice(0, 63), 12 + 51);
  let q = 12 + 150;
  alias.writeInt16BE(2, q); // type 2: the absolute path
  alias.writeUInt16BE(pathBytes.length, q + 2);
  pathBytes.copy(alias, q + 4);
  q += 4 + padded;
  alias.writeInt16BE(-1, q); // the end
  const grow = alias.length - 12;
  const patched = Buffer.concat([mov.subarray(0, url - 4), alias, mov.subarray(url + 8)]);
  // Every box that contains the entry grows with it.
  for (const box of ['moov', 'trak', 'mdia', 'minf', 'dinf', 'dref']) {
    const at = patched.lastIndexOf(Buffer.from(box), url) - 4;
    assert.ok(at >= 0 && at < url, box);
    patched.writeUInt32BE(patched.readUInt32BE(at) + grow, at);
  }
  const file = path.join(dir, 'dref');
  writeFileSync(file, patched);
  const seen = spawnSync('ffprobe', ['-v', 'warning', file], { encoding: 'utf8' });
  assert.match(seen.stderr, /Skipped opening external track.*dref-secret\.mov/, 'the fixture refers outside');
  return { file, secret };
}

/**
 * An AVI whose GAB2 subtitle stream embeds an HLS playlist pointing at a
 * local file holding the returned secret (written by hand: an MJPEG
 * video stream, a 'txts' stream whose first chunk is the GAB2 record).
 */
export function gab2Playlist(dir) {
  const secret = `GAB2-SECRET-${process.pid}`;
  const target = path.join(dir, 'gab2-secret.ts');
  writeFileSync(target, `${secret}\n`.repeat(500));
  const mj = readFileSync(lavfi(path.join(dir, 'frames.mjpeg'), 'testsrc2=size=64x48:rate=5', 1,
    ['-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-f', 'mjpeg']));
  const frames = [];
  for (let i = 2, from = 0; i <= mj.length; i++) {
    if (i === mj.length || (mj[i] === 0xff && mj[i + 1] === 0xd8)) { frames.push(mj.subarray(from, i)); from = i; }
  }
  const u32 = (...v) => { const b = Buffer.alloc(4 * v.length); v.forEach((x, k) => b.writeUInt32LE(x >>> 0, 4 * k)); return b; };
  const chunk = (id, data) => Buffer.concat([Buffer.from(id), u32(data.length), data, Buffer.alloc(data.length & 1)]);
  const list = (type, ...parts) => chunk('LIST', Buffer.concat([Buffer.from(type), ...parts]));
  const playlist = Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile://${target}\n`
    + `#EXTINF:10,\n${target}\n#EXT-X-ENDLIST\n`);
  const desc = Buffer.from('x\0', 'utf16le');
  const gab2 = Buffer.concat([Buffer.from('GAB2\0'), Buffer.from([2, 0]), u32(desc.length), desc,
    Buffer.from([4, 0]), u32(playlist.length), playlist]);
  const avi = chunk('RIFF', Buffer.concat([Buffer.from('AVI '),
    list('hdrl',
      chunk('avih', u32(200000, 0, 0, 0, frames.length, 0, 2, 65536, 64, 48, 0, 0, 0, 0)),
      list('strl',
        chunk('strh', Buffer.concat([Buffer.from('vidsMJPG'), u32(0, 0, 0, 1, 5, 0, frames.length, 65536, -1, 0), Buffer.alloc(8)])),
        chunk('strf', Buffer.concat([u32(40, 64, 48), Buffer.from([1, 0, 24, 0]), Buffer.from('MJPG'), u32(64 * 48 * 3, 0, 0, 0, 0)]))),
      list('strl',
        chunk('strh', Buffer.concat([Buffer.from('txts'), u32(0, 0, 0, 0, 1, 1, 0, 1, 65536, -1, 0), Buffer.alloc(8)])),
        chunk('strf', Buffer.alloc(0)))),
    list('movi', chunk('01tx', gab2), ...frames.map((f) => chunk('00dc', f))),
  ]));
  const file = path.join(dir, 'gab2');
  writeFileSync(file, avi);
  assert.deepEqual(ffprobe(file).streams.map((x) => x.codec_type), ['video', 'subtitle'], 'the fixture has its GAB2 stream');
  return { file, secret };
}
