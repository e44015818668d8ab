/**
 * The late check and the delivery claim on a real SQLite file with an injected clock: a late run gets one
 * alert per rule and kind however many checks (or replicas, which share nothing in memory) find it late,
 * and an alert claimed by two delivery passes at once is POSTed once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkLate } from '../../src/control/alerts.js';
import { deliverDue, deliverySettings } from '../../src/control/webhooks.js';
import { harness } from './harness.js';

const lateManifest = (hook: string) => `project: late
jobs:
  j:
    run: "true"
    schedule: "0 * * * *"
    notify:
      - {on: late, webhook: "${hook}", late: {start: 5m, finish: 30m}}
`;

test('a run late to start, then late to finish, gets one alert of each kind, whatever the number of checks', async () => {
  const h = await harness(lateManifest('https://hooks.example.com/x'), '2026-01-01T00:59:00Z');
  try {
    assert.equal(await h.passAt('2026-01-01T01:00:00Z'), 1);
    const kinds = async () => (await h.db.kysely.selectFrom('alerts').select(['kind', 'payload_json']).orderBy('kind').execute()).map((a) => a.kind);
    h.clock.t = Date.parse('2026-01-01T01:04:59Z');
    assert.equal(await checkLate(h.engine.ctx, new Set()), 0, 'not late yet');
    h.clock.t = Date.parse('2026-01-01T01:05:00Z');
    assert.equal(await checkLate(h.engine.ctx, new Set()), 1);
    // Another replica (its own memory) finds the same run late: the unique key keeps one alert.
    await checkLate(h.engine.ctx, new Set());
    assert.deepEqual(await kinds(), ['late_start']);
    h.clock.t = Date.parse('2026-01-01T01:30:00Z');
    await checkLate(h.engine.ctx, new Set());
    await checkLate(h.engine.ctx, new Set());
    assert.deepEqual(await kinds(), ['late_finish', 'late_start']);
    const row = await h.db.kysely.selectFrom('alerts').selectAll().where('kind', '=', 'late_start').executeTakeFirstOrThrow();
    assert.equal(row.rule, 'jobs.j.notify[0]');
    assert.equal(row.state, 'pending');
    assert.equal(JSON.parse(row.payload_json).deadline, '2026-01-01T01:05:00.000Z');
  } finally {
    await h.close();
  }
});

test('two delivery passes at once POST each alert once', async () => {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const h = await harness(lateManifest(hook), '2026-01-01T00:59:00Z');
  try {
    await h.passAt('2026-01-01T01:00:00Z');
    h.clock.t = Date.parse('2026-01-01T01:30:00Z');
    assert.equal(await checkLate(h.engine.ctx, new Set()), 2);
    const s = deliverySettings({ allowHosts: ['127.0.0.1'] }, 'http://kairos.test');
    const [a, b] = await Promise.all([deliverDue(h.engine.ctx, s), deliverDue(h.engine.ctx, s)]);
    assert.equal((a ?? 0) + (b ?? 0), 2, 'each alert claimed by one pass');
    assert.equal(hits, 2);
    const rows = await h.db.kysely.selectFrom('alerts').select(['state', 'attempts']).execute();
    assert.deepEqual(rows, [{ state: 'delivered', attempts: 1 }, { state: 'delivered', attempts: 1 }]);
    assert.equal(await deliverDue(h.engine.ctx, s), 0, 'nothing left to deliver');
  } finally {
    await h.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
