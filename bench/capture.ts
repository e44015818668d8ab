/**
 * `npm run bench:capture`: a job printing 1 GiB of base64 lines at full speed, run by `kairos up` (its own
 * process, log store on SQLite), against the same job writing to /dev/null, in the same benchmark run.
 * Reports the job's own time in both (the job measures itself), its slowdown under capture, and the capture
 * throughput (bytes stored per second, from the process starting to the last line stored).
 * Writes bench/results-capture.json and its section of docs/benchmarks.md.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KairosClient } from '../src/api/client.js';
import { median, ROOT, writeDocSection, writeResults, waitForServer } from './report.js';

const BYTES = Number(process.env.KAIROS_BENCH_CAPTURE_BYTES ?? 1024 * 1024 * 1024);
const ROUNDS = Number(process.env.KAIROS_BENCH_CAPTURE_ROUNDS ?? 3);
const FLOOD = join(ROOT, 'bench', 'flood.py');

function readTiming(file: string): { seconds: number; bytes: number } {
  const [s, b] = readFileSync(file, 'utf8').trim().split(' ');
  return { seconds: Number(s), bytes: Number(b) };
}

/** The job alone, its stdout on `target` (/dev/null, or a file). */
async function direct(timing: string, target = '/dev/null'): Promise<number> {
  const out = openSync(target, 'w');
  try {
    const child = spawn('python3', [FLOOD, String(BYTES)], { stdio: ['ignore', out, 'inherit'], env: { ...process.env, KAIROS_PARAM_TIMING: timing, PYTHONUNBUFFERED: '1' } });
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    if (code !== 0) throw new Error(`flood.py exited ${code}`);
  } finally {
    closeSync(out);
  }
  if (target !== '/dev/null') rmSync(target, { force: true });
  return readTiming(timing).seconds;
}

/** For scale: the job's stdout through a pipe into `cat > file`, what a shell pipeline to a file costs. */
async function piped(timing: string, file: string): Promise<number> {
  const child = spawn('sh', ['-c', 'python3 "$0" "$1" | cat > "$2"', FLOOD, String(BYTES), file], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KAIROS_PARAM_TIMING: timing, PYTHONUNBUFFERED: '1' } });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`flood.py | cat exited ${code}`);
  rmSync(file, { force: true });
  return readTiming(timing).seconds;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-bench-capture-'));
  writeFileSync(join(dir, 'kairos.yaml'), `project: capture\njobs:\n  flood:\n    run: ["python3", "flood.py", "${BYTES}"]\n    params:\n      timing: {type: string, required: true}\n    timeout: 1h\n`);
  copyFileSync(FLOOD, join(dir, 'flood.py'));
  const port = 19000 + Math.floor(Math.random() * 2000);
  const up = spawn(process.execPath, [join(ROOT, 'bin', 'kairos.js'), 'up', dir, '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let upErr = '';
  up.stderr.on('data', (c: Buffer) => (upErr += c.toString()));
  const client = new KairosClient(`http://127.0.0.1:${port}`);
  const rounds: { direct_s: number; file_s: number; pipe_s: number; kairos_job_s: number; kairos_run_s: number; capture_mb_s: number }[] = [];
  try {
    await waitForServer(() => client.health(), () => up.exitCode !== null, () => upErr, 'kairos up');
    for (let round = 0; round < ROUNDS; round++) {
      const timing = join(dir, `timing-${round}`);
      // Interleaved, so a change in the machine's load touches both sides alike.
      const directSeconds = await direct(timing + '.direct');
      const fileSeconds = await direct(timing + '.file', join(dir, 'out.file'));
      const pipeSeconds = await piped(timing + '.pipe', join(dir, 'out.pipe'));
      const run = await client.createRun('flood', { timing });
      let done = await client.getRun(run.id, 300);
      while (done.state === 'queued' || done.state === 'running') done = await client.getRun(run.id, 300);
      if (done.state !== 'succeeded') throw new Error(`run ${run.id} ended ${done.state}: ${done.reason ?? ''}`);
      const job = readTiming(timing);
      const runSeconds = (Date.parse(done.finished_at ?? '') - Date.parse(done.started_at ?? '')) / 1000;
      rounds.push({ direct_s: directSeconds, file_s: fileSeconds, pipe_s: pipeSeconds, kairos_job_s: job.seconds, kairos_run_s: runSeconds, capture_mb_s: job.bytes / 1e6 / runSeconds });
      console.log(`round ${round + 1}: /dev/null ${directSeconds.toFixed(2)} s, file ${fileSeconds.toFixed(2)} s, | cat > file ${pipeSeconds.toFixed(2)} s, under kairos ${job.seconds.toFixed(2)} s (run ended after ${runSeconds.toFixed(1)} s)`);
    }
  } finally {
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  const d = median(rounds.map((r) => r.direct_s));
  const k = median(rounds.map((r) => r.kairos_job_s));
  const slowdown = k / d - 1;
  // Rounds are interleaved pairs: the median of each round's own ratio is less moved by the machine's swings.
  const pairedSlowdown = median(rounds.map((r) => r.kairos_job_s / r.direct_s)) - 1;
  const f = median(rounds.map((r) => r.file_s));
  const pp = median(rounds.map((r) => r.pipe_s));
  const capture = median(rounds.map((r) => r.capture_mb_s));
  const results = { date: new Date().toISOString(), bytes: BYTES, rounds, cores: cpus().length, node: process.version, median_direct_s: d, median_file_s: f, median_pipe_s: pp, median_kairos_job_s: k, slowdown, paired_slowdown: pairedSlowdown, median_capture_mb_s: capture };
  writeResults('results-capture.json', results);
  writeDocSection(
    'bench/capture.ts',
    `## Capturing a job that prints 1 GiB at full speed

Measured by \`npm run bench:capture\` (bench/capture.ts); raw figures in \`bench/results-capture.json\`. The job
(bench/flood.py) prints ${(BYTES / 2 ** 30).toFixed(2)} GiB of random base64 in 76-character lines (about ${Math.round(BYTES / 77 / 1e6)} million
lines) as fast as Python can, and measures its own time. Baseline: the same job with stdout on \`/dev/null\`. Under
Kairos: \`kairos up\` (its own process, SQLite log store, native launcher) runs it as an ad-hoc run; the job
writes its stdout to a file the native launcher gave it (no pipe) and the worker reads, splits and stores the lines behind it. ${ROUNDS} rounds,
interleaved; medians. Machine: ${cpus().length} cores, Node ${process.version}; run on ${results.date.slice(0, 10)}.

| round | job alone, stdout on /dev/null (s) | stdout to a file (s) | stdout piped to \`cat > file\` (s) | job under Kairos (s) | run: started → every line stored (s) | capture (MB/s) |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rounds.map((r, i) => `| ${i + 1} | ${r.direct_s.toFixed(2)} | ${r.file_s.toFixed(2)} | ${r.pipe_s.toFixed(2)} | ${r.kairos_job_s.toFixed(2)} | ${r.kairos_run_s.toFixed(1)} | ${r.capture_mb_s.toFixed(0)} |`).join('\n')}

- The job's slowdown under capture, median against median: **${(slowdown * 100).toFixed(1)}%**; the median of the rounds' own
  ratios (each round runs both, back to back): **${(pairedSlowdown * 100).toFixed(1)}%**. Target: under 15%: **${slowdown < 0.15 && pairedSlowdown < 0.15 ? 'met' : slowdown < 0.15 || pairedSlowdown < 0.15 ? 'met by one measure only' : 'not met'}**.
- For scale, in the same run: stdout redirected to a file costs the job ${((f / d - 1) * 100).toFixed(1)}%, and stdout through a pipe
  into \`cat > file\` (any capture that reads a pipe) ${((pp / d - 1) * 100).toFixed(1)}%, against /dev/null.
- Capture throughput: **${capture.toFixed(0)} MB/s** (about ${((capture * 1e6) / 77 / 1e6).toFixed(2)} million lines/s), median. The job
  never waits for the store: when it prints faster than lines are stored, the spool file holds the difference
  and the run ends once the last line is stored.
`,
  );
  console.log(`slowdown ${(slowdown * 100).toFixed(1)}% (paired ${(pairedSlowdown * 100).toFixed(1)}%), capture ${capture.toFixed(0)} MB/s; wrote bench/results-capture.json and its section of docs/benchmarks.md`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
