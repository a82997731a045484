// Identity protection end to end: the choice travels in tus metadata and
// in the form (once per checkbox), is checked, stored and shown on the
// receipt; a real job applies it inside the sandbox; the panel lists it,
// serves the contact sheet, flags a blur to check, and a rejection for
// "protection failed" makes the receipt offer to send the clip again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import {
  assertNoSanitizerReport, chorus, removeDir, startChorus, tempDir,
} from '../lib/chorus.mjs';
import { makeClip, makeFaceClip, sendTus, sql, waitStatus } from '../lib/fixtures.mjs';
import { addUser, loggedIn } from '../lib/panel.mjs';

const dir = tempDir('chorus-protect-http-');
after(() => removeDir(dir));

const META = { consent: 'yes', consent_version: '2026-11', country: 'BY', language: 'be' };

/** A multipart POST of file with fields, "protect" once per value. */
async function sendForm(url, file, fields, protect) {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...META, ...fields })) form.append(k, v);
  for (const p of protect) form.append('protect', p);
  form.append('video', new Blob([readFileSync(file)]), 'clip.mp4');
  const r = await fetch(`${url}/api/v1/messages`, { method: 'POST', body: form });
  return { status: r.status, body: await r.json() };
}

async function receipt(url, token) {
  const r = await fetch(`${url}/api/v1/receipt`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return r.json();
}

test('protect: checked at upload, stored, applied in the sandbox, shown to moderators and on the receipt', async () => {
  const face = makeFaceClip(path.join(dir, 'face.mp4'), { seconds: 3 });
  const plain = makeClip(path.join(dir, 'plain.mp4'));
  const s = await startChorus({ args: ['--workers', '1'] });
  try {
    // Unknown protections are refused, naming the field, before a byte.
    const bad = await sendForm(s.url, plain, {}, ['blur_faces', 'hide_me']);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'protect');

    // The form's checkboxes; tus's comma list.
    const blurred = await sendForm(s.url, face, { name: 'Алеся' }, ['voice', 'blur_faces']);
    assert.equal(blurred.status, 201, JSON.stringify(blurred.body));
    const card = await sendTus(s.url, readFileSync(plain),
      { protect: 'no_video', name: 'Алеся', organization: 'БНП' });
    const none = await sendTus(s.url, readFileSync(plain), {});
    assert.equal(sql(s.dataDir, `SELECT protect FROM messages WHERE id = '${blurred.body.id}'`), 'blur_faces,voice');
    assert.equal(sql(s.dataDir, `SELECT protect FROM messages WHERE id = '${card.id}'`), 'no_video');
    assert.equal(sql(s.dataDir, `SELECT protect IS NULL FROM messages WHERE id = '${none.id}'`), '1');
    assert.deepEqual((await receipt(s.url, blurred.body.receipt)).protect, ['blur_faces', 'voice']);
    assert.deepEqual((await receipt(s.url, none.receipt)).protect, []);

    for (const id of [blurred.body.id, card.id, none.id]) {
      assert.equal(await waitStatus(s.dataDir, id, ['pending', 'failed'], 120000), 'pending',
        sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id = '${id}'`));
    }
    const pw = addUser(s.dataDir, 'mod', 'moderator');
    const mod = await loggedIn(s.url, 'mod', pw);
    const list = await mod.get('/api/v1/messages?status=pending');
    const item = (id) => list.body.items.find((m) => m.id === id);
    assert.deepEqual(item(blurred.body.id).protect, ['blur_faces', 'voice']);
    assert.equal(item(blurred.body.id).check_protection, false);
    assert.deepEqual(item(none.id).protect, []);
    // A plain clip has no sheet; a protected one has, after the sandboxed
    // job made it from the protected frames.
    assert.equal((await mod.get(`/media/${none.id}/sheet.jpg`)).status, 404);
    for (const id of [blurred.body.id, card.id]) {
      const r = await mod.get(`/media/${id}/sheet.jpg`, { raw: true });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'image/jpeg');
      const jpeg = Buffer.from(await r.arrayBuffer());
      assert.equal(jpeg.readUInt16BE(0), 0xffd8, 'a JPEG');
    }
    const detail = await mod.get(`/api/v1/messages/${blurred.body.id}`);
    assert.deepEqual(detail.body.protect, ['blur_faces', 'voice']);
    assert.equal(detail.body.check_protection, false);
    assert.ok(detail.body.facts.protection.blur_faces.runs_with_faces > 0, JSON.stringify(detail.body.facts.protection));
    assert.equal(detail.body.facts.output.sheet.frames, 9);
    // The voice's amounts are in no fact a moderator (or a copy of the
    // database) can read.
    assert.doesNotMatch(sql(s.dataDir, `SELECT facts FROM messages WHERE id = '${blurred.body.id}'`), /rubberband/);

    // A rejection with a code it does not know is refused; "protection
    // failed" is taken, and the receipt then offers to send it again.
    const wrong = await mod.post(`/api/v1/messages/${card.id}/reject`, { reason: 'x', code: 'nope' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'bad_code');
    const noCodeOnApprove = await mod.post(`/api/v1/messages/${none.id}/approve`, { code: 'protection_failed' });
    assert.equal(noCodeOnApprove.status, 400);
    const rej = await mod.post(`/api/v1/messages/${card.id}/reject`,
      { reason: 'Protection failed: a face shows at 0:02', code: 'protection_failed' });
    assert.equal(rej.status, 200, JSON.stringify(rej.body));
    const rc = await receipt(s.url, card.receipt);
    assert.equal(rc.status, 'not_published');
    assert.equal(rc.resend, true);
    assert.equal((await mod.get(`/api/v1/messages/${card.id}`)).body.decision_code, 'protection_failed');
    // Another reason: no such offer.
    assert.equal((await mod.post(`/api/v1/messages/${blurred.body.id}/reject`, { reason: 'Off-topic' })).status, 200);
    assert.equal((await receipt(s.url, blurred.body.receipt)).resend, false);
    // Withdrawn: the sheet goes with the video and the thumbnail.
    assert.ok(existsSync(path.join(s.dataDir, 'media', card.id, 'sheet.jpg')));
    const w = await fetch(`${s.url}/api/v1/receipt`, { method: 'DELETE', headers: { Authorization: `Bearer ${card.receipt}` } });
    assert.equal(w.status, 200);
    assert.equal(existsSync(path.join(s.dataDir, 'media', card.id)), false, 'the media directory is gone');
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  }
});

test('blur_faces on a clip without a face: the list and the detail say to check it', async () => {
  const plain = makeClip(path.join(dir, 'noface.mp4'));
  const s = await startChorus({ args: ['--workers', '1'] });
  try {
    const m = await sendTus(s.url, readFileSync(plain), { protect: 'blur_faces' });
    assert.equal(await waitStatus(s.dataDir, m.id, ['pending', 'failed'], 120000), 'pending');
    const pw = addUser(s.dataDir, 'mod', 'moderator');
    const mod = await loggedIn(s.url, 'mod', pw);
    const list = await mod.get('/api/v1/messages?status=pending');
    assert.equal(list.body.items.find((x) => x.id === m.id).check_protection, true);
    const detail = await mod.get(`/api/v1/messages/${m.id}`);
    assert.equal(detail.body.check_protection, true);
    assert.equal(detail.body.facts.protection.check, true);
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  }
});

test('a no_video card takes its campaign\'s accent colour', async () => {
  const plain = makeClip(path.join(dir, 'plain2.mp4'));
  const s = await startChorus({ args: ['--workers', '1'] });
  try {
    const add = chorus(['campaign', 'add', 'blue', '--data-dir', s.dataDir, '--title', 'Blue',
      '--consent-text', 'I agree.', '--accent', '#1060c0']);
    assert.equal(add.status, 0, add.stderr);
    const c = await (await fetch(`${s.url}/api/v1/campaigns/blue`)).json();
    const card = await sendTus(s.url, readFileSync(plain),
      { protect: 'no_video', campaign: 'blue', consent_version: c.consent_version, name: 'Алеся' });
    assert.equal(await waitStatus(s.dataDir, card.id, ['pending', 'failed'], 120000), 'pending',
      sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id = '${card.id}'`));
    // The card's ground, away from the text and the waveform: a corner.
    const rgb = spawnSync('ffmpeg', ['-v', 'error', '-i', path.join(s.dataDir, 'media', card.id, 'video.mp4'),
      '-frames:v', '1', '-vf', 'crop=16:16:0:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 20 });
    assert.equal(rgb.status, 0, String(rgb.stderr));
    const px = [0, 1, 2].map((k) => {
      let sum = 0;
      for (let i = k; i < rgb.stdout.length; i += 3) sum += rgb.stdout[i];
      return sum / (rgb.stdout.length / 3);
    });
    for (const [got, want] of px.map((v, k) => [v, [0x10, 0x60, 0xc0][k]])) {
      assert.ok(Math.abs(got - want) < 20, `corner colour ${px.map(Math.round)} is not #1060c0`);
    }
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  }
});
