/** The tz database the process runs on: the scheduler refuses one older than a stated minimum. */
import { tzdataVersion } from '../model/cron/index.js';
import { KairosError } from '../model/errors.js';

/** The oldest tz database the scheduler runs on: older ones lack rule changes that move real fire times. */
export const MIN_TZDATA_VERSION = '2024a';

const TZDATA_VERSION = /^(\d{4})([a-z]+)$/;

/**
 * Orders tz database versions ('2024a' < '2024b' < '2025a'; after 'z' tz would continue with 'za').
 * Returns null when either is not a tz version (e.g. 'unknown').
 */
export function compareTzdataVersions(a: string, b: string): number | null {
  const x = TZDATA_VERSION.exec(a);
  const y = TZDATA_VERSION.exec(b);
  if (!x || !y) return null;
  const [, ya = '', la = ''] = x;
  const [, yb = '', lb = ''] = y;
  if (ya !== yb) return Number(ya) < Number(yb) ? -1 : 1;
  if (la.length !== lb.length) return la.length < lb.length ? -1 : 1;
  return la === lb ? 0 : la < lb ? -1 : 1;
}

/** Refuses to schedule on a tz database older than MIN_TZDATA_VERSION (or one whose version is unknown). */
export function assertTzdata(version: string = tzdataVersion(), minimum: string = MIN_TZDATA_VERSION): void {
  const c = compareTzdataVersions(version, minimum);
  if (c === null) {
    throw new KairosError('internal', `cannot tell the tz database version of this Node.js (process.versions.tz is "${version}"); the scheduler needs ${minimum} or newer: use an official Node.js build`);
  }
  if (c < 0) {
    throw new KairosError('internal', `the tz database of this Node.js is ${version}, older than ${minimum}, the oldest the scheduler runs on (time-zone rules changed since); upgrade Node.js`);
  }
}
