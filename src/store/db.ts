/**
 * The one query layer: Kysely over two dialects. Dialect differences (pragmas, how a write transaction
 * starts, the clock) live here and nowhere else.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

/** A source of "now" in epoch ms. The database's clock in production; injectable in tests. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export interface Db {
  readonly dialect: Dialect;
  readonly kysely: Kysely<Database>;
  readonly clock: Clock;
  /** A write transaction. On SQLite it takes the write lock up front (BEGIN IMMEDIATE), so it never fails half-way with SQLITE_BUSY. */
  tx<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenOptions {
  clock?: Clock;
}

/** Opens (creating if needed) a SQLite database file in WAL mode and migrates it. */
export async function openSqlite(file: string, opts: OpenOptions = {}): Promise<Db> {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const raw = new SqliteDatabase(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  // Another process holding the write lock makes us wait, not fail: "database is locked" never reaches a user.
  raw.pragma('busy_timeout = 10000');
  raw.pragma('foreign_keys = ON');
  // A larger page cache and memory-mapped reads: the scheduler's bursts (thousands of ticks at one instant)
  // and log ingestion touch many pages at once; the defaults (2 MB cache) make them read pages again.
  raw.pragma('cache_size = -65536');
  raw.pragma('mmap_size = 268435456');
  raw.pragma('temp_store = MEMORY');
  // Kysely prepares every statement afresh; preparing costs more than running our small queries, so keep
  // prepared statements by SQL text. Safe: better-sqlite3 runs each statement to completion synchronously.
  const statements = new Map<string, SqliteDatabase.Statement>();
  const database = {
    close: () => raw.close(),
    prepare: (text: string) => {
      let stmt = statements.get(text);
      if (!stmt) {
        if (statements.size >= 1000) statements.clear();
        stmt = raw.prepare(text);
        statements.set(text, stmt);
      }
      return stmt;
    },
  };
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  let depth = 0;
  const db: Db = {
    dialect: 'sqlite',
    kysely,
    clock: opts.clock ?? systemClock,
    async tx(fn) {
      // Kysely's SQLite driver runs everything over one connection behind a mutex; holding it for the
      // whole transaction keeps other statements of this process out of it.
      return kysely.connection().execute(async (conn) => {
        if (depth > 0) throw new Error('nested transactions are not supported');
        depth++;
        await sql`begin immediate`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`commit`.execute(conn);
          return result;
        } catch (err) {
          await sql`rollback`.execute(conn);
          throw err;
        } finally {
          depth--;
        }
      });
    },
    async close() {
      await kysely.destroy();
    },
  };
  await migrate(db);
  return db;
}

export async function migrate(db: Db): Promise<void> {
  const migrator = new Migrator({ db: db.kysely, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error instanceof Error ? error.message : error)}`);
  }
}
