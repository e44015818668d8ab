/**
 * `kairos backfill`, `kairos schedules` and `kairos schedules history` as subprocesses against a real
 * embedded server (real clock, real SQLite, real worker and processes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { cli, tempDir, waitFor, writeProject } from '../helpers.js';

describe('scheduling from the command line', () => {
  const dir = tempDir();
  const ledger = join(dir.path, 'ledger');
  let up: Embedded;
  let client: KairosClient;
  const server = () => ['--server', up.url];

  before(async () => {
    writeProject(dir.path, {
      'kairos.yaml': `project: clisched
jobs:
  nightly:
    run: ["sh", "-c", "echo start $KAIROS_SCHEDULED_FOR $(date +%s%N) >> ${ledger}; sleep 0.2; echo end $KAIROS_SCHEDULED_FOR $(date +%s%N) >> ${ledger}"]
    schedule: {cron: "0 2 * * *", timezone: America/New_York}
  minutely:
    run: "true"
    schedule: "* * * * *"
  yearly:
    run: "true"
    schedule: {cron: "0 0 1 1 *", timezone: America/New_York}
  seconds:
    run: "true"
    schedule: "* * * * * *"
`,
    });
    // The jobs append to a ledger in the test's directory: shared with their sandboxes (whose /tmp is their own).
    up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {}, sandbox: { mode: 'auto', bind: [dir.path] } });
    client = new KairosClient(up.url);
  });

  after(async () => {
    client.close();
    await up.stop(5000);
    dir.cleanup();
  });

  test('kairos backfill runs each tick once, one at a time and oldest first under concurrency forbid; asking again creates nothing', async () => {
    const from = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    const to = new Date(Date.now() - 60_000).toISOString();
    const dry = await cli(['backfill', 'nightly', '--from', from, '--to', to, '--dry-run', '--json', ...server()]);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = JSON.parse(dry.stdout) as { ticks: number; planned: { scheduled_for: string }[]; created: unknown[] };
    assert.ok(plan.ticks >= 3 && plan.ticks <= 4, dry.stdout);
    assert.equal(plan.created.length, 0);

    const r = await cli(['backfill', 'nightly', '--from', from, '--to', to, ...server()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`created ${plan.ticks} backfill runs of clisched/nightly .*one at a time, oldest first`));
    assert.equal(r.stdout.trim().split('\n').length, plan.ticks + 1, 'a header and one line per run');

    const runs = await waitFor('the backfill runs to finish', async () => {
      const rs = (await client.listRuns({ job: 'nightly', trigger: 'backfill' })).runs;
      return rs.length === plan.ticks && rs.every((x) => x.state === 'succeeded') ? rs : null;
    }, 30_000);
    assert.deepEqual(runs.map((x) => x.scheduled_for).sort(), plan.planned.map((p) => p.scheduled_for));
    // What the jobs saw: their logical time, never overlapping, oldest first.
    const events = readFileSync(ledger, 'utf8').trim().split('\n').map((l) => l.split(' '));
    assert.deepEqual(events.map((e) => e[0]), Array.from({ length: plan.ticks }, () => ['start', 'end']).flat(), 'each run ends before the next starts');
    assert.deepEqual(events.filter((e) => e[0] === 'start').map((e) => e[1]), plan.planned.map((p) => p.scheduled_for));

    const again = await cli(['backfill', 'nightly', '--from', from, '--to', to, ...server()]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /nothing to do: all \d+ ticks in the range already have a run/);
    assert.equal((await client.listRuns({ job: 'nightly' })).runs.length, plan.ticks);
  });

  test('kairos backfill: a range over the limit, a missing bound, or an instant without an offset is bad usage (exit 2)', async () => {
    const to = new Date(Date.now() - 60_000).toISOString();
    const long = await cli(['backfill', 'minutely', '--from', new Date(Date.now() - 8 * 86_400_000).toISOString(), '--to', to, ...server()]);
    assert.equal(long.code, 2);
    assert.match(long.stderr, /more than 10000 ticks .*split the range/);
    const missing = await cli(['backfill', 'nightly', '--from', '2026-01-01', ...server()]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--to is required/);
    const naive = await cli(['backfill', 'nightly', '--from', '2026-01-01T00:00', '--to', to, ...server()]);
    assert.equal(naive.code, 2);
    assert.match(naive.stderr, /--from must be an ISO-8601 instant with an offset/);
  });

  test('kairos schedules notes a daylight-saving change inside the preview; history shows the ledger', async () => {
    const list = await cli(['schedules', ...server()]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /clisched\/yearly\s+0 0 1 1 \*\s+America\/New_York/);
    assert.match(list.stderr, /note: clisched\/yearly: the UTC offset of America\/New_York changes from -0[45]:00 to -0[45]:00 at /);
    assert.doesNotMatch(list.stderr, /clisched\/minutely/, 'UTC has no changes');
    const json = JSON.parse((await cli(['schedules', '--json', ...server()])).stdout) as { job: string; dst_note: string | null }[];
    assert.ok(json.find((s) => s.job === 'yearly')?.dst_note);

    await waitFor('a few ticks of the seconds schedule', async () => (await client.ticks('clisched', 'seconds', 10)).ticks.length >= 3, 15_000);
    assert.equal((await cli(['pause', 'seconds', ...server()])).code, 0);
    const hist = await cli(['schedules', 'history', 'seconds', '--limit', '3', ...server()]);
    assert.equal(hist.code, 0, hist.stderr);
    const lines = hist.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^TICK \(UTC\)\s+LOCAL\s+OUTCOME\s+LATENESS\s+RUN\s+REASON/);
    assert.equal(lines.length, 4);
    assert.match(lines[1] ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\S+ \S+ UTC\s+(fired|late|skipped)\s+\d/);
    const hj = JSON.parse((await cli(['schedules', 'history', 'seconds', '--json', ...server()])).stdout) as { instant: string; outcome: string; local: string }[];
    assert.ok(hj.length >= 3 && hj.every((t) => ['fired', 'late', 'skipped'].includes(t.outcome) && t.local.endsWith(' UTC')));
    assert.equal((await cli(['schedules', 'histroy', 'seconds', ...server()])).code, 2);
    assert.equal((await cli(['schedules', 'history', ...server()])).code, 2);
    assert.equal((await cli(['schedules', 'history', 'nope', ...server()])).code, 2);
  });
});
