// Admin views: Users (list, add with a role, change role, disable or
// enable, reset a password) and Audit (the log, filtered, page by page).
import { api, errorText, h, registerView, session, toast, when } from './panel.js';
import { T as CT, userCampaignsCell } from './campaigns.js';

const ROLES = ['moderator', 'comms', 'admin'];

// A username: letters (with their accents), digits and marks of any
// script, '.', '_' and '-' (the server's rule, src/auth.c, is the one
// that counts). Browsers compile pattern with the v flag, where '-' is
// escaped.
const NAME_PATTERN = '[\\p{L}\\p{M}\\p{N}._\\-]+';
const NAME_HINT = 'Letters and digits of any script, and ".", "_" or "-": no spaces or other signs.';

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
    h('p', {}, 'New password for ', h('strong', { text: user }), ': ', h('code', { class: 'secret', text: password })),
    h('p', { class: 'muted', text: 'It is shown only now. Pass it on through a safe channel.' }));
}

function users(main) {
  const notice = h('div', { class: 'notice-slot' });
  const body = h('tbody');
  const form = h('form', { class: 'inline-form', 'aria-labelledby': 'add-h' },
    h('h2', { id: 'add-h', text: 'Add a user' }),
    h('div', { class: 'field' }, h('label', { for: 'u-name', text: 'Username' }),
      h('input', {
        id: 'u-name', name: 'username', required: true, maxlength: '64', pattern: NAME_PATTERN, title: NAME_HINT,
        'aria-describedby': 'u-name-hint', autocomplete: 'off', spellcheck: 'false',
      }),
      h('p', { id: 'u-name-hint', class: 'muted', text: NAME_HINT })),
    h('div', { class: 'field' }, h('label', { for: 'u-role', text: 'Role' }),
      h('select', { id: 'u-role', name: 'role' }, ...ROLES.map((r) => h('option', { value: r, text: r })))),
    h('div', { class: 'field' }, h('label', { for: 'u-pass', text: 'Password (empty: generate one)' }),
      h('input', { id: 'u-pass', name: 'password', type: 'password', minlength: '10', maxlength: '1024', autocomplete: 'new-password' })),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn primary' }, 'Add')));
  main.append(h('div', { class: 'page' },
    h('h1', { text: 'Users' }), notice,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ...['Username', 'Role', 'State', 'Created', CT.limits, 'Actions'].map((t) => h('th', { scope: 'col', text: t })))),
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
    const role = h('select', { 'aria-label': `Role of ${u.username}`, disabled: self },
      ...ROLES.map((r) => h('option', { value: r, selected: r === u.role, text: r })));
    role.addEventListener('change', () => change(u.username, { role: role.value }, `${u.username} is now ${role.value}.`));
    const toggle = u.disabled
      ? h('button', { type: 'button', class: 'btn small', onclick: () => change(u.username, { disabled: false }, `${u.username} enabled.`) }, 'Enable')
      : h('button', {
        type: 'button', class: 'btn small danger', disabled: self,
        onclick: async () => {
          if (!window.confirm(`Disable ${u.username}? Their sessions end.`)) return;
          const res = await api('DELETE', `/api/v1/users/${encodeURIComponent(u.username)}`);
          if (res.status === 200 || res.status === 204) toast(`${u.username} disabled.`, 'ok');
          else if (res.status !== 401) toast(errorText(res), 'error');
          load();
        },
      }, 'Disable');
    const reset = h('button', {
      type: 'button', class: 'btn small',
      onclick: async () => {
        if (!window.confirm(`Give ${u.username} a new password?`)) return;
        const pw = randomPassword();
        if (await change(u.username, { password: pw }, 'Password changed.')) notice.replaceChildren(passwordNotice(u.username, pw));
      },
    }, 'Reset password');
    return h('tr', { class: u.disabled ? 'disabled' : null },
      h('th', { scope: 'row', text: u.username }),
      h('td', {}, role),
      h('td', { text: u.disabled ? 'disabled' : 'active' }),
      h('td', {}, h('time', { datetime: u.created_at, text: when(u.created_at) })),
      userCampaignsCell(u, load),
      h('td', { class: 'row' }, toggle, reset));
  }

  // The browser's own message for a pattern mismatch says nothing useful.
  const nameInput = form.elements.username;
  nameInput.addEventListener('input', () => nameInput.setCustomValidity(''));
  nameInput.addEventListener('invalid', () => {
    if (nameInput.validity.patternMismatch) nameInput.setCustomValidity(`This name cannot be used. ${NAME_HINT}`);
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
      toast(`${payload.username} added.`, 'ok');
      notice.replaceChildren(res.data.password ? passwordNotice(payload.username, res.data.password) : '');
      load();
    } else if (res.status !== 401) {
      toast(errorText(res), 'error');
    }
  });
  load();
}

const ACTIONS = ['login', 'login.failed', 'logout', 'message.approve', 'message.reject', 'message.reopen',
  'message.retry', 'message.withdraw', 'message.reshared', 'export', 'user.create', 'user.role',
  'user.password', 'user.disable', 'user.enable', 'user.campaigns', 'campaign.create', 'campaign.update',
  'campaign.logo', 'campaign.adopt'];

function audit(main, params, navigate) {
  const f = { action: params.get('action') || '', actor: params.get('actor') || '', target: params.get('target') || '' };
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'btn more', hidden: true }, 'Load more');
  const field = (name, label, extra = {}) => h('div', { class: 'field' },
    h('label', { for: `a-${name}`, text: label }), h('input', { id: `a-${name}`, name, value: f[name], ...extra }));
  const form = h('form', { class: 'filters', role: 'search' },
    field('action', 'Action', { list: 'a-actions' }),
    h('datalist', { id: 'a-actions' }, ...ACTIONS.map((a) => h('option', { value: a }))),
    field('actor', 'Who'), field('target', 'Target (user or message id)'),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn' }, 'Filter'),
      h('button', { type: 'button', class: 'btn link', onclick: () => navigate({}) }, 'Clear')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    navigate(Object.fromEntries(['action', 'actor', 'target'].map((k) => [k, form.elements[k].value.trim()])));
  });
  main.append(h('div', { class: 'page' }, h('h1', { text: 'Audit log' }), form,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ...['When', 'Who', 'Action', 'Target', 'Reason'].map((t) => h('th', { scope: 'col', text: t })))),
      body)), more));

  let cursor = null;
  async function load(append) {
    const p = new URLSearchParams({ limit: '100' });
    for (const [k, v] of Object.entries(f)) if (v) p.set(k, v);
    if (append && cursor) p.set('cursor', cursor);
    const res = await api('GET', `/api/v1/audit?${p}`);
    if (res.status !== 200) { body.replaceChildren(h('tr', {}, h('td', { colspan: '5', class: 'error', text: errorText(res) }))); return; }
    const rows = res.data.items.map((a) => h('tr', {},
      h('td', {}, h('time', { datetime: a.at, text: when(a.at) })),
      h('td', { text: a.actor || '' }), h('td', { text: a.action }),
      h('td', { class: 'mono', text: a.target || '' }), h('td', { text: a.reason || '', dir: 'auto' })));
    if (append) body.append(...rows); else body.replaceChildren(...rows);
    if (!append && rows.length === 0) body.append(h('tr', {}, h('td', { colspan: '5', class: 'muted', text: 'Nothing recorded.' })));
    cursor = res.data.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => load(true));
  load(false);
}

registerView({ id: 'users', label: 'Users', roles: ['admin'], render: users });
registerView({ id: 'audit', label: 'Audit', roles: ['admin'], render: audit });
