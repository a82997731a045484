/*
 * The receipt page, /receipt#<receipt>: the receipt lives in the URL's
 * fragment, which browsers never send, and goes to the API only as
 * Authorization: Bearer. Shows the message's status and withdraws it.
 */
'use strict';
(function () {
  const I = window.I18N;
  const t = I.t;
  const $ = (id) => document.getElementById(id);
  const TOKEN = /^[A-Za-z0-9_-]{43}$/;
  const FACTS = [
    ['submitted_at', 'rc_submitted'],
    ['received_at', 'rc_received'],
    ['decided_at', 'rc_decided'],
    ['withdrawn_at', 'rc_withdrawn'],
  ];
  let token = null;
  let data = null;    // the last answer of GET /api/v1/receipt
  let note = null;    // [key, role] of the message shown under the card

  /* The receipt in a pasted link or code, or null. */
  function parse(text) {
    const s = String(text || '').trim();
    const code = s.includes('#') ? s.slice(s.lastIndexOf('#') + 1) : s;
    return TOKEN.test(code) ? code : null;
  }

  function say(key) {
    note = key;
    $('msg').textContent = key ? t(key) : '';
    $('msg').className = key === 'rc_withdrawn_ok' ? 'ok' : 'err';
    $('msg').hidden = !key;
  }

  function render() {
    if (note) say(note);
    if (!data) return;
    $('status').textContent = t(`status_${data.status}`);
    $('status-text').textContent = t(`status_${data.status}_x`);
    const dl = $('facts');
    dl.textContent = '';
    const add = (label, value) => {
      const dt = document.createElement('dt');
      const dd = document.createElement('dd');
      dt.textContent = label;
      dd.textContent = value;
      dl.append(dt, dd);
    };
    for (const [k, label] of FACTS) if (data[k]) add(t(label), I.date(data[k]));
    if (data.status !== 'withdrawn') {
      add(t('rc_scope'), t(data.consent_scope === 'union' ? 'scope_union' : 'scope_public'));
    }
    renderProtection(add);
    $('withdraw').hidden = data.status === 'withdrawn' || !$('confirm').hidden;
    $('rc-private').hidden = data.status === 'withdrawn';
    $('card').hidden = false;
  }

  /* == identity protection == */

  /* Adds what protection was asked for to the facts, and, when the
   * moderators found it did not work, the offer to send the clip again. */
  function renderProtection(add) {
    const p = Array.isArray(data.protect) ? data.protect : [];
    if (data.status !== 'withdrawn') {
      add(t('rc_protect'), p.length ? p.map((k) => t(`rc_protect_${k}`)).join(', ') : t('rc_protect_none'));
    }
    $('resend').hidden = !data.resend;
  }

  async function call(method) {
    const r = await fetch('/api/v1/receipt', {
      method,
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      cache: 'no-store',
    });
    if (r.status === 404 || r.status === 401) return { unknown: true };
    if (!r.ok) throw new Error(`receipt: ${r.status}`);
    return { body: await r.json() };
  }

  // A busy server or a dropped connection is tried again a few times
  // (2, 4, 8, 16 s) before the page only says so.
  let retries = 0;
  let retryTimer = 0;

  async function load() {
    $('refresh').disabled = true;
    clearTimeout(retryTimer);
    try {
      const r = await call('GET');
      if (r.unknown) {
        data = null;
        $('card').hidden = true;
        say('rc_unknown');
        $('lookup').hidden = false;
      } else {
        data = r.body;
        if (note !== 'rc_withdrawn_ok') say(null);
        render();
      }
      retries = 0;
    } catch (e) {
      say('rc_error');
      if (retries < 4) retryTimer = setTimeout(load, 2000 * 2 ** retries++);
    } finally {
      $('refresh').disabled = false;
    }
  }

  async function withdraw() {
    $('withdraw-yes').disabled = true;
    try {
      const r = await call('DELETE');
      if (r.unknown) {
        say('rc_unknown');
      } else {
        data = r.body;
        $('confirm').hidden = true;
        say('rc_withdrawn_ok');
        render();
        $('status').focus();
      }
    } catch (e) {
      say('rc_error');
    } finally {
      $('withdraw-yes').disabled = false;
    }
  }

  function open(code) {
    token = code;
    $('lookup').hidden = true;
    say(null);
    load();
  }

  async function main() {
    for (const el of document.querySelectorAll('.js')) el.hidden = false;
    for (const el of document.querySelectorAll('.nojs')) el.hidden = true;
    $('status').tabIndex = -1;
    $('refresh').addEventListener('click', load);
    $('withdraw').addEventListener('click', () => {
      $('confirm').hidden = false;
      $('withdraw').hidden = true;
      $('withdraw-no').focus();
    });
    $('withdraw-no').addEventListener('click', () => {
      $('confirm').hidden = true;
      render();
      $('withdraw').focus();
    });
    $('withdraw-yes').addEventListener('click', withdraw);
    $('lookup').addEventListener('submit', (e) => {
      e.preventDefault();
      const code = parse($('code').value);
      if (code) open(code);
      else say('rc_bad_code');
    });
    window.addEventListener('hashchange', () => {
      const code = parse(location.hash);
      if (code && code !== token) open(code);
    });
    I.onChange(() => {
      document.title = $('rc-title').textContent;
      render();
    });
    await I.init($('ui-lang'));
    const code = parse(location.hash);
    if (code) {
      open(code);
    } else {
      if (location.hash.length > 1) say('rc_bad_code');
      $('lookup').hidden = false;
    }
    document.body.dataset.ready = '1';
  }

  main();
}());
