/**
 * The service relay's cost (docs/services.md): request latency and throughput to a small HTTP service through
 * `/services/<project>/<job>/` (server → the worker's tunnel → the service) against the same service reached
 * directly, all on loopback. The service is a job of `kairos up` (in-process server and worker, SQLite, a
 * bootstrap token): a Node.js HTTP server answering 1 KiB. Writes bench/results-services.json and its section
 * of docs/benchmarks.md.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { startEmbedded } from '../src/embedded.js';
import { KairosClient } from '../src/api/client.js';
import { API } from '../src/api/contract/index.js';
import { median, quantile, writeDocSection, writeResults } from './report.js';

const TOKEN = 'bench-services-bootstrap-token-0123456789';
const SEQUENTIAL = 2000;
const WARMUP = 200;
const CONCURRENCY = 16;
const THROUGHPUT_MS = 5000;
const BIG = 8 * 1024 * 1024;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function get(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`status ${res.statusCode ?? '?'}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function latency(port: number, path: string, headers: Record<string, string>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < WARMUP + SEQUENTIAL; i++) {
    const t0 = performance.now();
    await get(port, path, headers);
    if (i >= WARMUP) out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

async function throughput(port: number, path: string, headers: Record<string, string>): Promise<number> {
  let done = 0;
  const until = performance.now() + THROUGHPUT_MS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await get(port, path, headers);
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

async function download(port: number, path: string, headers: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const n = await get(port, path, headers);
  if (n !== BIG) throw new Error(`got ${n} bytes`);
  return BIG / 1024 / 1024 / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-bench-services-'));
  const port = await freePort();
  mkdirSync(join(dir, 'proj'));
  writeFileSync(
    join(dir, 'proj', 'svc.mjs'),
    `import { createServer } from 'node:http';
const body = Buffer.alloc(1024, 'x');
const big = Buffer.alloc(${BIG}, 'y');
createServer((q, r) => { const b = q.url.endsWith('/big') ? big : body; r.writeHead(200, { 'content-type': 'text/plain', 'content-length': b.length }); r.end(b); })
  .listen(Number(process.env.KAIROS_SERVICE_PORT), '127.0.0.1');
`,
  );
  writeFileSync(join(dir, 'proj', 'kairos.yaml'), `project: bench\njobs:\n  svc:\n    run: ["${process.execPath}", "svc.mjs"]\n    service: {port: ${port}, health: /health}\n`);
  const up = await startEmbedded({ projectDir: join(dir, 'proj'), dataDir: join(dir, 'data'), port: 0, watch: false, token: TOKEN, log: () => {} });
  try {
    const client = new KairosClient(up.url, TOKEN);
    await client.call(API.runs.create, { body: { job: 'svc' } });
    for (;;) {
      const s = (await client.call(API.services.list, { query: {} })).services.find((x) => x.state === 'up');
      if (s) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const serverPort = Number(new URL(up.url).port);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const direct = { port, path: '/services/bench/svc/', headers: {} };
    const relay = { port: serverPort, path: '/services/bench/svc/', headers: auth };
    const lat = { direct: await latency(direct.port, direct.path, direct.headers), relay: await latency(relay.port, relay.path, relay.headers) };
    const rps = { direct: await throughput(direct.port, direct.path, direct.headers), relay: await throughput(relay.port, relay.path, relay.headers) };
    const mbs = { direct: await download(direct.port, '/services/bench/svc/big', {}), relay: await download(relay.port, '/services/bench/svc/big', auth) };
    const f = (v: number) => v.toFixed(2);
    const results = {
      date: new Date().toISOString(),
      node: process.version,
      cores: cpus().length,
      load: loadavg()[0],
      sequential: SEQUENTIAL,
      concurrency: CONCURRENCY,
      latencyMs: {
        direct: { median: median(lat.direct), p90: quantile(lat.direct, 0.9), p99: quantile(lat.direct, 0.99) },
        relay: { median: median(lat.relay), p90: quantile(lat.relay, 0.9), p99: quantile(lat.relay, 0.99) },
      },
      requestsPerSecond: rps,
      downloadMiBs: mbs,
    };
    writeResults('results-services.json', results);
    const L = results.latencyMs;
    writeDocSection(
      'bench/services.ts',
      `## The service relay: latency and throughput against direct access

Measured by \`npm run bench:services\` (bench/services.ts); raw figures in \`bench/results-services.json\`.
A service job of \`kairos up\` (in-process server and worker, SQLite, a token) that answers 1 KiB, reached
through \`/services/bench/svc/\` (client → server → the worker's tunnel, a WebSocket → the service on 127.0.0.1)
and directly on its port, all on loopback; keep-alive connections both ways. Latency: ${SEQUENTIAL} sequential
GETs after ${WARMUP} to warm up; throughput: ${CONCURRENCY} clients for ${THROUGHPUT_MS / 1000} s; download: one 8 MiB
answer. Machine: ${results.cores} cores, Node ${results.node}, load average ${results.load?.toFixed(1)} at the end; run on ${results.date.slice(0, 10)}.

| | median (ms) | p90 (ms) | p99 (ms) | requests/s (${CONCURRENCY} clients) | 8 MiB download (MiB/s) |
| --- | ---: | ---: | ---: | ---: | ---: |
| direct | ${f(L.direct.median)} | ${f(L.direct.p90)} | ${f(L.direct.p99)} | ${rps.direct.toFixed(0)} | ${mbs.direct.toFixed(0)} |
| through the relay | ${f(L.relay.median)} | ${f(L.relay.p90)} | ${f(L.relay.p99)} | ${rps.relay.toFixed(0)} | ${mbs.relay.toFixed(0)} |

- The relay adds **${f(L.relay.median - L.direct.median)} ms** to a request's median latency and serves
  **${((rps.relay / rps.direct) * 100).toFixed(0)} %** of the direct throughput: every request is authenticated, framed
  over the tunnel and answered by the worker's own connection to the service, in the same process here as the
  server (with a remote worker the network's round trip adds to it).
`,
    );
    console.log(JSON.stringify(results, null, 2));
  } finally {
    await up.stop(5000);
    agent.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
