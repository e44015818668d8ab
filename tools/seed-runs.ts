/**
 * Seeds a data directory with a long run history, for the dashboard benchmark and for trying the dashboard
 * on a big database: `node dist/tools/seed-runs.js DATA_DIR PROJECT_DIR [COUNT]` deploys PROJECT_DIR's
 * kairos.yaml (as `kairos up` would) and inserts COUNT runs (default 1,000,000) of its jobs, spread over the
 * past year, newest last, with realistic states and triggers, and one metric per run of each job. Plain
 * prepared statements in one transaction, many rows per statement: about ten seconds for a million.
 */
import { join, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Engine } from '../src/control/engine.js';
import { loadManifestFile } from '../src/manifest/index.js';
import { newId } from '../src/model/ids.js';
import { openSqlite } from '../src/store/db.js';

const RUN_COLUMNS = [
  'id', 'project', 'job', 'deployment_id', 'bundle_hash', 'state', 'trigger', 'attempt', 'params_json', 'scheduled_for', 'schedule_id',
  'pool', 'serial', 'cancel_requested', 'rerun_of', 'created_at', 'not_before', 'started_at', 'finished_at', 'exit_code', 'reason', 'log_seq',
] as const;

/** A small deterministic generator: the same seed gives the same history. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

export interface SeedResult {
  readonly runs: number;
  readonly seconds: number;
  readonly project: string;
  readonly jobs: readonly string[];
}

export async function seedRuns(dataDir: string, projectDir: string, count: number, log: (s: string) => void = () => {}): Promise<SeedResult> {
  const file = join(dataDir, 'kairos.db');
  const loaded = await loadManifestFile(projectDir);
  if (!loaded.ok) throw new Error(`the manifest of ${projectDir} is invalid`);
  const db = await openSqlite(file);
  const engine = new Engine({ db, dataDir });
  const { deployment } = await engine.deploy(projectDir, loaded.manifest, 'seed');
  await db.close();

  const jobs = Object.values(loaded.manifest.jobs);
  const raw = new SqliteDatabase(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = OFF');
  raw.pragma('cache_size = -262144');
  const t0 = performance.now();
  const BATCH = 500; // 22 columns × 500 rows: below SQLite's 32,766 bound variables
  const rowSql = `(${RUN_COLUMNS.map(() => '?').join(',')})`;
  const insertBatch = raw.prepare(`insert into runs (${RUN_COLUMNS.join(',')}) values ${Array(BATCH).fill(rowSql).join(',')}`);
  const insertOne = raw.prepare(`insert into runs (${RUN_COLUMNS.join(',')}) values ${rowSql}`);
  const metricBatch = raw.prepare(`insert into metrics (run_id, attempt, name, value, step, ts) values ${Array(BATCH).fill('(?,?,?,?,?,?)').join(',')}`);
  const metricOne = raw.prepare('insert into metrics (run_id, attempt, name, value, step, ts) values (?,?,?,?,?,?)');
  const random = rng(20261123);
  const now = Date.now();
  const start = now - 365 * 24 * 3600_000;
  const step = (now - 60_000 - start) / count;
  const seen = new Set<string>();

  raw.transaction(() => {
    let rows: unknown[] = [];
    let metrics: unknown[] = [];
    for (let i = 0; i < count; i++) {
      const created = Math.floor(start + i * step);
      const job = jobs[Math.floor(random() * jobs.length)]!;
      const r = random();
      const state = r < 0.86 ? 'succeeded' : r < 0.95 ? 'failed' : r < 0.97 ? 'timed_out' : r < 0.99 ? 'cancelled' : 'skipped';
      const t = random();
      const scheduled = job.schedule !== null && t < 0.85;
      const trigger = scheduled ? 'schedule' : t < 0.93 ? 'manual' : t < 0.97 ? 'backfill' : 'rerun';
      const scheduledFor = scheduled ? Math.floor(created / 1000) * 1000 : null;
      const scheduleId = scheduled ? `${deployment.project}/${job.name}` : null;
      const key = `${scheduleId}@${scheduledFor}`;
      // (schedule, instant) is unique in the database too: a collision becomes a manual run.
      const uniqueScheduled = scheduled && !seen.has(key);
      if (uniqueScheduled) seen.add(key);
      const dur = state === 'skipped' ? null : Math.floor(200 + random() * 60_000);
      const exit = state === 'succeeded' ? 0 : state === 'failed' ? 1 + Math.floor(random() * 3) : null;
      const reason = state === 'failed' ? `exit code ${exit}` : state === 'timed_out' ? 'timed out after 10m' : state === 'cancelled' ? 'cancelled by user' : state === 'skipped' ? 'an earlier run was still active' : null;
      const id = newId(created);
      rows.push(
        id, deployment.project, job.name, deployment.id, deployment.bundle_hash, state, uniqueScheduled ? trigger : trigger === 'schedule' ? 'manual' : trigger, state === 'skipped' ? 0 : 1, '{}',
        uniqueScheduled ? scheduledFor : null, uniqueScheduled ? scheduleId : null, job.pool, 0, state === 'cancelled' ? 1 : 0, null, created, created,
        dur === null ? null : created + 5, dur === null ? null : created + 5 + dur, exit, reason, 0,
      );
      if (state === 'succeeded') metrics.push(id, 1, 'score', 0.5 + 0.4 * random(), null, created + 10);
      if (rows.length === BATCH * RUN_COLUMNS.length) {
        insertBatch.run(rows);
        rows = [];
      }
      if (metrics.length === BATCH * 6) {
        metricBatch.run(metrics);
        metrics = [];
      }
      if (i > 0 && i % 200_000 === 0) log(`seed: ${i} runs`);
    }
    for (let k = 0; k < rows.length; k += RUN_COLUMNS.length) insertOne.run(rows.slice(k, k + RUN_COLUMNS.length));
    for (let k = 0; k < metrics.length; k += 6) metricOne.run(metrics.slice(k, k + 6));
  })();
  raw.pragma('wal_checkpoint(TRUNCATE)');
  // No ANALYZE: the planner sees what it sees on a user's database, which never ran one.
  raw.close();
  return { runs: count, seconds: (performance.now() - t0) / 1000, project: deployment.project, jobs: jobs.map((j) => j.name) };
}

if (process.argv[1] && resolve(process.argv[1]).endsWith('seed-runs.js')) {
  const [dataDir, projectDir, n] = process.argv.slice(2);
  if (!dataDir || !projectDir) {
    console.error('usage: node dist/tools/seed-runs.js DATA_DIR PROJECT_DIR [COUNT]');
    process.exit(2);
  }
  seedRuns(resolve(dataDir), resolve(projectDir), Number(n ?? 1_000_000), (s) => console.error(s)).then(
    (r) => console.log(`seeded ${r.runs} runs of ${r.jobs.length} jobs of project ${r.project} in ${r.seconds.toFixed(1)} s`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
