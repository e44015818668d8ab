/**
 * The cost per run of the sandbox (src/worker/places/sandbox.ts): start-to-exit of `/bin/true` through the
 * worker's launcher, with and without bubblewrap, interleaved (one of each per round) so that a busy moment of
 * the machine costs both alike. Start-to-exit is from the launch request to the exit report, as an attempt
 * sees it. Writes bench/results-sandbox.json and its section of docs/benchmarks.md.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLauncher } from '../src/worker/places/launchers.js';
import { resolveSandbox, sandboxCommand } from '../src/worker/places/sandbox.js';
import type { RunCommand } from '../src/model/job.js';
import { median, quantile, writeDocSection, writeResults } from './report.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 300);

async function main(): Promise<void> {
  const sandbox = resolveSandbox({ mode: 'bwrap' });
  if (!sandbox) throw new Error('bwrap is not installed');
  const data = mkdtempSync(join(tmpdir(), 'kairos-bench-sandbox-'));
  const bundle = join(data, 'bundles', 'b');
  mkdirSync(bundle, { recursive: true });
  mkdirSync(join(data, 'attempts'), { recursive: true });
  const launcher = createLauncher({ PATH: process.env.PATH ?? '/usr/bin:/bin' });
  const plain: RunCommand = { kind: 'argv', argv: ['/bin/true'] };
  const once = async (sandboxed: boolean, i: number): Promise<number> => {
    const artifacts = join(data, 'attempts', `r${i}${sandboxed ? 's' : 'p'}`);
    const view = { dataDir: data, readOnly: [bundle], writable: [artifacts], writableFiles: [`${artifacts}.output.jsonl`], cwd: bundle };
    const t0 = process.hrtime.bigint();
    const command = sandboxed ? sandboxCommand(sandbox, plain, view) : plain;
    const p = await launcher.launch({ command, cwd: bundle, env: {}, mkdirs: [artifacts], onLines: () => {} });
    const exit = await p.exited;
    if (exit.exitCode !== 0) throw new Error(`exit ${exit.exitCode}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  // Warm up both paths (page cache, the launcher process).
  for (let i = 0; i < 10; i++) await once(i % 2 === 0, -i - 1);
  const without: number[] = [];
  const withSb: number[] = [];
  const paired: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const first = i % 2 === 0;
    const a = await once(first, i);
    const b = await once(!first, i);
    const [s, p] = first ? [a, b] : [b, a];
    withSb.push(s);
    without.push(p);
    paired.push(s - p);
  }
  launcher.close();
  rmSync(data, { recursive: true, force: true });
  const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
  const r = {
    date: new Date().toISOString(),
    rounds: ROUNDS,
    cores: cpus().length,
    node: process.version,
    load: loadavg()[0] ?? 0,
    median_without_ms: median(without),
    median_with_ms: median(withSb),
    p90_without_ms: quantile(sorted(without), 0.9),
    p90_with_ms: quantile(sorted(withSb), 0.9),
    median_paired_cost_ms: median(paired),
  };
  writeResults('results-sandbox.json', r);
  const f = (n: number) => n.toFixed(1);
  writeDocSection(
    'bench/sandbox.ts',
    `## The sandbox's cost per run

Measured by \`npm run bench:sandbox\` (bench/sandbox.ts); raw figures in \`bench/results-sandbox.json\`. Start to
exit of \`/bin/true\` through the native launcher, as an attempt sees it (launch request → exit report), with the
sandbox of docs/isolation.md (bubblewrap: mount, PID, IPC and UTS namespaces, a private /tmp, the data
directory hidden) and without; ${ROUNDS} rounds, one of each per round, in alternating order. Machine:
${r.cores} cores, Node ${r.node}, load average ${r.load.toFixed(1)} at the end; run on ${r.date.slice(0, 10)}.

| | median (ms) | p90 (ms) |
| --- | ---: | ---: |
| without the sandbox | ${f(r.median_without_ms)} | ${f(r.p90_without_ms)} |
| with the sandbox | ${f(r.median_with_ms)} | ${f(r.p90_with_ms)} |

- Cost of the sandbox per run (median of the per-round differences): **${f(r.median_paired_cost_ms)} ms** (target < 20 ms).
${r.load > r.cores ? `- This machine was overloaded during the run (load average ${r.load.toFixed(1)} on ${r.cores} cores): starting \`/bin/true\`
  without the sandbox took ${f(r.median_without_ms)} ms, against 1–2 ms on an idle machine, and a sandboxed run starts
  three processes and four programs where a plain run starts one, so its cost is inflated alike (ratio with/without: ${(r.median_with_ms / r.median_without_ms).toFixed(1)}). The
  figure against the target needs a rerun on a quiet machine.
` : ''}`,
  );
  console.log(`sandbox: median ${f(r.median_with_ms)} ms with, ${f(r.median_without_ms)} ms without; cost ${f(r.median_paired_cost_ms)} ms per run (load ${r.load.toFixed(1)})`);
}

await main();
