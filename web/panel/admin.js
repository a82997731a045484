// Admin views: Users (list, add with a role, change role, disable or
// enable, reset a password) and Audit (the log, filtered, page by page).
import { api, day, errorText, h, registerView, session, t, toast, when } from './panel.js';
import { actionName, reasonText } from './queue.js';
import { T as CT, userCampaignsCell } from './campaigns.js';

const ROLES = ['moderator', 'comms', 'admin'];

// A username: letters (with their accents), digits and marks of any
// script, '.', '_' and '-' (the server's rule, src/auth.c, is the one
// that counts). Browsers compile pattern with the v flag, where '-' is
// escaped.
const NAME_PATTERN = '[\\p{L}\\p{M}\\p{N}._\\-]+';
const nameHint = () => t('u_name_hint');
const roleName = (r) => t(`role_${r}`);

/** A random password for a reset: 18 characters, no look-alikes. */
function randomPassword() {
  const abc = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const out = [];
  const buf = new Uint8Array(64);
  while (out.length < 18) {
    crypto.getRandomValues(buf);
    for (const b of buf) if (b < 4 * abc.length && out.length < 18) out.push(abc[b % abc.length]);
  }
  return out.join('');
}

/** A notice that shows a new password once, with who it is for. */
function passwordNotice(user, password) {
  return h('div', { class: 'notice', role: 'status' },
    h('p', {}, `${t('u_new_password')} `, h('strong', { text: user }), ': ', h('code', { class: 'secret', text: password })),
    h('p', { class: 'muted', text: t('u_password_once') }));
}

function users(main) {
  const notice = h('div', { class: 'notice-slot' });
  const body = h('tbody');
  const form = h('form', { class: 'inline-form', 'aria-labelledby': 'add-h' },
    h('h2', { id: 'add-h', text: t('u_add_title') }),
    h('div', { class: 'field' }, h('label', { for: 'u-name', text: t('login_user') }),
      h('input', {
        id: 'u-name', name: 'username', required: true, maxlength: '64', pattern: NAME_PATTERN, title: nameHint(),
        'aria-describedby': 'u-name-hint', autocomplete: 'off', spellcheck: 'false',
      }),
      h('p', { id: 'u-name-hint', class: 'muted', text: nameHint() })),
    h('div', { class: 'field' }, h('label', { for: 'u-role', text: t('u_role') }),
      h('select', { id: 'u-role', name: 'role' }, ...ROLES.map((r) => h('option', { value: r, text: roleName(r) })))),
    h('div', { class: 'field' }, h('label', { for: 'u-pass', text: t('u_password') }),
      h('input', { id: 'u-pass', name: 'password', type: 'password', minlength: '10', maxlength: '1024', autocomplete: 'new-password' })),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn primary' }, t('u_add'))));
  main.append(h('div', { class: 'page' },
    h('h1', { text: t('nav_users') }), notice,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ...[t('login_user'), t('u_role'), t('u_state'), t('u_created'), CT.limits, t('u_actions')].map((x) => h('th', { scope: 'col', text: x })))),
      body)),
    form));

  async function load() {
    const res = await api('GET', '/api/v1/users');
    if (res.status !== 200) { body.replaceChildren(h('tr', {}, h('td', { colspan: '6', class: 'error', text: errorText(res) }))); return; }
    body.replaceChildren(...res.data.items.map(row));
  }

  async function change(name, patch, ok) {
    const res = await api('PATCH', `/api/v1/users/${encodeURIComponent(name)}`, patch);
    if (res.status === 200) toast(ok, 'ok');
    else if (res.status !== 401) toast(errorText(res), 'error');
    await load();
    return res.status === 200;
  }

  function row(u) {
    const self = u.username === session.user;
    const role = h('select', { 'aria-label': t('u_role_of', { user: u.username }), disabled: self },
      ...ROLES.map((r) => h('option', { value: r, selected: r === u.role, text: roleName(r) })));
    role.addEventListener('change', () => change(u.username, { role: role.value }, t('u_role_toast', { user: u.username, role: roleName(role.value) })));
    const toggle = u.disabled
      ? h('button', { type: 'button', class: 'btn small', onclick: () => change(u.username, { disabled: false }, t('u_enabled', { user: u.username })) }, t('u_enable'))
      : h('button', {
        type: 'button', class: 'btn small danger', disabled: self,
        onclick: async () => {
          if (!window.confirm(t('u_disable_ask', { user: u.username }))) return;
          const res = await api('DELETE', `/api/v1/users/${encodeURIComponent(u.username)}`);
          if (res.status === 200 || res.status === 204) toast(t('u_disabled', { user: u.username }), 'ok');
          else if (res.status !== 401) toast(errorText(res), 'error');
          load();
        },
      }, t('u_disable'));
    const reset = h('button', {
      type: 'button', class: 'btn small',
      onclick: async () => {
        if (!window.confirm(t('u_reset_ask', { user: u.username }))) return;
        const pw = randomPassword();
        if (await change(u.username, { password: pw }, t('u_password_changed'))) notice.replaceChildren(passwordNotice(u.username, pw));
      },
    }, t('u_reset'));
    return h('tr', { class: u.disabled ? 'disabled' : null },
      h('th', { scope: 'row', text: u.username }),
      h('td', {}, role),
      h('td', { text: u.disabled ? t('u_state_disabled') : t('u_state_active') }),
      h('td', {}, h('time', { datetime: u.created_at, text: when(u.created_at) })),
      userCampaignsCell(u, load),
      h('td', { class: 'row' }, toggle, reset));
  }

  // The browser's own message for a pattern mismatch says nothing useful.
  const nameInput = form.elements.username;
  nameInput.addEventListener('input', () => nameInput.setCustomValidity(''));
  nameInput.addEventListener('invalid', () => {
    if (nameInput.validity.patternMismatch) nameInput.setCustomValidity(t('u_name_refused', { hint: nameHint() }));
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    // One spelling per name: accents composed with their letter (NFC),
    // as the server compares names.
    const payload = { username: f.username.value.trim().normalize('NFC'), role: f.role.value };
    if (f.password.value) payload.password = f.password.value;
    const res = await api('POST', '/api/v1/users', payload);
    if (res.status === 201) {
      form.reset();
      toast(t('u_added', { user: payload.username }), 'ok');
      notice.replaceChildren(res.data.password ? passwordNotice(payload.username, res.data.password) : '');
      load();
    } else if (res.status !== 401) {
      toast(errorText(res), 'error');
    }
  });
  load();
}

const ACTIONS = ['login', 'login.failed', 'logout', 'message.approve', 'message.reject', 'message.reopen',
  'message.retry', 'message.withdraw', 'message.reshared', 'message.transcript', 'export', 'user.create', 'user.role',
  'user.password', 'user.disable', 'user.enable', 'user.campaigns', 'campaign.create', 'campaign.update',
  'campaign.logo', 'campaign.adopt'];

/** Where an audit row's target leads: a message opens in the queue
 * (every state), a user's name shows what they did. */
function targetCell(a) {
  if (!a.target) return h('td', {});
  if (a.target_kind === 'message') {
    return h('td', { class: 'mono' }, h('a', {
      href: `#queue?${new URLSearchParams({ status: 'all', open: a.target })}`, text: a.target,
      title: t('a_open_message'),
    }));
  }
  if (a.target_kind === 'user') {
    return h('td', {}, h('a', {
      href: `#audit?${new URLSearchParams({ actor: a.target })}`, text: a.target, dir: 'auto',
      title: t('a_user_did', { user: a.target }),
    }));
  }
  return h('td', { class: 'mono', text: a.target });
}

function audit(main, params, navigate) {
  const KEYS = ['action', 'actor', 'target', 'from', 'to'];
  const f = Object.fromEntries(KEYS.map((k) => [k, params.get(k) || '']));
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'btn more', hidden: true }, t('more'));
  const field = (name, label, extra = {}) => h('div', { class: 'field' },
    h('label', { for: `a-${name}`, text: label }), h('input', { id: `a-${name}`, name, value: f[name], ...extra }));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('a_filter_label') },
    field('action', t('a_action'), { list: 'a-actions' }),
    h('datalist', { id: 'a-actions' }, ...ACTIONS.map((a) => h('option', { value: a, label: actionName(a) }))),
    field('actor', t('a_who')), field('target', t('a_target')),
    field('from', t('a_from'), { type: 'date' }), field('to', t('a_to'), { type: 'date' }),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn' }, t('filter')),
      h('button', { type: 'button', class: 'btn link', onclick: () => navigate({}) }, t('clear'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    navigate(Object.fromEntries(KEYS.map((k) => [k, form.elements[k].value.trim()]).filter(([, v]) => v)));
  });
  main.append(h('div', { class: 'page' }, h('h1', { text: t('a_title') }), form,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table audit' },
      h('thead', {}, h('tr', {}, ...[t('a_when'), t('a_who'), t('a_action'), t('a_target'), t('a_reason')]
        .map((x) => h('th', { scope: 'col', text: x })))),
      body)), more));

  let cursor = null;
  async function load(append) {
    const p = new URLSearchParams({ limit: '100' });
    for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
    if (append && cursor) p.set('cursor', cursor);
    const res = await api('GET', `/api/v1/audit?${p}`);
    if (res.status !== 200) { body.replaceChildren(h('tr', {}, h('td', { colspan: '5', class: 'error', text: errorText(res) }))); return; }
    const rows = res.data.items.map((a) => h('tr', {},
      h('td', {}, h('time', { datetime: a.at, title: day(a.at), text: when(a.at) })),
      h('td', { dir: 'auto' }, a.actor ? h('a', { href: `#audit?${new URLSearchParams({ actor: a.actor })}`, text: a.actor }) : ''),
      h('td', { title: a.action, text: actionName(a.action) }),
      targetCell(a), h('td', { text: reasonText(a.reason || ''), dir: 'auto' })));
    if (append) body.append(...rows); else body.replaceChildren(...rows);
    if (!append && rows.length === 0) body.append(h('tr', {}, h('td', { colspan: '5', class: 'muted', text: t('a_nothing') })));
    cursor = res.data.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => load(true));
  load(false);
}

registerView({ id: 'users', label: 'nav_users', roles: ['admin'], render: users });
registerView({ id: 'audit', label: 'nav_audit', roles: ['admin'], render: audit });
