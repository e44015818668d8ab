/**
 * `npm run bench:schedules`: 10,000 schedules firing every minute on the embedded default (SQLite in WAL
 * mode), decided by the real Scheduler class on the real clock for a few minute boundaries. The scheduler is
 * measured alone: there is no worker (runs stay queued; 10,000 processes a minute is not what this measures),
 * and every schedule has `concurrency: allow`, so each tick creates a run. Measures each tick's lateness
 * (ledger: recorded_at − instant; and run committed and announced − instant) and the process's peak RSS.
 * Writes bench/results-schedules.json and its own section of docs/benchmarks.md (after bench/run.ts wrote it).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { quantile, writeDocSection } from './report.js';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/control/engine.js';
import { Scheduler } from '../src/control/scheduler.js';
import { compileManifestText } from '../src/manifest/index.js';
import { openSqlite } from '../src/store/db.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCHEDULES = Number(process.env.KAIROS_BENCH_SCHEDULES ?? 10_000);
const BOUNDARIES = Number(process.env.KAIROS_BENCH_BOUNDARIES ?? 3);
const MINUTE = 60_000;


function stats(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { count: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] ?? NaN };
}

/** One project with SCHEDULES jobs, each `* * * * *` with `concurrency: allow`, compiled and deployed as `kairos up` would. */
async function deploy(engine: Engine, dir: string): Promise<void> {
  const lines = ['project: bench', 'jobs:'];
  for (let i = 0; i < SCHEDULES; i++) lines.push(`  j${String(i).padStart(5, '0')}:`, '    run: ["true"]', '    schedule: {cron: "* * * * *", concurrency: allow}');
  const yaml = lines.join('\n') + '\n';
  writeFileSync(join(dir, 'kairos.yaml'), yaml);
  const compiled = compileManifestText(yaml, 'kairos.yaml');
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems.slice(0, 3)));
  await engine.deploy(dir, compiled.manifest, 'bench');
}

async function main() {
  console.log(`bench:schedules: ${SCHEDULES} schedules every minute, ${BOUNDARIES} minute boundaries, ${cpus().length} cores, node ${process.version}`);
  const dir = mkdtempSync(join(tmpdir(), 'kairos-bench-schedules-'));
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
  try {
    const t0 = performance.now();
    const db = await openSqlite(join(dir, 'data', 'kairos.db'));
    const engine = new Engine({ db, dataDir: join(dir, 'data') });
    await deploy(engine, dir);
    console.log(`deployed ${SCHEDULES} schedules in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const firstBoundary = Math.ceil((Date.now() + 1) / MINUTE) * MINUTE;
    const lastBoundary = firstBoundary + (BOUNDARIES - 1) * MINUTE;
    // CPU time of the process from each boundary until the last run of that boundary is announced: what
    // deciding 10,000 ticks costs, whatever else the machine is doing.
    const perBoundary: { boundary: string; cpu_ms: number; wall_ms: number; ledger_p99_ms?: number }[] = [];
    const cpuAt = new Map<number, NodeJS.CpuUsage>();
    const counted = new Map<number, number>();
    for (let b = firstBoundary; b <= lastBoundary; b += MINUTE) setTimeout(() => cpuAt.set(b, process.cpuUsage()), Math.max(0, b - Date.now()));
    // When each run was committed and announced (the scheduler emits 'run' after each batch commits).
    const announced: number[] = [];
    engine.bus.on('run', () => {
      const now = Date.now();
      const b = Math.floor(now / MINUTE) * MINUTE;
      announced.push(now - b);
      const n = (counted.get(b) ?? 0) + 1;
      counted.set(b, n);
      const c0 = cpuAt.get(b);
      if (n === SCHEDULES && c0) {
        const c = process.cpuUsage(c0);
        perBoundary.push({ boundary: new Date(b).toISOString(), cpu_ms: Math.round((c.user + c.system) / 1000), wall_ms: now - b });
      }
    });
    const errors: unknown[] = [];
    const scheduler = new Scheduler(engine.ctx, (err) => errors.push(err));
    scheduler.start();
    const rssAtStart = process.memoryUsage().rss;
    // Wait until every tick of the last boundary is decided (or a minute after it, whichever is first).
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      if ((counted.get(lastBoundary) ?? 0) >= SCHEDULES || Date.now() > lastBoundary + MINUTE) break;
      process.stdout.write(`\r  waiting for ${new Date(lastBoundary).toISOString()} (${Math.max(0, Math.round((lastBoundary - Date.now()) / 1000))} s)   `);
    }
    process.stdout.write('\n');
    await scheduler.stop();
    if (errors.length > 0) throw new Error(`scheduler errors: ${String(errors[0])}`);

    const ticks = await db.kysely.selectFrom('ticks').select(['instant', 'outcome', 'lateness_ms']).where('instant', '>=', firstBoundary).where('instant', '<=', lastBoundary).execute();
    const runs = await db.kysely.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const expected = SCHEDULES * BOUNDARIES;
    const outcomes: Record<string, number> = {};
    for (const t of ticks) outcomes[t.outcome] = (outcomes[t.outcome] ?? 0) + 1;
    const ledger = stats(ticks.map((t) => Number(t.lateness_ms)));
    for (const b of perBoundary) {
      const at = Date.parse(b.boundary);
      b.ledger_p99_ms = stats(ticks.filter((t) => Number(t.instant) === at).map((t) => Number(t.lateness_ms))).p99;
    }
    const commit = stats(announced);
    await db.close();
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
    const results = {
      date: new Date().toISOString(),
      schedules: SCHEDULES,
      boundaries: BOUNDARIES,
      cores: cpus().length,
      node: process.version,
      ticks: ticks.length,
      expected_ticks: expected,
      runs: Number(runs?.n ?? 0),
      outcomes,
      ledger_lateness_ms: ledger,
      committed_lateness_ms: commit,
      per_boundary: perBoundary,
      rss_mb: { at_start_of_scheduling: Math.round(rssAtStart / 2 ** 20), peak: Math.round(peakRss / 2 ** 20) },
    };
    console.log(JSON.stringify(results, null, 2));
    const ok = ticks.length === expected && commit.p99 < 1000 && peakRss < 300 * 2 ** 20;
    console.log(`target: every tick decided once, p99 < 1000 ms, RSS < 300 MB: ${ok ? 'met' : 'NOT met'}`);
    if (process.env.KAIROS_BENCH_NO_WRITE === '1') return;
    mkdirSync(join(ROOT, 'bench'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results-schedules.json'), JSON.stringify(results, null, 2) + '\n');
    writeSection(results, ok);
  } finally {
    clearInterval(sampler);
    rmSync(dir, { recursive: true, force: true });
  }
}


function writeSection(r: { schedules: number; boundaries: number; cores: number; node: string; date: string; ticks: number; expected_ticks: number; runs: number; outcomes: Record<string, number>; ledger_lateness_ms: ReturnType<typeof stats>; committed_lateness_ms: ReturnType<typeof stats>; rss_mb: { at_start_of_scheduling: number; peak: number }; per_boundary: { cpu_ms: number; wall_ms: number; ledger_p99_ms?: number }[] }, ok: boolean): void {
  const l = r.ledger_lateness_ms;
  const c = r.committed_lateness_ms;
  const section = `## ${r.schedules.toLocaleString('en-US')} schedules firing every minute

Measured by \`npm run bench:schedules\` (bench/schedules.ts, also run by \`npm run bench\`); raw figures in
\`bench/results-schedules.json\`. One project with ${r.schedules.toLocaleString('en-US')} jobs, each scheduled \`* * * * *\` with
\`concurrency: allow\`, on the embedded default (SQLite file in WAL mode); the real \`Scheduler\` on the real
clock for ${r.boundaries} minute boundaries. The scheduler is measured alone: there is no worker, so every
run stays queued (${r.schedules.toLocaleString('en-US')} processes a minute would measure the machine, not the
scheduler), and the queue grows by ${r.schedules.toLocaleString('en-US')} runs a minute during the measurement.
Machine: ${r.cores} cores, Node ${r.node}; run on ${r.date.slice(0, 10)}.

| | p50 (ms) | p99 (ms) | max (ms) |
| --- | ---: | ---: | ---: |
| tick decided (ledger \`recorded_at\` − instant) | ${l.p50} | ${l.p99} | ${l.max} |
| run committed and announced − instant | ${c.p50} | ${c.p99} | ${c.max} |

- Boundary by boundary (the first one runs in a freshly started process, before the JIT has warmed up):

| boundary | ticks decided, p99 (ms) | last run announced (ms after the instant) | CPU time of the process (ms) |
| --- | ---: | ---: | ---: |
${r.per_boundary.map((b, i) => `| ${i + 1} | ${b.ledger_p99_ms ?? '-'} | ${b.wall_ms} | ${b.cpu_ms} |`).join('\n')}

- Ticks decided: ${r.ticks.toLocaleString('en-US')} of ${r.expected_ticks.toLocaleString('en-US')} (${Object.entries(r.outcomes).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ')}), each once; runs created: ${r.runs.toLocaleString('en-US')}.
- Peak RSS of the process (deploying the ${r.schedules.toLocaleString('en-US')}-job manifest included): **${r.rss_mb.peak} MB**
  (${r.rss_mb.at_start_of_scheduling} MB when scheduling started).
- Target: every tick within one second of its instant (p99) and under 300 MB: **${ok ? 'met' : 'not met'}**.
`;
  writeDocSection('bench/schedules.ts', section);
  console.log('wrote bench/results-schedules.json and its section of docs/benchmarks.md');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
