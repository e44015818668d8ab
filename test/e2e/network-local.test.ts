/**
 * The network preflight on one machine (`kairos up`, the in-process worker): `warn` runs anyway and says so,
 * `fail` fails with `network_unreachable` before the process starts, the run page shows the checks, and the
 * doctor's probe reaches the in-process worker. (Across hosts: netns-network.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { API } from '../../src/api/contract/index.js';
import { freePort, tempDir, writeProject } from '../helpers.js';
import { chromiumMissing, openBrowser } from '../browser.js';

describe('network needs on one machine', () => {
  const dir = tempDir();
  const data = tempDir();
  let up: Embedded;
  let client: KairosClient;
  let listener: Server;
  let open = 0;
  let closed = 0;

  before(async () => {
    listener = createServer((s) => s.end());
    open = await freePort();
    closed = await freePort();
    await new Promise<void>((r) => listener.listen(open, '127.0.0.1', r));
    writeProject(dir.path, {
      'kairos.yaml': `project: local
jobs:
  warned:
    run: "echo ran anyway"
    network:
      needs: ["tcp://127.0.0.1:${closed}"]
      on_failure: warn
  failing:
    run: "echo should not run"
    network:
      needs: ["tcp://127.0.0.1:${open}", "redis://127.0.0.1:${closed}"]
`,
    });
    up = await startEmbedded({ projectDir: dir.path, dataDir: data.path, port: 0, watch: false, log: () => {} });
    client = new KairosClient(up.url);
  });

  after(async () => {
    await up?.stop(5000);
    listener?.close();
    dir.cleanup();
    data.cleanup();
  });

  test('warn runs the job and logs the failing endpoint', async () => {
    const run = await client.createRun('warned', {});
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'succeeded');
    const lines = (await client.logs(run.id)).lines.map((l) => l.line);
    assert.ok(lines.some((l) => l.includes(`tcp://127.0.0.1:${closed}: connection refused`)), lines.join('\n'));
    assert.ok(lines.includes('[kairos] network.on_failure is warn: running anyway'));
    assert.ok(lines.includes('ran anyway'));
    assert.equal(done.network?.[0]?.result, 'refused');
  });

  test('fail ends the attempt before the process starts; the run page shows the checks', async (t) => {
    const run = await client.createRun('failing', {});
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'failed');
    assert.equal(done.reason_code, 'network_unreachable');
    assert.equal(done.reason, `network preflight: redis://127.0.0.1:${closed} connection refused`);
    assert.deepEqual(done.network?.map((c) => c.result), ['ok', 'refused']);
    assert.ok(!(await client.logs(run.id)).lines.some((l) => l.line === 'should not run'));
    const [attempt] = (await client.attempts(run.id)).attempts;
    assert.equal(attempt?.started_at, null, 'no process was started');

    const why = chromiumMissing();
    if (why) {
      if (process.env.CI) throw new Error(why);
      t.diagnostic(`run page not checked: ${why}`);
      return;
    }
    const b = await openBrowser();
    try {
      await b.page.goto(`${up.url}/runs/${run.id}`);
      const row = b.page.locator(`table[aria-label="Network preflight"] tr[data-endpoint="redis://127.0.0.1:${closed}"]`);
      await row.waitFor().catch(async (err: unknown) => {
        // What the page showed instead, so a failure says why the table never came.
        const shown = await b.page.locator('body').innerText({ timeout: 5_000 }).catch((e: unknown) => `(unreadable: ${String(e)})`);
        throw new Error(`${err instanceof Error ? err.message : String(err)}\nthe page showed:\n${shown.slice(0, 2000)}`);
      });
      assert.match((await row.textContent()) ?? '', /refused.*ms.*ECONNREFUSED/);
      assert.match((await b.page.locator('[data-field="reason_code"]').textContent()) ?? '', /network_unreachable/);
    } finally {
      await b.close();
    }
  });

  test('the doctor probes the in-process worker and finds the refused endpoint', async () => {
    const d = await client.call(API.network.doctor, { query: {}, timeoutMs: 120_000 });
    assert.equal(d.ok, false);
    const worker = d.workers[0];
    assert.equal(worker?.answered, true);
    const cells = new Map(d.network.matrix.map((c) => [c.endpoint, c.result]));
    assert.equal(cells.get(`tcp://127.0.0.1:${open}`), 'ok');
    assert.equal(cells.get(`redis://127.0.0.1:${closed}`), 'refused');
    assert.equal(cells.get(`tcp://127.0.0.1:${closed}`), 'refused');
    assert.deepEqual(d.network.endpoints.find((e) => e.endpoint === `tcp://127.0.0.1:${closed}`)?.jobs, ['local/warned']);
  });
});
