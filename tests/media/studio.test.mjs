// The studio's versions: `chorus transcode` makes the message's video of a
// fixture (portrait, landscape, square without sound, a rotated phone
// clip), then `chorus transcode --versions` makes its four ready-to-post
// versions from one decode. Each must have its exact size, H.264 High and
// the video's AAC at the loudness target, the index first, no metadata;
// the burned-in captions must really be in the frames (the caption band
// differs from a version without captions at a cue's time, and not
// outside cue times), Cyrillic (Ў І Ї Є Ґ) included. Beside each, the
// JPEG of its first frame in its shape.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  assertAbsent, audioStream, BIN, ffmpeg, ffprobe, grayStats, loudness, removeDir, rotationOf,
  tempDir, topBoxes, transcode, videoStream,
} from './lib.mjs';

let dir;
before(() => {
  dir = tempDir('chorus-studio-');
});
after(() => removeDir(dir));

const fx = (name) => path.join(dir, name);
const SIZES = { '9x16': [1080, 1920], '1x1': [1080, 1080], '4x5': [1080, 1350], '16x9': [1920, 1080] };
const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const TONE = 'sine=frequency=330:sample_rate=48000';

/** The message's video of a lavfi fixture (3 s at 15 fps: cheap). */
function master(name, { v, a = TONE, args = [] }) {
  const src = fx(`${name}-src.mp4`);
  const inputs = ['-f', 'lavfi', '-i', v];
  if (a) inputs.push('-f', 'lavfi', '-i', a);
  ffmpeg([...inputs, '-t', '3', ...H264, ...(a ? ['-c:a', 'aac'] : []), ...args, src]);
  const r = transcode(src, fx(`${name}-m`));
  assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
  return path.join(fx(`${name}-m`), 'video.mp4');
}

/** chorus transcode --versions LIST IN OUT [args]: its JSON. */
function versions(input, out, list, args = []) {
  const r = spawnSync(BIN, ['transcode', '--versions', list, ...args, input, out],
    { encoding: 'utf8', timeout: 600000 });
  assert.equal(r.signal, null, `chorus died of ${r.signal}: ${r.stderr.slice(-3000)}`);
  assert.ok(!/ERROR: (Address|Leak)Sanitizer|runtime error:/.test(r.stderr), r.stderr.slice(-3000));
  assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
  return JSON.parse(r.stdout.trim());
}

function checkVersion(file, format, withAudio) {
  const p = ffprobe(file, ['-show_entries', 'stream_side_data']);
  const v = videoStream(p);
  assert.deepEqual([v.width, v.height], SIZES[format], `${file}: size`);
  assert.equal(v.codec_name, 'h264');
  assert.equal(v.profile, 'High');
  assert.equal(v.pix_fmt, 'yuv420p');
  assert.equal(rotationOf(v), 0);
  const a = audioStream(p);
  assert.equal(Boolean(a), withAudio, `${file}: audio`);
  if (a) {
    assert.equal(a.codec_name, 'aac');
    assert.equal(a.sample_rate, '48000');
  }
  assert.deepEqual(Object.keys(p.format.tags || {}).sort(),
    ['compatible_brands', 'major_brand', 'minor_version'], `${file}: format tags`);
  for (const s of p.streams) {
    const tags = Object.keys(s.tags || {}).filter((k) => !['language', 'handler_name', 'vendor_id'].includes(k));
    assert.deepEqual(tags, [], `${file}: stream tags`);
  }
  assertAbsent(readFileSync(file), ['x264', 'Lavf', 'Lavc'], file);
  const boxes = topBoxes(file);
  assert.ok(boxes.indexOf('moov') >= 0 && boxes.indexOf('moov') < boxes.indexOf('mdat'), `${file}: ${boxes}`);
  assert.ok(Math.abs(Number(p.format.duration) - 3) < 0.3, `${file}: duration ${p.format.duration}`);
  if (a) {
    const l = loudness(file);
    assert.ok(Math.abs(l.i + 16) <= 1.5, `${file}: ${l.i} LUFS`);
  }
}

for (const [name, fixture, audio] of [
  ['portrait', { v: 'testsrc2=size=720x1280:rate=15' }, true],
  ['landscape', { v: 'testsrc2=size=1280x720:rate=15' }, true],
  ['square-silent', { v: 'testsrc2=size=640x640:rate=15', a: null }, false],
  ['rotated', { v: 'testsrc2=size=1280x720:rate=15', args: ['-metadata:s:v', 'rotate=90'] }, true],
]) {
  test(`${name}: four versions from one decode, each exact and clean`, () => {
    const m = master(name, fixture);
    const out = fx(`${name}-v`);
    const r = versions(m, out, '9x16,1x1,4x5,16x9', ['--credit', 'Алеся · БНП · Беларусь', '--hashtag', '#FreeThemAll']);
    assert.equal(r.versions.length, 4);
    assert.deepEqual(readdirSync(out).sort(), ['v-16x9.jpg', 'v-16x9.mp4', 'v-1x1.jpg', 'v-1x1.mp4',
      'v-4x5.jpg', 'v-4x5.mp4', 'v-9x16.jpg', 'v-9x16.mp4']);
    for (const x of r.versions) {
      assert.deepEqual([x.width, x.height], SIZES[x.format]);
      checkVersion(path.join(out, `v-${x.format}.mp4`), x.format, audio);
      // Its first frame, for the library: a JPEG of its shape, <= 640 px.
      const j = ffprobe(path.join(out, `v-${x.format}.jpg`)).streams[0];
      const [w, h] = SIZES[x.format];
      const k = 640 / Math.max(w, h);
      assert.equal(j.codec_name, 'mjpeg');
      assert.deepEqual([j.width, j.height], [Math.floor(w * k) & ~1, Math.floor(h * k) & ~1], x.format);
    }
  });
}

/** Mean absolute difference of two gray frames within rows [y0, y1). */
function bandDiff(a, b, y0, y1) {
  assert.equal(a.w, b.w);
  let sum = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = 0; x < a.w; x++) sum += Math.abs(a.px[y * a.w + x] - b.px[y * a.w + x]);
  }
  return sum / ((y1 - y0) * a.w);
}

test('captions are burned in at their times and only then, Cyrillic included', () => {
  // The fonts the renderer loads cover Belarusian and Ukrainian letters.
  for (const font of ['/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf']) {
    const q = spawnSync('fc-query', ['--format=%{charset}', font], { encoding: 'utf8' });
    assert.equal(q.status, 0);
    const ranges = q.stdout.trim().split(' ').map((r) => r.split('-').map((h) => parseInt(h, 16)));
    for (const c of [0x40e, 0x406, 0x407, 0x404, 0x490]) {
      assert.ok(ranges.some(([lo, hi = lo]) => c >= lo && c <= hi), `${font} lacks U+${c.toString(16)}`);
    }
  }
  const m = master('captions', { v: 'testsrc2=size=720x1280:rate=15' });
  const cues = fx('cues.json');
  writeFileSync(cues, JSON.stringify([
    { start: 0.4, end: 1.3, text: 'Ў І Ї Є Ґ — салідарнасць!' },
    { start: 1.3, end: 1.8, text: 'Тримайтеся!\nМи з вами.' },
  ]));
  const withCaps = fx('with');
  const without = fx('without');
  versions(m, withCaps, '1x1,9x16', ['--captions', cues]);
  versions(m, without, '1x1,9x16');
  for (const [format, bottom] of [['1x1', 86], ['9x16', 384]]) {
    const [, H] = SIZES[format];
    const a = path.join(withCaps, `v-${format}.mp4`);
    const b = path.join(without, `v-${format}.mp4`);
    checkVersion(a, format, true);
    // The caption band: two lines above the bottom margin.
    const y0 = H - bottom - 200;
    const y1 = H - bottom + 20;
    const inCue = bandDiff(grayStats(a, { at: 0.8 }), grayStats(b, { at: 0.8 }), y0, y1);
    assert.ok(inCue > 8, `${format}: caption band differs by ${inCue.toFixed(2)} at a cue's time`);
    const top = bandDiff(grayStats(a, { at: 0.8 }), grayStats(b, { at: 0.8 }), 0, Math.floor(H / 3));
    assert.ok(top < 1, `${format}: the top third differs by ${top.toFixed(2)}`);
    // After the cues, and after the next keyframe (2 s): nothing drawn.
    const outside = bandDiff(grayStats(a, { at: 2.5 }), grayStats(b, { at: 2.5 }), y0, y1);
    assert.ok(outside < 1, `${format}: caption band differs by ${outside.toFixed(2)} outside cue times`);
  }
});
