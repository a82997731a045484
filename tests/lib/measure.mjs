// Measurements of media made by the tests: frames as grey pixels, regions
// compared, and the fundamental frequency of a sound. Decoding is the
// ffmpeg program's; the arithmetic is here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** Every frame of file's video as 8-bit grey ({w, h, frames: [Buffer]}),
 * scaled to w x h when given. */
export function greyFrames(file, { w, h } = {}) {
  const probe = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  assert.equal(probe.status, 0, probe.stderr);
  const [pw, ph] = probe.stdout.trim().split(',').map(Number);
  const ow = w || pw;
  const oh = h || ph;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', file];
  if (w) args.push('-vf', `scale=${ow}:${oh}`);
  args.push('-f', 'rawvideo', '-pix_fmt', 'gray', '-');
  const r = spawnSync('ffmpeg', args, { maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, String(r.stderr));
  const size = ow * oh;
  const frames = [];
  for (let off = 0; off + size <= r.stdout.length; off += size) frames.push(r.stdout.subarray(off, off + size));
  return { w: ow, h: oh, frames };
}

/** Clips the rectangle {x, y, w, h} to a frame of fw x fh. */
function clip(rect, fw, fh) {
  const x0 = Math.max(0, rect.x);
  const y0 = Math.max(0, rect.y);
  return { x0, y0, x1: Math.min(fw, rect.x + rect.w), y1: Math.min(fh, rect.y + rect.h) };
}

/** Mean absolute difference of two grey frames (fw wide) in rect. */
export function meanAbsDiff(a, b, fw, fh, rect) {
  const { x0, y0, x1, y1 } = clip(rect, fw, fh);
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      sum += Math.abs(a[y * fw + x] - b[y * fw + x]);
      n++;
    }
  }
  return n ? sum / n : 0;
}

/** Edge energy of a grey frame in rect: the mean of |dx| + |dy|. A
 * pixelated region keeps edges only where its blocks meet. */
export function edgeEnergy(f, fw, fh, rect) {
  const { x0, y0, x1, y1 } = clip(rect, fw, fh);
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y1 - 1; y++) {
    for (let x = x0; x < x1 - 1; x++) {
      const p = f[y * fw + x];
      sum += Math.abs(p - f[y * fw + x + 1]) + Math.abs(p - f[(y + 1) * fw + x]);
      n++;
    }
  }
  return n ? sum / n : 0;
}

/** file's sound as mono 32-bit float samples at rate Hz. */
export function samples(file, rate = 16000) {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', file,
    '-vn', '-ac', '1', '-ar', String(rate), '-f', 'f32le', '-'], { maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, String(r.stderr));
  const b = r.stdout;
  return new Float32Array(b.buffer, b.byteOffset, Math.floor(b.length / 4));
}

/**
 * The median fundamental frequency (Hz) of the voiced parts of x (mono,
 * at rate Hz): for each 40 ms frame loud enough, the lag between 2.5 and
 * 16 ms (60 to 400 Hz) where its normalised autocorrelation peaks, kept
 * when that peak is clear (> 0.6). Returns {f0, voiced} (frames used).
 */
export function fundamental(x, rate = 16000) {
  const n = Math.round(0.06 * rate);
  const minLag = Math.floor(rate / 400);
  const maxLag = Math.ceil(rate / 60);
  let peak = 0;
  for (const v of x) peak = Math.max(peak, Math.abs(v));
  const found = [];
  for (let start = 0; start + n + maxLag < x.length; start += n / 2) {
    let energy = 0;
    for (let i = 0; i < n; i++) energy += x[start + i] * x[start + i];
    if (Math.sqrt(energy / n) < 0.05 * peak) continue;
    let best = 0;
    let bestLag = 0;
    const corr = [];
    for (let lag = minLag; lag <= maxLag; lag++) {
      let c = 0;
      let e2 = 0;
      for (let i = 0; i < n; i++) {
        c += x[start + i] * x[start + i + lag];
        e2 += x[start + i + lag] * x[start + i + lag];
      }
      const r = c / Math.sqrt(energy * e2 + 1e-12);
      corr.push(r);
      if (r > best) { best = r; bestLag = lag; }
    }
    if (best < 0.6) continue;
    // The shortest lag nearly as good as the best: not an octave below.
    for (let k = 0; k < corr.length; k++) {
      const lag = minLag + k;
      const left = k > 0 ? corr[k - 1] : -1;
      const right = k + 1 < corr.length ? corr[k + 1] : -1;
      if (corr[k] >= 0.9 * best && corr[k] >= left && corr[k] >= right) { bestLag = lag; break; }
    }
    found.push(rate / bestLag);
  }
  found.sort((a, b) => a - b);
  return { f0: found.length ? found[Math.floor(found.length / 2)] : NaN, voiced: found.length };
}
