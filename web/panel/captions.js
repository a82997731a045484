// The caption editor (moderators, comms, admins): one clip's transcript
// in one language, at #captions?id=<message>&lang=<tag>. The video, the
// transcript's text, and its cues with their start and end times. A
// click on a cue plays the video from its start; the selected cue's
// start and end move by a tenth of a second from the keyboard ([ and ]
// its start, { and } its end; Alt+arrows do the same even while typing;
// Alt+Up/Down select the previous or next cue), as the page's own key
// list says. "Save" sends the cues as they are (PUT …/transcripts/{lang}
// {"cues"}); "Time the text" sends the text for Chorus to split and time
// over the speech it measured ({"text"}); "Start from the written
// message" does that with the contributor's own message, which itself
// never changes. Reached from the library's preview and the queue's
// detail; not in the navigation.
import { api, errorText, h, language, registerView, t, toast } from './panel.js';

const STEP = 0.1; // seconds a key moves a boundary
const MIN_CUE = 0.2; // the shortest cue the editor makes
const LANGS = ['be', 'ru', 'uk', 'en', 'pl'];

/** "0:01.25" from seconds. */
function clock(s) {
  const v = Math.max(0, s);
  const m = Math.floor(v / 60);
  return `${m}:${(v - m * 60).toFixed(2).padStart(5, '0')}`;
}

const round = (x) => Math.round(x * 1000) / 1000;

function render(main, params) {
  const id = params.get('id') || '';
  const st = {
    alive: true, msg: null, cues: [], sel: -1, dirty: false, lang: params.get('lang') || '', duration: 0, busy: false,
  };
  const enc = encodeURIComponent(id);
  const status = h('p', { class: 'cap-status', role: 'status', 'aria-live': 'polite' });
  const root = h('div', { class: 'captions' });
  main.append(root);

  if (!/^[A-Za-z0-9_-]{22}$/.test(id)) {
    root.append(h('h1', { text: t('cap_title') }), h('p', { class: 'empty', text: t('cap_no_clip') }));
    return () => {};
  }

  const video = h('video', {
    controls: true, preload: 'auto', playsinline: true, src: `/media/${enc}/video.mp4`, poster: `/media/${enc}/thumb.jpg`, id: 'cap-video',
  });
  const nowText = h('p', { class: 'cap-now', dir: 'auto', 'aria-live': 'off' });
  const langSel = h('select', { id: 'cap-lang' });
  const text = h('textarea', { id: 'cap-text', rows: '5', maxlength: '20000', dir: 'auto', spellcheck: 'true' });
  const list = h('ol', { class: 'cap-cues', id: 'cap-cues', 'aria-label': t('cap_cues') });
  const fromMsg = h('button', { type: 'button', class: 'btn', id: 'cap-from-message', onclick: () => timeText(st.msg && st.msg.message) }, t('cap_from_message'));
  const timeBtn = h('button', { type: 'button', class: 'btn', id: 'cap-time', onclick: () => timeText(text.value) }, t('cap_time_text'));
  const saveBtn = h('button', { type: 'button', class: 'btn primary', id: 'cap-save', onclick: () => save() }, t('cap_save'));
  const files = h('p', { class: 'cap-files' });
  const title = h('h1', { id: 'cap-h', text: t('cap_title') });
  const back = h('a', { class: 'btn small', href: '#', id: 'cap-back', onclick: (ev) => { ev.preventDefault(); history.back(); } }, `← ${t('cap_back')}`);

  const keys = h('dl', { class: 'keys cap-keys', id: 'cap-keys' },
    h('dt', {}, h('kbd', { text: '[' }), ' / ', h('kbd', { text: ']' })), h('dd', { text: t('cap_key_start') }),
    h('dt', {}, h('kbd', { text: '{' }), ' / ', h('kbd', { text: '}' })), h('dd', { text: t('cap_key_end') }),
    h('dt', {}, h('kbd', { text: 'Alt' }), '+', h('kbd', { text: '←' }), ' / ', h('kbd', { text: '→' })), h('dd', { text: t('cap_key_alt_start') }),
    h('dt', {}, h('kbd', { text: 'Alt' }), '+', h('kbd', { text: 'Shift' }), '+', h('kbd', { text: '←' }), ' / ', h('kbd', { text: '→' })), h('dd', { text: t('cap_key_alt_end') }),
    h('dt', {}, h('kbd', { text: 'Alt' }), '+', h('kbd', { text: '↑' }), ' / ', h('kbd', { text: '↓' })), h('dd', { text: t('cap_key_select') }),
    h('dt', {}, h('kbd', { text: 'Enter' })), h('dd', { text: t('cap_key_play') }));

  root.append(
    h('header', { class: 'cap-head' }, back, title),
    h('div', { class: 'cap-body' },
      h('div', { class: 'cap-media' }, video, nowText,
        h('section', { class: 'cap-help', 'aria-labelledby': 'cap-keys-h' },
          h('h2', { id: 'cap-keys-h', text: t('cap_keys') }), keys)),
      h('div', { class: 'cap-side' },
        h('div', { class: 'field' }, h('label', { for: 'cap-lang', text: t('cap_lang') }), langSel),
        h('div', { class: 'field' }, h('label', { for: 'cap-text', text: t('cap_text') }), text,
          h('p', { class: 'muted small', text: t('cap_text_hint') })),
        h('div', { class: 'row' }, timeBtn, fromMsg),
        h('h2', { text: t('cap_cues') }),
        h('p', { class: 'muted small', text: t('cap_cues_hint') }),
        list,
        h('div', { class: 'row' }, saveBtn, status),
        files)));

  // ---- loading ----
  async function load() {
    const [m, ts] = await Promise.all([api('GET', `/api/v1/messages/${enc}`), api('GET', `/api/v1/messages/${enc}/transcripts`)]);
    if (!st.alive) return;
    if (m.status !== 200) {
      root.replaceChildren(h('h1', { text: t('cap_title') }), h('p', { class: 'error', role: 'alert', text: errorText(m) }));
      return;
    }
    st.msg = m.data;
    st.duration = (m.data.duration_ms || 0) / 1000;
    title.textContent = t('cap_title_of', { name: m.data.name || t('anonymous') });
    document.title = `${t('cap_title')} · Chorus`;
    fromMsg.disabled = !m.data.message;
    fromMsg.title = m.data.message ? '' : t('no_message');
    const have = ts.status === 200 ? ts.data.items.map((x) => x.lang) : [];
    if (!st.lang) st.lang = have[0] || m.data.language || 'be';
    const tags = [...new Set([st.lang, ...have, m.data.language, ...LANGS].filter(Boolean))];
    langSel.replaceChildren(...tags.map((tag) => h('option', {
      value: tag, selected: tag === st.lang, text: `${language(tag)} (${tag})${have.includes(tag) ? ` ✓` : ''}`,
    })));
    await loadLang();
  }

  async function loadLang() {
    const r = await api('GET', `/api/v1/messages/${enc}/transcripts/${encodeURIComponent(st.lang)}`);
    if (!st.alive) return;
    if (r.status === 200) {
      setCues(r.data.cues);
      text.value = st.cues.map((c) => c.text.replace(/\n/g, ' ')).join(' ');
      say(t(r.data.timed_by === 'editor' ? 'cap_loaded_editor' : 'cap_loaded_chorus'));
    } else if (r.status === 404) {
      setCues([]);
      text.value = '';
      say(t('cap_none_yet'));
    } else {
      say(errorText(r), true);
    }
    st.dirty = false;
    showFiles();
  }

  function showFiles() {
    const saved = st.cues.length > 0 && !st.dirty;
    const base = `/api/v1/messages/${enc}/transcripts/${encodeURIComponent(st.lang)}`;
    files.replaceChildren(...(saved ? [t('cap_files'), ' ',
      h('a', { href: `${base}.vtt`, download: true, id: 'cap-vtt', text: 'WebVTT' }), ' · ',
      h('a', { href: `${base}.srt`, download: true, id: 'cap-srt', text: 'SRT' })] : []));
  }

  function say(msg, error = false) {
    status.textContent = msg;
    status.classList.toggle('error', error);
  }

  // ---- the cues ----
  function setCues(cues) {
    st.cues = (Array.isArray(cues) ? cues : []).map((c) => ({ start: Number(c.start), end: Number(c.end), text: String(c.text || '') }));
    st.sel = st.cues.length ? Math.min(Math.max(st.sel, 0), st.cues.length - 1) : -1;
    renderCues();
  }

  function renderCues() {
    list.replaceChildren(...st.cues.map((c, i) => cueItem(c, i)));
    if (!st.cues.length) list.append(h('li', { class: 'muted empty-cue', text: t('cap_no_cues') }));
  }

  function cueItem(c, i) {
    const input = h('input', {
      class: 'cue-text', value: c.text.replace(/\n/g, ' '), maxlength: '300', dir: 'auto',
      'aria-label': t('cap_cue_text', { n: i + 1 }),
      oninput: (ev) => { c.text = ev.target.value; changed(); },
      onfocus: () => select(i, false),
    });
    return h('li', {
      class: `cue${i === st.sel ? ' selected' : ''}`, dataset: { i: String(i) }, 'aria-current': i === st.sel ? 'true' : null,
      onclick: (ev) => { if (ev.target !== input) { select(i, true); } },
    },
    h('button', { type: 'button', class: 'cue-play', title: t('cap_play_from'), 'aria-label': t('cap_play_cue', { n: i + 1 }) },
      h('span', { class: 'cue-n', text: String(i + 1) }), ' ▶'),
    h('span', { class: 'cue-times' },
      h('span', { class: 'cue-start', title: t('cap_start'), text: clock(c.start) }), ' – ',
      h('span', { class: 'cue-end', title: t('cap_end'), text: clock(c.end) })),
    input);
  }

  /** Selects cue i; with play, plays the video from its start. */
  function select(i, play) {
    if (i < 0 || i >= st.cues.length) return;
    if (st.sel !== i) {
      const old = list.querySelector('li.cue.selected');
      if (old) { old.classList.remove('selected'); old.removeAttribute('aria-current'); }
      st.sel = i;
      const li = list.children[i];
      if (li) { li.classList.toggle('selected', true); li.setAttribute('aria-current', 'true'); }
    }
    if (play) {
      video.currentTime = st.cues[i].start;
      const p = video.play();
      if (p && p.catch) p.catch(() => {});
    }
  }

  function changed() {
    st.dirty = true;
    say(t('cap_unsaved'));
    showFiles();
  }

  /** Moves the selected cue's start (edge 'start') or end by delta s,
   * kept inside its neighbours and the clip. */
  function nudge(edge, delta) {
    const i = st.sel;
    const c = st.cues[i];
    if (!c) return;
    const prevEnd = i > 0 ? st.cues[i - 1].end : 0;
    const nextStart = i + 1 < st.cues.length ? st.cues[i + 1].start : (st.duration || Infinity);
    if (edge === 'start') c.start = round(Math.min(Math.max(c.start + delta, prevEnd), c.end - MIN_CUE));
    else c.end = round(Math.max(Math.min(c.end + delta, nextStart), c.start + MIN_CUE));
    const li = list.children[i];
    if (li) {
      li.querySelector('.cue-start').textContent = clock(c.start);
      li.querySelector('.cue-end').textContent = clock(c.end);
    }
    changed();
    say(t(edge === 'start' ? 'cap_moved_start' : 'cap_moved_end', { n: i + 1, t: clock(edge === 'start' ? c.start : c.end) }));
  }

  function onKey(ev) {
    if (!st.alive || document.querySelector('dialog[open]')) return;
    const tgt = ev.target;
    const inText = tgt instanceof HTMLElement && (tgt.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(tgt.tagName));
    if (ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
        ev.preventDefault();
        nudge(ev.shiftKey ? 'end' : 'start', ev.key === 'ArrowLeft' ? -STEP : STEP);
      } else if (ev.key === 'ArrowUp' || ev.key === 'ArrowDown') {
        ev.preventDefault();
        select(st.sel + (ev.key === 'ArrowUp' ? -1 : 1), true);
      }
      return;
    }
    if (inText || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const map = { '[': ['start', -STEP], ']': ['start', STEP], '{': ['end', -STEP], '}': ['end', STEP] };
    if (map[ev.key]) {
      ev.preventDefault();
      nudge(...map[ev.key]);
    } else if (ev.key === 'Enter' && tgt instanceof HTMLElement && tgt.closest('li.cue')) {
      ev.preventDefault();
      select(Number(tgt.closest('li.cue').dataset.i), true);
    }
  }

  // The cue being said is shown under the video and marked in the list.
  function onTime() {
    const now = video.currentTime;
    const i = st.cues.findIndex((c) => now >= c.start && now < c.end);
    nowText.textContent = i >= 0 ? st.cues[i].text : '';
    for (const li of list.children) li.classList.toggle('playing', Number(li.dataset.i) === i);
  }

  // ---- saving ----
  async function put(body) {
    if (st.busy) return null;
    st.busy = true;
    for (const b of [saveBtn, timeBtn, fromMsg]) b.disabled = true;
    const r = await api('PUT', `/api/v1/messages/${enc}/transcripts/${encodeURIComponent(st.lang)}`, body);
    st.busy = false;
    saveBtn.disabled = timeBtn.disabled = false;
    fromMsg.disabled = !(st.msg && st.msg.message);
    if (!st.alive) return null;
    if (r.status !== 200) {
      if (r.status !== 401) say(errorText(r), true);
      return null;
    }
    setCues(r.data.cues);
    st.dirty = false;
    showFiles();
    const o = [...langSel.options].find((x) => x.value === st.lang);
    if (o && !o.textContent.endsWith('✓')) o.textContent += ' ✓';
    return r;
  }

  async function save() {
    if (!st.cues.length) { say(t('cap_no_cues'), true); return; }
    const r = await put({ cues: st.cues.map((c) => ({ start: c.start, end: c.end, text: c.text })) });
    if (r) { say(t('cap_saved')); toast(t('cap_saved'), 'ok'); }
  }

  async function timeText(words) {
    const s = (words || '').trim();
    if (!s) { say(t('cap_text_empty'), true); text.focus(); return; }
    text.value = s;
    const r = await put({ text: s });
    if (r) { say(t('cap_timed', { n: st.cues.length })); toast(t('cap_saved'), 'ok'); }
  }

  langSel.addEventListener('change', () => {
    if (st.dirty && !window.confirm(t('cap_discard'))) { langSel.value = st.lang; return; }
    st.lang = langSel.value;
    history.replaceState(null, '', `#captions?${new URLSearchParams({ id, lang: st.lang })}`);
    loadLang();
  });
  video.addEventListener('loadedmetadata', () => { if (video.duration) st.duration = video.duration; });
  video.addEventListener('timeupdate', onTime);
  video.addEventListener('seeked', onTime);
  document.addEventListener('keydown', onKey);
  load();

  return () => {
    st.alive = false;
    document.removeEventListener('keydown', onKey);
    video.pause();
  };
}

/** Where a clip's caption editor is, for the other views' links. */
export function captionsHref(id, lang = '') {
  const p = new URLSearchParams({ id });
  if (lang) p.set('lang', lang);
  return `#captions?${p}`;
}

registerView({ id: 'captions', label: 'nav_captions', roles: ['moderator', 'comms', 'admin'], nav: false, render });
