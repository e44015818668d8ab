/**
 * Parsing cron text into a CronExpr: the only way to make one, so evaluation can trust every set it holds
 * (values in range, at least one value per field, and a day-of-month that occurs in at least one month).
 */
import { MAX_DAYS_IN_MONTH } from './civil.js';

export type CronField = 'second' | 'minute' | 'hour' | 'day-of-month' | 'month' | 'day-of-week';

/**
 * How daylight saving applies (cron(8)): an hour field that starts with `*` makes a wildcard-hour expression,
 * which fires at every real instant whose wall time matches; any other hour field makes a fixed-hour expression,
 * which fires once per matching local date-time.
 */
export type HourMode = 'fixed-hour' | 'wildcard-hour';

export interface CronExpr {
  /** The text the user wrote, trimmed. */
  readonly source: string;
  /** True when the expression has six fields (a leading seconds field). */
  readonly hasSeconds: boolean;
  /** Sorted, distinct values. Without a seconds field, `seconds` is [0]. */
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  /** 1-31 */
  readonly daysOfMonth: readonly number[];
  /** 1-12 */
  readonly months: readonly number[];
  /** 0-6, 0 = Sunday (a 7 in the text is stored as 0). */
  readonly daysOfWeek: readonly number[];
  /** The day-of-month field starts with `*` or `?` (cron(8)'s DOM_STAR). */
  readonly dayOfMonthStarred: boolean;
  /** The day-of-week field starts with `*` or `?` (cron(8)'s DOW_STAR). */
  readonly dayOfWeekStarred: boolean;
  readonly hourMode: HourMode;
}

export type CronParse =
  | { ok: true; cron: CronExpr }
  | { ok: false; error: { field: CronField | 'expression'; message: string } };

interface FieldSpec {
  readonly field: CronField;
  readonly min: number;
  readonly max: number;
  readonly names?: Readonly<Record<string, number>>;
  /** How the field's allowed values read in a message. */
  readonly allowed: string;
}

const MONTH_NAMES: readonly string[] = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES: readonly string[] = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const SPECS: Readonly<Record<CronField, FieldSpec>> = {
  second: { field: 'second', min: 0, max: 59, allowed: '0-59' },
  minute: { field: 'minute', min: 0, max: 59, allowed: '0-59' },
  hour: { field: 'hour', min: 0, max: 23, allowed: '0-23' },
  'day-of-month': { field: 'day-of-month', min: 1, max: 31, allowed: '1-31' },
  month: {
    field: 'month',
    min: 1,
    max: 12,
    names: Object.fromEntries(MONTH_NAMES.map((n, i) => [n, i + 1])),
    allowed: '1-12 or JAN-DEC',
  },
  'day-of-week': {
    field: 'day-of-week',
    min: 0,
    max: 7,
    names: Object.fromEntries(DAY_NAMES.map((n, i) => [n, i])),
    allowed: '0-7 (0 and 7 are Sunday) or SUN-SAT',
  },
};

const FIVE: readonly CronField[] = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
const SIX: readonly CronField[] = ['second', ...FIVE];

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Full English month names, index 1-12 (shared with describe.ts). */
export const MONTH_LONG: readonly string[] = [
  '',
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
/** Full English day names, index 0-6 from Sunday. */
export const DAY_LONG: readonly string[] = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

class FieldError extends Error {}

export function parseCron(expr: string): CronParse {
  const source = expr.trim();
  if (source === '') return fail('expression', 'the expression is empty; expected 5 or 6 fields or a macro like @daily');
  let text = source;
  if (source.startsWith('@')) {
    const macro = MACROS[source.toLowerCase()];
    if (macro === undefined) {
      if (source.toLowerCase() === '@reboot') {
        return fail('expression', '@reboot is not a time; schedules need a time such as @daily or "0 3 * * *"');
      }
      return fail('expression', `unknown macro "${source}"; expected one of ${Object.keys(MACROS).join(', ')}`);
    }
    text = macro;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return fail('expression', `expected 5 or 6 fields, got ${parts.length}`);
  }
  const names = parts.length === 6 ? SIX : FIVE;
  const values: Partial<Record<CronField, number[]>> = {};
  const starred: Partial<Record<CronField, boolean>> = {};
  for (const [i, field] of names.entries()) {
    const part = parts[i] ?? '';
    try {
      values[field] = parseField(SPECS[field], part);
    } catch (e) {
      if (e instanceof FieldError) return fail(field, e.message);
      throw e;
    }
    starred[field] = part.startsWith('*') || part.startsWith('?');
  }
  const daysOfMonth = values['day-of-month'] ?? [];
  const months = values.month ?? [];
  const dayOfMonthStarred = starred['day-of-month'] === true;
  const dayOfWeekStarred = starred['day-of-week'] === true;
  // cron(8): when both day fields are restricted a day matches if either does, so any day-of-month is fine (the
  // weekdays still occur). Otherwise the day-of-month must occur in some month, or the expression never fires.
  if (dayOfWeekStarred || dayOfMonthStarred) {
    const occurs = daysOfMonth.some((d) => months.some((m) => d <= (MAX_DAYS_IN_MONTH[m] ?? 0)));
    if (!occurs) return fail('day-of-month', neverOccurs(daysOfMonth, months));
  }
  const cron: CronExpr = Object.freeze({
    source,
    hasSeconds: parts.length === 6,
    seconds: Object.freeze(values.second ?? [0]),
    minutes: Object.freeze(values.minute ?? []),
    hours: Object.freeze(values.hour ?? []),
    daysOfMonth: Object.freeze(daysOfMonth),
    months: Object.freeze(months),
    daysOfWeek: Object.freeze(values['day-of-week'] ?? []),
    dayOfMonthStarred,
    dayOfWeekStarred,
    hourMode: starred.hour === true ? 'wildcard-hour' : 'fixed-hour',
  });
  return { ok: true, cron };
}

function fail(field: CronField | 'expression', message: string): CronParse {
  return { ok: false, error: { field, message } };
}

function neverOccurs(days: readonly number[], months: readonly number[]): string {
  const dayWord = days.length === 1 ? 'day' : 'days';
  const verb = days.length === 1 ? 'occurs' : 'occur';
  return `${dayWord} ${joinWords(days.map(String), 'and')} never ${verb} in ${joinWords(
    months.map((m) => MONTH_LONG[m] ?? String(m)),
    'or',
  )}`;
}

/** "a", "a and b", "a, b and c" */
export function joinWords(words: readonly string[], conjunction: 'and' | 'or'): string {
  if (words.length <= 1) return words[0] ?? '';
  return `${words.slice(0, -1).join(', ')} ${conjunction} ${words[words.length - 1] ?? ''}`;
}

/** Sorted distinct values of one field, or a FieldError whose message says what is wrong and what is allowed. */
function parseField(spec: FieldSpec, text: string): number[] {
  const set = new Set<number>();
  const items = text.split(',');
  for (const item of items) {
    if (item === '') throw new FieldError(`"${text}" has an empty list item`);
    if (item.startsWith('?')) {
      if (spec.field !== 'day-of-month' && spec.field !== 'day-of-week') {
        throw new FieldError(`? is only allowed in day-of-month and day-of-week (where it means *)`);
      }
      if (item !== '?' || items.length > 1) throw new FieldError(`? must stand alone, got "${text}"`);
    }
    for (const v of parseItem(spec, item)) set.add(spec.field === 'day-of-week' && v === 7 ? 0 : v);
  }
  return [...set].sort((a, b) => a - b);
}

function parseItem(spec: FieldSpec, item: string): number[] {
  if (item.includes('#')) {
    throw new FieldError(`"${item}": # (the nth weekday of the month) is not supported`);
  }
  const slash = item.split('/');
  if (slash.length > 2) throw new FieldError(`"${item}" has more than one /`);
  const [base = '', stepText] = slash;
  let lo: number;
  let hi: number;
  if (base === '*' || base === '?') {
    lo = spec.min;
    hi = spec.field === 'day-of-week' ? 6 : spec.max;
  } else {
    const dash = base.split('-');
    if (dash.length > 2) throw new FieldError(`"${item}" is not a valid range; write a-b`);
    lo = parseValue(spec, dash[0] ?? '', item);
    if (dash.length === 2) {
      hi = parseValue(spec, dash[1] ?? '', item);
      if (lo > hi) {
        throw new FieldError(`range ${base} goes backwards; the first value must not be greater than the second`);
      }
    } else {
      // `a/n` means from a to the end of the field (7 in day-of-week, so `1/3` is Monday, Thursday and Sunday,
      // as in cronie); a lone `a` is just a.
      hi = stepText === undefined ? lo : spec.max;
    }
  }
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText)) throw new FieldError(`step "${stepText}" in "${item}" is not a whole number`);
    step = Number(stepText);
    const size = spec.field === 'day-of-week' ? 7 : spec.max - spec.min + 1;
    if (step < 1) throw new FieldError(`step ${step} in "${item}" must be at least 1`);
    if (step > size) throw new FieldError(`step ${step} in "${item}" is larger than the range ${spec.allowed}`);
  }
  const out: number[] = [];
  for (let v = lo; v <= hi; v += step) out.push(v);
  return out;
}

function parseValue(spec: FieldSpec, token: string, item: string): number {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    if (n < spec.min || n > spec.max) throw new FieldError(`${n} is out of range ${spec.min}-${spec.max}`);
    return n;
  }
  const upper = token.toUpperCase();
  const named = spec.names?.[upper];
  if (named !== undefined) return named;
  if (upper === 'L' || upper === 'LW' || /^\d+L$/.test(upper) || /^L-\d+$/.test(upper)) {
    throw new FieldError(`"${item}": L (last day) is not supported`);
  }
  if (/^\d+W$/.test(upper)) throw new FieldError(`"${item}": W (nearest weekday) is not supported`);
  if (token === '') throw new FieldError(`"${item}" is missing a value; expected ${spec.allowed}`);
  if (token === '*') throw new FieldError(`"${item}": * cannot be part of a range; use * or a-b`);
  if (MONTH_NAMES.includes(upper) || DAY_NAMES.includes(upper)) {
    throw new FieldError(`"${token}" is not allowed in ${spec.field}; expected ${spec.allowed}`);
  }
  throw new FieldError(`"${token}" is not a valid value; expected ${spec.allowed}`);
}
