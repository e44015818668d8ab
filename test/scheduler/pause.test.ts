/**
 * Pause and resume through the real HTTP router, with an injected clock: ticks that fall during a pause are
 * recorded as skipped ("paused") when the schedule is resumed, except what its catch-up policy runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApi } from '../../src/api/server.js';
import { dialectTest } from '../dialects.js';
import { harness, manifest, type Harness } from './harness.js';

async function call(h: Harness, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const app = createApi({ engine: h.engine });
  const res = await app.request(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const outcomes = async (h: Harness) => (await h.ticks()).map((t) => [t.instant.slice(11, 16), t.outcome, t.reason]);

dialectTest('resume after a pause: catchup latest runs the most recent paused tick once, the others are skipped as paused', async (dialect) => {
  const h = await harness(manifest('p', { cron: '0 * * * *', concurrency: 'allow' }), '2026-01-01T00:30:00Z', dialect);
  assert.equal(await h.passAt('2026-01-01T01:00:05Z'), 1);
  h.clock.t = Date.parse('2026-01-01T01:20:00Z');
  const paused = await call(h, 'POST', '/api/v1/schedules/p/j/pause');
  assert.equal(paused.status, 200);
  assert.equal(paused.json.paused, true);
  assert.equal(paused.json.next_fire_at, null);
  await h.walk('2026-01-01T04:05:00Z', 5 * 60_000);
  assert.equal((await h.runs()).length, 1, 'nothing runs while paused');
  assert.equal((await h.ticks()).length, 1, 'and nothing is decided yet');
  h.clock.t = Date.parse('2026-01-01T04:10:00Z');
  const resumed = await call(h, 'POST', '/api/v1/schedules/p/j/resume');
  assert.equal(resumed.status, 200);
  assert.equal(resumed.json.paused, false);
  assert.deepEqual(await outcomes(h), [
    ['01:00', 'fired', null],
    ['02:00', 'skipped', 'paused'],
    ['03:00', 'skipped', 'paused'],
    ['04:00', 'late', 'catch-up after a pause'],
  ]);
  assert.deepEqual((await h.runs()).map((r) => r.scheduled_for.slice(11, 16)), ['01:00', '04:00']);
  await h.passAt('2026-01-01T05:00:05Z');
  assert.deepEqual((await outcomes(h)).slice(4), [['05:00', 'fired', null]], 'on time again after the resume');
  // The ledger through the API: newest first, with the local time and lateness.
  const ledger = await call(h, 'GET', '/api/v1/schedules/p/j/ticks?limit=3');
  const rows = ledger.json.ticks as { instant: string; local: string; outcome: string; lateness_ms: number }[];
  assert.deepEqual(rows.map((r) => [r.instant, r.outcome, r.lateness_ms]), [
    ['2026-01-01T05:00:00.000Z', 'fired', 5000],
    ['2026-01-01T04:00:00.000Z', 'late', 600_000],
    ['2026-01-01T03:00:00.000Z', 'skipped', 600_000 + 3_600_000],
  ]);
  assert.equal(rows[0]?.local, '2026-01-01 05:00:00 UTC');
  const window = await call(h, 'GET', '/api/v1/schedules/p/j/ticks?from=2026-01-01T02:00:00Z&to=2026-01-01T03:00:00Z');
  assert.deepEqual((window.json.ticks as { instant: string }[]).map((t) => t.instant.slice(11, 16)), ['03:00', '02:00'], '"what happened at 02:00?"');
  await h.close();
});

dialectTest('pausing decides the ticks already due; resume with catchup none runs nothing from the pause', async (dialect) => {
  const h = await harness(manifest('n', { cron: '0 * * * *', concurrency: 'allow', catchup: 'none' }), '2026-01-01T00:30:00Z', dialect);
  h.clock.t = Date.parse('2026-01-01T01:00:30Z');
  await call(h, 'POST', '/api/v1/schedules/n/j/pause');
  assert.deepEqual(await outcomes(h), [['01:00', 'fired', null]], 'the 01:00 tick fell before the pause');
  assert.equal((await call(h, 'POST', '/api/v1/schedules/n/j/pause')).status, 200, 'pausing twice is harmless');
  h.clock.t = Date.parse('2026-01-01T03:30:00Z');
  await call(h, 'POST', '/api/v1/schedules/n/j/resume');
  assert.deepEqual(await outcomes(h), [['01:00', 'fired', null], ['02:00', 'skipped', 'paused'], ['03:00', 'skipped', 'paused']]);
  assert.equal((await h.runs()).length, 1);
  assert.equal((await call(h, 'POST', '/api/v1/schedules/n/nope/pause')).status, 404);
  await h.close();
});

dialectTest('resume with catchup all runs up to max_catchup of the paused ticks, oldest first', async (dialect) => {
  const h = await harness(manifest('a', { cron: '0 * * * *', concurrency: 'allow', catchup: 'all', max_catchup: 2 }), '2026-01-01T00:30:00Z', dialect);
  h.clock.t = Date.parse('2026-01-01T01:10:00Z');
  await call(h, 'POST', '/api/v1/schedules/a/j/pause');
  h.clock.t = Date.parse('2026-01-01T05:10:00Z');
  await call(h, 'POST', '/api/v1/schedules/a/j/resume');
  assert.deepEqual((await outcomes(h)).map((o) => o.slice(0, 2)), [['01:00', 'late'], ['02:00', 'skipped'], ['03:00', 'skipped'], ['04:00', 'late'], ['05:00', 'late']]);
  assert.match(String((await outcomes(h))[1]?.[2]), /^paused; beyond max_catchup 2/);
  assert.deepEqual((await h.runs()).map((r) => [r.scheduled_for.slice(11, 16), r.serial]), [['01:00', 0], ['04:00', 0], ['05:00', 1]]);
  await h.close();
});

dialectTest('the schedules preview says when a daylight-saving change falls inside the previewed fire times', async (dialect) => {
  const yaml = 'project: v\njobs:\n  ny:\n    run: "true"\n    schedule: {cron: "30 2 * * *", timezone: America/New_York}\n  utc:\n    run: "true"\n    schedule: "30 2 * * *"\n';
  const h = await harness(yaml, '2026-03-07T12:00:00Z', dialect);
  const { json } = await call(h, 'GET', '/api/v1/schedules?count=3');
  const [ny, utc] = json.schedules as { job: string; next: { at: string; local: string }[]; dst_note: string | null; dst_changes: unknown[] }[];
  assert.deepEqual(ny?.next, [
    { at: '2026-03-08T07:00:00.000Z', local: '2026-03-08 03:00:00 EDT' },
    { at: '2026-03-09T06:30:00.000Z', local: '2026-03-09 02:30:00 EDT' },
    { at: '2026-03-10T06:30:00.000Z', local: '2026-03-10 02:30:00 EDT' },
  ]);
  assert.match(ny?.dst_note ?? '', /America\/New_York changes from -05:00 to -04:00 at 2026-03-08T07:00:00\.000Z/);
  assert.deepEqual(ny?.dst_changes, [{ at: '2026-03-08T07:00:00.000Z', offset_before: '-05:00', offset_after: '-04:00' }]);
  assert.equal(utc?.dst_note, null);
  await h.close();
});
