/** Many schedules due at once, decided in batches: all of them once, and one broken schedule stops no other. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schedulerPass } from '../../src/control/scheduler.js';
import { dialectTest } from '../dialects.js';
import { harness } from './harness.js';

const many = (n: number) =>
  `project: many\njobs:\n${Array.from({ length: n }, (_, i) => `  j${i}:\n    run: "true"\n    schedule: {cron: "* * * * *", concurrency: allow}\n`).join('')}`;

dialectTest('1,200 schedules due at the same minute are each decided once, over several passes if need be', async (dialect) => {
  const h = await harness(many(1200), '2026-01-01T00:00:30Z', dialect);
  h.clock.t = Date.parse('2026-01-01T00:01:00.200Z');
  let created = 0;
  for (let i = 0; i < 10; i++) {
    const pass = await schedulerPass(h.engine.ctx);
    created += pass.runsCreated;
    if (pass.nextWakeAt !== h.clock.t) break;
  }
  assert.equal(created, 1200);
  const ticks = await h.ticks();
  assert.equal(ticks.length, 1200);
  assert.ok(ticks.every((t) => t.outcome === 'fired' && t.instant === '2026-01-01T00:01:00.000Z'));
  assert.equal(await h.passAt(h.clock.t), 0, 'nothing left to decide');
  await h.close();
});

dialectTest('a schedule that cannot be decided is reported, and the others in its batch still fire', async (dialect) => {
  const h = await harness(many(5), '2026-01-01T00:00:30Z', dialect);
  // Corrupt one schedule: its job is not in its deployment's manifest.
  await h.db.kysely.updateTable('schedules').set({ job: 'ghost' }).where('job', '=', 'j2').execute();
  h.clock.t = Date.parse('2026-01-01T00:01:00.200Z');
  await assert.rejects(schedulerPass(h.engine.ctx), /has no job "ghost"/);
  const ticks = await h.ticks();
  assert.deepEqual(ticks.map((t) => t.outcome), ['fired', 'fired', 'fired', 'fired']);
  assert.equal((await h.runs()).length, 4);
  await h.close();
});
