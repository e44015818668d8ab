/**
 * The network preflight's cost for an attempt whose endpoints are local and healthy (docs/network.md): what
 * the worker adds before it starts the process. Three endpoints, checked in parallel as an attempt does: a TCP
 * connect, an HTTP HEAD, a DNS lookup of `localhost`; and, as a second figure, the same followed by the report
 * to an in-process control plane on SQLite (the attempt sends it while its process starts, so it is not on
 * the start's path). Writes bench/results-preflight.json and its section of docs/benchmarks.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/control/engine.js';
import { openDb } from '../src/store/db.js';
import { checkEndpoints } from '../src/worker/preflight.js';
import { median, quantile, writeDocSection, writeResults } from './report.js';

const ROUNDS = 500;
const WARMUP = 50;
const TARGET_MS = 5;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-bench-preflight-'));
  const tcp = createTcpServer((s) => s.end());
  const http = createHttpServer((_q, r) => r.end());
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const db = await openDb(join(dir, 'kairos.db'));
  const engine = new Engine({ db, dataDir: dir });
  try {
    await engine.registerWorker({ id: 'bench', host: 'bench', pools: ['default'], capacity: 1, version: 'bench' });
    const endpoints = [`tcp://127.0.0.1:${(tcp.address() as AddressInfo).port}`, `http://127.0.0.1:${(http.address() as AddressInfo).port}/`, 'dns:localhost'];
    const checks: number[] = [];
    const withReport: number[] = [];
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const t0 = performance.now();
      const results = await checkEndpoints(endpoints, 5000);
      const t1 = performance.now();
      await engine.reportNetwork('bench', { checks: results });
      const t2 = performance.now();
      if (results.some((c) => c.result !== 'ok')) throw new Error(`a local endpoint failed: ${JSON.stringify(results)}`);
      if (i >= WARMUP) {
        checks.push(t1 - t0);
        withReport.push(t2 - t0);
      }
    }
    checks.sort((a, b) => a - b);
    withReport.sort((a, b) => a - b);
    const f = (v: number) => v.toFixed(2);
    const results = {
      date: new Date().toISOString(),
      node: process.version,
      cores: cpus().length,
      load: loadavg()[0],
      rounds: ROUNDS,
      endpoints: endpoints.length,
      checks: { median: median(checks), p90: quantile(checks, 0.9), p99: quantile(checks, 0.99) },
      checksAndReport: { median: median(withReport), p90: quantile(withReport, 0.9), p99: quantile(withReport, 0.99) },
    };
    writeResults('results-preflight.json', results);
    const met = results.checks.median < TARGET_MS;
    writeDocSection(
      'bench/preflight.ts',
      `## The network preflight's cost per attempt

Measured by \`npm run bench:preflight\` (bench/preflight.ts); raw figures in \`bench/results-preflight.json\`.
An attempt whose job needs ${endpoints.length} local, healthy endpoints (a TCP connect, an HTTP HEAD, a DNS lookup of
\`localhost\`), checked in parallel as the worker does before it starts the process; ${ROUNDS} rounds after
${WARMUP} to warm up. Machine: ${results.cores} cores, Node ${results.node}, load average ${results.load?.toFixed(1)} at the end;
run on ${results.date.slice(0, 10)}.

| | median (ms) | p90 (ms) | p99 (ms) |
| --- | ---: | ---: | ---: |
| the checks (what the start waits for) | ${f(results.checks.median)} | ${f(results.checks.p90)} | ${f(results.checks.p99)} |
| the checks, then the report to the control plane (SQLite) | ${f(results.checksAndReport.median)} | ${f(results.checksAndReport.p90)} | ${f(results.checksAndReport.p99)} |

- Added to an attempt's start: **${f(results.checks.median)} ms** median (target < ${TARGET_MS} ms): **${met ? 'met' : 'not met'}**. The
  report to the control plane is sent while the process starts (it is awaited only before the attempt's end),
  so it is not on the start's path; a job with no \`network.needs\` pays nothing.
`,
    );
    console.log(JSON.stringify(results, null, 2));
  } finally {
    await db.close();
    tcp.close();
    http.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
