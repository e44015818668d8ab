/**
 * The naive half of evaluation: the next wall time (in wall seconds, see civil.ts) that matches an expression,
 * ignoring time zones. It jumps field by field (month, day, hour, minute, second) through lookup tables, so a
 * search costs at most a few dozen steps per month it passes.
 */
import { SECONDS_PER_DAY, civilFromDays, daysFromCivil, daysInMonth, weekdayOfDays } from './civil.js';
import type { CronExpr } from './parse.js';

export interface CompiledCron {
  readonly secondOk: Uint8Array;
  readonly minuteOk: Uint8Array;
  readonly hourOk: Uint8Array;
  readonly dayOfMonthOk: Uint8Array;
  readonly monthOk: Uint8Array;
  readonly dayOfWeekOk: Uint8Array;
  /** nextX[v] = the smallest allowed value >= v, or -1; one slot past the end holds -1. */
  readonly nextSecond: Int8Array;
  readonly nextMinute: Int8Array;
  readonly nextHour: Int8Array;
  readonly nextMonth: Int8Array;
  /** cron(8): both day fields restricted means a day matches if either does; otherwise both must match. */
  readonly eitherDay: boolean;
  /** Seconds after midnight of the first matching time of a day. */
  readonly firstTimeOfDay: number;
}

const compiled = new WeakMap<CronExpr, CompiledCron>();

function mask(values: readonly number[], size: number): Uint8Array {
  const m = new Uint8Array(size);
  for (const v of values) m[v] = 1;
  return m;
}

function nextTable(ok: Uint8Array): Int8Array {
  const t = new Int8Array(ok.length + 1).fill(-1);
  for (let v = ok.length - 1; v >= 0; v--) t[v] = ok[v] === 1 ? v : (t[v + 1] ?? -1);
  return t;
}

export function compile(cron: CronExpr): CompiledCron {
  const cached = compiled.get(cron);
  if (cached !== undefined) return cached;
  const secondOk = mask(cron.seconds, 60);
  const minuteOk = mask(cron.minutes, 60);
  const hourOk = mask(cron.hours, 24);
  const c: CompiledCron = {
    secondOk,
    minuteOk,
    hourOk,
    dayOfMonthOk: mask(cron.daysOfMonth, 32),
    monthOk: mask(cron.months, 13),
    dayOfWeekOk: mask(cron.daysOfWeek, 7),
    nextSecond: nextTable(secondOk),
    nextMinute: nextTable(minuteOk),
    nextHour: nextTable(hourOk),
    nextMonth: nextTable(mask(cron.months, 13)),
    eitherDay: !cron.dayOfMonthStarred && !cron.dayOfWeekStarred,
    firstTimeOfDay: (cron.hours[0] ?? 0) * 3600 + (cron.minutes[0] ?? 0) * 60 + (cron.seconds[0] ?? 0),
  };
  compiled.set(cron, c);
  return c;
}

export function dayMatches(c: CompiledCron, days: number, dayOfMonth: number): boolean {
  const dom = c.dayOfMonthOk[dayOfMonth] === 1;
  const dow = c.dayOfWeekOk[weekdayOfDays(days)] === 1;
  return c.eitherDay ? dom || dow : dom && dow;
}

/** Whether a wall time matches every field. */
export function wallMatches(c: CompiledCron, wall: number): boolean {
  const days = Math.floor(wall / SECONDS_PER_DAY);
  const sod = wall - days * SECONDS_PER_DAY;
  const { month, day } = civilFromDays(days);
  return (
    c.monthOk[month] === 1 &&
    dayMatches(c, days, day) &&
    c.hourOk[Math.floor(sod / 3600)] === 1 &&
    c.minuteOk[Math.floor((sod % 3600) / 60)] === 1 &&
    c.secondOk[sod % 60] === 1
  );
}

/** The first matching time of day at or after `sod` seconds after midnight, or -1. */
function nextTimeOfDay(c: CompiledCron, sod: number): number {
  const h = Math.floor(sod / 3600);
  const m = Math.floor((sod % 3600) / 60);
  const s = sod % 60;
  const firstSecond = c.nextSecond[0] ?? 0;
  const firstMinute = c.nextMinute[0] ?? 0;
  if (c.hourOk[h] === 1) {
    if (c.minuteOk[m] === 1) {
      const s2 = c.nextSecond[s] ?? -1;
      if (s2 >= 0) return h * 3600 + m * 60 + s2;
    }
    const m2 = c.nextMinute[m + 1] ?? -1;
    if (m2 >= 0) return h * 3600 + m2 * 60 + firstSecond;
  }
  const h2 = c.nextHour[h + 1] ?? -1;
  if (h2 >= 0) return h2 * 3600 + firstMinute * 60 + firstSecond;
  return -1;
}

/** The first day number >= `days` (and <= `lastDay`) whose date matches, or null. */
function nextDay(c: CompiledCron, days: number, lastDay: number): number | null {
  let { year, month, day } = civilFromDays(days);
  while (days <= lastDay) {
    if (c.monthOk[month] !== 1) {
      const m2 = c.nextMonth[month + 1] ?? -1;
      if (m2 >= 0) {
        month = m2;
      } else {
        year += 1;
        month = c.nextMonth[1] ?? 1;
      }
      day = 1;
      days = daysFromCivil(year, month, 1);
      continue;
    }
    const dim = daysInMonth(year, month);
    for (; day <= dim; day++, days++) {
      if (days > lastDay) return null;
      if (dayMatches(c, days, day)) return days;
    }
    // `days` is now the first of the next month.
    day = 1;
    if (month === 12) {
      month = 1;
      year += 1;
    } else {
      month += 1;
    }
  }
  return null;
}

/** The first matching wall second >= `wall`, or null if there is none up to `lastWall`. */
export function nextWallMatch(c: CompiledCron, wall: number, lastWall: number): number | null {
  const days = Math.floor(wall / SECONDS_PER_DAY);
  const sod = wall - days * SECONDS_PER_DAY;
  const { month, day } = civilFromDays(days);
  if (c.monthOk[month] === 1 && dayMatches(c, days, day)) {
    const t = nextTimeOfDay(c, sod);
    if (t >= 0) return t + days * SECONDS_PER_DAY <= lastWall ? t + days * SECONDS_PER_DAY : null;
  }
  const d = nextDay(c, days + 1, Math.floor(lastWall / SECONDS_PER_DAY));
  if (d === null) return null;
  const w = d * SECONDS_PER_DAY + c.firstTimeOfDay;
  return w <= lastWall ? w : null;
}
