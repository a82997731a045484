// The panel's shell: the API client (session cookie + CSRF token), log in
// and out, a small router on location.hash and helpers the views share.
//
// A view is a module that calls registerView(); panel.html loads it as
// another <script type="module">. The router starts once the document
// is parsed, after every module has run, so views may register in any
// order. Routes look like "#queue?status=approved&country=BY": the view
// id, then its parameters.
//
// User text only ever reaches the page through text nodes (h(), or
// textContent): never innerHTML.
//
// Every word the panel shows comes from web/panel/i18n/<lang>.json
// through t() (the upload page's machinery, web/upload/i18n.js, with the
// units and region names of <lang>.json under it). The language is the
// user's choice, kept on their user (PUT /api/v1/preferences) and in the
// browser for the login form; a change re-renders the view.

export const session = { user: null, role: null, csrf: null };

const I = window.I18N;

/** The text of key in the panel's language, {name} filled from vars. */
export const t = (key, vars) => I.t(key, vars);
/** The panel's language now ("be"). */
export const lang = () => I.lang;

const views = [];
let current = null; // {view, cleanup}

// ---- DOM helpers ----------------------------------------------------------

/**
 * Creates element tag. attrs: class, text (textContent), hidden, on<Event>
 * (listeners), dataset keys as data-*, others as attributes (null or false
 * skips one). Children: nodes, or strings added as text; null is skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

// ---- formatting -----------------------------------------------------------

/** The flag emoji of an ISO 3166-1 alpha-2 code ("" if it is not one). */
export function flag(code) {
  if (!/^[A-Za-z]{2}$/.test(code || '')) return '';
  return String.fromCodePoint(...[...code.toUpperCase()].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

/** "just now", "5 min ago", "3 h ago", "2 d ago" from an ISO time. */
export function ago(iso, now = Date.now()) {
  if (!iso) return '';
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (s < 60) return t('ago_now');
  if (s < 3600) return t('ago_min', { n: Math.floor(s / 60) });
  if (s < 86400 * 2) return t('ago_h', { n: Math.floor(s / 3600) });
  return t('ago_d', { n: Math.floor(s / 86400) });
}

/** "1:05" from milliseconds. */
export function duration(ms) {
  if (ms === null || ms === undefined) return '';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function bytes(n) {
  if (n === null || n === undefined) return '';
  return I.bytes(n);
}

/** A local date and time from an ISO time, in the panel's language. */
export function when(iso) {
  return iso ? I.date(iso) : '';
}

/** A local day from an ISO time. */
export function day(iso) {
  return iso ? I.day(iso) : '';
}

/** A country's name in the panel's language (its code if none). */
export function country(code) {
  return (code && I.name('region', code)) || code || '';
}

/** A language's name in the panel's language (its tag if none). */
export function language(tag) {
  return (tag && I.name('language', tag)) || tag || '';
}

/** A status's name ("pending") in the panel's language. */
export function statusName(s) {
  return I.has(`status_${s}`) ? t(`status_${s}`) : s;
}

// ---- API ------------------------------------------------------------------

/**
 * Calls the API. Resolves {status, data, headers} (data: the parsed JSON
 * body, or null). State-changing requests carry the CSRF token. A 401 on
 * anything but the login itself means the session ended: the login form
 * comes back and the promise resolves as usual.
 */
export async function api(method, path, body, { keepalive = false } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let r;
  try {
    r = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store', keepalive,
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch {
    return { status: 0, data: { error: 'network', message: t('err_network') }, headers: new Headers() };
  }
  let data = null;
  if (r.status !== 204) {
    try { data = await r.json(); } catch { data = null; }
  }
  if (r.status === 401 && path !== '/api/v1/session' && session.user) {
    sessionEnded();
  }
  return { status: r.status, data, headers: r.headers };
}

/**
 * The words for a failed call: the panel's own for the errors it knows
 * by their code (err_<code> in the language file), else the server's
 * message as it came (it names the field and the rule), else a generic
 * one.
 */
export function errorText(res) {
  const d = res.data || {};
  if (d.error && I.has(`err_${d.error}`)) return t(`err_${d.error}`, { server: d.message || '' });
  return d.message || t('err_failed', { status: res.status });
}

// ---- toast ----------------------------------------------------------------

let toastTimer = 0;
/** Shows msg briefly in the live region; kind: "ok", "error" or "". */
export function toast(msg, kind = '') {
  const t = $('#toast');
  t.textContent = msg;
  t.className = `toast ${kind}`;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, kind === 'error' ? 8000 : 4000);
}

// ---- views and router -----------------------------------------------------

/**
 * Adds a view. spec: id (the hash), label (the key of its name in the
 * navigation), roles (who sees it), home (roles for which it is the
 * start page), nav (false: reached only by links, never listed in the
 * navigation), and render(main, params, route) which fills main and
 * returns a cleanup function (or nothing). route(params) navigates
 * within the view.
 */
export function registerView(spec) {
  views.push(spec);
  if (session.user) { renderNav(); route(); }
}

export function canModerate() {
  return session.role === 'moderator' || session.role === 'admin';
}

function allowed() {
  return views.filter((v) => v.roles.includes(session.role));
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  return { id: q < 0 ? raw : raw.slice(0, q), params: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

/** Navigates to view id with params (an object or URLSearchParams). */
export function go(id, params = {}) {
  const p = new URLSearchParams(params);
  for (const [k, v] of [...p]) if (v === '') p.delete(k);
  const s = p.toString();
  const hash = `#${id}${s ? `?${s}` : ''}`;
  if (location.hash === hash) route();
  else location.hash = hash;
}

function renderNav() {
  const nav = $('#nav');
  const { id } = parseHash();
  const list = allowed().filter((v) => v.nav !== false);
  nav.replaceChildren(...(list.length > 1 ? list.map((v) => h('a', {
    href: `#${v.id}`, 'aria-current': v.id === id ? 'page' : null, text: t(v.label),
  })) : []));
}

function route() {
  if (!session.user) return;
  const list = allowed();
  if (list.length === 0) return;
  let { id, params } = parseHash();
  let view = list.find((v) => v.id === id);
  if (!view) {
    view = list.find((v) => (v.home || []).includes(session.role)) || list.find((v) => v.nav !== false) || list[0];
    history.replaceState(null, '', `#${view.id}`);
    params = new URLSearchParams();
  }
  if (current && current.cleanup) current.cleanup();
  const main = $('#view');
  main.replaceChildren();
  main.dataset.view = view.id;
  renderNav();
  document.title = `${t(view.label)} · Chorus`;
  const cleanup = view.render(main, params, (p) => go(view.id, p));
  current = { view, cleanup };
}

window.addEventListener('hashchange', route);

// ---- session --------------------------------------------------------------

async function enter(data) {
  session.user = data.user;
  session.role = data.role;
  session.csrf = data.csrf_token;
  // The language the user chose, wherever they chose it.
  const prefs = await api('GET', '/api/v1/preferences');
  const saved = prefs.status === 200 && prefs.data.language;
  if (saved && saved !== I.lang && I.LANGS[saved]) {
    try { await I.use(saved); } catch { /* keep the one loaded */ }
  }
  if (saved) I.remember(saved);
  syncPickers();
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#who-name').textContent = data.user;
  showRole();
  route();
}

function showRole() {
  $('#who-role').textContent = session.role ? t(`role_${session.role}`) : '';
}

/** Another language: the page's words, and the user's choice kept. */
async function pickLanguage(next) {
  if (!I.LANGS[next]) return;
  I.remember(next);
  try { await I.use(next); } catch { toast(t('err_network'), 'error'); return; }
  syncPickers();
  showRole();
  if (session.user) {
    route();
    const res = await api('PUT', '/api/v1/preferences', { language: next });
    if (res.status !== 200 && res.status !== 401) toast(errorText(res), 'error');
  }
}

function syncPickers() {
  for (const sel of document.querySelectorAll('select.lang-pick')) sel.value = I.lang;
}

function showLogin(message = '') {
  if (current && current.cleanup) current.cleanup();
  current = null;
  session.user = session.role = session.csrf = null;
  $('#view').replaceChildren();
  $('#app').hidden = true;
  $('#login').hidden = false;
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  loginError(message);
  $('#login-user').focus();
}

function sessionEnded() {
  showLogin(t('login_ended'));
}

function loginError(msg) {
  const e = $('#login-error');
  e.textContent = msg;
  e.hidden = !msg;
}

let retryTimer = 0;
async function login(ev) {
  ev.preventDefault();
  const button = $('#login-submit');
  if (button.disabled) return;
  button.disabled = true;
  loginError('');
  const res = await api('POST', '/api/v1/session', {
    username: $('#login-user').value.trim().normalize('NFC'), password: $('#login-pass').value,
  });
  button.disabled = false;
  if (res.status === 200) {
    $('#login-pass').value = '';
    enter(res.data);
  } else if (res.status === 401) {
    loginError(t('login_wrong'));
    $('#login-pass').select();
  } else if (res.status === 429) {
    let wait = parseInt(res.headers.get('Retry-After'), 10) || 60;
    button.disabled = true;
    const tick = () => {
      if (wait <= 0) { button.disabled = false; loginError(''); return; }
      loginError(t('login_wait', { n: wait }));
      wait -= 1;
      retryTimer = setTimeout(tick, 1000);
    };
    clearTimeout(retryTimer);
    tick();
  } else {
    loginError(errorText(res));
  }
}

async function logout() {
  await api('DELETE', '/api/v1/session');
  history.replaceState(null, '', location.pathname);
  showLogin();
}

/** True if a modal dialog is open (views then leave keys alone). */
export function dialogOpen() {
  return document.querySelector('dialog[open]') !== null;
}

/** True if the key event is typing into a form control. */
export function typing(ev) {
  const t = ev.target;
  return t instanceof HTMLElement &&
    (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
}

function globalKeys(ev) {
  if (ev.key !== '?' || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev) || dialogOpen()) return;
  if (!session.user) return;
  ev.preventDefault();
  $('#help').showModal();
}

async function start() {
  await I.init(null, { dirs: ['i18n/', 'panel/i18n/'], key: 'chorus.panel.lang' }).catch(() => {});
  for (const sel of document.querySelectorAll('select.lang-pick')) {
    for (const [code, name] of Object.entries(I.LANGS)) {
      const o = new Option(name, code);
      o.lang = code;
      sel.add(o);
    }
    sel.addEventListener('change', () => pickLanguage(sel.value));
  }
  syncPickers();
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', logout);
  $('#help-open').addEventListener('click', () => $('#help').showModal());
  document.addEventListener('keydown', globalKeys);
  const res = await api('GET', '/api/v1/session');
  if (res.status === 200) enter(res.data);
  else showLogin(res.status === 401 ? '' : errorText(res));
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
