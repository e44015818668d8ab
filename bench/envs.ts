/**
 * `npm run bench:envs`: the overhead a Python environment adds to a run once it is built. Runs of the same
 * program (`python -c pass`) through the embedded default, alternately as a `system` job (Debian's
 * /usr/bin/python3) and as a job in a built virtual environment (its python, one package installed from a
 * package index served on loopback); each run timed from its creation to its end, as a client sees it.
 * Writes bench/results-envs.json and its own section of docs/benchmarks.md.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbedded } from '../src/embedded.js';
import { KairosClient } from '../src/api/client.js';
import { writeDocSection } from './report.js';
import { startIndex, SYSTEM_PYTHON } from '../test/envs/package-index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const N = Number(process.env.KAIROS_BENCH_ENV_RUNS ?? 40);
const TARGET_MS = 100;

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] ?? NaN) : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
};
const round = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-bench-envs-'));
  const index = await startIndex([{ name: 'benchpkg', version: '1.0' }]);
  mkdirSync(join(dir, 'project'));
  writeFileSync(join(dir, 'project', 'requirements.txt'), 'benchpkg==1.0\n');
  writeFileSync(
    join(dir, 'project', 'kairos.yaml'),
    `project: bench
environments:
  py:
    python: ${SYSTEM_PYTHON}
    requirements: requirements.txt
    index_urls: [${index.url}]
jobs:
  system:
    run: [${SYSTEM_PYTHON}, -c, "pass"]
  env:
    environment: py
    run: [python, -c, "import benchpkg"]
`,
  );
  const up = await startEmbedded({ projectDir: join(dir, 'project'), dataDir: join(dir, 'data'), port: 0, watch: false, concurrency: 1, log: () => {} });
  const client = new KairosClient(up.url);
  const timed = async (job: string) => {
    const t = performance.now();
    const run = await client.createRun(job, {});
    const done = await client.getRun(run.id, 120);
    if (done.state !== 'succeeded') throw new Error(`${job} run ${run.id} ${done.state}: ${done.reason}`);
    return performance.now() - t;
  };
  try {
    const firstBuildMs = await timed('env');
    for (let i = 0; i < 5; i++) await timed(i % 2 ? 'env' : 'system'); // warm-up
    const system: number[] = [];
    const env: number[] = [];
    for (let i = 0; i < N; i++) {
      // Alternate, so that drift of the machine touches both equally.
      if (i % 2) {
        env.push(await timed('env'));
        system.push(await timed('system'));
      } else {
        system.push(await timed('system'));
        env.push(await timed('env'));
      }
    }
    const overhead = median(env) - median(system);
    const results = {
      date: new Date().toISOString(),
      cores: cpus().length,
      node: process.version,
      runs_each: N,
      first_run_with_build_ms: round(firstBuildMs),
      system_median_ms: round(median(system)),
      env_median_ms: round(median(env)),
      overhead_median_ms: round(overhead),
      target_ms: TARGET_MS,
      met: overhead < TARGET_MS,
    };
    console.log(JSON.stringify(results, null, 2));
    if (process.env.KAIROS_BENCH_NO_WRITE === '1') return;
    writeFileSync(join(ROOT, 'bench', 'results-envs.json'), JSON.stringify(results, null, 2) + '\n');
    writeSection(results);
  } finally {
    client.close();
    await up.stop(5000);
    await index.close();
    rmSync(dir, { recursive: true, force: true });
  }
}


function writeSection(r: { date: string; cores: number; node: string; runs_each: number; first_run_with_build_ms: number; system_median_ms: number; env_median_ms: number; overhead_median_ms: number; met: boolean }): void {
  const section = `## A run in a built Python environment

Measured by \`npm run bench:envs\` (bench/envs.ts); raw figures in \`bench/results-envs.json\`. The embedded
default with one worker slot runs the same program alternately as a \`system\` job (\`/usr/bin/python3 -c\`)
and as a job in a Python environment (the environment's \`python -c "import benchpkg"\`, the package
installed from an index served on loopback), ${r.runs_each} runs each, one at a time, each timed from its
creation to its end through the HTTP API. The environment is built by the first run and reused after.
Machine: ${r.cores} cores, Node ${r.node}; run on ${r.date.slice(0, 10)}.

| | median (ms) |
| --- | ---: |
| \`system\` run | ${r.system_median_ms} |
| run in the built environment | ${r.env_median_ms} |
| **overhead of the environment** | **${r.overhead_median_ms}** |
| first run, building the environment | ${r.first_run_with_build_ms} |

- Target: under 100 ms of overhead once built: **${r.met ? 'met' : 'not met'}**.
`;
  writeDocSection('bench/envs.ts', section);
  console.log('wrote bench/results-envs.json and its section of docs/benchmarks.md');
}

await main();
