/** Short English descriptions of expressions, for schedule lists ("at 09:00 on Monday through Friday"). */
import { DAY_LONG, MONTH_LONG, joinWords } from './parse.js';
import type { CronExpr } from './parse.js';

/** At most this many clock times are listed ("at 09:00 and 17:30"); more are described field by field. */
const MAX_LISTED_TIMES = 4;
/** Lists longer than this are cut: "0, 10, 20…". */
const MAX_LIST_PIECES = 5;

export function describeCron(cron: CronExpr): string {
  const time = describeTime(cron);
  const days = describeDays(cron);
  const months = describeMonths(cron);
  return [time.text, days === '' && time.clock ? 'every day' : days, months].filter((s) => s !== '').join(' ');
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

function isAll(values: readonly number[], size: number): boolean {
  return values.length === size;
}

/** n when values are exactly first, first+n, first+2n… to the end of the field starting at its minimum. */
function stepOf(values: readonly number[], min: number, max: number): number | null {
  if (values.length < 2 || values[0] !== min) return null;
  const n = (values[1] ?? 0) - min;
  for (let i = 0; i < values.length; i++) if (values[i] !== min + i * n) return null;
  const last = values[values.length - 1] ?? 0;
  return last + n > max ? n : null;
}

/** "1 through 5 and 10", "0, 10, 20…" */
function listOf(values: readonly number[], name: (v: number) => string): string {
  const pieces: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === (values[j] ?? 0) + 1) j++;
    const a = values[i] ?? 0;
    const b = values[j] ?? 0;
    if (j - i >= 2) {
      pieces.push(`${name(a)} through ${name(b)}`);
      i = j + 1;
    } else {
      pieces.push(name(a));
      i += 1;
    }
  }
  if (pieces.length > MAX_LIST_PIECES) return `${pieces.slice(0, 3).join(', ')}…`;
  return joinWords(pieces, 'and');
}

function describeTime(cron: CronExpr): { text: string; clock: boolean } {
  const { seconds: S, minutes: M, hours: H } = cron;
  const onTheMinute = S.length === 1 && S[0] === 0;
  if (!isAll(H, 24) && H.length * M.length * S.length <= MAX_LISTED_TIMES) {
    return { text: `at ${clockTimes(H, M, onTheMinute ? null : S)}`, clock: true };
  }
  const minuteAndHour = describeMinuteAndHour(M, H);
  if (onTheMinute) return minuteAndHour;
  // Seconds read best as a list ("at second 0, 10, 20… of every minute"), steps included.
  if (isAll(S, 60) && isAll(M, 60) && isAll(H, 24)) return { text: 'every second', clock: false };
  const secondPart = isAll(S, 60) ? 'every second' : `at second ${listOf(S, String)}`;
  return { text: `${secondPart} of ${minuteAndHour.text.replace(/^at /, '')}`, clock: minuteAndHour.clock };
}

function clockTimes(H: readonly number[], M: readonly number[], S: readonly number[] | null): string {
  const times: string[] = [];
  for (const h of H) for (const m of M) for (const s of S ?? [0]) times.push(`${pad2(h)}:${pad2(m)}${S === null ? '' : `:${pad2(s)}`}`);
  return joinWords(times, 'and');
}

function describeMinuteAndHour(M: readonly number[], H: readonly number[]): { text: string; clock: boolean } {
  const hourAll = isAll(H, 24);
  if (!hourAll && H.length * M.length <= MAX_LISTED_TIMES) return { text: `at ${clockTimes(H, M, null)}`, clock: true };
  const hourStep = stepOf(H, 0, 23);
  if (M.length === 1 && M[0] === 0 && hourAll) return { text: 'every hour', clock: false };
  if (M.length === 1 && M[0] === 0 && hourStep !== null) return { text: `every ${hourStep} hours`, clock: false };
  if (isAll(M, 60) && hourAll) return { text: 'every minute', clock: false };
  const minuteStep = stepOf(M, 0, 59);
  const minutePart = isAll(M, 60)
    ? 'every minute'
    : minuteStep !== null
      ? `every ${minuteStep} minutes`
      : `at minute ${listOf(M, String)}`;
  if (hourAll) return { text: minutePart.startsWith('at ') ? `${minutePart} of every hour` : minutePart, clock: false };
  const hourPart = `${H.length === 1 ? 'hour' : 'hours'} ${listOf(H, String)}`;
  return { text: minutePart.startsWith('at ') ? `${minutePart} past ${hourPart}` : `${minutePart} during ${hourPart}`, clock: false };
}

function describeDays(cron: CronExpr): string {
  const domRestricted = !isAll(cron.daysOfMonth, 31);
  const dowRestricted = !isAll(cron.daysOfWeek, 7);
  const dom = cron.daysOfMonth;
  const domText = `on ${dom.length === 1 ? 'day' : 'days'} ${listOf(dom, String)} of the month`;
  const dowText = `on ${listOf(cron.daysOfWeek, (d) => DAY_LONG[d] ?? String(d))}`;
  if (!cron.dayOfMonthStarred && !cron.dayOfWeekStarred) return `${domText} or ${dowText}`;
  if (domRestricted && dowRestricted) {
    return `${domText} if it is a ${joinWords(cron.daysOfWeek.map((d) => DAY_LONG[d] ?? String(d)), 'or')}`;
  }
  if (domRestricted) {
    if (cron.months.length === 1 && dom.length === 1) return `on ${MONTH_LONG[cron.months[0] ?? 0] ?? ''} ${dom[0] ?? ''}`;
    return domText;
  }
  return dowRestricted ? dowText : '';
}

function describeMonths(cron: CronExpr): string {
  if (isAll(cron.months, 12)) return '';
  // "on January 1" already names the month.
  if (cron.months.length === 1 && cron.daysOfMonth.length === 1 && cron.dayOfWeekStarred && isAll(cron.daysOfWeek, 7)) return '';
  return `in ${listOf(cron.months, (m) => MONTH_LONG[m] ?? String(m))}`;
}
