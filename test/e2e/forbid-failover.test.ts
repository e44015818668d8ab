/**
 * Overlap under failover (issue 21, item 6): a `concurrency: forbid` schedule every 2 s whose job lasts 3 s,
 * on two `kairos server` replicas sharing PostgreSQL, each with a `kairos worker`. A replica is killed with
 * SIGKILL at 10 tick boundaries (and started again). The job's own record shows no two of its runs alive at
 * once: each run appends its start and end, and holds an exclusive lock on a file while it lives (a run
 * that finds the lock taken writes OVERLAP; the lock goes with its process, however it dies).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { Engine } from '../../src/control/engine.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { openDb, type Db } from '../../src/store/db.js';
import { createPgDatabase, PG_URL } from '../dialects.js';
import { exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

const CI = process.env.CI === 'true';

describe('concurrency: forbid while scheduler replicas are killed at tick boundaries', { skip: !PG_URL && !CI ? 'PostgreSQL test skipped: KAIROS_TEST_PG_URL is not set (npm test starts a server; see tools/test.mjs)' : false }, () => {
  const dir = tempDir('kairos-forbid-');
  const data = join(dir.path, 'server-data');
  const record = join(dir.path, 'record');
  const lock = join(dir.path, 'lock');
  const procs: ReturnType<typeof spawnCli>[] = [];
  const replicas: (ReturnType<typeof spawnCli> | null)[] = [null, null];
  const ports: number[] = [];
  let url = '';
  let db: Db;

  const startReplica = async (i: number) => {
    const r = spawnCli(['server', '--db', url, '--port', String(ports[i]), '--data', data, '--lease', '3s']);
    procs.push(r);
    replicas[i] = r;
    await waitFor(`replica ${i}`, () => new KairosClient(`http://127.0.0.1:${ports[i]}`).health(), 30_000);
  };

  before(async () => {
    assert.ok(PG_URL, 'CI=true but KAIROS_TEST_PG_URL is not set: the PostgreSQL tests must run in CI (npm test starts a server)');
    url = await createPgDatabase();
    writeProject(dir.path, {
      'project/kairos.yaml': `project: forbid
jobs:
  slow:
    run: ["sh", "-c", "exec 9>>${lock}; if ! flock -n 9; then echo OVERLAP $KAIROS_RUN_ID $(date +%s%3N) >> ${record}; exit 1; fi; echo start $KAIROS_RUN_ID $(date +%s%3N) >> ${record}; sleep 3; echo end $KAIROS_RUN_ID $(date +%s%3N) >> ${record}"]
    schedule:
      cron: "*/2 * * * * *"
      concurrency: forbid
`,
    });
    ports.push(await freePort(), await freePort());
    db = await openDb(url);
    const compiled = compileManifestText(readFileSync(join(dir.path, 'project', 'kairos.yaml'), 'utf8'), 'kairos.yaml');
    assert.ok(compiled.ok);
    await startReplica(0);
    await startReplica(1);
    await new Engine({ db, dataDir: data }).deploy(join(dir.path, 'project'), compiled.manifest, 'test');
    for (const i of [0, 1]) {
      procs.push(spawnCli(['worker', '--server', `http://127.0.0.1:${ports[i]}`, '--id', `w${i}`, '--data', join(dir.path, `cache-${i}`), '--concurrency', '2', '--grace', '1', '--sandbox-bind', dir.path]));
    }
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

  test('no two live runs of the job in its own record across 10 replica kills', { timeout: 480_000 }, async () => {
    const starts = () => (existsSync(record) ? readFileSync(record, 'utf8').split('\n').filter((l) => l.startsWith('start ')).length : 0);
    await waitFor('the first run to start', () => starts() >= 1, 30_000);
    for (let k = 0; k < 10; k++) {
      const i = k % 2;
      // Just before the next tick boundary (every 2 s), so the kill lands as the tick is decided.
      const wait = 2000 - (Date.now() % 2000) - 20;
      await new Promise((r) => setTimeout(r, wait < 0 ? wait + 2000 : wait));
      const victim = replicas[i];
      assert.ok(victim);
      victim.child.kill('SIGKILL');
      await exited(victim.child);
      await new Promise((r) => setTimeout(r, 1500));
      await startReplica(i);
    }
    // Runs go on after the kills: two runs that started after the last one succeed (on a busy machine the kills
    // may have cost many runs their leases, so how many succeeded during them is not what is promised).
    const lastKill = Date.now();
    const startedAfter = () =>
      (existsSync(record) ? readFileSync(record, 'utf8').split('\n') : [])
        .map((l) => l.split(' '))
        .filter(([kind, , at]) => kind === 'start' && Number(at) >= lastKill)
        .map(([, id]) => id ?? '');
    await waitFor(
      'two runs started after the kills to succeed',
      async () => (await db.kysely.selectFrom('runs').select('id').where('job', '=', 'slow').where('state', '=', 'succeeded').where('id', 'in', ['', ...startedAfter()]).execute()).length >= 2,
      120_000,
    );
    // Let what is running end: pause through a replica, then wait until no run of the job is live.
    assert.equal((await fetch(`http://127.0.0.1:${ports[0]}/api/v1/schedules/forbid/slow/pause`, { method: 'POST' })).status, 200);
    await waitFor('every run to end', async () => (await db.kysely.selectFrom('runs').select('state').where('job', '=', 'slow').where('state', 'in', ['queued', 'running']).execute()).length === 0, 60_000);

    const text = readFileSync(record, 'utf8');
    assert.doesNotMatch(text, /OVERLAP/, `a run started while another was alive:\n${text}`);
    // The record itself: a start never comes while an earlier run has started and not ended (killed runs end
    // with their process; their lock was released then, which the flock check covers).
    const events = text.trim().split('\n').map((l) => l.split(' '));
    let live: string | null = null;
    const unfinished = new Set<string>();
    for (const [kind, id] of events) {
      if (kind === 'start') {
        if (live !== null) unfinished.add(live);
        live = id ?? null;
      } else if (kind === 'end' && id === live) live = null;
    }
    // Runs that never wrote `end` were killed (their worker lost its replica); each must have ended as lost/failed.
    for (const id of unfinished) {
      const r = await db.kysely.selectFrom('runs').select(['state', 'reason']).where('id', '=', id).executeTakeFirst();
      assert.ok(r && r.state !== 'succeeded', `run ${id} has no end in the record, so it did not succeed (${r?.state})`);
    }
  });
});
