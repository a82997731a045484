// Campaigns in the panel. The admin screens: the list, and a campaign
// made or changed with its texts in every language side by side and a
// live preview of its upload page, its dates and branding, its logo, its
// links (page, poster, QR codes, the embed snippet for the union's site)
// and its consent history. And the pieces the other views take: the
// campaign filter, a card's campaign badge, the consent text a message
// was given under, and a user's campaign limits (Users).
//
// Every word these screens show is in T below, in one place: each reads
// its c_* key of web/panel/i18n/<lang>.json (English here as the
// fallback while a file loads).
import { api, errorText, h, language, registerView, session, t, toast, when } from './panel.js';

// A word in the panel's language, or its English while none is loaded.
const tr = (key, en, vars) => (window.I18N.has(key) ? t(key, vars) : en);

export const T = {
  get title() { return tr('nav_campaigns', 'Campaigns'); },
  get campaign() { return tr('c_campaign', 'Campaign'); },
  get all_campaigns() { return tr('c_all_campaigns', 'all campaigns'); },
  get every_campaign() { return tr('c_every_campaign', 'every campaign'); },
  get new() { return tr('c_new', 'New campaign'); },
  get edit() { return tr('c_edit', 'Edit'); },
  get back() { return tr('c_back', '← All campaigns'); },
  get none() { return tr('c_none', 'No campaigns.'); },
  get cols() { return [tr('c_campaign', 'Campaign'), tr('c_col_state', 'State'), tr('c_languages', 'Languages'), tr('f_consent', 'Consent'), tr('c_col_messages', 'Messages'), tr('c_col_links', 'Links'), '']; },
  get state() { return { open: tr('c_state_open', 'open'), closed: tr('c_state_closed', 'closed'), not_yet_open: tr('c_state_not_yet_open', 'not yet open') }; },
  counts: (c) => tr('c_counts', `${c.pending || 0} pending · ${c.approved || 0} approved`, { p: c.pending || 0, a: c.approved || 0 }),
  get page() { return tr('c_page', 'Page'); },
  get poster() { return tr('c_poster', 'Poster'); },
  get qr_png() { return tr('c_qr_png', 'QR (PNG)'); },
  get qr_svg() { return tr('c_qr_svg', 'QR (SVG)'); },
  get slug() { return tr('c_slug', 'Address (slug)'); },
  get slug_hint() { return tr('c_slug_hint', 'Lower-case letters, digits and “-”: /c/<slug>. It never changes once made: posters carry it.'); },
  get languages() { return tr('c_languages', 'Languages'); },
  get languages_hint() { return tr('c_languages_hint', 'Language codes, comma-separated (be, ru, en…). The first is used wherever another lacks a text.'); },
  get opens() { return tr('c_opens', 'Opens'); },
  get closes() { return tr('c_closes', 'Closes'); },
  get date_hint() { return tr('c_date_hint', 'Your local time; empty: no limit.'); },
  get hashtag() { return tr('c_hashtag', 'Hashtag'); },
  get credit() { return tr('c_credit', 'Credit line template'); },
  get credit_hint() { return tr('c_credit_hint', 'For the studio, e.g. {name} · {organization} · {country}'); },
  get accent() { return tr('c_accent', 'Accent colour'); },
  get accent_use() { return tr('c_accent_use', 'Use an accent colour'); },
  get texts() { return tr('c_texts', 'Texts'); },
  get text_title() { return tr('c_text_title', 'Title'); },
  get text_intro() { return tr('c_text_intro', 'Introduction'); },
  get text_consent() { return tr('c_text_consent', 'Consent text'); },
  get text_cta() { return tr('c_text_cta', 'Poster call to action'); },
  get first() { return tr('c_first', 'first: the fallback'); },
  get consent_hint() { return tr('c_consent_hint', 'Changing a consent text makes a new consent version; contributors keep the text they agreed to.'); },
  get preview() { return tr('c_preview', 'Preview of the upload page'); },
  get preview_lang() { return tr('c_preview_lang', 'Language'); },
  get save() { return tr('c_save', 'Save'); },
  get create() { return tr('c_create', 'Create the campaign'); },
  saved: (slug, v) => tr('c_saved', `Campaign ${slug} saved (consent version ${v}).`, { slug, v }),
  get logo() { return tr('c_logo', 'Logo'); },
  get logo_hint() { return tr('c_logo_hint', 'PNG or JPEG, at most 1 MB. The worker checks it and makes it again as a PNG.'); },
  get logo_none() { return tr('c_logo_none', 'No logo yet.'); },
  get logo_send() { return tr('c_logo_send', 'Upload the logo'); },
  get logo_queued() { return tr('c_logo_queued', 'The logo is being made.'); },
  logo_job: (j) => tr('c_logo_job', `Last logo job: ${j.state}`, { state: j.state }) + (j.error ? ` — ${j.error}` : ''),
  get share() { return tr('c_share', 'Share'); },
  get url() { return tr('c_url', 'Address'); },
  get no_url() { return tr('c_no_url', 'This server does not know its public address: start it with --public-url to print QR codes and posters.'); },
  get embed() { return tr('c_embed', 'Embed on the union’s site'); },
  embed_from: (list) => tr('c_embed_from', `Allowed from: ${list.join(', ')}`, { list: list.join(', ') }),
  get embed_none() { return tr('c_embed_none', 'No site may frame the page yet: start Chorus with --cors-origin https://your-union.org.'); },
  get copy() { return tr('c_copy', 'Copy'); },
  get copied() { return tr('c_copied', 'Copied.'); },
  get history() { return tr('c_history', 'Consent history'); },
  version: (v) => (v.superseded_at
    ? tr('c_version_old', `Version ${v.version}, from ${when(v.at)} to ${when(v.superseded_at)}`, { v: v.version, from: when(v.at), to: when(v.superseded_at) })
    : tr('c_version_now', `Version ${v.version}, from ${when(v.at)} (current)`, { v: v.version, from: when(v.at) })),
  get consent_given() { return tr('c_consent_given', 'Consent given'); },
  consent_meta: (v, l) => (l ? tr('c_consent_meta', `Version ${v || '?'}, shown in ${l}: the exact text the contributor agreed to.`, { v: v || '?', l })
    : tr('c_consent_meta_v', `Version ${v || '?'}: the exact text the contributor agreed to.`, { v: v || '?' })),
  get consent_none() { return tr('c_consent_none', 'No consent text is recorded for this version.'); },
  get consent_other() { return tr('c_consent_other', 'The same version in other languages'); },
  get limits() { return tr('nav_campaigns', 'Campaigns'); },
  get limit_edit() { return tr('c_limit_edit', 'Limit…'); },
  get limit_save() { return tr('c_limit_save', 'Save'); },
  get limit_cancel() { return tr('cancel', 'Cancel'); },
  get limit_all() { return tr('c_every_campaign', 'every campaign'); },
  limit_done: (u) => tr('c_limit_done', `Campaigns of ${u} saved.`, { user: u }),
  limit_label: (u) => tr('c_limit_label', `Campaigns ${u} may see (none ticked: every one)`, { user: u }),
  get admins_all() { return tr('c_admins_all', 'every campaign (admin)'); },
};

// ---- the campaigns the user sees (loaded once a page) -------------------------

let cache = null;

/** The campaigns the user may see: [{slug, title, ...}] (admins: all of it). */
export function campaigns() {
  if (!cache) {
    cache = api('GET', '/api/v1/campaigns').then((r) => (r.status === 200 ? r.data.items : []));
  }
  return cache;
}

function forget() {
  cache = null;
}

// ---- pieces for other views ----------------------------------------------------

/**
 * A filter field: <select name="campaign"> with the user's campaigns
 * ("" for all), value selected; hidden while there is only one. prefix
 * makes its id unique in the page.
 */
export function campaignField(value, prefix, onchange) {
  const id = `${prefix}-campaign`;
  const select = h('select', { id, name: 'campaign', onchange },
    h('option', { value: '', text: T.all_campaigns }),
    value ? h('option', { value, selected: true, text: value }) : null);
  const field = h('div', { class: 'field', hidden: !value }, h('label', { for: id, text: T.campaign }), select);
  campaigns().then((list) => {
    select.replaceChildren(h('option', { value: '', text: T.all_campaigns }),
      ...list.map((c) => h('option', { value: c.slug, selected: c.slug === value, text: c.title ? `${c.title} (${c.slug})` : c.slug })));
    field.hidden = list.length < 2 && !value;
  });
  return field;
}

/** A card's badge naming its campaign (none for the default one). */
export function campaignBadge(slug) {
  return slug && slug !== 'default' ? h('span', { class: 'badge campaign', title: T.campaign, text: slug }) : null;
}

/** The consent a message was given under: its version and exact text. */
export function consentSection(m) {
  const c = m && m.consent;
  if (!c) return null;
  const others = Object.entries(c.texts || {}).filter(([l]) => l !== c.language);
  return h('section', { class: 'consent-given', 'aria-label': T.consent_given },
    h('h3', { text: T.consent_given }),
    h('p', { class: 'muted', text: T.consent_meta(c.version, c.language ? language(c.language) : '') }),
    c.text ? h('blockquote', { class: 'consent-text', lang: c.language || null, dir: 'auto', text: c.text })
      : h('p', { class: 'muted', text: T.consent_none }),
    others.length ? h('details', {}, h('summary', { text: T.consent_other }),
      ...others.map(([l, t]) => h('div', { class: 'consent-other' }, h('strong', { text: l }),
        h('blockquote', { class: 'consent-text', lang: l, dir: 'auto', text: t })))) : null);
}

/** Users: the cell with a user's campaign limits and their editor. */
export function userCampaignsCell(u, reload) {
  const cell = h('td', { class: 'limits' });
  const list = Array.isArray(u.campaigns) ? u.campaigns : [];
  const shown = () => {
    cell.replaceChildren(...[
      h('span', { class: list.length ? '' : 'muted', text: u.role === 'admin' ? T.admins_all : list.length ? list.join(', ') : T.limit_all }),
      u.role === 'admin' ? null : ' ',
      u.role === 'admin' ? null : h('button', { type: 'button', class: 'btn small', onclick: edit, 'aria-label': `${T.limit_edit} ${u.username}` }, T.limit_edit),
    ].filter(Boolean));
  };
  async function edit() {
    const all = await campaigns();
    const boxes = all.map((c) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', value: c.slug, checked: list.includes(c.slug) }), ` ${c.slug}`));
    const form = h('form', { class: 'limit-form' },
      h('fieldset', {}, h('legend', { text: T.limit_label(u.username) }), ...boxes),
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn small primary' }, T.limit_save),
        h('button', { type: 'button', class: 'btn small link', onclick: shown }, T.limit_cancel)));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const slugs = [...form.querySelectorAll('input:checked')].map((b) => b.value);
      const res = await api('PUT', `/api/v1/users/${encodeURIComponent(u.username)}/campaigns`, { campaigns: slugs });
      if (res.status === 200) {
        toast(T.limit_done(u.username), 'ok');
        reload();
      } else if (res.status !== 401) {
        toast(errorText(res), 'error');
      }
    });
    cell.replaceChildren(form);
    const first = form.querySelector('input');
    if (first) first.focus();
  }
  shown();
  return cell;
}

// ---- the admin screens ---------------------------------------------------------

/** "2026-05-01T09:00:00Z" as a datetime-local value in local time. */
function localValue(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

/** A datetime-local value (local time) as RFC 3339, or null. */
function isoValue(v) {
  return v ? new Date(v).toISOString() : null;
}

function copyButton(source) {
  return h('button', {
    type: 'button', class: 'btn small',
    onclick: async () => {
      try { await navigator.clipboard.writeText(source.value); } catch { source.select(); document.execCommand('copy'); }
      toast(T.copied, 'ok');
    },
  }, T.copy);
}

function list(main, navigate) {
  const body = h('tbody');
  main.append(h('div', { class: 'page campaigns' },
    h('div', { class: 'row spread' }, h('h1', { text: T.title }),
      h('button', { type: 'button', class: 'btn primary', id: 'campaign-new', onclick: () => navigate({ new: '1' }) }, T.new)),
    h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ...T.cols.map((t) => h('th', { scope: 'col', text: t })))), body))));
  forget();
  campaigns().then((items) => {
    if (!items.length) { body.replaceChildren(h('tr', {}, h('td', { colspan: '7', class: 'muted', text: T.none }))); return; }
    body.replaceChildren(...items.map((c) => {
      const first = c.languages[0];
      const title = (c.texts && c.texts[first] && c.texts[first].title) || c.slug;
      const links = [[T.page, c.page], [T.poster, c.poster]];
      if (c.url) links.push([T.qr_png, `${c.qr}.png`], [T.qr_svg, `${c.qr}.svg`]);
      return h('tr', { dataset: { slug: c.slug } },
        h('th', { scope: 'row' }, h('span', { text: title, lang: first, dir: 'auto' }), h('br'), h('code', { text: c.slug })),
        h('td', {}, h('span', { class: `badge st-${c.state}`, text: T.state[c.state] || c.state })),
        h('td', { text: c.languages.join(', ') }),
        h('td', { text: c.consent_version }),
        h('td', { text: T.counts(c.counts || {}) }),
        h('td', { class: 'links' }, ...links.map(([t, href]) => h('a', { href, target: '_blank', rel: 'noopener', text: t }))),
        h('td', {}, h('button', { type: 'button', class: 'btn small', onclick: () => navigate({ edit: c.slug }) }, T.edit)));
    }));
  });
}

async function editor(main, slug, navigate) {
  const all = await campaigns();
  const c = slug ? all.find((x) => x.slug === slug) : null;
  if (slug && !c) { main.append(h('p', { class: 'error pad', text: `No campaign ${slug}.` })); return; }
  // A new campaign starts from the default campaign's wording.
  const base = c || all.find((x) => x.default) || { languages: ['en'], texts: {} };
  const texts = JSON.parse(JSON.stringify(base.texts || {}));
  if (!c) for (const t of Object.values(texts)) { delete t.title; delete t.intro; delete t.cta; }
  let langs = [...base.languages];

  const field = (id, label, control, hint) => h('div', { class: 'field' },
    h('label', { for: id, text: label }), hint ? h('p', { class: 'hint muted', id: `${id}-hint`, text: hint }) : null, control);
  const slugIn = h('input', { id: 'c-slug', name: 'slug', required: true, maxlength: '40', pattern: '[a-z0-9][a-z0-9\\-]*', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'c-slug-hint' });
  const langIn = h('input', { id: 'c-langs', name: 'languages', value: langs.join(', '), 'aria-describedby': 'c-langs-hint', autocomplete: 'off', spellcheck: 'false' });
  const opens = h('input', { id: 'c-opens', name: 'opens_at', type: 'datetime-local', value: localValue(c && c.opens_at), 'aria-describedby': 'c-opens-hint' });
  const closes = h('input', { id: 'c-closes', name: 'closes_at', type: 'datetime-local', value: localValue(c && c.closes_at), 'aria-describedby': 'c-closes-hint' });
  const hashtag = h('input', { id: 'c-hashtag', name: 'hashtag', maxlength: '100', value: (c && c.hashtag) || '' });
  const credit = h('input', { id: 'c-credit', name: 'credit_template', maxlength: '200', value: (c && c.credit_template) || '', 'aria-describedby': 'c-credit-hint' });
  const accentOn = h('input', { type: 'checkbox', id: 'c-accent-on', checked: !!(c && c.accent_color) });
  const accent = h('input', { id: 'c-accent', name: 'accent_color', type: 'color', value: (c && c.accent_color) || '#0a58a8' });
  const grid = h('div', { class: 'text-grid' });
  const previewLang = h('select', { id: 'c-preview-lang' });
  const preview = h('div', { class: 'upload-preview', 'aria-live': 'polite' });

  const form = h('form', { class: 'campaign-form', id: 'campaign-form', novalidate: true },
    h('div', { class: 'form-cols' },
      c ? null : field('c-slug', T.slug, slugIn, T.slug_hint),
      field('c-langs', T.languages, langIn, T.languages_hint),
      field('c-opens', T.opens, opens, T.date_hint),
      field('c-closes', T.closes, closes, T.date_hint),
      field('c-hashtag', T.hashtag, hashtag),
      field('c-credit', T.credit, credit, T.credit_hint),
      h('div', { class: 'field' }, h('span', { class: 'label', text: T.accent }),
        h('label', { class: 'check' }, accentOn, ` ${T.accent_use}`), accent)),
    h('h2', { text: T.texts }), h('p', { class: 'muted', text: T.consent_hint }), grid,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn primary', id: 'campaign-save' }, c ? T.save : T.create)));

  const side = h('aside', { class: 'preview-pane', 'aria-label': T.preview },
    h('h2', { text: T.preview }), field('c-preview-lang', T.preview_lang, previewLang), preview);

  main.append(h('div', { class: 'page campaigns' },
    h('p', {}, h('a', { href: '#campaigns', text: T.back })),
    h('h1', { text: c ? `${T.campaign} ${c.slug}` : T.new }),
    h('div', { class: 'campaign-edit' }, form, side),
    c ? extras(c) : null));

  /** The text inputs of every language, side by side. */
  function renderGrid() {
    grid.replaceChildren(...langs.map((l, i) => {
      const t = texts[l] || (texts[l] = {});
      const input = (k, label, attrs, area) => {
        const id = `c-${k}-${l}`;
        const el = h(area ? 'textarea' : 'input', { id, name: `${k}.${l}`, lang: l, dir: 'auto', ...attrs });
        el.value = t[k] || '';
        el.addEventListener('input', () => { t[k] = el.value; renderPreview(); });
        return h('div', { class: 'field' }, h('label', { for: id, text: label }), el);
      };
      return h('fieldset', { class: 'lang-col', dataset: { lang: l } },
        h('legend', {}, h('strong', { text: l }), i === 0 ? h('span', { class: 'muted', text: ` (${T.first})` }) : null),
        input('title', T.text_title, { maxlength: '200', required: i === 0 }),
        input('intro', T.text_intro, { rows: '3', maxlength: '2000' }, true),
        input('consent', T.text_consent, { rows: '6', maxlength: '4000', required: i === 0 }, true),
        input('cta', T.text_cta, { maxlength: '200' }));
    }));
    const keep = previewLang.value;
    previewLang.replaceChildren(...langs.map((l) => h('option', { value: l, text: l })));
    if (langs.includes(keep)) previewLang.value = keep;
    renderPreview();
  }

  /** The upload page's head as a visitor of the preview's language sees it. */
  function renderPreview() {
    const l = previewLang.value || langs[0];
    const pick = (k) => (texts[l] && texts[l][k]) || (texts[langs[0]] && texts[langs[0]][k]) || '';
    preview.replaceChildren(...[
      c && c.logo ? h('img', { class: 'pv-logo', src: c.logo, alt: '' }) : null,
      h('p', { class: 'pv-bar', text: accentOn.checked ? accent.value : '' }),
      h('h3', { class: 'pv-title', lang: l, dir: 'auto', text: pick('title') }),
      h('p', { class: 'pv-intro', lang: l, dir: 'auto', text: pick('intro') }),
      h('div', { class: 'pv-card' }, h('p', { class: 'pv-consent', lang: l, dir: 'auto', text: pick('consent') })),
      h('p', { class: 'pv-cta muted', lang: l, dir: 'auto', text: pick('cta') ? `${T.text_cta}: ${pick('cta')}` : '' })].filter(Boolean));
    // Through the CSSOM: the panel's policy forbids style attributes.
    const bar = preview.querySelector('.pv-bar');
    bar.hidden = !accentOn.checked;
    bar.style.background = accent.value;
  }

  langIn.addEventListener('change', () => {
    const next = langIn.value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
    // Only a new list re-draws the columns (and what is typed stays).
    if (next.join(',') === langs.join(',')) return;
    langs = next;
    renderGrid();
  });
  previewLang.addEventListener('change', renderPreview);
  accentOn.addEventListener('change', renderPreview);
  accent.addEventListener('input', renderPreview);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const spec = {
      languages: langs,
      texts: Object.fromEntries(langs.map((l) => [l, Object.fromEntries(['title', 'intro', 'consent', 'cta']
        .map((k) => [k, (texts[l] && texts[l][k] && texts[l][k].trim()) || null]))])),
      opens_at: isoValue(opens.value),
      closes_at: isoValue(closes.value),
      hashtag: hashtag.value.trim() || null,
      credit_template: credit.value.trim() || null,
      accent_color: accentOn.checked ? accent.value : null,
    };
    if (!c) spec.slug = slugIn.value.trim();
    const res = c ? await api('PATCH', `/api/v1/campaigns/${encodeURIComponent(c.slug)}`, spec)
      : await api('POST', '/api/v1/campaigns', spec);
    if (res.status === 200 || res.status === 201) {
      toast(T.saved(res.data.slug, res.data.consent_version), 'ok');
      forget();
      navigate({ edit: res.data.slug });
    } else if (res.status !== 401) {
      toast(errorText(res), 'error');
      const bad = res.data && res.data.field && form.querySelector(`[name="${CSS.escape(res.data.field.replace(/^texts\./, '').replace(/^(\w+)\.(.+)$/, '$2.$1'))}"], [name="${CSS.escape(res.data.field)}"]`);
      if (bad) bad.focus();
    }
  });
  renderGrid();
}

/** A saved campaign's logo, links and consent history. */
function extras(c) {
  const file = h('input', { type: 'file', id: 'c-logo', accept: 'image/png,image/jpeg' });
  const status = h('p', { class: 'muted', role: 'status' });
  const job = c.logo_state && c.logo_state.job;
  status.textContent = job ? T.logo_job(job) : '';
  const send = h('button', {
    type: 'button', class: 'btn', id: 'c-logo-send',
    onclick: async () => {
      const f = file.files[0];
      if (!f) { file.focus(); return; }
      let r;
      try {
        r = await fetch(`/api/v1/campaigns/${encodeURIComponent(c.slug)}/logo`, {
          method: 'PUT', body: f, credentials: 'same-origin',
          headers: { 'Content-Type': f.type || 'application/octet-stream', 'X-CSRF-Token': session.csrf },
        });
      } catch { toast(errorText({ status: 0 }), 'error'); return; }
      const data = await r.json().catch(() => null);
      if (r.status === 202) { status.textContent = T.logo_queued; toast(T.logo_queued, 'ok'); } else toast(errorText({ status: r.status, data }), 'error');
    },
  }, T.logo_send);
  const snippet = h('textarea', { id: 'c-embed', readonly: true, rows: '3', class: 'mono' });
  snippet.value = (c.embed && c.embed.snippet) || '';
  const urlIn = h('input', { id: 'c-url', readonly: true, value: c.url || '', class: 'mono' });
  return h('div', { class: 'campaign-extras' },
    h('section', { 'aria-labelledby': 'c-logo-h' }, h('h2', { id: 'c-logo-h', text: T.logo }),
      c.logo ? h('img', { class: 'logo-made', src: c.logo, alt: '' }) : h('p', { class: 'muted', text: T.logo_none }),
      h('p', { class: 'muted', text: T.logo_hint }),
      h('div', { class: 'row' }, h('label', { for: 'c-logo', class: 'sr-only', text: T.logo }), file, send), status),
    h('section', { 'aria-labelledby': 'c-share-h' }, h('h2', { id: 'c-share-h', text: T.share }),
      c.url ? h('div', { class: 'field' }, h('label', { for: 'c-url', text: T.url }), h('div', { class: 'row' }, urlIn, copyButton(urlIn)))
        : h('p', { class: 'notice', text: T.no_url }),
      h('p', { class: 'row' },
        h('a', { class: 'btn small', href: c.page, target: '_blank', rel: 'noopener' }, T.page),
        h('a', { class: 'btn small', href: c.poster, target: '_blank', rel: 'noopener' }, T.poster),
        c.url ? h('a', { class: 'btn small', href: `${c.qr}.png?size=2048`, download: `${c.slug}-qr.png` }, T.qr_png) : null,
        c.url ? h('a', { class: 'btn small', href: `${c.qr}.svg`, download: `${c.slug}-qr.svg` }, T.qr_svg) : null),
      c.embed && c.embed.snippet ? h('div', { class: 'field' }, h('label', { for: 'c-embed', text: T.embed }), snippet,
        h('p', { class: 'muted', text: c.embed.allowed_from.length ? T.embed_from(c.embed.allowed_from) : T.embed_none }),
        copyButton(snippet)) : null),
    h('section', { 'aria-labelledby': 'c-hist-h' }, h('h2', { id: 'c-hist-h', text: T.history }),
      h('ol', { class: 'consent-history' }, ...(c.consent_history || []).slice().reverse().map((v) => h('li', {},
        h('details', { open: !v.superseded_at }, h('summary', { text: T.version(v) }),
          ...Object.entries(v.texts || {}).map(([l, t]) => h('div', { class: 'consent-other' },
            h('strong', { text: l }), h('blockquote', { class: 'consent-text', lang: l, dir: 'auto', text: t })))))))));
}

function render(main, params, navigate) {
  if (params.get('new')) editor(main, null, navigate);
  else if (params.get('edit')) editor(main, params.get('edit'), navigate);
  else list(main, navigate);
}

registerView({ id: 'campaigns', label: 'nav_campaigns', roles: ['admin'], render });
