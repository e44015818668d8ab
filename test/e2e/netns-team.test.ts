/**
 * A team's set-up on one machine: PostgreSQL, two `kairos server` replicas on it, three workers on three other
 * hosts (network namespaces joined by veth pairs), and a laptop on a fifth host that deploys over the network
 * with a deploy token. A schedule with seconds fires exactly once per tick for a minute while one replica is
 * killed and restarted, and every run finishes on some worker. Deploy, plan and rollback work from the
 * laptop; a read token is refused.
 */
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { openDb, type Db } from '../../src/store/db.js';
import { createPgDatabase, PG_URL } from '../dialects.js';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';
import { createHost, netnsUnavailable, type NetHost } from '../netns.js';

const CI = process.env.CI === 'true';
const BOOT = 'bootstrap-admin-token-for-the-netns-test-0123456789';
const skip = CI ? false : !PG_URL ? 'PostgreSQL test skipped: KAIROS_TEST_PG_URL is not set (npm test starts a server)' : (netnsUnavailable() ?? false);

const V1 = (marks: string) => `project: team
jobs:
  tick:
    run: "echo $KAIROS_SCHEDULED_FOR $KAIROS_RUN_ID $KAIROS_ATTEMPT >> ${marks}/ticks"
    schedule:
      cron: "* * * * * *"
      concurrency: allow
      catchup: all
    retries: {max: 3, delay: 0s, on: [lost]}
`;

describe('a team on several hosts: PostgreSQL, two replicas, three workers, a laptop', { skip }, () => {
  const dir = tempDir('kairos-team-');
  const data = join(dir.path, 'server-data');
  const marks = join(dir.path, 'marks');
  const project = join(dir.path, 'project');
  const procs: { child: ChildProcess; output(): string }[] = [];
  const hosts: NetHost[] = [];
  const ports: number[] = [];
  const replicas: (ReturnType<typeof spawnCli> | null)[] = [null, null];
  let url = '';
  let db: Db;
  const tokens: Record<string, string> = {};

  const startReplica = async (i: number) => {
    // Beyond loopback (the hosts reach it over their links), so with a token.
    const r = spawnCli(['server', '--db', url, '--host', '0.0.0.0', '--port', String(ports[i]), '--data', data, '--lease', '3s'], { env: { KAIROS_TOKEN: BOOT } });
    procs.push(r);
    replicas[i] = r;
    await waitFor(`replica ${i}`, () => new KairosClient(`http://127.0.0.1:${ports[i]}`, BOOT).health(), 30_000);
  };
  const laptop = () => hosts[3]!;
  const fromLaptop = (args: string[], token: string) => laptop().cli([...args, '--server', `http://${laptop().peerIp}:${ports[0]}`, '--token', token], { env: { KAIROS_TOKEN: '' } });

  before(async () => {
    if (CI) {
      assert.ok(PG_URL, 'CI=true but KAIROS_TEST_PG_URL is not set: the PostgreSQL tests must run in CI');
      const why = netnsUnavailable();
      assert.equal(why, null, `network namespace tests cannot run: ${why}`);
    }
    url = await createPgDatabase();
    writeProject(dir.path, { 'project/kairos.yaml': V1(marks), 'marks/.keep': '' });
    ports.push(await freePort(), await freePort());
    await startReplica(0);
    await startReplica(1);
    db = await openDb(url);
    for (const [name, scope] of [['laptop', 'deploy'], ['viewer', 'read'], ['workers', 'worker']] as const) {
      const made = await cli(['token', 'create', name, '--scope', scope, '--json', '--server', `http://127.0.0.1:${ports[0]}`, '--token', BOOT], { env: { KAIROS_TOKEN: '' } });
      assert.equal(made.code, 0, made.stderr);
      tokens[name] = (JSON.parse(made.stdout) as { token: string }).token;
    }
    hosts.push(createHost(), createHost(), createHost(), createHost());
    // Workers 0 and 1 talk to replica 0, worker 2 to replica 1.
    for (let i = 0; i < 3; i++) {
      const h = hosts[i]!;
      procs.push(h.spawnCli(['worker', '--server', `http://${h.peerIp}:${ports[i < 2 ? 0 : 1]}`, '--id', `host-${i}`, '--data', join(dir.path, `cache-${i}`), '--concurrency', '2', '--grace', '1', '--sandbox-bind', marks], { KAIROS_TOKEN: tokens.workers! }));
    }
    await waitFor('three workers to register', async () => (await db.kysely.selectFrom('workers').select('id').execute()).length === 3, 30_000);
  });

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    for (const h of hosts) h.destroy();
    await db?.close();
    dir.cleanup();
  });

  test('the laptop plans and deploys with a deploy token; a read token is refused', { timeout: 600_000 }, async () => {
    const refused = await fromLaptop(['deploy', project], tokens.viewer!);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /has scope read; POST \/api\/v1\/deployments needs deploy/);
    assert.equal((await db.kysely.selectFrom('deployments').select('id').execute()).length, 0, 'nothing deployed');
    const plan = await fromLaptop(['deploy', project, '--plan'], tokens.laptop!);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /\+ job tick/);
    const deployed = await fromLaptop(['deploy', project, '--json'], tokens.laptop!);
    assert.equal(deployed.code, 0, deployed.stderr + deployed.stdout);
    const out = JSON.parse(deployed.stdout) as { deployment: { version: number; deployed_by: string } };
    assert.deepEqual([out.deployment.version, out.deployment.deployed_by], [1, 'laptop']);
  });

  test('a schedule with seconds fires exactly once per tick for a minute while a replica is killed and restarted; every run ends on a worker', { timeout: 600_000 }, async () => {
    const runs = () => db.kysely.selectFrom('runs').select(['id', 'scheduled_for', 'state']).where('job', '=', 'tick').execute();
    await waitFor('the first scheduled runs', async () => (await runs()).length >= 5, 30_000);
    const start = Date.now();
    await waitFor('twenty seconds of ticks', async () => Date.now() - start >= 20_000, 30_000, 500);
    replicas[1]!.child.kill('SIGKILL');
    await exited(replicas[1]!.child);
    await waitFor('ticks while replica 1 is down', async () => Date.now() - start >= 35_000, 30_000, 500);
    await startReplica(1);
    await waitFor('a minute of ticks', async () => Date.now() - start >= 62_000, 60_000, 500);
    const paused = await fetch(`http://127.0.0.1:${ports[1]}/api/v1/schedules/team/tick/pause`, { method: 'POST', headers: { authorization: `Bearer ${BOOT}` } });
    assert.equal(paused.status, 200);
    await waitFor('every run to end', async () => (await runs()).every((r) => r.state === 'succeeded' || r.state === 'failed'), 60_000);

    const all = await runs();
    const ticks = await db.kysely.selectFrom('ticks').select(['instant', 'outcome']).where('schedule_id', '=', 'team/tick').where('outcome', 'in', ['fired', 'late']).orderBy('instant').execute();
    const first = Number(ticks[0]?.instant);
    const last = Number(ticks[ticks.length - 1]?.instant);
    assert.ok(last - first >= 60_000, `at least a minute of ticks (${ticks.length})`);
    const perInstant = new Map<number, number>();
    for (const r of all) perInstant.set(Number(r.scheduled_for), (perInstant.get(Number(r.scheduled_for)) ?? 0) + 1);
    for (let t = first; t <= last; t += 1000) assert.equal(perInstant.get(t), 1, `exactly one run for the tick at ${new Date(t).toISOString()}`);
    assert.equal(all.length, (last - first) / 1000 + 1, 'no run outside the ticks');
    assert.ok(all.every((r) => r.state === 'succeeded'), 'every run succeeded');
    const file = join(marks, 'ticks');
    assert.ok(existsSync(file));
    // The jobs' own record: each attempt ran at most once, and a tick ran again only as the retry of an attempt
    // whose end never reached the server before its lease ran out (a worker of the killed replica: the job was
    // done, the report was not). That is the promise: lost, then retried by policy; never two at once.
    const ran = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' '));
    const keys = ran.map(([, run, attempt]) => `${run}.${attempt}`);
    assert.equal(new Set(keys).size, keys.length, 'no attempt ran twice');
    const attemptsOf = async (run: string) => (await db.kysely.selectFrom('attempts').select(['number', 'state']).where('run_id', '=', run).orderBy('number').execute()).map((a) => [Number(a.number), a.state] as const);
    for (const run of new Set(ran.map(([, r]) => r as string))) {
      const executed = ran.filter(([, r]) => r === run).map(([, , n]) => Number(n)).sort((x, y) => x - y);
      if (executed.length === 1) continue;
      const recorded = await attemptsOf(run);
      for (const n of executed) assert.ok(recorded.some(([m]) => m === n), `${run}: attempt ${n} ran and is recorded (${JSON.stringify(recorded)})`);
      for (const [n, state] of recorded.slice(0, -1)) assert.equal(state, 'lost', `${run}: attempt ${n} ran again only after it was lost (${JSON.stringify(recorded)})`);
    }
    assert.equal(new Set(ran.map(([t]) => t)).size, all.length, 'every tick ran');
    const byWorker = await db.kysely.selectFrom('attempts').innerJoin('runs', 'runs.id', 'attempts.run_id').select('attempts.worker_id').where('runs.job', '=', 'tick').where('attempts.state', '=', 'succeeded').execute();
    assert.equal(byWorker.length, all.length);
    assert.ok(new Set(byWorker.map((a) => a.worker_id)).size >= 2, 'runs went to several hosts');
  });

  test('the laptop deploys a second version and rolls back to the first', { timeout: 600_000 }, async () => {
    writeProject(dir.path, { 'project/kairos.yaml': V1(marks) + '  extra:\n    run: "true"\n' });
    const plan = await fromLaptop(['deploy', project, '--plan'], tokens.laptop!);
    assert.match(plan.stdout, /\+ job extra/);
    const v2 = await fromLaptop(['deploy', project], tokens.laptop!);
    assert.equal(v2.code, 0, v2.stderr + v2.stdout);
    const list = async () => JSON.parse((await fromLaptop(['deployments', '--json'], tokens.viewer!)).stdout) as { version: number; active: boolean }[];
    assert.deepEqual((await list()).filter((d) => d.active).map((d) => d.version), [2]);
    const back = await fromLaptop(['rollback', '1', '--project', 'team'], tokens.laptop!);
    assert.equal(back.code, 0, back.stderr + back.stdout);
    assert.deepEqual((await list()).filter((d) => d.active).map((d) => d.version), [1]);
    const jobs = await fetch(`http://127.0.0.1:${ports[1]}/api/v1/jobs`, { headers: { authorization: `Bearer ${BOOT}` } }).then((r) => r.json() as Promise<{ jobs: { name: string }[] }>);
    assert.deepEqual(jobs.jobs.map((j) => j.name).sort(), ['tick']);
    const viewerRollback = await fromLaptop(['rollback', '2', '--project', 'team'], tokens.viewer!);
    assert.notEqual(viewerRollback.code, 0, 'a read token cannot roll back');
  });
});
