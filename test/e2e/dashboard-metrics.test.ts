/**
 * "How is the model doing over time": a job's metric plotted against logical time, in a real headless Chromium
 * against a real `kairos up`, with real backfilled, scheduled and manual runs. Backfilled runs are created last
 * but plot at their (old) ticks; series split by trigger or parameter; the notify threshold is a line; the
 * range picker changes the points. Set KAIROS_SCREENSHOTS=1 to refresh docs/img/job-metrics.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator } from 'playwright-core';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { ROOT, tempDir, waitFor, writeProject } from '../helpers.js';
import { chromiumMissing, openBrowser, type Browser } from '../browser.js';

const MANIFEST = `
project: charts
jobs:
  train:
    description: Reports its accuracy.
    run: ["sh", "-c", "echo \\"{\\\\\\"name\\\\\\": \\\\\\"accuracy\\\\\\", \\\\\\"value\\\\\\": $KAIROS_PARAM_ACC}\\" >> $KAIROS_OUTPUT"]
    schedule: {cron: "* * * * * *", catchup: none, concurrency: forbid}
    params:
      acc: {type: number, default: 0.95}
      model: {type: string, enum: [small, large], default: small}
    notify:
      - {on: metric, webhook: "https://alerts.example.com/kairos", metric: {name: accuracy, below: 0.5}}
`;

const DAY = 24 * 3600 * 1000;
const skip = chromiumMissing();

/** Noon UTC, `days` ago: on the same calendar date in any zone within ±11 h, so a date input can name it. */
function daysAgoNoon(days: number): Date {
  const d = new Date(Date.now() - days * DAY);
  d.setUTCHours(12, 0, 0, 0);
  return d;
}

async function numbers(loc: Locator, attr: string): Promise<number[]> {
  return loc.evaluateAll((els, a) => els.map((e) => Number(e.getAttribute(a))), attr);
}

describe('metrics over logical time in Chromium', { skip: skip ?? false }, () => {
  const dir = tempDir();
  const data = tempDir();
  let up: Embedded;
  let client: KairosClient;
  let b: Browser;
  const backfillAt = [60, 20, 3].map(daysAgoNoon);
  let scheduled = 0;
  let total = 0;

  before(async () => {
    writeProject(dir.path, { 'kairos.yaml': MANIFEST });
    up = await startEmbedded({ projectDir: dir.path, dataDir: data.path, port: 0, watch: false, log: () => {} });
    client = new KairosClient(up.url);
    // Two scheduled runs, then the schedule is paused; then manual runs with other parameters; then backfills
    // of old ticks, created last of all.
    await waitFor('two scheduled runs', async () => (await client.listRuns({ project: 'charts', job: 'train', limit: 50 })).runs.filter((r) => r.trigger === 'schedule').length >= 2, 30_000);
    await client.pause('charts', 'train');
    const all = async () => (await client.listRuns({ project: 'charts', job: 'train', limit: 200 })).runs;
    await waitFor('the scheduled runs to end', async () => (await all()).every((r) => ['succeeded', 'failed'].includes(r.state)), 60_000);
    scheduled = (await all()).filter((r) => r.trigger === 'schedule').length;
    for (const acc of [0.7, 0.75]) await client.createRun('train', { acc, model: 'large' }, 'charts');
    for (const at of backfillAt) {
      const res = await client.backfill('charts', 'train', at.toISOString(), new Date(at.getTime() + 1000).toISOString());
      assert.equal(res.created.length, 2);
    }
    total = scheduled + 2 + 6;
    await waitFor('every run to succeed', async () => {
      const runs = await all();
      return runs.length === total && runs.every((r) => r.state === 'succeeded');
    }, 120_000);
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    await up?.stop(5000);
    dir.cleanup();
    data.cleanup();
  });

  test('the API gives each point its logical time, trigger and parameters, and the notify thresholds', async () => {
    const get = async (q: string) => {
      const res = await fetch(`${up.url}/api/v1/jobs/charts/train/metrics${q}`);
      return { status: res.status, json: (await res.json()) as any };
    };
    const { json } = await get('');
    const pts = json.series[0].points as { scheduled_for: string; created_at: string; trigger: string; params: Record<string, unknown>; value: number }[];
    assert.equal(pts.length, total);
    const times = pts.map((p) => Date.parse(p.scheduled_for));
    assert.deepEqual(times, [...times].sort((a, c) => a - c), 'oldest logical time first');
    assert.deepEqual(pts.slice(0, 6).map((p) => p.trigger), Array(6).fill('backfill'), 'backfilled ticks come first, though created last');
    assert.equal(pts[0]!.scheduled_for, backfillAt[0]!.toISOString());
    assert.ok(Date.parse(pts[0]!.created_at) > Date.parse(pts[pts.length - 1]!.scheduled_for) - 60_000);
    assert.deepEqual(pts.filter((p) => p.trigger === 'manual').map((p) => [p.params, p.value]), [[{ acc: 0.7, model: 'large' }, 0.7], [{ acc: 0.75, model: 'large' }, 0.75]]);
    assert.deepEqual(json.thresholds, [{ metric: 'accuracy', rule: 'jobs.train.notify[0]', above: null, below: 0.5 }]);
    assert.deepEqual(json.window, { from: null, to: null, limit: 100, runs: total, truncated: false });
    // A logical-time range, a trigger filter, a window.
    const from = new Date(backfillAt[1]!.getTime() - DAY).toISOString();
    const to = new Date(backfillAt[2]!.getTime() + DAY).toISOString();
    assert.equal((await get(`?from=${from}&to=${to}`)).json.series[0].points.length, 4);
    assert.deepEqual([...new Set((await get('?trigger=manual,schedule')).json.series[0].points.map((p: { trigger: string }) => p.trigger))].sort(), ['manual', 'schedule']);
    const two = (await get('?runs=2')).json;
    assert.equal(two.series[0].points.length, 2);
    assert.equal(two.window.truncated, true);
    assert.equal(two.series[0].points[1].trigger, pts[pts.length - 1]!.trigger, 'the newest by logical time');
    for (const bad of ['?from=yesterday', '?to=2026-13-01', '?trigger=cron', `?from=${to}&to=${from}`]) {
      const r = await get(bad);
      assert.equal(r.status, 400, bad);
      assert.equal(r.json.error.code, 'invalid_input', bad);
    }
  });

  test('the chart has a dated time axis, one series per trigger, the threshold line, and a range picker', async () => {
    const { page } = b;
    await page.goto(`${up.url}/jobs/charts/train`);
    const chart = page.locator('svg[data-metric="accuracy"]');
    await chart.waitFor();
    const points = chart.locator('circle.point');
    assert.equal(await points.count(), total);
    // Series by trigger, in the legend too.
    assert.equal(await chart.locator('circle.point[data-series="backfill"]').count(), 6);
    assert.equal(await chart.locator('circle.point[data-series="schedule"]').count(), scheduled);
    assert.equal(await chart.locator('circle.point[data-series="manual"]').count(), 2);
    assert.equal(await chart.locator('polyline.line').count(), 3);
    assert.match((await page.locator('ul.legend li[data-series="backfill"]').textContent()) ?? '', /backfill \(6\)/);
    // A time axis: dated ticks, in order, and points placed by logical time (backfills left of today's runs).
    const ticks = await chart.locator('text.xtick').allTextContents();
    assert.ok(ticks.length >= 3, ticks.join(' | '));
    assert.ok(ticks.some((t) => /^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b/.test(t)), `ticks name dates: ${ticks.join(' | ')}`);
    const tickTimes = (await chart.locator('text.xtick').evaluateAll((els) => els.map((e) => Date.parse(e.getAttribute('data-t') ?? '')))) as number[];
    assert.deepEqual(tickTimes, [...tickTimes].sort((a, c) => a - c));
    const bx = await numbers(chart.locator('circle.point[data-series="backfill"]'), 'cx');
    const sx = await numbers(chart.locator('circle.point[data-series="schedule"]'), 'cx');
    assert.ok(Math.max(...bx) < Math.min(...sx), `backfills (${bx}) plot before the scheduled runs (${sx})`);
    assert.ok(bx[0]! < bx[2]! && bx[2]! < bx[4]!, `backfills by their ticks: ${bx}`);
    // The threshold from notify: a horizontal line below every point (0.5 < 0.7).
    const th = chart.locator('line.threshold[data-kind="below"]');
    assert.equal(await th.getAttribute('data-threshold'), '0.5');
    assert.equal(await th.getAttribute('y1'), await th.getAttribute('y2'));
    const ys = await numbers(points, 'cy');
    const thY = Number(await th.getAttribute('y1'));
    assert.ok(ys.every((y) => y < thY), `the threshold (y ${thY}) is drawn below the points (${ys})`);
    assert.match(await chart.textContent() ?? '', /below 0\.5/);
    await shot('job-metrics');

    // The range picker: 7 days leaves out the backfills of 60 and 20 days ago; 30 days brings back one.
    await page.locator('button[data-range="7d"]').click();
    await waitFor('7 days of points', async () => (await chart.locator('circle.point').count()) === total - 4 || undefined);
    assert.equal(await page.locator('button[data-range="7d"]').getAttribute('aria-pressed'), 'true');
    assert.match(page.url(), /range=7d/);
    await page.locator('button[data-range="30d"]').click();
    await waitFor('30 days of points', async () => (await page.locator('svg[data-metric="accuracy"] circle.point').count()) === total - 2 || undefined);
    // From–to dates: only the backfill of 20 days ago.
    const day = (d: Date) => d.toISOString().slice(0, 10);
    await page.locator('[data-control="from"]').fill(day(new Date(backfillAt[1]!.getTime() - DAY)));
    await page.locator('[data-control="to"]').fill(day(new Date(backfillAt[1]!.getTime() + DAY)));
    await waitFor('a from–to range', async () => (await page.locator('svg[data-metric="accuracy"] circle.point').count()) === 2 || undefined);
    assert.match(page.url(), /range=custom/);
    const labels = await page.locator('svg[data-metric="accuracy"] text.xtick').allTextContents();
    assert.ok(labels.length >= 2, labels.join(' | '));
    // Reload keeps the choice (it is in the URL).
    await page.reload();
    await page.locator('svg[data-metric="accuracy"]').waitFor();
    assert.equal(await page.locator('svg[data-metric="accuracy"] circle.point').count(), 2);
    await page.locator('button[data-range="all"]').click();
    await waitFor('all points again', async () => (await page.locator('svg[data-metric="accuracy"] circle.point').count()) === total || undefined);
    assert.doesNotMatch(await page.locator('main').innerText(), /\bnull\b|undefined|NaN|Invalid Date/);
    assert.deepEqual(b.errors, []);
  });

  test('series split by a parameter, filtered by parameter value and by trigger', async () => {
    const { page } = b;
    await page.goto(`${up.url}/jobs/charts/train`);
    const chart = page.locator('svg[data-metric="accuracy"]');
    await chart.waitFor();
    await page.locator('[data-control="split"]').selectOption('param:model');
    await chart.locator('circle.point[data-series="model=\\"large\\""]').first().waitFor();
    assert.equal(await chart.locator('circle.point[data-series="model=\\"large\\""]').count(), 2);
    assert.equal(await chart.locator('circle.point[data-series="model=\\"small\\""]').count(), total - 2);
    // Only the large model's runs.
    await page.locator('[data-param-filter="model"]').selectOption('"large"');
    await waitFor('the large model only', async () => (await page.locator('svg[data-metric="accuracy"] circle.point').count()) === 2 || undefined);
    assert.match(page.url(), /p\.model=/);
    await page.locator('[data-param-filter="model"]').selectOption('');
    // Without backfills: the filter asks the server for the other triggers only.
    await page.locator('[data-control="split"]').selectOption('trigger');
    await page.locator('[data-trigger-filter="backfill"]').uncheck();
    await waitFor('no backfills', async () => (await page.locator('svg[data-metric="accuracy"] circle.point').count()) === total - 6 || undefined);
    assert.equal(await page.locator('svg[data-metric="accuracy"] circle.point[data-trigger="backfill"]').count(), 0);
    assert.deepEqual(b.errors, []);
  });

  async function shot(name: string): Promise<void> {
    if (process.env.KAIROS_SCREENSHOTS !== '1') return;
    mkdirSync(join(ROOT, 'docs', 'img'), { recursive: true });
    await b.page.locator('section[aria-labelledby="met-h"]').screenshot({ path: join(ROOT, 'docs', 'img', `${name}.png`) });
  }
});
