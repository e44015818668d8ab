/** A calendar date read in a time zone: the instants its day begins and ends there (DST days included). */
import { SECONDS_PER_DAY, daysFromCivil } from './civil.js';
import { zoneClock } from './zone.js';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `text` is a date alone (`2026-11-28`), with no time. */
export function isDateOnly(text: string): boolean {
  return DATE.test(text);
}

/**
 * `startMs`: the first instant of `date` in `zone` (00:00, or the first instant after a gap at midnight);
 * `endMs`: the last millisecond of that day (just before the next day's first instant). Null when `date` is
 * not a valid date.
 */
export function localDayBounds(zone: string, date: string): { startMs: number; endMs: number } | null {
  const m = DATE.exec(date);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const days = daysFromCivil(y, mo, d);
  // 2026-02-30 is no date: the day number would come back as another one.
  if (new Date(days * SECONDS_PER_DAY * 1000).toISOString().slice(0, 10) !== date) return null;
  const clock = zoneClock(zone);
  const start = clock.firstInstantOfWall(days * SECONDS_PER_DAY);
  const next = clock.firstInstantOfWall((days + 1) * SECONDS_PER_DAY);
  return { startMs: start * 1000, endMs: next * 1000 - 1 };
}
