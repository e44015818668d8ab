/**
 * The dashboard's pipeline graph in a real headless Chromium against a real `kairos up`: steps coloured by
 * state, updating live without a reload, each linking to its run, a fan-out collapsed to counts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { tempDir, writeProject } from '../helpers.js';
import { chromiumMissing, openBrowser } from '../browser.js';

const skip = chromiumMissing();

test('a pipeline run as a graph: states update live, steps link to their runs, a fan-out shows counts', { skip: skip ?? false }, async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const gate = join(dir.path, 'gate');
  writeProject(dir.path, {
    'kairos.yaml': `
project: ui
jobs:
  wait:
    run: while [ ! -f ${gate} ]; do sleep 0.1; done
  item:
    run: echo "$KAIROS_PARAM_X"
    params:
      x: {type: string, required: true}
pipelines:
  graph:
    params:
      xs: {type: list, default: [a, b, c]}
    steps:
      first: wait
      fan: {job: item, needs: [first], map: xs, params: {x: "\${{ item }}"}}
      last: {job: wait, needs: [fan]}
`,
  });
  const up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {}, sandbox: { mode: 'none' } });
  t.after(() => up.stop(2000));
  const client = new KairosClient(up.url);
  const pr = await client.startPipeline('ui', 'graph', {});
  const b = await openBrowser();
  t.after(() => b.close());
  const page = b.page;
  await page.goto(`${up.url}/pipeline-runs/${pr.id}`);
  await page.locator('[data-step="first"][data-state="running"]').waitFor();
  assert.equal(await page.locator('[data-step="fan"]').getAttribute('data-state'), 'pending');
  // The step box links to its run.
  const href = await page.locator('[data-step="first"] a').getAttribute('href');
  const detail = await client.pipelineRun(pr.id);
  assert.equal(href, `/runs/${detail.steps.find((s) => s.step === 'first')?.runs[0]?.run_id}`);
  await page.evaluate('window.marker = 42');

  writeFileSync(gate, '');
  await page.locator('[data-step="fan"][data-state="succeeded"]').waitFor();
  assert.match((await page.locator('[data-step="fan"] [data-counts]').textContent()) ?? '', /3 items: 3 succeeded/);
  await page.locator('[data-step="last"][data-state="succeeded"]').waitFor();
  await page.locator('[data-pipeline-state="succeeded"]').waitFor();
  assert.equal(await page.evaluate('window.marker'), 42, 'no reload happened');
  // Colour comes from the state's class.
  const bg = await page.evaluate('getComputedStyle(document.querySelector(\'[data-step="last"]\')).backgroundColor');
  const bgPending = await page.evaluate("(() => { const el = document.createElement('div'); el.className = 'pipeline-step state-pending'; document.body.append(el); return getComputedStyle(el).backgroundColor; })()");
  assert.notEqual(bg, bgPending);
  assert.deepEqual(b.errors, []);
  await page.goto(`${up.url}/pipelines`);
  await page.locator('[data-pipeline="graph"]').waitFor();
});
