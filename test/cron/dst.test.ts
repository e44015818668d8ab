/**
 * Daylight-saving behaviour pinned to exact instants. Every expected instant below was worked out by hand from the
 * zone's published change (the local times are in the comments) and is written literally, so a regression in the
 * evaluator or a surprise in tzdata shows up as a failing line, not as a recomputed expectation.
 *
 * Fixed-hour expressions (hour field not starting with *): a skipped local time fires once at the change instant;
 * a repeated local time fires only at its first occurrence. Wildcard-hour expressions fire at every real instant
 * whose local time matches. tz-independence.test.ts re-runs this file under several host TZ values.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { dstChangesBetween, fireTimesBetween, nextFire, parseCron } from '../../src/model/cron/index.js';

interface Pin {
  readonly zone: string;
  readonly expr: string;
  /** Chain nextFire from this instant (exclusive). */
  readonly after: string;
  /** The exact next fire instants, in order (UTC). */
  readonly fires: readonly string[];
  /** Instants that look plausible but must not fire (second copies of a repeated hour, gap times). */
  readonly never?: readonly string[];
  readonly why: string;
}

function check(p: Pin): void {
  test(`${p.zone} "${p.expr}": ${p.why}`, () => {
    const parsed = parseCron(p.expr);
    assert.ok(parsed.ok, `parse ${p.expr}`);
    const got: string[] = [];
    let at = Date.parse(p.after);
    for (let i = 0; i < p.fires.length; i++) {
      const next = nextFire(parsed.cron, p.zone, at);
      assert.notEqual(next, null);
      got.push(new Date(next ?? 0).toISOString());
      at = next ?? 0;
    }
    assert.deepEqual(got, p.fires.map((s) => new Date(s).toISOString()));
    const last = Date.parse(p.fires[p.fires.length - 1] ?? p.after);
    const all = fireTimesBetween(parsed.cron, p.zone, Date.parse(p.after), last, 1000).map((t) => new Date(t).toISOString());
    assert.deepEqual(all, got, 'fireTimesBetween agrees with chained nextFire');
    for (const n of p.never ?? []) assert.ok(!all.includes(new Date(n).toISOString()), `${n} must not fire`);
  });
}

function changes(zone: string, year: number): string[] {
  return dstChangesBetween(zone, Date.UTC(year, 0, 1), Date.UTC(year + 1, 0, 1)).map(
    (c) => `${new Date(c.atMs).toISOString()} ${c.offsetBeforeMin}->${c.offsetAfterMin}`,
  );
}

describe('America/New_York (2026: Mar 8 02:00 EST -> 03:00 EDT, Nov 1 02:00 EDT -> 01:00 EST)', () => {
  test('offset changes', () => {
    assert.deepEqual(changes('America/New_York', 2026), [
      '2026-03-08T07:00:00.000Z -300->-240',
      '2026-11-01T06:00:00.000Z -240->-300',
    ]);
  });
  check({
    zone: 'America/New_York',
    expr: '30 2 * * *',
    after: '2026-03-07T00:00:00Z',
    // Mar 7 02:30 EST; Mar 8 02:30 does not exist -> 03:00 EDT; Mar 9 02:30 EDT
    fires: ['2026-03-07T07:30:00Z', '2026-03-08T07:00:00Z', '2026-03-09T06:30:00Z'],
    never: ['2026-03-08T07:30:00Z'],
    why: 'a time skipped by spring-forward fires once at the end of the gap',
  });
  check({
    zone: 'America/New_York',
    expr: '0 1 * * *',
    after: '2026-03-07T00:00:00Z',
    fires: ['2026-03-07T06:00:00Z', '2026-03-08T06:00:00Z', '2026-03-09T05:00:00Z'],
    why: 'a time before the gap is unaffected',
  });
  check({
    zone: 'America/New_York',
    expr: '* 2 * * *',
    after: '2026-03-08T05:00:00Z',
    // all sixty 02:xx minutes are skipped and collapse into 03:00 EDT; next day 02:00 EDT, 02:01 EDT
    fires: ['2026-03-08T07:00:00Z', '2026-03-09T06:00:00Z', '2026-03-09T06:01:00Z'],
    never: ['2026-03-08T07:01:00Z'],
    why: 'several skipped times collapse into one fire at the end of the gap',
  });
  check({
    zone: 'America/New_York',
    expr: '*/30 * * * *',
    after: '2026-03-08T05:45:00Z',
    // 01:00 EST, 01:30 EST, 03:00 EDT, 03:30 EDT
    fires: ['2026-03-08T06:00:00Z', '2026-03-08T06:30:00Z', '2026-03-08T07:00:00Z', '2026-03-08T07:30:00Z'],
    why: 'a wildcard-hour expression has no fires inside the gap',
  });
  check({
    zone: 'America/New_York',
    expr: '0 * * * *',
    after: '2026-03-08T05:30:00Z',
    fires: ['2026-03-08T06:00:00Z', '2026-03-08T07:00:00Z', '2026-03-08T08:00:00Z'],
    why: 'hourly goes from 01:00 EST straight to 03:00 EDT',
  });
  check({
    zone: 'America/New_York',
    expr: '30 1 * * *',
    after: '2026-10-31T00:00:00Z',
    // Oct 31 01:30 EDT; Nov 1 01:30 EDT (first copy only); Nov 2 01:30 EST
    fires: ['2026-10-31T05:30:00Z', '2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z'],
    never: ['2026-11-01T06:30:00Z'],
    why: 'a time repeated by fall-back fires only at its first occurrence',
  });
  check({
    zone: 'America/New_York',
    expr: '0 1 * * *',
    after: '2026-10-31T00:00:00Z',
    fires: ['2026-10-31T05:00:00Z', '2026-11-01T05:00:00Z', '2026-11-02T06:00:00Z'],
    never: ['2026-11-01T06:00:00Z'],
    why: 'the start of the repeated hour fires once, in daylight time',
  });
  check({
    zone: 'America/New_York',
    expr: '30 2 * * *',
    after: '2026-10-31T00:00:00Z',
    fires: ['2026-10-31T06:30:00Z', '2026-11-01T07:30:00Z', '2026-11-02T07:30:00Z'],
    why: 'a time after the repeated hour fires once, in standard time',
  });
  check({
    zone: 'America/New_York',
    expr: '*/30 * * * *',
    after: '2026-11-01T04:45:00Z',
    // 01:00 EDT, 01:30 EDT, 01:00 EST, 01:30 EST, 02:00 EST
    fires: [
      '2026-11-01T05:00:00Z',
      '2026-11-01T05:30:00Z',
      '2026-11-01T06:00:00Z',
      '2026-11-01T06:30:00Z',
      '2026-11-01T07:00:00Z',
    ],
    why: 'a wildcard-hour expression fires in both copies of the repeated hour',
  });
  check({
    zone: 'America/New_York',
    expr: '0 * * * *',
    after: '2026-11-01T04:30:00Z',
    fires: ['2026-11-01T05:00:00Z', '2026-11-01T06:00:00Z', '2026-11-01T07:00:00Z'],
    why: 'hourly fires at 01:00 EDT and again at 01:00 EST',
  });
});

describe('Europe/London (2026: Mar 29 01:00 GMT -> 02:00 BST, Oct 25 02:00 BST -> 01:00 GMT)', () => {
  test('offset changes', () => {
    assert.deepEqual(changes('Europe/London', 2026), [
      '2026-03-29T01:00:00.000Z 0->60',
      '2026-10-25T01:00:00.000Z 60->0',
    ]);
  });
  check({
    zone: 'Europe/London',
    expr: '30 1 * * *',
    after: '2026-03-28T00:00:00Z',
    // Mar 28 01:30 GMT; Mar 29 01:30 skipped -> 02:00 BST; Mar 30 01:30 BST
    fires: ['2026-03-28T01:30:00Z', '2026-03-29T01:00:00Z', '2026-03-30T00:30:00Z'],
    never: ['2026-03-29T00:30:00Z', '2026-03-29T01:30:00Z'],
    why: 'a time skipped by spring-forward fires once at the end of the gap',
  });
  check({
    zone: 'Europe/London',
    expr: '0 1 * * *',
    after: '2026-03-28T00:00:00Z',
    fires: ['2026-03-28T01:00:00Z', '2026-03-29T01:00:00Z', '2026-03-30T00:00:00Z'],
    why: 'the first skipped second maps to the change instant',
  });
  check({
    zone: 'Europe/London',
    expr: '30 2 * * *',
    after: '2026-03-28T12:00:00Z',
    fires: ['2026-03-29T01:30:00Z', '2026-03-30T01:30:00Z'],
    why: 'a time after the gap is in summer time',
  });
  check({
    zone: 'Europe/London',
    expr: '*/30 * * * *',
    after: '2026-03-29T00:15:00Z',
    // 00:30 GMT, 02:00 BST, 02:30 BST
    fires: ['2026-03-29T00:30:00Z', '2026-03-29T01:00:00Z', '2026-03-29T01:30:00Z'],
    why: 'a wildcard-hour expression has no fires inside the gap',
  });
  check({
    zone: 'Europe/London',
    expr: '30 1 * * *',
    after: '2026-10-24T00:00:00Z',
    // Oct 24 01:30 BST; Oct 25 01:30 BST (first copy); Oct 26 01:30 GMT
    fires: ['2026-10-24T00:30:00Z', '2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z'],
    never: ['2026-10-25T01:30:00Z'],
    why: 'a time repeated by fall-back fires only at its first occurrence',
  });
  check({
    zone: 'Europe/London',
    expr: '0 1 * * *',
    after: '2026-10-23T12:00:00Z',
    fires: ['2026-10-24T00:00:00Z', '2026-10-25T00:00:00Z', '2026-10-26T01:00:00Z'],
    never: ['2026-10-25T01:00:00Z'],
    why: 'the start of the repeated hour fires once, in summer time',
  });
  check({
    zone: 'Europe/London',
    expr: '*/30 * * * *',
    after: '2026-10-24T23:45:00Z',
    // 01:00 BST, 01:30 BST, 01:00 GMT, 01:30 GMT, 02:00 GMT
    fires: [
      '2026-10-25T00:00:00Z',
      '2026-10-25T00:30:00Z',
      '2026-10-25T01:00:00Z',
      '2026-10-25T01:30:00Z',
      '2026-10-25T02:00:00Z',
    ],
    why: 'a wildcard-hour expression fires in both copies of the repeated hour',
  });
});

describe('Europe/Berlin (2026: Mar 29 02:00 CET -> 03:00 CEST, Oct 25 03:00 CEST -> 02:00 CET)', () => {
  test('offset changes', () => {
    assert.deepEqual(changes('Europe/Berlin', 2026), [
      '2026-03-29T01:00:00.000Z 60->120',
      '2026-10-25T01:00:00.000Z 120->60',
    ]);
  });
  check({
    zone: 'Europe/Berlin',
    expr: '30 2 * * *',
    after: '2026-03-28T00:00:00Z',
    // Mar 28 02:30 CET; Mar 29 skipped -> 03:00 CEST; Mar 30 02:30 CEST
    fires: ['2026-03-28T01:30:00Z', '2026-03-29T01:00:00Z', '2026-03-30T00:30:00Z'],
    never: ['2026-03-29T01:30:00Z'],
    why: 'a time skipped by spring-forward fires once at the end of the gap',
  });
  check({
    zone: 'Europe/Berlin',
    expr: '0 1 * * *',
    after: '2026-03-28T00:00:00Z',
    fires: ['2026-03-29T00:00:00Z', '2026-03-29T23:00:00Z'],
    why: 'a time before the gap is unaffected',
  });
  check({
    zone: 'Europe/Berlin',
    expr: '*/30 * * * *',
    after: '2026-03-29T00:15:00Z',
    // 01:30 CET, 03:00 CEST, 03:30 CEST
    fires: ['2026-03-29T00:30:00Z', '2026-03-29T01:00:00Z', '2026-03-29T01:30:00Z'],
    why: 'a wildcard-hour expression has no fires inside the gap',
  });
  check({
    zone: 'Europe/Berlin',
    expr: '30 2 * * *',
    after: '2026-10-24T00:00:00Z',
    // Oct 24 02:30 CEST; Oct 25 02:30 CEST (first copy); Oct 26 02:30 CET
    fires: ['2026-10-24T00:30:00Z', '2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z'],
    never: ['2026-10-25T01:30:00Z'],
    why: 'a time repeated by fall-back fires only at its first occurrence',
  });
  check({
    zone: 'Europe/Berlin',
    expr: '0 * * * *',
    after: '2026-10-24T23:30:00Z',
    // 02:00 CEST, 02:00 CET, 03:00 CET
    fires: ['2026-10-25T00:00:00Z', '2026-10-25T01:00:00Z', '2026-10-25T02:00:00Z'],
    why: 'hourly fires in both copies of the repeated hour',
  });
});

describe('Australia/Sydney (2026: Apr 5 03:00 AEDT -> 02:00 AEST, Oct 4 02:00 AEST -> 03:00 AEDT)', () => {
  test('offset changes', () => {
    assert.deepEqual(changes('Australia/Sydney', 2026), [
      '2026-04-04T16:00:00.000Z 660->600',
      '2026-10-03T16:00:00.000Z 600->660',
    ]);
  });
  check({
    zone: 'Australia/Sydney',
    expr: '30 2 * * *',
    after: '2026-04-03T00:00:00Z',
    // Apr 4 02:30 AEDT; Apr 5 02:30 AEDT (first copy); Apr 6 02:30 AEST
    fires: ['2026-04-03T15:30:00Z', '2026-04-04T15:30:00Z', '2026-04-05T16:30:00Z'],
    never: ['2026-04-04T16:30:00Z'],
    why: 'southern autumn: a repeated time fires only at its first occurrence',
  });
  check({
    zone: 'Australia/Sydney',
    expr: '*/30 * * * *',
    after: '2026-04-04T14:45:00Z',
    // 02:00 AEDT, 02:30 AEDT, 02:00 AEST, 02:30 AEST, 03:00 AEST
    fires: [
      '2026-04-04T15:00:00Z',
      '2026-04-04T15:30:00Z',
      '2026-04-04T16:00:00Z',
      '2026-04-04T16:30:00Z',
      '2026-04-04T17:00:00Z',
    ],
    why: 'a wildcard-hour expression fires in both copies of the repeated hour',
  });
  check({
    zone: 'Australia/Sydney',
    expr: '30 2 * * *',
    after: '2026-10-02T00:00:00Z',
    // Oct 3 02:30 AEST; Oct 4 skipped -> 03:00 AEDT; Oct 5 02:30 AEDT
    fires: ['2026-10-02T16:30:00Z', '2026-10-03T16:00:00Z', '2026-10-04T15:30:00Z'],
    never: ['2026-10-03T16:30:00Z'],
    why: 'southern spring: a skipped time fires once at the end of the gap',
  });
  check({
    zone: 'Australia/Sydney',
    expr: '0 * * * *',
    after: '2026-10-03T14:30:00Z',
    // 01:00 AEST, 03:00 AEDT, 04:00 AEDT
    fires: ['2026-10-03T15:00:00Z', '2026-10-03T16:00:00Z', '2026-10-03T17:00:00Z'],
    why: 'hourly skips 02:00',
  });
});

describe('Australia/Lord_Howe (2026: Apr 5 02:00 +11 -> 01:30 +10:30, Oct 4 02:00 +10:30 -> 02:30 +11)', () => {
  test('offset changes are half an hour', () => {
    assert.deepEqual(changes('Australia/Lord_Howe', 2026), [
      '2026-04-04T15:00:00.000Z 660->630',
      '2026-10-03T15:30:00.000Z 630->660',
    ]);
  });
  check({
    zone: 'Australia/Lord_Howe',
    expr: '30 1 * * *',
    after: '2026-04-03T00:00:00Z',
    // Apr 4 01:30 +11; Apr 5 01:30 +11 (first copy); Apr 6 01:30 +10:30
    fires: ['2026-04-03T14:30:00Z', '2026-04-04T14:30:00Z', '2026-04-05T15:00:00Z'],
    never: ['2026-04-04T15:00:00Z'],
    why: 'a time in the repeated half hour fires only at its first occurrence',
  });
  check({
    zone: 'Australia/Lord_Howe',
    expr: '*/30 * * * *',
    after: '2026-04-04T13:45:00Z',
    // 01:00 +11, 01:30 +11, 01:30 +10:30, 02:00 +10:30, 02:30 +10:30
    fires: [
      '2026-04-04T14:00:00Z',
      '2026-04-04T14:30:00Z',
      '2026-04-04T15:00:00Z',
      '2026-04-04T15:30:00Z',
      '2026-04-04T16:00:00Z',
    ],
    why: 'a wildcard-hour expression fires in both copies of the repeated half hour',
  });
  check({
    zone: 'Australia/Lord_Howe',
    expr: '0 * * * *',
    after: '2026-04-04T13:30:00Z',
    // 01:00 +11, then 02:00 +10:30 (02:00 +11 is never shown: the clock goes 01:59:59 -> 01:30)
    fires: ['2026-04-04T14:00:00Z', '2026-04-04T15:30:00Z', '2026-04-04T16:30:00Z'],
    why: 'hourly after a half-hour fall-back',
  });
  check({
    zone: 'Australia/Lord_Howe',
    expr: '0,15,30 2 * * *',
    after: '2026-10-03T15:00:00Z',
    // Oct 4 02:00 and 02:15 are skipped, 02:30 +11 is the change instant: one fire; then Oct 5 02:00 +11
    fires: ['2026-10-03T15:30:00Z', '2026-10-04T15:00:00Z'],
    never: ['2026-10-03T15:45:00Z'],
    why: 'skipped times and the first time after the gap collapse into one fire',
  });
  check({
    zone: 'Australia/Lord_Howe',
    expr: '0 2 * * *',
    after: '2026-10-02T00:00:00Z',
    fires: ['2026-10-02T15:30:00Z', '2026-10-03T15:30:00Z', '2026-10-04T15:00:00Z'],
    why: 'a time in the skipped half hour fires at the end of the gap',
  });
  check({
    zone: 'Australia/Lord_Howe',
    expr: '*/30 * * * *',
    after: '2026-10-03T14:45:00Z',
    // 01:30 +10:30, 02:30 +11, 03:00 +11
    fires: ['2026-10-03T15:00:00Z', '2026-10-03T15:30:00Z', '2026-10-03T16:00:00Z'],
    why: 'a wildcard-hour expression skips 02:00 only',
  });
});

describe('America/Sao_Paulo (2018: Feb 18 00:00 -02 -> Feb 17 23:00 -03, Nov 4 00:00 -03 -> 01:00 -02)', () => {
  test('offset changes at midnight', () => {
    assert.deepEqual(changes('America/Sao_Paulo', 2018), [
      '2018-02-18T02:00:00.000Z -120->-180',
      '2018-11-04T03:00:00.000Z -180->-120',
    ]);
  });
  check({
    zone: 'America/Sao_Paulo',
    expr: '0 0 * * *',
    after: '2018-11-02T12:00:00Z',
    // Nov 3 00:00 -03; Nov 4 00:00 does not exist -> 01:00 -02; Nov 5 00:00 -02
    fires: ['2018-11-03T03:00:00Z', '2018-11-04T03:00:00Z', '2018-11-05T02:00:00Z'],
    why: 'midnight that does not exist fires at 01:00 on the same day',
  });
  check({
    zone: 'America/Sao_Paulo',
    expr: '30 0 * * *',
    after: '2018-11-02T12:00:00Z',
    fires: ['2018-11-03T03:30:00Z', '2018-11-04T03:00:00Z', '2018-11-05T02:30:00Z'],
    never: ['2018-11-04T03:30:00Z'],
    why: 'a skipped 00:30 fires at the end of the gap',
  });
  check({
    zone: 'America/Sao_Paulo',
    expr: '*/30 * * * *',
    after: '2018-11-04T02:15:00Z',
    // Nov 3 23:30 -03, Nov 4 01:00 -02, 01:30 -02
    fires: ['2018-11-04T02:30:00Z', '2018-11-04T03:00:00Z', '2018-11-04T03:30:00Z'],
    why: 'a wildcard-hour expression has no fires inside the gap',
  });
  check({
    zone: 'America/Sao_Paulo',
    expr: '30 23 * * *',
    after: '2018-02-16T12:00:00Z',
    // Feb 16 23:30 -02; Feb 17 23:30 -02 (first copy); Feb 18 23:30 -03
    fires: ['2018-02-17T01:30:00Z', '2018-02-18T01:30:00Z', '2018-02-19T02:30:00Z'],
    never: ['2018-02-18T02:30:00Z'],
    why: 'the repeated last hour of the day fires only at its first occurrence',
  });
  check({
    zone: 'America/Sao_Paulo',
    expr: '*/30 * * * *',
    after: '2018-02-18T00:45:00Z',
    // Feb 17 23:00 -02, 23:30 -02, 23:00 -03, 23:30 -03, Feb 18 00:00 -03
    fires: [
      '2018-02-18T01:00:00Z',
      '2018-02-18T01:30:00Z',
      '2018-02-18T02:00:00Z',
      '2018-02-18T02:30:00Z',
      '2018-02-18T03:00:00Z',
    ],
    why: 'a wildcard-hour expression fires in both copies of the repeated hour',
  });
});

describe('America/Havana (2026: Mar 8 00:00 CST -> 01:00 CDT, Nov 1 01:00 CDT -> 00:00 CST)', () => {
  test('offset changes at midnight', () => {
    assert.deepEqual(changes('America/Havana', 2026), [
      '2026-03-08T05:00:00.000Z -300->-240',
      '2026-11-01T05:00:00.000Z -240->-300',
    ]);
  });
  check({
    zone: 'America/Havana',
    expr: '0 0 * * *',
    after: '2026-03-07T00:00:00Z',
    // Mar 7 00:00 CST; Mar 8 00:00 skipped -> 01:00 CDT; Mar 9 00:00 CDT
    fires: ['2026-03-07T05:00:00Z', '2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z'],
    why: 'a skipped midnight fires at the end of the gap',
  });
  check({
    zone: 'America/Havana',
    expr: '0 * * * *',
    after: '2026-03-08T03:30:00Z',
    // Mar 7 23:00 CST, Mar 8 01:00 CDT, 02:00 CDT
    fires: ['2026-03-08T04:00:00Z', '2026-03-08T05:00:00Z', '2026-03-08T06:00:00Z'],
    why: 'hourly skips the missing midnight',
  });
  check({
    zone: 'America/Havana',
    expr: '30 0 * * *',
    after: '2026-10-31T00:00:00Z',
    // Oct 31 00:30 CDT; Nov 1 00:30 CDT (first copy); Nov 2 00:30 CST
    fires: ['2026-10-31T04:30:00Z', '2026-11-01T04:30:00Z', '2026-11-02T05:30:00Z'],
    never: ['2026-11-01T05:30:00Z'],
    why: 'a repeated time fires only at its first occurrence',
  });
  check({
    zone: 'America/Havana',
    expr: '*/30 * * * *',
    after: '2026-11-01T03:45:00Z',
    // 00:00 CDT, 00:30 CDT, 00:00 CST, 00:30 CST, 01:00 CST
    fires: [
      '2026-11-01T04:00:00Z',
      '2026-11-01T04:30:00Z',
      '2026-11-01T05:00:00Z',
      '2026-11-01T05:30:00Z',
      '2026-11-01T06:00:00Z',
    ],
    why: 'a wildcard-hour expression fires in both copies of the repeated hour',
  });
});

describe('Asia/Kolkata (+05:30) and Asia/Kathmandu (+05:45): no daylight saving', () => {
  test('no offset changes', () => {
    assert.deepEqual(changes('Asia/Kolkata', 2026), []);
    assert.deepEqual(changes('Asia/Kathmandu', 2026), []);
  });
  check({
    zone: 'Asia/Kolkata',
    expr: '30 2 * * *',
    after: '2026-03-07T00:00:00Z',
    fires: ['2026-03-07T21:00:00Z', '2026-03-08T21:00:00Z', '2026-03-09T21:00:00Z'],
    why: 'a daily time is 21:00 UTC the evening before',
  });
  check({
    zone: 'Asia/Kolkata',
    expr: '0 * * * *',
    after: '2026-03-08T00:00:00Z',
    fires: ['2026-03-08T00:30:00Z', '2026-03-08T01:30:00Z'],
    why: 'local hours start at half past UTC hours',
  });
  check({
    zone: 'Asia/Kathmandu',
    expr: '0 0 * * *',
    after: '2026-01-01T00:00:00Z',
    fires: ['2026-01-01T18:15:00Z', '2026-01-02T18:15:00Z'],
    why: 'midnight is 18:15 UTC',
  });
});

describe('America/Santiago (2026: Apr 5 00:00 -03 -> Apr 4 23:00 -04, Sep 6 00:00 -04 -> 01:00 -03)', () => {
  test('offset changes', () => {
    assert.deepEqual(changes('America/Santiago', 2026), [
      '2026-04-05T03:00:00.000Z -180->-240',
      '2026-09-06T04:00:00.000Z -240->-180',
    ]);
  });
  check({
    zone: 'America/Santiago',
    expr: '30 23 * * *',
    after: '2026-04-03T12:00:00Z',
    // Apr 3 23:30 -03; Apr 4 23:30 -03 (first copy); Apr 5 23:30 -04
    fires: ['2026-04-04T02:30:00Z', '2026-04-05T02:30:00Z', '2026-04-06T03:30:00Z'],
    never: ['2026-04-05T03:30:00Z'],
    why: 'a repeated late-evening time fires only at its first occurrence',
  });
  check({
    zone: 'America/Santiago',
    expr: '0 0 * * *',
    after: '2026-09-04T12:00:00Z',
    // Sep 5 00:00 -04; Sep 6 00:00 skipped -> 01:00 -03; Sep 7 00:00 -03
    fires: ['2026-09-05T04:00:00Z', '2026-09-06T04:00:00Z', '2026-09-07T03:00:00Z'],
    why: 'a skipped midnight fires at the end of the gap',
  });
  check({
    zone: 'America/Santiago',
    expr: '*/30 * * * *',
    after: '2026-09-06T03:15:00Z',
    // Sep 5 23:30 -04, Sep 6 01:00 -03, 01:30 -03
    fires: ['2026-09-06T03:30:00Z', '2026-09-06T04:00:00Z', '2026-09-06T04:30:00Z'],
    why: 'a wildcard-hour expression has no fires inside the gap',
  });
});

describe('Asia/Tehran (2021: Mar 22 00:00 +03:30 -> 01:00 +04:30, Sep 22 00:00 +04:30 -> Sep 21 23:00 +03:30)', () => {
  test('offset changes in 2021 and none after daylight saving was abolished', () => {
    assert.deepEqual(changes('Asia/Tehran', 2021), [
      '2021-03-21T20:30:00.000Z 210->270',
      '2021-09-21T19:30:00.000Z 270->210',
    ]);
    assert.deepEqual(changes('Asia/Tehran', 2023), []);
  });
  check({
    zone: 'Asia/Tehran',
    expr: '30 0 * * *',
    after: '2021-03-20T00:00:00Z',
    // Mar 21 00:30 +03:30; Mar 22 00:30 skipped -> 01:00 +04:30; Mar 23 00:30 +04:30
    fires: ['2021-03-20T21:00:00Z', '2021-03-21T20:30:00Z', '2021-03-22T20:00:00Z'],
    why: 'a skipped time fires at the end of the gap',
  });
  check({
    zone: 'Asia/Tehran',
    expr: '0 * * * *',
    after: '2021-03-21T19:15:00Z',
    // 23:00 +03:30, 01:00 +04:30, 02:00 +04:30
    fires: ['2021-03-21T19:30:00Z', '2021-03-21T20:30:00Z', '2021-03-21T21:30:00Z'],
    why: 'hourly skips the missing midnight',
  });
  check({
    zone: 'Asia/Tehran',
    expr: '30 23 * * *',
    after: '2021-09-20T00:00:00Z',
    // Sep 20 23:30 +04:30; Sep 21 23:30 +04:30 (first copy); Sep 22 23:30 +03:30
    fires: ['2021-09-20T19:00:00Z', '2021-09-21T19:00:00Z', '2021-09-22T20:00:00Z'],
    never: ['2021-09-21T20:00:00Z'],
    why: 'a repeated time fires only at its first occurrence',
  });
});

describe('Pacific/Chatham (2026: Apr 5 03:45 +13:45 -> 02:45 +12:45, Sep 27 02:45 +12:45 -> 03:45 +13:45)', () => {
  test('offset changes', () => {
    assert.deepEqual(changes('Pacific/Chatham', 2026), [
      '2026-04-04T14:00:00.000Z 825->765',
      '2026-09-26T14:00:00.000Z 765->825',
    ]);
  });
  check({
    zone: 'Pacific/Chatham',
    expr: '0 3 * * *',
    after: '2026-04-03T00:00:00Z',
    // Apr 4 03:00 +13:45; Apr 5 03:00 +13:45 (first copy); Apr 6 03:00 +12:45
    fires: ['2026-04-03T13:15:00Z', '2026-04-04T13:15:00Z', '2026-04-05T14:15:00Z'],
    never: ['2026-04-04T14:15:00Z'],
    why: 'a repeated time fires only at its first occurrence',
  });
  check({
    zone: 'Pacific/Chatham',
    expr: '*/30 * * * *',
    after: '2026-04-04T12:50:00Z',
    // 03:00 +13:45, 03:30 +13:45, 03:00 +12:45, 03:30 +12:45, 04:00 +12:45
    fires: [
      '2026-04-04T13:15:00Z',
      '2026-04-04T13:45:00Z',
      '2026-04-04T14:15:00Z',
      '2026-04-04T14:45:00Z',
      '2026-04-04T15:15:00Z',
    ],
    why: 'a wildcard-hour expression fires in both copies of the repeated hour',
  });
  check({
    zone: 'Pacific/Chatham',
    expr: '0 3 * * *',
    after: '2026-09-25T00:00:00Z',
    // Sep 26 03:00 +12:45; Sep 27 03:00 skipped -> 03:45 +13:45; Sep 28 03:00 +13:45
    fires: ['2026-09-25T14:15:00Z', '2026-09-26T14:00:00Z', '2026-09-27T13:15:00Z'],
    why: 'a skipped time fires at the end of the gap',
  });
  check({
    zone: 'Pacific/Chatham',
    expr: '*/30 * * * *',
    after: '2026-09-26T13:00:00Z',
    // 02:00 +12:45, 02:30 +12:45, (03:00 and 03:30 skipped), 04:00 +13:45
    fires: ['2026-09-26T13:15:00Z', '2026-09-26T13:45:00Z', '2026-09-26T14:15:00Z'],
    never: ['2026-09-26T14:00:00Z'],
    why: 'a wildcard-hour expression has no fires inside the gap',
  });
});

describe('seconds field across a change', () => {
  check({
    zone: 'America/New_York',
    expr: '*/20 59 1 * * *',
    after: '2026-11-01T05:58:00Z',
    // 01:59:00, :20, :40 EDT only; the EST copy of 01:59 does not fire; then Nov 2 01:59:00 EST
    fires: ['2026-11-01T05:59:00Z', '2026-11-01T05:59:20Z', '2026-11-01T05:59:40Z', '2026-11-02T06:59:00Z'],
    never: ['2026-11-01T06:59:00Z'],
    why: 'a fixed-hour expression with seconds fires only in the first copy',
  });
  check({
    zone: 'America/New_York',
    expr: '30 * * * * *',
    after: '2026-03-08T06:58:00Z',
    // 01:58:30 EST, 01:59:30 EST, 03:00:30 EDT
    fires: ['2026-03-08T06:58:30Z', '2026-03-08T06:59:30Z', '2026-03-08T07:00:30Z'],
    why: 'a wildcard-hour expression with seconds runs straight across the gap',
  });
});
