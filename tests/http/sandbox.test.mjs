// The transcoding child's sandbox: inside it a job cannot open a network
// connection, run a program, start a process or open any file (the
// database least of all, for reading or writing), and it holds no
// descriptor but stdio, its report pipe, its input and its two outputs.
// The self-test (CHORUS_SANDBOX_PROBE) makes a real job's child try,
// after entering the sandbox exactly as every job does; the job then
// fails cleanly with what happened, and the server goes on.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';

import { assertNoSanitizerReport, chorus, removeDir, startChorus, tempDir } from '../lib/chorus.mjs';
import { makeClip, sendMessage, sql, waitStatus } from '../lib/fixtures.mjs';

const dir = tempDir('chorus-sandbox-');
after(() => removeDir(dir));

test('a job child that tries to connect, exec, fork, read the database or write is refused, and its job fails cleanly', async () => {
  const clip = makeClip(path.join(dir, 'clip.mp4'));
  const s = await startChorus({
    args: ['--workers', '1'],
    env: { CHORUS_SANDBOX_PROBE: 'connect,exec,fork,read,write,fds' },
  });
  try {
    const { id } = await sendMessage(s.url, clip);
    assert.equal(await waitStatus(s.dataDir, id, ['failed', 'pending'], 60000), 'failed');
    const reason = sql(s.dataDir, `SELECT failure_reason FROM messages WHERE id = '${id}'`);
    assert.match(reason, /connect refused \(Operation not permitted\)/, reason);
    assert.match(reason, /exec refused \(Operation not permitted\)/, reason);
    assert.match(reason, /a new process refused \(Operation not permitted\)/, reason);
    assert.match(reason, /opening a file for reading refused \(Operation not permitted\)/, reason);
    assert.match(reason, /opening a file for writing refused \(Operation not permitted\)/, reason);
    assert.doesNotMatch(reason, /ALLOWED/, reason);
    // stdin, stdout, stderr, the report pipe, input, video and thumbnail:
    // no more.
    assert.match(reason, /descriptors: 0 1 2 3 \d+ \d+ \d+;/, reason);
    // A clean failure: not retried, nothing left behind, all else intact.
    assert.equal(sql(s.dataDir, `SELECT state || ' ' || attempts FROM jobs WHERE message_id = '${id}'`), 'failed 1');
    assert.equal(sql(s.dataDir, 'PRAGMA integrity_check'), 'ok');
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0);
    assertNoSanitizerReport(r.log);
  }
  const v = chorus(['audit', 'verify', '--data-dir', s.dataDir]);
  assert.equal(v.status, 0);
});
