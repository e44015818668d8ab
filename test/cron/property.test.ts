/**
 * Property test over random expressions, zones and years (seeded, so a failure reproduces). For every chain of
 * fires it checks, against an independent reading of wall times straight from Intl:
 *   - fires strictly increase and are whole seconds;
 *   - each fire matches the expression in the zone's wall time (first occurrence only, for fixed-hour), or is the
 *     end of a spring-forward gap in which a skipped wall time matched (fixed-hour);
 *   - nothing that should fire lies between consecutive fires (scanned minute by minute, or second by second for
 *     expressions with seconds, when the fires are close enough to scan);
 *   - in UTC (no daylight saving) the fires equal cron-parser's, used here only as an oracle.
 * It logs the average time per nextFire call (most zone-years are already cached by the dstChangesBetween call
 * that picks a start; a zone-year's first use costs about 370 Intl calls, shown as the slowest call).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CronExpressionParser } from 'cron-parser';

import { dstChangesBetween, nextFire, parseCron } from '../../src/model/cron/index.js';
import type { CronExpr } from '../../src/model/cron/index.js';

// Overridable for longer exploratory runs, e.g. CRON_PROPERTY_SEED=7 CRON_PROPERTY_CASES=20000 CRON_PROPERTY_ZONES=all.
const SEED = Number(process.env['CRON_PROPERTY_SEED'] ?? 20_260_308);
const CASES = Number(process.env['CRON_PROPERTY_CASES'] ?? 600);
const FIRST_YEAR = Number(process.env['CRON_PROPERTY_FIRST_YEAR'] ?? 1976);
const LAST_YEAR = Number(process.env['CRON_PROPERTY_LAST_YEAR'] ?? 2045);
const CHAIN = 20;

/** mulberry32 */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const CHOSEN_ZONES = [
  'UTC',
  'America/New_York',
  'Europe/London',
  'Europe/Berlin',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'America/Sao_Paulo',
  'America/Havana',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'America/Santiago',
  'Asia/Tehran',
  'Pacific/Chatham',
  'America/St_Johns',
  'Pacific/Apia',
  'Africa/Casablanca',
  'Antarctica/Troll',
  'Asia/Gaza',
];
const ZONES = process.env['CRON_PROPERTY_ZONES'] === 'all' ? Intl.supportedValuesOf('timeZone') : CHOSEN_ZONES;

// ---------- random expressions ----------

interface Gen {
  readonly int: (lo: number, hi: number) => number;
  readonly pick: <T>(xs: readonly T[]) => T;
  readonly chance: (p: number) => boolean;
}

function gen(rand: () => number): Gen {
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  return { int, pick: (xs) => xs[int(0, xs.length - 1)] as (typeof xs)[number], chance: (p) => rand() < p };
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** One restricted item (never starting with *). */
function item(g: Gen, lo: number, hi: number, name?: (v: number) => string): string {
  const v = (n: number): string => (name !== undefined && g.chance(0.3) ? name(n) : String(n));
  const a = g.int(lo, hi);
  switch (g.int(0, 3)) {
    case 0:
      return v(a);
    case 1: {
      const b = g.int(a, hi);
      return `${v(a)}-${v(b)}`;
    }
    case 2: {
      const b = g.int(a, hi);
      return `${v(a)}-${v(b)}/${g.int(1, Math.max(1, Math.floor((hi - lo) / 2)))}`;
    }
    default:
      return `${a}/${g.int(1, Math.max(1, Math.floor((hi - lo) / 2)))}`;
  }
}

function restricted(g: Gen, lo: number, hi: number, name?: (v: number) => string): string {
  const n = g.pick([1, 1, 1, 2, 3]);
  return Array.from({ length: n }, () => item(g, lo, hi, name)).join(',');
}

function field(g: Gen, lo: number, hi: number, pStar: number, pStep: number, name?: (v: number) => string): string {
  if (g.chance(pStar)) return '*';
  if (g.chance(pStep)) return `*/${g.int(1, Math.max(2, Math.floor((hi - lo + 1) / 2)))}`;
  return restricted(g, lo, hi, name);
}

/**
 * `hourField`, when given, replaces the random hour field (to aim fixed hours at a daylight-saving change);
 * `everyDay` makes the date fields * most of the time, so that a chain starting near a change reaches it.
 */
function randomExpression(g: Gen, hourField: string | undefined, everyDay: boolean): string {
  const second = field(g, 0, 59, 0.2, 0.3);
  const minute = field(g, 0, 59, 0.2, 0.35);
  const hour = hourField ?? field(g, 0, 23, 0.35, 0.2);
  const month = g.chance(everyDay ? 0.9 : 0.7) ? '*' : restricted(g, 1, 12, (m) => MONTHS[m - 1] ?? String(m));
  // cron-parser treats only a bare * or ? as unrestricted while cron(8) looks at the first character, so a `*/n`
  // day field is only combined with a bare * in the other one.
  let dom: string;
  let dow: string;
  switch (everyDay && g.chance(0.7) ? 0 : g.int(0, 5)) {
    case 0:
      [dom, dow] = ['*', '*'];
      break;
    case 1:
      [dom, dow] = [restricted(g, 1, 28), g.pick(['*', '?'])];
      break;
    case 2:
      [dom, dow] = [g.pick(['*', '?']), restricted(g, 0, 7, (d) => DAYS[d % 7] ?? String(d))];
      break;
    case 3:
      [dom, dow] = [restricted(g, 1, 31), restricted(g, 0, 6, (d) => DAYS[d] ?? String(d))];
      break;
    case 4:
      [dom, dow] = [`*/${g.int(2, 10)}`, '*'];
      break;
    default:
      [dom, dow] = ['*', `*/${g.int(2, 3)}`];
      break;
  }
  const five = `${minute} ${hour} ${dom} ${month} ${dow}`;
  return g.chance(0.3) ? `${second} ${five}` : five;
}

// ---------- an independent reading of wall time ----------

interface Wall {
  readonly sec: number; // wall seconds since 1970-01-01 as if UTC
  readonly month: number;
  readonly day: number;
  readonly dow: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function wallSeconds(zone: string, instant: number): number {
  let f = formats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(zone, f);
  }
  const [mo = 0, d = 0, y = 0, h = 0, mi = 0, s = 0] = (f.format(instant * 1000).match(/\d+/g) ?? []).map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
}

function wallOf(sec: number): Wall {
  const d = new Date(sec * 1000); // only UTC getters: wall seconds are encoded as UTC
  return {
    sec,
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    dow: d.getUTCDay(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

function matches(cron: CronExpr, w: Wall): boolean {
  const dom = cron.daysOfMonth.includes(w.day);
  const dow = cron.daysOfWeek.includes(w.dow);
  const dayOk = !cron.dayOfMonthStarred && !cron.dayOfWeekStarred ? dom || dow : dom && dow;
  return (
    dayOk &&
    cron.months.includes(w.month) &&
    cron.hours.includes(w.hour) &&
    cron.minutes.includes(w.minute) &&
    cron.seconds.includes(w.second)
  );
}

const offsetAt = (zone: string, t: number): number => wallSeconds(zone, t) - t;

/** An earlier instant (within 3 hours) showed the same wall time: t is in the second copy of a repeated time. */
function isRepeat(zone: string, t: number): boolean {
  const off = offsetAt(zone, t);
  for (let k = 1; k <= 6; k++) {
    const o2 = offsetAt(zone, t - k * 1800);
    const earlier = t + off - o2;
    if (earlier < t && offsetAt(zone, earlier) === o2) return true;
  }
  return false;
}

/** A later instant (within 3 hours) shows the same wall time: t is the first copy of a repeated time. */
function isRepeatedLater(zone: string, t: number): boolean {
  const off = offsetAt(zone, t);
  for (let k = 1; k <= 6; k++) {
    const o2 = offsetAt(zone, t + k * 1800);
    const later = t + off - o2;
    if (later > t && offsetAt(zone, later) === o2) return true;
  }
  return false;
}

/** When t ends a spring-forward gap, the wall seconds skipped (step apart); else []. */
function skippedBefore(zone: string, t: number, step: number): number[] {
  const before = wallSeconds(zone, t - 1);
  const at = wallSeconds(zone, t);
  const out: number[] = [];
  for (let w = Math.ceil((before + 1) / step) * step; w < at; w += step) out.push(w);
  return out;
}

function shouldFire(cron: CronExpr, zone: string, t: number, step: number): boolean {
  const w = wallOf(wallSeconds(zone, t));
  if (cron.hourMode === 'wildcard-hour') return matches(cron, w);
  if (matches(cron, w) && !isRepeat(zone, t)) return true;
  return skippedBefore(zone, t, step).some((s) => matches(cron, wallOf(s)));
}

/**
 * cron-parser for the expression. It refuses lists whose items overlap ("1-5,3"), which cron(8) accepts; only then
 * is each list field handed over as the plain list of its values.
 */
function oracleFor(expr: string, cron: CronExpr, start: number): ReturnType<typeof CronExpressionParser.parse> {
  const options = { currentDate: new Date(start), tz: 'UTC' };
  try {
    return CronExpressionParser.parse(expr, options);
  } catch (e) {
    if (!(e instanceof Error) || !/duplicate values/.test(e.message)) throw e;
  }
  const sets = cron.hasSeconds
    ? [cron.seconds, cron.minutes, cron.hours, cron.daysOfMonth, cron.months, cron.daysOfWeek]
    : [cron.minutes, cron.hours, cron.daysOfMonth, cron.months, cron.daysOfWeek];
  const text = expr
    .split(' ')
    .map((part, i) => (part.includes(',') ? (sets[i] ?? []).join(',') : part))
    .join(' ');
  return CronExpressionParser.parse(text, options);
}

// ---------- the test ----------

test('random expressions in random zones and years: increasing, matching, nothing skipped, equal to cron-parser in UTC', (t) => {
  const g = gen(prng(SEED));
  let calls = 0;
  let elapsedMs = 0;
  let compared = 0;
  let scannedGaps = 0;
  let gapFires = 0;
  let secondCopies = 0;
  let firstCopies = 0;
  let slowestMs = 0;
  for (let i = 0; i < CASES; i++) {
    const zone = i % 4 === 0 ? 'UTC' : g.pick(ZONES);
    const year = g.int(FIRST_YEAR, LAST_YEAR);
    let start = Date.UTC(year, g.int(0, 11), g.int(1, 28), g.int(0, 23), g.int(0, 59), g.int(0, 59));
    let hourField: string | undefined;
    let nearChange = false;
    const changes = dstChangesBetween(zone, Date.UTC(year, 0, 1), Date.UTC(year + 1, 0, 1));
    if (changes.length > 0 && g.chance(0.5)) {
      // Start just before one of the year's offset changes, where the rules matter, and sometimes aim a fixed
      // hour at it: the hour skipped (the one after the last wall time before a gap) or the one repeated.
      const change = g.pick(changes);
      nearChange = true;
      start = change.atMs - (g.chance(0.5) ? g.int(0, 3 * 3600) : g.int(0, 2 * 86_400)) * 1000;
      if (g.chance(0.4)) {
        const at = change.atMs / 1000;
        const skipped = (wallOf(wallSeconds(zone, at - 1)).hour + 1) % 24;
        const repeated = wallOf(wallSeconds(zone, at)).hour;
        hourField = [...new Set([skipped, repeated])].join(',');
      }
    }
    const expr = randomExpression(g, hourField, nearChange);
    const parsed = parseCron(expr);
    if (!parsed.ok) continue;
    const cron = parsed.cron;
    if (g.chance(0.1)) start += g.int(1, 999); // afterMs need not be a whole second
    const where = `${JSON.stringify(expr)} in ${zone} after ${new Date(start).toISOString()}`;

    const fires: number[] = [];
    let at = start;
    for (let k = 0; k < CHAIN; k++) {
      const t0 = performance.now();
      const next = nextFire(cron, zone, at);
      const took = performance.now() - t0;
      elapsedMs += took;
      slowestMs = Math.max(slowestMs, took);
      calls++;
      if (next === null) break;
      assert.ok(next > at, `${where}: fire ${k} is not after the previous one`);
      assert.ok(Number.isInteger(next / 1000), `${where}: fire ${k} is not a whole second`);
      fires.push(next);
      at = next;
    }
    assert.ok(fires.length > 0, `${where}: never fires`);

    // Each fire matches its wall time.
    for (const ms of fires) {
      const s = ms / 1000;
      const w = wallOf(wallSeconds(zone, s));
      const label = `${where}: ${new Date(ms).toISOString()}`;
      if (cron.hourMode === 'wildcard-hour') {
        assert.ok(matches(cron, w), `${label} does not match`);
      } else if (matches(cron, w)) {
        assert.ok(!isRepeat(zone, s), `${label} fires in the second copy of a repeated time`);
        if (isRepeatedLater(zone, s)) firstCopies++;
      } else {
        assert.ok(
          skippedBefore(zone, s, 1).some((x) => matches(cron, wallOf(x))),
          `${label} neither matches nor ends a gap with a matching skipped time`,
        );
        gapFires++;
      }
      if (cron.hourMode === 'wildcard-hour' && isRepeat(zone, s)) secondCopies++;
    }

    // Nothing that should fire was skipped between consecutive fires.
    const step = cron.seconds.length === 1 && cron.seconds[0] === 0 ? 60 : 1;
    const maxScan = step === 60 ? 1440 : 900; // one day of minutes, or 15 minutes of seconds
    let prev = Math.floor(start / 1000);
    for (const ms of fires) {
      const s = ms / 1000;
      const first = Math.floor(prev / step) * step + step;
      if ((s - first) / step <= maxScan) {
        scannedGaps++;
        for (let c = first; c < s; c += step) {
          assert.ok(!shouldFire(cron, zone, c, step), `${where}: ${new Date(c * 1000).toISOString()} was skipped`);
        }
      }
      prev = s;
    }

    // In UTC, cron-parser agrees.
    if (zone === 'UTC') {
      const oracle = oracleFor(expr, cron, start);
      const expected = fires.map(() => oracle.next().getTime());
      assert.deepEqual(
        fires.map((x) => new Date(x).toISOString()),
        expected.map((x) => new Date(x).toISOString()),
        `${where}: differs from cron-parser`,
      );
      compared++;
    }
  }
  const avg = elapsedMs / calls;
  t.diagnostic(
    `${calls} nextFire calls, average ${(avg * 1000).toFixed(1)} µs, slowest ${slowestMs.toFixed(2)} ms; ` +
      `${compared} chains compared with cron-parser; ${scannedGaps} intervals scanned; ${gapFires} fixed-hour ` +
      `fires at the end of a gap; ${firstCopies} fixed-hour fires in the first copy of a repeated time; ` +
      `${secondCopies} wildcard-hour fires in a second copy`,
  );
  console.log(`cron property test: average nextFire ${(avg * 1000).toFixed(1)} µs over ${calls} calls`);
  assert.ok(compared > 100, 'enough UTC chains were compared');
  assert.ok(gapFires > 0 && firstCopies > 0 && secondCopies > 0, 'daylight-saving cases were exercised');
});
