// A logged-in panel client for black-box tests: keeps the session
// cookie and the CSRF token like the panel page does.
import assert from 'node:assert/strict';

import { chorus } from './chorus.mjs';

/** Adds a user with the CLI; returns its password. */
export function addUser(dataDir, name, role) {
  const password = `${name}-long-password`;
  const r = chorus(['user', 'add', name, '--role', role, '--data-dir', dataDir], { input: `${password}\n` });
  assert.equal(r.status, 0, r.stderr);
  return password;
}

export class Client {
  constructor(url) { this.url = url; this.cookie = null; this.csrf = null; }

  /** Logs in; resolves the response (200 or not). */
  async login(username, password) {
    const r = await fetch(`${this.url}/api/v1/session`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const setCookie = r.headers.get('set-cookie');
    const body = await r.json();
    if (r.status === 200) {
      this.cookie = /chorus_session=([^;]+)/.exec(setCookie)[1];
      this.csrf = body.csrf_token;
    }
    return { status: r.status, body, headers: r.headers, setCookie };
  }

  /** A request with the session (and CSRF unless csrf: false). */
  async req(method, path, { json, csrf = true, headers = {}, raw = false } = {}) {
    const h = { ...headers };
    if (this.cookie) h.Cookie = `chorus_session=${this.cookie}`;
    if (csrf && this.csrf && method !== 'GET' && method !== 'HEAD') h['X-CSRF-Token'] = this.csrf;
    if (json !== undefined) h['Content-Type'] = 'application/json';
    const r = await fetch(`${this.url}${path}`, {
      method, headers: h, body: json !== undefined ? JSON.stringify(json) : undefined,
    });
    if (raw) return r;
    const text = await r.text();
    let body = null;
    try { body = JSON.parse(text); } catch { body = text; }
    return { status: r.status, body, headers: r.headers };
  }

  get(path, opts) { return this.req('GET', path, opts); }
  post(path, json, opts = {}) { return this.req('POST', path, { json, ...opts }); }
}

/** Logs name in; throws unless it worked. */
export async function loggedIn(url, name, password) {
  const c = new Client(url);
  const r = await c.login(name, password);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return c;
}
