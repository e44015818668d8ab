/**
 * Alerts, the pure rules (which runs alert, backoff, which addresses are internal) and the guard in front of
 * a real POST: a webhook on an internal address is refused before any connection is made.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NotifyRule } from '../../src/model/job.js';
import { alertText, alertsOnRunEnd, classifyAddress, lateAlerts, metricCrossings, nextDelivery, parseAllowList, refusal } from '../../src/model/alerts.js';
import { pipelineRunLink, postWebhook, runLink } from '../../src/control/webhooks.js';

const base = { webhook: 'https://hooks.example.com/x', format: 'json' as const };
const failure: NotifyRule = { ...base, id: 'r0', on: 'failure' };
const recovery: NotifyRule = { ...base, id: 'r1', on: 'recovery' };
const late: NotifyRule = { ...base, id: 'r2', on: 'late', startMs: 10_000, finishMs: 60_000 };
const metric: NotifyRule = { ...base, id: 'r3', on: 'metric', metric: 'accuracy', above: null, below: 0.9 };

describe('which runs alert', () => {
  test('failed and timed-out runs alert on failure; cancelled and succeeded runs do not', () => {
    assert.deepEqual(alertsOnRunEnd([failure], 'failed', null).map((a) => a.kind), ['failure']);
    assert.deepEqual(alertsOnRunEnd([failure], 'timed_out', null).map((a) => a.kind), ['failure']);
    assert.deepEqual(alertsOnRunEnd([failure], 'cancelled', 'failed'), []);
    assert.deepEqual(alertsOnRunEnd([failure], 'succeeded', 'failed'), []);
  });

  test('a recovery is a success right after a failed or timed-out run of the job', () => {
    assert.deepEqual(alertsOnRunEnd([recovery], 'succeeded', 'failed').map((a) => a.kind), ['recovery']);
    assert.deepEqual(alertsOnRunEnd([recovery], 'succeeded', 'timed_out').map((a) => a.kind), ['recovery']);
    assert.deepEqual(alertsOnRunEnd([recovery], 'succeeded', 'succeeded'), []);
    assert.deepEqual(alertsOnRunEnd([recovery], 'succeeded', null), []);
  });

  test('late: start only while not started, finish while not ended, each at its deadline after the tick', () => {
    const tick = 1_000_000;
    assert.deepEqual(lateAlerts([late], { scheduledFor: tick, started: false }, tick + 9_999), []);
    assert.deepEqual(lateAlerts([late], { scheduledFor: tick, started: false }, tick + 10_000).map((a) => a.kind), ['late_start']);
    assert.deepEqual(lateAlerts([late], { scheduledFor: tick, started: true }, tick + 30_000), []);
    assert.deepEqual(lateAlerts([late], { scheduledFor: tick, started: true }, tick + 60_000).map((a) => a.kind), ['late_finish']);
  });

  test('a metric alerts at the first value beyond its threshold', () => {
    assert.deepEqual(metricCrossings([metric], [{ name: 'accuracy', value: 0.95 }, { name: 'loss', value: 0.1 }]), []);
    const hit = metricCrossings([metric], [{ name: 'accuracy', value: 0.95 }, { name: 'accuracy', value: 0.8 }, { name: 'accuracy', value: 0.7 }]);
    assert.equal(hit.length, 1);
    assert.equal(hit[0]?.value, 0.8);
  });
});

describe('delivery backoff', () => {
  const policy = { baseDelayMs: 1000, maxDelayMs: 8000, maxAttempts: 6 };
  test('doubles from the base, within ±20% jitter, up to the cap, then gives up', () => {
    assert.deepEqual(nextDelivery(policy, 1, 0.5), { kind: 'retry', delayMs: 1000 });
    assert.deepEqual(nextDelivery(policy, 2, 0.5), { kind: 'retry', delayMs: 2000 });
    assert.deepEqual(nextDelivery(policy, 3, 0), { kind: 'retry', delayMs: 3200 });
    assert.deepEqual(nextDelivery(policy, 3, 0.999999), { kind: 'retry', delayMs: 4800 });
    assert.deepEqual(nextDelivery(policy, 5, 0.5), { kind: 'retry', delayMs: 8000 });
    assert.deepEqual(nextDelivery(policy, 6, 0.5), { kind: 'fail' });
  });
});

describe('internal addresses', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['172.32.0.1', 'public'],
    ['8.8.8.8', 'public'],
    ['2001:4860:4860::8888', 'public'],
  ];
  for (const [ip, cls] of cases) test(`${ip} is ${cls}`, () => assert.equal(classifyAddress(ip), cls));

  test('the allow-list names hosts as written in URLs, addresses, or * for all', () => {
    assert.equal(refusal('8.8.8.8', '8.8.8.8', []), null);
    assert.match(refusal('hooks.internal', '10.0.0.5', []) ?? '', /^refused: hooks\.internal resolves to 10\.0\.0\.5, a private address; /);
    assert.equal(refusal('hooks.internal', '10.0.0.5', parseAllowList('127.0.0.1, Hooks.Internal')), null);
    assert.equal(refusal('127.0.0.1', '127.0.0.1', parseAllowList('127.0.0.1')), null);
    assert.equal(refusal('::1', '::1', parseAllowList('[::1]')), null);
    assert.notEqual(refusal('127.0.0.2', '127.0.0.2', parseAllowList('127.0.0.1')), null);
    assert.equal(refusal('169.254.169.254', '169.254.169.254', parseAllowList('*')), null);
  });
});

describe('the guard in front of a POST', () => {
  test('a loopback receiver is never contacted unless allowed, by address or by a name that resolves to it', async () => {
    let hits = 0;
    const server = createServer((req, res) => {
      hits++;
      req.resume();
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    try {
      const byAddress = await postWebhook(`http://127.0.0.1:${port}/hook`, { x: 1 }, [], 2000);
      assert.deepEqual(byAddress, {
        kind: 'refused',
        message: 'refused: 127.0.0.1, a loopback address; a server allows internal webhook hosts with --allow-webhook-hosts (KAIROS_ALLOW_WEBHOOK_HOSTS)',
      });
      const byName = await postWebhook(`http://localhost:${port}/hook`, { x: 1 }, [], 2000);
      assert.equal(byName.kind, 'refused');
      assert.match(byName.kind === 'refused' ? byName.message : '', /^refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
      assert.equal(hits, 0, 'nothing reached the receiver');
      assert.deepEqual(await postWebhook(`http://127.0.0.1:${port}/hook`, { x: 1 }, ['127.0.0.1'], 2000), { kind: 'delivered' });
      assert.equal(hits, 1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('a receiver that does not answer in time is an error (retried), not a hang', async () => {
    const server = createServer(() => {
      // never answers
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    try {
      const o = await postWebhook(`http://127.0.0.1:${port}/slow`, {}, ['127.0.0.1'], 300);
      assert.deepEqual(o, { kind: 'error', message: `no answer from http://127.0.0.1:${port} within 300 ms` });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('what an alert says', () => {
  test("a pipeline run's alert names the pipeline run and links to its page; a run's links to the run", () => {
    const base = { event: 'failure' as const, project: 'p', job: 'nightly', run_id: 'abc', state: 'failed', reason: 'step gate failed', exit_code: null, attempt: 1, scheduled_for: null };
    assert.equal(alertText({ ...base, pipeline: 'nightly', url: pipelineRunLink('http://k:7070/', 'abc') }), 'Kairos: p/nightly pipeline run abc failed: step gate failed');
    assert.equal(pipelineRunLink('http://k:7070/', 'abc'), 'http://k:7070/pipeline-runs/abc');
    assert.equal(alertText({ ...base, url: runLink('http://k:7070', 'abc') }), 'Kairos: p/nightly run abc failed: step gate failed');
    assert.equal(runLink('http://k:7070', 'abc'), 'http://k:7070/runs/abc');
  });
});
