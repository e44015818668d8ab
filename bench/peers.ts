/**
 * `npm run bench:peers`: Kairos side by side with the queues a data team would otherwise pick, on one workload,
 * in one run (issue 20). Each run executes /bin/true (argv, no shell), 4 at a time:
 *
 * - throughput, one client: N runs submitted one after another, each request awaited before the next; from the
 *   first submission until every run is finished and the system says so;
 * - throughput, many clients: the same with 16 concurrent submitters;
 * - latency: 500 runs at a steady 50 per second; per run, submit (client clock) → process started;
 * - peak RSS of the Kairos process(es).
 *
 * Systems: Kairos (`kairos up` on SQLite; `kairos server` on PostgreSQL with one `kairos worker` of capacity 4),
 * BullMQ (Redis), Celery (Redis broker and results), graphile-worker (PostgreSQL), and the floors: a
 * `child_process.spawn` loop and a Python `subprocess` loop. The whole matrix runs on a quiet machine, then again
 * with a busy loop on one core beside it. The peers are installed by this script (Debian packages for Redis and
 * Celery, bench/peers/package.json for the Node.js queues). Writes bench/results-peers.json and its section of
 * docs/benchmarks.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { KairosClient } from '../src/api/client.js';
import { ROOT, quantile, waitForServer, writeDocSection, writeResults } from './report.js';

const RUNS = Number(process.env.KAIROS_BENCH_RUNS ?? 2000);
const LATENCY_RUNS = Number(process.env.KAIROS_BENCH_LATENCY_RUNS ?? 500);
const RATE = 50;
const PEERS = join(ROOT, 'bench', 'peers');
const PYTHON = '/usr/bin/python3';
const ONLY = (process.env.KAIROS_BENCH_ONLY ?? '').split(',').filter(Boolean);
const PASSES = (process.env.KAIROS_BENCH_PASSES ?? 'quiet,hog').split(',');

type Mode = 'seq' | 'par' | 'rate';
interface Drive {
  readonly seconds: number;
  /** [run index, client epoch ms] of each submission (rate mode). */
  readonly submitted: readonly (readonly [number, number])[];
}
interface Figures {
  system: string;
  oneClient: number | null;
  manyClients: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  peakRssMb: number | null;
}
interface System {
  readonly name: string;
  start(): Promise<void>;
  /** One workload; returns its throughput figures and, for `rate`, per-run latencies (ms). */
  drive(mode: Mode, n: number): Promise<{ seconds: number; latencies: number[] }>;
  peakRssMb?(): number;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------- processes

const started: ChildProcess[] = [];
function launch(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { child: ChildProcess; out(): string } {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, out: () => out };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(t);
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** The peak resident set (VmHWM) of a process and all its descendants, summed, in MB. */
function treePeakRssMb(root: number): number {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone
    }
  }
  let kb = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // gone
    }
    stack.push(...(children.get(pid) ?? []));
  }
  return kb / 1024;
}

function readStarts(file: string): Map<number, number> {
  const m = new Map<number, number>();
  if (!existsSync(file)) return m;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [i, t] = line.split(' ');
    if (i !== undefined && t !== undefined) m.set(Number(i), Number(t));
  }
  return m;
}

function latencies(submitted: Drive['submitted'], starts: Map<number, number>): number[] {
  const out: number[] = [];
  for (const [i, t] of submitted) {
    const s = starts.get(i);
    if (s === undefined) throw new Error(`run ${i} has no start time`);
    out.push(s - t);
  }
  return out;
}

/** Runs a peer's client script (bench/peers/*) for one workload and reads its one JSON line. */
async function runClient(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Drive> {
  const c = launch(cmd, args, { cwd: PEERS, env });
  const code = await new Promise<number | null>((r) => c.child.once('exit', (code) => r(code)));
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${code}): ${c.out()}`);
  const line = c.out().trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Drive;
}

// ---------------------------------------------------------------------------------------------- the peers

async function startRedis(dir: string): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const r = launch('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no']);
  await until('redis', () => r.out().includes('Ready to accept'), 30_000);
  return { port, proc: r.child };
}

function peerWithWorker(name: string, opts: {
  setup(dir: string): Promise<{ workerCmd: [string, string[]]; clientCmd: (mode: Mode, n: number) => [string, string[]]; env: NodeJS.ProcessEnv; stop(): Promise<void> }>;
}): System {
  let dir = '';
  let worker: { child: ChildProcess; out(): string } | null = null;
  let setup: Awaited<ReturnType<typeof opts.setup>> | null = null;
  const starts = () => join(dir, 'starts');
  return {
    name,
    async start() {
      dir = mkdtempSync(join(tmpdir(), 'kairos-peer-'));
      setup = await opts.setup(dir);
      const [cmd, args] = setup.workerCmd;
      worker = launch(cmd, args, { cwd: PEERS, env: { ...setup.env, KAIROS_PEER_STARTS: starts() } });
      const w = worker;
      await until(`${name} worker`, () => w.out().includes('ready') || w.child.exitCode !== null, 60_000);
      if (w.child.exitCode !== null) throw new Error(`${name} worker exited: ${w.out()}`);
    },
    async drive(mode, n) {
      if (!setup) throw new Error('not started');
      writeFileSync(starts(), '');
      const [cmd, args] = setup.clientCmd(mode, n);
      const d = await runClient(cmd, args, setup.env);
      return { seconds: d.seconds, latencies: mode === 'rate' ? latencies(d.submitted, readStarts(starts())) : [] };
    },
    async stop() {
      if (worker) await stopChild(worker.child);
      if (setup) await setup.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const bullmq = (): System =>
  peerWithWorker('BullMQ (Redis)', {
    async setup(dir) {
      const redis = await startRedis(dir);
      return {
        workerCmd: [process.execPath, ['bullmq-worker.mjs', String(redis.port), join(dir, 'starts')]],
        clientCmd: (mode, n) => [process.execPath, ['bullmq-client.mjs', mode, String(n), String(RATE), String(redis.port)]],
        env: {},
        stop: () => stopChild(redis.proc),
      };
    },
  });

const celery = (): System =>
  peerWithWorker('Celery (Redis)', {
    async setup(dir) {
      const redis = await startRedis(dir);
      const env = { KAIROS_PEER_REDIS: `redis://127.0.0.1:${redis.port}/0`, PYTHONDONTWRITEBYTECODE: '1' };
      return {
        // The worker says "ready." on stderr when it consumes; prefork pool of 4, as a team would run it.
        workerCmd: [PYTHON, ['-m', 'celery', '-A', 'celery_tasks', 'worker', '--concurrency', '4', '--pool', 'prefork', '--loglevel', 'INFO', '--without-gossip', '--without-mingle', '--without-heartbeat']],
        clientCmd: (mode, n) => [PYTHON, ['celery_client.py', mode, String(n), String(RATE)]],
        env,
        stop: () => stopChild(redis.proc),
      };
    },
  });

async function startPostgres(): Promise<{ url: string; stop(): Promise<void> }> {
  const mod = (await import(join(ROOT, 'tools', 'pg-server.mjs'))) as { startPostgres(): Promise<{ url: string; stop(): Promise<void> | void }> };
  const pg = await mod.startPostgres();
  return { url: pg.url, stop: async () => void (await pg.stop()) };
}

const graphile = (): System =>
  peerWithWorker('graphile-worker (PostgreSQL)', {
    async setup(dir) {
      const pg = await startPostgres();
      // Its schema is made once, before the worker starts.
      const migrate = spawnSync(process.execPath, ['-e', `import('graphile-worker').then(async (g) => { const u = await g.makeWorkerUtils({ connectionString: ${JSON.stringify(pg.url)} }); await u.migrate(); await u.release(); })`], { cwd: PEERS, encoding: 'utf8' });
      if (migrate.status !== 0) throw new Error(`graphile-worker migrate: ${migrate.stderr}`);
      return {
        workerCmd: [process.execPath, ['graphile-worker.mjs', pg.url, join(dir, 'starts')]],
        clientCmd: (mode, n) => [process.execPath, ['graphile-client.mjs', mode, String(n), String(RATE), pg.url]],
        env: {},
        stop: pg.stop,
      };
    },
  });

/** The floor: child_process.spawn of /bin/true, 4 at a time, in this process. */
const nodeSpawn = (): System => ({
  name: 'floor: Node.js spawn loop',
  async start() {},
  async drive(mode, n) {
    if (mode !== 'seq') return { seconds: NaN, latencies: [] };
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next++ < n) {
          await new Promise<void>((res, rej) => {
            const c = spawn('/bin/true', [], { stdio: 'ignore' });
            c.once('error', rej);
            c.once('exit', () => res());
          });
        }
      }),
    );
    return { seconds: (performance.now() - t0) / 1000, latencies: [] };
  },
  async stop() {},
});

const pySpawn = (): System => ({
  name: 'floor: Python subprocess loop',
  async start() {},
  async drive(mode, n) {
    if (mode !== 'seq') return { seconds: NaN, latencies: [] };
    const d = await runClient(PYTHON, ['py_spawn.py', String(n)]);
    return { seconds: d.seconds, latencies: [] };
  },
  async stop() {},
});

// ---------------------------------------------------------------------------------------------- Kairos

const KAIROS_YAML = 'project: bench\njobs:\n  noop:\n    run: ["/bin/true"]\n';

function kairosSystem(name: string, db: 'sqlite' | 'postgres'): System {
  let dir = '';
  let client: KairosClient | null = null;
  const procs: { child: ChildProcess; out(): string }[] = [];
  let pg: { url: string; stop(): Promise<void> } | null = null;
  const kairos = (args: string[]) => launch(process.execPath, [join(ROOT, 'bin', 'kairos.js'), ...args]);
  return {
    name,
    async start() {
      dir = mkdtempSync(join(tmpdir(), 'kairos-bench-peers-'));
      writeFileSync(join(dir, 'kairos.yaml'), KAIROS_YAML);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      client = new KairosClient(url);
      const c = client;
      if (db === 'sqlite') {
        const up = kairos(['up', dir, '--port', String(port), '--concurrency', '4']);
        procs.push(up);
        await waitForServer(() => c.health(), () => up.child.exitCode !== null, up.out, 'kairos up');
      } else {
        pg = await startPostgres();
        const server = kairos(['server', '--db', pg.url, '--port', String(port), '--data', join(dir, 'server-data')]);
        procs.push(server);
        await waitForServer(() => c.health(), () => server.child.exitCode !== null, server.out, 'kairos server');
        const deploy = spawnSync(process.execPath, [join(ROOT, 'bin', 'kairos.js'), 'deploy', dir, '--server', url, '--skip', 'dependencies,code'], { encoding: 'utf8' });
        if (deploy.status !== 0) throw new Error(`kairos deploy: ${deploy.stderr}`);
        procs.push(kairos(['worker', '--server', url, '--data', join(dir, 'worker-data'), '--concurrency', '4']));
      }
      // Warm up: JIT, caches, the bundle on the worker.
      for (let i = 0; i < 20; i++) await c.getRun((await c.createRun('noop', {})).id, 30);
    },
    async drive(mode, n) {
      const c = client as KairosClient;
      const submitted: [string, number][] = [];
      const t0 = performance.now();
      if (mode === 'seq') {
        for (let i = 0; i < n; i++) await c.createRun('noop', {});
      } else if (mode === 'par') {
        let next = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next++ < n) await c.createRun('noop', {});
          }),
        );
      } else {
        const start = Date.now();
        const inflight: Promise<void>[] = [];
        for (let i = 0; i < n; i++) {
          const wait = start + (i * 1000) / RATE - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const at = Date.now();
          inflight.push(c.createRun('noop', {}).then((r) => void submitted.push([r.id, at])));
        }
        await Promise.all(inflight);
      }
      while ((await c.listRuns({ state: 'queued,running', limit: 1 })).runs.length > 0) await new Promise((r) => setTimeout(r, 20));
      const seconds = (performance.now() - t0) / 1000;
      const failed = await c.listRuns({ state: 'failed,timed_out,cancelled', limit: 1 });
      if (failed.runs.length > 0) throw new Error(`run ${failed.runs[0]?.id} ended ${failed.runs[0]?.state}`);
      const lat: number[] = [];
      // The process's start as the launcher stamped it (the attempt's started_at; the run's is its claim).
      for (const [id, at] of submitted) {
        const first = (await c.attempts(id)).attempts[0] as { started_at?: string | null } | undefined;
        if (!first?.started_at) throw new Error(`run ${id} has no process start time`);
        lat.push(Date.parse(first.started_at) - at);
      }
      return { seconds, latencies: lat };
    },
    peakRssMb() {
      return procs.reduce((sum, p) => sum + (p.child.pid ? treePeakRssMb(p.child.pid) : 0), 0);
    },
    async stop() {
      for (const p of procs.reverse()) await stopChild(p.child);
      if (pg) await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------- the run

function ensureInstalled(): void {
  const need: string[] = [];
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) need.push('redis-server');
  if (spawnSync(PYTHON, ['-c', 'import celery, redis']).status !== 0) need.push('python3-celery', 'python3-redis');
  if (need.length > 0) {
    console.log(`bench:peers: installing ${need.join(' ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', ...need], { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`could not install ${need.join(' ')}`);
  }
  if (!existsSync(join(PEERS, 'node_modules', 'bullmq')) || !existsSync(join(PEERS, 'node_modules', 'graphile-worker'))) {
    console.log('bench:peers: installing BullMQ and graphile-worker (npm ci in bench/peers)');
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEERS, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm ci in bench/peers failed');
  }
}

async function measure(sys: System): Promise<Figures> {
  const f: Figures = { system: sys.name, oneClient: null, manyClients: null, p50: null, p95: null, p99: null, peakRssMb: null };
  await sys.start();
  try {
    const one = await sys.drive('seq', RUNS);
    f.oneClient = RUNS / one.seconds;
    const many = await sys.drive('par', RUNS);
    if (Number.isFinite(many.seconds)) f.manyClients = RUNS / many.seconds;
    const lat = await sys.drive('rate', LATENCY_RUNS);
    if (lat.latencies.length > 0) {
      const s = [...lat.latencies].sort((a, b) => a - b);
      f.p50 = quantile(s, 0.5);
      f.p95 = quantile(s, 0.95);
      f.p99 = quantile(s, 0.99);
    }
    if (sys.peakRssMb) f.peakRssMb = sys.peakRssMb();
  } finally {
    await sys.stop();
  }
  return f;
}

const fmt = (v: number | null, d = 0) => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(d));

function table(rows: readonly Figures[]): string {
  const lines = ['| system | one client (runs/s) | 16 clients (runs/s) | p50 (ms) | p95 (ms) | p99 (ms) | peak RSS (MB) |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const r of rows) lines.push(`| ${r.system} | ${fmt(r.oneClient)} | ${fmt(r.manyClients)} | ${fmt(r.p50, 1)} | ${fmt(r.p95, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.peakRssMb)} |`);
  return lines.join('\n');
}

function ratios(rows: readonly Figures[]): string {
  const k = rows.find((r) => r.system.startsWith('Kairos up'));
  const kp = rows.find((r) => r.system.startsWith('Kairos server'));
  const out: string[] = [];
  for (const r of rows) {
    if (r.system.startsWith('Kairos')) continue;
    const ref = r.system.includes('PostgreSQL') && kp ? kp : k;
    if (!ref || ref.oneClient === null || r.oneClient === null) continue;
    const p99 = ref.p99 !== null && r.p99 !== null ? `, p99 ${fmt(ref.p99, 1)} vs ${fmt(r.p99, 1)} ms` : '';
    out.push(`- ${ref.system} / ${r.system}: one client ${(ref.oneClient / r.oneClient).toFixed(2)}×${ref.manyClients && r.manyClients ? `, 16 clients ${(ref.manyClients / r.manyClients).toFixed(2)}×` : ''}${p99}`);
  }
  return out.join('\n');
}

async function main() {
  ensureInstalled();
  const systems: (() => System)[] = [
    () => kairosSystem('Kairos up (SQLite)', 'sqlite'),
    () => kairosSystem('Kairos server (PostgreSQL) + 1 worker', 'postgres'),
    bullmq,
    celery,
    graphile,
    nodeSpawn,
    pySpawn,
  ];
  const passes: { pass: string; load: number[]; rows: Figures[] }[] = [];
  for (const pass of PASSES) {
    let hog: ChildProcess | null = null;
    if (pass === 'hog') hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    const rows: Figures[] = [];
    const loadBefore = loadavg()[0] ?? 0;
    try {
      for (const make of systems) {
        const sys = make();
        if (ONLY.length > 0 && !ONLY.some((o) => sys.name.toLowerCase().includes(o.toLowerCase()))) continue;
        console.log(`[${pass}] ${sys.name} …`);
        const f = await measure(sys);
        console.log(`[${pass}] ${sys.name}: one client ${fmt(f.oneClient)} runs/s, 16 clients ${fmt(f.manyClients)} runs/s, p50 ${fmt(f.p50, 1)} p95 ${fmt(f.p95, 1)} p99 ${fmt(f.p99, 1)} ms${f.peakRssMb ? `, peak RSS ${fmt(f.peakRssMb)} MB` : ''}`);
        rows.push(f);
      }
    } finally {
      hog?.kill('SIGKILL');
    }
    passes.push({ pass, load: [loadBefore, loadavg()[0] ?? 0], rows });
  }
  const date = new Date().toISOString();
  writeResults('results-peers.json', { date, runs: RUNS, latencyRuns: LATENCY_RUNS, rate: RATE, cores: cpus().length, node: process.version, passes });
  const sections = passes
    .map((p) => `### ${p.pass === 'hog' ? 'With a busy loop on one core beside it' : 'Quiet machine'} (load average ${p.load[0]?.toFixed(2)} before, ${p.load[1]?.toFixed(2)} after)\n\n${table(p.rows)}\n\nRatios (Kairos / peer; above 1 is Kairos faster; p99 lower is better):\n\n${ratios(p.rows)}\n`)
    .join('\n');
  const md = `## Side by side with Celery, BullMQ and graphile-worker

Measured by \`npm run bench:peers\` (bench/peers.ts; the peers' own scripts in bench/peers/); raw figures in
\`bench/results-peers.json\`. Every system runs the same workload in the same benchmark run: each run executes
\`/bin/true\` (argv, no shell), 4 at a time. One client: ${RUNS} runs submitted one after another, each request
awaited, from the first submission until every run has finished and the system says so. 16 clients: the same
with 16 concurrent submitters. Latency: ${LATENCY_RUNS} runs at a steady ${RATE}/s, per run from submission (client clock)
to process started (the worker's clock; one machine). Peak RSS: the Kairos processes' high-water marks
(the launcher included). Kairos runs with its defaults (jobs sandboxed: as root, in namespaces the native launcher makes; docs/isolation.md). Latency ends at the process start the launcher stamped (the attempt's \`started_at\`), as the peers' ends at theirs.
Machine: ${cpus().length} cores, Node ${process.version}; run on ${date.slice(0, 10)}.

${sections}`;
  writeDocSection('bench/peers.ts', md);
  console.log('wrote bench/results-peers.json and its section of docs/benchmarks.md');
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
