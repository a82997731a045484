// Identity protection through `chorus transcode --protect`, measured on
// real media made here: a real face (Debian's python3-skimage portrait)
// crossing the frame, standing still and going away, a face seen from
// the side (skimage's cameraman), synthetic speech (espeak-ng) and a
// tone; and the studio's versions of protected clips. Each
// fixture is first checked to be what its test is about (the face is
// there and detectable, the tone has its pitch), then the outputs are
// measured frame by frame and sample by sample.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  facePlace, makeFaceClip, makeProfileClip, makeSpeechClip, makeStillFaceClip, PROFILE_FACE, STILL_FACE,
} from '../lib/fixtures.mjs';
import { edgeEnergy, fundamental, greyFrames, meanAbsDiff, samples } from '../lib/measure.mjs';
import { BIN, ffmpeg, ffprobe, removeDir, tempDir, transcode, videoStream } from './lib.mjs';

let dir;
before(() => {
  dir = tempDir('chorus-protect-');
});
after(() => removeDir(dir));

const fx = (name) => path.join(dir, name);
const out = (name) => path.join(dir, `out-${name}`);

/** The sheet's tiles (3 x 3, 8 px apart) as grey frames, for comparing. */
function sheetTiles(sheet, json) {
  const g = greyFrames(sheet);
  const tw = (json.width - 32) / 3;
  const th = (json.height - 32) / 3;
  const tiles = [];
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      tiles.push({ x: 8 + c * (tw + 8), y: 8 + r * (th + 8), w: tw, h: th });
    }
  }
  return { g, tiles };
}

/** Checks a protected clip's contact sheet: a JPEG of 9 different frames,
 * larger than the thumbnail. Returns its grey pixels and tiles. */
function checkSheet(name, r) {
  const o = out(name);
  assert.deepEqual(readdirSync(o).sort(), ['sheet.jpg', 'thumb.jpg', 'video.mp4'], `${name}: files`);
  const s = r.json.output.sheet;
  assert.equal(s.frames, 9, `${name}: frames on the sheet`);
  const sp = videoStream(ffprobe(path.join(o, 'sheet.jpg')));
  assert.equal(sp.codec_name, 'mjpeg');
  assert.deepEqual([sp.width, sp.height], [s.width, s.height]);
  assert.ok(Math.max(s.width, s.height) > Math.max(r.json.output.thumb.width, r.json.output.thumb.height),
    `${name}: the sheet (${s.width}x${s.height}) is larger than the thumbnail`);
  const { g, tiles } = sheetTiles(path.join(o, 'sheet.jpg'), s);
  return { g, tiles };
}

/** The pixels of rectangle t of grey frame f (fw wide), as a frame of its own. */
function cut(f, fw, t) {
  const b = Buffer.alloc(t.w * t.h);
  for (let y = 0; y < t.h; y++) f.copy(b, y * t.w, (t.y + y) * fw + t.x, (t.y + y) * fw + t.x + t.w);
  return b;
}

/** Rectangle r of a frame scaled by k, then moved by (dx, dy). */
const scaleRect = (r, k, dx = 0, dy = 0) => ({
  x: Math.floor(r.x * k + dx), y: Math.floor(r.y * k + dy), w: Math.ceil(r.w * k), h: Math.ceil(r.h * k),
});

/** How a region of frame b (the output) keeps region rect of frame a
 * (the input): the mean absolute difference, and the share of a's edge
 * energy left in b. A coarse pixelation changes much and keeps little. */
function kept(a, b, w, h, rect) {
  return {
    diff: meanAbsDiff(a, b, w, h, rect),
    edges: edgeEnergy(b, w, h, rect) / edgeEnergy(a, w, h, rect),
  };
}

/** Which of frames (all w x h) image b is: the index of the nearest, by
 * the mean absolute difference over the whole picture, and that
 * difference. */
function whichFrame(frames, b, w, h) {
  const whole = { x: 0, y: 0, w, h };
  let best = -1;
  let bestDiff = Infinity;
  frames.forEach((a, i) => {
    const d = meanAbsDiff(a, b, w, h, whole);
    if (d < bestDiff) { best = i; bestDiff = d; }
  });
  return { i: best, diff: bestDiff };
}

/**
 * Checks the thumbnail of out(name) (the clip's own size): it is a frame
 * of the clip (input: its grey frames), and where face(i) says that frame
 * has a face (a rectangle, or null for none), the face is covered as in
 * the frames. Returns what was measured, to print.
 */
function checkThumb(name, input, face) {
  const thumb = greyFrames(path.join(out(name), 'thumb.jpg'));
  assert.deepEqual([thumb.w, thumb.h], [input.w, input.h], `${name}: the thumbnail's size`);
  const t = whichFrame(input.frames, thumb.frames[0], input.w, input.h);
  assert.ok(t.diff < 12, `${name}: the thumbnail is no frame of the clip (nearest ${t.i}, by ${t.diff.toFixed(1)})`);
  const rect = face(t.i);
  if (rect === null) return `thumbnail: frame ${t.i}, without a face`;
  const c = kept(input.frames[t.i], thumb.frames[0], input.w, input.h, rect);
  assert.ok(covers(c), `${name}: the thumbnail (frame ${t.i}): the face differs by ${c.diff.toFixed(1)}, ` +
    `keeps ${(c.edges * 100).toFixed(0)}%`);
  return `thumbnail: frame ${t.i}, its face differs by ${c.diff.toFixed(1)}, keeps ${(c.edges * 100).toFixed(0)}%`;
}

/** Whether a region measured by kept() is covered as the blur must
 * cover a face (the thresholds of the first test). */
const covers = (c) => c.diff > 10 && c.edges < 0.45;

/** chorus transcode --versions LIST IN OUT: its JSON (as studio.test.mjs). */
function versions(input, outDir, list, args = []) {
  const r = spawnSync(BIN, ['transcode', '--versions', list, ...args, input, outDir],
    { encoding: 'utf8', timeout: 600000 });
  assert.equal(r.signal, null, `chorus died of ${r.signal}: ${r.stderr.slice(-3000)}`);
  assert.ok(!/ERROR: (Address|Leak)Sanitizer|runtime error:/.test(r.stderr), r.stderr.slice(-3000));
  assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
  return JSON.parse(r.stdout.trim());
}

test('blur_faces: in every frame the face is pixelated from its first, the rest is intact, and the sheet shows 9 frames', () => {
  // The face appears on frame 15, between two looks for faces (every
  // second frame, from 0): only the half second each frame waits for
  // later looks covers it on its first frame.
  const first = 15;
  const src = makeFaceClip(fx('face.mp4'), { appear: first / 30 + 0.001 });
  const input = greyFrames(src);
  assert.equal(input.frames.length, 120, 'fixture: 4 s at 30 fps');
  // The fixture really has a face where facePlace says, with features
  // (edges), from frame 15 on, and none before.
  const before = edgeEnergy(input.frames[first - 1], input.w, input.h, facePlace(first - 1));
  assert.ok(before < 8, `fixture: no face before frame ${first} (edge energy ${before.toFixed(1)})`);
  for (const i of [first, 60, 119]) {
    const e = edgeEnergy(input.frames[i], input.w, input.h, facePlace(i));
    assert.ok(e > 8, `fixture: face at frame ${i} has features (edge energy ${e.toFixed(1)})`);
  }

  const r = transcode(src, out('face'), ['--protect', 'blur_faces']);
  assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
  const p = r.json.protection;
  assert.deepEqual(p.asked, ['blur_faces']);
  // The cascades found the face on (nearly) every look once it was
  // there, so nothing to check.
  const looks = p.blur_faces.detection_runs - Math.ceil(first / 2);
  assert.ok(p.blur_faces.runs_with_faces >= 0.9 * looks, `detections: ${JSON.stringify(p.blur_faces)}`);
  assert.equal(p.check, false, JSON.stringify(p));
  // The voice was not asked for: the audio graph is shown as usual.
  assert.match(r.json.filters.audio, /loudnorm|volume|aresample/);

  const output = greyFrames(path.join(out('face'), 'video.mp4'));
  assert.equal(output.frames.length, input.frames.length, 'the same frames');
  assert.deepEqual([output.w, output.h], [input.w, input.h]);
  let worstFace = Infinity;
  let worstEdges = 0;
  let worstRest = 0;
  // Below the face's path (its lowest tile edge is at 310, its cover
  // reaches further): must be as it was, but for the encoder's loss.
  const rest = { x: 0, y: 470, w: input.w, h: input.h - 470 };
  for (let i = first; i < output.frames.length; i++) {
    const a = input.frames[i];
    const b = output.frames[i];
    const face = facePlace(i);
    const diff = meanAbsDiff(a, b, input.w, input.h, face);
    const edges = edgeEnergy(b, input.w, input.h, face) / edgeEnergy(a, input.w, input.h, face);
    worstFace = Math.min(worstFace, diff);
    worstEdges = Math.max(worstEdges, edges);
    worstRest = Math.max(worstRest, meanAbsDiff(a, b, input.w, input.h, rest));
    assert.ok(diff > 10, `frame ${i}: the face's region differs by only ${diff.toFixed(1)}`);
    assert.ok(edges < 0.45, `frame ${i}: the face keeps ${(edges * 100).toFixed(0)}% of its edges`);
  }
  assert.ok(worstRest < 3, `the rest of the frame changed by up to ${worstRest.toFixed(2)}`);
  console.log(`# blur_faces: face region differs by >= ${worstFace.toFixed(1)} grey levels ` +
    `(mean absolute), keeps <= ${(worstEdges * 100).toFixed(0)}% of its edge energy; ` +
    `the rest differs by <= ${worstRest.toFixed(2)}`);

  // The sheet: 9 different moments across the clip, each with the face
  // covered too. Each tile is told which frame it is by the nearest input
  // frame at the tile's size (testsrc2 moves everywhere: every frame
  // differs), and the face's place in that frame is measured as above.
  const { g, tiles } = checkSheet('face', r);
  const tw = tiles[0].w;
  const th = tiles[0].h;
  const k = tw / input.w;
  const small = greyFrames(src, { w: tw, h: th });
  const shown = [];
  let worstTile = { diff: Infinity, edges: 0 };
  for (const t of tiles) {
    const tile = cut(g.frames[0], g.w, t);
    const { i, diff } = whichFrame(small.frames, tile, tw, th);
    assert.ok(diff < 12, `a tile is no frame of the clip (nearest ${i}, by ${diff.toFixed(1)})`);
    shown.push(i);
    if (i < first) continue;
    const c = kept(small.frames[i], tile, tw, th, scaleRect(facePlace(i), k));
    worstTile = { diff: Math.min(worstTile.diff, c.diff), edges: Math.max(worstTile.edges, c.edges) };
    assert.ok(c.diff > 10 && c.edges < 0.45,
      `the sheet's tile of frame ${i}: the face differs by ${c.diff.toFixed(1)}, keeps ${(c.edges * 100).toFixed(0)}%`);
  }
  assert.equal(new Set(shown).size, 9, `nine different frames on the sheet: ${shown}`);
  assert.ok(shown.every((i, n) => n === 0 || i > shown[n - 1]), `in order: ${shown}`);
  assert.ok(shown[0] < 15 && shown[8] >= 105, `across the clip: ${shown}`);
  assert.ok(shown.filter((i) => i >= first).length >= 7, `the face is on most tiles: ${shown}`);

  const tc = checkThumb('face', input, (i) => (i >= first ? facePlace(i) : null));
  console.log(`# blur_faces sheet: tiles are frames ${shown.join(',')}; their faces differ by >= ` +
    `${worstTile.diff.toFixed(1)} and keep <= ${(worstTile.edges * 100).toFixed(0)}%; ${tc}`);
});

test('blur_faces on a clip without a face: it is flagged for a moderator', () => {
  const src = fx('noface.mp4');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-t', '2', '-c:v', 'libx264',
    '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', src]);
  const r = transcode(src, out('noface'), ['--protect', 'blur_faces']);
  assert.equal(r.status, 0, r.stdout);
  assert.equal(r.json.protection.check, true);
  // testsrc2's pattern may fool a cascade on a frame or two: still far
  // from a face all along, so flagged either way.
  const b = r.json.protection.blur_faces;
  assert.ok(b.runs_with_faces < 0.5 * b.detection_runs, JSON.stringify(b));
  assert.ok(r.json.warnings.some((w) => /no face was found|faces were found on only/.test(w)),
    r.json.warnings.join('; '));
  checkSheet('noface', r);
});

test('blur_faces: a face gone from one frame to the next stays covered where it was last seen for at least a second, then not', () => {
  const src = makeStillFaceClip(fx('vanish.mp4'), { seconds: 4, shown: [[0, 1.5]] });
  const input = greyFrames(src);
  const { w, h } = input;
  assert.equal(input.frames.length, 120, 'fixture: 4 s at 30 fps');
  // The fixture: the face, then from frame `gone` on gravel in its place,
  // with as many edges, so a cover left there shows.
  const gone = input.frames.findIndex((f) => meanAbsDiff(f, input.frames[0], w, h, STILL_FACE) > 20);
  assert.ok(Math.abs(gone - 45) <= 1, `fixture: the face goes at frame ${gone}`);
  for (const i of [0, gone - 1, gone, 119]) {
    const e = edgeEnergy(input.frames[i], w, h, STILL_FACE);
    assert.ok(e > 8, `fixture: frame ${i} has edges where the face is (${e.toFixed(1)})`);
  }

  const r = transcode(src, out('vanish'), ['--protect', 'blur_faces']);
  assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
  const output = greyFrames(path.join(out('vanish'), 'video.mp4'));
  assert.equal(output.frames.length, 120);
  const at = (i) => kept(input.frames[i], output.frames[i], w, h, STILL_FACE);
  for (let i = 0; i < gone; i++) {
    const c = at(i);
    assert.ok(covers(c), `frame ${i}: the face differs by ${c.diff.toFixed(1)}, keeps ${(c.edges * 100).toFixed(0)}%`);
  }
  // How long its place stays covered once it is gone.
  let held = gone;
  while (held < output.frames.length && covers(at(held))) held++;
  const heldS = (held - gone) / 30;
  assert.ok(held - gone >= 30, `the cover was held ${held - gone} frames (${heldS.toFixed(2)} s) after the face went, ` +
    `not a second: frame ${held} differs by ${at(held).diff.toFixed(1)}, keeps ${(at(held).edges * 100).toFixed(0)}%`);
  // Then the cover goes (the gravel is no face to the cascades): the last
  // half second shows it as it is, but for the encoder's loss.
  assert.ok(held <= 120 - 15, `still covered at frame ${held}, ${heldS.toFixed(2)} s after the face went`);
  let worstAfter = Infinity;
  for (let i = held; i < 120; i++) worstAfter = Math.min(worstAfter, at(i).edges);
  assert.ok(worstAfter > 0.8, `after the hold the gravel keeps only ${(worstAfter * 100).toFixed(0)}% of its edges`);
  const tc = checkThumb('vanish', input, (i) => (i < gone ? STILL_FACE : null));
  console.log(`# blur_faces hold: face gone at frame ${gone}, its place covered ${held - gone} frames ` +
    `(${heldS.toFixed(2)} s) more, then intact (>= ${(worstAfter * 100).toFixed(0)}% of its edges); ` +
    `detections ${JSON.stringify(r.json.protection.blur_faces)}; ${tc}`);
});

test('blur_faces: a face lost for longer than the hold and found again flags the clip "came and went", and is covered when it is back', () => {
  const src = makeStillFaceClip(fx('gap.mp4'), { seconds: 6, shown: [[0, 2], [4.5, 6]] });
  const input = greyFrames(src);
  const { w, h } = input;
  assert.equal(input.frames.length, 180, 'fixture: 6 s at 30 fps');
  const isFace = (i) => meanAbsDiff(input.frames[i], input.frames[0], w, h, STILL_FACE) < 10;
  const gone = input.frames.findIndex((_, i) => !isFace(i));
  let back = gone;
  while (back < 180 && !isFace(back)) back++;
  // 2.5 s without the face: more than the hold (1.5 s) and the half second
  // each frame waits for later looks together.
  assert.ok(Math.abs(gone - 60) <= 1 && Math.abs(back - 135) <= 1, `fixture: the face goes at ${gone}, is back at ${back}`);

  const r = transcode(src, out('gap'), ['--protect', 'blur_faces']);
  assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
  const p = r.json.protection;
  const b = p.blur_faces;
  // Found whenever it was there (so not the "found on only" rule)...
  assert.ok(b.runs_with_faces >= 0.9 * (gone + 180 - back) / 2, JSON.stringify(b));
  // ... and lost once: the moderator is asked to look.
  assert.equal(b.came_and_went, 1, JSON.stringify(b));
  assert.equal(p.check, true, JSON.stringify(p));
  assert.ok(r.json.warnings.includes('blur_faces: faces came and went: check the contact sheet'),
    r.json.warnings.join('; '));

  const output = greyFrames(path.join(out('gap'), 'video.mp4'));
  assert.equal(output.frames.length, 180);
  let worst = { diff: Infinity, edges: 0 };
  for (let i = 0; i < 180; i++) {
    if (i >= gone && i < back) continue;
    const c = kept(input.frames[i], output.frames[i], w, h, STILL_FACE);
    worst = { diff: Math.min(worst.diff, c.diff), edges: Math.max(worst.edges, c.edges) };
    assert.ok(covers(c), `frame ${i}: the face differs by ${c.diff.toFixed(1)}, keeps ${(c.edges * 100).toFixed(0)}%`);
  }
  const tc = checkThumb('gap', input, (i) => (i < gone || i >= back ? STILL_FACE : null));
  console.log(`# blur_faces came and went: face gone frames ${gone}-${back - 1}; ${JSON.stringify(b)}; ` +
    `face covered in every frame it is in (differs by >= ${worst.diff.toFixed(1)}, keeps <= ${(worst.edges * 100).toFixed(0)}%); ${tc}`);
});

test('blur_faces: a face seen from the side, which only the profile cascade finds, is covered in every frame', () => {
  const src = makeProfileClip(fx('profile.mp4'), { seconds: 2 });
  const input = greyFrames(src);
  const { w, h } = input;
  assert.equal(input.frames.length, 60, 'fixture: 2 s at 30 fps');
  for (const i of [0, 30, 59]) {
    const e = edgeEnergy(input.frames[i], w, h, PROFILE_FACE);
    assert.ok(e > 8, `fixture: the profile at frame ${i} has features (edge energy ${e.toFixed(1)})`);
  }
  const r = transcode(src, out('profile'), ['--protect', 'blur_faces']);
  assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
  const b = r.json.protection.blur_faces;
  assert.ok(b.runs_with_faces > 0, `no face found: ${JSON.stringify(b)}`);
  const output = greyFrames(path.join(out('profile'), 'video.mp4'));
  assert.equal(output.frames.length, 60);
  let worst = { diff: Infinity, edges: 0 };
  for (let i = 0; i < 60; i++) {
    const c = kept(input.frames[i], output.frames[i], w, h, PROFILE_FACE);
    worst = { diff: Math.min(worst.diff, c.diff), edges: Math.max(worst.edges, c.edges) };
    assert.ok(covers(c), `frame ${i}: the profile differs by ${c.diff.toFixed(1)}, keeps ${(c.edges * 100).toFixed(0)}%`);
  }
  // The profile is in every frame: so is it in the thumbnail's.
  const tc = checkThumb('profile', input, () => PROFILE_FACE);
  console.log(`# blur_faces profile: ${JSON.stringify(b)}, check ${r.json.protection.check}; the profile ` +
    `differs by >= ${worst.diff.toFixed(1)}, keeps <= ${(worst.edges * 100).toFixed(0)}% of its edges; ${tc}`);
});

test('a studio version of a blur_faces clip keeps the face covered in every frame', () => {
  const seconds = 2;
  const src = makeFaceClip(fx('vface.mp4'), { seconds });
  // The same clip without protection, through the same versions, is
  // what the protected version's frames are compared with.
  for (const [name, args] of [['vface', ['--protect', 'blur_faces']], ['vplain', []]]) {
    const r = transcode(src, out(name), args);
    assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
    const v = versions(path.join(out(name), 'video.mp4'), fx(`${name}-v`), '9x16');
    assert.deepEqual(v.versions.map((x) => [x.format, x.width, x.height]), [['9x16', 1080, 1920]]);
  }
  // 9x16 of 480x640: the clip fitted at 2.25 times, 240 px from the top,
  // over its blurred fill; measured at half that size.
  const size = { w: 540, h: 960 };
  const plain = greyFrames(path.join(fx('vplain-v'), 'v-9x16.mp4'), size);
  const prot = greyFrames(path.join(fx('vface-v'), 'v-9x16.mp4'), size);
  assert.equal(plain.frames.length, 60);
  assert.equal(prot.frames.length, plain.frames.length);
  const rest = scaleRect({ x: 0, y: 470, w: 480, h: 170 }, 1.125, 0, 120);
  let worst = { diff: Infinity, edges: 0 };
  let worstRest = 0;
  for (let i = 0; i < plain.frames.length; i++) {
    const face = scaleRect(facePlace(i, { seconds }), 1.125, 0, 120);
    const e = edgeEnergy(plain.frames[i], size.w, size.h, face);
    assert.ok(e > 6, `the unprotected version has no face where it should at frame ${i} (edge energy ${e.toFixed(1)})`);
    const c = kept(plain.frames[i], prot.frames[i], size.w, size.h, face);
    worst = { diff: Math.min(worst.diff, c.diff), edges: Math.max(worst.edges, c.edges) };
    worstRest = Math.max(worstRest, meanAbsDiff(plain.frames[i], prot.frames[i], size.w, size.h, rest));
    assert.ok(covers(c), `version frame ${i}: the face differs by ${c.diff.toFixed(1)}, keeps ${(c.edges * 100).toFixed(0)}%`);
  }
  assert.ok(worstRest < 3, `the rest of the version differs by up to ${worstRest.toFixed(2)}`);
  // The face is in every frame of this clip: so is it in its thumbnail's.
  const tc = checkThumb('vface', greyFrames(src), (i) => facePlace(i, { seconds }));
  console.log(`# blur_faces version 9x16: the face differs from the unprotected version's by >= ` +
    `${worst.diff.toFixed(1)}, keeps <= ${(worst.edges * 100).toFixed(0)}% of its edges; the rest <= ` +
    `${worstRest.toFixed(2)}; the clip's ${tc}`);
});

test('a studio version of a no_video clip is still the card, no frame of the input', () => {
  const src = makeSpeechClip(fx('vcard.mp4'), { size: '480x640', seconds: 2 });
  const r = transcode(src, out('vcard'), ['--protect', 'no_video', '--credit', 'Алеся']);
  assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
  const card = path.join(out('vcard'), 'video.mp4');
  versions(card, fx('vcard-v'), '9x16');
  // At a tenth of 1080x1920: the clip fitted at 108x144, 24 px from the top.
  const small = { w: 108, h: 144 };
  const place = { x: 0, y: 24, w: 108, h: 144 };
  const whole = { x: 0, y: 0, ...small };
  const input = greyFrames(src, small);
  const cards = greyFrames(card, small);
  const v = greyFrames(path.join(fx('vcard-v'), 'v-9x16.mp4'), { w: 108, h: 192 });
  assert.equal(v.frames.length, cards.frames.length);
  let farthestCard = 0;
  let closestInput = Infinity;
  for (let i = 0; i < v.frames.length; i++) {
    const b = cut(v.frames[i], v.w, place);
    farthestCard = Math.max(farthestCard, meanAbsDiff(cards.frames[i], b, small.w, small.h, whole));
    for (const a of input.frames) closestInput = Math.min(closestInput, meanAbsDiff(a, b, small.w, small.h, whole));
  }
  assert.ok(farthestCard < 6, `a version frame differs from the card's by ${farthestCard.toFixed(1)}`);
  assert.ok(closestInput > 20, `a version frame is within ${closestInput.toFixed(1)} of an input frame`);
  // The fill around it is the card's colour darkened, not the input's.
  const fillGrey = v.frames[0][5 * v.w + 5];
  const cardGrey = cards.frames[0][5 * small.w + 5];
  assert.ok(fillGrey < cardGrey && fillGrey > cardGrey / 3, `the fill is grey ${fillGrey}, the card ${cardGrey}`);
  console.log(`# no_video version 9x16: every frame within ${farthestCard.toFixed(1)} of the card's, ` +
    `>= ${closestInput.toFixed(1)} from every input frame; fill grey ${fillGrey} (card ${cardGrey})`);
});

/** 12 log2(b / a): the interval from a to b in semitones. */
const semitones = (a, b) => 12 * Math.log2(b / a);

test('voice: the pitch of a tone and of speech is lowered by 4.5 to 6 semitones, and the amounts are not recorded', () => {
  // A tone: its pitch is exact.
  const tone = makeFaceClip(fx('tone.mp4'), { seconds: 2 });
  const before = fundamental(samples(tone));
  assert.ok(Math.abs(before.f0 - 220) < 3, `fixture: a 220 Hz tone (${before.f0})`);
  const speech = makeSpeechClip(fx('speech.mp4'));
  const sBefore = fundamental(samples(speech));
  assert.ok(sBefore.voiced > 30 && sBefore.f0 > 110 && sBefore.f0 < 180,
    `fixture: speech at ${sBefore.f0} Hz (${sBefore.voiced} voiced frames)`);

  const results = [];
  for (const [name, src, f0] of [['tone', tone, before.f0], ['speech', speech, sBefore.f0]]) {
    const r = transcode(src, out(`voice-${name}`), ['--protect', 'voice']);
    assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
    const after = fundamental(samples(path.join(out(`voice-${name}`), 'video.mp4')));
    const shift = semitones(f0, after.f0);
    results.push(`${name} ${f0.toFixed(1)} Hz -> ${after.f0.toFixed(1)} Hz (${shift.toFixed(2)} st)`);
    // The documented range (transcode_plan.h; the amount is drawn in it
    // for each clip), with the measurement's own error on both sides: a
    // sample of lag at 16 kHz for the tone, more for speech, whose pitch
    // moves within each frame (CI once measured -4.13 for a draw near
    // 4.5).
    const slack = name === 'tone' ? 0.3 : 0.5;
    assert.ok(shift <= -4.5 + slack && shift >= -6.0 - slack, `${name}: shifted by ${shift} semitones`);
    // Still loudness-normalised, measured on the disguised sound.
    assert.ok(Math.abs(r.json.loudness.after_lufs + 16) < 1.5, JSON.stringify(r.json.loudness));
    assert.deepEqual(r.json.protection.voice.pitch_down_semitones, [4.5, 6]);
    assert.doesNotMatch(r.stdout, /rubberband|pitch=0\./, 'the amounts are kept nowhere');
    checkSheet(`voice-${name}`, r);
  }
  console.log(`# voice: ${results.join('; ')}`);
});

test('no_video: every frame is the card (colour, moving waveform, credit) and none is the input', () => {
  const src = makeSpeechClip(fx('card.mp4'), { size: '480x640' });
  const credit = 'Алеся · Ў І Ї Є Ґ {\\fs300} · Belarus';
  const r = transcode(src, out('card'), ['--protect', 'no_video', '--credit', credit]);
  assert.equal(r.status, 0, r.stdout + r.stderr.slice(-2000));
  assert.deepEqual(r.json.protection.asked, ['no_video']);
  const small = { w: 96, h: 128 };
  const input = greyFrames(src, small);
  const output = greyFrames(path.join(out('card'), 'video.mp4'), small);
  assert.equal(output.frames.length, input.frames.length);
  // No output frame is any input frame: each differs from all of them.
  let closest = Infinity;
  const whole = { x: 0, y: 0, w: small.w, h: small.h };
  for (const b of output.frames) {
    for (const a of input.frames) closest = Math.min(closest, meanAbsDiff(a, b, small.w, small.h, whole));
  }
  assert.ok(closest > 20, `an output frame is within ${closest.toFixed(1)} of an input frame`);

  // The card: the accent colour almost everywhere (#B3261E: grey ~ 72).
  const full = greyFrames(path.join(out('card'), 'video.mp4'));
  const W = full.w;
  const H = full.h;
  const bg = full.frames[0][5 * W + 5];
  assert.ok(Math.abs(bg - 72) < 8, `the card's ground is grey level ${bg}`);
  // The credit: light text in the bottom quarter, the same in every frame.
  const textArea = { x: 0, y: Math.floor(H * 0.7), w: W, h: Math.floor(H * 0.28) };
  let light = 0;
  for (let y = textArea.y; y < textArea.y + textArea.h; y++) {
    for (let x = 0; x < W; x++) if (full.frames[30][y * W + x] > 180) light++;
  }
  assert.ok(light > 400, `the credit is drawn (${light} light pixels)`);
  // The waveform moves with the voice: the bars' band changes over time.
  const band = { x: 0, y: Math.floor(H * 0.2), w: W, h: Math.floor(H * 0.4) };
  let moved = 0;
  for (let i = 1; i < full.frames.length; i++) {
    moved = Math.max(moved, meanAbsDiff(full.frames[i - 1], full.frames[i], W, H, band));
  }
  assert.ok(moved > 2, `the waveform moves (${moved.toFixed(2)})`);
  // The credit's text was drawn as text, not read as markup: the line
  // with the braces is wider than a line without them would be, and the
  // \fs300 did not blow the text up to fill the frame.
  assert.ok(light < W * textArea.h * 0.5, `the text stays a line (${light} light pixels)`);

  // The thumbnail and the sheet show the card, not the input.
  const thumb = greyFrames(path.join(out('card'), 'thumb.jpg'));
  assert.ok(Math.abs(thumb.frames[0][5 * thumb.w + 5] - 72) < 10, 'the thumbnail is the card');
  const { g } = checkSheet('card', r);
  assert.ok(Math.abs(g.frames[0][20 * g.w + 20] - 72) < 10, 'the sheet shows the card');
  console.log(`# no_video: every output frame differs from every input frame by >= ${closest.toFixed(1)} ` +
    `grey levels; credit ${light} light pixels; waveform moves by up to ${moved.toFixed(2)}`);
});
