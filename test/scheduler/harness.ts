/** A scheduler on a real store (a SQLite file or a PostgreSQL database) with an injected clock: deploy a manifest, move the clock, run passes. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../../src/control/engine.js';
import { schedulerPass } from '../../src/control/scheduler.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { openDb, type Db, type Dialect } from '../../src/store/db.js';
import { freshTarget } from '../dialects.js';
import { tempDir, writeProject } from '../helpers.js';

export interface Harness {
  readonly db: Db;
  readonly engine: Engine;
  readonly clock: { t: number };
  /** Sets the clock and runs one scheduler pass; returns the number of runs it created. */
  passAt(iso: string | number): Promise<number>;
  /** Passes every `stepMs` from the current clock up to `until` (inclusive), like a scheduler that keeps up. */
  walk(until: string, stepMs: number): Promise<void>;
  /** Closes the database and opens it again (a restart), keeping the clock. */
  restart(): Promise<Harness>;
  runs(): Promise<{ id: string; scheduled_for: string; state: string; trigger: string; serial: number }[]>;
  ticks(): Promise<{ instant: string; outcome: string; reason: string | null; run_id: string | null; lateness_ms: number }[]>;
  close(): Promise<void>;
}

const iso = (t: number | bigint) => new Date(Number(t)).toISOString();

async function open(dir: string, target: string, clock: { t: number }, cleanup: () => void): Promise<Harness> {
  const db = await openDb(target, { clock: { now: () => clock.t } });
  const engine = new Engine({ db, dataDir: join(dir, 'data') });
  const h: Harness = {
    db,
    engine,
    clock,
    async passAt(at) {
      clock.t = typeof at === 'number' ? at : Date.parse(at);
      return (await schedulerPass(engine.ctx)).runsCreated;
    },
    async walk(until, stepMs) {
      const end = Date.parse(until);
      while (clock.t + stepMs <= end) await h.passAt(clock.t + stepMs);
    },
    async restart() {
      await db.close();
      return open(dir, target, clock, cleanup);
    },
    async runs() {
      const rows = await db.kysely.selectFrom('runs').select(['id', 'scheduled_for', 'state', 'trigger', 'serial']).orderBy('scheduled_for').orderBy('created_at').execute();
      return rows.map((r) => ({ ...r, scheduled_for: iso(r.scheduled_for ?? 0) }));
    },
    async ticks() {
      const rows = await db.kysely.selectFrom('ticks').select(['instant', 'outcome', 'reason', 'run_id', 'lateness_ms']).orderBy('instant').execute();
      return rows.map((t) => ({ ...t, instant: iso(t.instant), lateness_ms: Number(t.lateness_ms) }));
    },
    async close() {
      await db.close();
      cleanup();
    },
  };
  return h;
}

/** Deploys `yaml` at `startIso` on a fresh database of `dialect`. */
export async function harness(yaml: string, startIso: string, dialect: Dialect = 'sqlite'): Promise<Harness> {
  const dir = tempDir('kairos-sched-');
  writeProject(dir.path, { 'kairos.yaml': yaml });
  const clock = { t: Date.parse(startIso) };
  const h = await open(dir.path, await freshTarget(dialect, join(dir.path, 'data')), clock, dir.cleanup);
  const compiled = compileManifestText(yaml, 'kairos.yaml');
  assert.ok(compiled.ok, JSON.stringify(!compiled.ok && compiled.problems));
  await h.engine.deploy(dir.path, compiled.manifest, 'test');
  return h;
}

/** A one-job manifest. */
export function manifest(project: string, schedule: Record<string, string | number>): string {
  const fields = Object.entries(schedule)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : v}`)
    .join(', ');
  return `project: ${project}\njobs:\n  j:\n    run: "true"\n    schedule: {${fields}}\n`;
}
