// The review queue: status tabs with counts (every state at once in
// "All"), filters and a search that runs as one types, a list of cards
// and the selected message's detail (video and contact sheet beside the
// text, facts and history, decision). Keyboard: J/K select (skipping
// clips another moderator is reviewing), A approve, R reject, X pick for
// a bulk approval, Space play/pause, / search, Esc closes the detail.
//
// Opening a pending clip claims it (claim.h): others see who reviews it,
// and the claim is renewed while it stays open and let go when the
// moderator moves on. The counts and the tab title follow new clips by
// polling (one small request every few seconds; no connection is held
// open: the server has one thread per connection).
import {
  $, ago, api, bytes, canModerate, country, dialogOpen, duration, errorText, flag, h, language,
  registerView, session, statusName, t, toast, typing, when,
} from './panel.js';
import { campaignBadge, campaignField, consentSection } from './campaigns.js';
import { captionsHref } from './captions.js';

const TABS = {
  moderator: ['pending', 'processing', 'failed', 'approved', 'rejected', 'withdrawn', 'all'],
  admin: ['pending', 'processing', 'failed', 'approved', 'rejected', 'withdrawn', 'all'],
};
const FILTERS = ['campaign', 'country', 'language', 'q', 'scope'];
const HAS_MEDIA = new Set(['pending', 'approved', 'rejected']);
const PAGE = 50;
const POLL_MS = 5000; // counts and the title, while the page is shown
const POLL_HIDDEN_MS = 30000; // and in a tab in the background
const CLAIM_RENEW_MS = 60000; // a claim lasts 5 minutes from the last look
// This page's own token for its claims: when it closes it lets go only of
// what it still holds, not what another of the user's pages took since.
const TAB = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
const claimUrl = (id) => `/api/v1/messages/${encodeURIComponent(id)}/claim`;
const SEARCH_DELAY_MS = 300;

// The canned reasons of the reject dialog: their words are stored as
// they are (English, the data), and shown in the panel's language.
const REASONS = {
  'Off-topic': 'reason_offtopic',
  'Unsafe for the contributor (identifying details)': 'reason_unsafe',
  Offensive: 'reason_offensive',
  'Poor quality': 'reason_quality',
  Duplicate: 'reason_duplicate',
  'Protection failed': 'reason_protection_short',
};
const PROTECTION_FAILED = 'Protection failed';

/** A stored reason in the panel's language: a canned one translated,
 * with the moderator's note as it was written. */
export function reasonText(r) {
  if (!r) return '';
  for (const [words, key] of Object.entries(REASONS)) {
    if (r === words) return t(key);
    if (r.startsWith(`${words}: `)) return `${t(key)}: ${r.slice(words.length + 2)}`;
  }
  return r;
}

/** Someone else's live claim on m, or null. */
function claimedByOther(m, now = Date.now()) {
  return m && m.claimed_by && m.claimed_by !== session.user && Date.parse(m.claim_until) > now
    ? m.claimed_by : null;
}

function render(main, params, navigate) {
  const tabs = TABS[session.role] || [];
  const status = tabs.includes(params.get('status')) ? params.get('status') : tabs[0];
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || '']));
  const st = {
    items: [], counts: {}, next: null, selected: null, detail: null, claim: null,
    loading: false, detailSeq: 0, listSeq: 0, alive: true, picked: new Set(),
  };
  const bulk = status === 'pending' && canModerate();

  // ---- skeleton ----
  const tabNav = h('nav', { class: 'tabs', 'aria-label': t('q_tabs_label') });
  const form = filterForm(filters, (f) => navigate({ status, ...f }), (q) => searchNow(q));
  const list = h('ul', { class: 'cards', 'aria-label': t(`q_list_${status}`) });
  const empty = h('p', { class: 'empty', hidden: true });
  const more = h('button', { type: 'button', class: 'btn more', hidden: true, onclick: () => load(true) }, t('more'));
  const fresh = h('button', { type: 'button', class: 'btn more', id: 'fresh', hidden: true, onclick: () => load(false) }, t('q_fresh'));
  const tools = bulk ? bulkBar() : null;
  const detail = h('section', { class: 'detail', 'aria-label': t('q_detail_label') });
  const split = h('div', { class: 'split' },
    h('div', { class: 'list-pane' }, tools, fresh, list, empty, more), detail);
  const root = h('div', { class: 'queue' }, h('div', { class: 'bar' }, tabNav, form), split);
  main.append(root);
  showDetail(null);

  // ---- tabs, counts and the title ----
  function renderTabs() {
    const total = Object.values(st.counts).reduce((a, n) => a + n, 0);
    tabNav.replaceChildren(...tabs.map((s) => {
      const p = new URLSearchParams({ status: s });
      for (const k of FILTERS) if (filters[k]) p.set(k, filters[k]);
      const n = s === 'all' ? (Object.keys(st.counts).length ? total : undefined) : st.counts[s];
      return h('a', {
        href: `#queue?${p}`, class: `tab s-${s}`, dataset: { status: s },
        'aria-current': s === status ? 'page' : null,
      }, t(`tab_${s}`), ' ', h('span', { class: 'count', text: n === undefined ? '' : String(n) }));
    }));
    // The pending count in the tab's title, seen from other tabs too.
    const pending = st.counts.pending;
    document.title = `${pending ? `(${pending}) ` : ''}${t('nav_queue')} · Chorus`;
  }

  function query(cursor, limit = PAGE) {
    const p = new URLSearchParams({ status, limit: String(limit) });
    for (const k of FILTERS) if (filters[k]) p.set(k, filters[k]);
    if (cursor) p.set('cursor', cursor);
    return `/api/v1/messages?${p}`;
  }

  // ---- loading the list ----
  async function load(append, { quiet = false } = {}) {
    const seq = ++st.listSeq;
    if (!quiet) st.loading = true;
    // A quiet refresh (polling) reloads what is shown, in one page.
    const limit = quiet ? Math.min(200, Math.max(PAGE, st.items.length)) : PAGE;
    const res = await api('GET', query(append ? st.next : null, limit));
    if (seq !== st.listSeq || !st.alive) return;
    st.loading = false;
    if (res.status !== 200) {
      if (!quiet) {
        list.replaceChildren();
        empty.hidden = false;
        empty.textContent = errorText(res);
      }
      return;
    }
    st.counts = res.data.counts || {};
    const before = signature(st.items);
    st.items = append ? st.items.concat(res.data.items) : res.data.items;
    st.next = res.data.next_cursor;
    renderTabs();
    // A quiet refresh that changed nothing leaves the cards (and the
    // keyboard's place among them) alone.
    if (!quiet || signature(st.items) !== before) renderList();
    const open = params.get('open');
    if (!append && !quiet && open && !st.selected) {
      select(open, false);
    } else if (!append && !quiet) {
      const first = st.items.find((m) => !claimedByOther(m)) || st.items[0];
      if (first && window.matchMedia('(min-width: 900px)').matches) select(first.id, false);
      else if (st.selected) select(null);
    } else if (st.selected && !open && !st.items.some((m) => m.id === st.selected)) {
      // Gone from this list (decided elsewhere, finished processing).
      select(null);
    }
  }

  /** The counts (and the title) by themselves: one row's worth. */
  async function refreshCounts() {
    const res = await api('GET', query(null, 1));
    if (res.status !== 200 || !st.alive) return;
    st.counts = res.data.counts || {};
    renderTabs();
    const filtered = FILTERS.some((k) => filters[k]);
    fresh.hidden = filtered || status !== 'pending' || st.next !== null || !(st.counts.pending > st.items.length);
  }

  /** The search as one types: the list again, the address kept. */
  function searchNow(q) {
    filters.q = q;
    const p = new URLSearchParams({ status });
    for (const k of FILTERS) if (filters[k]) p.set(k, filters[k]);
    history.replaceState(null, '', `#queue?${p}`);
    renderTabs();
    load(false);
  }

  function signature(items) {
    return items.map((m) => `${m.id}:${m.status}:${m.claimed_by || ''}:${m.progress}:${m.reshared}`).join();
  }

  function renderList() {
    const a = document.activeElement;
    const focused = a && list.contains(a) && a.closest('[data-id]') ? a.closest('[data-id]').dataset.id : null;
    list.replaceChildren(...st.items.map(card));
    if (focused && cardEl(focused)) cardEl(focused).focus({ preventScroll: true });
    empty.hidden = st.items.length > 0;
    empty.textContent = FILTERS.some((k) => filters[k]) ? t('q_empty_filtered') : t(`q_empty_${status}`);
    more.hidden = !st.next;
    fresh.hidden = true;
    for (const id of [...st.picked]) if (!st.items.some((m) => m.id === id && m.status === 'pending')) st.picked.delete(id);
    if (tools) tools.update();
  }

  function card(m) {
    const img = HAS_MEDIA.has(m.status) && !m.media_deleted_at
      ? h('img', { class: 'thumb', src: `/media/${encodeURIComponent(m.id)}/thumb.jpg`, alt: '', loading: 'lazy', decoding: 'async' })
      : h('span', { class: 'thumb none', 'aria-hidden': 'true' }, m.status === 'processing' ? '⋯' : '–');
    const extra = [];
    if (m.status === 'processing' || m.status === 'uploading') extra.push(progress(m.progress));
    if (m.status === 'failed') extra.push(h('span', { class: 'reason', text: m.failure_reason || t('failed'), dir: 'auto' }));
    const other = claimedByOther(m);
    const button = h('button', {
      type: 'button', class: `card${other ? ' claimed' : ''}`, dataset: { id: m.id },
      'aria-current': m.id === st.selected ? 'true' : null,
      onclick: () => select(m.id, true),
    },
    img,
    h('span', { class: 'card-body' },
      nameLine(m),
      m.organization ? h('span', { class: 'org', text: m.organization, dir: 'auto' }) : null,
      h('span', { class: 'meta' },
        place(m), ' · ', duration(m.duration_ms) || '–', ' · ',
        h('time', { datetime: m.received_at || m.created_at, title: when(m.received_at || m.created_at) },
          ago(m.received_at || m.created_at))),
      h('span', { class: 'badges' },
        status === 'all' || m.status !== status ? h('span', { class: `badge s-${m.status}`, text: statusName(m.status) }) : null,
        campaignBadge(m.campaign), scopeBadge(m.consent_scope),
        m.reshared ? h('span', { class: 'badge', text: t('q_reshared') }) : null,
        other ? h('span', { class: 'badge claim', text: t('claim_badge', { user: other }) }) : null,
        ...protectBadges(m)),
      ...extra));
    if (!bulk || m.status !== 'pending') return h('li', {}, button);
    // Another moderator's clip is theirs to decide: not in a bulk approval.
    if (other) st.picked.delete(m.id);
    const box = h('input', {
      type: 'checkbox', class: 'pick', checked: st.picked.has(m.id), disabled: !!other,
      title: other ? t('claim_badge', { user: other }) : null,
      'aria-label': t('bulk_pick', { name: m.name || t('anonymous') }),
      onchange: (ev) => pick(m.id, ev.target.checked),
    });
    return h('li', { class: 'pickable' }, h('label', { class: 'pick-box' }, box), button);
  }

  // ---- bulk approval ----
  function pick(id, on) {
    if (on) st.picked.add(id); else st.picked.delete(id);
    const li = cardEl(id) && cardEl(id).closest('li');
    const box = li && li.querySelector('input.pick');
    if (box) box.checked = on;
    tools.update();
  }

  function bulkBar() {
    const all = h('input', { type: 'checkbox', id: 'q-all' });
    const info = h('span', { class: 'sel-info', role: 'status', 'aria-live': 'polite' });
    const go = h('button', { type: 'button', class: 'btn primary small', id: 'bulk-approve', onclick: () => approveMany() });
    const clear = h('button', { type: 'button', class: 'btn link small', onclick: () => { for (const id of [...st.picked]) pick(id, false); } }, t('clear'));
    all.addEventListener('change', () => {
      for (const m of st.items) if (m.status === 'pending' && !claimedByOther(m)) pick(m.id, all.checked);
    });
    const bar = h('div', { class: 'q-tools', role: 'region', 'aria-label': t('bulk_label') },
      h('label', { class: 'check', for: 'q-all' }, all, ` ${t('bulk_all')}`), info, go, clear);
    bar.update = () => {
      const n = st.picked.size;
      const pickable = st.items.filter((m) => m.status === 'pending' && !claimedByOther(m));
      all.checked = pickable.length > 0 && pickable.every((m) => st.picked.has(m.id));
      all.indeterminate = n > 0 && !all.checked;
      info.textContent = n ? t('sel_n', { n }) : t('sel_none');
      go.textContent = t('bulk_approve', { n });
      go.disabled = n === 0;
      clear.hidden = n === 0;
    };
    return bar;
  }

  async function approveMany() {
    const chosen = [...st.picked];
    if (!chosen.length || busy) return;
    busy = true;
    const res = await api('POST', '/api/v1/messages/approve', { ids: chosen });
    busy = false;
    if (res.status !== 200) {
      if (res.status !== 401) toast(errorText(res), 'error');
      return;
    }
    const failed = res.data.results.filter((r) => !r.ok);
    for (const r of res.data.results) if (r.ok) st.picked.delete(r.id);
    if (failed.length) {
      const why = failed.map((r) => (r.error === 'claimed' ? t('claim_refused', { user: r.claimed_by || '?' })
        : errorText({ data: r }))).filter((x, i, a) => a.indexOf(x) === i).join(' · ');
      toast(t('bulk_partly', { done: res.data.done, failed: failed.length, why }), 'error');
    } else {
      toast(t('bulk_done', { n: res.data.done }), 'ok');
    }
    await load(false, { quiet: true });
    if (st.selected && !st.items.some((m) => m.id === st.selected)) {
      const next = st.items.find((m) => !claimedByOther(m));
      select(next ? next.id : null, true);
    }
  }

  // ---- selection, claims and the detail ----
  function cardEl(id) {
    return [...list.querySelectorAll('button.card')].find((b) => b.dataset.id === id) || null;
  }

  function select(id, focus) {
    if (id !== null && id === st.selected && st.detail && st.detail.id === id) {
      root.classList.add('has-detail'); // shown already: keep the player as it is
      return;
    }
    const old = st.selected && cardEl(st.selected);
    if (old) old.removeAttribute('aria-current');
    if (st.selected !== id) letGo();
    st.selected = id;
    root.classList.toggle('has-detail', id !== null);
    if (id === null) { showDetail(null); return; }
    const el = cardEl(id);
    if (el) {
      el.setAttribute('aria-current', 'true');
      el.scrollIntoView({ block: 'nearest' });
      if (focus) el.focus({ preventScroll: true });
    }
    const item = st.items.find((m) => m.id === id);
    if (item && item.status === 'pending' && canModerate()) takeClaim(id);
    loadDetail(id);
  }

  /** Claims (or renews) the clip being looked at; says who holds it. */
  async function takeClaim(id) {
    const res = await api('POST', claimUrl(id), { tab: TAB });
    if (res.status !== 200) return;
    if (!st.alive || st.selected !== id) {
      // Left (or the page closed) before the claim came back: let it go
      // now, not in 5 minutes.
      if (res.data.mine) api('DELETE', `${claimUrl(id)}?tab=${TAB}`);
      return;
    }
    const before = st.claim && st.claim.id === id ? st.claim.by : undefined;
    st.claim = { id, mine: res.data.mine, by: res.data.claimed_by, until: res.data.until };
    const item = st.items.find((m) => m.id === id);
    if (item) { item.claimed_by = res.data.claimed_by; item.claim_until = res.data.until; }
    if (before !== st.claim.by && st.detail && st.detail.id === id) showDetail(st.detail);
  }

  /** Lets the claim on the clip left go, if it is ours. */
  function letGo() {
    const c = st.claim;
    st.claim = null;
    // keepalive: the release still goes out when the page is closing.
    if (c && c.mine) api('DELETE', `${claimUrl(c.id)}?tab=${TAB}`, undefined, { keepalive: true });
  }

  function move(step) {
    if (st.items.length === 0) return;
    const i = st.items.findIndex((m) => m.id === st.selected);
    // The next one nobody else is reviewing; the ends stay where they are.
    for (let j = i < 0 ? (step > 0 ? 0 : st.items.length - 1) : i + step; j >= 0 && j < st.items.length; j += step) {
      if (!claimedByOther(st.items[j])) {
        if (st.items[j].id !== st.selected) select(st.items[j].id, true);
        return;
      }
    }
  }

  async function loadDetail(id, { quiet = false } = {}) {
    const seq = ++st.detailSeq;
    if (!quiet) detail.replaceChildren(h('p', { class: 'muted pad', text: t('loading') }));
    const res = await api('GET', `/api/v1/messages/${encodeURIComponent(id)}`);
    if (seq !== st.detailSeq || st.selected !== id || !st.alive) return;
    if (res.status !== 200) {
      detail.replaceChildren(h('p', { class: 'error pad', text: errorText(res) }));
      return;
    }
    // Polling must not restart a playing video: only the changing parts.
    if (quiet && st.detail && st.detail.id === id && st.detail.status === res.data.status) {
      st.detail = res.data;
      const p = detail.querySelector('.job');
      if (p) p.replaceWith(jobState(res.data));
      return;
    }
    st.detail = res.data;
    // Opened from a link (the audit log): a pending one is claimed too.
    if (res.data.status === 'pending' && canModerate() && (!st.claim || st.claim.id !== id) &&
        !st.items.some((m) => m.id === id)) takeClaim(id);
    showDetail(res.data);
  }

  /** Who else reviews the message shown, if anyone. */
  function otherReviewer(m) {
    if (st.claim && st.claim.id === m.id) return st.claim.mine ? null : st.claim.by;
    return claimedByOther(st.items.find((x) => x.id === m.id));
  }

  function showDetail(m) {
    if (!m) {
      st.detail = null;
      detail.replaceChildren(h('div', { class: 'placeholder' },
        h('p', { text: t('q_select') }),
        h('p', { class: 'muted' }, t('q_select_keys_1'), ' ', h('kbd', { text: 'J' }), ' ', t('q_select_keys_2'), ' ',
          h('kbd', { text: '?' }), ' ', t('q_select_keys_3'))));
      return;
    }
    const media = HAS_MEDIA.has(m.status) && !m.media_deleted_at;
    const id = encodeURIComponent(m.id);
    const head = h('header', { class: 'detail-head' },
      h('div', {}, h('h2', {}, nameLine(m)), m.organization ? h('p', { class: 'org', text: m.organization, dir: 'auto' }) : null),
      h('button', { type: 'button', class: 'btn small close', title: t('q_close_title'), onclick: () => closeDetail() },
        h('span', { class: 'wide-only', 'aria-hidden': 'true' }, '✕'), h('span', { class: 'narrow-only', 'aria-hidden': 'true' }, t('q_back_short')),
        h('span', { class: 'sr-only' }, t('q_back'))));
    const player = media
      ? h('video', { controls: true, preload: 'metadata', playsinline: true, src: `/media/${id}/video.mp4`, poster: `/media/${id}/thumb.jpg`, class: m.height > m.width ? 'portrait' : null })
      : h('div', { class: 'novideo' }, jobState(m));
    const scopeNote = m.consent_scope === 'union'
      ? h('p', { class: 'scope-note', role: 'note' }, h('strong', { text: t('union_only_title') }), ' ', t('union_only_text'))
      : null;
    const other = m.status === 'pending' ? otherReviewer(m) : null;
    const claimNote = other
      ? h('p', { class: 'claim-note', role: 'status', id: 'claim-note' }, t('claim_other', { user: other }),
        session.role === 'admin' ? ` ${t('claim_admin')}` : '')
      : null;
    // A clip that was made has a time to caption (moderators edit its
    // transcripts too).
    const captions = media && ['pending', 'approved', 'rejected'].includes(m.status)
      ? h('p', { class: 'detail-captions' }, h('a', { class: 'btn small', id: 'd-captions', href: captionsHref(m.id) }, t('v_edit_captions')))
      : null;
    detail.replaceChildren(head,
      h('div', { class: 'detail-body' },
        h('div', { class: 'detail-media' }, player, captions, ...protection(m, media)),
        h('div', { class: 'detail-side' }, ...[claimNote, actions(m, other), scopeNote,
          m.message ? h('blockquote', { class: 'message', dir: 'auto', text: m.message }) : h('p', { class: 'muted', text: t('no_message') }),
          facts(m), consentSection(m), history(m)].filter(Boolean))));
  }

  function closeDetail() {
    const id = st.selected;
    select(null);
    const el = id && cardEl(id);
    if (el) el.focus();
  }

  function actions(m, other) {
    const bar = h('div', { class: 'actions' });
    if (m.status === 'pending' && canModerate()) {
      // Another moderator reviews it: theirs to decide (an admin may).
      const wait = other !== null && session.role !== 'admin';
      bar.append(
        h('button', { type: 'button', class: 'btn primary', id: 'approve', 'aria-keyshortcuts': 'A', disabled: wait, onclick: () => approve(m.id) }, t('approve'), ' ', h('kbd', { text: 'A' })),
        h('button', { type: 'button', class: 'btn danger', id: 'reject-open', 'aria-keyshortcuts': 'R', disabled: wait, onclick: () => askReject(m.id) }, t('reject_open'), ' ', h('kbd', { text: 'R' })));
    }
    const gone = !!m.media_deleted_at;
    if ((m.status === 'approved' || m.status === 'rejected') && session.role === 'admin' && !gone) {
      bar.append(h('button', { type: 'button', class: 'btn', onclick: () => adminAction(m.id, 'reopen', t('reopened')) }, t('reopen')));
    }
    if (m.status === 'failed' && session.role === 'admin' && !gone) {
      bar.append(h('button', { type: 'button', class: 'btn', onclick: () => adminAction(m.id, 'retry', t('retried')) }, t('retry')));
    }
    // Retention deletes these files after a while; an admin may at once.
    if ((m.status === 'failed' || m.status === 'rejected') && session.role === 'admin' && !gone) {
      bar.append(h('button', { type: 'button', class: 'btn danger', id: 'delete-files', onclick: () => askDeleteFiles(m) },
        m.status === 'failed' ? t('delete_upload') : t('delete_video')));
    }
    if (gone) {
      const why = ['retention', 'admin', 'purge'].includes(m.media_deleted_why) ? t(`files_gone_${m.media_deleted_why}`) : '';
      bar.append(h('p', { class: 'files-gone', id: 'files-gone' }, t('files_gone'), ' ',
        h('time', { datetime: m.media_deleted_at, text: when(m.media_deleted_at) }), why ? ` ${why}.` : '.'));
    }
    if (m.status !== 'pending' && m.decided_at) {
      bar.append(h('p', { class: 'decision' },
        h('span', { class: `badge s-${m.status}`, text: statusName(m.status) }), ' ', t('decided_by', { user: m.decided_by || '?' }), ', ',
        h('time', { datetime: m.decided_at, text: when(m.decided_at) }),
        m.decision_reason ? h('span', { class: 'why', text: `: ${reasonText(m.decision_reason)}`, dir: 'auto' }) : null));
    }
    return bar.childElementCount ? bar : null;
  }

  function facts(m) {
    const dl = h('dl', { class: 'facts' });
    const add = (k, v) => { if (v !== null && v !== undefined && v !== '') dl.append(h('dt', { text: t(k) }), h('dd', {}, v)); };
    add('f_status', h('span', { class: `badge s-${m.status}`, text: statusName(m.status) }));
    add('f_country', m.country ? `${flag(m.country)} ${country(m.country)}` : '');
    add('f_language', language(m.language));
    add('f_consent', t(m.consent_scope === 'union' ? 'consent_union_v' : 'consent_public_v', { v: m.consent_version || '?' }));
    add('f_received', m.received_at ? `${when(m.received_at)} (${ago(m.received_at)})` : '');
    add('f_duration', duration(m.duration_ms));
    add('f_picture', m.width ? `${m.width}×${m.height}` : '');
    add('f_sound', m.has_audio === null || m.has_audio === undefined ? '' : t(m.has_audio ? 'yes' : 'sound_none'));
    add('f_file', bytes(m.video_bytes));
    if (m.protect && m.protect.length) add('f_protection', m.protect.map(protectName).join(', '));
    if (m.failure_reason) add('f_failure', h('span', { class: 'reason', text: m.failure_reason }));
    const wrap = h('div', { class: 'facts-wrap' }, dl);
    const f = m.facts;
    if (f && typeof f === 'object') {
      const tech = h('dl', { class: 'facts' });
      const tt = (k, v) => { if (v !== null && v !== undefined && v !== '') tech.append(h('dt', { text: t(k) }), h('dd', { text: String(v) })); };
      const i = f.input || {};
      const o = f.output || {};
      const fps = (x) => x && t('u_fps', { n: x });
      tt('t_sent', [i.format && i.format.split(',')[0], i.video_codec, i.width && `${i.width}×${i.height}`, fps(i.fps), bytes(i.bytes)].filter(Boolean).join(', '));
      if (i.rotation) tt('t_rotation', `${i.rotation}°`);
      if (i.hdr) tt('t_hdr', t('t_hdr_yes'));
      tt('t_sent_audio', [i.audio_codec, i.sample_rate && t('u_hz', { n: i.sample_rate }), i.channels && t('u_ch', { n: i.channels })].filter(Boolean).join(', '));
      tt('t_published', [o.video_codec, o.profile, o.width && `${o.width}×${o.height}`, fps(o.fps), bytes(o.bytes)].filter(Boolean).join(', '));
      if (f.loudness) tt('t_loudness', `${f.loudness.before_lufs} → ${f.loudness.after_lufs} LUFS`);
      if (f.seconds !== undefined) tt('t_processing', t('u_s', { n: f.seconds }));
      if (Array.isArray(f.warnings) && f.warnings.length) tt('t_warnings', f.warnings.join('; '));
      wrap.append(h('details', { class: 'tech' },
        h('summary', { text: t('t_summary') }), tech,
        h('details', {}, h('summary', { text: t('t_json') }), h('pre', { text: JSON.stringify(f, null, 2) }))));
    }
    return wrap;
  }

  function history(m) {
    const rows = [{ at: m.received_at || m.created_at, actor: 'contributor', action: 'received' }, ...(m.history || [])];
    return h('section', { class: 'history', 'aria-label': t('history') },
      h('h3', { text: t('history') }),
      h('ol', {}, ...rows.map((r) => h('li', {},
        h('time', { datetime: r.at, text: when(r.at) }), ' ',
        h('strong', { text: actionName(r.action) }), ' ',
        h('span', { class: 'muted', text: r.actor === 'contributor' ? t('actor_contributor') : r.actor || '' }),
        r.reason ? h('span', { class: 'why', text: ` — ${reasonText(r.reason)}`, dir: 'auto' }) : null))));
  }

  // ---- decisions ----
  function removeItem(id, to) {
    const i = st.items.findIndex((m) => m.id === id);
    if (i < 0) return;
    st.items.splice(i, 1);
    st.picked.delete(id);
    if (st.counts[status] > 0) st.counts[status] -= 1;
    if (to && st.counts[to] !== undefined) st.counts[to] += 1;
    if (st.claim && st.claim.id === id) st.claim = null; // the decision ended it
    renderTabs();
    renderList();
    // The next one nobody else is reviewing, from where it was.
    const rest = st.items.slice(i).concat(st.items.slice(0, i).reverse());
    const nextItem = rest.find((m) => !claimedByOther(m)) || st.items[Math.min(i, st.items.length - 1)];
    if (nextItem) select(nextItem.id, true);
    else { select(null); $('#view').focus(); }
  }

  async function decided(res, id, to, ok) {
    if (res.status === 200) {
      toast(ok, 'ok');
      if (status !== to && status !== 'all') removeItem(id, to);
      else { await load(false, { quiet: true }); loadDetail(id); }
      refreshCounts();
      return true;
    }
    if (res.status === 409 && res.data && res.data.error === 'claimed') {
      toast(t('claim_refused', { user: res.data.claimed_by || '?' }), 'error');
      takeClaim(id);
      return true;
    }
    if (res.status === 409) {
      toast(t('q_decided_elsewhere'), 'error');
      await load(false, { quiet: true });
      if (st.selected === id) loadDetail(id);
      return true;
    }
    if (res.status !== 401) toast(errorText(res), 'error');
    return false;
  }

  let busy = false;
  async function approve(id) {
    if (busy) return;
    busy = true;
    const res = await api('POST', `/api/v1/messages/${encodeURIComponent(id)}/approve`, {});
    busy = false;
    await decided(res, id, 'approved', t('approved_toast'));
  }

  function askReject(id) {
    const dlg = $('#reject');
    const f = $('#reject-form');
    f.reset();
    $('#reject-error').hidden = true;
    dlg.dataset.id = id;
    dlg.showModal();
    f.querySelector('input[name=reason]').focus();
  }

  async function submitReject(ev) {
    const dlg = $('#reject');
    const f = $('#reject-form');
    if (ev.submitter && ev.submitter.value === 'cancel') return; // the dialog closes itself
    ev.preventDefault();
    const pickd = f.elements.reason.value;
    const note = f.elements.note.value.trim();
    const err = $('#reject-error');
    if (!pickd || (pickd === 'other' && !note)) {
      err.textContent = pickd ? t('reject_say_why') : t('reject_choose');
      err.hidden = false;
      (pickd ? f.elements.note : f.querySelector('input[name=reason]')).focus();
      return;
    }
    const reason = pickd === 'other' ? note : (note ? `${pickd}: ${note}` : pickd);
    // "Protection failed" carries its code: the receipt offers to send again.
    const code = pickd === PROTECTION_FAILED ? 'protection_failed' : undefined;
    const id = dlg.dataset.id;
    if (busy) return;
    busy = true;
    const res = await api('POST', `/api/v1/messages/${encodeURIComponent(id)}/reject`, { reason, code });
    busy = false;
    if (res.status === 200 || res.status === 409 || res.status === 401) dlg.close();
    if (!(await decided(res, id, 'rejected', t('rejected_toast'))) && res.status !== 401) {
      err.textContent = errorText(res);
      err.hidden = false;
    }
  }

  function rejectKeys(ev) {
    if (ev.target.tagName === 'TEXTAREA') return;
    const n = Number(ev.key);
    const radios = $('#reject-form').querySelectorAll('input[name=reason]');
    if (n >= 1 && n <= radios.length && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      ev.preventDefault();
      radios[n - 1].checked = true;
      radios[n - 1].focus();
      if (radios[n - 1].value === 'other') $('#reject-note').focus();
    }
  }

  /** Asks once, then deletes a failed or rejected message's files. */
  function askDeleteFiles(m) {
    const box = detail.querySelector('.actions');
    if (!box || box.querySelector('.confirm-delete')) return;
    const no = h('button', { type: 'button', class: 'btn', onclick: () => ask.remove() }, t('delete_keep'));
    const ask = h('div', { class: 'confirm-delete notice', role: 'alertdialog', 'aria-label': t('delete_label') },
      h('p', { text: m.status === 'failed' ? t('delete_upload_ask') : t('delete_video_ask') }),
      h('button', { type: 'button', class: 'btn danger', id: 'delete-files-yes', onclick: () => { ask.remove(); adminAction(m.id, 'delete-files', t('deleted_toast')); } }, t('delete_yes')),
      ' ', no);
    box.append(ask);
    no.focus();
  }

  async function adminAction(id, what, ok) {
    const res = await api('POST', `/api/v1/messages/${encodeURIComponent(id)}/${what}`, {});
    if (res.status === 200) {
      toast(ok, 'ok');
      await load(false, { quiet: true });
      if (st.selected === id) loadDetail(id);
    } else if (res.status !== 401) {
      toast(errorText(res), 'error');
    }
  }

  // ---- keyboard ----
  function keys(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || dialogOpen() || typing(ev)) return;
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    // The list knows the status: A and R work before the detail arrives.
    const m = st.items.find((x) => x.id === st.selected) || (st.detail && st.detail.id === st.selected ? st.detail : null);
    const mayDecide = m && m.status === 'pending' && canModerate() &&
      (session.role === 'admin' || !otherReviewer(m));
    if (key === 'j') move(1);
    else if (key === 'k') move(-1);
    else if (key === 'a' && mayDecide) approve(m.id);
    else if (key === 'r' && mayDecide) askReject(m.id);
    else if (key === 'x' && bulk && m && m.status === 'pending' && !claimedByOther(m)) pick(m.id, !st.picked.has(m.id));
    else if (key === '/') form.elements.q.focus();
    else if (key === ' ') {
      // Space plays unless it would press a button other than a card.
      const tg = ev.target;
      const video = detail.querySelector('video');
      if (!video || tg === video || tg.closest('summary, a') ||
          (tg.closest('button') && !tg.closest('button.card'))) return;
      if (video.paused) video.play().catch(() => {}); else video.pause();
    } else if (key === 'Escape' && st.selected) closeDetail();
    else return;
    ev.preventDefault();
  }

  // ---- polling ----
  // Counts and the title every few seconds; the list itself while clips
  // are processing; the claim on the clip looked at, every minute.
  let lastPoll = 0;
  let lastClaim = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - lastPoll < (document.hidden ? POLL_HIDDEN_MS : POLL_MS) - 100) return;
    lastPoll = now;
    const live = status === 'processing' || st.items.some((m) => m.status === 'processing' || m.status === 'uploading');
    if (live && !document.hidden) load(false, { quiet: true });
    else if (status === 'pending' && !document.hidden && !FILTERS.some((k) => filters[k]) && st.items.length <= 200) {
      // Also who reviews what: the list is reloaded, quietly.
      load(false, { quiet: true }).then(refreshFresh);
    } else refreshCounts();
    if (st.detail && (st.detail.status === 'processing' || st.detail.status === 'uploading')) {
      loadDetail(st.detail.id, { quiet: true });
    }
    if (st.claim && st.claim.mine && now - lastClaim >= CLAIM_RENEW_MS && !document.hidden) {
      lastClaim = now;
      takeClaim(st.claim.id);
    }
  }, 1000);

  function refreshFresh() {
    fresh.hidden = st.next !== null || !(st.counts.pending > st.items.length);
  }

  const onHide = () => { if (document.hidden) return; lastPoll = 0; };
  const onLeave = () => letGo();
  const rejectForm = $('#reject-form');
  rejectForm.addEventListener('submit', submitReject);
  $('#reject').addEventListener('keydown', rejectKeys);
  document.addEventListener('keydown', keys);
  document.addEventListener('visibilitychange', onHide);
  window.addEventListener('pagehide', onLeave);
  renderTabs();
  load(false);

  return () => {
    st.alive = false;
    letGo();
    clearInterval(timer);
    document.removeEventListener('keydown', keys);
    document.removeEventListener('visibilitychange', onHide);
    window.removeEventListener('pagehide', onLeave);
    rejectForm.removeEventListener('submit', submitReject);
    $('#reject').removeEventListener('keydown', rejectKeys);
  };
}

// ---- pieces shared by cards and the detail ----

/** What a protection asked for is called (DESIGN.md "Identity protection"). */
export function protectName(k) {
  return ['blur_faces', 'voice', 'no_video'].includes(k) ? t(`protect_${k}`) : k;
}

/** An audit action's name ("message.approve"), or the code itself. */
export function actionName(a) {
  const key = `action_${a}`;
  return window.I18N.has(key) ? t(key) : a;
}

/** A card's badges for what the contributor asked to be protected. */
function protectBadges(m) {
  const out = [];
  if (m.protect && m.protect.length) out.push(h('span', { class: 'badge protect', text: m.protect.map(protectName).join(', ') }));
  if (m.check_protection) out.push(h('span', { class: 'badge check', text: t('protect_check') }));
  return out;
}

/** The detail's protection: a warning to check the blur, and the contact
 * sheet of a protected clip. */
function protection(m, media) {
  const out = [];
  if (m.check_protection) out.push(h('p', { class: 'check-note', role: 'note', text: t('protect_check_why') }));
  if (media && m.protect && m.protect.length) {
    out.push(h('figure', { class: 'sheet' },
      h('img', { src: `/media/${encodeURIComponent(m.id)}/sheet.jpg`, alt: t('protect_sheet'), loading: 'lazy', decoding: 'async' }),
      h('figcaption', { class: 'muted', text: t('protect_sheet') })));
  }
  return out;
}

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

function scopeBadge(scope) {
  return scope === 'union'
    ? h('span', { class: 'badge union', text: t('badge_union') })
    : h('span', { class: 'badge public', text: t('badge_public') });
}

function progress(p) {
  const pct = Math.round((p || 0) * 100);
  return h('span', { class: 'progress' },
    h('progress', { max: '100', value: String(pct), 'aria-label': t('progress_label') }), ` ${t('u_pct', { n: pct })}`);
}

function jobState(m) {
  if (m.status === 'processing' || m.status === 'uploading') {
    const p = m.job ? m.job.progress : m.progress;
    return h('div', { class: 'job' }, h('p', { text: m.status === 'uploading' ? t('job_uploading') : t('job_processing') }), progress(p),
      m.job && m.job.attempts > 1 ? h('p', { class: 'muted', text: t('job_attempt', { n: m.job.attempts }) }) : null);
  }
  if (m.status === 'failed') {
    return h('div', { class: 'job' }, h('p', { text: t('job_failed') }), h('p', { class: 'reason', text: m.failure_reason || (m.job && m.job.error) || t('job_no_reason') }));
  }
  if (m.status === 'withdrawn') return h('div', { class: 'job' }, h('p', { text: t('job_withdrawn') }));
  return h('div', { class: 'job' });
}

/** The filters; the search runs as one types (onSearch), the rest on
 * "Filter". */
function filterForm(values, apply, onSearch) {
  const input = (name, label, attrs = {}) => {
    const id = `f-${name}`;
    return h('div', { class: 'field' }, h('label', { for: id, text: label }),
      h('input', { id, name, value: values[name], ...attrs }));
  };
  const scope = h('select', { id: 'f-scope', name: 'scope' },
    ...[['', t('scope_any')], ['public', t('scope_public')], ['union', t('scope_union')]].map(([v, tx]) =>
      h('option', { value: v, selected: values.scope === v, text: tx })));
  const form = h('form', { class: 'filters', role: 'search' },
    input('q', t('search'), { type: 'search', placeholder: t('search_hint'), maxlength: '100', 'aria-keyshortcuts': '/', autocomplete: 'off' }),
    campaignField(values.campaign, 'f'),
    input('country', t('f_country'), { placeholder: 'BY', maxlength: '2', size: '3', pattern: '[A-Za-z]{2}', autocapitalize: 'characters', title: t('country_hint') }),
    input('language', t('f_language'), { placeholder: 'be', maxlength: '35', size: '5' }),
    h('div', { class: 'field' }, h('label', { for: 'f-scope', text: t('f_consent') }), scope),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'btn' }, t('filter')),
      h('button', { type: 'button', class: 'btn link', onclick: () => apply({}) }, t('clear'))));
  let timer = 0;
  let last = values.q;
  form.elements.q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const q = form.elements.q.value.replace(/^\s+/, '');
      if (q === last) return;
      last = q;
      onSearch(q);
    }, SEARCH_DELAY_MS);
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearTimeout(timer);
    const f = {};
    for (const k of FILTERS) f[k] = form.elements[k].value.trim();
    f.country = f.country.toUpperCase();
    apply(f);
  });
  return form;
}

registerView({
  id: 'queue', label: 'nav_queue', roles: ['moderator', 'admin'], home: ['moderator', 'admin'], render,
});
