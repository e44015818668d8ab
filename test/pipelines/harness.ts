/**
 * A control plane and a local worker over a real store (SQLite file or PostgreSQL database), with a project
 * deployed: what the pipeline tests drive. Jobs write their own records (start/end lines with the time) to a
 * file the test reads, so order and parallelism are checked from what the processes did.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/control/engine.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { openDb, type Dialect, type Db } from '../../src/store/db.js';
import { Worker } from '../../src/worker/worker.js';
import { createApi } from '../../src/api/server.js';
import { freshTarget } from '../dialects.js';
import { tempDir, waitFor, writeProject } from '../helpers.js';
import type { Clock } from '../../src/store/db.js';

export interface PipelineHarness {
  readonly engine: Engine;
  readonly db: Db;
  readonly dir: string;
  readonly records: string;
  /** The jobs' own records: `start|end STEP KEY TIME_NS`, in the order written. */
  events(): { what: 'start' | 'end'; key: string; at: bigint }[];
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  waitPipeline(id: string, states?: readonly string[]): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** `rec KEY` in a job's command: writes start, sleeps `$KAIROS_PARAM_SLEEP` if set, writes end. */
export function recorder(records: string): string {
  return `echo "start $1 $(date +%s%N)" >> ${records}; sleep "\${2:-0}"; echo "end $1 $(date +%s%N)" >> ${records}`;
}

export async function pipelineHarness(dialect: Dialect, manifestText: (dir: string, records: string) => string, opts: { capacity?: number; clock?: Clock; worker?: boolean } = {}): Promise<PipelineHarness> {
  const tmp = tempDir('kairos-pipe-');
  const records = join(tmp.path, 'records.txt');
  const project = join(tmp.path, 'project');
  writeProject(project, { 'kairos.yaml': manifestText(project, records), 'rec.sh': recorder(records) });
  const target = await freshTarget(dialect, tmp.path);
  const db = await openDb(target, opts.clock ? { clock: opts.clock } : {});
  const dataDir = join(tmp.path, 'data');
  const engine = new Engine({ db, dataDir, leaseMs: 10_000, onError: (err) => console.error('engine:', err) });
  const compiled = compileManifestText(manifestText(project, records), join(project, 'kairos.yaml'));
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
  await engine.deploy(project, compiled.manifest, `test:${project}`);
  const worker =
    opts.worker === false
      ? null
      : new Worker(engine, { id: `w-${Math.random().toString(36).slice(2)}`, pools: ['default'], capacity: opts.capacity ?? 8, dataDir, version: 'test', leaseMs: 10_000, sandbox: { mode: 'none' }, onError: (err) => console.error('worker:', err), onNotice: () => {} });
  await worker?.start();
  engine.start();
  const app = createApi({ engine });
  let closed = false;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  return {
    engine,
    db,
    dir: project,
    records,
    events() {
      if (!existsSync(records)) return [];
      return readFileSync(records, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const [what, key, at] = l.split(' ');
          return { what: what as 'start' | 'end', key: key ?? '', at: BigInt(at ?? '0') };
        });
    },
    api,
    async waitPipeline(id, states = ['succeeded', 'failed', 'cancelled']) {
      return waitFor(`pipeline run ${id} in ${states.join('|')}`, async () => {
        const r = await api('GET', `/api/v1/pipeline-runs/${id}`);
        return states.includes(String(r.json.state)) ? r.json : null;
      }, 120_000, 50);
    },
    async close() {
      if (closed) return;
      closed = true;
      await engine.stopLoops();
      await worker?.stop(2000);
      await db.close();
      tmp.cleanup();
    },
  };
}
