/*
 * Chorus page strings: web/i18n/<lang>.json, one flat object of keys.
 * "_dir" gives the writing direction ("rtl" for Arabic, Hebrew...),
 * "_decimal" the decimal sign, "u_*" the units. Country and language
 * names come from the browser (Intl.DisplayNames) unless the file has
 * its own "_regions" and "_languages" (be.json does: Chromium has no
 * Belarusian data). To add a language: copy en.json, translate it, add
 * one line to LANGS. Elements carry data-i18n="key" (text) or
 * data-i18n-label="key" (aria-label), data-i18n-title="key" (title),
 * data-i18n-placeholder="key"; their English text stays in the HTML for
 * pages without JavaScript. Shared by / and /receipt, and by the panel,
 * which loads web/panel/i18n/<lang>.json over web/i18n/<lang>.json (its
 * own strings over the units and names) and keeps the choice on the
 * user: init(select, {dirs: ['i18n/', 'panel/i18n/'], key, onPick}).
 */
'use strict';
window.I18N = (function () {
  const LANGS = {
    en: 'English',
    ru: 'Русский',
    be: 'Беларуская',
    uk: 'Українська',
  };
  let KEY = 'chorus.lang';
  let DIRS = ['i18n/'];
  let lang = 'en';
  let dict = {};
  const listeners = [];

  /* The saved choice, else the browser's first language we have. */
  function choose() {
    let saved = null;
    try { saved = localStorage.getItem(KEY); } catch (e) { /* private mode */ }
    if (saved && LANGS[saved]) return saved;
    for (const tag of navigator.languages || [navigator.language || 'en']) {
      const base = String(tag).toLowerCase().split('-')[0];
      if (LANGS[base]) return base;
    }
    return 'en';
  }

  /* The text for key with {name} placeholders filled from vars. */
  function t(key, vars) {
    let s = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    return s;
  }

  function apply() {
    const root = document.documentElement;
    root.lang = lang;
    root.dir = dict._dir === 'rtl' ? 'rtl' : 'ltr';
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll('[data-i18n-label]')) {
      el.setAttribute('aria-label', t(el.dataset.i18nLabel));
    }
    for (const el of document.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
    for (const el of document.querySelectorAll('[data-i18n-placeholder]')) {
      el.placeholder = t(el.dataset.i18nPlaceholder);
    }
  }

  /* One language file (its path under /static/), trying again on a bad
   * network. */
  async function load(file) {
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`/static/${file}.json`);
        if (!r.ok) throw new Error(`i18n ${file}: ${r.status}`);
        return await r.json();
      } catch (e) {
        if (i >= 3) throw e;
        await new Promise((ok) => setTimeout(ok, 1000 * (i + 1)));
      }
    }
  }

  /* Loads lang's strings (its files merged, in order) and applies them. */
  async function use(next) {
    const parts = await Promise.all(DIRS.map((d) => load(`${d}${next}`)));
    dict = Object.assign({}, ...parts);
    lang = next;
    apply();
    if (picker) picker.value = lang;
    for (const fn of listeners) fn(lang);
  }

  /* Remembers lang in this browser (the panel keeps it on the user too). */
  function remember(next) {
    try { localStorage.setItem(KEY, next); } catch (e) { /* private mode */ }
  }

  let picker = null;

  /* Fills the picker, loads the chosen language. opts: dirs (the folders
   * under /static/ whose <lang>.json are merged, in order; default
   * ['i18n/']), key (localStorage), onPick(lang) when the user picks one. */
  async function init(select, opts = {}) {
    if (opts.dirs) DIRS = opts.dirs;
    if (opts.key) KEY = opts.key;
    picker = select || null;
    if (select) {
      for (const [code, name] of Object.entries(LANGS)) {
        const o = new Option(name, code);
        o.lang = code;
        select.add(o);
      }
      select.closest('[hidden]')?.removeAttribute('hidden');
      select.addEventListener('change', () => {
        remember(select.value);
        use(select.value).then(() => opts.onPick && opts.onPick(select.value)).catch(() => {});
      });
    }
    const first = choose();
    if (select) select.value = first;
    try {
      await use(first);
    } catch (e) {
      if (first !== 'en') await use('en');
    }
  }

  /* Numbers and units come from the language file ("u_mb": "{n} MB"),
   * not from Intl: browsers lack some languages' data (Chromium has no
   * Belarusian), and short units need no plural rules. */
  function unit(key, x, digits = 0) {
    const n = String(Number(x.toFixed(digits))).replace('.', dict._decimal || '.');
    return t(key, { n }).replace(' ', '\u00a0');
  }

  /* 4.2 MB */
  function bytes(n) {
    for (const [key, size] of [['u_gb', 1e9], ['u_mb', 1e6], ['u_kb', 1e3]]) {
      if (n >= size) return unit(key, n / size, n >= 10 * size ? 0 : 1);
    }
    return unit('u_b', n);
  }

  /* m:ss (or h:mm:ss) */
  function clock(s) {
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
  }

  /* A duration for reading: 12 s, 3 min, 1.5 h. */
  function duration(s) {
    s = Math.max(1, Math.round(s));
    if (s < 90) return unit('u_s', s);
    if (s < 5400) return unit('u_min', s / 60);
    return unit('u_h', s / 3600, 1);
  }

  const speed = (bps) => (bps >= 1e6 ? unit('u_mbps', bps / 1e6, 1) : unit('u_kbps', bps / 1e3));

  const percent = (f) => unit('u_pct', Math.floor(f * 100));

  const knows = (api) => api && api.supportedLocalesOf([lang]).length > 0;

  function date(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    if (knows(Intl.DateTimeFormat)) {
      return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
    }
    const p = (n) => String(n).padStart(2, '0');
    return `${p(d.getDate())}.${p(d.getMonth() + 1)}.${d.getFullYear()}, ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  /* The day alone: 1 Dec 2026, 01.12.2026. */
  function day(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    if (knows(Intl.DateTimeFormat)) return new Intl.DateTimeFormat(lang, { dateStyle: 'medium' }).format(d);
    const p = (n) => String(n).padStart(2, '0');
    return `${p(d.getDate())}.${p(d.getMonth() + 1)}.${d.getFullYear()}`;
  }

  const namers = {};

  /* A region or language name in the page's language: from the language
   * file ("_regions", "_languages") or the browser; null if neither. */
  function name(type, code) {
    const own = dict[type === 'region' ? '_regions' : '_languages'];
    if (own) return own[code] || null;
    if (!knows(Intl.DisplayNames)) return null;
    try {
      const k = `${lang} ${type}`;
      namers[k] = namers[k] || new Intl.DisplayNames([lang], { type, fallback: 'none' });
      return namers[k].of(code) || null;
    } catch (e) {
      return null; // a code this browser does not know
    }
  }

  return {
    init, use, t, apply, bytes, clock, duration, speed, percent, date, day, name, remember,
    has: (key) => Object.prototype.hasOwnProperty.call(dict, key),
    onChange: (fn) => listeners.push(fn),
    get lang() { return lang; },
    LANGS,
  };
}());
