/**
 * The one query layer: Kysely over two dialects. Dialect differences (pragmas, how a write transaction
 * starts, the clock) live here and nowhere else.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, PostgresQueryCompiler, SqliteDialect, sql, type QueryCompiler } from 'kysely';
// The driver is loaded by openPostgres only: a SQLite control plane never loads it.
import type pg from 'pg';
import { migrationProvider } from './migrations.js';
import { Availability, unavailableError, unavailableReason } from './availability.js';
import type { Database } from './schema.js';
import { Loop } from '../lib/loop.js';
import { retrying } from '../lib/retry.js';
import type { Backoff } from '../model/retry.js';

export type Dialect = 'sqlite' | 'postgres';

/** A source of "now" in epoch ms. The database's clock in production; injectable in tests. */
export interface Clock {
  now(): number;
  /**
   * Milliseconds on a clock that never jumps (the process's monotonic clock): tells a stall or a step of `now`
   * from time passing (src/control/dispatch/clock-watch.ts). Absent in a test's clock that steps `now` on purpose.
   */
  mono?(): number;
}
export const systemClock: Clock = { now: () => Date.now(), mono: () => performance.now() };

export interface Db {
  readonly dialect: Dialect;
  readonly kysely: Kysely<Database>;
  readonly clock: Clock;
  /** A write transaction. On SQLite it takes the write lock up front (BEGIN IMMEDIATE), so it never fails half-way with SQLITE_BUSY. */
  tx<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Whether the database could be written lately; a transaction that fails for that reason throws `unavailable`. */
  readonly availability: Availability;
  /**
   * PostgreSQL only (undefined on SQLite, where one process owns the database): tells the other control
   * planes on this database about an event, and listens for theirs (LISTEN/NOTIFY on one channel).
   */
  readonly peers?: Peers;
}

/** Events between control planes sharing one database. An event is never delivered to the replica that sent it. */
export interface Peers {
  publish(event: string): void;
  subscribe(listener: (event: string) => void): () => void;
}

export interface OpenOptions {
  clock?: Clock;
  /** PostgreSQL only: connections in the pool (default 10). */
  poolSize?: number;
  /**
   * SQLite only: how long a write waits for another process's write lock before it is refused as
   * `unavailable` (default 5 s). A control plane passes less with short leases, so a worker waiting on it
   * still renews (or hears why not) before its launcher's watchdog fires.
   */
  busyTimeoutMs?: number;
}

/** True when `target` names a PostgreSQL database (a postgres:// or postgresql:// URL) rather than a SQLite file. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/**
 * Opens the store `target` names: a `postgres://` or `postgresql://` URL opens PostgreSQL; anything else is a
 * SQLite file path (an optional `sqlite:` prefix is dropped).
 */
export async function openDb(target: string, opts: OpenOptions = {}): Promise<Db> {
  if (isPostgresUrl(target)) return openPostgres(target, opts);
  return openSqlite(target.startsWith('sqlite:') ? target.slice('sqlite:'.length) : target, opts);
}

/** Opens (creating if needed) a SQLite database file in WAL mode and migrates it. */
export async function openSqlite(file: string, opts: OpenOptions = {}): Promise<Db> {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const raw = new SqliteDatabase(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  // Another process holding the write lock makes us wait, not fail, for up to 5 s; past that the write is
  // refused as `unavailable` (HTTP 503 with Retry-After), well inside a client's 10 s request timeout.
  raw.pragma(`busy_timeout = ${Math.max(100, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
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
  const availability = new Availability();
  /** One failed transaction's error, noted; anything but a busy, locked or full database passes unchanged. */
  const noted = (err: unknown): unknown => {
    const reason = unavailableReason(err);
    if (!reason) return err;
    availability.failed(reason);
    // Others waiting behind this one would each wait out the busy timeout: fail them at once for a moment.
    if (reason === 'busy') availability.failFastUntil = Date.now() + 1000;
    return unavailableError(reason, err);
  };
  const db: Db = {
    dialect: 'sqlite',
    kysely,
    clock: opts.clock ?? systemClock,
    availability,
    async tx(fn) {
      const failFast = () => {
        if (availability.down && Date.now() < availability.failFastUntil) throw unavailableError(availability.lastFailure ?? 'busy');
      };
      failFast();
      // Kysely's SQLite driver runs everything over one connection behind a mutex; holding it for the
      // whole transaction keeps other statements of this process out of it.
      return kysely.connection().execute(async (conn) => {
        if (depth > 0) throw new Error('nested transactions are not supported');
        failFast();
        // A BEGIN that fails (the busy timeout ran out) leaves nothing behind: no depth, no transaction.
        try {
          await sql`begin immediate`.execute(conn);
        } catch (err) {
          throw noted(err);
        }
        depth++;
        try {
          const result = await fn(conn);
          await sql`commit`.execute(conn);
          availability.succeeded();
          return result;
        } catch (err) {
          // SQLite may have rolled back already (SQLITE_FULL, an I/O error): a second rollback would fail
          // ("no transaction is active") and hide the real error.
          if (raw.inTransaction) {
            try {
              await sql`rollback`.execute(conn);
            } catch {
              // the transaction is gone either way; the error that matters is `err`
            }
          }
          throw noted(err);
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

// ── PostgreSQL ──

const PG_INT8 = 20;
const PG_NUMERIC = 1700;

/**
 * Type parsers for this pool only (the driver's global table is left alone): bigint and numeric columns come
 * back as JS numbers, like SQLite's. Times are epoch milliseconds, far inside 2^53.
 */
function pgTypes(types: typeof pg.types) {
  return {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === PG_INT8) return (v: string) => Number(v);
      if (oid === PG_NUMERIC) return (v: string) => Number.parseFloat(v);
      return types.getTypeParser(oid, format as 'text');
    },
  };
}

/** Kysely compiles `autoIncrement()` as MySQL's `auto_increment` on PostgreSQL; an identity column is the portable meaning. */
class KairosPostgresQueryCompiler extends PostgresQueryCompiler {
  protected override getAutoIncrement(): string {
    return 'generated by default as identity';
  }
}

class KairosPostgresDialect extends PostgresDialect {
  override createQueryCompiler(): QueryCompiler {
    return new KairosPostgresQueryCompiler();
  }
}

/** SQLSTATEs a transaction is retried on: serialization_failure and deadlock_detected. */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_TX_ATTEMPTS = 8;
/** A few milliseconds, growing, fully randomised: the two transactions that collided must not collide again. */
const TX_BACKOFF: Backoff = { baseMs: 5, factor: 1.5, maxMs: 50, jitter: 2 };
/** How often the offset to the database's clock is measured again. */
const CLOCK_REMEASURE_MS = 10_000;

/** The database's clock minus ours, from the midpoint of one round trip; the fastest of a few samples. */
async function measureOffset(kysely: Kysely<Database>): Promise<number> {
  let best: { rtt: number; offset: number } | null = null;
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const { rows } = await sql<{ ms: number | string }>`select floor(extract(epoch from clock_timestamp()) * 1000) as ms`.execute(kysely);
    const t1 = Date.now();
    const ms = Number(rows[0]?.ms);
    const rtt = t1 - t0;
    if (!best || rtt < best.rtt) best = { rtt, offset: ms - (t0 + rtt / 2) };
  }
  return Math.round(best?.offset ?? 0);
}

/**
 * Opens a PostgreSQL database (`postgres://user:pass@host:port/db`) and migrates it. Several control planes may
 * share one database: claims lock rows with FOR UPDATE SKIP LOCKED, the scheduler locks the schedules it
 * decides, and transactions that lose a deadlock or a serialization check are run again.
 *
 * The clock is the database's: the offset to it is measured at open and again every 10 s, and `now()` is
 * the local clock plus that offset. Every replica (and so every lease expiry) then agrees on one time.
 */
export async function openPostgres(url: string, opts: OpenOptions = {}): Promise<Db> {
  // A server that does not answer a connection within 5 s is reported unavailable rather than waited for.
  const { default: driver } = await import('pg');
  const pool = new driver.Pool({ connectionString: url, max: opts.poolSize ?? 10, types: pgTypes(driver.types), connectionTimeoutMillis: 5000 });
  const availability = new Availability();
  // An idle connection's error (the server restarting) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // Nor a checked-out connection's (the server shut down mid-transaction): the query in flight fails with it,
  // and that error is what the caller sees (`unavailable`); unheard, the event would end the process.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const kysely = new Kysely<Database>({ dialect: new KairosPostgresDialect({ pool }) });
  let offset = 0;
  let remeasure: Loop | null = null;
  const clock: Clock = opts.clock ?? { now: () => Date.now() + offset, mono: () => performance.now() };
  if (!opts.clock) {
    try {
      offset = await measureOffset(kysely);
    } catch (err) {
      await kysely.destroy();
      throw new Error(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${err instanceof Error ? err.message : String(err)}`);
    }
    // A failed measurement keeps the last offset; the next one comes as usual.
    remeasure = new Loop({ pass: async () => void (offset = await measureOffset(kysely)), everyMs: CLOCK_REMEASURE_MS, onError: () => undefined });
    remeasure.start(CLOCK_REMEASURE_MS);
  }
  const peers = pgPeers(driver, url, kysely);
  const db: Db = {
    dialect: 'postgres',
    peers,
    kysely,
    clock,
    availability,
    async tx(fn) {
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await kysely.transaction().execute(fn);
          availability.succeeded();
          return result;
        } catch (err) {
          const reason = unavailableReason(err);
          if (reason) {
            // The server is down, restarting or out of space: a stated condition, retried by the caller.
            availability.failed(reason);
            throw unavailableError(reason, err);
          }
          const code = (err as { code?: unknown } | null)?.code;
          if (typeof code !== 'string' || !RETRYABLE.has(code) || attempt >= MAX_TX_ATTEMPTS) throw err;
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
        }
      }
    },
    async close() {
      await remeasure?.stop();
      await peers.close();
      await kysely.destroy();
    },
  };
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

const PEER_CHANNEL = 'kairos_events';

/**
 * LISTEN/NOTIFY between replicas. The listening connection is opened on the first subscription and opened
 * again after it drops; publishing coalesces: at most one NOTIFY of each event in flight, and one more after it.
 */
function pgPeers(driver: typeof pg, url: string, kysely: Kysely<Database>): Peers & { close(): Promise<void> } {
  const self = Math.random().toString(36).slice(2, 12);
  const listeners = new Set<(event: string) => void>();
  let client: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;
  const inFlight = new Map<string, boolean>();

  const connect = (): void => {
    if (closed || client) return;
    const c = new driver.Client({ connectionString: url });
    client = c;
    const reconnect = () => {
      if (client !== c) return;
      client = null;
      c.end().catch(() => undefined);
      if (!closed) retry = setTimeout(connect, 500);
    };
    c.on('error', reconnect);
    c.on('end', reconnect);
    c.on('notification', (n) => {
      const payload = n.payload ?? '';
      const colon = payload.indexOf(':');
      const from = payload.slice(0, colon);
      const event = payload.slice(colon + 1);
      if (colon < 0 || from === self || !event) return;
      for (const l of listeners) l(event);
    });
    c.connect()
      .then(() => c.query(`listen ${PEER_CHANNEL}`))
      .catch(reconnect);
  };

  const send = async (event: string): Promise<void> => {
    await sql`select pg_notify(${PEER_CHANNEL}, ${`${self}:${event}`})`.execute(kysely);
  };

  return {
    publish(event) {
      if (closed) return;
      const state = inFlight.get(event);
      if (state !== undefined) {
        inFlight.set(event, true);
        return;
      }
      inFlight.set(event, false);
      const loop = (): void => {
        send(event)
          .catch(() => undefined)
          .finally(() => {
            if (inFlight.get(event) && !closed) {
              inFlight.set(event, false);
              loop();
            } else inFlight.delete(event);
          });
      };
      loop();
    },
    subscribe(listener) {
      listeners.add(listener);
      connect();
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}

/** A database URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

export async function migrate(db: Db): Promise<void> {
  const migrator = new Migrator({ db: db.kysely, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error instanceof Error ? error.message : error)}`);
  }
}
