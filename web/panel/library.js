// The comms team's Library: approved clips as a grid of cards (consent
// scope on every card), filters and search, a selection downloaded as one
// ZIP, everything matching the filters as one ZIP, one clip at a time, a
// preview dialog with the player and the reshare marks (and a form to add
// one), and "Withdrawn after use": withdrawn clips the team had exported
// or reshared, with where they were posted, so the posts come down: each
// post is marked taken down as it goes (a clip only downloaded is marked
// done as a whole), and the tab counts only what is left.
// Keyboard: Tab through the cards (select, preview, download), / search,
// Esc closes the preview. The list refreshes quietly: a clip withdrawn by
// its contributor leaves the grid (and the selection) within POLL_MS.
// The cards are sized for scanning: a thumbnail of one height whatever
// the clip's shape, who, where, how long, the message's first line and
// the consent, so a laptop shows two rows of five; a selection can be
// marked reshared in one step (one mark, and one audit row, per clip).
import {
  $, api, country, day, dialogOpen, duration, errorText, flag, h, language, registerView, session, t, toast,
  typing, when,
} from './panel.js';
import { campaignBadge, campaignField, consentSection } from './campaigns.js';
import { captionsHref } from './captions.js';

const PAGE = 48;
const POLL_MS = 15000;
const IDS_MAX = 1000; // export.zip?ids= takes at most this many ids
const LIB_FILTERS = ['campaign', 'q', 'country', 'language', 'scope', 'reshared', 'order'];
const GONE_FILTERS = ['campaign', 'country', 'language'];
// Where a clip was posted: the names of networks are names; the rest are
// words of the panel's language.
const CHANNELS = ['Telegram', 'Facebook', 'Instagram', 'X', 'YouTube', 'TikTok', 'VK', 'WhatsApp',
  'Bluesky', 'Mastodon', 'website', 'press', 'other'];
const channelLabel = (c) => (['website', 'press', 'other'].includes(c) ? t(`ch_${c}`) : c);
const channelOptions = () => [h('option', { value: '', text: t('mark_choose') }),
  ...CHANNELS.map((c) => h('option', { value: c, text: channelLabel(c) }))];
const HTTP_URL = /^https?:\/\/[^\s]+$/i;
// The studio's versions, in the order the comms team posts them, and how
// often their list is asked again while one is being made.
const FORMATS = ['9x16', '1x1', '4x5', '16x9'];
const VERSION_POLL_MS = 1000;

function cleanMarks(list) {
  return (Array.isArray(list) ? list : [])
    .filter((r) => r && typeof r.channel === 'string')
    .map((r) => ({
      id: Number.isInteger(r.id) ? r.id : null,
      channel: r.channel,
      url: typeof r.url === 'string' ? r.url : null,
      by: typeof r.by === 'string' ? r.by : null,
      at: typeof r.at === 'string' ? r.at : null,
      downAt: typeof r.taken_down_at === 'string' ? r.taken_down_at : null,
      downBy: typeof r.taken_down_by === 'string' ? r.taken_down_by : null,
    }));
}

// ---- small pieces ------------------------------------------------------------

const displayName = (m) => m.name || t('anonymous');

function nameLine(m) {
  return m.name
    ? h('span', { class: 'name', text: m.name, dir: 'auto' })
    : h('span', { class: 'name anon', text: t('anonymous') });
}

function place(m) {
  return h('span', { class: 'place', title: [country(m.country), language(m.language)].filter(Boolean).join(' · ') },
    m.country ? h('span', { class: 'flag', 'aria-hidden': 'true', text: flag(m.country) }) : null,
    m.country ? ` ${m.country}` : '–', m.language ? ` · ${m.language}` : '');
}

function shape(m) {
  if (!m.width || !m.height) return null;
  const k = m.height > m.width ? 'shape_portrait' : m.height === m.width ? 'shape_square' : 'shape_landscape';
  return h('span', { class: 'shape', title: `${m.width}×${m.height}`, text: t(k) });
}

/** The message's first line: what a card has room for. */
function firstLine(text) {
  return (text || '').split('\n').map((l) => l.trim()).find(Boolean) || '';
}

function scopeLine(m) {
  return m.consent_scope === 'union'
    ? h('p', { class: 'lib-scope union' }, h('span', { 'aria-hidden': 'true', text: '⚠ ' }),
      h('strong', { text: t('lib_union_title') }), ` ${t('lib_union_text')}`)
    : h('p', { class: 'lib-scope public', text: t('lib_public') });
}

function resharedBadge(n) {
  return n > 0 ? h('span', { class: 'badge reshared', text: t('reshared_n', { n }) }) : null;
}

/** A list of reshare marks: channel, the post's link, who and when; with
 * takeDown(mark), a button per post still up (and "taken down" for the
 * others). */
function marksList(marks, takeDown = null) {
  return h('ul', { class: 'marks' }, ...marks.map((r) => h('li', { class: r.downAt ? 'down' : null, dataset: { reshare: String(r.id) } },
    h('strong', { class: 'channel', text: r.channel, dir: 'auto' }), ' ',
    r.url && HTTP_URL.test(r.url)
      ? h('a', { href: r.url, target: '_blank', rel: 'noopener noreferrer', class: 'post', text: r.url })
      : h('span', { class: 'muted', text: t('mark_no_link') }),
    r.by || r.at ? h('span', { class: 'muted by' }, ' — ', r.by || '', r.by && r.at ? ', ' : '',
      r.at ? h('time', { datetime: r.at, text: when(r.at) }) : null) : null,
    takeDown && r.downAt ? h('span', { class: 'taken-down' }, ` ✓ ${t('taken_down')}`,
      r.downBy ? ` ${t('by_user', { user: r.downBy })}` : '', ', ', h('time', { datetime: r.downAt, text: when(r.downAt) })) : null,
    takeDown && !r.downAt && r.id !== null ? [' ', h('button', {
      type: 'button', class: 'btn small take-down', onclick: (ev) => takeDown(r, ev.target),
    }, t('mark_taken_down'), h('span', { class: 'sr-only', text: ` (${r.channel})` }))] : null)));
}

function exportHref(params) {
  const p = new URLSearchParams(params);
  for (const [k, v] of [...p]) if (!v) p.delete(k);
  const s = p.toString();
  return `/api/v1/export.zip${s ? `?${s}` : ''}`;
}

// ---- the view ----------------------------------------------------------------

function render(main, params, navigate) {
  const tab = params.get('tab') === 'withdrawn' ? 'withdrawn' : 'library';
  const names = tab === 'library' ? LIB_FILTERS : GONE_FILTERS;
  const filters = Object.fromEntries(LIB_FILTERS.map((k) => [k, params.get(k) || '']));
  if (filters.reshared !== 'no' && filters.reshared !== 'yes') filters.reshared = '';
  if (filters.order !== 'asc') filters.order = '';
  const active = names.filter((k) => filters[k]);
  const st = {
    items: [], next: null, seq: 0, selected: new Map(), total: null, used: null,
    alive: true, loading: false, preview: null, opener: null,
  };

  // ---- skeleton ----
  const tabs = h('nav', { class: 'tabs', 'aria-label': t('lib_tabs_label') });
  const form = filterForm();
  const grid = h('ul', { class: tab === 'library' ? 'lib-grid' : 'lib-gone', 'aria-label': tab === 'library' ? t('lib_tab') : t('lib_gone_tab') });
  const empty = h('p', { class: 'empty', hidden: true, role: 'status' });
  const more = h('button', { type: 'button', class: 'btn more', hidden: true, onclick: () => load(true) }, t('more'));
  const tools = tab === 'library' ? toolbar() : null;
  const intro = tab === 'withdrawn'
    ? h('div', { class: 'lib-intro' },
      h('p', {}, h('strong', { text: t('lib_gone_intro_1') }), ` ${t('lib_gone_intro_2')}`))
    : null;
  const dlg = tab === 'library' ? previewDialog() : null;
  const root = h('div', { class: `library tab-${tab}` },
    h('div', { class: 'bar lib-top' }, tabs, form), tools,
    h('div', { class: 'lib-main' }, intro, grid, empty, more), dlg);
  main.append(root);

  // ---- tabs ----
  function renderTabs() {
    const link = (id, label, count, cls) => {
      const p = new URLSearchParams();
      if (id === 'withdrawn') p.set('tab', 'withdrawn');
      for (const k of GONE_FILTERS) if (filters[k]) p.set(k, filters[k]);
      const s = p.toString();
      return h('a', {
        href: `#library${s ? `?${s}` : ''}`, class: `tab ${cls}`, dataset: { tab: id },
        'aria-current': id === tab ? 'page' : null,
      }, label, ' ', h('span', { class: 'count', text: count === null ? '' : String(count) }));
    };
    tabs.replaceChildren(
      link('library', t('lib_tab'), st.total, 's-library'),
      link('withdrawn', t('lib_gone_tab'), st.used, `s-used${st.used ? ' alert' : ''}`));
  }

  // ---- filters ----
  function filterForm() {
    const field = (name, label, control) => h('div', { class: 'field' }, h('label', { for: `l-${name}`, text: label }), control);
    const input = (name, label, attrs = {}) => field(name, label, h('input', { id: `l-${name}`, name, value: filters[name], ...attrs }));
    const select = (name, label, options) => field(name, label, h('select', { id: `l-${name}`, name, onchange: () => f.requestSubmit() },
      ...options.map(([v, t]) => h('option', { value: v, selected: filters[name] === v, text: t }))));
    const f = h('form', { class: 'filters', role: 'search', 'aria-label': t('lib_filter_label') },
      tab === 'library' ? input('q', t('search'), { type: 'search', placeholder: t('search_hint'), maxlength: '100', 'aria-keyshortcuts': '/', autocomplete: 'off' }) : null,
      campaignField(filters.campaign, 'l', () => f.requestSubmit()),
      input('country', t('f_country'), { placeholder: 'BY', maxlength: '2', size: '3', pattern: '[A-Za-z]{2}', autocapitalize: 'characters', title: t('country_hint') }),
      input('language', t('f_language'), { placeholder: 'be', maxlength: '35', size: '5' }),
      tab === 'library' ? select('scope', t('f_consent'), [['', t('scope_any')], ['public', t('scope_public')], ['union', t('scope_union')]]) : null,
      tab === 'library' ? select('order', t('lib_order'), [['', t('lib_newest')], ['asc', t('lib_oldest')]]) : null,
      tab === 'library' ? h('label', { class: 'check' },
        h('input', { type: 'checkbox', id: 'l-unshared', name: 'unshared', checked: filters.reshared === 'no', onchange: () => f.requestSubmit() }),
        ` ${t('lib_unshared')}`) : null,
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'btn' }, t('filter')),
        h('button', { type: 'button', class: 'btn link', onclick: () => apply({}) }, t('clear'))));
    // The search runs as one types.
    let timer = 0;
    if (f.elements.q) {
      f.elements.q.addEventListener('input', () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          const q = f.elements.q.value.replace(/^\s+/, '');
          if (q === filters.q) return;
          filters.q = q;
          history.replaceState(null, '', `#library?${new URLSearchParams(Object.entries(filters).filter(([, v]) => v))}`);
          active.splice(0, active.length, ...names.filter((k) => filters[k]));
          load(false);
        }, 300);
      });
    }
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = {};
      for (const k of ['campaign', 'q', 'country', 'language', 'scope', 'order']) if (f.elements[k]) v[k] = f.elements[k].value.trim();
      if (v.country) v.country = v.country.toUpperCase();
      if (f.elements.unshared && f.elements.unshared.checked) v.reshared = 'no';
      else if (filters.reshared === 'yes') v.reshared = 'yes';
      apply(v);
    });
    return f;
  }

  function apply(v) {
    navigate(tab === 'withdrawn' ? { tab, ...v } : v);
  }

  // ---- loading ----
  function query(cursor, limit = PAGE) {
    const p = new URLSearchParams({ status: tab === 'library' ? 'approved' : 'withdrawn', limit: String(limit) });
    if (tab === 'withdrawn') p.set('used', 'yes');
    for (const k of names) if (filters[k]) p.set(k, filters[k]);
    if (cursor) p.set('cursor', cursor);
    return `/api/v1/messages?${p}`;
  }

  async function load(append) {
    const seq = ++st.seq;
    st.loading = true;
    more.disabled = true;
    const res = await api('GET', query(append ? st.next : null));
    if (seq !== st.seq || !st.alive) return;
    st.loading = false;
    more.disabled = false;
    if (res.status !== 200) {
      if (!append) grid.replaceChildren();
      empty.hidden = false;
      empty.textContent = errorText(res);
      return;
    }
    st.items = append ? st.items.concat(res.data.items) : res.data.items;
    st.next = res.data.next_cursor;
    if (res.data.counts && res.data.counts.approved !== undefined) st.total = res.data.counts.approved;
    if (tab === 'withdrawn' && !active.length) st.used = st.next ? `${st.items.length}+` : st.items.length;
    renderTabs();
    renderGrid();
  }

  /** Reloads what is shown, in one page: withdrawn clips leave at once. */
  async function refresh() {
    if (document.hidden || !st.alive) return;
    countUsed();
    if (st.loading || st.items.length > 200) return;
    const seq = st.seq;
    const res = await api('GET', query(null, Math.max(PAGE, st.items.length)));
    if (seq !== st.seq || st.loading || !st.alive || res.status !== 200) return;
    const before = st.items.map((m) => `${m.id}:${m.reshared}:${m.reshares_left}`).join();
    const after = res.data.items.map((m) => `${m.id}:${m.reshared}:${m.reshares_left}`).join();
    if (res.data.counts && res.data.counts.approved !== undefined) st.total = res.data.counts.approved;
    if (tab === 'withdrawn' && !active.length) st.used = res.data.next_cursor ? `${res.data.items.length}+` : res.data.items.length;
    renderTabs();
    if (before === after) return;
    st.items = res.data.items;
    st.next = res.data.next_cursor;
    renderGrid();
    if (st.preview && !st.items.some((m) => m.id === st.preview)) previewGone();
  }

  async function countUsed() {
    if (tab === 'withdrawn' && !active.length) return; // the list itself is the count
    const res = await api('GET', '/api/v1/messages?status=withdrawn&used=yes&limit=200');
    if (res.status !== 200 || !st.alive) return;
    st.used = res.data.next_cursor ? `${res.data.items.length}+` : res.data.items.length;
    renderTabs();
  }

  // ---- the grid ----
  function renderGrid() {
    // Keep the keyboard where it was across a refresh.
    const a = document.activeElement;
    const at = a && grid.contains(a) ? { id: a.closest('[data-id]').dataset.id, cls: a.className } : null;
    for (const id of [...st.selected.keys()]) {
      const m = st.items.find((x) => x.id === id);
      if (m) st.selected.set(id, m);
      else st.selected.delete(id); // withdrawn meanwhile, or filtered out
    }
    grid.replaceChildren(...st.items.map(tab === 'library' ? card : goneItem));
    empty.hidden = st.items.length > 0;
    if (tab === 'library') {
      empty.textContent = active.length ? t('lib_empty_filtered') : t('lib_empty');
    } else {
      empty.textContent = active.length ? t('lib_gone_empty_filtered') : t('lib_gone_empty');
    }
    more.hidden = !st.next;
    if (tools) tools.update();
    if (at) {
      const li = cardEl(at.id);
      const el = li && [...li.querySelectorAll('button, input, a')].find((x) => x.className === at.cls);
      if (el) el.focus({ preventScroll: true });
    }
  }

  function cardEl(id) {
    return [...grid.children].find((li) => li.dataset.id === id) || null;
  }

  function card(m) {
    const id = encodeURIComponent(m.id);
    const union = m.consent_scope === 'union';
    const picked = st.selected.has(m.id);
    const who = displayName(m);
    const form = shape(m);
    const line = firstLine(m.message);
    return h('li', { class: `lib-card${union ? ' union' : ''}${picked ? ' picked' : ''}`, dataset: { id: m.id } },
      scopeLine(m),
      h('button', { type: 'button', class: 'lib-open', 'aria-haspopup': 'dialog', onclick: () => openPreview(m.id) },
        h('span', { class: `lib-thumb${m.height > m.width ? ' tall' : ''}` },
          h('img', { src: `/media/${id}/thumb.jpg`, alt: '', loading: 'lazy', decoding: 'async' }),
          h('span', { class: 'lib-play', 'aria-hidden': 'true', text: '▶' }),
          m.duration_ms !== null ? h('span', { class: 'lib-dur', 'aria-hidden': 'true', text: duration(m.duration_ms) }) : null),
        h('span', { class: 'sr-only', text: `${t('lib_preview')}: ` }),
        nameLine(m),
        m.organization ? h('span', { class: 'org', text: m.organization, dir: 'auto' }) : h('span', { class: 'org none', 'aria-hidden': 'true' })),
      h('div', { class: 'lib-meta' },
        place(m), ' · ', h('span', { class: 'dur', text: duration(m.duration_ms) || '–' }),
        ' · ', h('time', { datetime: m.decided_at, title: `${t('lib_approved')} ${when(m.decided_at)}${form ? ` · ${form.textContent}` : ''}`, text: day(m.decided_at) })),
      h('p', { class: `lib-first${line ? '' : ' none'}`, dir: 'auto', title: m.message || null, text: line || t('no_message') }),
      h('div', { class: 'lib-foot' },
        h('label', { class: 'check lib-pick' },
          h('input', { type: 'checkbox', class: 'pick', checked: picked, onchange: (ev) => pick(m, ev.target.checked) }),
          ` ${t('lib_select')}`, h('span', { class: 'sr-only', text: ` ${who}` })),
        resharedBadge(m.reshared),
        h('a', { class: `btn small lib-dl${union ? ' union' : ''}`, href: `/media/${id}/video.mp4?download=1`, download: m.file || true },
          h('span', { 'aria-hidden': 'true', text: '⬇' }), ` ${t('lib_download')}`, union ? h('span', { class: 'dl-union', title: t('lib_dl_union') }, h('span', { 'aria-hidden': 'true', text: ' ⚠' }), h('span', { class: 'sr-only', text: ` ${t('lib_dl_union')}` })) : null,
          h('span', { class: 'sr-only', text: ` ${t('lib_dl_of', { name: who })}` }))));
  }

  function goneItem(m) {
    const file = m.file;
    const body = h('div', { class: 'gone-marks' });
    showGoneMarks(body, m, cleanMarks(m.reshares));
    const done = h('button', { type: 'button', class: 'btn take-down-all', onclick: (ev) => takeDownAll(m, ev.target) },
      m.reshared > 0 ? t('gone_all_done') : t('gone_copies_done'));
    return h('li', { class: 'gone', dataset: { id: m.id } },
      h('div', { class: 'gone-head' },
        h('h3', {}, `${t('gone_clip')} `, h('code', { class: 'file', text: file })),
        h('span', { class: 'badges' }, resharedBadge(m.reshared),
          m.consent_scope === 'union' ? h('span', { class: 'badge union', text: t('badge_union') }) : null)),
      h('p', { class: 'lib-meta' }, `${t('gone_withdrawn')} `, h('time', { datetime: m.withdrawn_at, text: day(m.withdrawn_at) })),
      body, h('div', { class: 'row' }, done));
  }

  function showGoneMarks(body, m, marks) {
    const parts = [];
    if (marks.length) {
      parts.push(h('h4', { text: t('gone_posts') }), marksList(marks, (r, btn) => takeDown(m, r, btn)));
    } else {
      parts.push(h('p', { class: 'warn-text', text: t('gone_exported_only') }));
    }
    parts.push(h('p', { class: 'muted small' }, `${t('gone_copies_1')} `, h('code', { text: m.file }),
      ` ${t('gone_copies_2')}`));
    body.replaceChildren(...parts);
  }

  /** Marks one post of a withdrawn clip taken down. */
  async function takeDown(m, r, btn) {
    btn.disabled = true;
    const res = await api('POST', `/api/v1/messages/${encodeURIComponent(m.id)}/taken-down`, { reshare: r.id });
    if (res.status === 200) {
      toast(t('taken_down_toast', { channel: r.channel }), 'ok');
      await refreshNow();
    } else {
      btn.disabled = false;
      if (res.status !== 401) toast(errorText(res), 'error');
    }
  }

  /** Marks the whole clip done: every post down, every copy deleted. */
  async function takeDownAll(m, btn) {
    btn.disabled = true;
    const res = await api('POST', `/api/v1/messages/${encodeURIComponent(m.id)}/taken-down`, {});
    if (res.status === 200) {
      toast(t('gone_done_toast'), 'ok');
      await refreshNow();
    } else {
      btn.disabled = false;
      if (res.status !== 401) toast(errorText(res), 'error');
    }
  }

  /** Reloads the list and the count at once (not at the next poll). */
  async function refreshNow() {
    const res = await api('GET', query(null, Math.max(PAGE, st.items.length)));
    if (!st.alive || res.status !== 200) return;
    st.items = res.data.items;
    st.next = res.data.next_cursor;
    if (tab === 'withdrawn' && !active.length) st.used = st.next ? `${st.items.length}+` : st.items.length;
    renderTabs();
    renderGrid();
    countUsed();
  }

  // ---- selection and downloads ----
  function pick(m, on) {
    if (on) st.selected.set(m.id, m); else st.selected.delete(m.id);
    const li = cardEl(m.id);
    if (li) li.classList.toggle('picked', on);
    tools.update();
  }

  function toolbar() {
    const all = h('input', { type: 'checkbox', id: 'l-all' });
    const allCount = h('span', { class: 'count-text' });
    const info = h('span', { class: 'sel-info', role: 'status', 'aria-live': 'polite' });
    const unionWarn = h('span', { class: 'sel-warn', hidden: true });
    const dlSel = h('a', { class: 'btn primary', id: 'l-dl-selection', download: true },
      h('span', { 'aria-hidden': 'true', text: '⬇' }), ` ${t('lib_dl_selected')}`);
    const markSel = h('button', { type: 'button', class: 'btn', id: 'l-mark-selection', onclick: () => askMarkSelected() },
      t('lib_mark_selected'));
    const clear = h('button', { type: 'button', class: 'btn link', id: 'l-clear-sel' }, t('clear'), h('span', { class: 'sr-only', text: ` ${t('lib_the_selection')}` }));
    const dlAll = h('a', { class: 'btn', id: 'l-dl-all', download: true },
      h('span', { 'aria-hidden': 'true', text: '⬇' }), ' ', h('span', { class: 'label' }));
    all.addEventListener('change', () => {
      for (const m of st.items) if (all.checked) st.selected.set(m.id, m); else st.selected.delete(m.id);
      for (const li of grid.children) {
        const on = st.selected.has(li.dataset.id);
        li.classList.toggle('picked', on);
        const box = li.querySelector('input.pick');
        if (box) box.checked = on;
      }
      bar.update();
    });
    clear.addEventListener('click', () => {
      clearSelection();
      all.focus();
    });
    const bar = h('div', { class: 'lib-tools', role: 'region', 'aria-label': t('lib_tools_label') },
      h('label', { class: 'check', for: 'l-all' }, all, ` ${t('lib_all_shown')}`, allCount),
      info, unionWarn, dlSel, markSel, clear,
      h('span', { class: 'spacer' }), dlAll);
    bar.update = () => {
      const shown = st.items.length;
      const pickedShown = st.items.filter((m) => st.selected.has(m.id)).length;
      all.checked = shown > 0 && pickedShown === shown;
      all.indeterminate = pickedShown > 0 && pickedShown < shown;
      all.disabled = shown === 0;
      allCount.textContent = ` (${shown})`;
      const n = st.selected.size;
      const unions = [...st.selected.values()].filter((m) => m.consent_scope === 'union').length;
      info.textContent = n === 0 ? t('sel_none') : t('sel_n', { n });
      unionWarn.hidden = unions === 0;
      unionWarn.textContent = `⚠ ${t('lib_sel_union', { n: unions })}`;
      unionWarn.title = t('lib_sel_union_title', { n: unions });
      if (n > 0 && n <= IDS_MAX) {
        dlSel.href = exportHref({ ids: [...st.selected.keys()].join(',') });
        dlSel.removeAttribute('aria-disabled');
        dlSel.title = '';
      } else {
        dlSel.removeAttribute('href');
        dlSel.setAttribute('aria-disabled', 'true');
        dlSel.title = n > IDS_MAX ? t('lib_dl_too_many', { n: IDS_MAX }) : t('lib_select_first');
      }
      markSel.disabled = n === 0 || n > 200;
      markSel.textContent = n ? t('lib_mark_selected_n', { n }) : t('lib_mark_selected');
      clear.hidden = n === 0;
      const p = {};
      for (const k of ['campaign', 'country', 'language', 'q', 'scope', 'reshared']) p[k] = filters[k];
      dlAll.href = exportHref(p);
      const count = !st.next ? shown : (!active.length ? st.total : null);
      dlAll.querySelector('.label').textContent = count === null ? t('lib_dl_all_matching')
        : t(active.length ? 'lib_dl_all_n_matching' : 'lib_dl_all_n', { n: count });
      dlAll.toggleAttribute('hidden', shown === 0);
    };
    return bar;
  }

  function clearSelection() {
    st.selected.clear();
    for (const li of grid.children) {
      li.classList.remove('picked');
      const box = li.querySelector('input.pick');
      if (box) box.checked = false;
    }
    tools.update();
  }

  // ---- marking a selection reshared, in one step ----
  function askMarkSelected() {
    const chosen = [...st.selected.values()];
    if (!chosen.length) return;
    const dlg = $('#bulk-reshare');
    const f = $('#br-form');
    const unions = chosen.filter((m) => m.consent_scope === 'union').length;
    f.reset();
    $('#br-h').textContent = t('bulk_mark_title', { n: chosen.length });
    $('#br-channel').replaceChildren(...channelOptions());
    $('#br-other-field').hidden = true;
    $('#br-confirm-label').hidden = unions === 0;
    $('#br-error').hidden = true;
    dlg.showModal();
    $('#br-channel').focus();
  }

  async function submitMarkSelected(ev) {
    const f = $('#br-form');
    if (ev.submitter && ev.submitter.value === 'cancel') return;
    ev.preventDefault();
    const err = $('#br-error');
    const fail = (msg, el) => { err.textContent = msg; err.hidden = false; if (el) el.focus(); };
    const chosen = [...st.selected.values()];
    let ch = f.elements.channel.value;
    if (ch === 'other') ch = f.elements.other.value.trim() || 'other';
    const url = f.elements.url.value.trim();
    if (!ch) { fail(t('mark_where_err'), f.elements.channel); return; }
    if (url && (!HTTP_URL.test(url) || url.length > 2000)) { fail(t('mark_url_err'), f.elements.url); return; }
    if (chosen.some((m) => m.consent_scope === 'union') && !f.elements.confirm.checked) {
      fail(t('mark_confirm_err'), f.elements.confirm);
      return;
    }
    const res = await api('POST', '/api/v1/messages/reshared', { ids: chosen.map((m) => m.id), channel: ch, url: url || undefined });
    if (res.status !== 200) {
      if (res.status !== 401) fail(errorText(res));
      return;
    }
    $('#bulk-reshare').close();
    const failed = res.data.results.filter((r) => !r.ok);
    if (failed.length) toast(t('bulk_mark_partly', { done: res.data.done, failed: failed.length }), 'error');
    else toast(t('bulk_marked', { n: res.data.done, channel: channelLabel(ch) }), 'ok');
    clearSelection();
    await refreshNow();
  }

  function onChannel() {
    $('#br-other-field').hidden = $('#br-channel').value !== 'other';
  }

  // ---- preview ----
  function previewDialog() {
    const d = h('dialog', { class: 'lib-preview', id: 'lib-preview', 'aria-labelledby': 'lp-title' });
    d.addEventListener('close', () => {
      const vb = d.querySelector('.lp-versions');
      if (vb && vb.stop) vb.stop();
      const v = d.querySelector('video');
      if (v) { v.pause(); v.removeAttribute('src'); v.load(); }
      d.replaceChildren();
      const id = st.preview;
      st.preview = null;
      const li = id && cardEl(id);
      const back = (li && li.querySelector('.lib-open')) || st.opener;
      if (back && back.isConnected) back.focus();
      else if (st.alive) main.focus(); // the clip left the grid meanwhile
    });
    // A click on the backdrop (outside the box) closes it.
    d.addEventListener('click', (ev) => { if (ev.target === d) d.close(); });
    return d;
  }

  function openPreview(id) {
    const m = st.items.find((x) => x.id === id);
    if (!m) return;
    st.preview = id;
    st.opener = document.activeElement;
    const enc = encodeURIComponent(id);
    const union = m.consent_scope === 'union';
    const marks = h('div', { class: 'lp-marks' }, h('p', { class: 'muted', text: t('loading') }));
    const facts = h('dl', { class: 'facts' });
    const add = (k, v) => { if (v !== null && v !== undefined && v !== '') facts.append(h('dt', { text: t(k) }), h('dd', {}, v)); };
    add('f_country', m.country ? `${flag(m.country)} ${country(m.country)}` : '');
    add('f_language', language(m.language));
    add('f_duration', duration(m.duration_ms));
    add('f_picture', m.width ? `${m.width}×${m.height}${m.height > m.width ? ` (${t('shape_portrait')})` : ''}` : '');
    add('f_sound', m.has_audio === null || m.has_audio === undefined ? '' : t(m.has_audio ? 'yes' : 'sound_none'));
    add('f_approved', when(m.decided_at));
    add('f_consent', t(union ? 'consent_union_v' : 'consent_public_v', { v: m.consent_version || '?' }));
    add('f_file', h('code', { text: m.file }));
    const video = h('video', {
      controls: true, preload: 'metadata', playsinline: true, src: `/media/${enc}/video.mp4`,
      poster: `/media/${enc}/thumb.jpg`, class: m.height > m.width ? 'portrait' : null,
      'aria-label': t('video_of', { name: displayName(m) }),
    });
    dlg.replaceChildren(...[
      h('header', { class: 'lp-head' },
        h('div', {}, h('h2', { id: 'lp-title' }, nameLine(m)),
          m.organization ? h('p', { class: 'org', text: m.organization, dir: 'auto' }) : null),
        h('button', { type: 'button', class: 'btn small', 'aria-label': t('lp_close'), title: t('q_close_title'), onclick: () => dlg.close() },
          h('span', { 'aria-hidden': 'true', text: '✕' }))),
      union ? h('p', { class: 'scope-note lp-scope', role: 'note' },
        h('strong', { text: t('lp_union_title') }),
        ` ${t('lp_union_text')}`) : null,
      h('p', { class: 'lp-gone error', role: 'alert', hidden: true }),
      h('div', { class: 'lp-body' },
        h('div', { class: 'lp-media' }, video),
        h('div', { class: 'lp-side' },
          m.message ? h('blockquote', { class: 'message', dir: 'auto', text: m.message }) : h('p', { class: 'muted', text: t('no_message') }),
          facts,
          h('div', { class: 'row' },
            h('a', { class: 'btn', href: `/media/${enc}/video.mp4?download=1`, download: true, id: 'lp-download' },
              h('span', { 'aria-hidden': 'true', text: '⬇' }), ` ${t('lp_download')}`),
            h('label', { class: 'check' },
              h('input', {
                type: 'checkbox', checked: st.selected.has(id), id: 'lp-pick',
                onchange: (ev) => {
                  pick(m, ev.target.checked);
                  const box = cardEl(id) && cardEl(id).querySelector('input.pick');
                  if (box) box.checked = ev.target.checked;
                },
              }), ` ${t('lp_in_selection')}`)),
          versionsSection(m),
          h('section', { class: 'lp-reshares', 'aria-labelledby': 'lp-marks-h' },
            h('h3', { id: 'lp-marks-h', text: t('lp_reshared') }), marks, markForm(m, marks))))].filter(Boolean));
    dlg.showModal();
    loadPreview(m, marks);
  }

  async function loadPreview(m, marks) {
    const res = await api('GET', `/api/v1/messages/${encodeURIComponent(m.id)}`);
    if (st.preview !== m.id || !st.alive) return;
    if (res.status === 200) {
      showMarks(marks, cleanMarks(res.data.reshares), m);
      const consent = consentSection(res.data);
      if (consent) marks.closest('.lp-side').insertBefore(consent, marks.closest('.lp-reshares'));
      if (res.data.decided_by) {
        const dt = [...dlg.querySelectorAll('.facts dt')].find((x) => x.textContent === t('f_approved'));
        if (dt) dt.nextElementSibling.append(` ${t('by_user', { user: res.data.decided_by })}`);
      }
    } else if (res.status === 404) {
      previewGone();
    } else if (res.status !== 401) {
      marks.replaceChildren(h('p', { class: 'error', text: errorText(res) }));
    }
  }

  /** The clip's posts, each with a button to mark it taken down (a post
   * the comms team removed while the clip stays approved). */
  function showMarks(box, list, m) {
    box.list = list;
    box.replaceChildren(list.length
      ? marksList(list, (r, btn) => takeDownPost(m, box, r, btn))
      : h('p', { class: 'muted', text: t('lp_not_marked') }));
  }

  async function takeDownPost(m, box, r, btn) {
    btn.disabled = true;
    const res = await api('POST', `/api/v1/messages/${encodeURIComponent(m.id)}/taken-down`, { reshare: r.id });
    if (res.status === 200) {
      toast(t('taken_down_toast', { channel: r.channel }), 'ok');
      const now = new Date().toISOString();
      showMarks(box, box.list.map((x) => (x === r ? { ...x, downAt: now, downBy: session.user } : x)), m);
    } else {
      btn.disabled = false;
      if (res.status !== 401) toast(errorText(res), 'error');
    }
  }

  /** The previewed clip is no longer approved: say so, offer nothing. */
  function previewGone() {
    const p = dlg.querySelector('.lp-gone');
    if (!p) return;
    p.textContent = t('lp_gone');
    p.hidden = false;
    for (const el of dlg.querySelectorAll('.lp-mark input, .lp-mark select, .lp-mark button, #lp-pick')) el.disabled = true;
    const dl = dlg.querySelector('#lp-download');
    if (dl) { dl.removeAttribute('href'); dl.setAttribute('aria-disabled', 'true'); }
    const v = dlg.querySelector('video');
    if (v) { v.pause(); v.removeAttribute('src'); v.removeAttribute('poster'); v.load(); }
  }

  function markForm(m, marksBox) {
    const union = m.consent_scope === 'union';
    const err = h('p', { class: 'error', role: 'alert', hidden: true });
    const other = h('div', { class: 'field', hidden: true },
      h('label', { for: 'lp-other', text: t('mark_other_name') }),
      h('input', { id: 'lp-other', name: 'other', maxlength: '64', placeholder: t('mark_other_hint') }));
    const channel = h('select', { id: 'lp-channel', name: 'channel', required: true }, ...channelOptions());
    channel.addEventListener('change', () => { other.hidden = channel.value !== 'other'; });
    const f = h('form', { class: 'lp-mark', novalidate: true, 'aria-label': t('mark_submit') },
      h('div', { class: 'mark-fields' },
        h('div', { class: 'field' }, h('label', { for: 'lp-channel', text: t('mark_where') }), channel),
        other,
        h('div', { class: 'field grow' }, h('label', { for: 'lp-url' }, `${t('mark_url')} `, h('span', { class: 'muted', text: t('optional') })),
          h('input', { id: 'lp-url', name: 'url', type: 'url', inputmode: 'url', maxlength: '2000', placeholder: 'https://…', autocomplete: 'off', spellcheck: 'false' }))),
      union ? h('label', { class: 'check confirm' },
        h('input', { type: 'checkbox', name: 'confirm', id: 'lp-confirm' }),
        ` ${t('mark_union_confirm')}`) : null,
      err,
      h('button', { type: 'submit', class: 'btn primary', id: 'lp-mark' }, t('mark_submit')));
    let busy = false;
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (busy) return;
      const fail = (msg, el) => { err.textContent = msg; err.hidden = false; if (el) el.focus(); };
      err.hidden = true;
      let ch = channel.value;
      if (ch === 'other') ch = f.elements.other.value.trim() || 'other';
      const url = f.elements.url.value.trim();
      if (!ch) { fail(t('mark_where_err'), channel); return; }
      if (url && (!HTTP_URL.test(url) || url.length > 2000)) { fail(t('mark_url_err'), f.elements.url); return; }
      if (union && !f.elements.confirm.checked) { fail(t('mark_confirm_err'), f.elements.confirm); return; }
      busy = true;
      f.querySelector('button[type=submit]').disabled = true;
      const res = await api('POST', `/api/v1/messages/${encodeURIComponent(m.id)}/reshared`, url ? { channel: ch, url } : { channel: ch });
      busy = false;
      f.querySelector('button[type=submit]').disabled = false;
      if (res.status === 201) {
        // Its id comes with the clip's next look-up: until then, no
        // take-down button.
        const mark = { id: null, channel: res.data.channel || ch, url: res.data.url || null, by: session.user, at: new Date().toISOString() };
        showMarks(marksBox, [...(marksBox.list || []), mark], m);
        m.reshared = (m.reshared || 0) + 1;
        const li = cardEl(m.id);
        if (li) li.replaceWith(card(m));
        f.reset();
        other.hidden = true;
        toast(t('marked_toast', { channel: channelLabel(mark.channel) }), 'ok');
      } else if (res.status === 409) {
        previewGone();
        fail(t('mark_gone_err'));
      } else if (res.status !== 401) {
        fail(errorText(res));
      }
    });
    return f;
  }

  // ---- the studio's versions ----
  // One row a format: "Make" asks for it (POST …/versions, with the
  // captions chosen, the credit and the campaign's branding), its
  // progress shows while the job runs (the list asked again every
  // VERSION_POLL_MS while the preview is open), then the version's first
  // frame and its download. A version made before is shown as made.
  function versionsSection(m) {
    const enc = encodeURIComponent(m.id);
    const rows = h('ul', { class: 'versions', id: 'lp-versions' });
    const capSel = h('select', { id: 'lp-captions' }, h('option', { value: '', text: t('v_no_captions') }));
    const box = h('section', { class: 'lp-versions', 'aria-labelledby': 'lp-versions-h' },
      h('h3', { id: 'lp-versions-h', text: t('v_title') }),
      h('div', { class: 'row v-opts' },
        h('label', { for: 'lp-captions', text: t('v_captions') }), capSel,
        h('a', { class: 'btn small', id: 'lp-edit-captions', href: captionsHref(m.id) }, t('v_edit_captions'))),
      rows);
    const vs = { items: [], timer: 0, asked: new Set() };
    const want = (format) => {
      const cap = capSel.value || null;
      return vs.items.find((v) => v.format === format && (v.captions || null) === cap && v.credit && v.branding);
    };
    const row = (format) => {
      const v = want(format);
      const label = h('span', { class: 'v-format' }, h('strong', { text: format.replace('x', ':') }), ' ',
        h('span', { class: 'muted', text: t(`v_for_${format}`) }));
      let state;
      if (v && v.state === 'done') {
        state = h('span', { class: 'v-done' },
          v.preview ? h('img', {
            class: 'v-preview', src: v.preview, alt: t('v_preview_of', { format: format.replace('x', ':') }),
            loading: 'lazy', onerror: (ev) => { ev.target.hidden = true; },
          }) : null,
          h('a', { class: 'btn small v-download', href: `${v.url}?download=1`, download: true },
            h('span', { 'aria-hidden': 'true', text: '⬇' }), ` ${t('v_download')}`,
            h('span', { class: 'sr-only', text: ` ${format.replace('x', ':')}` })));
      } else if (v && (v.state === 'queued' || v.state === 'running')) {
        const pct = Math.round((v.progress || 0) * 100);
        state = h('span', { class: 'v-making', role: 'status' },
          h('progress', { max: '100', value: String(pct), 'aria-label': t('v_making_of', { format: format.replace('x', ':') }) }),
          ` ${v.state === 'queued' ? t('v_queued') : t('v_making', { n: pct })}`);
      } else {
        state = h('span', { class: 'v-make-wrap' },
          v && v.state === 'failed' ? h('span', { class: 'error v-error', text: t('v_failed', { why: v.error || '' }) }) : null,
          h('button', { type: 'button', class: 'btn small v-make', onclick: (ev) => make(format, ev.target) },
            v && v.state === 'failed' ? t('v_again') : t('v_make'),
            h('span', { class: 'sr-only', text: ` ${format.replace('x', ':')}` })));
      }
      return h('li', { class: 'version', dataset: { format, state: v ? v.state : 'none' } }, label, state);
    };
    const draw = () => rows.replaceChildren(...FORMATS.map(row));
    async function refresh() {
      clearTimeout(vs.timer);
      const r = await api('GET', `/api/v1/messages/${enc}/versions`);
      if (st.preview !== m.id || !st.alive) return;
      if (r.status === 200) {
        vs.items = r.data.items;
        draw();
      }
      const busy = vs.items.some((v) => v.state === 'queued' || v.state === 'running');
      if (busy) vs.timer = setTimeout(refresh, VERSION_POLL_MS);
    }
    async function make(format, btn) {
      btn.disabled = true;
      const body = { format, captions: capSel.value || null, credit: true, branding: true };
      const r = await api('POST', `/api/v1/messages/${enc}/versions`, body);
      if (st.preview !== m.id || !st.alive) return;
      if (r.status === 200 || r.status === 202) {
        vs.items = vs.items.filter((v) => v.name !== r.data.name).concat([r.data]);
        draw();
        refresh();
      } else {
        btn.disabled = false;
        if (r.status !== 401) toast(errorText(r), 'error');
      }
    }
    capSel.addEventListener('change', draw);
    api('GET', `/api/v1/messages/${enc}/transcripts`).then((r) => {
      if (r.status !== 200 || st.preview !== m.id) return;
      for (const x of r.data.items) capSel.append(h('option', { value: x.lang, text: `${language(x.lang)} (${x.lang})` }));
    });
    draw();
    refresh();
    box.stop = () => clearTimeout(vs.timer);
    return box;
  }

  // ---- keyboard ----
  function keys(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || dialogOpen() || typing(ev)) return;
    if (ev.key === '/' && form.elements.q) {
      ev.preventDefault();
      form.elements.q.focus();
    } else if (ev.key === '/' && form.elements.country) {
      ev.preventDefault();
      form.elements.country.focus();
    }
  }

  const timer = setInterval(refresh, POLL_MS);
  const onVisible = () => { if (!document.hidden) refresh(); };
  document.addEventListener('keydown', keys);
  document.addEventListener('visibilitychange', onVisible);
  if (tools) {
    $('#br-form').addEventListener('submit', submitMarkSelected);
    $('#br-channel').addEventListener('change', onChannel);
  }
  renderTabs();
  load(false);
  countUsed();

  return () => {
    st.alive = false;
    clearInterval(timer);
    document.removeEventListener('keydown', keys);
    document.removeEventListener('visibilitychange', onVisible);
    if (tools) {
      $('#br-form').removeEventListener('submit', submitMarkSelected);
      $('#br-channel').removeEventListener('change', onChannel);
      if ($('#bulk-reshare').open) $('#bulk-reshare').close();
    }
    if (dlg && dlg.open) dlg.close();
  };
}

registerView({ id: 'library', label: 'nav_library', roles: ['comms', 'admin'], home: ['comms'], render });
