/**
 * The Slurm place's cost (docs/places.md, Slurm), on the throwaway two-node cluster of tools/slurm-cluster.mjs:
 * - run created → its Slurm job running (the batch script's first line, by the clock of this machine), through
 *   `kairos up` + `kairos worker --place slurm`;
 * - the same for `sbatch --wrap` alone (submitted → running), and submitted → gone from squeue against run
 *   created → run succeeded: the per-run overhead Kairos adds to Slurm.
 * Rounds alternate the two so that a busy moment costs both alike. Writes bench/results-slurm.json and its section
 * of docs/benchmarks.md. Needs root and Debian's slurm-wlm and munge.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KairosClient } from '../src/api/client.js';
import { median, quantile, writeDocSection, writeResults } from './report.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Cluster {
  env: Record<string, string>;
  partition: string;
  sharedDir: string;
  stop(): Promise<void>;
  killNow(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function waitFile(f: string, ms = 120_000): Promise<string> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const t = readFileSync(f, 'utf8');
      if (t.endsWith('\n')) return t;
    } catch {
      // not yet
    }
    await sleep(10);
  }
  throw new Error(`no ${f}`);
}

async function main(): Promise<void> {
  const tool = (await import(join(ROOT, 'tools', 'slurm-cluster.mjs'))) as { startSlurmCluster(o: object): Promise<Cluster> };
  const c = await tool.startSlurmCluster({});
  process.once('exit', () => c.killNow());
  const env = { ...(process.env as Record<string, string>), ...c.env };
  const dir = mkdtempSync(join(tmpdir(), 'kairos-bench-slurm-'));
  const marks = join(c.sharedDir, 'marks');
  mkdirSync(marks, { recursive: true });
  const procs: ChildProcess[] = [];
  try {
    mkdirSync(join(dir, 'project'), { recursive: true });
    writeFileSync(join(dir, 'project', 'kairos.yaml'), `project: bench\njobs:\n  stamp:\n    run: date +%s%3N > ${marks}/$KAIROS_RUN_ID\n`);
    const port = await freePort();
    const bin = join(ROOT, 'bin', 'kairos.js');
    const server = `http://127.0.0.1:${port}`;
    procs.push(spawn(process.execPath, [bin, 'up', join(dir, 'project'), '--port', String(port), '--data', join(dir, 'data'), '--concurrency', '0'], { stdio: 'ignore', env }));
    const client = new KairosClient(server);
    for (let i = 0; ; i++) {
      if (await client.health().then(() => true, () => false)) break;
      if (i > 600) throw new Error('the server did not start');
      await sleep(100);
    }
    procs.push(spawn(process.execPath, [bin, 'worker', '--server', server, '--id', 'bench', '--place', 'slurm', '--partition', c.partition, '--shared-dir', c.sharedDir, '--concurrency', '2'], { stdio: 'ignore', env }));
    const slurmStart: number[] = [];
    const slurmTotal: number[] = [];
    const kairosStart: number[] = [];
    const kairosTotal: number[] = [];
    const sbatchOnce = async (i: number) => {
      const f = join(marks, `wrap-${i}`);
      const t0 = Date.now();
      const r = spawnSync('sbatch', ['--parsable', '--no-requeue', `--output=/dev/null`, '--wrap', `date +%s%3N > ${f}`], { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
      const id = r.stdout.trim();
      const started = Number((await waitFile(f)).trim());
      for (;;) {
        const q = spawnSync('squeue', ['-h', '-j', id, '-o', '%T'], { env, encoding: 'utf8' });
        if (q.status !== 0 || !/PENDING|RUNNING|COMPLETING|CONFIGURING/.test(q.stdout)) break;
        await sleep(20);
      }
      slurmStart.push(started - t0);
      slurmTotal.push(Date.now() - t0);
    };
    const kairosOnce = async () => {
      const t0 = Date.now();
      const run = await client.createRun('stamp', {});
      const started = Number((await waitFile(join(marks, run.id))).trim());
      let done = await client.getRun(run.id, 60);
      while (done.state !== 'succeeded' && done.state !== 'failed') done = await client.getRun(run.id, 60);
      if (done.state !== 'succeeded') throw new Error(`run ${run.id}: ${done.reason ?? ''}`);
      kairosStart.push(started - t0);
      kairosTotal.push(Date.now() - t0);
    };
    // Warm-up: the worker registered and its bundle fetched.
    await kairosOnce();
    await sbatchOnce(-1);
    kairosStart.length = kairosTotal.length = slurmStart.length = slurmTotal.length = 0;
    for (let i = 0; i < ROUNDS; i++) {
      if (i % 2 === 0) {
        await sbatchOnce(i);
        await kairosOnce();
      } else {
        await kairosOnce();
        await sbatchOnce(i);
      }
    }
    const s = (v: number[]) => [...v].sort((a, b) => a - b);
    const row = (name: string, v: number[]) => `| ${name} | ${median(v).toFixed(0)} | ${quantile(s(v), 0.9).toFixed(0)} |`;
    const results = {
      rounds: ROUNDS,
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version, load: loadavg()[0] },
      ms: { kairosStart, kairosTotal, slurmStart, slurmTotal },
      medians: { kairosStart: median(kairosStart), kairosTotal: median(kairosTotal), slurmStart: median(slurmStart), slurmTotal: median(slurmTotal) },
    };
    writeResults('results-slurm.json', results);
    const md = [
      '## The Slurm place: run created to job running, and its overhead over sbatch',
      '',
      'Measured by `npm run bench:slurm` (bench/slurm.ts); raw figures in `bench/results-slurm.json`. A two-node',
      'cluster on this machine (tools/slurm-cluster.mjs: slurmctld, two slurmd, `sched/builtin`), `kairos up` and one',
      `\`kairos worker --place slurm\` polling squeue every second; ${ROUNDS} rounds, each one \`sbatch --wrap\` and one`,
      'Kairos run of the same one-line job, in alternating order. "Running" is the job\'s own first command (a time',
      `stamp it writes). Machine: ${cpus().length} cores, Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)} at the end; run on ${results.date.slice(0, 10)}.`,
      '',
      '| | median (ms) | p90 (ms) |',
      '| --- | ---: | ---: |',
      row('`sbatch --wrap`: submitted → running', slurmStart),
      row('Kairos: run created → Slurm job running', kairosStart),
      row('`sbatch --wrap`: submitted → gone from squeue', slurmTotal),
      row('Kairos: run created → run succeeded', kairosTotal),
      '',
      `- Overhead per run to start (median against median): **${(median(kairosStart) - median(slurmStart)).toFixed(0)} ms**; to the end`,
      `  reported: **${(median(kairosTotal) - median(slurmTotal)).toFixed(0)} ms**. Slurm's own scheduling dominates the start (seconds`,
      '  here, both ways), so the start overhead is within its noise; the end costs the worker\'s squeue poll (1 s at most)',
      '  and its report.',
    ].join('\n');
    writeDocSection('bench/slurm.ts', md);
    console.log(md);
  } finally {
    for (const p of procs) {
      p.kill('SIGTERM');
    }
    await sleep(2000);
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
    if (existsSync(marks)) rmSync(marks, { recursive: true, force: true });
  }
}

await main();
