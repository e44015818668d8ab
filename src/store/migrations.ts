/**
 * Versioned migrations, portable across SQLite and PostgreSQL: only Kysely's schema builder, no dialect SQL.
 * Never edit a migration that has shipped; add a new one.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { m0003 } from './migrations/0003_auth.js';
import { m0007Secrets } from './migrations/0007_secrets.js';
import { m0004 } from './migrations/0004_environments.js';
import { m0005Alerts } from './migrations/0005_alerts.js';
import { m0008 } from './migrations/0008_dashboard_indexes.js';
import { m0009 } from './migrations/0009_state_checks.js';
import { m0010 } from './migrations/0010_reason_codes.js';
import { m0011 } from './migrations/0011_runs_logical_time.js';
import { m0012 } from './migrations/0012_placement.js';
import { m0013 } from './migrations/0013_artifact_store.js';
import { m0014 } from './migrations/0014_snapshots.js';
import { m0015 } from './migrations/0015_network.js';
import { m0016Packages } from './migrations/0016_packages.js';
import { m0017ContainerImages } from './migrations/0017_container_images.js';
import { m0019Pipelines } from './migrations/0019_pipelines.js';
import { m0021Services } from './migrations/0021_services.js';

const m0001: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('deployments')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('project', 'varchar(100)', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('bundle_hash', 'varchar(80)', (c) => c.notNull())
      .addColumn('manifest_json', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('active', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('source', 'text', (c) => c.notNull())
      .addUniqueConstraint('deployments_project_version', ['project', 'version'])
      .execute();

    await db.schema
      .createTable('schedules')
      .addColumn('id', 'varchar(240)', (c) => c.primaryKey())
      .addColumn('project', 'varchar(100)', (c) => c.notNull())
      .addColumn('job', 'varchar(100)', (c) => c.notNull())
      .addColumn('cron', 'text', (c) => c.notNull())
      .addColumn('timezone', 'varchar(100)', (c) => c.notNull())
      .addColumn('catchup', 'varchar(20)', (c) => c.notNull())
      .addColumn('concurrency', 'varchar(20)', (c) => c.notNull())
      .addColumn('max_catchup', 'integer', (c) => c.notNull())
      .addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('cursor_at', 'bigint', (c) => c.notNull())
      .addColumn('next_fire_at', 'bigint')
      .addColumn('deployment_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('schedules_project_job', ['project', 'job'])
      .execute();
    await db.schema.createIndex('schedules_due').on('schedules').columns(['active', 'paused', 'next_fire_at']).execute();

    // The ledger: one row per (schedule, instant), whatever crashes or replicas occur.
    await db.schema
      .createTable('ticks')
      .addColumn('schedule_id', 'varchar(240)', (c) => c.notNull())
      .addColumn('instant', 'bigint', (c) => c.notNull())
      .addColumn('outcome', 'varchar(20)', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('run_id', 'varchar(40)')
      .addColumn('lateness_ms', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('recorded_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('ticks_pk', ['schedule_id', 'instant'])
      .execute();

    await db.schema
      .createTable('runs')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('project', 'varchar(100)', (c) => c.notNull())
      .addColumn('job', 'varchar(100)', (c) => c.notNull())
      .addColumn('deployment_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('bundle_hash', 'varchar(80)', (c) => c.notNull())
      .addColumn('state', 'varchar(20)', (c) => c.notNull())
      .addColumn('trigger', 'varchar(20)', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('params_json', 'text', (c) => c.notNull())
      .addColumn('scheduled_for', 'bigint')
      .addColumn('schedule_id', 'varchar(240)')
      .addColumn('pool', 'varchar(100)', (c) => c.notNull())
      .addColumn('serial', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('rerun_of', 'varchar(40)')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('not_before', 'bigint', (c) => c.notNull())
      .addColumn('started_at', 'bigint')
      .addColumn('finished_at', 'bigint')
      .addColumn('exit_code', 'integer')
      .addColumn('reason', 'text')
      .addColumn('log_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      // At most one run per (schedule, instant): NULL schedule ids (manual runs) never collide.
      .addUniqueConstraint('runs_schedule_instant', ['schedule_id', 'scheduled_for'])
      .execute();
    await db.schema.createIndex('runs_created').on('runs').columns(['created_at', 'id']).execute();
    await db.schema.createIndex('runs_queue').on('runs').columns(['state', 'pool', 'not_before']).execute();
    await db.schema.createIndex('runs_job').on('runs').columns(['project', 'job', 'created_at']).execute();

    await db.schema
      .createTable('attempts')
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('number', 'integer', (c) => c.notNull())
      .addColumn('state', 'varchar(20)', (c) => c.notNull())
      .addColumn('worker_id', 'varchar(80)', (c) => c.notNull())
      .addColumn('lease_token', 'varchar(80)', (c) => c.notNull())
      .addColumn('lease_expires_at', 'bigint', (c) => c.notNull())
      .addColumn('claimed_at', 'bigint', (c) => c.notNull())
      .addColumn('started_at', 'bigint')
      .addColumn('finished_at', 'bigint')
      .addColumn('exit_code', 'integer')
      .addColumn('reason', 'text')
      .addColumn('pid', 'integer')
      .addColumn('proc_start', 'varchar(40)')
      .addPrimaryKeyConstraint('attempts_pk', ['run_id', 'number'])
      .execute();
    await db.schema.createIndex('attempts_live').on('attempts').columns(['state', 'lease_expires_at']).execute();

    await db.schema
      .createTable('log_lines')
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('stream', 'varchar(10)', (c) => c.notNull())
      .addColumn('line', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('log_lines_pk', ['run_id', 'seq'])
      .execute();

    await db.schema
      .createTable('metrics')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('name', 'varchar(200)', (c) => c.notNull())
      .addColumn('value', 'double precision', (c) => c.notNull())
      .addColumn('step', 'bigint')
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('metrics_run').on('metrics').columns(['run_id', 'attempt']).execute();

    await db.schema
      .createTable('artifacts')
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('sha256', 'varchar(80)', (c) => c.notNull())
      .addPrimaryKeyConstraint('artifacts_pk', ['run_id', 'attempt', 'path'])
      .execute();

    await db.schema
      .createTable('workers')
      .addColumn('id', 'varchar(80)', (c) => c.primaryKey())
      .addColumn('host', 'text', (c) => c.notNull())
      .addColumn('pools_json', 'text', (c) => c.notNull())
      .addColumn('capacity', 'integer', (c) => c.notNull())
      .addColumn('version', 'varchar(40)', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
      .addColumn('stopped_at', 'bigint')
      .execute();
  },
};

/**
 * Log lines are stored in chunks (one row per shipped batch) instead of a row per line; existing lines move
 * over as one-line chunks.
 */
const m0002: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('log_chunks')
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('first_seq', 'bigint', (c) => c.notNull())
      .addColumn('last_seq', 'bigint', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addColumn('ts0', 'bigint', (c) => c.notNull())
      .addColumn('ts_deltas', 'text', (c) => c.notNull())
      .addColumn('streams', 'text', (c) => c.notNull())
      .addColumn('seqs', 'text')
      .addColumn('enc', 'integer', (c) => c.notNull())
      .addColumn('lines', 'text', (c) => c.notNull())
      .addColumn('bytes', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('log_chunks_pk', ['run_id', 'last_seq'])
      .execute();
    await db
      .insertInto('log_chunks')
      .columns(['run_id', 'first_seq', 'last_seq', 'attempt', 'count', 'ts0', 'ts_deltas', 'streams', 'seqs', 'enc', 'lines', 'bytes'])
      .expression(
        db.selectFrom('log_lines').select((eb) => [
          'run_id',
          'seq',
          eb.ref('seq').as('last_seq'),
          'attempt',
          eb.lit(1).as('count'),
          'ts',
          eb.val('').as('ts_deltas'),
          eb.case().when('stream', '=', 'stdout').then('o').when('stream', '=', 'stderr').then('e').else('s').end().as('streams'),
          eb.lit(null).as('seqs'),
          // One line per chunk: encode it as a JSON array only when it holds a newline (never, for process output).
          eb.lit(0).as('enc'),
          'line',
          eb.fn('length', ['line']).as('bytes'),
        ]),
      )
      .execute();
    await db.schema.dropTable('log_lines').execute();
  },
};

// Numbers are handed out in order; each migration is one entry here (later ones may live in their own files).
// Reserved while work is in flight: 0002 log chunks, 0003 auth (tokens, secrets, deploy records),
// 0004 environments, 0005 alerts, 0006 PostgreSQL-only additions.
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_initial': m0001,
  '0002_log_chunks': m0002,
  '0003_auth': m0003,
  '0004_environments': m0004,
  '0005_alerts': m0005Alerts,
  '0007_secrets': m0007Secrets,
  '0008_dashboard_indexes': m0008,
  '0009_state_checks': m0009,
  '0010_reason_codes': m0010,
  '0011_runs_logical_time': m0011,
  '0012_placement': m0012,
  '0013_artifact_store': m0013,
  '0014_snapshots': m0014,
  '0015_network': m0015,
  '0016_packages': m0016Packages,
  '0017_container_images': m0017ContainerImages,
  '0019_pipelines': m0019Pipelines,
  '0021_services': m0021Services,
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return { ...MIGRATIONS };
  },
};
