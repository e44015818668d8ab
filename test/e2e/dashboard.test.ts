/**
 * The dashboard in a real headless Chromium against a real `kairos up` (embedded: API, scheduler, local
 * worker, SQLite file, real processes). Set KAIROS_SCREENSHOTS=1 to refresh the screenshots in docs/img.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { ROOT, tempDir, waitFor, writeProject } from '../helpers.js';
import { chromiumMissing, openBrowser, type Browser } from '../browser.js';

const MANIFEST = `
project: dash
jobs:
  tick:
    description: Fires every second.
    run: "echo tick $KAIROS_SCHEDULED_FOR"
    schedule: {cron: "* * * * * *", catchup: none, concurrency: forbid}
  boom:
    run: "echo preparing the data; echo 'ValueError: column price is missing' >&2; exit 3"
  sleepy:
    run: "echo waiting for input; sleep 300"
    grace: 1s
  typed:
    description: Takes typed parameters.
    run: "echo n=$KAIROS_PARAM_N mode=$KAIROS_PARAM_MODE day=$KAIROS_PARAM_DAY"
    params:
      n: {type: integer, required: true, description: How many.}
      mode: {type: string, enum: [fast, slow], default: fast}
      day: {type: date, default: "2026-01-31"}
  scored:
    description: Reports a loss metric.
    run: ["sh", "-c", "echo \\"{\\\\\\"name\\\\\\": \\\\\\"loss\\\\\\", \\\\\\"value\\\\\\": $KAIROS_PARAM_LOSS}\\" >> $KAIROS_OUTPUT; echo reported $KAIROS_PARAM_LOSS"]
    params:
      loss: {type: number, required: true}
`;

const skip = chromiumMissing();
const SHOTS = process.env.KAIROS_SCREENSHOTS === '1';

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(join(ROOT, 'docs', 'img'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'docs', 'img', `${name}.png`), fullPage: false });
}

describe('the dashboard in Chromium', { skip: skip ?? false }, () => {
  const dir = tempDir();
  const data = tempDir(); // outside the project: its deployments hold the project's files only
  let up: Embedded;
  let client: KairosClient;
  let b: Browser;

  before(async () => {
    writeProject(dir.path, { 'kairos.yaml': MANIFEST });
    up = await startEmbedded({ projectDir: dir.path, dataDir: data.path, port: 0, watch: false, log: () => {} });
    client = new KairosClient(up.url);
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    await up?.stop(5000);
    dir.cleanup();
    data.cleanup();
  });

  test('a scheduled run appears in the runs list without a reload', async () => {
    const { page } = b;
    await page.goto(`${up.url}/runs?project=dash&job=tick`);
    await page.waitForSelector('body[data-ready="runs"]');
    await page.evaluate('window.marker = 42');
    const initial = await page.$$eval('tbody tr', (rows) => rows.map((r) => r.getAttribute('data-id')));
    const runs = await waitFor('a new scheduled run', async () => (await client.listRuns({ project: 'dash', job: 'tick', limit: 50 })).runs.find((r) => !initial.includes(r.id)), 60_000);
    await page.waitForSelector(`tbody tr[data-id="${runs.id}"]`, { timeout: 600_000 });
    assert.equal(await page.evaluate('window.marker'), 42, 'the page was not reloaded');
    assert.equal(await page.locator(`tbody tr[data-id="${runs.id}"] td:nth-child(4)`).textContent(), 'schedule');
    assert.doesNotMatch(await page.locator('main').innerText(), /\bnull\b|undefined/);
    await shot(page, 'runs');
    await client.pause('dash', 'tick');
  });

  test('a failing run shows its log and its reason', async () => {
    const run = await client.createRun('boom', {}, 'dash');
    await client.getRun(run.id, 120);
    const { page } = b;
    await page.goto(`${up.url}/runs/${run.id}`);
    await page.locator('pre.log', { hasText: 'ValueError: column price is missing' }).waitFor();
    assert.match((await page.locator('pre.log').textContent()) ?? '', /preparing the data/);
    assert.equal(await page.locator('pre.log span.stderr').count(), 1, 'stderr lines are marked');
    assert.equal((await page.locator('[data-field="exit_code"]').textContent())?.trim(), '3');
    assert.equal(await page.locator('[data-field="reason"]').textContent(), (await client.getRun(run.id)).reason);
    assert.match((await page.locator('[data-field="reason"]').textContent()) ?? '', /exit code 3/);
    assert.match((await page.locator('[data-field="state"]').textContent()) ?? '', /failed/);
    // Search over the loaded lines, reached with "/".
    await page.locator('h1').click();
    await page.keyboard.press('/');
    assert.equal(await page.evaluate("document.activeElement?.getAttribute('aria-label')"), 'Search the log');
    await page.keyboard.type('valueerror');
    await page.locator('pre.log mark', { hasText: 'ValueError' }).waitFor();
    assert.equal(await page.locator('pre.log > span').count(), 1, 'only the matching line is shown');
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Backspace');
    await shot(page, 'run-failed');
  });

  test('a running run is cancelled from the page, then rerun from the page', async () => {
    const run = await client.createRun('sleepy', {}, 'dash');
    const { page } = b;
    await page.goto(`${up.url}/runs/${run.id}`);
    // The live log shows the line while the run is still running.
    await page.locator('pre.log', { hasText: 'waiting for input' }).waitFor();
    await page.locator('[data-field="state"]', { hasText: 'running' }).waitFor();
    // Keyboard: focus the button and press Enter.
    await page.locator('button[data-action="cancel"]').focus();
    await page.keyboard.press('Enter');
    await page.locator('[data-field="state"]', { hasText: 'cancelled' }).waitFor({ timeout: 600_000 });
    assert.equal((await client.getRun(run.id)).state, 'cancelled');
    await page.locator('button[data-action="rerun"]').click();
    await page.waitForURL((u) => u.pathname.startsWith('/runs/') && !u.pathname.endsWith(run.id));
    const newId = page.url().split('/').pop() ?? '';
    assert.equal(await page.locator('[data-field="rerun_of"]').textContent(), run.id);
    const rerun = await client.getRun(newId);
    assert.equal(rerun.rerun_of, run.id);
    assert.equal(rerun.trigger, 'rerun');
    await client.cancelRun(newId);
  });

  test('an ad-hoc run with typed parameters starts from the generated form', async () => {
    const { page } = b;
    await page.goto(`${up.url}/jobs/dash/typed/run`);
    assert.equal(await page.locator('[data-param="n"]').getAttribute('type'), 'number');
    assert.equal(await page.locator('[data-param="day"]').getAttribute('type'), 'date');
    assert.equal(await page.locator('[data-param="mode"]').evaluate((e) => e.tagName), 'SELECT');
    // A required parameter left empty: the browser refuses to submit, nothing is created.
    const before = (await client.listRuns({ project: 'dash', job: 'typed', limit: 10 })).runs.length;
    await page.locator('main button[type="submit"]').click();
    assert.equal((await client.listRuns({ project: 'dash', job: 'typed', limit: 10 })).runs.length, before);
    assert.doesNotMatch(await page.locator('main').innerText(), /\bnull\b|undefined/);
    await page.locator('[data-param="n"]').fill('7');
    await page.locator('[data-param="mode"]').selectOption('slow');
    await shot(page, 'run-form');
    await page.locator('[data-param="day"]').focus();
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => /^\/runs\/[0-9a-z]+$/.test(u.pathname));
    await page.locator('pre.log', { hasText: 'n=7 mode=slow day=2026-01-31' }).waitFor({ timeout: 600_000 });
    const id = page.url().split('/').pop() ?? '';
    const run = await client.getRun(id);
    assert.deepEqual(run.params, { n: 7, mode: 'slow', day: '2026-01-31' });
    assert.equal(run.trigger, 'manual');
  });

  test('a parameter the server refuses shows its error on the form', async () => {
    const { page } = b;
    await page.goto(`${up.url}/jobs/dash/typed/run`);
    // The browser's own check would stop 2.5 in a number input with step 1; the server is the judge, so
    // make it a text input and let the request go.
    await page.locator('[data-param="n"]').evaluate((e) => e.setAttribute('type', 'text'));
    await page.locator('[data-param="n"]').fill('2.5');
    await page.locator('main button[type="submit"]').click();
    await page.locator('[role="alert"] .error', { hasText: /integer/ }).waitFor();
    assert.match(page.url(), /\/jobs\/dash\/typed\/run$/);
  });

  test("a job's metric is plotted with one point per real run", async () => {
    const ids: string[] = [];
    for (const loss of [0.9, 0.5, 0.25]) ids.push((await client.createRun('scored', { loss }, 'dash')).id);
    for (const id of ids) assert.equal((await client.getRun(id, 120)).state, 'succeeded');
    const { page } = b;
    await page.goto(`${up.url}/jobs/dash/scored`);
    const chart = page.locator('svg[data-metric="loss"]');
    await chart.waitFor();
    const values = await chart.locator('circle.point').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-value'))));
    assert.deepEqual(values, [0.9, 0.5, 0.25]);
    // Higher values are drawn higher (smaller y).
    const ys = await chart.locator('circle.point').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('cy'))));
    assert.ok(ys[0]! < ys[1]! && ys[1]! < ys[2]!, `points ordered by value: ${ys.join(', ')}`);
    assert.equal(await page.locator('[data-stat="success_rate"]').textContent(), '100%');
    assert.equal(await page.locator('svg.chart rect.bar.succeeded').count(), 3);
    assert.doesNotMatch(await page.locator('main').innerText(), /\bnull\b|undefined|NaN/);
    await shot(page, 'job');
  });

  test('the job page shows the schedule in words, next fire times and the tick ledger', async () => {
    const { page } = b;
    await page.goto(`${up.url}/jobs/dash/tick`);
    await page.locator('[data-field="schedule"]').waitFor();
    assert.match((await page.locator('[data-field="schedule"]').textContent()) ?? '', /second/i);
    await page.locator('table[aria-label="Tick ledger"] tbody tr').first().waitFor();
    assert.ok((await page.locator('table[aria-label="Tick ledger"] .state-fired').count()) >= 1);
    // Paused by the first test; resumed and paused again from the page, with the keyboard.
    assert.equal((await client.schedules('dash')).schedules.find((x) => x.job === 'tick')?.paused, true);
    await page.locator('button[data-action="resume"]').focus();
    await page.keyboard.press('Enter');
    await page.locator('button[data-action="pause"]').waitFor();
    assert.equal((await client.schedules('dash')).schedules.find((x) => x.job === 'tick')?.paused, false);
    await page.keyboard.press('Enter'); // focus stays on the button, now "Pause schedule"
    await page.locator('button[data-action="resume"]').waitFor();
    assert.equal((await client.schedules('dash')).schedules.find((x) => x.job === 'tick')?.paused, true);
    // The page keeps polling; the focused button keeps its focus across an update.
    await page.locator('button[data-action="resume"]').focus();
    const stamp = await page.locator('#live').textContent();
    await page.locator('#live', { hasNotText: stamp ?? '' }).waitFor({ timeout: 600_000 });
    assert.equal(await page.evaluate("document.activeElement?.getAttribute('data-action')"), 'resume');
  });

  test('the workers page shows the local worker alive and what it runs; deployments show what changed', async () => {
    const { page } = b;
    await page.goto(`${up.url}/workers`);
    await page.locator('table[aria-label="Workers"] tbody tr').first().waitFor();
    assert.match((await page.locator('table[aria-label="Workers"] tbody tr').first().textContent()) ?? '', /local@/);
    assert.equal(await page.locator('table[aria-label="Workers"] .state-true').count(), 1, 'alive');
    // A run started now shows up on the worker without a reload.
    const run = await client.createRun('sleepy', {}, 'dash');
    await page.locator(`table[aria-label="Workers"] a[href="/runs/${run.id}"]`).waitFor({ timeout: 600_000 });
    assert.match((await page.locator('tr[data-pool="default"]').textContent()) ?? '', /1 of 1/);
    await shot(page, 'workers');
    await client.cancelRun(run.id);

    writeProject(dir.path, { 'kairos.yaml': MANIFEST.replace('Fires every second.', 'Fires every second, always.') + '  extra:\n    run: "true"\n', 'report.py': 'print("report")\n' });
    const v2 = await up.redeploy();
    assert.ok(v2.ok && v2.created);
    await page.goto(`${up.url}/deployments`);
    await page.locator('tr[data-deployment]').nth(1).waitFor();
    await page.locator('button[data-diff]').first().focus();
    await page.keyboard.press('Enter');
    const diff = page.locator('tr.diff').first();
    await diff.filter({ hasText: 'v1 → v2' }).waitFor();
    const text = (await diff.textContent()) ?? '';
    assert.match(text, /\+ extra/);
    assert.match(text, /~ tick: description/);
    assert.match(text, /\+ report\.py/);
    assert.match(text, /~ kairos\.yaml/);
    await shot(page, 'deployments');
  });

  test('the runs list works with the keyboard: "/" focuses the filter, j/k move, Enter opens', async () => {
    const { page } = b;
    // Its own failed run and at least two runs in the list, whatever the tests before it did.
    const failed = await client.createRun('boom', {}, 'dash');
    assert.equal((await client.getRun(failed.id, 120)).state, 'failed');
    await waitFor('two runs to list', async () => (await client.listRuns({ project: 'dash', limit: 2 })).runs.length >= 2, 60_000);
    await page.goto(`${up.url}/runs?project=dash`);
    await page.waitForSelector('body[data-ready="runs"]');
    await page.keyboard.press('/');
    assert.equal(await page.evaluate("document.activeElement?.getAttribute('name')"), 'job');
    await page.locator('h1').click();
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    const selected = await page.locator('tbody tr.selected').getAttribute('data-id');
    const second = await page.locator('tbody tr').nth(1).getAttribute('data-id');
    assert.equal(selected, second);
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.pathname === `/runs/${second}`);
    // The state filter narrows the list (from the URL, so it can be shared).
    await page.goto(`${up.url}/runs?project=dash&state=failed`);
    await page.waitForSelector('body[data-ready="runs"]');
    const states = await page.$$eval('tbody tr', (rows) => rows.map((r) => r.getAttribute('data-state')));
    assert.ok(states.length >= 1 && states.every((s) => s === 'failed'), states.join(','));
    assert.deepEqual(b.errors, []);
  });
});

describe('the dashboard on a server with a token', { skip: skip ?? false }, () => {
  const dir = tempDir();
  let up: Embedded;
  let b: Browser;
  const TOKEN = 'dashboard-test-token-0123456789';

  before(async () => {
    writeProject(dir.path, { 'kairos.yaml': 'project: locked\njobs:\n  hello:\n    run: "echo hello"\n' });
    up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, token: TOKEN, log: () => {} });
    await new KairosClient(up.url, TOKEN).createRun('hello', {}, 'locked');
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    await up?.stop(5000);
    dir.cleanup();
  });

  test('the page asks for the token once, sends it as a header, never in a URL', async () => {
    const { page } = b;
    const urls: string[] = [];
    const authHeaders: string[] = [];
    page.on('request', (r) => {
      urls.push(r.url());
      const a = r.headers()['authorization'];
      if (a) authHeaders.push(a);
    });
    await page.goto(`${up.url}/runs`);
    await page.locator('#token-dialog[open]').waitFor();
    await page.locator('#token-input').fill(TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('body[data-ready="runs"]');
    assert.equal(await page.locator('tbody tr').count(), 1);
    // Another page in the same tab: no second prompt.
    await page.locator('nav a[href="/jobs"]').click();
    await page.locator('tr[data-job="locked/hello"]').waitFor();
    assert.equal(await page.locator('#token-dialog[open]').count(), 0);
    assert.ok(authHeaders.length > 0 && authHeaders.every((a) => a === `Bearer ${TOKEN}`));
    assert.ok(urls.every((u) => !u.includes(TOKEN)), 'the token never appears in a URL');
  });
});
