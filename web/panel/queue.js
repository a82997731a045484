// The review queue: status tabs with counts, filters, a list of cards and
// the selected message's detail (video, text, facts, history, decision).
// Keyboard: J/K select, A approve, R reject, Space play/pause, / search,
// Esc closes the detail. Processing clips are polled for their progress.
import {
  $, ago, api, bytes, canModerate, dialogOpen, duration, errorText, flag, h,
  registerView, session, toast, typing, when,
} from './panel.js';
import { campaignBadge, campaignField, consentSection } from './campaigns.js';

const TABS = {
  moderator: ['pending', 'processing', 'failed', 'approved', 'rejected', 'withdrawn'],
  admin: ['pending', 'processing', 'failed', 'approved', 'rejected', 'withdrawn'],
  comms: ['approved'],
};
const LABEL = {
  pending: 'Pending', processing: 'Processing', failed: 'Failed', approved: 'Approved',
  rejected: 'Rejected', withdrawn: 'Withdrawn', uploading: 'Uploading',
};
const FILTERS = ['campaign', 'country', 'language', 'q', 'scope'];
const HAS_MEDIA = new Set(['pending', 'approved', 'rejected']);
const PAGE = 50;
// Identity protection (DESIGN.md "Identity protection"): the panel's words
// for it, in one place (the panel speaks English until it has i18n).
const PROTECT = {
  blur_faces: 'faces blurred', voice: 'voice disguised', no_video: 'voice only (card)',
  check: 'check the blur',
  checkWhy: 'Check the blur: no face was found, or faces came and went. Look at every frame of the contact sheet and the video before approving; reject with “Protection failed” if a face shows.',
  sheet: 'Contact sheet: frames from across the clip, as published',
  failed: 'Protection failed',
};
const POLL_MS = 3000;

function render(main, params, navigate) {
  const tabs = TABS[session.role] || [];
  const status = tabs.includes(params.get('status')) ? params.get('status') : tabs[0];
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || '']));
  const st = {
    items: [], counts: {}, next: null, selected: null, detail: null,
    loading: false, detailSeq: 0, listSeq: 0, ticks: 0,
  };

  // ---- skeleton ----
  const tabNav = h('nav', { class: 'tabs', 'aria-label': 'Status' });
  const form = filterForm(filters, (f) => navigate({ status, ...f }));
  const list = h('ul', { class: 'cards', 'aria-label': `${LABEL[status]} messages` });
  const empty = h('p', { class: 'empty', hidden: true });
  const more = h('button', { type: 'button', class: 'btn more', hidden: true, onclick: () => load(true) }, 'Load more');
  const fresh = h('button', { type: 'button', class: 'btn more', hidden: true, onclick: () => load(false) }, 'New messages: show them');
  const detail = h('section', { class: 'detail', 'aria-label': 'Selected message' });
  const split = h('div', { class: 'split' },
    h('div', { class: 'list-pane' }, fresh, list, empty, more), detail);
  const root = h('div', { class: 'queue' }, h('div', { class: 'bar' }, tabNav, form), split);
  main.append(root);
  showDetail(null);

  // ---- tabs and counts ----
  function renderTabs() {
    tabNav.replaceChildren(...tabs.map((s) => {
      const p = new URLSearchParams({ status: s });
      for (const k of FILTERS) if (filters[k]) p.set(k, filters[k]);
      const n = st.counts[s];
      return h('a', {
        href: `#queue?${p}`, class: `tab s-${s}`, dataset: { status: s },
        'aria-current': s === status ? 'page' : null,
      }, LABEL[s], ' ', h('span', { class: 'count', text: n === undefined ? '' : String(n) }));
    }));
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
    if (seq !== st.listSeq) return;
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
    st.items = append ? st.items.concat(res.data.items) : res.data.items;
    st.next = res.data.next_cursor;
    renderTabs();
    renderList();
    if (!append && !quiet) {
      if (st.items.length > 0 && window.matchMedia('(min-width: 900px)').matches) select(st.items[0].id, false);
      else if (st.selected) select(null);
    } else if (st.selected && !st.items.some((m) => m.id === st.selected)) {
      // Gone from this list (decided elsewhere, finished processing).
      select(null);
    }
  }

  async function refreshCounts() {
    const res = await api('GET', query(null, 1));
    if (res.status !== 200) return;
    st.counts = res.data.counts || {};
    renderTabs();
    const filtered = FILTERS.some((k) => filters[k]);
    fresh.hidden = filtered || st.next !== null || !(st.counts[status] > st.items.length);
  }

  function renderList() {
    list.replaceChildren(...st.items.map(card));
    empty.hidden = st.items.length > 0;
    empty.textContent = FILTERS.some((k) => filters[k])
      ? 'No messages match these filters.' : `No ${LABEL[status].toLowerCase()} messages.`;
    more.hidden = !st.next;
    fresh.hidden = true;
  }

  function card(m) {
    const img = HAS_MEDIA.has(m.status) && !m.media_deleted_at
      ? h('img', { class: 'thumb', src: `/media/${encodeURIComponent(m.id)}/thumb.jpg`, alt: '', loading: 'lazy', decoding: 'async' })
      : h('span', { class: 'thumb none', 'aria-hidden': 'true' }, m.status === 'processing' ? '⋯' : '–');
    const extra = [];
    if (m.status === 'processing' || m.status === 'uploading') extra.push(progress(m.progress));
    if (m.status === 'failed') extra.push(h('span', { class: 'reason', text: m.failure_reason || 'failed' }));
    return h('li', {},
      h('button', {
        type: 'button', class: 'card', dataset: { id: m.id },
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
        h('span', { class: 'badges' }, campaignBadge(m.campaign), scopeBadge(m.consent_scope),
          m.reshared ? h('span', { class: 'badge', text: 'reshared' }) : null,
          ...protectBadges(m)),
        ...extra)));
  }

  // ---- selection and detail ----
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
    st.selected = id;
    root.classList.toggle('has-detail', id !== null);
    if (id === null) { showDetail(null); return; }
    const el = cardEl(id);
    if (el) {
      el.setAttribute('aria-current', 'true');
      el.scrollIntoView({ block: 'nearest' });
      if (focus) el.focus({ preventScroll: true });
    }
    loadDetail(id);
  }

  function move(step) {
    if (st.items.length === 0) return;
    const i = st.items.findIndex((m) => m.id === st.selected);
    const j = i < 0 ? (step > 0 ? 0 : st.items.length - 1)
      : Math.min(st.items.length - 1, Math.max(0, i + step));
    if (st.items[j].id !== st.selected) select(st.items[j].id, true);
  }

  async function loadDetail(id, { quiet = false } = {}) {
    const seq = ++st.detailSeq;
    if (!quiet) detail.replaceChildren(h('p', { class: 'muted pad', text: 'Loading…' }));
    const res = await api('GET', `/api/v1/messages/${encodeURIComponent(id)}`);
    if (seq !== st.detailSeq || st.selected !== id) return;
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
    showDetail(res.data);
  }

  function showDetail(m) {
    if (!m) {
      st.detail = null;
      detail.replaceChildren(h('div', { class: 'placeholder' },
        h('p', { text: 'Select a message to review it.' }),
        h('p', { class: 'muted' }, 'Press ', h('kbd', { text: 'J' }), ' for the next one, ', h('kbd', { text: '?' }), ' for all shortcuts.')));
      return;
    }
    const media = HAS_MEDIA.has(m.status) && !m.media_deleted_at;
    const id = encodeURIComponent(m.id);
    const head = h('header', { class: 'detail-head' },
      h('div', {}, h('h2', {}, nameLine(m)), m.organization ? h('p', { class: 'org', text: m.organization, dir: 'auto' }) : null),
      h('button', { type: 'button', class: 'btn small close', title: 'Close (Esc)', onclick: () => closeDetail() },
        h('span', { class: 'wide-only', 'aria-hidden': 'true' }, '✕'), h('span', { class: 'narrow-only', 'aria-hidden': 'true' }, '← List'),
        h('span', { class: 'sr-only' }, 'Back to the list')));
    const player = media
      ? h('video', { controls: true, preload: 'metadata', playsinline: true, src: `/media/${id}/video.mp4`, poster: `/media/${id}/thumb.jpg`, class: m.height > m.width ? 'portrait' : null })
      : h('div', { class: 'novideo' }, jobState(m));
    const scopeNote = m.consent_scope === 'union'
      ? h('p', { class: 'scope-note', role: 'note' }, h('strong', { text: 'Union channels only.' }), ' The contributor agreed to the union’s own channels, not social media or press.')
      : null;
    detail.replaceChildren(...[
      head, player, ...protection(m, media), actions(m), scopeNote,
      m.message ? h('blockquote', { class: 'message', dir: 'auto', text: m.message }) : h('p', { class: 'muted', text: 'No written message.' }),
      facts(m), consentSection(m), history(m)].filter(Boolean));
  }

  function closeDetail() {
    const id = st.selected;
    select(null);
    const el = id && cardEl(id);
    if (el) el.focus();
  }

  function actions(m) {
    const bar = h('div', { class: 'actions' });
    if (m.status === 'pending' && canModerate()) {
      bar.append(
        h('button', { type: 'button', class: 'btn primary', id: 'approve', 'aria-keyshortcuts': 'A', onclick: () => approve(m.id) }, 'Approve ', h('kbd', { text: 'A' })),
        h('button', { type: 'button', class: 'btn danger', id: 'reject-open', 'aria-keyshortcuts': 'R', onclick: () => askReject(m.id) }, 'Reject… ', h('kbd', { text: 'R' })));
    }
    const gone = !!m.media_deleted_at;
    if ((m.status === 'approved' || m.status === 'rejected') && session.role === 'admin' && !gone) {
      bar.append(h('button', { type: 'button', class: 'btn', onclick: () => adminAction(m.id, 'reopen', 'Re-opened: back in the queue.') }, 'Re-open'));
    }
    if (m.status === 'failed' && session.role === 'admin' && !gone) {
      bar.append(h('button', { type: 'button', class: 'btn', onclick: () => adminAction(m.id, 'retry', 'Sent to processing again.') }, 'Retry'));
    }
    // Retention deletes these files after a while; an admin may at once.
    if ((m.status === 'failed' || m.status === 'rejected') && session.role === 'admin' && !gone) {
      bar.append(h('button', { type: 'button', class: 'btn danger', id: 'delete-files', onclick: () => askDeleteFiles(m) },
        m.status === 'failed' ? 'Delete the uploaded file now…' : 'Delete the video now…'));
    }
    if (gone) {
      const why = { retention: 'by the retention rule', admin: 'by an admin', purge: 'by a purge' }[m.media_deleted_why] || '';
      bar.append(h('p', { class: 'files-gone', id: 'files-gone' }, 'Its files were deleted ',
        h('time', { datetime: m.media_deleted_at, text: when(m.media_deleted_at) }), why ? ` ${why}.` : '.'));
    }
    if (m.status !== 'pending' && m.decided_at) {
      bar.append(h('p', { class: 'decision' },
        h('span', { class: `badge s-${m.status}`, text: m.status }), ' by ', m.decided_by || '?', ', ',
        h('time', { datetime: m.decided_at, text: when(m.decided_at) }),
        m.decision_reason ? h('span', { class: 'why', text: `: ${m.decision_reason}`, dir: 'auto' }) : null));
    }
    return bar.childElementCount ? bar : null;
  }

  function facts(m) {
    const dl = h('dl', { class: 'facts' });
    const add = (k, v) => { if (v !== null && v !== undefined && v !== '') dl.append(h('dt', { text: k }), h('dd', {}, v)); };
    add('Status', h('span', { class: `badge s-${m.status}`, text: m.status }));
    add('Country', place(m));
    add('Consent', `${m.consent_scope === 'union' ? 'union channels only' : 'public (social media and press)'}, version ${m.consent_version || '?'}`);
    add('Received', m.received_at ? `${when(m.received_at)} (${ago(m.received_at)})` : '');
    add('Duration', duration(m.duration_ms));
    add('Picture', m.width ? `${m.width}×${m.height}` : '');
    add('Sound', m.has_audio === null ? '' : (m.has_audio ? 'yes' : 'none'));
    add('File', bytes(m.video_bytes));
    if (m.protect && m.protect.length) add('Protection', m.protect.map((k) => PROTECT[k] || k).join(', '));
    if (m.failure_reason) add('Failure', h('span', { class: 'reason', text: m.failure_reason }));
    const wrap = h('div', { class: 'facts-wrap' }, dl);
    const f = m.facts;
    if (f && typeof f === 'object') {
      const tech = h('dl', { class: 'facts' });
      const t = (k, v) => { if (v !== null && v !== undefined && v !== '') tech.append(h('dt', { text: k }), h('dd', { text: String(v) })); };
      const i = f.input || {};
      const o = f.output || {};
      t('Sent as', [i.format && i.format.split(',')[0], i.video_codec, i.width && `${i.width}×${i.height}`, i.fps && `${i.fps} fps`, bytes(i.bytes)].filter(Boolean).join(', '));
      if (i.rotation) t('Rotation', `${i.rotation}°`);
      if (i.hdr) t('HDR', 'yes (tone-mapped)');
      t('Sent audio', [i.audio_codec, i.sample_rate && `${i.sample_rate} Hz`, i.channels && `${i.channels} ch`].filter(Boolean).join(', '));
      t('Published as', [o.video_codec, o.profile, o.width && `${o.width}×${o.height}`, o.fps && `${o.fps} fps`, bytes(o.bytes)].filter(Boolean).join(', '));
      if (f.loudness) t('Loudness', `${f.loudness.before_lufs} → ${f.loudness.after_lufs} LUFS`);
      if (f.seconds !== undefined) t('Processing', `${f.seconds} s`);
      if (Array.isArray(f.warnings) && f.warnings.length) t('Warnings', f.warnings.join('; '));
      wrap.append(h('details', { class: 'tech' },
        h('summary', { text: 'Media facts' }), tech,
        h('details', {}, h('summary', { text: 'All facts (JSON)' }), h('pre', { text: JSON.stringify(f, null, 2) }))));
    }
    return wrap;
  }

  function history(m) {
    const rows = [{ at: m.received_at || m.created_at, actor: 'contributor', action: 'received' }, ...(m.history || [])];
    return h('section', { class: 'history', 'aria-label': 'History' },
      h('h3', { text: 'History' }),
      h('ol', {}, ...rows.map((r) => h('li', {},
        h('time', { datetime: r.at, text: when(r.at) }), ' ',
        h('strong', { text: r.action }), ' ', h('span', { class: 'muted', text: r.actor || '' }),
        r.reason ? h('span', { class: 'why', text: ` — ${r.reason}`, dir: 'auto' }) : null))));
  }

  // ---- decisions ----
  function removeItem(id, to) {
    const i = st.items.findIndex((m) => m.id === id);
    if (i < 0) return;
    st.items.splice(i, 1);
    if (st.counts[status] > 0) st.counts[status] -= 1;
    if (to && st.counts[to] !== undefined) st.counts[to] += 1;
    renderTabs();
    renderList();
    const nextItem = st.items[Math.min(i, st.items.length - 1)];
    if (nextItem) select(nextItem.id, true);
    else { select(null); $('#view').focus(); }
  }

  async function decided(res, id, to, ok) {
    if (res.status === 200) {
      toast(ok, 'ok');
      if (status !== to) removeItem(id, to);
      else load(false);
      refreshCounts();
      return true;
    }
    if (res.status === 409) {
      toast('Already decided by someone else. The list is refreshed.', 'error');
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
    await decided(res, id, 'approved', 'Approved.');
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
    const pick = f.elements.reason.value;
    const note = f.elements.note.value.trim();
    const err = $('#reject-error');
    if (!pick || (pick === 'other' && !note)) {
      err.textContent = pick ? 'Say why in the note.' : 'Choose a reason.';
      err.hidden = false;
      (pick ? f.elements.note : f.querySelector('input[name=reason]')).focus();
      return;
    }
    const reason = pick === 'other' ? note : (note ? `${pick}: ${note}` : pick);
    // "Protection failed" carries its code: the receipt offers to send again.
    const code = pick === PROTECT.failed ? 'protection_failed' : undefined;
    const id = dlg.dataset.id;
    if (busy) return;
    busy = true;
    const res = await api('POST', `/api/v1/messages/${encodeURIComponent(id)}/reject`, { reason, code });
    busy = false;
    if (res.status === 200 || res.status === 409 || res.status === 401) dlg.close();
    if (!(await decided(res, id, 'rejected', 'Rejected.')) && res.status !== 401) {
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
    const no = h('button', { type: 'button', class: 'btn', onclick: () => ask.remove() }, 'Keep them');
    const ask = h('div', { class: 'confirm-delete notice', role: 'alertdialog', 'aria-label': 'Delete the files' },
      h('p', { text: m.status === 'failed'
        ? 'Delete the uploaded file for good? It can then not be processed again.'
        : 'Delete the video, thumbnail and original for good? The message can then not be re-opened.' }),
      h('button', { type: 'button', class: 'btn danger', id: 'delete-files-yes', onclick: () => { ask.remove(); adminAction(m.id, 'delete-files', 'Its files are deleted.'); } }, 'Delete them'),
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
    const m = st.items.find((x) => x.id === st.selected);
    if (key === 'j') move(1);
    else if (key === 'k') move(-1);
    else if (key === 'a' && m && m.status === 'pending' && canModerate()) approve(m.id);
    else if (key === 'r' && m && m.status === 'pending' && canModerate()) askReject(m.id);
    else if (key === '/') form.elements.q.focus();
    else if (key === ' ') {
      // Space plays unless it would press a button other than a card.
      const t = ev.target;
      const video = detail.querySelector('video');
      if (!video || t === video || t.closest('summary, a') ||
          (t.closest('button') && !t.closest('button.card'))) return;
      if (video.paused) video.play().catch(() => {}); else video.pause();
    } else if (key === 'Escape' && st.selected) closeDetail();
    else return;
    ev.preventDefault();
  }

  // ---- polling ----
  const timer = setInterval(() => {
    if (document.hidden) return;
    st.ticks += 1;
    const live = status === 'processing' || st.items.some((m) => m.status === 'processing');
    if (live) load(false, { quiet: true });
    else if (st.ticks % 5 === 0) refreshCounts();
    if (st.detail && (st.detail.status === 'processing' || st.detail.status === 'uploading')) {
      loadDetail(st.detail.id, { quiet: true });
    }
  }, POLL_MS);

  const rejectForm = $('#reject-form');
  rejectForm.addEventListener('submit', submitReject);
  $('#reject').addEventListener('keydown', rejectKeys);
  document.addEventListener('keydown', keys);
  renderTabs();
  load(false);

  return () => {
    clearInterval(timer);
    document.removeEventListener('keydown', keys);
    rejectForm.removeEventListener('submit', submitReject);
    $('#reject').removeEventListener('keydown', rejectKeys);
  };
}

// ---- pieces shared by cards and the detail ----

/** A card's badges for what the contributor asked to be protected. */
function protectBadges(m) {
  const out = [];
  if (m.protect && m.protect.length) out.push(h('span', { class: 'badge protect', text: m.protect.map((k) => PROTECT[k] || k).join(', ') }));
  if (m.check_protection) out.push(h('span', { class: 'badge check', text: PROTECT.check }));
  return out;
}

/** The detail's protection: a warning to check the blur, and the contact
 * sheet of a protected clip. */
function protection(m, media) {
  const out = [];
  if (m.check_protection) out.push(h('p', { class: 'check-note', role: 'note', text: PROTECT.checkWhy }));
  if (media && m.protect && m.protect.length) {
    out.push(h('figure', { class: 'sheet' },
      h('img', { src: `/media/${encodeURIComponent(m.id)}/sheet.jpg`, alt: PROTECT.sheet, loading: 'lazy', decoding: 'async' }),
      h('figcaption', { class: 'muted', text: PROTECT.sheet })));
  }
  return out;
}

function nameLine(m) {
  return m.name
    ? h('span', { class: 'name', text: m.name, dir: 'auto' })
    : h('span', { class: 'name anon', text: 'anonymous' });
}

function place(m) {
  return h('span', { class: 'place' },
    m.country ? h('span', { class: 'flag', 'aria-hidden': 'true', text: flag(m.country) }) : null,
    m.country ? ` ${m.country}` : '–', m.language ? ` · ${m.language}` : '');
}

function scopeBadge(scope) {
  return scope === 'union'
    ? h('span', { class: 'badge union', text: 'union channels only' })
    : h('span', { class: 'badge public', text: 'public' });
}

function progress(p) {
  const pct = Math.round((p || 0) * 100);
  return h('span', { class: 'progress' },
    h('progress', { max: '100', value: String(pct), 'aria-label': 'Processing progress' }), ` ${pct} %`);
}

function jobState(m) {
  if (m.status === 'processing' || m.status === 'uploading') {
    const p = m.job ? m.job.progress : m.progress;
    return h('div', { class: 'job' }, h('p', { text: m.status === 'uploading' ? 'Still uploading.' : 'Processing…' }), progress(p),
      m.job && m.job.attempts > 1 ? h('p', { class: 'muted', text: `attempt ${m.job.attempts}` }) : null);
  }
  if (m.status === 'failed') {
    return h('div', { class: 'job' }, h('p', { text: 'Processing failed:' }), h('p', { class: 'reason', text: m.failure_reason || (m.job && m.job.error) || 'no reason given' }));
  }
  if (m.status === 'withdrawn') return h('div', { class: 'job' }, h('p', { text: 'Withdrawn by the contributor: the clip is deleted.' }));
  return h('div', { class: 'job' });
}

function filterForm(values, apply) {
  const input = (name, label, attrs = {}) => {
    const id = `f-${name}`;
    return h('div', { class: 'field' }, h('label', { for: id, text: label }),
      h('input', { id, name, value: values[name], ...attrs }));
  };
  const scope = h('select', { id: 'f-scope', name: 'scope' },
    ...[['', 'any'], ['public', 'public'], ['union', 'union only']].map(([v, t]) =>
      h('option', { value: v, selected: values.scope === v, text: t })));
  const form = h('form', { class: 'filters', role: 'search' },
    input('q', 'Search', { type: 'search', placeholder: 'name, organization, text', maxlength: '100', 'aria-keyshortcuts': '/' }),
    campaignField(values.campaign, 'f'),
    input('country', 'Country', { placeholder: 'BY', maxlength: '2', size: '3', pattern: '[A-Za-z]{2}', autocapitalize: 'characters', title: 'a two-letter ISO code' }),
    input('language', 'Language', { placeholder: 'be', maxlength: '35', size: '5' }),
    h('div', { class: 'field' }, h('label', { for: 'f-scope', text: 'Consent' }), scope),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'btn' }, 'Filter'),
      h('button', { type: 'button', class: 'btn link', onclick: () => apply({}) }, 'Clear')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = {};
    for (const k of FILTERS) f[k] = form.elements[k].value.trim();
    f.country = f.country.toUpperCase();
    apply(f);
  });
  return form;
}

registerView({
  id: 'queue', label: 'Queue', roles: ['moderator', 'admin'], home: ['moderator', 'admin'], render,
});
