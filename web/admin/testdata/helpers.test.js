// Tests of the admin page's pure helpers: node --test (no npm needed).
// Run by TestJavaScript with TZ=America/New_York.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const H = require('../static/assets/helpers.js');

test('parseRoute', () => {
  assert.deepEqual(H.parseRoute(''), { name: 'dashboard', query: {} });
  assert.deepEqual(H.parseRoute('#/'), { name: 'dashboard', query: {} });
  assert.deepEqual(H.parseRoute('#/dashboard'), { name: 'dashboard', query: {} });
  assert.deepEqual(H.parseRoute('#/dead-letters'), { name: 'dead-letters', query: {} });
  assert.deepEqual(H.parseRoute('#/appointments/'), { name: 'appointments', query: {} });
  assert.deepEqual(H.parseRoute('#/appointments?disposition=OPTED-OUT'),
    { name: 'appointments', query: { disposition: 'OPTED-OUT' } });
  assert.deepEqual(H.parseRoute('#/appointments/A%2F1%20x'), { name: 'appointment', id: 'A/1 x', query: {} });
  assert.equal(H.parseRoute('#main'), null);
  assert.equal(H.parseRoute('#/nope').name, 'notfound');
  assert.equal(H.parseRoute('#/appointments/%E0%A4%A').name, 'notfound');
  const id = 'APPT/42?&#x';
  assert.equal(H.parseRoute(H.appointmentHash(id)).id, id);
});

test('queryString drops empty values and encodes', () => {
  assert.equal(H.queryString({}), '');
  assert.equal(H.queryString({ a: '', b: null, c: undefined }), '');
  assert.equal(H.queryString({ phone: '+1 312', limit: 100, after: '' }), '?phone=%2B1%20312&limit=100');
});

test('hl7Segments splits on CR, CRLF and LF', () => {
  assert.deepEqual(H.hl7Segments('MSH|^~\\&|A\rSCH|1\rPID|1\r'), ['MSH|^~\\&|A', 'SCH|1', 'PID|1']);
  assert.deepEqual(H.hl7Segments('MSH|x\r\nPID|y\nPV1|z'), ['MSH|x', 'PID|y', 'PV1|z']);
  assert.deepEqual(H.hl7Segments(''), []);
  assert.deepEqual(H.hl7Segments(undefined), []);
});

test('buildTimeline merges and orders by time, then by causality', () => {
  const d = {
    history: [
      { event_type: 'BOOKED', recorded_at: '2026-12-01T10:00:00Z', applied: true },
      { event_type: 'CONFIRM', recorded_at: '2026-12-01T12:00:00Z', applied: true }
    ],
    hl7_in: [{ message_control_id: 'M1', received_at: '2026-12-01T10:00:00Z', ack_code: 'AA' }],
    texts: [
      { id: 't1', direction: 'out', kind: 'booked', created_at: '2026-12-01T10:00:00Z' },
      { id: 't2', direction: 'in', kind: 'reply', created_at: '2026-12-01T12:00:00Z' }
    ],
    requests: [{ id: 'r1', type: 'CONFIRM', status: 'acked', created_at: '2026-12-01T12:00:00Z' }],
    reminders: [
      { ordinal: 1, status: 'planned', due_at: '2026-12-02T09:00:00Z' },
      { ordinal: 2, status: 'sent', due_at: '2026-12-01T11:00:00Z', sent_at: '2026-12-01T11:00:05Z' },
      { ordinal: 3, status: 'planned' }
    ]
  };
  const kinds = H.buildTimeline(d).map((x) => x.kind + (x.data.ordinal ? x.data.ordinal : ''));
  assert.deepEqual(kinds, ['hl7-in', 'event', 'text-out', 'reminder2', 'text-in', 'event', 'request', 'reminder1', 'reminder3']);
  assert.deepEqual(H.buildTimeline({}), []);
  // Go's zero time counts as no time.
  assert.equal(H.buildTimeline({ texts: [{ created_at: '0001-01-01T00:00:00Z' }] })[0].ms, null);
});

test('eventOutcome', () => {
  assert.equal(H.eventOutcome({ applied: true }), 'applied');
  assert.equal(H.eventOutcome({ applied: false, reason: 'stale: older than the last applied event' }), 'stale');
  assert.equal(H.eventOutcome({ applied: false, reason: 'opted out' }), 'not applied');
});

test('cursor pager keeps a stack for Previous', () => {
  const p = H.newPager();
  assert.equal(H.pagerForward(p), false);
  p.next = 'c1';
  assert.equal(H.pagerForward(p), true);
  assert.deepEqual([p.after, p.stack, H.pagerPage(p)], ['c1', [''], 2]);
  p.next = 'c2';
  H.pagerForward(p);
  assert.deepEqual([p.after, p.stack, H.pagerPage(p)], ['c2', ['', 'c1'], 3]);
  assert.equal(H.pagerBack(p), true);
  assert.equal(p.after, 'c1');
  H.pagerBack(p);
  assert.deepEqual([p.after, p.stack.length], ['', 0]);
  assert.equal(H.pagerBack(p), false);
  p.next = 'x';
  H.pagerReset(p);
  assert.deepEqual(p, H.newPager());
});

test('exportFilename', () => {
  const d = new Date(2026, 0, 5, 23, 59);
  assert.equal(H.exportFilename('history', 'csv', d), 'apptbridge-history-20260105.csv');
  assert.equal(H.exportFilename('state', 'ndjson', d), 'apptbridge-state-20260105.ndjson');
});

test('defaultSimTime is 24 h ahead on a quarter hour', () => {
  const now = new Date(2026, 10, 27, 14, 3, 20).getTime();
  assert.equal(H.defaultSimTime(now), '2026-11-28T14:15');
  assert.equal(H.defaultSimTime(new Date(2026, 10, 27, 14, 45, 0).getTime()), '2026-11-28T14:45');
  assert.equal(H.localInputValue(new Date(2026, 1, 3, 4, 5)), '2026-02-03T04:05');
});

test('retryAfter', () => {
  assert.equal(H.retryAfter('30'), 30);
  assert.equal(H.retryAfter(null), null);
  assert.equal(H.retryAfter('soon'), null);
  const now = Date.parse('2026-12-01T10:00:00Z');
  assert.equal(H.retryAfter('Tue, 01 Dec 2026 10:01:00 GMT', now), 60);
});

test('apptTime shows the wall clock with its zone, and the browser time when it differs', () => {
  const a = {
    appointment_datetime: '2026-12-01T15:00:00',
    appointment_timezone: '-0600',
    appointment_tz: 'America/Chicago',
    appointment_datetime_utc: '2026-12-01T21:00:00Z'
  };
  const t = H.apptTime(a, { locale: 'en-US', timeZone: 'America/New_York' });
  assert.equal(t.zone, 'America/Chicago');
  assert.match(t.wall, /Dec 1, 2026.*3:00\s?PM/);
  assert.match(t.local, /4:00\s?PM/);
  const same = H.apptTime(a, { locale: 'en-US', timeZone: 'America/Chicago' });
  assert.equal(same.local, '');
  const offsetOnly = H.apptTime({ appointment_datetime: '2026-12-01T15:00:00', appointment_timezone: '-0600' }, { locale: 'en-US' });
  assert.equal(offsetOnly.zone, '-0600');
  const utcOnly = H.apptTime({ appointment_datetime_utc: '2026-12-01T21:00:00Z' }, { locale: 'en-US', timeZone: 'UTC' });
  assert.match(utcOnly.wall, /9:00\s?PM/);
  assert.equal(H.apptTime({}).wall, '');
});

test('duration and relative', () => {
  assert.equal(H.duration(42000), '42 s');
  assert.equal(H.duration(5 * 60000), '5 min');
  assert.equal(H.duration(62 * 60000), '1 h 2 min');
  assert.equal(H.duration(3 * 86400000), '3 d');
  const now = Date.parse('2026-12-01T10:00:00Z');
  assert.equal(H.relative('2026-12-01T09:55:00Z', now), '5 min ago');
  assert.equal(H.relative('2026-12-01T12:00:00Z', now), 'in 2 h');
  assert.equal(H.relative('2026-12-01T10:00:01Z', now), 'just now');
  assert.equal(H.relative(null, now), '');
});

test('tone, labels, classes', () => {
  assert.equal(H.tone('AA'), 'ok');
  assert.equal(H.tone('AE'), 'bad');
  assert.equal(H.tone('AR'), 'bad');
  assert.equal(H.tone('dead'), 'bad');
  assert.equal(H.tone('pending'), 'pending');
  assert.equal(H.tone('skipped'), 'warn');
  assert.equal(H.tone(undefined), 'neutral');
  assert.equal(H.healthLabel('bad'), 'Problem');
  assert.equal(H.healthLabel('x'), 'Unknown');
  assert.equal(H.dispositionClass('REMINDED-1'), 'disp-reminded-1');
  assert.equal(H.dispositionLabel('NOSHOWED'), 'No-show');
  assert.equal(H.validDateRange('2026-12-02', '2026-12-01'), '"From" is after "To".');
  assert.equal(H.validDateRange('2026-12-01', ''), '');
  assert.equal(H.DISPOSITIONS.length, 7);
  assert.equal(H.EVENT_TYPES.length, 6);
});
