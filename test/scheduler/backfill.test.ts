/**
 * Backfill through the real HTTP router with an injected clock, against a real SQLite file: one run per tick
 * in the range with its logical time, idempotent, never duplicating what the scheduler ran.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApi } from '../../src/api/server.js';
import { MAX_BACKFILL_RUNS } from '../../src/control/backfill.js';
import { dialectTest } from '../dialects.js';
import { harness, manifest, type Harness } from './harness.js';

async function call(h: Harness, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const app = createApi({ engine: h.engine });
  const res = await app.request(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
const errorOf = (r: { json: Record<string, unknown> }) => (r.json.error ?? {}) as { code?: string; message?: string };

dialectTest('a backfill creates one run per tick with its logical time, skips ticks the scheduler ran, and is idempotent', async (dialect) => {
  const h = await harness(manifest('b', { cron: '0 2 * * *', timezone: 'America/New_York' }), '2026-01-10T12:00:00Z', dialect);
  // The scheduler runs Jan 11 and Jan 12 (02:00 EST = 07:00Z); each finishes before the next.
  await h.passAt('2026-01-11T07:00:01Z');
  await h.db.kysely.updateTable('runs').set({ state: 'succeeded' }).execute();
  await h.passAt('2026-01-12T07:00:01Z');
  await h.db.kysely.updateTable('runs').set({ state: 'succeeded' }).execute();
  h.clock.t = Date.parse('2026-01-12T12:00:00Z');
  const body = { from: '2026-01-03T07:00:00Z', to: '2026-01-12T07:00:00Z' };

  const dry = await call(h, 'POST', '/api/v1/schedules/b/j/backfill', { ...body, dry_run: true });
  assert.equal(dry.status, 200);
  assert.equal(dry.json.ticks, 10, 'both bounds are inclusive');
  assert.equal(dry.json.existing, 2);
  assert.deepEqual((dry.json.planned as { scheduled_for: string }[]).map((p) => p.scheduled_for.slice(5, 10)), ['01-03', '01-04', '01-05', '01-06', '01-07', '01-08', '01-09', '01-10']);
  assert.equal((await h.runs()).length, 2, 'a dry run creates nothing');

  const first = await call(h, 'POST', '/api/v1/schedules/b/j/backfill', body);
  assert.equal(first.status, 201);
  const created = first.json.created as { trigger: string; scheduled_for: string; state: string }[];
  assert.equal(created.length, 8);
  assert.ok(created.every((r) => r.trigger === 'backfill' && r.state === 'queued'));
  assert.deepEqual(created.map((r) => r.scheduled_for), (dry.json.planned as { scheduled_for: string }[]).map((p) => p.scheduled_for));
  assert.equal((first.json.planned as { local: string }[])[0]?.local, '2026-01-03 02:00:00 EST');
  assert.equal(first.json.serial, true, 'concurrency forbid (the default): backfill runs go one at a time');

  const again = await call(h, 'POST', '/api/v1/schedules/b/j/backfill', body);
  assert.equal(again.status, 200);
  assert.deepEqual([again.json.ticks, again.json.existing, (again.json.created as unknown[]).length], [10, 10, 0], 'asking twice creates nothing new');

  const runs = await h.runs();
  assert.equal(runs.length, 10);
  assert.equal(new Set(runs.map((r) => r.scheduled_for)).size, 10, 'one run per tick');
  assert.ok(runs.filter((r) => r.trigger === 'backfill').every((r) => r.serial === 1));
  assert.equal((await h.ticks()).length, 2, 'backfill writes nothing to the tick ledger');
  await h.close();
});

dialectTest('backfill runs of a job with concurrency allow may run in parallel', async (dialect) => {
  const h = await harness(manifest('p', { cron: '0 * * * *', concurrency: 'allow' }), '2026-01-02T00:00:00Z', dialect);
  const r = await call(h, 'POST', '/api/v1/schedules/p/j/backfill', { from: '2026-01-01', to: '2026-01-01T05:30:00Z' });
  assert.equal(r.status, 201);
  assert.equal(r.json.serial, false);
  assert.deepEqual((await h.runs()).map((x) => [x.scheduled_for.slice(11, 16), x.serial]), [['00:00', 0], ['01:00', 0], ['02:00', 0], ['03:00', 0], ['04:00', 0], ['05:00', 0]]);
  await h.close();
});

dialectTest('a backfill refuses a range of more than the limit, a future end, a reversed range, an unscheduled job, and instants without an offset', async (dialect) => {
  const yaml = 'project: c\njobs:\n  m:\n    run: "true"\n    schedule: "* * * * *"\n  adhoc:\n    run: "true"\n';
  const h = await harness(yaml, '2026-02-01T00:00:00Z', dialect);
  const post = (job: string, b: Record<string, unknown>) => call(h, 'POST', `/api/v1/schedules/c/${job}/backfill`, b);
  const tooMany = await post('m', { from: '2026-01-01T00:00:00Z', to: '2026-01-08T00:00:00Z' });
  assert.equal(tooMany.status, 400);
  assert.match(errorOf(tooMany).message ?? '', new RegExp(`more than ${MAX_BACKFILL_RUNS} ticks.*split the range`));
  const exactly = await post('m', { from: '2026-01-01T00:00:00Z', to: new Date(Date.parse('2026-01-01T00:00:00Z') + (MAX_BACKFILL_RUNS - 1) * 60_000).toISOString(), dry_run: true });
  assert.equal(exactly.json.ticks, MAX_BACKFILL_RUNS, 'the limit itself is allowed');
  const future = await post('m', { from: '2026-01-31T00:00:00Z', to: '2026-02-02T00:00:00Z' });
  assert.equal(future.status, 400);
  assert.match(errorOf(future).message ?? '', /in the future/);
  assert.equal((await post('m', { from: '2026-01-02', to: '2026-01-01' })).status, 400);
  const local = await post('m', { from: '2026-01-01T00:00:00', to: '2026-01-01T01:00:00Z' });
  assert.equal(local.status, 400);
  assert.match(errorOf(local).message ?? '', /field "from" must be an ISO-8601 instant with an offset/);
  const adhoc = await post('adhoc', { from: '2026-01-01', to: '2026-01-02' });
  assert.equal(adhoc.status, 400);
  assert.match(errorOf(adhoc).message ?? '', /has no schedule/);
  assert.equal((await post('nope', { from: '2026-01-01', to: '2026-01-02' })).status, 404);
  assert.equal((await h.runs()).length, 0, 'nothing was created by any refused request');
  await h.close();
});

dialectTest('a tick the scheduler reaches after a backfill covered it is recorded as skipped, naming the backfill run', async (dialect) => {
  const h = await harness(manifest('s', { cron: '0 * * * *', concurrency: 'allow' }), '2026-01-01T00:30:00Z', dialect);
  h.clock.t = Date.parse('2026-01-01T00:40:00Z');
  await call(h, 'POST', '/api/v1/schedules/s/j/pause');
  h.clock.t = Date.parse('2026-01-01T03:10:00Z');
  const b = await call(h, 'POST', '/api/v1/schedules/s/j/backfill', { from: '2026-01-01T01:00:00Z', to: '2026-01-01T03:00:00Z' });
  assert.equal((b.json.created as unknown[]).length, 3);
  await call(h, 'POST', '/api/v1/schedules/s/j/resume');
  const ticks = await h.ticks();
  assert.deepEqual(ticks.map((t) => t.outcome), ['skipped', 'skipped', 'skipped']);
  assert.match(ticks[2]?.reason ?? '', /^run \S+ \(trigger backfill\) already exists for this tick$/);
  assert.equal((await h.runs()).length, 3, 'no second run for 03:00');
  await h.close();
});

dialectTest('every route of the API is in the OpenAPI document', async (dialect) => {
  const h = await harness(manifest('o', { cron: '0 * * * *' }), '2026-01-01T00:00:00Z', dialect);
  try {
    const app = createApi({ engine: h.engine });
    const doc = (await call(h, 'GET', '/api/v1/openapi.json')).json as { paths: Record<string, Record<string, unknown>> };
    for (const r of app.routes) {
      if (r.method === 'ALL') continue;
      // `:path{.+}` (a parameter of several segments) is `{path}` in the document.
      const path = r.path.replace(/\{\.\+\}/g, '').replace(/:(\w+)/g, '{$1}');
      assert.ok(doc.paths[path]?.[r.method.toLowerCase()], `${r.method} ${path} is documented`);
    }
  } finally {
    await h.close();
  }
});
