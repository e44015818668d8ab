import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { parseCron } from '../../src/model/cron/index.js';
import type { CronExpr, CronField } from '../../src/model/cron/index.js';

function parsed(expr: string): CronExpr {
  const p = parseCron(expr);
  if (!p.ok) assert.fail(`${expr}: ${p.error.field}: ${p.error.message}`);
  return p.cron;
}

function rejected(expr: string): { field: CronField | 'expression'; message: string } {
  const p = parseCron(expr);
  if (p.ok) assert.fail(`${expr} should be rejected`);
  return p.error;
}

const range = (a: number, b: number, step = 1): number[] => {
  const out: number[] = [];
  for (let v = a; v <= b; v += step) out.push(v);
  return out;
};

describe('parsing valid expressions', () => {
  test('five fields have an implicit seconds field of 0', () => {
    const c = parsed('30 2 * * *');
    assert.equal(c.hasSeconds, false);
    assert.deepEqual(c.seconds, [0]);
    assert.deepEqual(c.minutes, [30]);
    assert.deepEqual(c.hours, [2]);
    assert.deepEqual(c.daysOfMonth, range(1, 31));
    assert.deepEqual(c.months, range(1, 12));
    assert.deepEqual(c.daysOfWeek, range(0, 6));
    assert.equal(c.hourMode, 'fixed-hour');
    assert.equal(c.source, '30 2 * * *');
  });

  test('six fields start with seconds', () => {
    const c = parsed('*/15 0 12 * * *');
    assert.equal(c.hasSeconds, true);
    assert.deepEqual(c.seconds, [0, 15, 30, 45]);
    assert.deepEqual(c.minutes, [0]);
    assert.deepEqual(c.hours, [12]);
  });

  test('ranges, steps, lists and their combinations', () => {
    assert.deepEqual(parsed('1-5 * * * *').minutes, [1, 2, 3, 4, 5]);
    assert.deepEqual(parsed('10-30/10 * * * *').minutes, [10, 20, 30]);
    assert.deepEqual(parsed('50/3 * * * *').minutes, [50, 53, 56, 59]);
    assert.deepEqual(parsed('5,1,3-4,1 * * * *').minutes, [1, 3, 4, 5]);
    assert.deepEqual(parsed('0 */6 * * *').hours, [0, 6, 12, 18]);
    assert.deepEqual(parsed('0 0 */10 * *').daysOfMonth, [1, 11, 21, 31]);
    assert.deepEqual(parsed('0 0 1 */5 *').months, [1, 6, 11]);
    assert.deepEqual(parsed('*/60 * * * *').minutes, [0]);
  });

  test('month and day names in any case, 7 and 0 are both Sunday', () => {
    assert.deepEqual(parsed('0 0 * jan-MAR,Dec *').months, [1, 2, 3, 12]);
    assert.deepEqual(parsed('0 0 * * Mon-fri').daysOfWeek, [1, 2, 3, 4, 5]);
    assert.deepEqual(parsed('0 0 * * 7').daysOfWeek, [0]);
    assert.deepEqual(parsed('0 0 * * 5-7').daysOfWeek, [0, 5, 6]);
    assert.deepEqual(parsed('0 0 * * 0-7').daysOfWeek, range(0, 6));
    assert.deepEqual(parsed('0 0 * * SAT,SUN').daysOfWeek, [0, 6]);
    assert.deepEqual(parsed('0 0 * * */2').daysOfWeek, [0, 2, 4, 6]);
  });

  test('? means * in day-of-month and day-of-week', () => {
    const a = parsed('0 0 ? * MON');
    assert.deepEqual(a.daysOfMonth, range(1, 31));
    assert.equal(a.dayOfMonthStarred, true);
    const b = parsed('0 0 15 * ?');
    assert.deepEqual(b.daysOfWeek, range(0, 6));
    assert.equal(b.dayOfWeekStarred, true);
  });

  test('a field starting with * counts as unrestricted for the day-of-month/day-of-week rule (cron(8))', () => {
    const c = parsed('0 0 */2 * 1');
    assert.equal(c.dayOfMonthStarred, true);
    assert.equal(c.dayOfWeekStarred, false);
    const d = parsed('0 0 1,15 * 1-5');
    assert.equal(d.dayOfMonthStarred, false);
    assert.equal(d.dayOfWeekStarred, false);
  });

  test('an hour field starting with * makes a wildcard-hour expression', () => {
    assert.equal(parsed('*/15 * * * *').hourMode, 'wildcard-hour');
    assert.equal(parsed('0 */2 * * *').hourMode, 'wildcard-hour');
    assert.equal(parsed('0 0-23 * * *').hourMode, 'fixed-hour');
    assert.equal(parsed('0 9-17 * * *').hourMode, 'fixed-hour');
  });

  test('macros', () => {
    const cases: [string, string][] = [
      ['@yearly', '0 0 1 1 *'],
      ['@annually', '0 0 1 1 *'],
      ['@monthly', '0 0 1 * *'],
      ['@weekly', '0 0 * * 0'],
      ['@daily', '0 0 * * *'],
      ['@midnight', '0 0 * * *'],
      ['@hourly', '0 * * * *'],
      ['@DAILY', '0 0 * * *'],
    ];
    for (const [macro, same] of cases) {
      const m = parsed(macro);
      const { source: _a, ...mFields } = m;
      const { source: _b, ...sFields } = parsed(same);
      assert.deepEqual(mFields, sFields, macro);
      assert.equal(m.source, macro);
    }
    assert.equal(parsed('@hourly').hourMode, 'wildcard-hour');
  });

  test('February 29 is possible, and surrounding whitespace and tabs are fine', () => {
    assert.deepEqual(parsed('0 0 29 2 *').daysOfMonth, [29]);
    assert.deepEqual(parsed('  0\t0  31 1,4 *  ').months, [1, 4]);
    assert.deepEqual(parsed('0 0 30,31 2,3 *').months, [2, 3]);
  });

  test('an impossible day-of-month is fine when day-of-week is also restricted (either may match)', () => {
    assert.deepEqual(parsed('0 0 30 2 MON').daysOfWeek, [1]);
  });
});

describe('parsing invalid expressions names the field and says why', () => {
  const cases: [string, CronField | 'expression', string | RegExp][] = [
    ['', 'expression', /empty/],
    ['* * * *', 'expression', 'expected 5 or 6 fields, got 4'],
    ['* * * * * * *', 'expression', 'expected 5 or 6 fields, got 7'],
    ['61 * * * *', 'minute', '61 is out of range 0-59'],
    ['60 * * * * *', 'second', '60 is out of range 0-59'],
    ['0 24 * * *', 'hour', '24 is out of range 0-23'],
    ['0 0 0 * *', 'day-of-month', '0 is out of range 1-31'],
    ['0 0 32 * *', 'day-of-month', '32 is out of range 1-31'],
    ['0 0 * 13 *', 'month', '13 is out of range 1-12'],
    ['0 0 * * 8', 'day-of-week', '8 is out of range 0-7'],
    ['0 0 30 2 *', 'day-of-month', 'day 30 never occurs in February'],
    ['0 0 31 4,6,9,11 *', 'day-of-month', 'day 31 never occurs in April, June, September or November'],
    ['0 0 30,31 feb ?', 'day-of-month', 'days 30 and 31 never occur in February'],
    ['0 0 L * *', 'day-of-month', /L \(last day\) is not supported/],
    ['0 0 LW * *', 'day-of-month', /L \(last day\) is not supported/],
    ['0 0 * * 5L', 'day-of-week', /L \(last day\) is not supported/],
    ['0 0 15W * *', 'day-of-month', /W \(nearest weekday\) is not supported/],
    ['0 0 * * 5#3', 'day-of-week', /# \(the nth weekday of the month\) is not supported/],
    ['*/0 * * * *', 'minute', /step 0 .* must be at least 1/],
    ['*/61 * * * *', 'minute', /step 61 .* is larger than the range 0-59/],
    ['*/x * * * *', 'minute', /step "x" .* is not a whole number/],
    ['30-10 * * * *', 'minute', /range 30-10 goes backwards/],
    ['0 0 * * FRI-SUN', 'day-of-week', /range FRI-SUN goes backwards/],
    ['1,,2 * * * *', 'minute', /empty list item/],
    ['abc * * * *', 'minute', /"abc" is not a valid value; expected 0-59/],
    ['0 0 * MON *', 'month', /"MON" is not allowed in month; expected 1-12 or JAN-DEC/],
    ['0 0 * * JAN', 'day-of-week', /"JAN" is not allowed in day-of-week/],
    ['? * * * *', 'minute', /\? is only allowed in day-of-month and day-of-week/],
    ['0 0 ?,1 * *', 'day-of-month', /\? must stand alone/],
    ['1-2-3 * * * *', 'minute', /not a valid range/],
    ['-5 * * * *', 'minute', /missing a value/],
    ['0 0 * * 1.5', 'day-of-week', /"1.5" is not a valid value/],
    ['@reboot', 'expression', /@reboot is not a time/],
    ['@every 5m', 'expression', /unknown macro "@every 5m"/],
    ['H * * * *', 'minute', /"H" is not a valid value/],
  ];
  for (const [expr, field, message] of cases) {
    test(`"${expr}" -> ${field}`, () => {
      const err = rejected(expr);
      assert.equal(err.field, field);
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
    });
  }
});

test('a parsed expression is frozen', () => {
  const c = parsed('0 0 * * *');
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.minutes));
});
