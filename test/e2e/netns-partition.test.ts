/**
 * Workers on separate hosts (network namespaces joined by veth pairs). A worker whose link is taken down for
 * longer than its lease: its run is retried on another host, its job is killed before the lease runs out, and
 * when the link comes back its late reports are refused.
 */
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';
import { createHost, netnsUnavailable, type NetHost } from '../netns.js';

const TOKEN = 'netns-test-token-0123456789abcdef';

describe('workers on other hosts', { skip: process.env.CI ? false : (netnsUnavailable() ?? false) }, () => {
  const dir = tempDir();
  let port = 0;
  let client: KairosClient;
  const procs: { child: ChildProcess; output(): string }[] = [];
  const hosts: NetHost[] = [];

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`network namespace tests cannot run: ${why}`);
    writeProject(dir.path, {
      'project/kairos.yaml': `project: partition
jobs:
  slow:
    run: "echo begin on $HOSTNAME_TAG; sleep 6; echo done; touch $MARKS/done.$KAIROS_ATTEMPT"
    env:
      MARKS: ${dir.path}
    retries:
      max: 2
      delay: 0s
      on: [lost]
`,
    });
    port = await freePort();
    client = new KairosClient(`http://127.0.0.1:${port}`, TOKEN);
    // The control plane listens on every address (so the hosts reach it over their links), hence with a token.
    procs.push(spawnCli(['up', join(dir.path, 'project'), '--host', '0.0.0.0', '--port', String(port), '--data', join(dir.path, 'server-data'), '--concurrency', '0', '--lease', '3s'], { env: { KAIROS_TOKEN: TOKEN } }));
    await waitFor('the server', () => client.health(), 20_000);
    hosts.push(createHost(), createHost());
  });

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    for (const h of hosts) h.destroy();
    dir.cleanup();
  });

  const startWorker = (host: NetHost, id: string) => {
    const w = host.spawnCli(['worker', '--server', `http://${host.peerIp}:${port}`, '--id', id, '--data', join(dir.path, `cache-${id}`), '--concurrency', '1', '--grace', '1', '--sandbox-bind', dir.path], { KAIROS_TOKEN: TOKEN });
    procs.push(w);
    return w;
  };

  test('a worker cut off past its lease: retried on another host, its job killed, its late reports refused', { timeout: 600_000 }, async () => {
    const [hostA, hostB] = hosts as [NetHost, NetHost];
    const a = startWorker(hostA, 'host-a');
    const run = await client.createRun('slow', {});
    await waitFor('attempt 1 to start on host a', async () => (await client.logs(run.id)).lines.some((l) => l.line.startsWith('begin')), 30_000);
    const attempts0 = (await client.attempts(run.id)).attempts as { worker_id: string }[];
    assert.equal(attempts0[0]?.worker_id, 'host-a');
    startWorker(hostB, 'host-b');
    await waitFor('host b to register', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/health`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return res.ok;
    });

    hostA.linkDown();
    try {
      const done = await waitFor('the run to finish on host b', async () => {
        const r = await client.getRun(run.id, 5);
        return r.state === 'succeeded' || r.state === 'failed' ? r : null;
      }, 60_000);
      assert.equal(done.state, 'succeeded', done.reason ?? '');
      const attempts = (await client.attempts(run.id)).attempts as { number: number; state: string; worker_id: string; reason: string | null }[];
      assert.deepEqual(attempts.map((x) => [x.number, x.state, x.worker_id]), [[1, 'lost', 'host-a'], [2, 'succeeded', 'host-b']]);
      assert.match(attempts[0]?.reason ?? '', /lease expired/);
      // Attempt 1 would have finished by now had it been left running: host a's launcher killed it when the
      // worker could no longer renew its lease.
      assert.equal(existsSync(join(dir.path, 'done.1')), false, 'attempt 1 was killed on the cut-off host');
      assert.equal(existsSync(join(dir.path, 'done.2')), true);
    } finally {
      hostA.linkUp();
    }
    // The link is back: host a reports what it holds and is refused.
    await waitFor('host a to be told its lease is gone', () => /lease on run \S+ attempt 1 was refused/.test(a.output()), 60_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nhost a said:\n${a.output()}`);
    });
    const final = await client.getRun(run.id);
    assert.equal(final.state, 'succeeded');
    const states = ((await client.attempts(run.id)).attempts as { state: string }[]).map((x) => x.state);
    assert.deepEqual(states, ['lost', 'succeeded'], 'the late reports changed nothing');
    const first = (await client.logs(run.id)).lines.filter((l) => l.attempt === 1).map((l) => l.line);
    assert.ok(!first.includes('done'), `attempt 1's log: ${first.join(' | ')}`);
  });
});
