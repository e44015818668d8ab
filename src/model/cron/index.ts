/**
 * Cron expressions evaluated in IANA time zones with cron(8) daylight-saving rules (see docs/scheduling.md).
 *
 * Terms used in this folder:
 *   expression  what the user writes: 5 fields (minute hour day-of-month month day-of-week), 6 with a leading
 *               seconds field, or a macro (@daily…). parseCron turns it into a CronExpr; nothing else makes one.
 *   zone        an IANA time zone name ("Europe/Berlin", "UTC").
 *   instant     a real moment, epoch milliseconds in the API (always whole seconds for fire times).
 *   wall time   the local date and time a clock in the zone shows at an instant.
 *   offset      wall time minus instant; it changes at daylight-saving (and other) changes.
 *   fire        an instant at which a schedule produces a tick.
 *
 * No code here reads the host's local time zone: offsets come from Intl.DateTimeFormat with an explicit timeZone,
 * and calendar arithmetic is done on plain numbers (civil.ts).
 *
 *   parseCron(expr) -> { ok: true, cron } | { ok: false, error: { field, message } }
 *   nextFire(cron, zone, afterMs) -> the first fire instant strictly after afterMs, or null.
 *   fireTimesBetween(cron, zone, fromExclusiveMs, toInclusiveMs, limit) -> fire instants in the range.
 *   isValidTimeZone(zone), describeCron(cron), dstChangesBetween, zoneOffsetMinutes, localDate, formatInZone,
 *   tzdataVersion.
 *
 * nextFire and the zone helpers throw a RangeError for an unknown zone or an instant outside the years 1000-9999.
 */
export type { CronExpr, CronField, CronParse, HourMode } from './parse.js';
export { parseCron } from './parse.js';
export { nextFire, fireTimesBetween } from './next.js';
export { describeCron } from './describe.js';
export type { DstChange } from './zone.js';
export {
  dstChangesBetween,
  formatInZone,
  isValidTimeZone,
  localDate,
  tzdataVersion,
  zoneOffsetMinutes,
} from './zone.js';
