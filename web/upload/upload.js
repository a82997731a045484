/*
 * The contributor's page. Without JavaScript it is a plain multipart
 * form posted to /api/v1/messages; this script takes it over:
 *
 *  - video: the phone's camera (<input capture>), a file, or an in-page
 *    recorder (getUserMedia + MediaRecorder); checked against the
 *    campaign's size and length limits before a byte is sent;
 *  - upload: tus (tus-js-client) in chunks; retries with backoff,
 *    "waiting for network" while offline, a watchdog for stalled
 *    requests, resumption after a reload from one localStorage entry
 *    (upload URL + receipt, removed once the upload is done);
 *  - identity protection: the "Protect my identity" choices travel as
 *    `protect` in the upload's metadata (the form posts one field per box);
 *  - the end: the private receipt link (token in the fragment only), and
 *    the message's status followed live (GET /api/v1/receipt) until it
 *    is ready for review or could not be processed (and why, in the
 *    page's language).
 *
 * Nothing is guessed for the contributor: no country is pre-selected
 * (a phone's language says little about where its owner is, and the
 * guess would travel into the panel, the manifest and file names);
 * "I prefer not to say" is an explicit choice.
 */
'use strict';
(function () {
  const I = window.I18N;
  const t = I.t;
  const $ = (id) => document.getElementById(id);
  const MiB = 1024 * 1024;
  // The page's campaign, as the server rendered it.
  const SLUG = document.documentElement.dataset.campaign || 'default';
  const TOP_COUNTRIES = ['BY', 'RU', 'UA', 'KZ'];
  const TOP_LANGUAGES = ['be', 'ru', 'uk', 'en'];
  // An unfinished upload is remembered per campaign.
  const PENDING_KEY = SLUG === 'default' ? 'chorus.upload' : `chorus.upload.${SLUG}`;
  const PENDING_MAX_AGE = 24 * 3600 * 1000;
  const RETRY_S = [1, 2, 4, 8, 15, 30, 60];
  const STALL_MS = 45000;
  const FOLLOW_MS = [2000, 2000, 2000, 3000, 5000, 10000]; // then the last
  const FOLLOW_FOR_MS = 30 * 60 * 1000;
  const SETTLED = ['in_review', 'approved', 'not_published', 'failed', 'withdrawn'];
  const REASONS = ['not_video', 'too_long', 'damaged', 'unsupported', 'too_large', 'harmful', 'other'];

  const form = $('form');
  const campaign = {
    max_upload_bytes: 0, max_duration_s: 0, title: null, intro: null, consent: null,
    lang: null, consentLang: null, state: document.documentElement.dataset.state || 'open', opensAt: null,
  };
  const errors = {};        // element id -> [key, vars] shown there
  let clip = null;          // {file, source, duration, url}
  let pending = null;       // the stored unfinished upload, if any
  let resumeWanted = false; // the user asked to continue `pending`
  let up = null;            // the upload in progress
  let rec = null;           // the in-page recorder
  let live = null;          // the status followed after the upload
  let languageTouched = false;

  /* == small helpers == */

  function show(el, on) { el.hidden = !on; }

  /* The control whose error line is id ("country-err"), if any. */
  function fieldOf(id) {
    const f = $(id.replace(/-err$/, ''));
    return f && f.labels && f.checkVisibility() ? f : null;
  }

  /* Shows t(key, vars) in the error line id and marks its field. */
  function setError(id, key, vars) {
    errors[id] = [key, vars];
    $(id).textContent = t(key, vars);
    $(id).hidden = false;
    fieldOf(id)?.setAttribute('aria-invalid', 'true');
  }

  function clearError(id) {
    delete errors[id];
    $(id).hidden = true;
    fieldOf(id)?.removeAttribute('aria-invalid');
  }

  function readPending() {
    try {
      const p = JSON.parse(localStorage.getItem(PENDING_KEY) || 'null');
      if (p && p.url && Date.now() - p.at < PENDING_MAX_AGE) return p;
      localStorage.removeItem(PENDING_KEY);
    } catch (e) { /* storage off or garbled */ }
    return null;
  }

  function savePending(p) {
    try { localStorage.setItem(PENDING_KEY, JSON.stringify(p)); } catch (e) { /* ignore */ }
  }

  function dropPending() {
    pending = null;
    try { localStorage.removeItem(PENDING_KEY); } catch (e) { /* ignore */ }
    show($('resume'), false);
  }

  const fingerprint = (f) => [f.name, f.size, f.lastModified, f.type].join('|');

  /* == labels that depend on the language == */

  /* Rebuilds a select's options in the page language: its leading
   * options of our own ("Choose…", "I prefer not to say") kept, then
   * `top`, the rest sorted by name. Codes come from the HTML (the no-JS
   * list). */
  function relabelSelect(select, type, top, codes, separator) {
    const keep = select.value;
    const coll = new Intl.Collator(I.lang);
    const label = (c) => {
      const n = I.name(type, c) || english.get(c) || c;
      return n.charAt(0).toLocaleUpperCase(I.lang) + n.slice(1);
    };
    const rest = codes.filter((c) => !top.includes(c))
      .map((c) => [c, label(c)]).sort((a, b) => coll.compare(a[1], b[1]));
    let fixed = 0;
    while (fixed < select.options.length && select.options[fixed].dataset.i18n) fixed += 1;
    const own = [...select.options].slice(0, fixed);
    select.length = fixed;
    for (const o of own) o.textContent = t(o.dataset.i18n);
    if (separator && fixed > 1) {
      const o = new Option('──────', '');
      o.disabled = true;
      select.add(o);
    }
    for (const c of top) select.add(new Option(label(c), c));
    if (separator) {
      const o = new Option('──────', '');
      o.disabled = true;
      select.add(o);
    }
    for (const [c, n] of rest) select.add(new Option(n, c));
    select.value = keep;
  }

  const english = new Map(); // code -> the HTML's name, if Intl has none

  function codesOf(select) {
    const codes = [];
    for (const o of select.options) {
      if (!o.value || o.disabled || o.dataset.i18n) continue;
      codes.push(o.value);
      english.set(o.value, o.textContent);
    }
    return codes;
  }

  let countryCodes = [];
  let languageCodes = [];

  function relabel() {
    relabelSelect($('country'), 'region', TOP_COUNTRIES, countryCodes, true);
    relabelSelect($('language'), 'language', TOP_LANGUAGES, languageCodes, false);
    if (!languageTouched) $('language').value = I.lang;
    $('ui_lang').value = I.lang;
    renderCampaign();
    renderLimits();
    renderCounter();
    renderClip();
    renderRecorder();
    renderResume();
    renderUpload();
    renderLive();
    for (const [id, [key, vars]] of Object.entries(errors)) $(id).textContent = t(key, vars);
  }

  function renderLimits() {
    const parts = [];
    if (campaign.max_duration_s) parts.push(I.duration(campaign.max_duration_s));
    if (campaign.max_upload_bytes) parts.push(I.bytes(campaign.max_upload_bytes));
    $('video-limits').textContent = parts.length === 2
      ? t('video_limits', { duration: parts[0], size: parts[1] }) : '';
  }

  function renderCounter() {
    const left = 500 - [...$('message').value].length;
    $('message-left').textContent = t('chars_left', { n: left });
  }

  /* == the campaign == */

  /* The campaign's texts in the page's language (each falls back to the
   * campaign's first language), its consent version and its state. The
   * server rendered them already: this is for another language, and for
   * a page left open while the campaign closed. */
  async function loadCampaign() {
    try {
      const r = await fetch(`/api/v1/campaigns/${encodeURIComponent(SLUG)}?lang=${encodeURIComponent(I.lang)}`);
      if (!r.ok) return;
      const c = await r.json();
      campaign.max_upload_bytes = Number(c.max_upload_bytes) || 0;
      campaign.max_duration_s = Number(c.max_duration_s) || 0;
      Object.assign(campaign, {
        title: c.title, intro: c.intro, consent: c.consent_text, lang: c.lang,
        consentLang: c.consent_language, state: c.state, opensAt: c.opens_at,
      });
      // The version of the text shown: what the contributor agrees to.
      if (c.consent_version) $('consent_version').value = c.consent_version;
      if (c.consent_language) $('consent_language').value = c.consent_language;
      relabel();
    } catch (e) { /* offline: the page as the server made it stays */ }
  }

  function renderCampaign() {
    if (campaign.title) {
      $('title').textContent = campaign.title;
      $('title').lang = campaign.lang;
    }
    if (campaign.intro !== null) {
      $('intro').textContent = campaign.intro || '';
      $('intro').lang = campaign.lang;
      show($('intro'), !!campaign.intro);
    }
    if (campaign.consent) {
      $('consent-text').textContent = campaign.consent;
      $('consent-text').lang = campaign.consentLang;
    }
    document.title = $('title').textContent;
    const open = campaign.state === 'open';
    show($('closed'), !open);
    if (!open) {
      show(form, false);
      show($('resume'), false);
      const soon = campaign.state === 'not_yet_open';
      $('closed-h').textContent = t(soon ? 'soon_heading' : 'closed_heading');
      $('closed-text').textContent = soon
        ? t('soon_text', { date: campaign.opensAt ? I.date(campaign.opensAt) : '' }) : t('closed_text');
    }
  }

  /* == choosing the video == */

  /* What the browser makes of the file: {playable, duration}. A <video>
   * element loads its metadata from an object URL (nothing is sent);
   * duration is null when the browser cannot tell (a recording without
   * one). An answer that never comes counts as playable. */
  function probe(url) {
    return new Promise((resolve) => {
      const v = document.createElement('video');
      let done = false;
      const finish = (playable, d) => {
        if (done) return;
        done = true;
        v.removeAttribute('src');
        v.load();
        resolve({ playable, duration: Number.isFinite(d) && d > 0 ? d : null });
      };
      v.preload = 'metadata';
      v.muted = true;
      v.onloadedmetadata = () => finish(true, v.duration);
      v.onerror = () => finish(false, null);
      setTimeout(() => finish(true, null), 8000);
      v.src = url;
    });
  }

  /* True if the file's first bytes are those of a container the server
   * takes (MP4/MOV/3GP, Matroska/WebM, AVI, Ogg, MPEG-TS): such a file
   * may hold a codec this browser cannot play but the server can. */
  async function looksLikeVideo(file) {
    let b;
    try {
      b = new Uint8Array(await file.slice(0, 192).arrayBuffer());
    } catch (e) {
      return true; // unreadable here: let the server decide
    }
    const at = (off, s) => [...s].every((c, i) => b[off + i] === c.charCodeAt(0));
    return at(4, 'ftyp') || at(4, 'moov') || at(4, 'mdat') || at(4, 'wide') || at(4, 'free')
      || (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3)
      || (at(0, 'RIFF') && at(8, 'AVI ')) || at(0, 'OggS')
      || (b[0] === 0x47 && b.length > 188 && b[188] === 0x47);
  }

  async function takeFile(file, source, knownDuration) {
    clearError('video-err');
    if (pending && fingerprint(file) === pending.fp) {
      resumePending(file);
      return;
    }
    if (resumeWanted) {
      resumeWanted = false;
      $('resume-err').textContent = t('resume_mismatch', { name: pending ? pending.name : '' });
      show($('resume-err'), true);
    }
    if (file.type && !file.type.startsWith('video/') && file.type !== 'application/octet-stream') {
      setError('video-err', 'err_not_video');
      return;
    }
    if (file.size === 0) {
      setError('video-err', 'err_empty');
      return;
    }
    if (campaign.max_upload_bytes && file.size > campaign.max_upload_bytes) {
      setError('video-err', 'err_too_big', { size: I.bytes(file.size), max: I.bytes(campaign.max_upload_bytes) });
      return;
    }
    const url = URL.createObjectURL(file);
    const seen = await probe(url);
    // Not playable here and not even shaped like a video: say so, send nothing.
    if (!seen.playable && !(await looksLikeVideo(file))) {
      URL.revokeObjectURL(url);
      setError('video-err', 'err_not_playable');
      return;
    }
    const duration = knownDuration || seen.duration;
    if (duration && campaign.max_duration_s && duration > campaign.max_duration_s + 1) {
      URL.revokeObjectURL(url);
      setError('video-err', 'err_too_long', { duration: I.clock(duration), max: I.clock(campaign.max_duration_s) });
      return;
    }
    dropClip();
    clip = { file, source, duration, url };
    $('preview').src = url;
    renderClip();
    show($('clip'), true);
    show($('pick'), false);
  }

  function dropClip() {
    if (clip) URL.revokeObjectURL(clip.url);
    clip = null;
    $('preview').removeAttribute('src');
    $('preview').load();
    show($('clip'), false);
    show($('pick'), true);
  }

  function renderClip() {
    if (!clip) return;
    const parts = [clip.source === 'file' ? clip.file.name : t('your_recording'), I.bytes(clip.file.size)];
    if (clip.duration) parts.push(I.clock(clip.duration));
    $('clip-info').textContent = parts.join(' · ');
    show($('clip-again'), clip.source !== 'file');
  }

  /* == the in-page recorder == */

  const canRecord = () => !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);

  function recorderType() {
    const types = ['video/webm;codecs=vp8,opus', 'video/webm', 'video/mp4;codecs=avc1,mp4a', 'video/mp4'];
    return types.find((m) => MediaRecorder.isTypeSupported(m)) || '';
  }

  function maxRecordSeconds() {
    return Math.min(campaign.max_duration_s || 600, 600);
  }

  async function openRecorder() {
    clearError('video-err');
    rec = { stream: null, media: null, chunks: [], size: 0, t0: 0, timer: 0, msg: 'rec_starting' };
    show($('pick'), false);
    show($('clip'), false);
    show($('recorder'), true);
    renderRecorder();
    await startStream();
    $('rec-start').focus();
  }

  async function startStream() {
    const cam = $('rec-cam').value;
    const mic = $('rec-mic').value;
    stopStream();
    $('rec-start').disabled = true;
    try {
      rec.stream = await navigator.mediaDevices.getUserMedia({
        video: cam ? { deviceId: { exact: cam } } : { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: mic ? { deviceId: { exact: mic } } : true,
      });
    } catch (e) {
      rec.msg = 'rec_denied';
      renderRecorder();
      return;
    }
    $('live').srcObject = rec.stream;
    rec.msg = 'rec_ready';
    $('rec-start').disabled = false;
    renderRecorder();
    await listDevices();
  }

  async function listDevices() {
    let devices = [];
    try { devices = await navigator.mediaDevices.enumerateDevices(); } catch (e) { return; }
    const current = {};
    for (const tr of rec.stream ? rec.stream.getTracks() : []) current[tr.kind] = tr.getSettings().deviceId;
    for (const [kind, id, key] of [['videoinput', 'rec-cam', 'rec_camera'], ['audioinput', 'rec-mic', 'rec_mic']]) {
      const select = $(id);
      select.length = 0;
      let n = 0;
      for (const d of devices) {
        if (d.kind !== kind || !d.deviceId) continue;
        n += 1;
        select.add(new Option(d.label || `${t(key)} ${n}`, d.deviceId));
      }
      const trackKind = kind === 'videoinput' ? 'video' : 'audio';
      if (current[trackKind]) select.value = current[trackKind];
    }
  }

  function stopStream() {
    if (rec && rec.stream) for (const tr of rec.stream.getTracks()) tr.stop();
    if (rec) rec.stream = null;
    $('live').srcObject = null;
  }

  function renderRecorder() {
    if (!rec) return;
    const max = maxRecordSeconds();
    $('rec-max').textContent = I.clock(max);
    $('rec-msg').textContent = rec.msg ? t(rec.msg, { max: I.clock(max) }) : '';
  }

  function startRecording() {
    if (!rec || !rec.stream) return;
    const mimeType = recorderType();
    const opts = { videoBitsPerSecond: 2500000, audioBitsPerSecond: 128000 };
    if (mimeType) opts.mimeType = mimeType;
    try {
      rec.media = new MediaRecorder(rec.stream, opts);
    } catch (e) {
      rec.msg = 'rec_denied';
      renderRecorder();
      return;
    }
    rec.chunks = [];
    rec.size = 0;
    const limit = campaign.max_upload_bytes ? campaign.max_upload_bytes * 0.97 : Infinity;
    rec.media.ondataavailable = (e) => {
      if (e.data && e.data.size) {
        rec.chunks.push(e.data);
        rec.size += e.data.size;
        if (rec.size >= limit) stopRecording();
      }
    };
    rec.media.onstop = finishRecording;
    rec.media.start(1000);
    rec.t0 = performance.now();
    rec.msg = 'rec_recording';
    renderRecorder();
    tick();
    rec.timer = setInterval(tick, 250);
    show($('rec-start'), false);
    show($('rec-stop'), true);
    show($('rec-dot'), true);
    $('rec-cam').disabled = $('rec-mic').disabled = $('rec-close').disabled = true;
    $('rec-stop').focus();
  }

  function tick() {
    const s = (performance.now() - rec.t0) / 1000;
    $('rec-time').textContent = I.clock(Math.floor(s));
    if (s >= maxRecordSeconds()) stopRecording();
  }

  function stopRecording() {
    if (!rec || !rec.media || rec.media.state === 'inactive') return;
    rec.seconds = (performance.now() - rec.t0) / 1000;
    clearInterval(rec.timer);
    rec.media.stop();
  }

  function finishRecording() {
    const type = (rec.media.mimeType || 'video/webm').split(';')[0];
    const ext = type === 'video/mp4' ? 'mp4' : 'webm';
    const file = new File(rec.chunks, `recording-${Date.now()}.${ext}`, { type, lastModified: Date.now() });
    const seconds = rec.seconds;
    closeRecorder();
    takeFile(file, 'recorder', seconds);
  }

  function closeRecorder() {
    if (!rec) return;
    clearInterval(rec.timer);
    stopStream();
    rec = null;
    show($('recorder'), false);
    show($('rec-start'), true);
    show($('rec-stop'), false);
    show($('rec-dot'), false);
    $('rec-time').textContent = I.clock(0);
    $('rec-cam').disabled = $('rec-mic').disabled = $('rec-close').disabled = false;
    show($('clip'), !!clip);
    show($('pick'), !clip);
  }

  /* == the form == */

  function validate() {
    for (const id of Object.keys(errors)) clearError(id);
    let first = null;
    const bad = (id, key, el) => {
      setError(id, key);
      first = first || el;
    };
    if (!clip) bad('video-err', 'err_no_video', $('video-card'));
    if (!$('country').value) bad('country-err', 'err_country', $('country'));
    if (!$('language').value) bad('language-err', 'err_language', $('language'));
    if (!$('consent').checked) bad('consent-err', 'err_consent', $('consent'));
    if (first) {
      setError('form-err', 'err_summary');
      if (!/^(INPUT|SELECT)$/.test(first.tagName)) first.setAttribute('tabindex', '-1');
      first.focus();
      first.scrollIntoView({ block: 'center' });
    }
    return !first;
  }

  /* == identity protection == */

  /* The protections ticked in "Protect my identity", as the comma list
   * the server takes ("blur_faces,voice"), or '' for none. */
  function protectChoice() {
    return [...form.querySelectorAll('input[name=protect]:checked')].map((el) => el.value).join(',');
  }

  function metadata() {
    const m = {
      filetype: clip.file.type || 'application/octet-stream',
      country: $('country').value,
      language: $('language').value,
      consent: 'yes',
      consent_version: $('consent_version').value,
      consent_scope: form.elements.consent_scope.value || 'public',
      campaign: SLUG,
    };
    if ($('consent_language').value) m.consent_language = $('consent_language').value;
    const name = $('name').value.trim();
    const org = $('organization').value.trim();
    const msg = $('message').value.trim();
    if (name && !$('anon').checked) m.name = name;
    if (org) m.organization = org;
    if (msg) m.message = msg;
    const protect = protectChoice();
    if (protect) m.protect = protect;
    return m;
  }

  /* == the upload == */

  function chunkSize() {
    // A page may set <body data-chunk-size> (tests use small chunks).
    const n = Number(document.body.dataset.chunkSize);
    return n >= 64 * 1024 ? n : 4 * MiB;
  }

  const statusOf = (err) => (err && err.originalResponse ? err.originalResponse.getStatus() : 0);

  /* Starts sending file: a new upload with meta, or the stored one. */
  function startUpload(file, { meta = null, url = null, receipt = null, source = 'file' } = {}) {
    // A new video replaces an interrupted one: that one goes (unless complete).
    if (pending && pending.url !== url) forget(pending.url, null);
    up = {
      file, receipt, source, state: 'connecting', tries: 0, sent: 0, total: file.size, samples: [],
      speed: 0, last: Date.now(), timer: 0, wait: 0, lock: null, retryAfter: 0,
    };
    const u = up;
    up.upload = new window.tus.Upload(file, {
      endpoint: url ? null : `${location.origin}/api/v1/uploads`,
      uploadUrl: url,
      chunkSize: chunkSize(),
      metadata: meta || {},
      retryDelays: null, // retries are ours, so the screen can say so
      storeFingerprintForResuming: false,
      onAfterResponse(req, res) {
        if (req.getMethod() === 'POST' && res.getStatus() === 201) {
          u.receipt = res.getHeader('Chorus-Receipt') || u.receipt;
        }
        u.retryAfter = Number(res.getHeader('Retry-After')) || 0;
      },
      onUploadUrlAvailable() {
        pending = {
          url: u.upload.url, receipt: u.receipt, fp: fingerprint(file), name: file.name, at: Date.now(),
          lost: u.source === 'recorder', // a recording is not kept: it cannot be chosen again
        };
        savePending(pending);
      },
      onProgress(sent, total) {
        if (u !== up) return;
        progress(sent, total);
      },
      onSuccess() {
        if (u === up) finished();
      },
      onError(err) {
        if (u === up) failed(err);
      },
    });
    show(form, false);
    show($('resume'), false);
    show($('upload'), true);
    show($('done'), false);
    $('upload-h').focus();
    wake(true);
    attempt();
  }

  function attempt() {
    clearTimeout(up.timer);
    up.state = 'connecting';
    up.last = Date.now();
    up.samples = [];
    renderUpload();
    up.upload.start();
  }

  function progress(sent, total) {
    const now = Date.now();
    if (sent > up.sent) up.tries = 0;
    up.sent = sent;
    up.total = total;
    up.last = now;
    up.state = 'uploading';
    up.samples.push([now, sent]);
    while (up.samples.length > 2 && now - up.samples[0][0] > 8000) up.samples.shift();
    const [t0, b0] = up.samples[0];
    if (now - t0 >= 1000) up.speed = Math.max(0, (sent - b0) / ((now - t0) / 1000));
    renderUpload();
  }

  function renderUpload() {
    if (!up) return;
    const frac = up.total ? up.sent / up.total : 0;
    $('up-bar').max = up.total || 1;
    $('up-bar').value = up.sent;
    $('up-pct').textContent = I.percent(frac);
    const moving = up.state === 'uploading' && up.speed > 0;
    $('up-speed').textContent = moving ? I.speed(up.speed) : '';
    $('up-left').textContent = moving && up.sent < up.total
      ? t('time_left', { time: I.duration((up.total - up.sent) / up.speed) }) : '';
    $('up-state').textContent = t(`st_${up.state}`, { s: up.wait });
    const active = up.state !== 'done';
    show($('up-hint'), active);
    show($('up-pause'), active && up.state !== 'paused');
    show($('up-resume'), up.state === 'paused');
    show($('up-cancel'), active && $('cancel-ask').hidden);
  }

  function finished() {
    const receipt = up.receipt;
    up.state = 'done';
    up.sent = up.total;
    renderUpload();
    wake(false);
    dropPending();
    const link = `${location.origin}/receipt#${receipt}`;
    $('receipt-link').value = link;
    $('open-receipt').href = `/receipt#${receipt}`;
    const save = $('save');
    if (save.href.startsWith('blob:')) URL.revokeObjectURL(save.href);
    save.href = URL.createObjectURL(new Blob([`${t('receipt_file')}\n${link}\n`], { type: 'text/plain' }));
    show($('done'), true);
    $('done-h').focus();
    follow(receipt);
  }

  /* == the status, live, after the upload == */

  /* Asks for the receipt's status until it settles (or half an hour). */
  function follow(receipt) {
    if (live) clearTimeout(live.timer);
    live = { receipt, status: null, reason: null, offline: false, n: 0, t0: Date.now(), timer: 0 };
    renderLive();
    const me = live;
    const ask = async () => {
      if (me !== live) return;
      try {
        const r = await fetch('/api/v1/receipt', {
          headers: { Authorization: `Bearer ${receipt}`, Accept: 'application/json' }, cache: 'no-store',
        });
        if (!r.ok) throw new Error(`receipt: ${r.status}`);
        const b = await r.json();
        me.status = b.status;
        me.reason = b.reason || null;
        me.offline = false;
      } catch (e) {
        me.offline = true;
      }
      if (me !== live) return;
      renderLive();
      if (SETTLED.includes(me.status) || Date.now() - me.t0 > FOLLOW_FOR_MS) return;
      me.timer = setTimeout(ask, FOLLOW_MS[Math.min(me.n, FOLLOW_MS.length - 1)]);
      me.n += 1;
    };
    ask();
  }

  function renderLive() {
    if (!live) return;
    const status = live.status;
    $('live-status').textContent = status ? t(`status_${status}`) : t('live_checking');
    $('live-text').textContent = live.offline && !SETTLED.includes(status) ? t('live_offline')
      : status ? t(`status_${status}_x`) : '';
    const failed = status === 'failed';
    $('live-reason').textContent = failed ? t(`reason_${REASONS.includes(live.reason) ? live.reason : 'other'}`) : '';
    show($('live-reason'), failed);
    $('live').dataset.status = status || '';
  }

  /* An error from tus-js-client: fatal, or retried after a pause. */
  function failed(err) {
    const status = statusOf(err);
    if (status === 400 || status === 403) {
      let body = {};
      try { body = JSON.parse(err.originalResponse.getBody()) || {}; } catch (e) { /* none */ }
      // The campaign closed, or its consent text changed, meanwhile.
      if (body.error === 'campaign_closed' || body.error === 'consent_outdated') {
        fatal(body.error);
        return;
      }
      if (status === 400) {
        fatal(body.field || null);
        return;
      }
    }
    if (status === 413) {
      fatal('size');
      return;
    }
    if ((status === 404 || status === 410) && !up.upload.options.endpoint) {
      // The stored upload is gone (expired): its details went with it.
      fatal('expired');
      return;
    }
    if (status === 404 || status === 410) {
      // Gone mid-way: start a new upload with the same details.
      dropPending();
      up.upload.url = null;
      up.receipt = null;
    }
    if (status === 403 || status === 412 || status === 415) {
      fatal(null);
      return;
    }
    retryLater(status === 429 || status >= 500 ? 'busy' : 'retry');
  }

  function retryLater(kind) {
    clearTimeout(up.timer);
    if (!navigator.onLine) {
      up.state = 'waiting';
      renderUpload();
      up.timer = setTimeout(() => { if (navigator.onLine) attempt(); else retryLater(kind); }, 5000);
      return;
    }
    const delay = Math.max(up.retryAfter, RETRY_S[Math.min(up.tries, RETRY_S.length - 1)]);
    up.tries += 1;
    up.state = kind;
    up.wait = delay;
    const step = () => {
      renderUpload();
      if (up.wait <= 0) {
        attempt();
        return;
      }
      up.wait -= 1;
      up.timer = setTimeout(step, 1000);
    };
    step();
  }

  /* Stops the upload for good and shows the form again with why. */
  function fatal(field) {
    const u = up;
    clearTimeout(u.timer);
    u.upload.abort();
    wake(false, u);
    up = null;
    show($('upload'), false);
    show(form, true);
    $('fields').disabled = false;
    $('send').disabled = false;
    dropPending();
    const el = field && $(field === 'consent_scope' ? 'consent' : field);
    if (field === 'campaign_closed') {
      setError('form-err', 'err_closed');
      loadCampaign();
    } else if (field === 'consent_outdated') {
      setError('form-err', 'err_consent_outdated');
    } else if (field === 'expired') {
      setError('form-err', 'err_expired');
      takeFile(u.file, u.source); // chosen already: it only needs sending
    } else if (field === 'size') {
      setError('video-err', 'err_too_big_server');
      setError('form-err', 'err_summary');
    } else if (el && el.labels && el.labels.length) {
      // The server refused a field: name it as the form does.
      setError('form-err', 'err_invalid', { field: el.labels[0].textContent });
      el.focus();
    } else {
      setError('form-err', 'err_failed');
    }
  }

  function pause() {
    if (!up || up.state === 'done') return;
    clearTimeout(up.timer);
    up.upload.abort();
    up.state = 'paused';
    renderUpload();
    wake(false);
    $('up-resume').focus();
  }

  function resume() {
    if (!up || up.state !== 'paused') return;
    wake(true);
    attempt();
    $('up-pause').focus();
  }

  function cancel() {
    const u = up;
    clearTimeout(u.timer);
    u.upload.abort();
    if (u.upload.url) forget(u.upload.url, u.receipt);
    wake(false, u);
    up = null;
    dropPending();
    show($('cancel-ask'), false);
    show($('upload'), false);
    show(form, true);
    $('fields').disabled = false;
    $('send').disabled = false;
    $('send').focus();
  }

  /* Keeps the screen on while sending (where the browser can). */
  async function wake(on, u = up) {
    if (!u) return;
    try {
      if (on && !u.lock && navigator.wakeLock && document.visibilityState === 'visible') {
        u.lock = await navigator.wakeLock.request('screen');
      } else if (!on && u.lock) {
        const l = u.lock;
        u.lock = null;
        await l.release();
      }
    } catch (e) { /* not allowed: fine */ }
  }

  /* The network went away: say so now rather than when a request fails. */
  function offline() {
    if (!up || !['connecting', 'uploading', 'retry', 'busy'].includes(up.state)) return;
    up.upload.abort();
    retryLater('retry');
  }

  function online() {
    if (up && up.state === 'waiting') attempt();
  }

  /* A request that makes no progress for a long time is dropped and retried. */
  function watchdog() {
    if (up && ['connecting', 'uploading'].includes(up.state) && Date.now() - up.last > STALL_MS) {
      up.upload.abort();
      retryLater('retry');
    }
  }

  /* == an upload left unfinished by an earlier visit == */

  async function checkPending() {
    if (campaign.state !== 'open') return; // nothing can be sent here now
    pending = readPending();
    if (!pending) return;
    renderResume();
    show($('resume'), true);
    try {
      const r = await fetch(pending.url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
      if (r.status === 404 || r.status === 410) {
        dropPending();
        return;
      }
      const off = Number(r.headers.get('Upload-Offset'));
      const len = Number(r.headers.get('Upload-Length'));
      if (r.ok && len) {
        pending.fraction = off / len;
        renderResume();
      }
    } catch (e) { /* offline: it can still be tried */ }
  }

  function renderResume() {
    if (!pending) return;
    $('resume-text').textContent = t(pending.lost ? 'resume_lost' : 'resume_text', {
      name: pending.name,
      done: pending.fraction !== undefined ? I.percent(pending.fraction) : '…',
    });
    show($('resume-hint'), !pending.lost);
    show($('resume-choose'), !pending.lost);
  }

  function resumePending(file) {
    resumeWanted = false;
    show($('resume-err'), false);
    startUpload(file, { url: pending.url, receipt: pending.receipt });
  }

  /* Deletes an upload; one that has meanwhile completed is withdrawn
   * with its receipt, as the contributor asked for it to go. */
  async function forget(url, receipt) {
    try {
      let r;
      for (let i = 0; i < 5; i++) {
        r = await fetch(url, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0' } });
        if (r.status !== 423) break; // the stopped request is still being written
        await new Promise((ok) => setTimeout(ok, 1000));
      }
      if (r.status === 409 && receipt) {
        await fetch('/api/v1/receipt', { method: 'DELETE', headers: { Authorization: `Bearer ${receipt}` } });
      }
    } catch (e) { /* offline: an unfinished upload expires anyway */ }
  }

  function discardPending() {
    const p = pending;
    dropPending();
    forget(p.url, p.receipt);
  }

  /* == the receipt == */

  async function copyLink() {
    const input = $('receipt-link');
    try {
      await navigator.clipboard.writeText(input.value);
    } catch (e) {
      input.select();
      document.execCommand('copy');
    }
    $('copied').textContent = t('copied');
  }

  /* == start == */

  async function main() {
    for (const el of document.querySelectorAll('.js')) el.hidden = false;
    for (const el of document.querySelectorAll('.nojs')) el.hidden = true;
    form.noValidate = true;
    $('fields').prepend($('video-card'));
    const coarse = matchMedia('(pointer: coarse)').matches;
    show($('btn-capture'), coarse);
    show($('btn-rec'), canRecord());
    if (coarse) $('btn-rec').classList.remove('primary');
    countryCodes = codesOf($('country'));
    languageCodes = codesOf($('language'));

    $('btn-choose').addEventListener('click', () => $('video').click());
    $('clip-other').addEventListener('click', () => $('video').click());
    $('btn-capture').addEventListener('click', () => $('capture').click());
    $('btn-rec').addEventListener('click', openRecorder);
    $('clip-again').addEventListener('click', () => {
      if (clip && clip.source === 'capture') $('capture').click();
      else openRecorder();
    });
    for (const [id, source] of [['video', 'file'], ['capture', 'capture']]) {
      $(id).addEventListener('change', () => {
        const f = $(id).files[0];
        $(id).value = '';
        if (f) takeFile(f, source);
      });
    }
    $('rec-start').addEventListener('click', startRecording);
    $('rec-stop').addEventListener('click', stopRecording);
    $('rec-close').addEventListener('click', closeRecorder);
    $('rec-cam').addEventListener('change', startStream);
    $('rec-mic').addEventListener('change', startStream);
    $('anon').addEventListener('change', () => {
      const name = $('name');
      name.disabled = $('anon').checked;
      if (name.disabled) {
        name.dataset.kept = name.value;
        name.value = '';
      } else {
        name.value = name.dataset.kept || '';
      }
    });
    $('message').addEventListener('input', renderCounter);
    $('language').addEventListener('change', () => { languageTouched = true; });
    for (const [id, err] of [['country', 'country-err'], ['language', 'language-err'], ['consent', 'consent-err']]) {
      $(id).addEventListener('change', () => clearError(err));
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (up || !validate()) return;
      for (const id of Object.keys(errors)) clearError(id);
      if (rec) closeRecorder();
      startUpload(clip.file, { meta: metadata(), source: clip.source });
    });
    $('up-pause').addEventListener('click', pause);
    $('up-resume').addEventListener('click', resume);
    $('up-cancel').addEventListener('click', () => {
      show($('cancel-ask'), true);
      show($('up-cancel'), false);
      $('cancel-no').focus();
    });
    $('cancel-no').addEventListener('click', () => {
      show($('cancel-ask'), false);
      renderUpload();
      $('up-cancel').focus();
    });
    $('cancel-yes').addEventListener('click', cancel);
    $('resume-choose').addEventListener('click', () => {
      resumeWanted = true;
      $('video').click();
    });
    $('resume-discard').addEventListener('click', discardPending);
    $('copy').addEventListener('click', copyLink);
    window.addEventListener('offline', offline);
    window.addEventListener('online', online);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'visible' || !up) return;
      if (['retry', 'busy', 'waiting'].includes(up.state) && navigator.onLine) attempt();
      if (up.state !== 'paused' && up.state !== 'done') wake(true);
    });
    setInterval(watchdog, 5000);

    I.onChange(relabel);
    await I.init($('ui-lang'));
    await loadCampaign();
    I.onChange(() => loadCampaign()); // the campaign's texts in another language
    await checkPending();
    document.body.dataset.ready = '1';
  }

  main();
}());
