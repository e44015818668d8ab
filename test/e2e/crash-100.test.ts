/**
 * SIGKILL of `kairos up` in the middle of 100 running jobs. Checked from records the jobs write themselves,
 * outside Kairos: every run reaches a terminal state soon after the restart, no run ever has two live
 * attempts, and no line printed more than a second before the kill is lost (plus how late the machine runs a
 * ready process, measured just before the kill).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { exited, freePort, isAlive, processStart, processesOfRun, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

const JOBS = 100;

/**
 * Milliseconds on CLOCK_MONOTONIC, the clock the jobs' records use too (Python's time.monotonic()): a step of the
 * wall clock during the test (a resumed VM) cannot reorder what the test compares.
 */
const mono = () => Number(process.hrtime.bigint() / 1_000_000n);

/** The most a 50 ms timer of this process fired late during `forMs`: how long the machine keeps a ready process waiting. */
async function timerLateness(forMs: number): Promise<number> {
  let worst = 0;
  const until = mono() + forMs;
  while (mono() < until) {
    const at = mono();
    await new Promise((r) => setTimeout(r, 50));
    worst = Math.max(worst, mono() - at - 50);
  }
  return worst;
}

test('SIGKILL in the middle of 100 running jobs: all end, never two live attempts, no old line lost', { timeout: 600_000 }, async (t) => {
  const dir = tempDir();
  const rec = join(dir.path, 'records');
  // Each attempt records its start (with pid) and, per line, the moment it printed it.
  writeProject(dir.path, {
    'project/kairos.yaml': `project: hundred
pools:
  default:
    concurrency: ${JOBS}
jobs:
  work:
    run: ["python3", "job.py"]
    env:
      RECORDS: ${rec}
    retries:
      max: 2
      delay: 0s
      on: [lost]
`,
    'records/.keep': '',
    // Prints a numbered line every 100 ms, recording when it printed each (outside Kairos). The first attempt
    // runs until it is killed, so every run is mid-flight at the kill however slow the machine; a retry
    // prints 20 lines and ends.
    'project/job.py': [
      'import os, time',
      "f = os.path.join(os.environ['RECORDS'], os.environ['KAIROS_RUN_ID'] + '.' + os.environ['KAIROS_ATTEMPT'])",
      'ms = lambda: int(time.monotonic() * 1000)',
      "open(f + '.life', 'w').write('start %d %d' % (ms(), os.getpid()))",
      "rec = open(f + '.printed', 'w', buffering=1)",
      "for i in range(1_000_000 if os.environ['KAIROS_ATTEMPT'] == '1' else 20):",
      "    print(os.environ['KAIROS_RUN_ID'], 'line', i, flush=True)",
      "    rec.write('%d %d\\n' % (i, ms()))",
      '    time.sleep(0.1)',
      "open(f + '.life', 'a').write(' end %d' % ms())",
      '',
    ].join('\n'),
  });
  const port = await freePort();
  const client = new KairosClient(`http://127.0.0.1:${port}`);
  // The jobs write their records to a directory shared with their sandboxes (which otherwise have a /tmp of their own).
  const args = ['up', join(dir.path, 'project'), '--port', String(port), '--data', join(dir.path, 'data'), '--concurrency', String(JOBS), '--sandbox-bind', rec];
  const first = spawnCli(args);
  let killedAt = 0;
  try {
    await waitFor('the server', () => client.health(), 20_000);
    const runs = await Promise.all(Array.from({ length: JOBS }, () => client.createRun('work', {})));
    // "Within about a second" holds for a process that gets the CPU: on a machine with every core busy the
    // same 200 ms flush waits its turn at each of the line's four hops (job → launcher → worker → batch timer →
    // store). How late this process's own timers fire just before the kill measures one such wait; four of them
    // are added to the second (on a quiet machine that is a few ms).
    const lateness = 4 * (await timerLateness(2000));
    // Every job has printed for a while (longer than the lines the check below counts as old).
    const printingSince = (f: string) => Number(readFileSync(join(rec, f), 'utf8').split('\n')[0]?.split(' ')[1] ?? Infinity);
    await waitFor(`${JOBS} jobs printing for ${1500 + lateness} ms`, () => {
      const files = readdirSync(rec).filter((f) => f.endsWith('.1.printed'));
      return files.length === JOBS && files.every((f) => printingSince(f) < mono() - 1500 - lateness);
    }, 60_000, 50);
    // Each job's identity (pid and start time) while it runs: on a busy machine a pid is soon reused.
    const pids = readdirSync(rec).filter((f) => f.endsWith('.1.life')).map((f) => Number(readFileSync(join(rec, f), 'utf8').split(' ')[2]));
    assert.equal(pids.length, JOBS);
    const jobs = pids.map((pid) => ({ pid, start: processStart(pid) }));
    killedAt = mono();
    first.child.kill('SIGKILL');
    await exited(first.child);
    // The launcher takes the jobs with it: no attempt of the dead worker keeps running.
    // (By their run ids: a sandboxed job's own pid is that of its PID namespace.)
    assert.equal(readdirSync(rec).filter((f) => f.endsWith('.1.life')).length, JOBS);
    await waitFor('the first attempts to be gone', () => runs.every((r) => processesOfRun(r.id, 1).length === 0), 120_000);
    const deadBy = mono();

    const second = spawnCli(args);
    try {
      const restartedAt = mono();
      await waitFor('the server again', () => client.health(), 120_000);
      const final = await waitFor('every run terminal', async () => {
        const rs = await Promise.all(runs.map((r) => client.getRun(r.id)));
        return rs.every((r) => ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(r.state)) ? rs : null;
      }, 240_000, 200);
      const settledIn = mono() - restartedAt;
      // Each retried job takes about 2 s; the margin is for 100 of them starting at once, each in its own
      // sandbox, on 2 busy cores. What must hold is that they all settle without anyone's help, once each.
      assert.ok(settledIn < 240_000, `settled ${settledIn} ms after the restart`);
      let oldLines = 0;
      let worstLag = 0;
      for (const r of final) {
        assert.equal(r.state, 'succeeded', `${r.id}: ${r.reason}`);
        assert.equal(r.attempt, 2, `${r.id} was retried once`);
        const attempts = (await client.attempts(r.id)).attempts as { number: number; state: string; reason: string | null }[];
        assert.deepEqual(attempts.map((a) => a.state), ['lost', 'succeeded']);
        // Lost to the kill, not before it: the restarted worker gave it up.
        assert.match(attempts[0]?.reason ?? '', /restarted/, `${r.id}: attempt 1 ended before the kill: ${attempts[0]?.reason}`);
        // Never two live attempts: the second started only after the first was dead.
        const secondStart = Number(readFileSync(join(rec, `${r.id}.2.life`), 'utf8').split(' ')[1]);
        assert.ok(secondStart > deadBy - 1, `${r.id}: attempt 2 started ${secondStart}, attempt 1 dead by ${deadBy}, killed at ${killedAt}; attempt 1 ended: ${attempts[0]?.reason}`);
        // No line printed more than a second before the kill is missing from the stored log.
        const printed = readFileSync(join(rec, `${r.id}.1.printed`), 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number]);
        const old = printed.filter(([, t]) => t < killedAt - 1000 - lateness).map(([i]) => `${r.id} line ${i}`);
        oldLines += old.length;
        const stored = new Set((await client.logs(r.id)).lines.filter((l) => l.attempt === 1).map((l) => l.line));
        const lastAt = Math.max(...printed.filter(([i]) => stored.has(`${r.id} line ${i}`)).map(([, at]) => at));
        worstLag = Math.max(worstLag, killedAt - lastAt);
        for (const line of old) {
          if (!stored.has(line)) {
            const lastStored = Math.max(...[...stored].map((l) => Number(l.split(' ').pop())));
            const t = (i: number) => (printed.find(([n]) => n === i)?.[1] ?? NaN) - killedAt;
            assert.fail(`${line} was printed ${-t(Number(line.split(' ').pop()))} ms before the kill and is not in the log; the last stored line (${lastStored}) was printed ${-t(lastStored)} ms before the kill (allowed ${lateness} ms more for a busy machine)`);
          }
        }
      }
      t.diagnostic(`the stored log was at most ${worstLag} ms behind the jobs at the kill (allowed 1000 + ${lateness} ms)`);
      assert.ok(oldLines >= JOBS, `${oldLines} lines were printed over a second before the kill`);
    } finally {
      second.child.kill('SIGTERM');
      await exited(second.child);
    }
  } finally {
    if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
    dir.cleanup();
  }
});
