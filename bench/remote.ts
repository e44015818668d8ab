/**
 * `npm run bench:remote`: dispatch to remote workers. `kairos server` as its own process on PostgreSQL (a
 * throwaway server started here, see tools/pg-server.mjs) and, in the same benchmark run, on SQLite; three
 * `kairos worker` processes claim over HTTP. Measures queued → process started on a worker (p50/p99) and
 * throughput of ad-hoc runs of `true`. Writes bench/results-remote.json and its section of docs/benchmarks.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KairosClient } from '../src/api/client.js';
import { Engine } from '../src/control/engine.js';
import { compileManifestText } from '../src/manifest/index.js';
import { openDb } from '../src/store/db.js';
import { quantile, waitForServer, writeDocSection, dispatchLatencies } from './report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUNS = Number(process.env.KAIROS_BENCH_RUNS ?? 1000);
const LATENCY_RUNS = Number(process.env.KAIROS_BENCH_LATENCY_RUNS ?? 600);
const WORKERS = 3;
const WORKER_CAPACITY = 4;
/** Clients of the latency loop: fewer than the workers' capacity, so a run never waits for a free slot. */
const LATENCY_CLIENTS = 6;

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

function kairos(args: string[]): { child: ChildProcess; err(): string } {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'kairos.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
    if (err.length > 20_000) err = err.slice(-10_000);
  });
  return { child, err: () => err };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await new Promise((r) => child.once('exit', r));
  clearTimeout(timer);
}

interface Figures {
  seconds: number;
  throughput: number;
  dispatchP50: number;
  dispatchP99: number;
  claimP50: number;
  claimP99: number;
  measured: number;
}

async function measure(label: string, target: string): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-bench-remote-'));
  const procs: { child: ChildProcess; err(): string }[] = [];
  try {
    const yaml = 'project: bench\njobs:\n  noop:\n    run: ["true"]\n';
    writeFileSync(join(dir, 'kairos.yaml'), yaml);
    const data = join(dir, 'server-data');
    // Deploy through the same function `kairos up` uses, into the store and bundle directory the server gets.
    const compiled = compileManifestText(yaml, 'kairos.yaml');
    if (!compiled.ok) throw new Error('the benchmark manifest does not compile');
    const deployDb = await openDb(target);
    await new Engine({ db: deployDb, dataDir: data }).deploy(dir, compiled.manifest, 'bench');
    await deployDb.close();

    const port = 19000 + Math.floor(Math.random() * 2000);
    const server = kairos(['server', '--db', target.startsWith('postgres') ? target : `sqlite:${target}`, '--port', String(port), '--data', data, '--lease', '30s']);
    procs.push(server);
    const client = new KairosClient(`http://127.0.0.1:${port}`);
    await waitForServer(() => client.health(), () => server.child.exitCode !== null, () => server.err(), 'kairos server');
    for (let w = 0; w < WORKERS; w++) {
      procs.push(kairos(['worker', '--server', `http://127.0.0.1:${port}`, '--id', `bench-${w}`, '--data', join(dir, `cache-${w}`), '--concurrency', String(WORKER_CAPACITY), '--grace', '5']));
    }
    // Warm up: every worker has the bundle and JIT has run.
    await closedLoop(60, LATENCY_CLIENTS, async () => {
      const r = await client.createRun('noop', {});
      await client.getRun(r.id, 30);
    });

    // Throughput: 16 submitters keep the queue full; from the first submission until the queue is empty.
    const t0 = performance.now();
    await closedLoop(RUNS, 16, async () => {
      await client.createRun('noop', {});
    });
    while ((await client.listRuns({ state: 'queued,running', limit: 1 })).runs.length > 0) await new Promise((r) => setTimeout(r, 100));
    const ms = performance.now() - t0;
    const failed = await client.listRuns({ state: 'failed,timed_out,cancelled', limit: 1 });
    if (failed.runs.length > 0) throw new Error(`run ${failed.runs[0]?.id} ended ${failed.runs[0]?.state}`);

    // Latency: a closed loop of fewer clients than free slots, so queued → started is the dispatch path alone.
    const ids: string[] = [];
    await closedLoop(LATENCY_RUNS, LATENCY_CLIENTS, async () => {
      const run = await client.createRun('noop', {});
      ids.push(run.id);
      const done = await client.getRun(run.id, 30);
      if (done.state !== 'succeeded') throw new Error(`run ${run.id} ended ${done.state}`);
    });
    for (const p of procs.slice(1)) await stop(p.child);
    await stop(server.child);

    // created_at is the control plane's stamp (on PostgreSQL: the database's clock); started_at the worker's
    // stamp of the process start. Same machine here, so one clock.
    const db = await openDb(target);
    const { dispatch, claim } = await dispatchLatencies(db, ids);
    await db.close();
    const f: Figures = {
      seconds: ms / 1000,
      throughput: RUNS / (ms / 1000),
      dispatchP50: quantile(dispatch, 0.5),
      dispatchP99: quantile(dispatch, 0.99),
      claimP50: quantile(claim, 0.5),
      claimP99: quantile(claim, 0.99),
      measured: dispatch.length,
    };
    console.log(`${label}: ${f.throughput.toFixed(0)} runs/s (${f.seconds.toFixed(2)} s); dispatch p50 ${f.dispatchP50} ms, p99 ${f.dispatchP99} ms; claim p50 ${f.claimP50} ms, p99 ${f.claimP99} ms`);
    return f;
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

type PgServer = { url: string; stop(): Promise<void> };

async function main() {
  console.log(`bench:remote: ${RUNS} runs for throughput, ${LATENCY_RUNS} for latency; ${WORKERS} workers × ${WORKER_CAPACITY}; ${cpus().length} cores, node ${process.version}`);
  const { startPostgres } = (await import(pathToFileURL(join(ROOT, 'tools', 'pg-server.mjs')).href)) as { startPostgres(o?: { log?: (m: string) => void }): Promise<PgServer> };
  const pgServer = await startPostgres({ log: (m) => console.log(m) });
  let postgres: Figures;
  let sqlite: Figures;
  try {
    postgres = await measure('PostgreSQL', pgServer.url);
  } finally {
    await pgServer.stop();
  }
  const sqliteDir = mkdtempSync(join(tmpdir(), 'kairos-bench-sqlite-'));
  try {
    sqlite = await measure('SQLite', join(sqliteDir, 'kairos.db'));
  } finally {
    rmSync(sqliteDir, { recursive: true, force: true });
  }
  const results = { date: new Date().toISOString(), runs: RUNS, latencyRuns: LATENCY_RUNS, workers: WORKERS, workerCapacity: WORKER_CAPACITY, latencyClients: LATENCY_CLIENTS, cores: cpus().length, node: process.version, postgres, sqlite };
  writeFileSync(join(ROOT, 'bench', 'results-remote.json'), JSON.stringify(results, null, 2) + '\n');
  const section = `## Remote workers: PostgreSQL and SQLite

Measured by \`npm run bench:remote\` (bench/remote.ts); raw figures in \`bench/results-remote.json\`.
\`kairos server\` runs as its own process, on a throwaway local PostgreSQL server and then, in the same
benchmark run, on SQLite; ${WORKERS} \`kairos worker\` processes (capacity ${WORKER_CAPACITY} each) claim over HTTP on loopback.
Everything shares this machine's ${cpus().length} cores (server, database, workers, jobs and the client).

- Throughput: ${RUNS} ad-hoc runs of \`true\` submitted by 16 concurrent HTTP clients; from the first submission
  until the queue is empty.
- Dispatch latency: ${LATENCY_RUNS} more runs, ${LATENCY_CLIENTS} clients in a closed loop (fewer than the ${WORKERS * WORKER_CAPACITY} free
  slots, so no run waits for capacity): run queued (created_at) → process started on the worker (started_at).
Run on ${results.date.slice(0, 10)}, Node ${process.version}.

| store | throughput (runs/s) | dispatch p50 (ms) | dispatch p99 (ms) | queued → claimed p50 / p99 (ms) |
| --- | ---: | ---: | ---: | ---: |
| PostgreSQL | ${postgres.throughput.toFixed(0)} | ${postgres.dispatchP50} | ${postgres.dispatchP99} | ${postgres.claimP50} / ${postgres.claimP99} |
| SQLite | ${sqlite.throughput.toFixed(0)} | ${sqlite.dispatchP50} | ${sqlite.dispatchP99} | ${sqlite.claimP50} / ${sqlite.claimP99} |

Target: dispatch p99 < 50 ms on PostgreSQL with three remote workers: **${postgres.dispatchP99 < 50 ? 'met' : 'not met'}**.
`;
  writeDocSection('bench/remote.ts', section);
  console.log('wrote bench/results-remote.json and its section of docs/benchmarks.md');
}


main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
