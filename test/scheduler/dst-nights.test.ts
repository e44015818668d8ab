/**
 * The scheduler walked through daylight-saving nights in America/New_York with an injected clock, against a
 * real SQLite file: which runs are created and what the tick ledger says, to the instant.
 * 2026: spring forward on March 8 at 07:00Z (02:00 EST → 03:00 EDT); fall back on November 1 at 06:00Z
 * (02:00 EDT → 01:00 EST).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatInZone } from '../../src/model/cron/index.js';
import { dialectTest } from '../dialects.js';
import { harness } from './harness.js';

const NY = 'America/New_York';
const yaml = (jobs: Record<string, string>, extra = 'concurrency: allow') =>
  `project: dst\njobs:\n${Object.entries(jobs)
    .map(([name, cron]) => `  ${name}:\n    run: "true"\n    schedule: {cron: "${cron}", timezone: ${NY}, ${extra}}\n`)
    .join('')}`;

/** Runs per job, as UTC instants. */
async function runsByJob(h: Awaited<ReturnType<typeof harness>>): Promise<Record<string, string[]>> {
  const rows = await h.db.kysely.selectFrom('runs').select(['job', 'scheduled_for']).orderBy('scheduled_for').execute();
  const out: Record<string, string[]> = {};
  for (const r of rows) (out[r.job] ??= []).push(new Date(Number(r.scheduled_for)).toISOString().slice(11, 16));
  return out;
}

async function ledgerByJob(h: Awaited<ReturnType<typeof harness>>): Promise<Record<string, string[]>> {
  const rows = await h.db.kysely.selectFrom('ticks').select(['schedule_id', 'instant', 'outcome']).orderBy('instant').execute();
  const out: Record<string, string[]> = {};
  for (const r of rows) (out[r.schedule_id.split('/')[1] ?? ''] ??= []).push(`${new Date(Number(r.instant)).toISOString().slice(11, 16)} ${r.outcome}`);
  return out;
}

describe('a scheduler through daylight-saving nights (America/New_York)', () => {
  dialectTest('spring forward: 02:30 daily fires once at 03:00 EDT; every-30-minutes keeps its real rhythm through the gap', async (dialect) => {
    const h = await harness(yaml({ daily: '30 2 * * *', half: '*/30 * * * *' }), '2026-03-08T04:00:20Z', dialect);
    // A scheduler that keeps up: a pass every minute, 20 s after the minute.
    await h.walk('2026-03-08T09:00:20Z', 60_000);
    assert.deepEqual(await runsByJob(h), {
      half: ['04:30', '05:00', '05:30', '06:00', '06:30', '07:00', '07:30', '08:00', '08:30', '09:00'],
      daily: ['07:00'],
    });
    assert.equal(formatInZone(NY, Date.parse('2026-03-08T07:00:00Z')), '2026-03-08 03:00:00 EDT', 'the gap ends at 03:00 EDT');
    const ledger = await ledgerByJob(h);
    assert.deepEqual(ledger.daily, ['07:00 fired']);
    assert.equal(ledger.half?.length, 10);
    assert.ok(ledger.half?.every((t) => t.endsWith('fired')), 'every tick on time');
    const ticks = await h.ticks();
    assert.ok(ticks.every((t) => t.lateness_ms === 20_000 && t.run_id !== null));
    await h.close();
  });

  dialectTest('fall back: 01:30 daily fires only in the first (EDT) copy of the hour; every-30-minutes fires in both copies', async (dialect) => {
    const h = await harness(yaml({ early: '30 1 * * *', late: '30 2 * * *', half: '*/30 * * * *' }), '2026-11-01T03:00:20Z', dialect);
    await h.walk('2026-11-01T08:00:20Z', 60_000);
    assert.deepEqual(await runsByJob(h), {
      half: ['03:30', '04:00', '04:30', '05:00', '05:30', '06:00', '06:30', '07:00', '07:30', '08:00'],
      early: ['05:30'],
      late: ['07:30'],
    });
    assert.equal(formatInZone(NY, Date.parse('2026-11-01T05:30:00Z')), '2026-11-01 01:30:00 EDT');
    assert.equal(formatInZone(NY, Date.parse('2026-11-01T06:30:00Z')), '2026-11-01 01:30:00 EST', 'repeated, and not fired by the daily job');
    const ledger = await ledgerByJob(h);
    assert.deepEqual(ledger.early, ['05:30 fired'], 'no ledger entry at all for the repeated 01:30: it is not a tick');
    assert.deepEqual(ledger.late, ['07:30 fired']);
    await h.close();
  });

  dialectTest('downtime across spring forward: catchup latest runs the latest missed tick once (late), the rest are skipped', async (dialect) => {
    const h = await harness(yaml({ half: '*/30 * * * *' }, 'concurrency: allow, catchup: latest'), '2026-03-08T05:10:00Z', dialect);
    assert.equal(await h.passAt('2026-03-08T05:10:00Z'), 0);
    // Down from 00:10 EST to 04:10 EDT: three hours of real time, four of wall time.
    const after = await h.restart();
    assert.equal(await after.passAt('2026-03-08T08:10:00Z'), 1);
    assert.deepEqual(
      (await after.ticks()).map((t) => [t.instant.slice(11, 16), t.outcome]),
      [['05:30', 'skipped'], ['06:00', 'skipped'], ['06:30', 'skipped'], ['07:00', 'skipped'], ['07:30', 'skipped'], ['08:00', 'late']],
      'six real ticks missed (no 02:00 or 02:30 that night); only the latest runs',
    );
    const ticks = await after.ticks();
    assert.equal(ticks[5]?.lateness_ms, 10 * 60_000);
    assert.match(ticks[0]?.reason ?? '', /catchup: latest/);
    assert.deepEqual((await after.runs()).map((r) => r.scheduled_for), ['2026-03-08T08:00:00.000Z']);
    // Back to normal afterwards.
    await after.walk('2026-03-08T09:00:30Z', 30_000);
    assert.deepEqual((await after.runs()).map((r) => r.scheduled_for.slice(11, 16)), ['08:00', '08:30', '09:00']);
    assert.deepEqual((await after.ticks()).slice(6).map((t) => t.outcome), ['fired', 'fired']);
    await after.close();
  });

  dialectTest('downtime across spring forward: catchup all runs every real tick oldest first, queued one behind the other', async (dialect) => {
    const h = await harness(yaml({ hourly: '0 * * * *', daily: '30 2 * * *' }, 'concurrency: forbid, catchup: all'), '2026-03-08T05:10:00Z', dialect);
    await h.passAt('2026-03-08T05:10:00Z');
    const after = await h.restart();
    await after.passAt('2026-03-08T08:10:00Z');
    assert.deepEqual(await runsByJob(after), { hourly: ['06:00', '07:00', '08:00'], daily: ['07:00'] }, 'there is no 02:00 that night; 02:30 becomes 03:00 EDT');
    const rows = await after.db.kysely.selectFrom('runs').select(['job', 'serial', 'scheduled_for']).where('job', '=', 'hourly').orderBy('scheduled_for').execute();
    assert.deepEqual(rows.map((r) => r.serial), [0, 1, 1], 'catch-up runs after the first wait for the one before');
    assert.ok((await after.ticks()).every((t) => t.outcome === 'late'));
    await after.close();
  });

  dialectTest('downtime across fall back: catchup all runs both 01:00 hours of an hourly job, and the 01:30 daily job once', async (dialect) => {
    const h = await harness(yaml({ hourly: '0 * * * *', daily: '30 1 * * *' }, 'concurrency: allow, catchup: all'), '2026-11-01T04:50:00Z', dialect);
    await h.passAt('2026-11-01T04:50:00Z');
    const after = await h.restart();
    await after.passAt('2026-11-01T07:10:00Z');
    assert.deepEqual(await runsByJob(after), { hourly: ['05:00', '06:00', '07:00'], daily: ['05:30'] });
    await after.close();
  });
});
