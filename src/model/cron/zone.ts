/**
 * UTC offsets of IANA time zones, read from Intl (the only source of tz rules in the process) and cached per zone,
 * so that results never depend on the host's TZ. All internal times here are whole epoch seconds.
 *
 * Offsets are found by sampling Intl once a day across a chunk of about a year and bisecting to the exact second
 * where the offset changes; the changes of each chunk are cached. Two changes less than a day apart that cancel
 * each other out would be missed; tzdata has none (checked against 6-hourly sampling of every zone, 1970-2040).
 */
import {
  SECONDS_PER_DAY,
  daysFromCivil,
  formatDate,
  formatTime,
  wallFromSeconds,
} from './civil.js';

/** A change of a zone's UTC offset: from `at` (epoch seconds) on, the offset is `after` (seconds) instead of `before`. */
export interface OffsetChange {
  readonly at: number;
  readonly before: number;
  readonly after: number;
}

export interface DstChange {
  readonly atMs: number;
  readonly offsetBeforeMin: number;
  readonly offsetAfterMin: number;
}

const CHUNK_SECONDS = 365 * SECONDS_PER_DAY;
const SAMPLE_SECONDS = SECONDS_PER_DAY;
/** Real offsets stay within ±16h (modern ones within ±14h); a wall time is searched for this far either side. */
const MAX_OFFSET_SECONDS = 26 * 3600;
/** A fall-back repeats at most this much wall time (the largest in tzdata is 24h). */
const MAX_REPEAT_SECONDS = 48 * 3600;
/** Chunks kept per zone before the cache starts over (a scheduler only ever needs a few years). */
const MAX_CHUNKS_PER_ZONE = 512;

/** Instants this module accepts: years 1000 to 9999, where Intl's Gregorian years are plain positive numbers. */
export const MIN_INSTANT = daysFromCivil(1000, 1, 1) * SECONDS_PER_DAY;
export const MAX_INSTANT = daysFromCivil(10000, 1, 1) * SECONDS_PER_DAY - 1;

interface Chunk {
  readonly startOffset: number;
  readonly changes: readonly OffsetChange[];
}

class ZoneClock {
  private readonly parts: Intl.DateTimeFormat;
  private names: Intl.DateTimeFormat | undefined;
  private readonly chunks = new Map<number, Chunk>();

  constructor(readonly zone: string) {
    this.parts = new Intl.DateTimeFormat('en-US-u-ca-gregory-nu-latn', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** The offset at an instant, straight from Intl. */
  private intlOffset(instant: number): number {
    let year = 0;
    let month = 0;
    let day = 0;
    let hour = 0;
    let minute = 0;
    let second = 0;
    for (const p of this.parts.formatToParts(instant * 1000)) {
      switch (p.type) {
        case 'year':
          year = Number(p.value);
          break;
        case 'month':
          month = Number(p.value);
          break;
        case 'day':
          day = Number(p.value);
          break;
        case 'hour':
          hour = Number(p.value);
          break;
        case 'minute':
          minute = Number(p.value);
          break;
        case 'second':
          second = Number(p.value);
          break;
        default:
          break;
      }
    }
    return daysFromCivil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - instant;
  }

  private chunk(index: number): Chunk {
    const cached = this.chunks.get(index);
    if (cached !== undefined) return cached;
    if (this.chunks.size >= MAX_CHUNKS_PER_ZONE) this.chunks.clear();
    const start = index * CHUNK_SECONDS;
    const end = start + CHUNK_SECONDS;
    const changes: OffsetChange[] = [];
    // Sample (start-1, start, start+day, …, end-1) so every change at an instant in [start, end) is found once.
    let prevT = start - 1;
    let prevOff = this.intlOffset(prevT);
    let startOffset = prevOff;
    for (let t = start; ; t = Math.min(t + SAMPLE_SECONDS, end - 1)) {
      const off = this.intlOffset(t);
      if (t === start) startOffset = off;
      if (off !== prevOff) this.bisect(prevT, prevOff, t, off, changes);
      prevT = t;
      prevOff = off;
      if (t === end - 1) break;
    }
    const chunk: Chunk = { startOffset, changes };
    this.chunks.set(index, chunk);
    return chunk;
  }

  /** Every change in (lo, hi], given off(lo) !== off(hi); pushes them in time order. */
  private bisect(lo: number, offLo: number, hi: number, offHi: number, out: OffsetChange[]): void {
    if (hi - lo === 1) {
      out.push({ at: hi, before: offLo, after: offHi });
      return;
    }
    const mid = lo + Math.floor((hi - lo) / 2);
    const offMid = this.intlOffset(mid);
    if (offMid !== offLo) this.bisect(lo, offLo, mid, offMid, out);
    if (offMid !== offHi) this.bisect(mid, offMid, hi, offHi, out);
  }

  offset(instant: number): number {
    const chunk = this.chunk(Math.floor(instant / CHUNK_SECONDS));
    let off = chunk.startOffset;
    for (const c of chunk.changes) {
      if (c.at > instant) break;
      off = c.after;
    }
    return off;
  }

  /** Changes with fromExclusive < at <= toInclusive, in time order. */
  changesIn(fromExclusive: number, toInclusive: number): OffsetChange[] {
    const out: OffsetChange[] = [];
    const last = Math.floor(toInclusive / CHUNK_SECONDS);
    for (let k = Math.floor((fromExclusive + 1) / CHUNK_SECONDS); k <= last; k++) {
      for (const c of this.chunk(k).changes) if (c.at > fromExclusive && c.at <= toInclusive) out.push(c);
    }
    return out;
  }

  firstChangeIn(fromExclusive: number, toInclusive: number): OffsetChange | null {
    const last = Math.floor(toInclusive / CHUNK_SECONDS);
    for (let k = Math.floor((fromExclusive + 1) / CHUNK_SECONDS); k <= last; k++) {
      for (const c of this.chunk(k).changes) if (c.at > fromExclusive && c.at <= toInclusive) return c;
    }
    return null;
  }

  /**
   * The earliest instant whose wall time is `wall`; if that wall time was skipped by a forward change, the instant
   * of that change (the first instant after the gap).
   */
  firstInstantOfWall(wall: number): number {
    const lo = wall - MAX_OFFSET_SECONDS;
    const hi = wall + MAX_OFFSET_SECONDS;
    const changes = this.changesIn(lo, hi);
    let segStart = lo;
    let segOff = this.offset(lo);
    for (let i = 0; i <= changes.length; i++) {
      const next = changes[i];
      const segEnd = next === undefined ? hi + 1 : next.at;
      const t = wall - segOff;
      if (t >= segStart && t < segEnd) return t;
      if (next === undefined) break;
      segStart = next.at;
      segOff = next.after;
    }
    for (const c of changes) {
      if (c.after > c.before && wall >= c.at + c.before && wall < c.at + c.after) return c.at;
    }
    throw new Error(`internal error: wall second ${wall} has no instant in ${this.zone}`);
  }

  /** The greatest wall time shown at or before `instant` (larger than its own wall time just after a fall-back). */
  maxWallUpTo(instant: number): number {
    let max = instant + this.offset(instant);
    for (const c of this.changesIn(instant - MAX_REPEAT_SECONDS, instant)) max = Math.max(max, c.at - 1 + c.before);
    return max;
  }

  /** A short alphabetic zone abbreviation such as "EDT", or null when Intl only knows a numeric one. */
  abbreviation(instant: number): string | null {
    this.names ??= new Intl.DateTimeFormat('en-US', { timeZone: this.zone, timeZoneName: 'short' });
    const name = this.names.formatToParts(instant * 1000).find((p) => p.type === 'timeZoneName')?.value ?? '';
    return /^[A-Z]{2,5}$/.test(name) ? name : null;
  }
}

const clocks = new Map<string, ZoneClock>();

/** Names shaped like IANA zones ("Area/Location", "UTC", "Etc/GMT+5"); rules out offsets such as "+02:00". */
const ZONE_SHAPE = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

const validity = new Map<string, boolean>();

export function isValidTimeZone(zone: string): boolean {
  if (typeof zone !== 'string' || !ZONE_SHAPE.test(zone)) return false;
  const known = validity.get(zone);
  if (known !== undefined) return known;
  let valid: boolean;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    valid = true;
  } catch {
    valid = false;
  }
  // Bounded: only name-shaped strings get here, and a long-running server sees few distinct ones.
  if (validity.size < 4096) validity.set(zone, valid);
  return valid;
}

/** The cached clock of a zone; a RangeError names the zone when it is not an IANA time zone. */
export function zoneClock(zone: string): ZoneClock {
  const cached = clocks.get(zone);
  if (cached !== undefined) return cached;
  if (!isValidTimeZone(zone)) throw new RangeError(`unknown time zone "${zone}"; expected an IANA name such as "Europe/Berlin" or "UTC"`);
  const clock = new ZoneClock(zone);
  clocks.set(zone, clock);
  return clock;
}
export type { ZoneClock };

/** Whole epoch seconds of a millisecond instant, rejecting what Intl cannot answer plainly. */
export function toInstant(atMs: number): number {
  if (!Number.isFinite(atMs)) throw new RangeError(`expected a finite epoch milliseconds value, got ${atMs}`);
  const s = Math.floor(atMs / 1000);
  if (s < MIN_INSTANT || s > MAX_INSTANT) {
    throw new RangeError(`instant ${atMs} is outside the supported years 1000-9999`);
  }
  return s;
}

/** Offset from UTC in minutes (positive east of Greenwich). Historical local mean times may give a fraction. */
export function zoneOffsetMinutes(zone: string, atMs: number): number {
  return zoneClock(zone).offset(toInstant(atMs)) / 60;
}

/** The wall date 'YYYY-MM-DD' in the zone. */
export function localDate(zone: string, atMs: number): string {
  const t = toInstant(atMs);
  return formatDate(wallFromSeconds(t + zoneClock(zone).offset(t)));
}

/** '2026-03-08 03:00:00 EDT', or with a numeric offset where the zone has no letters: '2026-03-08 08:30:00 +05:30'. */
export function formatInZone(zone: string, atMs: number): string {
  const clock = zoneClock(zone);
  const t = toInstant(atMs);
  const off = clock.offset(t);
  const wall = wallFromSeconds(t + off);
  return `${formatDate(wall)} ${formatTime(wall)} ${clock.abbreviation(t) ?? formatOffset(off)}`;
}

/** '+05:30', '-03:00', '+00:00'; seconds only when the offset has them ('-04:56:02'). */
export function formatOffset(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const abs = Math.abs(offsetSeconds);
  const hh = String(Math.floor(abs / 3600)).padStart(2, '0');
  const mm = String(Math.floor((abs % 3600) / 60)).padStart(2, '0');
  const ss = abs % 60;
  return `${sign}${hh}:${mm}${ss === 0 ? '' : `:${String(ss).padStart(2, '0')}`}`;
}

/** Every change of the zone's UTC offset with fromMs < atMs <= toMs, in time order. */
export function dstChangesBetween(zone: string, fromMs: number, toMs: number): DstChange[] {
  const clock = zoneClock(zone);
  if (!(toMs > fromMs)) return [];
  const from = toInstant(fromMs);
  const to = toInstant(toMs);
  return clock
    .changesIn(from, to)
    .filter((c) => c.at * 1000 > fromMs && c.at * 1000 <= toMs)
    .map((c) => ({ atMs: c.at * 1000, offsetBeforeMin: c.before / 60, offsetAfterMin: c.after / 60 }));
}

/** The IANA tz database version compiled into this Node (e.g. '2025c'), or 'unknown'. */
export function tzdataVersion(): string {
  const v = (process.versions as Readonly<Record<string, string | undefined>>)['tz'];
  return typeof v === 'string' && v !== '' ? v : 'unknown';
}
