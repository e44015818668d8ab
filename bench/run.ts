/**
 * `npm run bench`: 2,000 ad-hoc runs of `true` through the embedded default (HTTP API → SQLite → local
 * worker → process), against a baseline measured in the same run that spawns `true` directly at the same
 * concurrency. Writes bench/results.json and docs/benchmarks.md.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqlite } from '../src/store/db.js';
import { KairosClient } from '../src/api/client.js';
import { quantile, writeDocSection, writeResults, waitForServer, dispatchLatencies } from './report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUNS = Number(process.env.KAIROS_BENCH_RUNS ?? 2000);
const LATENCY_RUNS = Number(process.env.KAIROS_BENCH_LATENCY_RUNS ?? 1000);
// The embedded worker's default capacity on this machine: max(4, 2 × cores).
const CONCURRENCY = Number(process.env.KAIROS_BENCH_CONCURRENCY ?? Math.max(4, cpus().length * 2));


async function closedLoop(n: number, concurrency: number, one: () => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        await one();
      }
    }),
  );
  return performance.now() - t0;
}

async function baseline(): Promise<{ seconds: number; throughput: number; spawnP50: number; spawnP99: number }> {
  const lat: number[] = [];
  const ms = await closedLoop(RUNS, CONCURRENCY, () =>
    new Promise<void>((res, rej) => {
      const t0 = performance.now();
      const c = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      c.once('spawn', () => lat.push(performance.now() - t0));
      c.once('error', rej);
      c.once('close', () => res());
    }),
  );
  lat.sort((a, b) => a - b);
  return { seconds: ms / 1000, throughput: RUNS / (ms / 1000), spawnP50: quantile(lat, 0.5), spawnP99: quantile(lat, 0.99) };
}

async function kairos() {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-bench-'));
  writeFileSync(join(dir, 'kairos.yaml'), 'project: bench\njobs:\n  noop:\n    run: ["true"]\n');
  const port = 17000 + Math.floor(Math.random() * 2000);
  // `kairos up` as users start it: its own process; this process is only the client.
  const up = spawn(process.execPath, [join(ROOT, 'bin', 'kairos.js'), 'up', dir, '--port', String(port), '--concurrency', String(CONCURRENCY)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let upErr = '';
  up.stderr.on('data', (c: Buffer) => (upErr += c.toString()));
  const client = new KairosClient(`http://127.0.0.1:${port}`);
  const ids: string[] = [];
  try {
    await waitForServer(() => client.health(), () => up.exitCode !== null, () => upErr, 'kairos up');
    // Warm up: the first runs pay for JIT and caches.
    for (let i = 0; i < 20; i++) await client.getRun((await client.createRun('noop', {})).id, 30);
    // Throughput: the queue is kept full (16 submitters), so the worker never waits for work; the figure is
    // the time from the first submission until every run is confirmed finished.
    const t0 = performance.now();
    await closedLoop(RUNS, 16, async () => {
      await client.createRun('noop', {});
    });
    // Wait for the queue to drain, looking ten times a second (cheap for the server, unlike a wait per run).
    while ((await client.listRuns({ state: 'queued,running', limit: 1 })).runs.length > 0) await new Promise((r) => setTimeout(r, 100));
    const ms = performance.now() - t0;
    const failed = await client.listRuns({ state: 'failed,timed_out,cancelled', limit: 1 });
    if (failed.runs.length > 0) throw new Error(`run ${failed.runs[0]?.id} ended ${failed.runs[0]?.state}`);
    // Latency: ${CONCURRENCY} clients each start a run and wait for it, so a run never waits for capacity
    // and created → started is the dispatch path alone.
    await closedLoop(LATENCY_RUNS, CONCURRENCY, async () => {
      const run = await client.createRun('noop', {});
      ids.push(run.id);
      const done = await client.getRun(run.id, 30);
      if (done.state !== 'succeeded') throw new Error(`run ${run.id} ended ${done.state}`);
    });
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
    // Read the timestamps the control plane stamped, straight from its SQLite file.
    const db = await openSqlite(join(dir, '.kairos', 'kairos.db'));
    const { dispatch, claim } = await dispatchLatencies(db, ids);
    await db.close();
    return {
      seconds: ms / 1000,
      throughput: RUNS / (ms / 1000),
      dispatchP50: quantile(dispatch, 0.5),
      dispatchP99: quantile(dispatch, 0.99),
      claimP50: quantile(claim, 0.5),
      claimP99: quantile(claim, 0.99),
      measured: dispatch.length,
    };
  } finally {
    if (up.exitCode === null) up.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(`bench: ${RUNS} runs of \`true\`, concurrency ${CONCURRENCY}, ${cpus().length} cores, node ${process.version}`);
  const base = await baseline();
  console.log(`baseline (direct spawn): ${base.throughput.toFixed(0)} runs/s, ${base.seconds.toFixed(2)} s`);
  const k = await kairos();
  console.log(`kairos embedded: ${k.throughput.toFixed(0)} runs/s, ${k.seconds.toFixed(2)} s; dispatch p50 ${k.dispatchP50} ms, p99 ${k.dispatchP99} ms`);
  const ratio = k.throughput / base.throughput;
  console.log(`ratio kairos/baseline: ${ratio.toFixed(2)} (target ≥ 0.5); dispatch p99 target < 20 ms`);
  const results = { date: new Date().toISOString(), runs: RUNS, concurrency: CONCURRENCY, cores: cpus().length, node: process.version, baseline: base, kairos: k, ratio };
  writeResults('results.json', results);
  const md = `## Ad-hoc runs through the embedded default

Measured by \`npm run bench\` (bench/run.ts); raw figures in \`bench/results.json\`.

\`kairos up\` runs as its own process with a local worker of capacity ${CONCURRENCY} (the default on this
machine: max(4, 2 × cores)) and SQLite in WAL mode; the benchmark process is only an HTTP client.

- Throughput: ${RUNS} ad-hoc runs of \`true\` submitted through the HTTP API by 16 concurrent submitters, so the
  queue never runs dry; measured from the first submission until the queue is empty (checked ten times a
  second), then checked that every run succeeded.
- Dispatch latency: ${LATENCY_RUNS} more runs, ${CONCURRENCY} clients in a closed loop (each starts a run and waits
  for it), so no run ever waits for capacity: created → process started is the dispatch path alone.
- Baseline, in the same benchmark run: ${RUNS} spawns of \`true\` with \`child_process.spawn\`, at most
  ${CONCURRENCY} at a time (the worker's capacity).
Machine: ${cpus().length} cores, Node ${process.version}; run on ${results.date.slice(0, 10)}.

| | throughput (runs/s) | wall time (s) | latency p50 (ms) | latency p99 (ms) |
| --- | ---: | ---: | ---: | ---: |
| baseline: direct spawn | ${base.throughput.toFixed(0)} | ${base.seconds.toFixed(2)} | ${base.spawnP50.toFixed(2)} (spawn) | ${base.spawnP99.toFixed(2)} (spawn) |
| Kairos embedded | ${k.throughput.toFixed(0)} | ${k.seconds.toFixed(2)} | ${k.dispatchP50} (dispatch) | ${k.dispatchP99} (dispatch) |

- Throughput ratio Kairos / baseline: **${ratio.toFixed(2)}** (target ≥ 0.5).
- Dispatch latency (run created → process started, both stamped by the control plane's clock in ms):
  p50 **${k.dispatchP50} ms**, p99 **${k.dispatchP99} ms** (target p99 < 20 ms). Of that, created → claimed by
  the worker: p50 ${k.claimP50} ms, p99 ${k.claimP99} ms.
`;
  writeDocSection('bench/run.ts', md);
  console.log('wrote bench/results.json and its section of docs/benchmarks.md');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
