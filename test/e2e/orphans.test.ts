/**
 * Nothing of an attempt outlives its worker: `kill -9` of a real `kairos worker` whose job started a grandchild
 * in a session of its own (`setsid`, so outside the job's process group). The worker's launcher outlives it
 * for a moment and kills the attempt's cgroup (and, sandboxed, the PID namespace goes with the sandbox): the
 * grandchild is gone before attempt 2 starts, and no attempt cgroup is left behind. With and without the sandbox.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { exited, freePort, processesOfRun, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

/** Attempt cgroups (named after the run) under this process's cgroups, in every hierarchy. */
function cgroupsOfRun(runId: string): string[] {
  const found: string[] = [];
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || path === undefined) continue;
    const roots = controllers === '' ? ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'] : [`/sys/fs/cgroup/${controllers}`];
    for (const root of roots) {
      try {
        for (const n of readdirSync(join(root, path))) if (n.includes(runId)) found.push(join(root, path, n));
      } catch {
        // not mounted here
      }
    }
  }
  return found;
}

const isGrandchild = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u0000301\u0000';
  } catch {
    return false;
  }
};

for (const sandbox of ['auto', 'none'] as const) {
  describe(`a worker killed with SIGKILL (sandbox ${sandbox})`, () => {
    const dir = tempDir();
    let port = 0;
    let client: KairosClient;
    const procs: ReturnType<typeof spawnCli>[] = [];
    const startWorker = (id: string) => {
      const w = spawnCli(['worker', '--server', `http://127.0.0.1:${port}`, '--id', id, '--data', join(dir.path, `cache-${id}`), '--concurrency', '1', '--grace', '1', '--sandbox', sandbox]);
      procs.push(w);
      return w;
    };

    before(async () => {
      writeProject(dir.path, {
        'project/kairos.yaml': `project: orphans
jobs:
  escape:
    run: |
      if [ "$KAIROS_ATTEMPT" != 1 ]; then echo second; exit 0; fi
      setsid sh -c 'exec sleep 301' > /dev/null 2>&1 < /dev/null &
      echo started
      sleep 300
    retries:
      max: 2
      delay: 0s
      on: [lost]
`,
      });
      port = await freePort();
      client = new KairosClient(`http://127.0.0.1:${port}`);
      procs.push(spawnCli(['up', join(dir.path, 'project'), '--port', String(port), '--data', join(dir.path, 'server-data'), '--concurrency', '0', '--lease', '2s']));
      await waitFor('the server', () => client.health(), 30_000);
    });

    after(async () => {
      for (const p of procs) {
        if (p.child.exitCode === null && p.child.signalCode === null) {
          p.child.kill('SIGKILL');
          await exited(p.child);
        }
      }
      dir.cleanup();
    });

    test('its job\'s setsid grandchild dies with it, before attempt 2 starts, and no attempt cgroup is left', { timeout: 120_000 }, async () => {
      const first = startWorker('first');
      const run = await client.createRun('escape', {});
      await waitFor('the job to start its grandchild', async () => (await client.logs(run.id)).lines.some((l) => l.line === 'started'), 30_000);
      const grandchild = await waitFor('the grandchild', () => processesOfRun(run.id, 1).find(isGrandchild), 10_000);
      first.child.kill('SIGKILL');
      await exited(first.child);
      // Well within the lease (2 s): nobody can have started attempt 2 yet.
      await waitFor('the grandchild to be gone', () => !isGrandchild(grandchild), 10_000);
      // The rest of the attempt's tree ends with it; on a busy machine its last processes may take a moment to be reaped.
      await waitFor('nothing of attempt 1 to be alive', () => processesOfRun(run.id, 1).length === 0, 10_000).catch(() => undefined);
      assert.deepEqual(processesOfRun(run.id, 1), [], 'nothing of attempt 1 is alive');
      const goneAt = Date.now();

      startWorker('second');
      const done = await client.getRun(run.id, 60);
      assert.equal(done.state, 'succeeded', done.reason ?? '');
      const attempts = (await client.attempts(run.id)).attempts as { state: string; worker_id: string; started_at: string | null }[];
      assert.deepEqual(attempts.map((a) => [a.state, a.worker_id]), [['lost', 'first'], ['succeeded', 'second']]);
      assert.ok(Date.parse(attempts[1]?.started_at ?? '') >= goneAt - 1000, 'attempt 2 started after the grandchild was gone');
      await waitFor('no attempt cgroup of the run', () => cgroupsOfRun(run.id).length === 0, 10_000).catch(() => {
        throw new Error(`left behind: ${cgroupsOfRun(run.id).join(', ')}`);
      });
    });
  });
}
