/*
 * apptbridge admin page.
 *
 * One page, hash routes (#/dashboard, #/appointments, #/appointments/<id>,
 * #/dead-letters, #/exports, #/simulator, #/phone, #/audit). Talks to /auth
 * and /v1 with the app token kept in sessionStorage. Every piece of data is
 * put in the page with textContent / attributes, never parsed as HTML.
 */
(function () {
  'use strict';

  var H = window.ABH;

  var TOKEN_KEY = 'apptbridge.token';
  var TOKEN_META_KEY = 'apptbridge.token.meta';
  var PHONE_KEY = 'apptbridge.phone';
  var IDLE_MS = 15 * 60 * 1000;
  var REFRESH_MS = 10 * 60 * 1000;
  var SESSION_TICK_MS = 15 * 1000;
  var DASHBOARD_POLL_MS = 10 * 1000;
  var PHONE_POLL_MS = 2 * 1000;
  var PAGE_SIZE = 50;
  var AUDIT_PAGE = 100;
  var IDLE_MESSAGE = 'Signed out (idle or expired)';

  var state = {
    config: null,
    mfa: null, // {token, expiresAt}
    mfaTimer: 0,
    lastActivity: Date.now(),
    refreshing: false,
    routeGen: 0,
    viewTimers: [],
    route: null,
    memToken: '',
    memMeta: null,
    statusTimer: 0
  };

  /* ---------------------------------------------------------------- DOM */

  function $(id) { return document.getElementById(id); }

  /*
   * el('tag', {attr: value, class: 'x', text: 'y'}, child…): builds an
   * element. Strings become text nodes. Event handlers and inline styles are
   * refused: the CSP forbids both and data must never become markup.
   */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) { return; }
        if (k === 'class') {
          node.className = v;
        } else if (k === 'text') {
          node.textContent = String(v);
        } else if (k === 'style' || /^on/i.test(k)) {
          throw new Error('el: ' + k + ' is not allowed');
        } else {
          node.setAttribute(k, v === true ? '' : String(v));
        }
      });
    }
    for (var i = 2; i < arguments.length; i++) { add(node, arguments[i]); }
    return node;
  }

  function add(node, c) {
    if (c === null || c === undefined || c === false) { return; }
    if (Array.isArray(c)) {
      c.forEach(function (x) { add(node, x); });
    } else if (typeof c === 'object' && c.nodeType) {
      node.appendChild(c);
    } else {
      node.appendChild(document.createTextNode(String(c)));
    }
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function show(node, on) { node.hidden = !on; }

  function badge(text, toneName, extraClass) {
    return el('span', { class: 'badge tone-' + (toneName || H.tone(text)) + (extraClass ? ' ' + extraClass : ''), text: text });
  }

  function dispBadge(d) {
    return el('span', { class: 'badge ' + H.dispositionClass(d), text: d || '—' });
  }

  function timeEl(v, opts) {
    var text = H.formatInstant(v, opts);
    if (!text) { return el('span', { class: 'muted', text: '—' }); }
    return el('time', { datetime: v, title: H.utcTitle(v), text: text });
  }

  function busy(btn, on) {
    if (!btn) { return; }
    btn.disabled = !!on;
    if (on) { btn.setAttribute('aria-busy', 'true'); } else { btn.removeAttribute('aria-busy'); }
  }

  /* ------------------------------------------------------------- status */

  function showStatus(text, kind) {
    var s = $('status');
    kind = kind || 'info';
    if (s.textContent === text && s.getAttribute('data-kind') === kind) { return; }
    clearTimeout(state.statusTimer);
    s.textContent = text;
    s.setAttribute('data-kind', kind);
    s.className = 'status status-' + kind;
    if (kind !== 'error') {
      state.statusTimer = setTimeout(function () {
        if (s.textContent === text) { clearStatus(); }
      }, 10000);
    }
  }

  function clearStatus() {
    var s = $('status');
    s.textContent = '';
    s.removeAttribute('data-kind');
    s.className = 'status';
  }

  function errorText(e) {
    if (!e) { return 'Something went wrong.'; }
    if (e.status === 0) { return 'Cannot reach the server. Check the connection and try again.'; }
    var msg = H.titleCase(e.message || 'Request failed');
    if (!/[.!?]$/.test(msg)) { msg += '.'; }
    if (e.status >= 500) { return 'Server error (' + e.status + '): ' + msg; }
    return msg;
  }

  function reportError(e, context) {
    if (!e || e.handled || e.name === 'AbortError') { return; }
    showStatus((context ? context + ': ' : '') + errorText(e), 'error');
  }

  /* Field errors: each control #x has an error line #x-error. */
  function fieldError(id, message) {
    var input = $(id);
    var line = $(id + '-error');
    if (input) { input.setAttribute('aria-invalid', 'true'); }
    if (line) {
      line.textContent = message;
      line.hidden = false;
      if (input) { addDescribedBy(input, line.id); }
    }
  }

  function clearFieldErrors(ids) {
    ids.forEach(function (id) {
      var input = $(id);
      var line = $(id + '-error');
      if (input) { input.removeAttribute('aria-invalid'); }
      if (line) { line.textContent = ''; line.hidden = true; }
    });
  }

  function addDescribedBy(input, id) {
    var cur = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    if (cur.indexOf(id) < 0) { cur.push(id); input.setAttribute('aria-describedby', cur.join(' ')); }
  }

  /*
   * applyFieldErrors shows a 400's field list next to the controls of
   * fieldMap (API field → control id); fields without a control go to the
   * status line. Returns whether any were shown.
   */
  function applyFieldErrors(e, fieldMap) {
    var fields = (e && e.fields) || [];
    if (!fields.length) { return false; }
    var loose = [];
    var first = null;
    fields.forEach(function (f) {
      var id = fieldMap[f.field];
      if (id && $(id)) {
        fieldError(id, H.titleCase(f.message || 'Invalid value'));
        if (!first) { first = $(id); }
      } else {
        loose.push((f.field ? f.field + ': ' : '') + (f.message || 'invalid'));
      }
    });
    showStatus(errorText(e) + (loose.length ? ' ' + loose.join('; ') : ' See the highlighted fields.'), 'error');
    if (first) { first.focus(); }
    return true;
  }

  /* -------------------------------------------------------------- token */

  function storageGet(k) {
    try { return window.sessionStorage.getItem(k); } catch (e) { return null; }
  }
  function storageSet(k, v) {
    try { window.sessionStorage.setItem(k, v); return true; } catch (e) { return false; }
  }
  function storageDel(k) {
    try { window.sessionStorage.removeItem(k); } catch (e) { /* nothing stored */ }
  }

  function getToken() {
    return storageGet(TOKEN_KEY) || state.memToken || '';
  }

  function getMeta() {
    var raw = storageGet(TOKEN_META_KEY);
    if (raw) {
      try { return JSON.parse(raw) || {}; } catch (e) { return {}; }
    }
    return state.memMeta || {};
  }

  function setToken(token, expiresIn) {
    var now = Date.now();
    var meta = { issued: now, expires: now + (expiresIn > 0 ? expiresIn : 1800) * 1000 };
    if (storageSet(TOKEN_KEY, token)) {
      storageSet(TOKEN_META_KEY, JSON.stringify(meta));
      state.memToken = '';
      state.memMeta = null;
    } else {
      state.memToken = token;
      state.memMeta = meta;
    }
  }

  function clearToken() {
    storageDel(TOKEN_KEY);
    storageDel(TOKEN_META_KEY);
    state.memToken = '';
    state.memMeta = null;
  }

  /* ---------------------------------------------------------------- API */

  function ApiError(status, code, message, fields, detail) {
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.message = message;
    this.fields = fields || [];
    this.detail = detail || {};
    this.retryAfter = null;
    this.handled = false;
  }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.constructor = ApiError;

  /*
   * api(method, path, body, opts) → the JSON reply (null for 204). Throws
   * ApiError. opts.auth=false sends no token; opts.raw returns the Response
   * of a successful call (downloads). A 401 from /v1 or /auth/refresh signs
   * the operator out.
   */
  function api(method, path, body, opts) {
    opts = opts || {};
    var headers = { 'Accept': opts.raw ? '*/*' : 'application/json' };
    if (body !== undefined) { headers['Content-Type'] = 'application/json'; }
    var token = getToken();
    if (opts.auth !== false && token) { headers['Authorization'] = 'Bearer ' + token; }
    if (polling) { headers['X-Apptbridge-Poll'] = '1'; }
    var init = {
      method: method,
      headers: headers,
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error'
    };
    if (body !== undefined) { init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      if (opts.raw && res.ok) { return res; }
      return res.text().then(function (text) {
        var data = null;
        if (text) {
          try { data = JSON.parse(text); } catch (e) { data = null; }
        }
        if (res.ok) { return data; }
        var er = (data && data.error) || {};
        var err = new ApiError(res.status, er.code || 'http_' + res.status,
          er.message || res.statusText || 'Request failed', er.fields, er);
        err.retryAfter = H.retryAfter(res.headers.get('Retry-After'), Date.now());
        var sessionCall = path.indexOf('/v1/') === 0 || path === '/auth/refresh';
        if (res.status === 401 && sessionCall && opts.auth !== false) {
          err.handled = true;
          signOut(IDLE_MESSAGE, false);
        }
        throw err;
      });
    }, function (e) {
      if (e && e.name === 'AbortError') { throw e; }
      throw new ApiError(0, 'network', 'Cannot reach the server', []);
    });
  }

  /* ------------------------------------------------------------ session */

  function noteActivity() { state.lastActivity = Date.now(); }

  function sessionTick() {
    if (!getToken()) { return; }
    var now = Date.now();
    if (now - state.lastActivity >= IDLE_MS) {
      signOut(IDLE_MESSAGE, true);
      return;
    }
    var meta = getMeta();
    if (meta.expires && now >= meta.expires) {
      signOut(IDLE_MESSAGE, false);
      return;
    }
    if (!meta.issued || now - meta.issued >= REFRESH_MS) { refreshToken(); }
  }

  function refreshToken() {
    if (state.refreshing) { return; }
    state.refreshing = true;
    api('POST', '/auth/refresh').then(function (r) {
      if (r && r.token && getToken()) { setToken(r.token, r.expires_in); }
    }, function () {
      // A 401 has signed out already; a network error is retried next tick.
    }).then(function () { state.refreshing = false; });
  }

  /* signOut drops the token and every piece of patient data on the page. */
  function signOut(message, tellServer) {
    var token = getToken();
    if (!token && !$('view-login').hidden) {
      return; // already signed out (several calls can answer 401 at once)
    }
    if (tellServer && token) {
      fetch('/auth/logout', {
        method: 'POST',
        headers: { 'Authorization': 'Bearer ' + token },
        credentials: 'same-origin',
        cache: 'no-store'
      }).catch(function () { /* best effort */ });
    }
    clearToken();
    stopViewTimers();
    state.routeGen++;
    wipeData();
    showLogin(message);
  }

  function wipeData() {
    ['disposition-cards', 'health-tiles', 'appointment-summary', 'timeline', 'phone-messages'].forEach(function (id) {
      clear($(id));
    });
    ['appointments-table', 'dead-letters-table', 'audit-table'].forEach(function (id) {
      clear($(id).querySelector('tbody'));
    });
    var r = $('sim-result');
    clear(r);
    r.hidden = true;
    r.removeAttribute('data-appointment-id');
    $('dashboard-updated').textContent = '';
    $('phone-number-shown').textContent = '';
    $('audit-verified').hidden = true;
    phoneState.phone = '';
    phoneState.nodes = {};
    apptState.pager = H.newPager();
    try { window.sessionStorage.removeItem(PHONE_KEY); } catch (e) { /* nothing stored */ }
  }

  /* -------------------------------------------------------------- login */

  function applyConfig() {
    var c = state.config || {};
    var name = c.customer_name || '';
    $('customer-name').textContent = name;
    setSandbox(!!c.sandbox);
    var disabled = c.login_enabled === false;
    var note = $('login-disabled');
    note.textContent = disabled ? 'Sign-in is disabled: the server has no APPLICATION_PASSWORD set. Set it and restart the server (see README).' : '';
    show(note, disabled);
    $('login-password').disabled = disabled;
    $('login-submit').disabled = disabled;
  }

  function setSandbox(on) {
    if (!state.config) { state.config = {}; }
    state.config.sandbox = on;
    show($('sandbox-badge'), on);
    show($('nav-phone-item'), on);
  }

  function showLogin(message) {
    stopViewTimers();
    show($('site-nav'), false);
    document.querySelectorAll('main > .view').forEach(function (v) { v.hidden = v.id !== 'view-login'; });
    document.title = 'Sign in — apptbridge admin';
    resetLoginForms();
    var m = $('login-message');
    m.textContent = message || '';
    show(m, !!message);
    if (message) { showStatus(message, 'info'); }
    if (!$('login-password').disabled) { $('login-password').focus(); }
  }

  function resetLoginForms() {
    stopMfaCountdown();
    state.mfa = null;
    show($('login-form'), true);
    show($('mfa-form'), false);
    $('login-password').value = '';
    $('mfa-code').value = '';
    clearFieldErrors(['login-password', 'mfa-code']);
    var c = state.config || {};
    if (c.login_enabled !== false) {
      $('login-password').disabled = false;
      $('login-submit').disabled = false;
    }
    $('mfa-submit').disabled = false;
  }

  function throttledFor(btn, secs) {
    secs = secs > 0 ? secs : 30;
    showStatus('Too many attempts. Try again in ' + H.duration(secs * 1000) + '.', 'error');
    btn.disabled = true;
    setTimeout(function () { btn.disabled = false; }, secs * 1000);
  }

  function submitLogin(ev) {
    ev.preventDefault();
    var input = $('login-password');
    var btn = $('login-submit');
    clearFieldErrors(['login-password']);
    show($('login-message'), false);
    if (!input.value) {
      fieldError('login-password', 'Enter the password.');
      input.focus();
      return;
    }
    busy(btn, true);
    var throttled = false;
    api('POST', '/auth/login', { password: input.value }, { auth: false }).then(function (r) {
      input.value = '';
      clearStatus();
      startMfa(r || {});
    }, function (e) {
      if (e.code === 'unauthorized') {
        fieldError('login-password', 'Wrong password.');
        showStatus('Wrong password.', 'error');
        input.select();
      } else if (e.code === 'throttled' || e.status === 429) {
        throttled = true;
        throttledFor(btn, e.retryAfter);
      } else if (e.code === 'login_disabled') {
        var note = $('login-disabled');
        note.textContent = errorText(e);
        note.hidden = false;
        showStatus(errorText(e), 'error');
      } else {
        reportError(e, 'Sign-in failed');
      }
    }).then(function () {
      btn.removeAttribute('aria-busy');
      if (!throttled && !(state.config && state.config.login_enabled === false)) { btn.disabled = false; }
    });
  }

  function startMfa(r) {
    var secs = r.expires_in > 0 ? r.expires_in : 300;
    state.mfa = { token: r.token, expiresAt: Date.now() + secs * 1000 };
    var to = r.sent_to || (state.config && state.config.admin_phone_hint) || '';
    $('mfa-sent-to').textContent = to ?
      'We texted a 6-digit code to ' + to + '.' :
      'We texted a 6-digit code to the administrator phone.';
    show($('mfa-sandbox-hint'), !!(state.config && state.config.sandbox));
    show($('login-form'), false);
    show($('mfa-form'), true);
    $('mfa-code').value = '';
    $('mfa-submit').disabled = false;
    clearFieldErrors(['mfa-code']);
    startMfaCountdown();
    $('mfa-code').focus();
  }

  function startMfaCountdown() {
    stopMfaCountdown();
    var tick = function () {
      if (!state.mfa) { return; }
      var left = state.mfa.expiresAt - Date.now();
      if (left <= 0) {
        restartLogin('The code expired. Sign in again.');
        return;
      }
      var s = Math.ceil(left / 1000);
      $('mfa-countdown').textContent = 'The code is valid for ' + Math.floor(s / 60) + ':' + ('0' + (s % 60)).slice(-2) + ' more.';
    };
    tick();
    state.mfaTimer = setInterval(tick, 1000);
  }

  function stopMfaCountdown() {
    clearInterval(state.mfaTimer);
    state.mfaTimer = 0;
    $('mfa-countdown').textContent = '';
  }

  function restartLogin(message) {
    resetLoginForms();
    var m = $('login-message');
    m.textContent = message || '';
    show(m, !!message);
    if (message) { showStatus(message, 'error'); }
    $('login-password').focus();
  }

  function submitMfa(ev) {
    ev.preventDefault();
    var input = $('mfa-code');
    var btn = $('mfa-submit');
    clearFieldErrors(['mfa-code']);
    var code = input.value.replace(/\s+/g, '');
    if (!/^\d{6}$/.test(code)) {
      fieldError('mfa-code', 'Enter the 6 digits from the text message.');
      input.focus();
      return;
    }
    if (!state.mfa) {
      restartLogin('Sign in again.');
      return;
    }
    busy(btn, true);
    var throttled = false;
    api('POST', '/auth/mfa', { token: state.mfa.token, code: code }, { auth: false }).then(function (r) {
      stopMfaCountdown();
      state.mfa = null;
      setToken(r.token, r.expires_in);
      noteActivity();
      clearStatus();
      enterApp();
    }, function (e) {
      if (e.code === 'wrong_code') {
        var n = e.detail && typeof e.detail.tries_left === 'number' ? e.detail.tries_left : null;
        var msg = 'Wrong code.' + (n === null ? '' : ' ' + n + (n === 1 ? ' try' : ' tries') + ' left.');
        fieldError('mfa-code', msg);
        showStatus(msg, 'error');
        input.select();
      } else if (e.code === 'expired') {
        restartLogin('The code expired or was already used. Sign in again.');
      } else if (e.code === 'locked') {
        restartLogin('Too many wrong codes. Sign in again.');
      } else if (e.code === 'unauthorized') {
        restartLogin('The sign-in expired. Sign in again.');
      } else if (e.code === 'throttled' || e.status === 429) {
        throttled = true;
        throttledFor(btn, e.retryAfter);
      } else {
        reportError(e, 'Sign-in failed');
      }
    }).then(function () {
      btn.removeAttribute('aria-busy');
      if (!throttled) { btn.disabled = false; }
    });
  }

  function enterApp() {
    show($('login-message'), false);
    var r = H.parseRoute(location.hash);
    if (!r || location.hash === '' || location.hash === '#') {
      location.hash = '#/dashboard'; // the hashchange routes
      return;
    }
    onRoute(true);
  }

  function logout() {
    var token = getToken();
    var done = function () { signOut('Signed out.', false); };
    if (!token) { done(); return; }
    busy($('logout'), true);
    fetch('/auth/logout', {
      method: 'POST',
      headers: { 'Authorization': 'Bearer ' + token },
      credentials: 'same-origin',
      cache: 'no-store'
    }).catch(function () { /* the token is dropped anyway */ }).then(function () {
      busy($('logout'), false);
      done();
    });
  }

  /* ------------------------------------------------------------- router */

  var VIEWS = {
    dashboard: { section: 'view-dashboard', nav: 'nav-dashboard', title: 'Dashboard', enter: enterDashboard },
    appointments: { section: 'view-appointments', nav: 'nav-appointments', title: 'Appointments', enter: enterAppointments },
    appointment: { section: 'view-appointment', nav: 'nav-appointments', title: 'Appointment', enter: enterAppointment },
    'dead-letters': { section: 'view-dead-letters', nav: 'nav-dead-letters', title: 'Dead letters', enter: enterDeadLetters },
    exports: { section: 'view-exports', nav: 'nav-exports', title: 'Exports', enter: function () {} },
    simulator: { section: 'view-simulator', nav: 'nav-simulator', title: 'Event simulator', enter: enterSimulator },
    phone: { section: 'view-phone', nav: 'nav-phone', title: 'Phone simulator', enter: enterPhone },
    audit: { section: 'view-audit', nav: 'nav-audit', title: 'Audit log', enter: enterAudit },
    notfound: { section: 'view-notfound', nav: '', title: 'Not found', enter: function () {} }
  };

  // Calls made by these timers are automatic refreshes, not use: they
  // carry X-Apptbridge-Poll so the server does not count them against
  // the 15-minute idle logoff.
  var polling = false;

  function every(ms, fn) {
    state.viewTimers.push(setInterval(function () {
      polling = true;
      try { fn(); } finally { polling = false; }
    }, ms));
  }

  function stopViewTimers() {
    state.viewTimers.forEach(function (t) { clearInterval(t); });
    state.viewTimers = [];
  }

  function onRoute(focus) {
    var r = H.parseRoute(location.hash);
    if (!r) { return; } // an in-page anchor (the skip link), not a route
    if (!getToken()) {
      if ($('view-login').hidden) { showLogin(); }
      return;
    }
    stopViewTimers();
    var gen = ++state.routeGen;
    state.route = r;
    var v = VIEWS[r.name] || VIEWS.notfound;
    show($('site-nav'), true);
    document.querySelectorAll('main > .view').forEach(function (s) { s.hidden = s.id !== v.section; });
    document.querySelectorAll('#site-nav a').forEach(function (a) {
      if (a.id === v.nav) { a.setAttribute('aria-current', 'page'); } else { a.removeAttribute('aria-current'); }
    });
    document.title = v.title + ' — apptbridge admin';
    v.enter(r, gen);
    if (focus) {
      var hd = $(v.section).querySelector('h1');
      if (hd) { hd.focus({ preventScroll: false }); }
    }
  }

  function current(gen) { return gen === state.routeGen; }

  /* ---------------------------------------------------------- dashboard */

  var dashInflight = 0; // the route generation whose stats call is running

  function enterDashboard(r, gen) {
    loadDashboard(gen);
    every(DASHBOARD_POLL_MS, function () {
      if (!document.hidden) { loadDashboard(gen); }
    });
  }

  function loadDashboard(gen) {
    if (dashInflight === gen) { return; }
    dashInflight = gen;
    api('GET', '/v1/stats').then(function (s) {
      if (current(gen)) { renderDashboard(s || {}); }
    }, function (e) {
      if (current(gen)) { reportError(e, 'Could not load the dashboard'); }
    }).then(function () { if (dashInflight === gen) { dashInflight = 0; } });
  }

  function renderDashboard(s) {
    if (typeof s.sandbox === 'boolean') { setSandbox(s.sandbox); }
    var disp = s.dispositions || {};
    var list = $('disposition-cards');
    var total = 0;
    H.DISPOSITIONS.forEach(function (d) {
      var n = Number(disp[d] || 0);
      total += n;
      var item = list.querySelector('li[data-card="' + d + '"]');
      if (!item) {
        item = el('li', { class: 'card-item', 'data-card': d },
          el('a', { class: 'card ' + H.dispositionClass(d), href: '#/appointments?disposition=' + encodeURIComponent(d) },
            el('span', { class: 'card-label', text: d }),
            el('span', { class: 'card-count', 'data-disposition': d, text: String(n) }),
            el('span', { class: 'card-sub', text: H.dispositionLabel(d) })));
        list.appendChild(item);
      } else {
        item.querySelector('.card-count').textContent = String(n);
      }
    });
    var tItem = list.querySelector('li[data-card="total"]');
    if (!tItem) {
      tItem = el('li', { class: 'card-item', 'data-card': 'total' },
        el('a', { class: 'card card-total', href: '#/appointments' },
          el('span', { class: 'card-label', text: 'All' }),
          el('span', { class: 'card-count card-total-count', text: String(total) }),
          el('span', { class: 'card-sub', text: 'Appointments kept' })));
      list.appendChild(tItem);
    } else {
      tItem.querySelector('.card-count').textContent = String(total);
    }

    var health = s.health || {};
    var queues = {};
    (s.queues || []).forEach(function (q) { queues[q.queue] = q; });
    var inbound = s.inbound || {};
    var texts = s.texts || {};
    var reqs = s.requests || {};
    var rem = s.reminders || {};
    var now = Date.now();
    var ago = function (v, none) { return v ? H.relative(v, now) : none; };
    var tq = queues.texts || {};
    var rq = queues.requests || {};

    var tiles = [
      tile('mllp', 'HL7 in (MLLP)', health.mllp, [
        ['Listening on', (s.mllp && s.mllp.addr) || '—'],
        ['Messages (last hour)', inbound.last_hour],
        ['Errors (last hour)', inbound.errors_last_hour],
        ['Last message', ago(inbound.last_at, 'none yet'), inbound.last_at]
      ]),
      tile('texts', 'Texts to patients', health.texts, [
        ['Sent (24 h)', texts.sent_24h],
        ['Failed (24 h)', texts.failed_24h],
        ['Waiting to send', tq.depth],
        ['Oldest waiting', ago(tq.oldest, '—'), tq.oldest]
      ]),
      tile('requests', 'EHR requests', health.requests, [
        ['Waiting to send', rq.depth],
        ['Oldest waiting', ago(rq.oldest, '—'), rq.oldest],
        ['Dead letters', reqs.dead]
      ], reqs.dead > 0 ? el('a', { href: '#/dead-letters', class: 'tile-link', text: 'Review dead letters' }) : null),
      tile('reminders', 'Reminders', health.reminders, [
        ['Planned', rem.planned],
        ['Next due', rem.next_due ? H.relative(rem.next_due, now) : 'none planned', rem.next_due],
        ['Sent (24 h)', rem.sent_24h],
        ['Skipped (24 h)', rem.skipped_24h]
      ])
    ];
    var tl = $('health-tiles');
    clear(tl);
    tiles.forEach(function (t) { tl.appendChild(t); });
    $('dashboard-updated').textContent = 'Updated ' + new Date().toLocaleTimeString() + '. Refreshes every 10 seconds.';
  }

  function tile(key, title, level, rows, extra) {
    var lv = level === 'ok' || level === 'warn' || level === 'bad' ? level : 'unknown';
    var dl = el('dl', { class: 'tile-stats' });
    rows.forEach(function (r) {
      var v = r[1] === undefined || r[1] === null || r[1] === '' ? '—' : String(r[1]);
      var dd = el('dd');
      if (r[2]) {
        dd.appendChild(el('time', { datetime: r[2], title: H.formatInstant(r[2], { seconds: true }) + ' · ' + H.utcTitle(r[2]), text: v }));
      } else {
        dd.textContent = v;
      }
      dl.appendChild(el('div', { class: 'stat' }, el('dt', { text: r[0] }), dd));
    });
    return el('li', { class: 'tile health-' + lv, 'data-health-tile': key, 'data-health': lv },
      el('div', { class: 'tile-head' },
        el('h3', { text: title }),
        el('span', { class: 'badge health-badge health-badge-' + lv, text: H.healthLabel(lv) })),
      dl, extra || null);
  }

  /* ------------------------------------------------------- appointments */

  var APPT_FIELDS = { from: 'filter-from', to: 'filter-to', disposition: 'filter-disposition', patient_id: 'filter-patient-id' };
  var apptState = {
    pager: H.newPager(),
    filters: { from: '', to: '', disposition: '', patient_id: '' },
    loading: false
  };

  function enterAppointments(r, gen) {
    var q = r.query || {};
    if (Object.keys(q).length) {
      Object.keys(APPT_FIELDS).forEach(function (k) { apptState.filters[k] = q[k] || ''; });
      apptState.pager = H.newPager();
      if (window.history && window.history.replaceState) {
        window.history.replaceState(null, '', '#/appointments');
      }
    }
    writeFilterForm();
    loadAppointments(gen);
  }

  function writeFilterForm() {
    Object.keys(APPT_FIELDS).forEach(function (k) { $(APPT_FIELDS[k]).value = apptState.filters[k] || ''; });
  }

  function readFilterForm() {
    var f = {};
    Object.keys(APPT_FIELDS).forEach(function (k) { f[k] = $(APPT_FIELDS[k]).value.trim(); });
    return f;
  }

  function submitFilters(ev) {
    ev.preventDefault();
    clearFieldErrors(Object.keys(APPT_FIELDS).map(function (k) { return APPT_FIELDS[k]; }));
    var f = readFilterForm();
    var bad = H.validDateRange(f.from, f.to);
    if (bad) {
      fieldError('filter-to', bad);
      $('filter-to').focus();
      return;
    }
    apptState.filters = f;
    apptState.pager = H.newPager();
    loadAppointments(state.routeGen);
  }

  function resetFilters() {
    clearFieldErrors(Object.keys(APPT_FIELDS).map(function (k) { return APPT_FIELDS[k]; }));
    apptState.filters = { from: '', to: '', disposition: '', patient_id: '' };
    apptState.pager = H.newPager();
    writeFilterForm();
    loadAppointments(state.routeGen);
  }

  function loadAppointments(gen) {
    var f = apptState.filters;
    var p = apptState.pager;
    var table = $('appointments-table');
    var q = H.queryString({
      patient_id: f.patient_id, disposition: f.disposition, from: f.from, to: f.to,
      limit: PAGE_SIZE, after: p.after
    });
    table.setAttribute('aria-busy', 'true');
    $('appt-prev').disabled = true;
    $('appt-next').disabled = true;
    api('GET', '/v1/appointments' + q).then(function (r) {
      if (!current(gen)) { return; }
      r = r || {};
      p.next = r.next_after || '';
      renderAppointments(r.appointments || []);
    }, function (e) {
      if (!current(gen)) { return; }
      if (e.status === 400 && applyFieldErrors(e, APPT_FIELDS)) { return; }
      reportError(e, 'Could not load appointments');
    }).then(function () {
      if (!current(gen)) { return; }
      table.removeAttribute('aria-busy');
      $('appt-prev').disabled = p.stack.length === 0;
      $('appt-next').disabled = !p.next;
      $('appt-page').textContent = 'Page ' + H.pagerPage(p);
    });
  }

  function renderAppointments(list) {
    var tbody = $('appointments-table').querySelector('tbody');
    clear(tbody);
    if (!list.length) {
      var filtered = Object.keys(apptState.filters).some(function (k) { return apptState.filters[k]; });
      var msg = apptState.pager.stack.length ? 'No more appointments.' :
        filtered ? 'No appointments match these filters.' : 'No appointments yet.';
      tbody.appendChild(el('tr', { class: 'empty-row' }, el('td', { colspan: '6', text: msg })));
      return;
    }
    list.forEach(function (a) {
      var t = H.apptTime(a);
      var timeCell = el('td', { class: 'cell-time' },
        el('span', { text: t.wall || '—' }),
        t.zone ? el('span', { class: 'zone', text: ' ' + t.zone }) : null,
        t.local ? el('span', { class: 'sub', text: 'Your time: ' + t.local }) : null);
      var id = String(a.appointment_id || '');
      tbody.appendChild(el('tr', {
        'data-id': id, tabindex: '0', class: 'row-link',
        'aria-label': 'Appointment ' + id + ', ' + (a.disposition || '') + '. Press Enter to open its timeline.'
      },
        el('td', { class: 'mono', text: id }),
        el('td', { class: 'mono', text: a.patient_id || '—' }),
        timeCell,
        el('td', null, dispBadge(a.disposition)),
        el('td', { text: a.confirmed ? 'Yes' : 'No' }),
        el('td', { class: 'num', text: String(a.reminders_sent || 0) })));
    });
  }

  function openRow(tr) {
    if (tr && tr.getAttribute('data-id') !== null) {
      location.hash = H.appointmentHash(tr.getAttribute('data-id'));
    }
  }

  /* ----------------------------------------------- one appointment's timeline */

  function enterAppointment(r, gen) {
    $('appointment-heading').textContent = 'Appointment ' + r.id;
    clear($('appointment-summary'));
    var tl = $('timeline');
    clear(tl);
    tl.appendChild(el('li', { class: 'timeline-empty', text: 'Loading…' }));
    loadAppointment(r.id, gen);
  }

  function loadAppointment(id, gen) {
    var tl = $('timeline');
    tl.setAttribute('aria-busy', 'true');
    api('GET', '/v1/appointments/' + encodeURIComponent(id)).then(function (d) {
      if (!current(gen)) { return; }
      d = d || {};
      renderSummary(d.appointment || d);
      renderTimeline(d);
    }, function (e) {
      if (!current(gen)) { return; }
      clear(tl);
      if (e.status === 404) {
        tl.appendChild(el('li', { class: 'timeline-empty', text: 'No appointment with this ID.' }));
        showStatus('No appointment with ID ' + id + '.', 'error');
        return;
      }
      tl.appendChild(el('li', { class: 'timeline-empty', text: 'Could not load this appointment.' }));
      reportError(e, 'Could not load the appointment');
    }).then(function () { tl.removeAttribute('aria-busy'); });
  }

  function renderSummary(a) {
    var dl = $('appointment-summary');
    clear(dl);
    var row = function (label, value) {
      if (value === undefined || value === null || value === '') { return; }
      var dd = el('dd');
      add(dd, value);
      dl.appendChild(el('div', { class: 'summary-row' }, el('dt', { text: label }), dd));
    };
    var t = H.apptTime(a);
    var name = [a.patient_first_name, a.patient_last_name].filter(Boolean).join(' ');
    var provider = [a.provider_first_name, a.provider_last_name].filter(Boolean).join(' ');
    row('Disposition', dispBadge(a.disposition));
    row('Confirmed', a.confirmed ? 'Yes' : 'No');
    row('Reminders sent', String(a.reminders_sent || 0));
    row('Time', t.wall ? [t.wall, t.zone ? el('span', { class: 'zone', text: ' ' + t.zone }) : null,
      t.local ? el('span', { class: 'sub', text: 'Your time: ' + t.local }) : null] : '');
    row('Patient', name);
    row('Patient ID', a.patient_id ? el('span', { class: 'mono', text: a.patient_id }) : '');
    row('Phone', a.patient_phone ? el('span', { class: 'mono', text: a.patient_phone }) : '');
    row('Language', a.patient_language);
    row('Provider', provider);
    row('Location', a.appointment_location);
    row('Type', a.appointment_type);
    row('Reason', a.appointment_reason);
    row('EHR status', a.appointment_status);
    row('Duration', a.appointment_duration_minutes ? a.appointment_duration_minutes + ' min' : '');
    if (a.disposition === 'OPTED-OUT' && a.ladder_before_opt_out) { row('Before opt-out', a.ladder_before_opt_out); }
    row('Last updated', a.updated_at ? timeEl(a.updated_at, { seconds: true }) : '');
  }

  function renderTimeline(d) {
    var tl = $('timeline');
    clear(tl);
    var items = H.buildTimeline(d);
    if (!items.length) {
      tl.appendChild(el('li', { class: 'timeline-empty', text: 'Nothing recorded for this appointment yet.' }));
      return;
    }
    items.forEach(function (it) {
      var node;
      switch (it.kind) {
        case 'hl7-in': node = tlHL7(it); break;
        case 'event': node = tlEvent(it); break;
        case 'text-in':
        case 'text-out': node = tlText(it); break;
        case 'reminder': node = tlReminder(it); break;
        case 'request': node = tlRequest(it); break;
      }
      if (node) { tl.appendChild(node); }
    });
  }

  function tlItem(it, kindLabel, title, badges, meta, extras) {
    var dl = el('dl', { class: 'tl-meta' });
    meta.forEach(function (m) {
      var v = m[1];
      if (v === undefined || v === null || v === '' || v === 0 && !m[2]) { return; }
      var dd = el('dd');
      add(dd, typeof v === 'number' ? String(v) : v);
      dl.appendChild(el('div', null, el('dt', { text: m[0] }), dd));
    });
    return el('li', { class: 'timeline-item kind-' + it.kind, 'data-kind': it.kind },
      el('div', { class: 'tl-marker', 'aria-hidden': 'true' }),
      el('div', { class: 'tl-content' },
        el('div', { class: 'tl-head' },
          el('span', { class: 'tl-kind', text: kindLabel }),
          el('span', { class: 'tl-title', text: title }),
          badges),
        el('p', { class: 'tl-time' }, it.at ? timeEl(it.at, { seconds: true }) : el('span', { class: 'muted', text: 'no time recorded' })),
        dl.firstChild ? dl : null,
        extras || null));
  }

  function rawBlock(summary, raw) {
    var lines = H.hl7Segments(raw);
    return el('details', { class: 'raw' },
      el('summary', { text: summary + ' (' + lines.length + (lines.length === 1 ? ' segment)' : ' segments)') }),
      el('pre', { class: 'hl7', text: lines.join('\n') }));
  }

  function tlHL7(it) {
    var m = it.data;
    var badges = [];
    if (m.ack_code) { badges.push(badge('ACK ' + m.ack_code, H.tone(m.ack_code))); }
    var extras = [];
    if (m.raw) {
      extras.push(rawBlock('Raw HL7', m.raw));
    } else {
      extras.push(el('p', { class: 'muted small', text: 'Raw message pruned after the retention period.' }));
    }
    if (m.ack) { extras.push(rawBlock('ACK sent', m.ack)); }
    return tlItem(it, 'HL7 in', m.message_type || 'HL7 message', badges, [
      ['Control ID', m.message_control_id ? el('span', { class: 'mono', text: m.message_control_id }) : ''],
      ['Event ID', m.event_id ? el('span', { class: 'mono', text: m.event_id }) : '']
    ], extras);
  }

  function tlEvent(it) {
    var e = it.data;
    var outcome = H.eventOutcome(e);
    var change = '';
    if (e.from || e.to) {
      var from = e.from || 'none';
      var to = e.to || from;
      change = from === to ? to + ' (unchanged)' : from + ' → ' + to;
    }
    var source = [e.channel, e.message_type].filter(Boolean).join(' · ');
    var textNote = e.text ? e.text : '';
    return tlItem(it, 'Event', e.event_type || 'event', [badge(outcome, H.tone(outcome))], [
      ['Disposition', change],
      ['Reason', e.reason],
      ['Text', textNote],
      ['Text suppressed', typeof e.suppressed === 'string' ? e.suppressed : e.suppressed ? 'yes' : ''],
      ['Event time', e.event_datetime_utc ? timeEl(e.event_datetime_utc, { seconds: true }) : ''],
      ['Source', source],
      ['Control ID', e.message_control_id ? el('span', { class: 'mono', text: e.message_control_id }) : ''],
      ['Event ID', e.event_id ? el('span', { class: 'mono', text: e.event_id }) : '']
    ]);
  }

  function tlText(it) {
    var t = it.data;
    var out = it.kind === 'text-out';
    var badges = [];
    if (t.status) { badges.push(badge(t.status)); }
    var extras = t.body ? el('blockquote', { class: 'tl-text-body', text: t.body }) : null;
    return tlItem(it, out ? 'Text to patient' : 'Text from patient', t.kind || 'text', badges, [
      ['Phone', t.phone ? el('span', { class: 'mono', text: t.phone }) : ''],
      ['Sent', t.sent_at ? timeEl(t.sent_at, { seconds: true }) : ''],
      ['Reason', t.reason],
      ['Error code', t.error_code ? String(t.error_code) : ''],
      ['Attempts', t.attempts > 1 ? String(t.attempts) : ''],
      ['Twilio SID', t.sid ? el('span', { class: 'mono', text: t.sid }) : '']
    ], extras);
  }

  function tlReminder(it) {
    var r = it.data;
    return tlItem(it, 'Reminder', 'Reminder ' + (r.ordinal || ''), [badge(r.status || 'unknown')], [
      ['Due', r.due_at ? timeEl(r.due_at, { seconds: true }) : ''],
      ['Sent', r.sent_at ? timeEl(r.sent_at, { seconds: true }) : ''],
      ['Reason', r.reason],
      ['For the appointment at', r.start_utc ? timeEl(r.start_utc) : '']
    ]);
  }

  function tlRequest(it) {
    var q = it.data;
    var badges = [badge(q.status || 'unknown')];
    if (q.ack_code) { badges.push(badge('ACK ' + q.ack_code, H.tone(q.ack_code))); }
    var extras = null;
    if (q.status === 'dead' && q.id) {
      extras = el('div', { class: 'button-row' },
        el('button', { type: 'button', class: 'btn btn-small', 'data-action': 'retry', 'data-id': q.id, text: 'Retry' }));
    }
    return tlItem(it, 'EHR request', q.type || 'request', badges, [
      ['Control ID', q.message_control_id ? el('span', { class: 'mono', text: q.message_control_id }) : ''],
      ['Attempts', q.attempts ? String(q.attempts) : ''],
      ['Last error', q.last_error],
      ['Updated', q.updated_at ? timeEl(q.updated_at, { seconds: true }) : '']
    ], extras);
  }

  /* -------------------------------------------------------- dead letters */

  function enterDeadLetters(r, gen) { loadDead(gen); }

  function loadDead(gen) {
    var table = $('dead-letters-table');
    table.setAttribute('aria-busy', 'true');
    api('GET', '/v1/requests?status=dead').then(function (r) {
      if (current(gen)) { renderDead((r && r.requests) || []); }
    }, function (e) {
      if (current(gen)) { reportError(e, 'Could not load dead letters'); }
    }).then(function () { table.removeAttribute('aria-busy'); });
  }

  function renderDead(list) {
    var tbody = $('dead-letters-table').querySelector('tbody');
    clear(tbody);
    $('dead-heading').textContent = 'Dead letters' + (list.length ? ' (' + list.length + ')' : '');
    if (!list.length) {
      tbody.appendChild(el('tr', { class: 'empty-row' },
        el('td', { colspan: '9', text: 'No dead letters: every EHR request was acknowledged or is still being sent.' })));
      return;
    }
    list.forEach(function (q) {
      var aid = q.appointment_id || '';
      tbody.appendChild(el('tr', { 'data-id': q.id },
        el('td', { class: 'mono', text: q.id }),
        el('td', null, aid ? el('a', { href: H.appointmentHash(aid), class: 'mono', text: aid }) : '—'),
        el('td', { text: q.type || '' }),
        el('td', { class: 'cell-status' }, badge(q.status || 'dead')),
        el('td', { class: 'num', text: String(q.attempts || 0) }),
        el('td', null, q.ack_code ? badge(q.ack_code, H.tone(q.ack_code)) : '—'),
        el('td', { class: 'cell-error', text: q.last_error || '—' }),
        el('td', null, timeEl(q.updated_at)),
        el('td', null, el('button', {
          type: 'button', class: 'btn btn-small', 'data-action': 'retry', 'data-id': q.id,
          'aria-label': 'Retry request ' + q.id, text: 'Retry'
        }))));
    });
  }

  function retryRequest(btn) {
    var id = btn.getAttribute('data-id');
    busy(btn, true);
    api('POST', '/v1/requests/' + encodeURIComponent(id) + '/retry').then(function (r) {
      btn.removeAttribute('aria-busy');
      btn.textContent = 'Queued';
      var status = (r && r.status) || 'pending';
      var row = btn.closest('tr');
      var cell = row && row.querySelector('.cell-status');
      if (cell) { clear(cell); cell.appendChild(badge(status)); }
      showStatus('Request ' + id + ' queued for another attempt (' + status + ').', 'ok');
    }, function (e) {
      btn.removeAttribute('aria-busy');
      if (e.code === 'not_retryable' || e.status === 409) {
        showStatus('Request ' + id + ' cannot be retried: ' + errorText(e), 'error');
        return;
      }
      btn.disabled = false;
      reportError(e, 'Retry failed');
    });
  }

  /* ------------------------------------------------------------ exports */

  function download(btn) {
    var what = btn.getAttribute('data-what');
    var format = btn.getAttribute('data-format');
    var from = $('export-from').value;
    var to = $('export-to').value;
    var bad = H.validDateRange(from, to);
    if (bad) { showStatus(bad, 'error'); $('export-to').focus(); return; }
    var name = H.exportFilename(what, format, new Date());
    busy(btn, true);
    showStatus('Preparing ' + name + '…', 'info');
    api('GET', '/v1/export/' + what + '.' + format + H.queryString({ from: from, to: to }), undefined, { raw: true })
      .then(function (res) { return res.blob(); })
      .then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = el('a', { href: url, download: name, hidden: true });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
        showStatus('Downloaded ' + name + '.', 'ok');
      }, function (e) { reportError(e, 'Download failed'); })
      .then(function () { busy(btn, false); });
  }

  /* ---------------------------------------------------------- simulator */

  function savedPhone() { return storageGet(PHONE_KEY) || ''; }
  function savePhone(p) { if (p) { storageSet(PHONE_KEY, p); } }

  function enterSimulator() {
    if (!$('sim-time').value) { $('sim-time').value = H.defaultSimTime(Date.now()); }
    if (!$('sim-phone').value) { $('sim-phone').value = savedPhone(); }
  }

  function simIds() { return Object.keys(H.SIM_FIELDS).map(function (k) { return H.SIM_FIELDS[k]; }); }

  function submitSimulator(ev) {
    ev.preventDefault();
    clearFieldErrors(simIds());
    var body = {};
    Object.keys(H.SIM_FIELDS).forEach(function (k) {
      var v = $(H.SIM_FIELDS[k]).value.trim();
      if (v !== '' || k === 'event_type' || k === 'phone' || k === 'time') { body[k] = v; }
    });
    var first = null;
    if (!body.phone) { fieldError('sim-phone', 'Enter the patient\'s phone number.'); first = first || $('sim-phone'); }
    if (!body.time) { fieldError('sim-time', 'Choose the appointment time.'); first = first || $('sim-time'); }
    if (first) { first.focus(); return; }
    var btn = $('sim-submit');
    busy(btn, true);
    showStatus('Sending ' + body.event_type + '…', 'info');
    api('POST', '/v1/simulate/event', body).then(function (r) {
      r = r || {};
      savePhone(body.phone);
      renderSimResult(r);
      showStatus(body.event_type + ' sent: ACK ' + (r.ack_code || '?') + ' for appointment ' + (r.appointment_id || '?') + '.',
        H.tone(r.ack_code) === 'ok' ? 'ok' : 'error');
    }, function (e) {
      if (e.status === 400 && applyFieldErrors(e, H.SIM_FIELDS)) { return; }
      reportError(e, 'The event was not sent');
    }).then(function () { busy(btn, false); });
  }

  function renderSimResult(r) {
    var box = $('sim-result');
    clear(box);
    var aid = r.appointment_id || '';
    box.setAttribute('data-appointment-id', aid);
    var actions = el('div', { class: 'button-row' });
    if (aid) {
      actions.appendChild(el('a', { class: 'btn', id: 'sim-open', href: H.appointmentHash(aid), text: 'Open appointment' }));
      var reuse = el('button', { type: 'button', class: 'btn btn-quiet', id: 'sim-reuse', text: 'Send another event for this appointment' });
      reuse.addEventListener('click', function () {
        $('sim-appointment-id').value = aid;
        $('sim-event-type').focus();
        showStatus('Appointment ID ' + aid + ' filled in.', 'info');
      });
      actions.appendChild(reuse);
    }
    if (state.config && state.config.sandbox) {
      actions.appendChild(el('a', { class: 'btn btn-quiet', href: '#/phone', text: 'Open phone simulator' }));
    }
    box.appendChild(el('h2', { text: 'Result' }));
    box.appendChild(el('p', { class: 'result-line' },
      el('span', { class: 'badge tone-' + H.tone(r.ack_code), id: 'sim-ack-code', text: r.ack_code || '—' }),
      ' ',
      el('span', { text: r.ack_text || (H.tone(r.ack_code) === 'ok' ? 'Accepted' : '') })));
    var dl = el('dl', { class: 'summary' });
    [['Appointment ID', aid], ['Message control ID', r.message_control_id], ['Message type', r.message_type]].forEach(function (p) {
      if (p[1]) { dl.appendChild(el('div', { class: 'summary-row' }, el('dt', { text: p[0] }), el('dd', { class: 'mono', text: p[1] }))); }
    });
    box.appendChild(dl);
    box.appendChild(actions);
    box.hidden = false;
  }

  /* -------------------------------------------------------------- phone */

  var phoneState = { phone: '', nodes: {}, loading: false };

  function enterPhone(r, gen) {
    var on = !!(state.config && state.config.sandbox);
    show($('phone-unavailable'), !on);
    show($('phone-panel'), on);
    if (!on) { return; }
    var input = $('phone-number');
    if (!input.value) { input.value = phoneState.phone || savedPhone(); }
    if (input.value.trim()) { openConversation(input.value.trim(), gen); }
    every(PHONE_POLL_MS, function () {
      if (!document.hidden && phoneState.phone) { loadTexts(gen); }
    });
  }

  function openConversation(phone, gen) {
    if (phone !== phoneState.phone) {
      phoneState.phone = phone;
      phoneState.nodes = {};
      clear($('phone-messages'));
    }
    $('phone-number-shown').textContent = phone;
    savePhone(phone);
    loadTexts(gen, true);
  }

  function submitPhoneLoad(ev) {
    ev.preventDefault();
    clearFieldErrors(['phone-number']);
    var phone = $('phone-number').value.trim();
    if (!phone) {
      fieldError('phone-number', 'Enter the patient\'s phone number.');
      $('phone-number').focus();
      return;
    }
    openConversation(phone, state.routeGen);
  }

  function loadTexts(gen, force) {
    if (phoneState.loading && !force) { return; }
    var phone = phoneState.phone;
    phoneState.loading = true;
    api('GET', '/v1/sandbox/texts' + H.queryString({ phone: phone, limit: 100 })).then(function (r) {
      if (current(gen) && phone === phoneState.phone) { renderTexts((r && r.texts) || []); }
    }, function (e) {
      if (!current(gen)) { return; }
      if (e.status === 400 && applyFieldErrors(e, { phone: 'phone-number' })) {
        phoneState.phone = '';
        return;
      }
      reportError(e, 'Could not load the texts');
    }).then(function () { phoneState.loading = false; });
  }

  function renderTexts(list) {
    var box = $('phone-messages');
    var ordered = list.slice().reverse(); // oldest first
    var empty = box.querySelector('.phone-empty');
    if (!ordered.length) {
      if (!empty && !box.querySelector('.msg')) {
        box.appendChild(el('p', { class: 'phone-empty', text: 'No texts for this number yet.' }));
      }
      return;
    }
    if (empty) { empty.remove(); }
    var nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    var added = false;
    var keep = {};
    ordered.forEach(function (t, i) {
      var id = String(t.id || i);
      keep[id] = true;
      var node = phoneState.nodes[id];
      if (!node) {
        node = msgNode(t);
        phoneState.nodes[id] = node;
        added = true;
      } else {
        var st = node.querySelector('.msg-status');
        if (st && st.textContent !== (t.status || '')) { st.textContent = t.status || ''; }
      }
      var at = box.children[i];
      if (at !== node) { box.insertBefore(node, at || null); }
    });
    Object.keys(phoneState.nodes).forEach(function (id) {
      if (!keep[id]) { phoneState.nodes[id].remove(); delete phoneState.nodes[id]; }
    });
    if (added && nearBottom) { box.scrollTop = box.scrollHeight; }
  }

  function msgNode(t) {
    var out = t.direction !== 'in';
    return el('div', { class: 'msg ' + (out ? 'out' : 'in'), 'data-id': t.id || '' },
      el('span', { class: 'visually-hidden', text: out ? 'From the clinic: ' : 'From the patient: ' }),
      el('p', { class: 'msg-body', text: t.body || '' }),
      el('p', { class: 'msg-meta' },
        t.kind ? el('span', { class: 'msg-kind', text: t.kind }) : null,
        t.kind ? ' · ' : null,
        timeEl(t.created_at),
        out ? ' · ' : null,
        out ? el('span', { class: 'msg-status', text: t.status || '' }) : null));
  }

  function submitReply(ev) {
    ev.preventDefault();
    var phone = phoneState.phone || $('phone-number').value.trim();
    var input = $('phone-reply');
    var text = input.value.trim();
    if (!phone) {
      fieldError('phone-number', 'Enter the patient\'s phone number first.');
      $('phone-number').focus();
      return;
    }
    if (!text) {
      showStatus('Type a reply first.', 'error');
      input.focus();
      return;
    }
    if (phone !== phoneState.phone) { openConversation(phone, state.routeGen); }
    var btn = $('phone-send');
    var gen = state.routeGen;
    busy(btn, true);
    api('POST', '/v1/sandbox/sms', { from: phone, body: text }).then(function (r) {
      r = r || {};
      input.value = '';
      var msg = 'Reply sent' + (r.intent ? ', read as ' + r.intent : '') +
        (r.appointment_id ? ' for appointment ' + r.appointment_id : '') +
        (r.applied === false ? ' (no change)' : '') + '.';
      showStatus(msg, 'ok');
      if (current(gen)) { loadTexts(gen, true); }
    }, function (e) {
      if (e.status === 400 && applyFieldErrors(e, { from: 'phone-number' })) { return; }
      reportError(e, 'The reply was not sent');
    }).then(function () {
      busy(btn, false);
      input.focus();
    });
  }

  /* -------------------------------------------------------------- audit */

  var auditState = { last: 0 };

  function enterAudit(r, gen) {
    clear($('audit-table').querySelector('tbody'));
    auditState.last = 0;
    loadAudit(gen, 0);
  }

  function loadAudit(gen, after) {
    var table = $('audit-table');
    var more = $('audit-more');
    table.setAttribute('aria-busy', 'true');
    busy(more, true);
    api('GET', '/v1/audit' + H.queryString({ limit: AUDIT_PAGE, after: after || '' })).then(function (r) {
      if (!current(gen)) { return; }
      r = r || {};
      renderAudit(r.entries || [], after > 0);
      var v = $('audit-verified');
      if (r.verified) {
        v.textContent = 'Hash chain verified: no entry has been altered or removed.';
        v.className = 'notice notice-ok';
      } else {
        v.textContent = 'Hash chain does NOT verify' + (r.error ? ': ' + r.error : '.') + ' The log may have been altered.';
        v.className = 'notice notice-bad';
      }
      v.hidden = false;
      show(more, (r.entries || []).length >= AUDIT_PAGE);
    }, function (e) {
      if (current(gen)) { reportError(e, 'Could not load the audit log'); }
    }).then(function () {
      table.removeAttribute('aria-busy');
      busy(more, false);
    });
  }

  function renderAudit(list, append) {
    var tbody = $('audit-table').querySelector('tbody');
    if (!append) { clear(tbody); }
    if (!list.length && !append) {
      tbody.appendChild(el('tr', { class: 'empty-row' }, el('td', { colspan: '8', text: 'No audit entries yet.' })));
      return;
    }
    list.forEach(function (x) {
      if (x.seq > auditState.last) { auditState.last = x.seq; }
      tbody.appendChild(el('tr', { 'data-seq': String(x.seq) },
        el('td', { class: 'num', text: String(x.seq) }),
        el('td', null, timeEl(x.at, { seconds: true })),
        el('td', { text: x.actor || '—' }),
        el('td', { class: 'mono', text: x.action || '' }),
        el('td', { class: 'mono', text: x.target || '—' }),
        el('td', { text: x.detail || '—' }),
        el('td', { class: 'mono', text: x.remote_ip || '—' }),
        el('td', { class: 'mono', title: x.hash || '', text: H.shortHash(x.hash) })));
    });
  }

  /* --------------------------------------------------------------- init */

  function fillSelects() {
    var disp = $('filter-disposition');
    H.DISPOSITIONS.forEach(function (d) { disp.appendChild(el('option', { value: d, text: d })); });
    var ev = $('sim-event-type');
    H.EVENT_TYPES.forEach(function (t) { ev.appendChild(el('option', { value: t, text: t })); });
  }

  function wire() {
    $('login-form').addEventListener('submit', submitLogin);
    $('mfa-form').addEventListener('submit', submitMfa);
    $('mfa-restart').addEventListener('click', function () { restartLogin(''); clearStatus(); });
    $('mfa-code').addEventListener('input', function () {
      var v = this.value.replace(/\D+/g, '').slice(0, 6);
      if (v !== this.value) { this.value = v; }
    });
    $('logout').addEventListener('click', logout);

    window.addEventListener('hashchange', function () { onRoute(true); });
    // Clicking the link of the view already shown reloads it.
    document.querySelectorAll('#site-nav a').forEach(function (a) {
      a.addEventListener('click', function () {
        if (a.getAttribute('href') === location.hash) { onRoute(true); }
      });
    });

    $('appt-filter').addEventListener('submit', submitFilters);
    $('filter-reset').addEventListener('click', resetFilters);
    $('appt-prev').addEventListener('click', function () {
      if (H.pagerBack(apptState.pager)) { loadAppointments(state.routeGen); }
    });
    $('appt-next').addEventListener('click', function () {
      if (H.pagerForward(apptState.pager)) { loadAppointments(state.routeGen); }
    });
    var tbody = $('appointments-table').querySelector('tbody');
    tbody.addEventListener('click', function (ev) {
      openRow(ev.target.closest('tr[data-id]'));
    });
    tbody.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Enter' && ev.key !== ' ') { return; }
      var tr = ev.target.closest('tr[data-id]');
      if (tr && ev.target === tr) {
        ev.preventDefault();
        openRow(tr);
      }
    });

    $('appointment-refresh').addEventListener('click', function () {
      if (state.route && state.route.name === 'appointment') { loadAppointment(state.route.id, state.routeGen); }
    });
    var retryClick = function (ev) {
      var btn = ev.target.closest('button[data-action="retry"]');
      if (btn && !btn.disabled) { retryRequest(btn); }
    };
    $('timeline').addEventListener('click', retryClick);
    $('dead-letters-table').addEventListener('click', retryClick);
    $('dead-refresh').addEventListener('click', function () { loadDead(state.routeGen); });

    ['export-state-csv', 'export-state-ndjson', 'export-history-csv', 'export-history-ndjson'].forEach(function (id) {
      $(id).addEventListener('click', function () { download($(id)); });
    });
    $('export-form').addEventListener('submit', function (ev) { ev.preventDefault(); });

    $('sim-form').addEventListener('submit', submitSimulator);

    $('phone-load-form').addEventListener('submit', submitPhoneLoad);
    $('phone-reply-form').addEventListener('submit', submitReply);
    $('phone-reply').addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        $('phone-reply-form').requestSubmit($('phone-send'));
      }
    });
    document.querySelectorAll('.quick-replies [data-reply]').forEach(function (b) {
      b.addEventListener('click', function () {
        $('phone-reply').value = b.getAttribute('data-reply');
        $('phone-reply').focus();
      });
    });

    $('audit-refresh').addEventListener('click', function () { enterAudit(state.route, state.routeGen); });
    $('audit-more').addEventListener('click', function () { loadAudit(state.routeGen, auditState.last); });

    // Scrolling is left out: the phone view scrolls itself as texts arrive.
    ['mousemove', 'mousedown', 'keydown', 'touchstart', 'wheel'].forEach(function (t) {
      document.addEventListener(t, noteActivity, { passive: true, capture: true });
    });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) { sessionTick(); }
    });
    setInterval(sessionTick, SESSION_TICK_MS);
  }

  function start() {
    fillSelects();
    wire();
    // A token whose lifetime is over is not worth a round trip.
    var meta = getMeta();
    if (getToken() && meta.expires && Date.now() >= meta.expires) { clearToken(); }
    api('GET', '/auth/config', undefined, { auth: false }).then(function (c) {
      state.config = c || {};
    }, function (e) {
      state.config = state.config || {};
      reportError(e, 'Could not load the sign-in settings');
    }).then(function () {
      applyConfig();
      if (getToken()) {
        enterApp();
      } else {
        showLogin();
      }
    });
  }

  start();
}());
