/**
 * Kairos on one machine, end to end: a real SQLite file, real child processes, the real HTTP API, and the
 * CLI as a subprocess.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { attemptPaths } from '../../src/worker/attempt.js';
import { cli, processesOfRun, tempDir, waitFor, writeProject } from '../helpers.js';

const MANIFEST = `
project: e2e
pools:
  narrow:
    concurrency: 2
jobs:
  exit3:
    run: "echo before-exit; exit 3"
  killed:
    run: "echo killing-myself; kill -KILL $$"
  hello:
    run: ["sh", "-c", "echo hello from $KAIROS_JOB run $KAIROS_RUN_ID attempt $KAIROS_ATTEMPT; echo to-stderr >&2"]
  dated:
    run: ["sh", "-c", "echo $KAIROS_SCHEDULED_FOR $KAIROS_SCHEDULED_DATE $KAIROS_TIMEZONE"]
    schedule:
      cron: "0 23 * * *"
      timezone: Pacific/Auckland
  slow:
    run: "sleep 300 & echo $! >> $KAIROS_ARTIFACTS/pids; sleep 300 & echo $! >> $KAIROS_ARTIFACTS/pids; echo started; wait"
    timeout: 1s
    grace: 1s
  cancellable:
    run: "trap 'echo got-term; exit 143' TERM; echo waiting; sleep 300 & wait"
    grace: 2s
  stubborn:
    run: "trap '' TERM; echo ignoring-term; sleep 300 & sleep 300 & wait; wait"
    grace: 500ms
  many:
    run: ["python3", "-c", "import sys\\nfor i in range(100000): sys.stdout.write('line %d\\\\n' % i)"]
  typed:
    run: "echo n=$KAIROS_PARAM_N day=$KAIROS_PARAM_DAY mode=$KAIROS_PARAM_MODE"
    params:
      n: {type: integer, required: true}
      day: {type: date, default: "2026-01-31"}
      mode: {type: string, enum: [fast, slow], default: fast}
  injection:
    run: ["sh", "-c", "printf '%s\\\\n' \\"$KAIROS_PARAM_TEXT\\""]
    params:
      text: {type: string}
  flaky:
    run: "n=$(cat $FLAKY_FILE 2>/dev/null || echo 0); n=$((n+1)); echo $n > $FLAKY_FILE; echo try $n; [ $n -ge 3 ]"
    env:
      FLAKY_FILE: ${'${FLAKY}'}
    retries: {max: 4, delay: 100ms, backoff: 2}
  pooled:
    run: "echo start $(date +%s%N) >> $LEDGER; sleep 0.3; echo end $(date +%s%N) >> $LEDGER"
    pool: narrow
    env:
      LEDGER: ${'${LEDGER}'}
  metrics:
    run: "echo '{\\"name\\": \\"accuracy\\", \\"value\\": 0.93}' >> $KAIROS_OUTPUT; echo 'not json' >> $KAIROS_OUTPUT; echo report > $KAIROS_ARTIFACTS/report.txt"
`;

describe('kairos on one machine', () => {
  const dir = tempDir();
  let up: Embedded;
  let client: KairosClient;
  const server = () => ['--server', up.url];

  before(async () => {
    writeProject(dir.path, {
      'kairos.yaml': MANIFEST.replace('${FLAKY}', join(dir.path, 'flaky-count')).replace('${LEDGER}', join(dir.path, 'ledger')),
    });
    // flaky and pooled keep their counts in the test's directory: shared with their sandboxes (whose /tmp is their own).
    up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {}, sandbox: { mode: 'auto', bind: [dir.path] } });
    client = new KairosClient(up.url);
  });

  after(async () => {
    await up.stop(5000);
    dir.cleanup();
  });

  test('kairos run streams the log and exits with the job exit code', async () => {
    const r = await cli(['run', 'exit3', ...server()]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /before-exit/);
    const { runs } = await client.listRuns({ job: 'exit3' });
    assert.equal(runs[0]?.state, 'failed');
    assert.equal(runs[0]?.exit_code, 3);
    assert.equal(runs[0]?.reason_code, 'exit_code');
    const { attempts } = await client.attempts(runs[0]?.id ?? '');
    assert.equal(attempts[0]?.reason_code, 'exit_code');
  });

  test('a run killed by a signal says so in its reason code, beside the reason', async () => {
    const run = await client.createRun('killed', {});
    const done = await client.getRun(run.id, 30);
    assert.equal(done.state, 'failed');
    assert.equal(done.reason_code, 'signal');
    assert.match(done.reason ?? '', /killed by SIGKILL/);
  });

  test('a run sees the documented environment, stdout and stderr kept with their stream', async () => {
    const r = await cli(['run', 'hello', ...server()]);
    assert.equal(r.code, 0, r.stderr);
    const run = (await client.listRuns({ job: 'hello', limit: 1 })).runs[0];
    assert.ok(run);
    assert.match(r.stdout, new RegExp(`hello from hello run ${run.id} attempt 1`));
    const { lines } = await client.logs(run.id);
    assert.deepEqual(lines.map((l) => [l.stream, l.line.replace(/run \S+/, 'run X')]), [
      ['stdout', 'hello from hello run X attempt 1'],
      ['stderr', 'to-stderr'],
    ]);
  });

  test('a run knows its logical time and that time\'s date in its schedule\'s zone', async () => {
    const run = await client.createRun('dated', {});
    assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
    const [iso, date, zone] = ((await client.logs(run.id)).lines[0]?.line ?? '').split(' ');
    assert.equal(iso, run.scheduled_for);
    assert.equal(zone, 'Pacific/Auckland');
    const expected = new Intl.DateTimeFormat('en-CA', { timeZone: 'Pacific/Auckland', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso ?? ''));
    assert.equal(date, expected);
  });

  test('a run past its timeout ends timed_out and leaves no process behind, grandchildren included', async () => {
    const run = await client.createRun('slow', {});
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'timed_out');
    assert.match(done.reason ?? '', /timed out/);
    assert.equal(done.reason_code, 'time_limit');
    const pids = readFileSync(join(attemptPaths(up.dataDir, run.id, 1).artifacts, 'pids'), 'utf8').trim().split('\n').map(Number);
    assert.equal(pids.length, 2);
    // The pids are the job's own (its sandbox has its own PID namespace): look for its processes by its run id.
    await waitFor('every process of the run to be gone', () => processesOfRun(run.id).length === 0, 5000);
  });

  test('a cancelled run ends cancelled within its grace period, its handler having run', async () => {
    const run = await client.createRun('cancellable', {});
    await waitFor('the job to start', async () => (await client.logs(run.id)).lines.some((l) => l.line === 'waiting'));
    const r = await cli(['cancel', run.id, ...server()]);
    assert.equal(r.code, 0, r.stderr);
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'cancelled');
    assert.equal(done.reason_code, 'cancelled');
    // Within the grace period means by its own TERM handler, not by the KILL that ends the grace.
    const attempt = (await client.attempts(run.id)).attempts[0] as { reason: string | null };
    assert.doesNotMatch(attempt.reason ?? '', /SIGKILL/, 'ended by its TERM handler within the grace period');
    assert.ok((await client.logs(run.id)).lines.some((l) => l.line === 'got-term'));
    // Cancel is idempotent.
    assert.equal((await client.cancelRun(run.id)).state, 'cancelled');
  });

  test('a job that ignores TERM is killed after its grace period', async () => {
    const run = await client.createRun('stubborn', {});
    await waitFor('the job to start', async () => (await client.logs(run.id)).lines.some((l) => l.line === 'ignoring-term'));
    await client.cancelRun(run.id);
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'cancelled');
  });

  test('a job printing 100,000 lines has all of them, in order, in kairos logs', async () => {
    const run = await client.createRun('many', {});
    assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
    const r = await cli(['logs', run.id, ...server()], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 100_000);
    for (let i = 0; i < lines.length; i++) if (lines[i] !== `line ${i}`) assert.fail(`line ${i} is "${lines[i]}"`);
  });

  test('typed parameters: bad values exit 2 and create no run; good ones reach the process', async () => {
    const before = (await client.listRuns({ job: 'typed', limit: 100 })).runs.length;
    for (const bad of [['-p', 'n=abc'], ['-p', 'n=1.5'], ['-p', 'n=1', '-p', 'day=2026-02-30'], ['-p', 'n=1', '-p', 'mode=medium'], ['-p', 'm=1'], []]) {
      const r = await cli(['run', 'typed', ...bad, ...server()]);
      assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /param|required/i);
    }
    assert.equal((await client.listRuns({ job: 'typed', limit: 100 })).runs.length, before, 'no run was created');
    const ok = await cli(['run', 'typed', '-p', 'n=42', '-p', 'mode=slow', ...server()]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /n=42 day=2026-01-31 mode=slow/);
  });

  test('parameters never reach a shell as code', async () => {
    const nasty = '$(touch pwned); `touch pwned2`; echo hi && rm -rf /nonexistent';
    const r = await cli(['run', 'injection', '-p', `text=${nasty}`, ...server()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), nasty);
    assert.equal(existsSync(join(dir.path, 'pwned')), false);
  });

  test('retries make new attempts with their own logs, with backoff', async () => {
    const run = await client.createRun('flaky', {});
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.attempt, 3);
    const { attempts } = await client.attempts(run.id);
    assert.deepEqual(attempts.map((a) => a.state), ['failed', 'failed', 'succeeded']);
    const { lines } = await client.logs(run.id);
    const tries = lines.filter((l) => l.stream === 'stdout').map((l) => [l.attempt, l.line]);
    assert.deepEqual(tries, [[1, 'try 1'], [2, 'try 2'], [3, 'try 3']]);
    // the second retry waited at least delay × backoff after the second attempt ended
    const a2 = attempts[1] as { finished_at: string };
    const a3 = attempts[2] as { claimed_at: string };
    assert.ok(Date.parse(a3.claimed_at) - Date.parse(a2.finished_at) >= 200);
  });

  test('a pool never runs more than its concurrency at once', async () => {
    const runs = await Promise.all(Array.from({ length: 6 }, () => client.createRun('pooled', {})));
    for (const r of runs) assert.equal((await client.getRun(r.id, 120)).state, 'succeeded');
    const events = readFileSync(join(dir.path, 'ledger'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([kind, ns]) => ({ kind, t: BigInt(ns ?? '0') }))
      .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
    let live = 0;
    let peak = 0;
    for (const e of events) {
      live += e.kind === 'start' ? 1 : -1;
      peak = Math.max(peak, live);
    }
    assert.equal(events.length, 12);
    assert.equal(peak, 2);
  });

  test('metrics and artifacts are kept with the run; a malformed metric line is reported in the log', async () => {
    const run = await client.createRun('metrics', {});
    assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
    const out = await client.outputs(run.id);
    assert.deepEqual(out.metrics.map((m) => [m.name, m.value]), [['accuracy', 0.93]]);
    assert.deepEqual(out.artifacts.map((a) => [a.path, a.size]), [['report.txt', 7]]);
    const { lines } = await client.logs(run.id);
    assert.ok(lines.some((l) => l.stream === 'system' && /KAIROS_OUTPUT line 2/.test(l.line)));
    const listed = await cli(['outputs', run.id, ...server()]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /accuracy\s+0\.93/);
    assert.match(listed.stdout, /report\.txt\s+7/);
  });

  test('rerun repeats a run with the same parameters and deployment', async () => {
    const r = await cli(['run', 'typed', '-p', 'n=7', '--detach', ...server()]);
    assert.equal(r.code, 0);
    const id = r.stdout.trim();
    await client.getRun(id, 120);
    const again = await cli(['rerun', id, '--json', ...server()]);
    const rerun = JSON.parse(again.stdout) as { id: string; params: unknown; trigger: string; bundle_hash: string; rerun_of: string };
    const original = await client.getRun(id);
    assert.equal(rerun.trigger, 'rerun');
    assert.equal(rerun.rerun_of, id);
    assert.deepEqual(rerun.params, original.params);
    assert.equal(rerun.bundle_hash, original.bundle_hash);
  });

  test('kairos runs --json lists runs newest first with the contract fields', async () => {
    const r = await cli(['runs', '--json', '--limit', '5', ...server()]);
    assert.equal(r.code, 0, r.stderr);
    const runs = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(runs.length, 5);
    for (const field of ['id', 'project', 'job', 'state', 'attempt', 'trigger', 'scheduled_for', 'created_at', 'started_at', 'finished_at', 'exit_code', 'reason', 'reason_code']) {
      assert.ok(field in (runs[0] ?? {}), `field ${field}`);
    }
    const created = runs.map((x) => String(x.created_at));
    assert.deepEqual(created, [...created].sort().reverse());
    const bad = await cli(['runs', '--state', 'exploded', ...server()]);
    assert.equal(bad.code, 2);
  });

  test('API errors are JSON with a stable code', async () => {
    const res = await fetch(`${up.url}/api/v1/runs/nope`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
    const bad = await fetch(`${up.url}/api/v1/runs`, { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'invalid_input');
    const unknownJob = await cli(['run', 'no-such-job', ...server()]);
    assert.equal(unknownJob.code, 2);
    assert.match(unknownJob.stderr, /no job "no-such-job"/);
  });
});
