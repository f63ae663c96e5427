/*
 * apptbridge admin page: pure helpers (no DOM). Loaded by the page before
 * app.js (as window.ABH) and required by the node tests
 * (web/admin/testdata/helpers.test.js).
 */
(function (root, factory) {
  'use strict';
  var lib = factory();
  if (typeof module === 'object' && module.exports) {
    module.exports = lib;
  } else {
    root.ABH = lib;
  }
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  var DISPOSITIONS = ['QUEUED', 'REMINDED-1', 'REMINDED-2', 'CANCELED', 'NOSHOWED', 'EXPIRED', 'OPTED-OUT'];
  var DISPOSITION_LABELS = {
    'QUEUED': 'Queued',
    'REMINDED-1': 'Reminded once',
    'REMINDED-2': 'Reminded twice',
    'CANCELED': 'Canceled',
    'NOSHOWED': 'No-show',
    'EXPIRED': 'Expired',
    'OPTED-OUT': 'Opted out'
  };
  var EVENT_TYPES = ['BOOKED', 'RESCHEDULED', 'MODIFIED', 'CONFIRMED', 'CANCELED', 'NOSHOWED'];
  var ROUTES = ['dashboard', 'appointments', 'dead-letters', 'exports', 'simulator', 'phone', 'audit'];

  // The simulator's request fields and the form controls that hold them.
  var SIM_FIELDS = {
    event_type: 'sim-event-type',
    appointment_id: 'sim-appointment-id',
    patient_id: 'sim-patient-id',
    first_name: 'sim-first-name',
    phone: 'sim-phone',
    time: 'sim-time',
    timezone: 'sim-timezone',
    location: 'sim-location',
    provider: 'sim-provider'
  };

  function pad(n, w) {
    var s = String(n);
    while (s.length < (w || 2)) { s = '0' + s; }
    return s;
  }

  /* queryString({a: 1, b: '', c: 'x y'}) → "?a=1&c=x%20y"; empty values are left out. */
  function queryString(params) {
    var parts = [];
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (v === undefined || v === null || v === '') { return; }
      parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(String(v)));
    });
    return parts.length ? '?' + parts.join('&') : '';
  }

  function parseQuery(q) {
    var out = {};
    String(q || '').split('&').forEach(function (kv) {
      if (!kv) { return; }
      var i = kv.indexOf('=');
      var k = i < 0 ? kv : kv.slice(0, i);
      var v = i < 0 ? '' : kv.slice(i + 1);
      try {
        out[decodeURIComponent(k.replace(/\+/g, ' '))] = decodeURIComponent(v.replace(/\+/g, ' '));
      } catch (e) { /* ignore a malformed pair */ }
    });
    return out;
  }

  /*
   * parseRoute reads a location hash: "#/appointments/A%2F1" →
   * {name: 'appointment', id: 'A/1', query: {}}. A hash that is not a route
   * ("#main", the skip link's target) gives null.
   */
  function parseRoute(hash) {
    var h = String(hash || '');
    if (h.charAt(0) === '#') { h = h.slice(1); }
    if (h === '' || h === '/') { return { name: 'dashboard', query: {} }; }
    if (h.charAt(0) !== '/') { return null; }
    var path = h.slice(1);
    var query = {};
    var qi = path.indexOf('?');
    if (qi >= 0) {
      query = parseQuery(path.slice(qi + 1));
      path = path.slice(0, qi);
    }
    path = path.replace(/\/+$/, '');
    var slash = path.indexOf('/');
    var head = slash < 0 ? path : path.slice(0, slash);
    var rest = slash < 0 ? '' : path.slice(slash + 1);
    if (head === 'appointments' && rest !== '') {
      try {
        return { name: 'appointment', id: decodeURIComponent(rest), query: query };
      } catch (e) {
        return { name: 'notfound', query: query };
      }
    }
    if (rest === '' && ROUTES.indexOf(head) >= 0) { return { name: head, query: query }; }
    return { name: 'notfound', query: query };
  }

  function appointmentHash(id) {
    return '#/appointments/' + encodeURIComponent(String(id));
  }

  /* toMs parses an RFC 3339 time; null for empty, invalid or Go's zero time. */
  function toMs(v) {
    if (v === undefined || v === null || v === '') { return null; }
    var t = Date.parse(v);
    if (isNaN(t) || t <= 0) { return null; }
    return t;
  }

  /* parseWall reads a zone-less wall-clock time "2026-12-01T15:00:00". */
  function parseWall(s) {
    var m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?/.exec(String(s || ''));
    if (!m) { return null; }
    return { y: +m[1], mo: +m[2], d: +m[3], h: +m[4], mi: +m[5], s: m[6] ? +m[6] : 0 };
  }

  var DATE_TIME = { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' };
  var DATE_TIME_SECONDS = { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', second: '2-digit' };

  function fmt(ms, opts, timeZone, locale) {
    var o = {};
    Object.keys(opts).forEach(function (k) { o[k] = opts[k]; });
    if (timeZone) { o.timeZone = timeZone; }
    try {
      return new Intl.DateTimeFormat(locale, o).format(new Date(ms));
    } catch (e) {
      return new Date(ms).toISOString();
    }
  }

  /* formatWall shows a wall-clock time as written, whatever the browser's zone. */
  function formatWall(s, locale) {
    var p = parseWall(s);
    if (!p) { return s ? String(s) : ''; }
    return fmt(Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s), DATE_TIME, 'UTC', locale);
  }

  /* formatInstant shows an RFC 3339 instant in the browser's zone ('' when absent). */
  function formatInstant(v, opts) {
    var ms = toMs(v);
    if (ms === null) { return ''; }
    opts = opts || {};
    return fmt(ms, opts.seconds ? DATE_TIME_SECONDS : DATE_TIME, opts.timeZone, opts.locale);
  }

  function utcTitle(v) {
    var ms = toMs(v);
    return ms === null ? '' : new Date(ms).toISOString().replace('.000Z', 'Z') + ' (UTC)';
  }

  /*
   * apptTime describes an appointment's time: wall is its local time where
   * it happens, zone that place's zone (IANA, else the UTC offset), local the
   * same instant in the browser's zone when that reads differently.
   */
  function apptTime(a, opts) {
    a = a || {};
    opts = opts || {};
    var zone = a.appointment_tz || a.appointment_timezone || '';
    var utc = toMs(a.appointment_datetime_utc);
    var wall = '';
    if (a.appointment_datetime) {
      wall = formatWall(a.appointment_datetime, opts.locale);
    } else if (utc !== null && a.appointment_tz) {
      wall = fmt(utc, DATE_TIME, a.appointment_tz, opts.locale);
    }
    var local = utc === null ? '' : fmt(utc, DATE_TIME, opts.timeZone, opts.locale);
    if (!wall) {
      return { wall: local, zone: '', local: '' };
    }
    return { wall: wall, zone: zone, local: local === wall ? '' : local };
  }

  /* duration: 42000 → "42 s", 3720000 → "1 h 2 min". */
  function duration(ms) {
    if (ms === null || ms === undefined || isNaN(ms)) { return ''; }
    var neg = ms < 0;
    var s = Math.round(Math.abs(ms) / 1000);
    var out;
    if (s < 60) {
      out = s + ' s';
    } else if (s < 3600) {
      out = Math.floor(s / 60) + ' min';
    } else if (s < 48 * 3600) {
      var h = Math.floor(s / 3600);
      var m = Math.floor((s % 3600) / 60);
      out = h + ' h' + (m ? ' ' + m + ' min' : '');
    } else {
      out = Math.floor(s / 86400) + ' d';
    }
    return neg ? '-' + out : out;
  }

  /* relative: "5 min ago" / "in 2 h" / "just now". */
  function relative(v, now) {
    var ms = toMs(v);
    if (ms === null) { return ''; }
    var d = (now === undefined ? Date.now() : now) - ms;
    if (Math.abs(d) < 5000) { return 'just now'; }
    return d > 0 ? duration(d) + ' ago' : 'in ' + duration(-d);
  }

  /* hl7Segments splits a raw message on its segment separators (\r, or \n from a copy). */
  function hl7Segments(raw) {
    if (!raw) { return []; }
    var lines = String(raw).split(/\r\n|\r|\n/);
    while (lines.length && lines[lines.length - 1] === '') { lines.pop(); }
    return lines;
  }

  /* tone maps a status or code to a badge colour class: ok, warn, bad, pending, neutral. */
  function tone(v) {
    switch (String(v === undefined || v === null ? '' : v).toLowerCase()) {
      case 'aa': case 'ca': case 'ok': case 'acked': case 'sent': case 'delivered':
      case 'received': case 'read': case 'applied': case 'yes':
        return 'ok';
      case 'warn': case 'skipped': case 'stale': case 'not applied': case 'suppressed':
        return 'warn';
      case 'ae': case 'ar': case 'ce': case 'cr': case 'bad': case 'dead': case 'failed':
      case 'undelivered': case 'rejected': case 'error':
        return 'bad';
      case 'pending': case 'sending': case 'queued': case 'planned': case 'accepted':
      case 'scheduled': case 'reconcile':
        return 'pending';
      default:
        return 'neutral';
    }
  }

  function healthLabel(h) {
    return { ok: 'OK', warn: 'Warning', bad: 'Problem' }[h] || 'Unknown';
  }

  // Order of items that share a timestamp: what came in, what it did, what went out.
  var KIND_ORDER = { 'hl7-in': 0, 'text-in': 1, 'event': 2, 'request': 3, 'text-out': 4, 'reminder': 5 };

  /*
   * buildTimeline merges an appointment's HL7 messages, events, texts,
   * reminders and EHR requests into one list, oldest first; items without a
   * time go last in their original order.
   */
  function buildTimeline(d) {
    d = d || {};
    var items = [];
    var seq = 0;
    function add(kind, at, data) {
      items.push({ kind: kind, at: at || '', ms: toMs(at), data: data, seq: seq++ });
    }
    (d.hl7_in || []).forEach(function (m) { add('hl7-in', m.received_at, m); });
    (d.history || []).forEach(function (e) { add('event', e.recorded_at || e.event_datetime_utc, e); });
    (d.texts || []).forEach(function (t) {
      add(t.direction === 'in' ? 'text-in' : 'text-out', t.created_at || t.sent_at, t);
    });
    (d.reminders || []).forEach(function (r) {
      var at = r.status === 'sent' ? (r.sent_at || r.due_at) : (r.due_at || r.sent_at);
      add('reminder', at, r);
    });
    (d.requests || []).forEach(function (q) { add('request', q.created_at || q.updated_at, q); });
    items.sort(function (a, b) {
      if (a.ms === null || b.ms === null) {
        if (a.ms === null && b.ms === null) { return a.seq - b.seq; }
        return a.ms === null ? 1 : -1;
      }
      if (a.ms !== b.ms) { return a.ms - b.ms; }
      var ka = KIND_ORDER[a.kind];
      var kb = KIND_ORDER[b.kind];
      if (ka !== kb) { return ka - kb; }
      return a.seq - b.seq;
    });
    return items;
  }

  /* eventOutcome labels a history entry: applied, stale or not applied. */
  function eventOutcome(e) {
    if (e.applied) { return 'applied'; }
    if (/stale|older/i.test(e.reason || '')) { return 'stale'; }
    return 'not applied';
  }

  /*
   * A cursor pager: after is the cursor of the page shown ('' = first page),
   * next the server's next_after, stack the cursors of the pages before.
   */
  function newPager() { return { after: '', next: '', stack: [] }; }
  function pagerForward(p) {
    if (!p.next) { return false; }
    p.stack.push(p.after);
    p.after = p.next;
    p.next = '';
    return true;
  }
  function pagerBack(p) {
    if (!p.stack.length) { return false; }
    p.after = p.stack.pop();
    p.next = '';
    return true;
  }
  function pagerReset(p) {
    p.after = '';
    p.next = '';
    p.stack = [];
  }
  function pagerPage(p) { return p.stack.length + 1; }

  function yyyymmdd(date) {
    return pad(date.getFullYear(), 4) + pad(date.getMonth() + 1) + pad(date.getDate());
  }

  /* exportFilename('history', 'csv', date) → "apptbridge-history-20261201.csv". */
  function exportFilename(what, format, date) {
    return 'apptbridge-' + what + '-' + yyyymmdd(date || new Date()) + '.' + (format === 'ndjson' ? 'ndjson' : 'csv');
  }

  /* localInputValue formats a Date for <input type=datetime-local>: "2026-12-01T15:00". */
  function localInputValue(date) {
    return pad(date.getFullYear(), 4) + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) +
      'T' + pad(date.getHours()) + ':' + pad(date.getMinutes());
  }

  /* defaultSimTime: 24 hours from now, rounded up to the next quarter hour. */
  function defaultSimTime(nowMs) {
    var d = new Date((nowMs === undefined ? Date.now() : nowMs) + 24 * 3600 * 1000);
    d.setSeconds(0, 0);
    var m = d.getMinutes();
    var up = (15 - (m % 15)) % 15;
    d.setMinutes(m + up);
    return localInputValue(d);
  }

  /* retryAfter reads a Retry-After header (seconds or an HTTP date) as seconds, or null. */
  function retryAfter(header, nowMs) {
    if (header === null || header === undefined || header === '') { return null; }
    var s = String(header).trim();
    if (/^\d+$/.test(s)) { return parseInt(s, 10); }
    var t = Date.parse(s);
    if (isNaN(t)) { return null; }
    return Math.max(0, Math.ceil((t - (nowMs === undefined ? Date.now() : nowMs)) / 1000));
  }

  /* validDateRange: both optional "YYYY-MM-DD"; an error message or ''. */
  function validDateRange(from, to) {
    if (from && to && from > to) { return '"From" is after "To".'; }
    return '';
  }

  function shortHash(h) {
    h = String(h || '');
    return h.length > 12 ? h.slice(0, 12) + '…' : h;
  }

  function titleCase(s) {
    s = String(s || '');
    return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
  }

  function dispositionLabel(d) {
    return DISPOSITION_LABELS[d] || String(d || '');
  }

  /* dispositionClass: "QUEUED" → "disp-queued" (a badge colour). */
  function dispositionClass(d) {
    return 'disp-' + String(d || 'none').toLowerCase().replace(/[^a-z0-9]+/g, '-');
  }

  return {
    DISPOSITIONS: DISPOSITIONS,
    EVENT_TYPES: EVENT_TYPES,
    ROUTES: ROUTES,
    SIM_FIELDS: SIM_FIELDS,
    queryString: queryString,
    parseQuery: parseQuery,
    parseRoute: parseRoute,
    appointmentHash: appointmentHash,
    toMs: toMs,
    parseWall: parseWall,
    formatWall: formatWall,
    formatInstant: formatInstant,
    utcTitle: utcTitle,
    apptTime: apptTime,
    duration: duration,
    relative: relative,
    hl7Segments: hl7Segments,
    tone: tone,
    healthLabel: healthLabel,
    buildTimeline: buildTimeline,
    eventOutcome: eventOutcome,
    newPager: newPager,
    pagerForward: pagerForward,
    pagerBack: pagerBack,
    pagerReset: pagerReset,
    pagerPage: pagerPage,
    exportFilename: exportFilename,
    localInputValue: localInputValue,
    defaultSimTime: defaultSimTime,
    retryAfter: retryAfter,
    validDateRange: validDateRange,
    shortHash: shortHash,
    titleCase: titleCase,
    dispositionLabel: dispositionLabel,
    dispositionClass: dispositionClass
  };
}));
