/**
 * The store's conformance across dialects: a test written once runs on SQLite and on a real PostgreSQL server.
 * `npm test` (tools/test.mjs) starts one PostgreSQL server for the run and exports KAIROS_TEST_PG_URL; every
 * store a test asks for is a new SQLite file or a new database on that server (CREATE DATABASE, unique name).
 * Without the variable the PostgreSQL variants are skipped with a visible reason, and fail under CI=true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import type { Dialect } from '../src/store/db.js';

export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];
export const PG_URL = process.env.KAIROS_TEST_PG_URL ?? null;
const SKIP_REASON = 'PostgreSQL variant skipped: KAIROS_TEST_PG_URL is not set (npm test starts a server; see tools/test.mjs)';

/** Why the PostgreSQL variant cannot run here, or null when it can. Under CI a missing server is a failure, never a skip. */
function pgUnavailable(): 'skip' | 'fail' | null {
  if (PG_URL) return null;
  return process.env.CI === 'true' ? 'fail' : 'skip';
}

/** Registers `name` once per dialect, as `name [sqlite]` and `name [postgres]`. */
export function dialectTest(name: string, fn: (dialect: Dialect) => Promise<void>): void {
  for (const d of DIALECTS) {
    const label = `${name} [${d}]`;
    const missing = d === 'postgres' ? pgUnavailable() : null;
    if (missing === 'skip') test(label, { skip: SKIP_REASON }, () => {});
    else if (missing === 'fail') test(label, () => assert.fail('CI=true but KAIROS_TEST_PG_URL is not set: the PostgreSQL tests must run in CI (npm test starts a server)'));
    else test(label, () => fn(d));
  }
}

let counter = 0;

/** A new, empty PostgreSQL database on the test server; returns its URL. */
export async function createPgDatabase(base: string = PG_URL ?? ''): Promise<string> {
  if (!base) throw new Error('KAIROS_TEST_PG_URL is not set');
  const name = `kairos_t_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Where a test's store lives: a SQLite file under `dir`, or a new database on the PostgreSQL test server. */
export async function freshTarget(dialect: Dialect, dir: string): Promise<string> {
  return dialect === 'postgres' ? createPgDatabase() : join(dir, 'kairos.db');
}
