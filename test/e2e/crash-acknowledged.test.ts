/**
 * Durability of an acknowledgement: 1,000 runs submitted through the API one after another, `kairos up` killed
 * with SIGKILL right after the last answer, restarted on the same data directory: every run the API
 * acknowledged (answered 201 with its id) is there, and each ends (issue 20; docs/runs.md "What survives").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

const RUNS = 1000;

test('every run the API acknowledged is still there after SIGKILL of kairos up right after the last acknowledgement', { timeout: 600_000 }, async () => {
  const dir = tempDir();
  writeProject(dir.path, { 'project/kairos.yaml': 'project: acked\njobs:\n  noop:\n    run: ["/bin/true"]\n' });
  const port = await freePort();
  const client = new KairosClient(`http://127.0.0.1:${port}`);
  const args = ['up', join(dir.path, 'project'), '--port', String(port), '--data', join(dir.path, 'data'), '--concurrency', '4'];
  const first = spawnCli(args);
  try {
    await waitFor('the server', () => client.health(), 60_000);
    const acked: string[] = [];
    for (let i = 0; i < RUNS; i++) acked.push((await client.createRun('noop', {})).id);
    // Right after the last acknowledgement: no grace, no flush, no shutdown of any kind.
    first.child.kill('SIGKILL');
    await exited(first.child);

    const second = spawnCli(args);
    try {
      await waitFor('the server again', () => client.health(), 120_000);
      const wanted = new Set(acked);
      const found = new Map<string, string>();
      let before: string | null = null;
      // Every run of the project, page by page (newest first).
      for (;;) {
        const page = await client.listRuns({ limit: 500, ...(before ? { before } : {}) });
        for (const r of page.runs) found.set(r.id, r.state);
        if (!page.next_before) break;
        before = page.next_before;
      }
      const missing = acked.filter((id) => !found.has(id));
      assert.deepEqual(missing, [], `${missing.length} acknowledged runs are gone after the restart`);
      assert.equal([...found.keys()].filter((id) => wanted.has(id)).length, RUNS);
      // And they all end: those caught queued or running at the kill are run (or retried) by the new process.
      await waitFor('every acknowledged run ended', async () => {
        const open = await client.listRuns({ state: 'queued,running', limit: 1 });
        return open.runs.length === 0;
      }, 300_000, 200);
    } finally {
      second.child.kill('SIGTERM');
      await exited(second.child);
    }
  } finally {
    if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
    dir.cleanup();
  }
});
