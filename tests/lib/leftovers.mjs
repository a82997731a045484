// What a contributor gave must not survive a withdrawal or a purge: this
// looks for it in every file of a data directory (the database, its -wal
// and -shm, the key and head, uploads, media...) and in a log, as bytes
// (UTF-8, so Cyrillic too) and through `strings -a`, as the issue asks.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every regular file under dir. */
export function filesUnder(dir) {
  const out = [];
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const f = path.join(dir, name);
    const st = statSync(f, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) out.push(...filesUnder(f));
    else if (st.isFile()) out.push(f);
  }
  return out;
}

/**
 * The secrets found: [{where, secret}] for each file under dataDir (and
 * the log text, where 'log'), empty if none. A secret is found if its
 * UTF-8 bytes are anywhere in the file, or in what `strings -a` prints.
 */
export function leftovers(dataDir, log, secrets) {
  const found = [];
  for (const f of filesUnder(dataDir)) {
    const bytes = readFileSync(f);
    const strings = spawnSync('strings', ['-a', '-n', '4', f], { encoding: 'latin1', maxBuffer: 1 << 28 }).stdout || '';
    for (const s of secrets) {
      if (bytes.includes(Buffer.from(s, 'utf8')) || strings.includes(s)) found.push({ where: f, secret: s });
    }
  }
  for (const s of secrets) if (log.includes(s)) found.push({ where: 'log', secret: s });
  return found;
}

/** Bytes in the database's WAL (0 when it was checkpointed and truncated). */
export function walSize(dataDir) {
  const st = statSync(path.join(dataDir, 'chorus.db-wal'), { throwIfNoEntry: false });
  return st ? st.size : 0;
}
