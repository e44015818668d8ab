/**
 * Proleptic Gregorian calendar arithmetic on plain numbers, so that no code in this folder ever asks the host's
 * local time zone anything (Date's local-time methods would make results depend on the TZ of the machine).
 *
 * A "wall second" is a local date-time encoded as seconds since 1970-01-01 00:00:00 of the same calendar, as if
 * the wall clock were UTC. An "instant" is a real epoch second. instant + offset = wall second.
 */

export const SECONDS_PER_DAY = 86_400;

/** Days since 1970-01-01 of a civil date (month 1-12). Howard Hinnant's days_from_civil. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

export interface CivilDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** The civil date of a day number (inverse of daysFromCivil). */
export function civilFromDays(days: number): CivilDate {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** The longest each month can be (February 29 exists in leap years). Index 1-12. */
export const MAX_DAYS_IN_MONTH: readonly number[] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function daysInMonth(year: number, month: number): number {
  if (month === 2 && isLeapYear(year)) return 29;
  return MONTH_DAYS[month - 1] ?? 31;
}

/** 0 = Sunday … 6 = Saturday. 1970-01-01 was a Thursday. */
export function weekdayOfDays(days: number): number {
  return (((days + 4) % 7) + 7) % 7;
}

export interface WallTime extends CivilDate {
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

export function wallFromSeconds(wall: number): WallTime {
  const days = Math.floor(wall / SECONDS_PER_DAY);
  const sod = wall - days * SECONDS_PER_DAY;
  const { year, month, day } = civilFromDays(days);
  return { year, month, day, hour: Math.floor(sod / 3600), minute: Math.floor((sod % 3600) / 60), second: sod % 60 };
}

export function secondsFromWall(w: WallTime): number {
  return daysFromCivil(w.year, w.month, w.day) * SECONDS_PER_DAY + w.hour * 3600 + w.minute * 60 + w.second;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** 'YYYY-MM-DD' */
export function formatDate(w: CivilDate): string {
  return `${String(w.year).padStart(4, '0')}-${pad2(w.month)}-${pad2(w.day)}`;
}

/** 'HH:MM:SS' */
export function formatTime(w: WallTime): string {
  return `${pad2(w.hour)}:${pad2(w.minute)}:${pad2(w.second)}`;
}
