/**
 * `npm run bench:pipelines`: the pipeline driver's overhead per step, on the embedded default (SQLite in WAL
 * mode) with an in-process worker, every step `true`. A chain of 100 steps (each needs the one before) and a
 * fan-out of 1,000 items (`max_parallel` 32). For each step run: created → started (the dispatch part), and
 * upstream finished → created (the pipeline part, chain only); against a single job's created → started when
 * runs are created one after another. Writes bench/results-pipelines.json and its section of docs/benchmarks.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/control/engine.js';
import { compileManifestText } from '../src/manifest/index.js';
import { openSqlite } from '../src/store/db.js';
import { Worker } from '../src/worker/worker.js';
import { quantile, writeDocSection } from './report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHAIN = Number(process.env.KAIROS_BENCH_CHAIN ?? 100);
const FAN = Number(process.env.KAIROS_BENCH_FAN ?? 1000);
const SINGLE = Number(process.env.KAIROS_BENCH_SINGLE ?? 50);
const CAPACITY = Number(process.env.KAIROS_BENCH_CAPACITY ?? 32);

function stats(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { count: s.length, p50: quantile(s, 0.5), p95: quantile(s, 0.95), max: s[s.length - 1] ?? NaN };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-bench-pipe-'));
  const lines = ['project: bench', 'jobs:', '  t:', '    run: ["true"]', '  m:', '    run: ["true"]', '    params:', '      x: {type: string, required: true}', 'pipelines:', '  chain:', '    steps:'];
  for (let i = 0; i < CHAIN; i++) lines.push(`      s${i}: {job: t${i > 0 ? `, needs: [s${i - 1}]` : ''}}`);
  lines.push('  fan:', `    max_parallel: ${CAPACITY}`, '    params:', `      xs: {type: list, default: [${Array.from({ length: FAN }, (_, i) => i).join(', ')}]}`, '    steps:', '      each: {job: m, map: xs, params: {x: "${{ item }}"}}');
  const yaml = lines.join('\n') + '\n';
  writeFileSync(join(dir, 'kairos.yaml'), yaml);
  const compiled = compileManifestText(yaml, 'kairos.yaml');
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems.slice(0, 3)));
  const db = await openSqlite(join(dir, 'kairos.db'));
  const engine = new Engine({ db, dataDir: join(dir, 'data'), onError: (e) => console.error(e) });
  await engine.deploy(dir, compiled.manifest, 'bench');
  const worker = new Worker(engine, { id: 'bench', pools: ['default'], capacity: CAPACITY, dataDir: join(dir, 'data'), version: 'bench', leaseMs: 30_000, sandbox: { mode: 'none' }, onNotice: () => {} });
  await worker.start();
  engine.start();
  const waitRun = async (id: string) => {
    for (;;) {
      const r = await db.kysely.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      if (r.state !== 'queued' && r.state !== 'running') return r;
      await new Promise((res) => setTimeout(res, 2));
    }
  };
  const waitPipeline = async (id: string) => {
    for (;;) {
      const r = await db.kysely.selectFrom('pipeline_runs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      if (r.state !== 'running') return r;
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  const stepRuns = (id: string) => db.kysely.selectFrom('pipeline_steps as s').innerJoin('runs as r', 'r.id', 's.run_id').select(['s.step', 's.item', 'r.created_at', 'r.started_at', 'r.finished_at', 'r.state']).where('s.pipeline_run_id', '=', id).execute();
  try {
    const single: number[] = [];
    for (let i = 0; i < SINGLE; i++) {
      const run = await engine.createRun({ job: 't', trigger: 'manual' });
      const done = await waitRun(run.id);
      single.push(Number(done.started_at) - Number(done.created_at));
    }
    const t0 = Date.now();
    const chain = await engine.createPipelineRun({ pipeline: 'chain', trigger: 'manual' });
    const chainEnd = await waitPipeline(chain.id);
    const chainWall = Date.now() - t0;
    const chainRows = (await stepRuns(chain.id)).sort((a, b) => Number(a.step.slice(1)) - Number(b.step.slice(1)));
    const chainStart = chainRows.map((r) => Number(r.started_at) - Number(r.created_at));
    const chainGap = chainRows.slice(1).map((r, i) => Number(r.created_at) - Number(chainRows[i]?.finished_at));
    const t1 = Date.now();
    const fan = await engine.createPipelineRun({ pipeline: 'fan', trigger: 'manual' });
    const fanEnd = await waitPipeline(fan.id);
    const fanWall = Date.now() - t1;
    const fanRows = await stepRuns(fan.id);
    const fanStart = fanRows.map((r) => Number(r.started_at) - Number(r.created_at));
    const results = {
      machine: { cpus: cpus().length, node: process.version },
      single: stats(single),
      chain: { steps: CHAIN, state: chainEnd.state, wall_ms: chainWall, created_to_started: stats(chainStart), upstream_finished_to_created: stats(chainGap) },
      fan: { items: FAN, max_parallel: CAPACITY, state: fanEnd.state, wall_ms: fanWall, per_item_ms: fanWall / FAN, created_to_started: stats(fanStart) },
    };
    writeFileSync(join(ROOT, 'bench', 'results-pipelines.json'), JSON.stringify(results, null, 2) + '\n');
    const f = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} ms` : '—');
    writeDocSection('pipelines', `## Pipelines: the driver's overhead per step

\`npm run bench:pipelines\` (bench/pipelines.ts): the embedded default (SQLite, WAL) with an in-process worker of
capacity ${CAPACITY}, every step \`true\`, on ${results.machine.cpus} cores (${results.machine.node}). A chain of ${CHAIN} steps (each
needs the one before) and a fan-out of ${FAN} items (\`max_parallel\` ${CAPACITY}).

| | p50 | p95 | max |
| --- | --- | --- | --- |
| a single job, created → started (${SINGLE} runs one after another) | ${f(results.single.p50)} | ${f(results.single.p95)} | ${f(results.single.max)} |
| chain step, upstream finished → step created (the pipeline driver) | ${f(results.chain.upstream_finished_to_created.p50)} | ${f(results.chain.upstream_finished_to_created.p95)} | ${f(results.chain.upstream_finished_to_created.max)} |
| chain step, created → started | ${f(results.chain.created_to_started.p50)} | ${f(results.chain.created_to_started.p95)} | ${f(results.chain.created_to_started.max)} |
| fan-out item, created → started | ${f(results.fan.created_to_started.p50)} | ${f(results.fan.created_to_started.p95)} | ${f(results.fan.created_to_started.max)} |

The chain of ${CHAIN} took ${(chainWall / 1000).toFixed(1)} s (${chainEnd.state}); the fan-out of ${FAN} took ${(fanWall / 1000).toFixed(1)} s
(${results.fan.per_item_ms.toFixed(1)} ms an item, ${fanEnd.state}). A step's created → started is the dispatch path every run takes;
what a pipeline adds is upstream finished → created: the driver is woken by the run's end and creates the next
steps in one transaction.
`);
    console.log(JSON.stringify(results, null, 2));
  } finally {
    await engine.stopLoops();
    await worker.stop(2000);
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
