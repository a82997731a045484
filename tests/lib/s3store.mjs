// A real S3 object store for the tests: OpenStack Swift's s3api from
// Debian's packages on 127.0.0.1, started and stopped with the shared
// scripts (start-s3.sh installs what is missing; real SigV4 checks).
//
//   const store = startS3();            // {skip: why} where it cannot start
//   store.args(prefix)                  // chorus's --storage flags
//   store.env                           // AWS_ACCESS_KEY_ID / _SECRET_
//   store.list(prefix)                  // every key under prefix
//   store.get(key, range)               // {status, body: Buffer}
//   store.stop()
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The shared start and stop scripts: CHORUS_S3_SCRIPTS, or the team's
// shared folder beside the checkout (../shared/s3), or the usual place.
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const SCRIPTS = [process.env.CHORUS_S3_SCRIPTS, path.join(ROOT, '../shared/s3'), '/work/shared/s3']
  .find((d) => d && existsSync(path.join(d, 'start-s3.sh'))) || '';
// Colon-free: the curl program's --user splits at the first colon
// (start-s3.sh maps it to tempauth's account:user).
const ACCESS_KEY = 'AKIDCHORUS';
const SECRET = 'chorus-test-secret';
const BUCKET = 'chorus-test';

/** A signed request with the curl program's own SigV4. */
function curl(store, method, pathAndQuery, { range, secret = store.secret } = {}) {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-X', method,
    '--aws-sigv4', `aws:amz:${store.region}:s3`, '--user', `${store.accessKey}:${secret}`,
    '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD'];
  if (range) args.push('-H', `Range: bytes=${range}`);
  const r = spawnSync('curl', [...args, `${store.endpoint}${pathAndQuery}`], { maxBuffer: 1 << 28 });
  const out = r.stdout || Buffer.alloc(0);
  const nl = out.lastIndexOf(0x0a);
  return { status: Number(out.subarray(nl + 1).toString()), body: out.subarray(0, nl) };
}

/** Starts a store in a new directory; {skip} with the reason if it cannot. */
export function startS3() {
  if (!SCRIPTS) {
    return { skip: 'no object store: start-s3.sh is in neither CHORUS_S3_SCRIPTS, ../shared/s3 nor /work/shared/s3', noScripts: true };
  }
  const script = path.join(SCRIPTS, 'start-s3.sh');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chorus-s3-'));
  const r = spawnSync(script, [dir], {
    encoding: 'utf8', timeout: 300000,
    env: { ...process.env, S3_ACCESS_KEY: ACCESS_KEY, S3_SECRET_KEY: SECRET, S3_BUCKET: BUCKET },
  });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `the object store could not start: ${(r.stderr || String(r.error)).trim().slice(-600)}` };
  }
  const vars = Object.fromEntries(r.stdout.trim().split('\n').map((l) => {
    const i = l.indexOf('=');
    return [l.slice(0, i), l.slice(i + 1).replace(/^"|"$/g, '')];
  }));
  const store = {
    dir, endpoint: vars.S3_ENDPOINT, region: vars.S3_REGION, bucket: vars.S3_BUCKET,
    accessKey: vars.S3_ACCESS_KEY, secret: vars.S3_SECRET_KEY,
    pids: vars.S3_PIDS.split(/\s+/).filter(Boolean).map(Number),
    env: { AWS_ACCESS_KEY_ID: vars.S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: vars.S3_SECRET_KEY },
    /** The flags of a chorus whose media live under prefix. */
    args(prefix = 'chorus') {
      return ['--storage', `s3://${store.bucket}/${prefix}`, '--s3-endpoint', store.endpoint,
        '--s3-region', store.region, '--s3-path-style'];
    },
    /** Every key in the bucket under prefix (ListObjectsV2, all pages). */
    list(prefix = '') {
      const keys = [];
      let token = '';
      for (;;) {
        const q = `${token ? `continuation-token=${encodeURIComponent(token)}&` : ''}list-type=2&prefix=${encodeURIComponent(prefix)}`;
        const res = curl(store, 'GET', `/${store.bucket}?${q}`);
        const body = res.body.toString();
        if (res.status !== 200) throw new Error(`list ${prefix}: ${res.status} ${body}`);
        for (const m of body.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(m[1].replace(/&amp;/g, '&'));
        const t = /<NextContinuationToken>([^<]*)</.exec(body);
        if (!t || !/<IsTruncated>true/.test(body)) return keys.sort();
        token = t[1];
      }
    },
    /** GET of one object (a range "a-b" if given). */
    get(key, range) { return curl(store, 'GET', `/${store.bucket}/${key}`, { range }); },
    /** Freezes (SIGSTOP) or thaws (SIGCONT) the store's processes. */
    signal(sig) {
      for (const pid of store.pids) {
        try { process.kill(pid, sig); } catch { /* gone */ }
      }
    },
    stop() {
      store.signal('SIGCONT');
      spawnSync(path.join(SCRIPTS, 'stop-s3.sh'), [dir], { stdio: 'ignore', timeout: 60000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return store;
}
