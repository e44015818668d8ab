/**
 * `kairos up` as a real subprocess, killed with SIGKILL while a schedule with seconds fires, and started
 * again: no finished run is lost, no tick gets two runs, and runs caught mid-flight reach a terminal state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import type { RunView } from '../../src/api/views.js';
import { exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

test('SIGKILL of kairos up loses no finished run and creates no duplicate run for any tick', { timeout: 600_000 }, async () => {
  const dir = tempDir();
  const ledger = join(dir.path, 'ledger.txt');
  writeProject(dir.path, {
    'project/kairos.yaml': `project: crash
jobs:
  every-second:
    run: ["sh", "-c", "echo $KAIROS_SCHEDULED_FOR $KAIROS_RUN_ID >> ${ledger}; sleep 0.3"]
    schedule:
      cron: "* * * * * *"
      concurrency: allow
`,
  });
  const port = await freePort();
  const client = new KairosClient(`http://127.0.0.1:${port}`);
  // The jobs append to a ledger in the test's directory: shared with their sandboxes (whose /tmp is their own).
  const args = ['up', join(dir.path, 'project'), '--port', String(port), '--data', join(dir.path, 'data'), '--sandbox-bind', dir.path];
  const all = async (): Promise<RunView[]> => (await client.listRuns({ job: 'every-second', limit: 1000 })).runs;

  const finishedBefore = new Map<string, string>();
  for (let round = 0; round < 3; round++) {
    const up = spawnCli(args);
    try {
      const have = finishedBefore.size;
      await waitFor('new runs to finish', async () => (await all()).filter((r) => r.state === 'succeeded').length >= have + 3, 120_000).catch((err: unknown) => {
        throw new Error(`${String(err)}\nkairos up said:\n${up.output()}`);
      });
      for (const r of await all()) if (r.state === 'succeeded' || r.state === 'failed') finishedBefore.set(r.id, r.state);
    } finally {
      up.child.kill('SIGKILL');
      await exited(up.child);
    }
  }

  const up = spawnCli(args);
  try {
    await waitFor('the server to answer', () => client.health(), 120_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nkairos up said:\n${up.output()}`);
    });
    // Runs that were running when the process died are reconciled to a terminal state.
    const runs = await waitFor('no run left running from before the kill', async () => {
      const rs = await all();
      const stuck = rs.filter((r) => r.state === 'running' && [...finishedBefore.keys()].every((id) => id !== r.id) && Date.parse(r.created_at ?? '') < Date.now() - 10_000);
      return stuck.length === 0 ? rs : null;
    }, 30_000);
    for (const [id, state] of finishedBefore) {
      const r = runs.find((x) => x.id === id);
      assert.ok(r, `finished run ${id} is still there`);
      assert.equal(r.state, state, `finished run ${id} kept its state`);
    }
    const ticks = runs.map((r) => r.scheduled_for);
    assert.equal(new Set(ticks).size, ticks.length, 'no tick has two runs');
    // The record the jobs wrote themselves, outside Kairos: no tick executed twice.
    const executed = readFileSync(ledger, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
    assert.equal(new Set(executed).size, executed.length, 'no tick was executed twice');
    const ledgerRows = await fetch(`http://127.0.0.1:${port}/api/v1/schedules/crash/every-second/ticks?limit=5000`).then((r) => r.json() as Promise<{ ticks: { instant: string; outcome: string; run_id: string | null }[] }>);
    const instants = ledgerRows.ticks.map((t) => t.instant);
    assert.equal(new Set(instants).size, instants.length, 'every tick has exactly one ledger entry');
    // The schedule keeps firing: read the runs again after the ledger, so every tick in it has had its run listed.
    const runsAfter = await all();
    for (const t of ledgerRows.ticks.filter((x) => x.outcome === 'fired' || x.outcome === 'late')) assert.ok(runsAfter.some((r) => r.id === t.run_id), `fired tick ${t.instant} has its run`);
  } finally {
    up.child.kill('SIGTERM');
    await exited(up.child);
    dir.cleanup();
  }
});

test('Ctrl-C (SIGTERM) lets a running job finish within the grace period, then exits 0', { timeout: 600_000 }, async () => {
  const dir = tempDir();
  writeProject(dir.path, { 'kairos.yaml': 'project: graceful\njobs:\n  short:\n    run: "echo begin; sleep 1; echo done"\n' });
  const port = await freePort();
  const client = new KairosClient(`http://127.0.0.1:${port}`);
  const up = spawnCli(['up', dir.path, '--port', String(port), '--grace', '20']);
  try {
    await waitFor('the server to answer', () => client.health(), 120_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nkairos up said:\n${up.output()}`);
    });
    const run = await client.createRun('short', {});
    await waitFor('the run to start', async () => (await client.logs(run.id)).lines.length > 0);
    up.child.kill('SIGTERM');
    assert.equal(await exited(up.child), 0, up.output());
  } finally {
    if (up.child.exitCode === null) up.child.kill('SIGKILL');
  }
  const again = spawnCli(['up', dir.path, '--port', String(port)]);
  try {
    await waitFor('the server to answer', () => client.health(), 120_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nkairos up said:\n${up.output()}`);
    });
    const runs = (await client.listRuns({ job: 'short' })).runs;
    assert.equal(runs[0]?.state, 'succeeded', 'the job was allowed to finish');
    assert.deepEqual((await client.logs(runs[0]?.id ?? '')).lines.map((l) => l.line), ['begin', 'done']);
  } finally {
    again.child.kill('SIGTERM');
    await exited(again.child);
    dir.cleanup();
  }
});
