import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  describeCron,
  dstChangesBetween,
  formatInZone,
  isValidTimeZone,
  localDate,
  parseCron,
  tzdataVersion,
  zoneOffsetMinutes,
} from '../../src/model/cron/index.js';

function describeText(expr: string): string {
  const p = parseCron(expr);
  if (!p.ok) assert.fail(`${expr}: ${p.error.message}`);
  return describeCron(p.cron);
}

describe('describeCron reads like a schedule list', () => {
  const cases: [string, string][] = [
    ['* * * * *', 'every minute'],
    ['*/15 * * * *', 'every 15 minutes'],
    ['0 * * * *', 'every hour'],
    ['@hourly', 'every hour'],
    ['0 */2 * * *', 'every 2 hours'],
    ['30 2 * * *', 'at 02:30 every day'],
    ['@daily', 'at 00:00 every day'],
    ['0 9 * * 1-5', 'at 09:00 on Monday through Friday'],
    ['0 9,17 * * MON-FRI', 'at 09:00 and 17:00 on Monday through Friday'],
    ['0 0 * * 0', 'at 00:00 on Sunday'],
    ['@weekly', 'at 00:00 on Sunday'],
    ['0 0 1 * *', 'at 00:00 on day 1 of the month'],
    ['@yearly', 'at 00:00 on January 1'],
    ['0 0 1,15 * *', 'at 00:00 on days 1 and 15 of the month'],
    ['0 0 1 * MON', 'at 00:00 on day 1 of the month or on Monday'],
    ['0 0 * 1-3 *', 'at 00:00 every day in January through March'],
    ['0,10,20,30,40,50 * * * * *', 'at second 0, 10, 20… of every minute'],
    ['*/10 * * * * *', 'at second 0, 10, 20… of every minute'],
    ['*/15 * * * * *', 'at second 0, 15, 30 and 45 of every minute'],
    ['* * * * * *', 'every second'],
    ['*/20 30 2 * * *', 'at 02:30:00, 02:30:20 and 02:30:40 every day'],
    ['* 30 2 * * *', 'every second of 02:30 every day'],
    ['5,35 * * * *', 'at minute 5 and 35 of every hour'],
    ['*/5 9-17 * * 1-5', 'every 5 minutes during hours 9 through 17 on Monday through Friday'],
    ['15 30 2 * * *', 'at 02:30:15 every day'],
  ];
  for (const [expr, text] of cases) {
    test(`"${expr}" -> "${text}"`, () => assert.equal(describeText(expr), text));
  }
});

describe('time zones', () => {
  test('isValidTimeZone accepts IANA names and UTC, rejects the rest', () => {
    for (const z of ['UTC', 'Etc/UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5']) {
      assert.equal(isValidTimeZone(z), true, z);
    }
    for (const z of ['', 'Mars/Base', '+02:00', '-0500', 'UTC+2', 'Europe/', '/Berlin', ' Europe/Berlin']) {
      assert.equal(isValidTimeZone(z), false, JSON.stringify(z));
    }
  });

  test('zoneOffsetMinutes and localDate follow the zone, not the host', () => {
    const t = Date.UTC(2026, 6, 1, 22, 30);
    assert.equal(zoneOffsetMinutes('UTC', t), 0);
    assert.equal(zoneOffsetMinutes('America/New_York', t), -240);
    assert.equal(zoneOffsetMinutes('Asia/Kolkata', t), 330);
    assert.equal(zoneOffsetMinutes('Pacific/Chatham', t), 765);
    assert.equal(localDate('America/New_York', t), '2026-07-01');
    assert.equal(localDate('Asia/Tokyo', t), '2026-07-02');
  });

  test('formatInZone uses the abbreviation when there is one, else the numeric offset', () => {
    assert.equal(formatInZone('America/New_York', Date.UTC(2026, 2, 8, 7)), '2026-03-08 03:00:00 EDT');
    assert.equal(formatInZone('America/New_York', Date.UTC(2026, 2, 8, 6, 59, 59, 999)), '2026-03-08 01:59:59 EST');
    assert.equal(formatInZone('Asia/Kolkata', Date.UTC(2026, 0, 1)), '2026-01-01 05:30:00 +05:30');
    assert.equal(formatInZone('Pacific/Chatham', Date.UTC(2026, 0, 1)), '2026-01-01 13:45:00 +13:45');
    assert.equal(formatInZone('America/Sao_Paulo', Date.UTC(2026, 0, 1)), '2025-12-31 21:00:00 -03:00');
    assert.equal(formatInZone('UTC', Date.UTC(2026, 0, 1)), '2026-01-01 00:00:00 UTC');
  });

  test('dstChangesBetween lists the changes inside the range only (from exclusive, to inclusive)', () => {
    const spring = Date.UTC(2026, 2, 8, 7);
    const fall = Date.UTC(2026, 10, 1, 6);
    assert.deepEqual(dstChangesBetween('America/New_York', Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1)), [
      { atMs: spring, offsetBeforeMin: -300, offsetAfterMin: -240 },
      { atMs: fall, offsetBeforeMin: -240, offsetAfterMin: -300 },
    ]);
    assert.deepEqual(dstChangesBetween('America/New_York', spring, fall - 1), []);
    assert.equal(dstChangesBetween('America/New_York', spring - 1, spring).length, 1);
    assert.deepEqual(dstChangesBetween('UTC', Date.UTC(2000, 0, 1), Date.UTC(2030, 0, 1)), []);
    assert.deepEqual(dstChangesBetween('Europe/Berlin', Date.UTC(2026, 5, 1), Date.UTC(2026, 4, 1)), []);
  });

  test('an unknown zone is a RangeError that names it', () => {
    const p = parseCron('0 0 * * *');
    assert.ok(p.ok);
    assert.throws(() => zoneOffsetMinutes('Mars/Base', 0), { name: 'RangeError', message: /"Mars\/Base"/ });
  });

  test('tzdataVersion reports the tz database Node was built with', () => {
    assert.match(tzdataVersion(), /^(\d{4}[a-z]|unknown)$/);
  });
});
