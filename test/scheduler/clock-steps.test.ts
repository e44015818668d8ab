/**
 * The wall clock stepping backwards (NTP correction, a VM restored from a snapshot) and forwards, with an
 * injected clock: no tick is decided twice, and ticks jumped over are missed ticks for the catch-up policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialectTest } from '../dialects.js';
import { harness, manifest } from './harness.js';

dialectTest('a backwards clock step during the fall-back night creates no second run and no second ledger entry', async (dialect) => {
  const h = await harness(manifest('back', { cron: '*/30 * * * *', timezone: 'America/New_York', concurrency: 'allow' }), '2026-11-01T03:00:10Z', dialect);
  await h.walk('2026-11-01T06:40:10Z', 60_000);
  const before = await h.runs();
  assert.equal(before.length, 7, '03:30 … 06:30');
  // The clock steps back one hour, to 01:40 EDT (it was 01:40 EST), and the scheduler keeps passing.
  h.clock.t = Date.parse('2026-11-01T05:40:10Z');
  let createdWhileRelived = 0;
  while (h.clock.t < Date.parse('2026-11-01T06:40:10Z')) createdWhileRelived += await h.passAt(h.clock.t + 60_000);
  assert.equal(createdWhileRelived, 0, 'the ticks at 06:00Z and 06:30Z were decided already');
  await h.walk('2026-11-01T07:10:10Z', 60_000);
  const runs = await h.runs();
  assert.deepEqual(runs.map((r) => r.scheduled_for.slice(11, 16)), ['03:30', '04:00', '04:30', '05:00', '05:30', '06:00', '06:30', '07:00']);
  const ticks = await h.ticks();
  assert.equal(new Set(ticks.map((t) => t.instant)).size, ticks.length);
  assert.deepEqual(ticks.map((t) => t.run_id), runs.map((r) => r.id), 'one ledger entry per tick, naming its run');
  await h.close();
});

dialectTest('a forward clock jump: the ticks jumped over follow the catch-up policy (latest: one late run)', async (dialect) => {
  const h = await harness(manifest('fwd', { cron: '*/30 * * * *', timezone: 'America/New_York', concurrency: 'allow' }), '2026-11-01T07:00:10Z', dialect);
  await h.walk('2026-11-01T07:10:10Z', 60_000);
  assert.equal(await h.passAt('2026-11-01T09:10:10Z'), 1);
  assert.deepEqual(
    (await h.ticks()).map((t) => [t.instant.slice(11, 16), t.outcome]),
    [['07:30', 'skipped'], ['08:00', 'skipped'], ['08:30', 'skipped'], ['09:00', 'late']],
  );
  await h.close();
});

dialectTest('a pass repeated at the same instant, and a restart, create nothing new', async (dialect) => {
  let h = await harness(manifest('same', { cron: '* * * * * *', concurrency: 'allow' }), '2026-01-01T00:00:00Z', dialect);
  assert.equal(await h.passAt('2026-01-01T00:00:03.500Z'), 1, 'catchup latest: one run for the latest of three seconds');
  assert.equal(await h.passAt('2026-01-01T00:00:03.500Z'), 0);
  h = await h.restart();
  assert.equal(await h.passAt('2026-01-01T00:00:03.900Z'), 0);
  assert.equal(await h.passAt('2026-01-01T00:00:04.100Z'), 1);
  assert.equal((await h.ticks()).length, 4);
  await h.close();
});
