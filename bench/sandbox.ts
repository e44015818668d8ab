/**
 * The cost per run of the sandbox (src/worker/places/sandbox.ts): start-to-exit of `/bin/true` through the
 * worker's native launcher, without a sandbox, in the launcher's own namespaces (`--sandbox native`, the default
 * as root) and in bubblewrap (`--sandbox bwrap`), interleaved (one of each per round, the order rotating) so that
 * a busy moment of the machine costs all alike. Start-to-exit is from the launch request to the exit report, as an
 * attempt sees it. Besides the wall time, the CPU the whole machine spent per run (from /proc/stat) for each way,
 * measured in blocks. Writes bench/results-sandbox.json and its section of docs/benchmarks.md.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLauncher } from '../src/worker/places/launchers.js';
import { resolveSandbox, sandboxCommand, sandboxRules, type Sandbox } from '../src/worker/places/sandbox.js';
import type { LaunchSpec } from '../src/worker/places/local.js';
import type { RunCommand } from '../src/model/job.js';
import { median, quantile, writeDocSection, writeResults } from './report.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 300);
const CPU_RUNS = Number(process.env.BENCH_CPU_RUNS ?? 300);

type Way = 'none' | 'native' | 'bwrap';
const WAYS: readonly Way[] = ['none', 'native', 'bwrap'];

/** Busy CPU time of the whole machine so far, in ms (all but idle and iowait). */
function machineBusyMs(): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return ((total - (f[3] ?? 0) - (f[4] ?? 0)) * 1000) / 100;
}

async function main(): Promise<void> {
  const sandboxes: Record<Exclude<Way, 'none'>, Sandbox | null> = { native: resolveSandbox({ mode: 'native' }), bwrap: resolveSandbox({ mode: 'bwrap' }) };
  const data = mkdtempSync(join(tmpdir(), 'kairos-bench-sandbox-'));
  const bundle = join(data, 'bundles', 'b');
  mkdirSync(bundle, { recursive: true });
  mkdirSync(join(data, 'attempts'), { recursive: true });
  const launcher = createLauncher({ PATH: process.env.PATH ?? '/usr/bin:/bin' });
  const plain: RunCommand = { kind: 'argv', argv: ['/bin/true'] };
  let n = 0;
  const once = async (way: Way): Promise<number> => {
    const artifacts = join(data, 'attempts', `r${n++}`);
    const view = { dataDir: data, readOnly: [bundle], writable: [artifacts], writableFiles: [`${artifacts}.output.jsonl`], cwd: bundle };
    const t0 = process.hrtime.bigint();
    const sb = way === 'none' ? null : sandboxes[way];
    const spec: LaunchSpec = {
      command: sb?.kind === 'bwrap' ? sandboxCommand(sb, plain, view) : plain,
      ...(sb?.kind === 'native' ? { sandbox: sandboxRules(sb, view) } : {}),
      cwd: bundle,
      env: {},
      mkdirs: [artifacts],
      onLines: () => {},
    };
    const p = await launcher.launch(spec);
    const exit = await p.exited;
    if (exit.exitCode !== 0) throw new Error(`${way}: exit ${exit.exitCode}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  // Warm up every path (page cache, the launcher process).
  for (let i = 0; i < 10; i++) for (const w of WAYS) await once(w);
  const wall: Record<Way, number[]> = { none: [], native: [], bwrap: [] };
  for (let i = 0; i < ROUNDS; i++) for (let k = 0; k < WAYS.length; k++) {
    const w = WAYS[(i + k) % WAYS.length] as Way;
    wall[w].push(await once(w));
  }
  const cpu: Record<Way, number> = { none: 0, native: 0, bwrap: 0 };
  for (const w of WAYS) {
    const b0 = machineBusyMs();
    for (let i = 0; i < CPU_RUNS; i++) await once(w);
    cpu[w] = (machineBusyMs() - b0) / CPU_RUNS;
  }
  launcher.close();
  rmSync(data, { recursive: true, force: true });
  const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
  const r = {
    date: new Date().toISOString(),
    rounds: ROUNDS,
    cpu_runs: CPU_RUNS,
    cores: cpus().length,
    node: process.version,
    load: loadavg()[0] ?? 0,
    median_ms: { none: median(wall.none), native: median(wall.native), bwrap: median(wall.bwrap) },
    p90_ms: { none: quantile(sorted(wall.none), 0.9), native: quantile(sorted(wall.native), 0.9), bwrap: quantile(sorted(wall.bwrap), 0.9) },
    machine_cpu_ms_per_run: cpu,
  };
  writeResults('results-sandbox.json', r);
  const f = (x: number) => x.toFixed(1);
  const row = (label: string, w: Way) => `| ${label} | ${f(r.median_ms[w])} | ${f(r.p90_ms[w])} | ${f(cpu[w])} |`;
  writeDocSection(
    'bench/sandbox.ts',
    `## The sandbox's cost per run

Measured by \`npm run bench:sandbox\` (bench/sandbox.ts); raw figures in \`bench/results-sandbox.json\`. Start to
exit of \`/bin/true\` through the native launcher, as an attempt sees it (launch request → exit report): without a
sandbox, in the launcher's own namespaces (\`--sandbox native\`, the default as root) and in bubblewrap
(\`--sandbox bwrap\`), with the view of docs/isolation.md (mount, PID, IPC and UTS namespaces, a private /tmp, the
data directory hidden, the bundle and the artifacts put back); ${ROUNDS} rounds, one of each per round, the order
rotating. The CPU column is the whole machine's busy time per run over ${CPU_RUNS} runs of each, one after another
(kernel work included: namespaces, mounts, execs). Machine: ${r.cores} cores, Node ${r.node}, load average
${r.load.toFixed(1)} at the end; run on ${r.date.slice(0, 10)}.

| | median (ms) | p90 (ms) | machine CPU per run (ms) |
| --- | ---: | ---: | ---: |
${row('no sandbox', 'none')}
${row('native (the launcher\'s namespaces)', 'native')}
${row('bwrap', 'bwrap')}

- Cost of the sandbox per run over none (medians): native **${f(r.median_ms.native - r.median_ms.none)} ms**, bwrap ${f(r.median_ms.bwrap - r.median_ms.none)} ms (target < 20 ms).
`,
  );
  console.log(`sandbox: median none ${f(r.median_ms.none)} ms, native ${f(r.median_ms.native)} ms, bwrap ${f(r.median_ms.bwrap)} ms; machine CPU per run ${f(cpu.none)} / ${f(cpu.native)} / ${f(cpu.bwrap)} ms (load ${r.load.toFixed(1)})`);
}

await main();
