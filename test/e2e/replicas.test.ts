/**
 * Several control planes on one PostgreSQL database, as real processes: two `kairos server` replicas on
 * different ports, `kairos worker` processes on each, a schedule firing every second. One replica is killed
 * with SIGKILL mid-way and restarted; every tick still has exactly one run, and every run ends. Runs queued
 * through both replicas and claimed by workers on both are each started exactly once (the jobs record it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { Engine } from '../../src/control/engine.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { openDb, type Db } from '../../src/store/db.js';
import { createPgDatabase, PG_URL } from '../dialects.js';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

const CI = process.env.CI === 'true';

describe('control-plane replicas on PostgreSQL', { skip: !PG_URL && !CI ? 'PostgreSQL test skipped: KAIROS_TEST_PG_URL is not set (npm test starts a server; see tools/test.mjs)' : false }, () => {
  const dir = tempDir('kairos-replicas-');
  const data = join(dir.path, 'server-data');
  const marks = join(dir.path, 'marks');
  const procs: ReturnType<typeof spawnCli>[] = [];
  let url = '';
  let db: Db;
  const ports: number[] = [];
  const replicas: (ReturnType<typeof spawnCli> | null)[] = [null, null];

  const startReplica = async (i: number) => {
    const r = spawnCli(['server', '--db', url, '--port', String(ports[i]), '--data', data, '--lease', '2s']);
    procs.push(r);
    replicas[i] = r;
    await waitFor(`replica ${i}`, () => new KairosClient(`http://127.0.0.1:${ports[i]}`).health(), 30_000);
    return r;
  };
  const startWorker = (id: string, replica: number) => {
    const w = spawnCli(['worker', '--server', `http://127.0.0.1:${ports[replica]}`, '--id', id, '--data', join(dir.path, `cache-${id}`), '--concurrency', '4', '--grace', '1', '--sandbox-bind', marks]);
    procs.push(w);
    return w;
  };

  before(async () => {
    assert.ok(PG_URL, 'CI=true but KAIROS_TEST_PG_URL is not set: the PostgreSQL tests must run in CI (npm test starts a server)');
    url = await createPgDatabase();
    writeProject(dir.path, {
      'project/kairos.yaml': `project: rep
pools:
  other:
    concurrency: 2
jobs:
  elsewhere:
    run: "true"
    pool: other

  tick:
    run: "echo $KAIROS_RUN_ID >> $MARKS/tick-starts"
    env:
      MARKS: ${marks}
    schedule:
      cron: "* * * * * *"
      concurrency: allow
      catchup: all
    retries: {max: 3, delay: 0s, on: [lost]}
  once:
    run: "echo $KAIROS_RUN_ID >> $MARKS/once-starts"
    env:
      MARKS: ${marks}
`,
      'marks/.keep': '',
    });
    ports.push(await freePort(), await freePort());
    // The deployment goes in through the same function `kairos up` uses, into the database and the bundle
    // store the replicas share (--data).
    db = await openDb(url);
    const compiled = compileManifestText(readFileSync(join(dir.path, 'project', 'kairos.yaml'), 'utf8'), 'kairos.yaml');
    assert.ok(compiled.ok);
    await startReplica(0);
    await startReplica(1);
    await new Engine({ db, dataDir: data }).deploy(join(dir.path, 'project'), compiled.manifest, 'test');
    startWorker('w0', 0);
    startWorker('w1', 1);
  });

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    await db?.close();
    dir.cleanup();
  });

  test('a schedule firing every second: one run per tick across two replicas, one of them killed and restarted', { timeout: 600_000 }, async () => {
    const runs = () => db.kysely.selectFrom('runs').select(['id', 'scheduled_for', 'state']).where('job', '=', 'tick').execute();
    await waitFor('five scheduled runs', async () => (await runs()).length >= 5, 30_000);
    const killed = replicas[0];
    assert.ok(killed);
    killed.child.kill('SIGKILL');
    await exited(killed.child);
    const atKill = (await runs()).length;
    await waitFor('ticks while replica 0 is down', async () => (await runs()).length >= atKill + 3, 30_000);
    await startReplica(0);
    const atRestart = (await runs()).length;
    await waitFor('ticks after the restart', async () => (await runs()).length >= atRestart + 4, 30_000);
    const paused = await fetch(`http://127.0.0.1:${ports[0]}/api/v1/schedules/rep/tick/pause`, { method: 'POST' });
    assert.equal(paused.status, 200);
    await waitFor('every run to end', async () => (await runs()).every((r) => r.state === 'succeeded' || r.state === 'failed'), 60_000);

    const all = await runs();
    const ticks = await db.kysely.selectFrom('ticks').select(['instant', 'outcome', 'run_id']).where('schedule_id', '=', 'rep/tick').orderBy('instant').execute();
    const first = Number(ticks[0]?.instant);
    const last = Number(ticks[ticks.length - 1]?.instant);
    assert.ok(last - first >= 10_000, `a window of at least 10 s of ticks (${ticks.length})`);
    const perInstant = new Map<number, number>();
    for (const r of all) perInstant.set(Number(r.scheduled_for), (perInstant.get(Number(r.scheduled_for)) ?? 0) + 1);
    for (let t = first; t <= last; t += 1000) {
      assert.equal(perInstant.get(t), 1, `exactly one run for the tick at ${new Date(t).toISOString()}`);
    }
    assert.equal(all.length, (last - first) / 1000 + 1, 'no run outside the ticks');
    assert.equal(ticks.length, all.length, 'one ledger entry per tick');
    assert.ok(ticks.every((t) => t.outcome === 'fired' || t.outcome === 'late'), 'every tick fired');
    assert.ok(all.every((r) => r.state === 'succeeded'), 'every run succeeded');
    const output = procs.map((p) => p.output()).join('\n');
    assert.doesNotMatch(output, /duplicate key|deadlock|could not serialize/, 'no replica ran into the other');
  });

  test('runs queued through both replicas and claimed by workers on both are each started exactly once', { timeout: 600_000 }, async () => {
    const clients = ports.map((p) => new KairosClient(`http://127.0.0.1:${p}`));
    startWorker('w2', 0);
    startWorker('w3', 1);
    const ids = await Promise.all(Array.from({ length: 120 }, (_, i) => clients[i % 2]!.createRun('once', {}).then((r) => r.id)));
    const states = async () => {
      const rows = await db.kysely.selectFrom('runs').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).where('job', '=', 'once').groupBy('state').execute();
      return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
    };
    await waitFor('all 120 runs to succeed', async () => (await states()).succeeded === 120, 90_000).catch(async (err: Error) => {
      throw new Error(`${err.message}; runs by state: ${JSON.stringify(await states())}\n${procs.map((p) => p.output()).join('\n').slice(-3000)}`);
    });
    const file = join(marks, 'once-starts');
    assert.ok(existsSync(file));
    const started = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(started.length, 120, 'one start per run');
    assert.deepEqual([...started].sort(), [...ids].sort(), 'each run started exactly once');
    const byWorker = await db.kysely.selectFrom('attempts').innerJoin('runs', 'runs.id', 'attempts.run_id').select(['attempts.worker_id']).where('runs.job', '=', 'once').execute();
    assert.equal(byWorker.length, 120, 'one attempt per run');
    assert.ok(new Set(byWorker.map((a) => a.worker_id)).size >= 2, 'workers on both replicas took part');
  });

  test('a run created through one replica starts on a worker long-polling the other; a client waiting on the first hears it end', { timeout: 600_000 }, async () => {
    procs.push(spawnCli(['worker', '--server', `http://127.0.0.1:${ports[1]}`, '--id', 'wo', '--pool', 'other', '--data', join(dir.path, 'cache-wo'), '--grace', '1', '--sandbox-bind', marks]));
    await waitFor('worker wo to register', async () => (await db.kysely.selectFrom('workers').select('id').where('id', '=', 'wo').executeTakeFirst()) !== undefined, 30_000);
    const first = new KairosClient(`http://127.0.0.1:${ports[0]}`);
    for (let i = 0; i < 3; i++) {
      const run = await first.createRun('elsewhere', {});
      const done = await waitFor('the run to be seen ended through the other replica', async () => {
        const r = await first.getRun(run.id, 120);
        return r.state === 'succeeded' || r.state === 'failed' ? r : null;
      }, 180_000);
      assert.equal(done.state, 'succeeded');
      const attempts = (await first.attempts(run.id)).attempts as { worker_id: string; claimed_at: string }[];
      assert.equal(attempts[0]?.worker_id, 'wo');
      // The worker long-polls the other replica for 20 s at a time: a run claimed well before a poll ends was
      // handed over by the replicas' notification (both times from the database's clock, not this machine's load).
      const waited = Date.parse(attempts[0]?.claimed_at ?? '') - Date.parse(run.created_at ?? '');
      assert.ok(waited < 15_000, `created → claimed through the other replica in ${waited} ms`);
    }
  });
});

test('kairos server --db: an unknown scheme is bad usage; an unreachable database is named without its password', async () => {
  const bad = await cli(['server', '--db', 'mysql://u@127.0.0.1/x', '--port', '0']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--db must be postgres:\/\/USER@HOST:PORT\/DB or sqlite:PATH/);
  const port = await freePort();
  const down = await cli(['server', '--db', `postgres://kairos:hunter2secret@127.0.0.1:${port}/kairos`, '--port', '0']);
  assert.equal(down.code, 1, down.stderr);
  assert.match(down.stderr, new RegExp(`cannot connect to PostgreSQL at postgres://kairos:\\*\\*\\*@127\\.0\\.0\\.1:${port}/kairos`));
  assert.doesNotMatch(down.stderr + down.stdout, /hunter2secret/);
});
