/**
 * Alerts end to end: `kairos up` as a real process with its local worker, webhooks received by real HTTP
 * servers on loopback. A failing job's alert arrives with the run's link and reason (JSON and Slack
 * formats); a receiver that is down gets retries until it answers; a recovery and a metric threshold alert;
 * a scheduled run nobody starts gets a late alert; an internal address that is not allowed is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { KairosClient } from '../../src/api/client.js';
import type { AlertView } from '../../src/api/alerts.js';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

interface Received {
  path: string;
  body: Record<string, unknown>;
}

/** A webhook receiver on loopback: records every POST; `answer` picks each response's status. */
class Receiver {
  readonly got: Received[] = [];
  answer: (path: string) => number = () => 200;
  private server: Server | null = null;

  async start(port = 0): Promise<number> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '';
        this.got.push({ path, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
        res.writeHead(this.answer(path)).end();
      });
    });
    await new Promise<void>((r) => this.server?.listen(port, '127.0.0.1', () => r()));
    return (this.server.address() as AddressInfo).port;
  }

  on(path: string): Received[] {
    return this.got.filter((g) => g.path === path);
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }
}

async function stopProc(p: ReturnType<typeof spawnCli>): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGTERM');
    await exited(p.child);
  }
}

const PUBLIC = 'http://kairos.test:8080';

describe('alerts from kairos up', () => {
  const dir = tempDir();
  const receiver = new Receiver();
  const late = new Receiver();
  let downPort = 0;
  let hookOrigin = '';
  let up: ReturnType<typeof spawnCli>;
  let client: KairosClient;

  before(async () => {
    const hook = `http://127.0.0.1:${await receiver.start()}`;
    hookOrigin = hook;
    downPort = await freePort();
    writeProject(dir.path, {
      'kairos.yaml': `project: alerting
defaults:
  notify:
    - {on: failure, webhook: "${hook}/defaults"}
jobs:
  broken:
    run: "echo about to fail; exit 3"
    notify:
      - {on: failure, webhook: "${hook}/json"}
      - {on: failure, webhook: "${hook}/slack/T000/B000/secret-part", format: slack}
  inherits:
    run: "exit 1"
  quiet:
    run: "exit 1"
    notify: []
  flip:
    run: "test -f ${join(dir.path, 'flag')}"
    notify:
      - {on: recovery, webhook: "${hook}/recovered"}
  accuracy:
    run: "echo '{\\"name\\": \\"accuracy\\", \\"value\\": 0.42}' >> $KAIROS_OUTPUT; echo '{\\"name\\": \\"loss\\", \\"value\\": 0.1}' >> $KAIROS_OUTPUT"
    notify:
      - {on: metric, webhook: "${hook}/metric", metric: {name: accuracy, below: 0.5}}
      - {on: metric, webhook: "${hook}/loss", metric: {name: loss, above: 1}}
  downstream:
    run: "exit 2"
    notify:
      - {on: failure, webhook: "http://127.0.0.1:${downPort}/down"}
`,
    });
    const port = await freePort();
    // flip looks for a flag in the test's directory: shared with the sandbox (whose /tmp is its own).
    up = spawnCli(['up', dir.path, '--port', String(port), '--data', join(dir.path, 'data'), '--allow-webhook-hosts', '127.0.0.1', '--webhook-retry-delay', '200ms', '--public-url', PUBLIC, '--sandbox-bind', dir.path]);
    client = new KairosClient(`http://127.0.0.1:${port}`);
    await waitFor('the server', () => client.health(), 20_000);
  });

  after(async () => {
    await stopProc(up);
    await receiver.stop();
    await late.stop();
    dir.cleanup();
  });

  const runToEnd = async (job: string) => {
    const run = await client.createRun(job, {});
    return client.getRun(run.id, 120);
  };
  const alertsOf = async (runId: string) => (await client.listAlerts({ run: runId })).alerts;

  test("a failing job's webhook arrives with the run's link and reason, in JSON and in Slack's format", async () => {
    const run = await runToEnd('broken');
    assert.equal(run.state, 'failed');
    assert.equal(run.reason, 'exit code 3');
    const json = await waitFor('the JSON alert', () => receiver.on('/json').find((g) => g.body.run_id === run.id));
    assert.deepEqual(json.body, {
      event: 'failure',
      project: 'alerting',
      job: 'broken',
      run_id: run.id,
      state: 'failed',
      reason: 'exit code 3',
      reason_code: 'exit_code',
      exit_code: 3,
      attempt: 1,
      scheduled_for: run.scheduled_for,
      url: `${PUBLIC}/runs/${run.id}`,
    });
    const slack = await waitFor('the Slack alert', () => receiver.on('/slack/T000/B000/secret-part').find((g) => String(g.body.text).includes(run.id)));
    assert.equal(slack.body.text, `Kairos: alerting/broken run ${run.id} failed: exit code 3 (${PUBLIC}/runs/${run.id})`);
    assert.ok(Array.isArray(slack.body.blocks) && JSON.stringify(slack.body.blocks).includes(`<${PUBLIC}/runs/${run.id}|`), 'a block links to the run');
    // The job's own rules replace the defaults'.
    assert.equal(receiver.on('/defaults').filter((g) => g.body.run_id === run.id).length, 0);

    const records = await waitFor('both delivered', async () => {
      const a = await alertsOf(run.id);
      return a.length === 2 && a.every((x) => x.state === 'delivered') ? a : null;
    });
    for (const a of records) {
      assert.equal(a.attempts, 1);
      assert.equal(a.kind, 'failure');
      assert.equal(a.last_error, null);
      assert.equal(a.target, hookOrigin, 'the target is shown as its origin only');
      assert.ok(!JSON.stringify(a).includes('secret-part'), 'the webhook path is never returned');
    }
    assert.deepEqual(records.map((a) => a.rule).sort(), ['jobs.broken.notify[0]', 'jobs.broken.notify[1]']);

    // The CLI lists them.
    const listed = await cli(['alerts', '--job', 'broken', '--json', '--server', client.base]);
    assert.equal(listed.code, 0, listed.stderr);
    const fromCli = JSON.parse(listed.stdout) as AlertView[];
    assert.ok(fromCli.some((a) => a.run_id === run.id && a.state === 'delivered'));
    const text = await cli(['alerts', '--server', client.base]);
    assert.match(text.stdout, /KIND\s+TARGET\s+STATE/);
  });

  test('a job without its own rules gets the defaults; `notify: []` silences a job; a success alerts nobody', async () => {
    const inherits = await runToEnd('inherits');
    await waitFor('the defaults alert', () => receiver.on('/defaults').find((g) => g.body.run_id === inherits.id && g.body.job === 'inherits'));
    const quiet = await runToEnd('quiet');
    assert.equal(quiet.state, 'failed');
    assert.deepEqual(await alertsOf(quiet.id), []);
  });

  test('a receiver that is down gets retries, and the alert is delivered once it answers', async () => {
    const run = await runToEnd('downstream');
    assert.equal(run.state, 'failed');
    const refusedOnce = await waitFor('a failed attempt recorded', async () => (await alertsOf(run.id)).find((a) => a.attempts >= 1 && a.last_error !== null));
    assert.equal(refusedOnce.state, 'pending');
    assert.match(refusedOnce.last_error ?? '', /^connection refused \(http:\/\/127\.0\.0\.1:\d+, address 127\.0\.0\.1\)$/);

    // Up, but failing: two 500s, then it accepts.
    const down = new Receiver();
    let calls = 0;
    down.answer = () => (++calls <= 2 ? 500 : 204);
    await down.start(downPort);
    try {
      const delivered = await waitFor('delivery after the receiver came up', async () => (await alertsOf(run.id)).find((a) => a.state === 'delivered'), 30_000);
      assert.equal(down.got.length, 3, 'two refusals with 500, then one delivery');
      assert.ok(delivered.attempts >= 4, `attempts: ${delivered.attempts}`);
      assert.equal(delivered.last_error, null);
      assert.equal(down.got[2]?.body.run_id, run.id);
    } finally {
      await down.stop();
    }
  });

  test('a success after a failure of the same job is a recovery', async () => {
    const failed = await runToEnd('flip');
    assert.equal(failed.state, 'failed');
    writeFileSync(join(dir.path, 'flag'), '');
    const ok = await runToEnd('flip');
    assert.equal(ok.state, 'succeeded');
    const got = await waitFor('the recovery alert', () => receiver.on('/recovered').find((g) => g.body.run_id === ok.id));
    assert.equal(got.body.event, 'recovery');
    assert.equal(got.body.state, 'succeeded');
    // A second success recovers nothing.
    const again = await runToEnd('flip');
    assert.equal(again.state, 'succeeded');
    assert.deepEqual(await alertsOf(again.id), []);
    assert.equal(receiver.on('/recovered').length, 1);
  });

  test('a metric beyond its threshold alerts, one within it does not', async () => {
    const run = await runToEnd('accuracy');
    assert.equal(run.state, 'succeeded');
    const got = await waitFor('the metric alert', () => receiver.on('/metric').find((g) => g.body.run_id === run.id));
    assert.equal(got.body.event, 'metric');
    assert.equal(got.body.state, 'succeeded', 'the alert shows how the run ended');
    assert.equal(got.body.url, `${PUBLIC}/runs/${run.id}`);
    assert.deepEqual(got.body.metric, { name: 'accuracy', value: 0.42, above: null, below: 0.5 });
    assert.deepEqual((await alertsOf(run.id)).map((a) => a.kind), ['metric']);
    assert.equal(receiver.on('/loss').length, 0);
  });

  test('bad filters are refused with a stable code', async () => {
    const r = await cli(['alerts', '--state', 'lost', '--server', client.base]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown alert state "lost"; states: pending, delivered, failed/);
    const res = await fetch(`${client.base}/api/v1/alerts?state=lost`);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_input');
  });

  test('a scheduled run that nobody starts in time gets a late alert; a loopback webhook that is not allowed is refused at deploy', async () => {
    const hook = `http://127.0.0.1:${await late.start()}`;
    const lateDir = join(dir.path, 'late');
    writeProject(lateDir, {
      'kairos.yaml': `project: lateness
pools:
  gpu: {}
jobs:
  nightly:
    run: "echo never runs"
    pool: gpu
    schedule: "* * * * * *"
    notify:
      - {on: late, webhook: "${hook}/late", late: {start: 2s}}
      - {on: late, webhook: "http://127.0.0.2:9/refused", late: {start: 2s}}
`,
    });
    const port = await freePort();
    // A webhook the server would refuse to call is refused when the version is deployed, naming its rule.
    const refusedUp = await cli(['up', lateDir, '--port', String(port), '--data', join(lateDir, 'data'), '--concurrency', '0', '--allow-webhook-hosts', '127.0.0.1'], { timeoutMs: 60_000 });
    assert.equal(refusedUp.code, 2, refusedUp.stderr);
    assert.match(refusedUp.stderr, /jobs\.nightly\.notify\[1\]: the webhook http:\/\/127\.0\.0\.2:9 would be refused: 127\.0\.0\.2, a loopback address; a server allows internal webhook hosts with --allow-webhook-hosts/);
    writeFileSync(join(lateDir, 'kairos.yaml'), readFileSync(join(lateDir, 'kairos.yaml'), 'utf8').replace(/^.*127\.0\.0\.2.*\n/m, ''));
    // No local worker: nothing ever starts the run.
    const cp = spawnCli(['up', lateDir, '--port', String(port), '--data', join(lateDir, 'data'), '--concurrency', '0', '--allow-webhook-hosts', '127.0.0.1']);
    const c = new KairosClient(`http://127.0.0.1:${port}`);
    try {
      await waitFor('the server', () => c.health(), 20_000);
      const got = await waitFor('the late alert', () => late.on('/late')[0], 20_000);
      const run = await c.getRun(String(got.body.run_id));
      assert.equal(run.state, 'queued');
      assert.equal(run.trigger, 'schedule');
      assert.equal(got.body.event, 'late_start');
      assert.equal(got.body.url, `http://127.0.0.1:${port}/runs/${run.id}`, 'without --public-url, links use the listen address');
      assert.equal(Date.parse(String(got.body.deadline)), Date.parse(run.scheduled_for ?? '') + 2000);
      assert.match(String(got.body.reason), /^not started \d+s after its tick \(jobs\.nightly\.notify\[0\]\)$/);


      // One late alert per run and rule (test/scheduler/late-alerts.test.ts repeats the check many times).
      const all = (await c.listAlerts({ run: run.id })).alerts;
      assert.deepEqual(all.map((a) => a.kind), ['late_start']);
      assert.equal(late.on('/late').filter((g) => g.body.run_id === run.id).length, 1);
    } finally {
      await stopProc(cp);
    }
  });
});
