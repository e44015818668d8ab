import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fireTimesBetween, nextFire, parseCron } from '../../src/model/cron/index.js';
import type { CronExpr } from '../../src/model/cron/index.js';

function cron(expr: string): CronExpr {
  const p = parseCron(expr);
  if (!p.ok) assert.fail(`${expr}: ${p.error.message}`);
  return p.cron;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const utc = (s: string): number => Date.parse(s);

test('the next fire is strictly after the given instant, even when that instant is a fire', () => {
  const c = cron('0 * * * *');
  assert.equal(iso(nextFire(c, 'UTC', utc('2026-01-01T10:00:00Z'))), '2026-01-01T11:00:00.000Z');
  assert.equal(iso(nextFire(c, 'UTC', utc('2026-01-01T09:59:59.999Z'))), '2026-01-01T10:00:00.000Z');
  assert.equal(iso(nextFire(c, 'UTC', utc('2026-01-01T10:00:00.001Z'))), '2026-01-01T11:00:00.000Z');
});

test('a seconds field fires within the minute', () => {
  const c = cron('*/20 * * * * *');
  assert.deepEqual(
    fireTimesBetween(c, 'UTC', utc('2026-01-01T00:00:00Z'), utc('2026-01-01T00:01:00Z'), 10).map(iso),
    ['2026-01-01T00:00:20.000Z', '2026-01-01T00:00:40.000Z', '2026-01-01T00:01:00.000Z'],
  );
});

test('fireTimesBetween excludes the start, includes the end, and stops at the limit', () => {
  const c = cron('0 0 * * *');
  const from = utc('2026-01-01T00:00:00Z');
  const to = utc('2026-01-05T00:00:00Z');
  assert.deepEqual(fireTimesBetween(c, 'UTC', from, to, 100).map(iso), [
    '2026-01-02T00:00:00.000Z',
    '2026-01-03T00:00:00.000Z',
    '2026-01-04T00:00:00.000Z',
    '2026-01-05T00:00:00.000Z',
  ]);
  assert.equal(fireTimesBetween(c, 'UTC', from, to, 2).length, 2);
  assert.deepEqual(fireTimesBetween(c, 'UTC', from, to, 0), []);
  assert.deepEqual(fireTimesBetween(c, 'UTC', to, from, 10), []);
});

test('with both day fields restricted a day matches if either does', () => {
  // 2026-06-01 is a Monday; the 1st of July is a Wednesday.
  const c = cron('0 0 1 * MON');
  assert.deepEqual(fireTimesBetween(c, 'UTC', utc('2026-06-01T12:00:00Z'), utc('2026-07-07T00:00:00Z'), 20).map(iso), [
    '2026-06-08T00:00:00.000Z',
    '2026-06-15T00:00:00.000Z',
    '2026-06-22T00:00:00.000Z',
    '2026-06-29T00:00:00.000Z',
    '2026-07-01T00:00:00.000Z',
    '2026-07-06T00:00:00.000Z',
  ]);
});

test('a day field starting with * makes both day fields apply together, as in cron(8)', () => {
  // Odd-numbered days that are Mondays: 2026-06-01, 06-15, 06-29, then 07-13 and 07-27.
  const c = cron('0 0 */2 * MON');
  assert.deepEqual(fireTimesBetween(c, 'UTC', utc('2026-05-31T00:00:00Z'), utc('2026-07-31T00:00:00Z'), 20).map(iso), [
    '2026-06-01T00:00:00.000Z',
    '2026-06-15T00:00:00.000Z',
    '2026-06-29T00:00:00.000Z',
    '2026-07-13T00:00:00.000Z',
    '2026-07-27T00:00:00.000Z',
  ]);
  // With only one field restricted, only that one counts.
  assert.equal(iso(nextFire(cron('0 0 * * MON'), 'UTC', utc('2026-06-02T00:00:00Z'))), '2026-06-08T00:00:00.000Z');
  assert.equal(iso(nextFire(cron('0 0 13 * ?'), 'UTC', utc('2026-06-02T00:00:00Z'))), '2026-06-13T00:00:00.000Z');
});

test('February 29 fires only in leap years, and sparse expressions are found quickly', () => {
  assert.equal(iso(nextFire(cron('0 12 29 2 *'), 'Europe/Berlin', utc('2026-01-01T00:00:00Z'))), '2028-02-29T11:00:00.000Z');
  assert.equal(iso(nextFire(cron('0 12 29 2 *'), 'UTC', utc('2096-03-01T00:00:00Z'))), '2104-02-29T12:00:00.000Z');
  // The 1st of February that is a Sunday: 2026, then 2032.
  assert.equal(iso(nextFire(cron('0 0 */28 2 0'), 'UTC', utc('2026-02-02T00:00:00Z'))), '2032-02-01T00:00:00.000Z');
});

test('wildcard-hour expressions with a restricted date jump straight to it', () => {
  assert.equal(iso(nextFire(cron('0 * 1 1 *'), 'Asia/Kolkata', utc('2026-01-02T00:00:00Z'))), '2026-12-31T18:30:00.000Z');
});

test('no fire after year 9999 is null; bad instants and unknown zones are RangeErrors', () => {
  assert.equal(nextFire(cron('0 0 1 1 *'), 'UTC', utc('9999-06-01T00:00:00Z')), null);
  assert.throws(() => nextFire(cron('0 0 * * *'), 'UTC', Number.NaN), RangeError);
  assert.throws(() => nextFire(cron('0 0 * * *'), 'Mars/Base', 0), { name: 'RangeError', message: /Mars\/Base/ });
});

test('the 24-hour gap of Pacific/Apia (December 30, 2011 never happened) fires once at its end', () => {
  // 2011-12-29 24:00 at -10:00 became 2011-12-31 00:00 at +14:00 (10:00Z).
  assert.deepEqual(
    fireTimesBetween(cron('0 12 * * *'), 'Pacific/Apia', utc('2011-12-28T00:00:00Z'), utc('2012-01-01T00:00:00Z'), 10).map(iso),
    // Dec 28 and 29 12:00 -10:00; Dec 30 12:00 skipped -> Dec 31 00:00 +14:00; Dec 31 and Jan 1 12:00 +14:00
    [
      '2011-12-28T22:00:00.000Z',
      '2011-12-29T22:00:00.000Z',
      '2011-12-30T10:00:00.000Z',
      '2011-12-30T22:00:00.000Z',
      '2011-12-31T22:00:00.000Z',
    ],
  );
});
