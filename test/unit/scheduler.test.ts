/** The scheduler with an injected clock, against a real SQLite file and a real PostgreSQL database. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../../src/control/engine.js';
import { schedulerPass, planCatchup } from '../../src/control/scheduler.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { openDb, type Db, type Dialect } from '../../src/store/db.js';
import { dialectTest, freshTarget } from '../dialects.js';
import { tempDir, writeProject } from '../helpers.js';

const H = 3_600_000;
const T0 = Date.parse('2026-01-01T00:30:00Z');

async function setup(yaml: string, dir: string, clock: { t: number }, dialect: Dialect): Promise<{ db: Db; engine: Engine; target: string }> {
  writeProject(dir, { 'kairos.yaml': yaml });
  const target = await freshTarget(dialect, join(dir, 'data'));
  const db = await openDb(target, { clock: { now: () => clock.t } });
  const engine = new Engine({ db, dataDir: join(dir, 'data') });
  const compiled = compileManifestText(yaml, 'kairos.yaml');
  assert.ok(compiled.ok, JSON.stringify(!compiled.ok && compiled.problems));
  await engine.deploy(dir, compiled.manifest, 'test');
  return { db, engine, target };
}

async function runsOf(db: Db) {
  return db.kysely.selectFrom('runs').select(['id', 'scheduled_for', 'state', 'trigger']).orderBy('scheduled_for').execute();
}
async function ticksOf(db: Db) {
  return (await db.kysely.selectFrom('ticks').select(['instant', 'outcome', 'reason', 'run_id', 'lateness_ms']).orderBy('instant').execute()).map((t) => ({ ...t, lateness_ms: Number(t.lateness_ms) }));
}
const iso = (t: number | bigint | null) => (t === null ? null : new Date(Number(t)).toISOString());

describe('scheduler', () => {
  dialectTest('fires each tick once; a missed stretch runs the latest tick once on restart and records the rest as skipped', async (dialect) => {
    const dir = tempDir();
    const clock = { t: T0 };
    const yaml = 'project: s\njobs:\n  hourly:\n    run: "true"\n    schedule:\n      cron: "0 * * * *"\n      concurrency: allow\n';
    let { db, engine, target } = await setup(yaml, dir.path, clock, dialect);
    await schedulerPass(engine.ctx);
    assert.equal((await runsOf(db)).length, 0, 'nothing is due before the first tick');
    clock.t = Date.parse('2026-01-01T01:00:00.200Z');
    assert.equal((await schedulerPass(engine.ctx)).runsCreated, 1);
    assert.equal((await schedulerPass(engine.ctx)).runsCreated, 0, 'a second pass at the same moment creates nothing');
    await db.close();

    // Down from 01:00 to 06:10; restart.
    clock.t = Date.parse('2026-01-01T06:10:00Z');
    db = await openDb(target, { clock: { now: () => clock.t } });
    engine = new Engine({ db, dataDir: join(dir.path, 'data') });
    assert.equal((await schedulerPass(engine.ctx)).runsCreated, 1);
    const runs = await runsOf(db);
    assert.deepEqual(runs.map((r) => iso(r.scheduled_for)), ['2026-01-01T01:00:00.000Z', '2026-01-01T06:00:00.000Z']);
    assert.ok(runs.every((r) => r.trigger === 'schedule'));
    const ticks = await ticksOf(db);
    assert.deepEqual(
      ticks.map((t) => [new Date(Number(t.instant)).toISOString().slice(11, 16), t.outcome]),
      [['01:00', 'fired'], ['02:00', 'skipped'], ['03:00', 'skipped'], ['04:00', 'skipped'], ['05:00', 'skipped'], ['06:00', 'late']],
      'the 06:00 tick ran 10 minutes after its instant: late, not fired',
    );
    assert.match(ticks[1]?.reason ?? '', /catchup: latest/);
    assert.equal(ticks[5]?.lateness_ms, 10 * 60_000);
    assert.equal(ticks[0]?.lateness_ms, 200, 'an on-time tick records its small lateness too');

    // The clock steps back two hours: nothing fires twice.
    clock.t = Date.parse('2026-01-01T04:30:00Z');
    await schedulerPass(engine.ctx);
    clock.t = Date.parse('2026-01-01T06:30:00Z');
    await schedulerPass(engine.ctx);
    assert.equal((await runsOf(db)).length, 2);
    // Forward again: the 07:00 tick fires once.
    clock.t = Date.parse('2026-01-01T07:00:01Z');
    await schedulerPass(engine.ctx);
    assert.equal((await runsOf(db)).length, 3);
    await db.close();
    dir.cleanup();
  });

  dialectTest('concurrency forbid skips a tick while the earlier run is active, and says why', async (dialect) => {
    const dir = tempDir();
    const clock = { t: T0 };
    const { db, engine } = await setup('project: f\njobs:\n  j:\n    run: "true"\n    schedule: "0 * * * *"\n', dir.path, clock, dialect);
    clock.t = T0 + H / 2;
    await schedulerPass(engine.ctx);
    clock.t = T0 + H / 2 + H;
    await schedulerPass(engine.ctx);
    const ticks = await ticksOf(db);
    assert.deepEqual(ticks.map((t) => t.outcome), ['fired', 'skipped']);
    assert.match(ticks[1]?.reason ?? '', /still active \(concurrency: forbid\)/);
    assert.equal((await runsOf(db)).length, 1);
    await db.close();
    dir.cleanup();
  });

  dialectTest('concurrency replace cancels the active run before the new one', async (dialect) => {
    const dir = tempDir();
    const clock = { t: T0 };
    const { db, engine } = await setup('project: r\njobs:\n  j:\n    run: "true"\n    schedule: {cron: "0 * * * *", concurrency: replace}\n', dir.path, clock, dialect);
    clock.t = T0 + H / 2;
    await schedulerPass(engine.ctx);
    clock.t = T0 + H / 2 + H;
    await schedulerPass(engine.ctx);
    const runs = await runsOf(db);
    assert.deepEqual(runs.map((r) => r.state), ['cancelled', 'queued']);
    await db.close();
    dir.cleanup();
  });

  dialectTest('a redeploy with the same schedule keeps its cursor; a changed expression starts from now', async (dialect) => {
    const dir = tempDir();
    const clock = { t: T0 };
    const yaml = 'project: d\njobs:\n  j:\n    run: "true"\n    schedule: {cron: "0 * * * *", concurrency: allow}\n';
    const { db, engine } = await setup(yaml, dir.path, clock, dialect);
    clock.t = T0 + 3 * H; // two ticks due (01:00, 02:00, 03:00 → latest 03:00)
    writeProject(dir.path, { 'other.txt': 'changed files, same schedule' });
    const again = compileManifestText(yaml, 'kairos.yaml');
    assert.ok(again.ok);
    const out = await engine.deploy(dir.path, again.manifest, 'test');
    assert.equal(out.created, true);
    await schedulerPass(engine.ctx);
    assert.equal((await runsOf(db)).length, 1, 'the missed ticks are still seen after a redeploy');
    const changed = compileManifestText(yaml.replace('0 * * * *', '30 * * * *'), 'kairos.yaml');
    assert.ok(changed.ok);
    await engine.deploy(dir.path, changed.manifest, 'test');
    const s = await db.kysely.selectFrom('schedules').selectAll().executeTakeFirstOrThrow();
    assert.equal(iso(s.next_fire_at), '2026-01-01T04:30:00.000Z', 'strictly after the deploy instant (03:30)');
    await db.close();
    dir.cleanup();
  });

  test('catch-up plans: none, latest, all with a bound', () => {
    const due = [1, 2, 3, 4, 5].map((h) => h * H);
    const now = 5 * H + 1000;
    const kinds = (p: 'none' | 'latest' | 'all', max = 100) => planCatchup(due, now, p, max).map((d) => d.kind[0]).join('');
    assert.equal(kinds('none'), 'ssssf');
    assert.equal(kinds('latest'), 'ssssf');
    assert.equal(kinds('all'), 'fffff');
    assert.equal(kinds('all', 2), 'sssff');
    assert.equal(planCatchup(due, 5 * H + 120_000, 'none', 100).filter((d) => d.kind === 'fire').length, 0, 'none fires nothing late');
    const afterPause = planCatchup(due, now, 'latest', 100, 'pause');
    assert.deepEqual(afterPause.map((d) => (d.kind === 'skip' ? d.reason : 'fire')), ['paused', 'paused', 'paused', 'paused', 'fire'], 'after a pause the skipped ticks say so');
  });

  dialectTest('a tick decided within a minute of its instant is fired; later than that it is late, and still runs', async (dialect) => {
    const dir = tempDir();
    const clock = { t: T0 };
    const { db, engine } = await setup('project: l\njobs:\n  j:\n    run: "true"\n    schedule: {cron: "0 * * * *", concurrency: allow}\n', dir.path, clock, dialect);
    clock.t = Date.parse('2026-01-01T01:00:59.000Z');
    await schedulerPass(engine.ctx);
    clock.t = Date.parse('2026-01-01T02:01:01.000Z');
    await schedulerPass(engine.ctx);
    const ticks = await ticksOf(db);
    assert.deepEqual(ticks.map((t) => [t.outcome, t.lateness_ms, t.run_id !== null]), [['fired', 59_000, true], ['late', 61_000, true]]);
    assert.equal((await runsOf(db)).length, 2);
    await db.close();
    dir.cleanup();
  });
});
