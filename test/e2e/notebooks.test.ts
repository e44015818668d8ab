/**
 * Notebook jobs end to end with real Jupyter (Debian's nbclient, ipykernel and nbconvert under
 * /usr/bin/python3, reached through a python environment with `system_site_packages: true`): `kairos up`
 * in-process, a real worker, real kernels. Params arrive typed in the cell after `parameters`; the executed
 * notebook and its HTML are kept whether the notebook succeeds, fails, hits `cell_timeout` or is cancelled;
 * the failing cell is named in the log and the reason; output reaches the stored log while the notebook runs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { runChecks } from '../../src/check/index.js';
import { compileManifestText, formatProblem } from '../../src/manifest/index.js';
import { tempDir, waitFor, writeProject } from '../helpers.js';
import { chromiumMissing, openBrowser } from '../browser.js';

const PYTHON = '/usr/bin/python3';

function jupyterMissing(): string | null {
  try {
    execFileSync(PYTHON, ['-c', 'import nbclient, ipykernel, nbconvert'], { stdio: 'ignore' });
    return null;
  } catch {
    return `${PYTHON} cannot import nbclient, ipykernel and nbconvert (apt-get install python3-nbclient python3-ipykernel jupyter-nbconvert)`;
  }
}
const missing = jupyterMissing();
if (missing && process.env.CI === 'true') throw new Error(`notebook tests need Jupyter in CI: ${missing}`);

/** A notebook (nbformat 4.4: no cell ids needed) from code cells; a cell given as {tags, source} gets tags. */
function notebook(cells: (string | { tags: string[]; source: string })[]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 4,
    metadata: { kernelspec: { name: 'some-laptop-env', display_name: 'Python (laptop)', language: 'python' } },
    cells: [
      { cell_type: 'markdown', metadata: {}, source: '# A notebook' },
      ...cells.map((c) => {
        const { tags, source } = typeof c === 'string' ? { tags: [], source: c } : c;
        return { cell_type: 'code', metadata: tags.length > 0 ? { tags } : {}, source, outputs: [], execution_count: null };
      }),
    ],
  });
}

/** nbformat stores multi-line text as a list of lines. */
const joined = (text: string | string[] | undefined) => (Array.isArray(text) ? text.join('') : (text ?? ''));

const TRICKY = `x'; import os; os.system("echo pwned") #\\n"""`;

const files: Record<string, string> = {
  'kairos.yaml': `
project: nb
environments:
  jupyter:
    python: ${PYTHON}
    system_site_packages: true
  bare:
    python: ${PYTHON}
jobs:
  report:
    environment: jupyter
    run: {notebook: notebooks/report.ipynb}
    params:
      epochs: {type: integer, default: 3}
      rate: {type: number, default: 1}
      day: {type: date, default: "2024-01-31"}
      verbose: {type: boolean, default: false}
      label: {type: string, default: ${JSON.stringify(TRICKY)}}
  broken:
    environment: jupyter
    run: {notebook: broken.ipynb}
  slow:
    environment: jupyter
    run: {notebook: slow.ipynb}
    cell_timeout: 2s
  live:
    environment: jupyter
    run: {notebook: live.ipynb}
  overall:
    environment: jupyter
    run: {notebook: live.ipynb}
    timeout: 30s
  bare:
    environment: bare
    run: {notebook: broken.ipynb}
`,
  'notebooks/report.ipynb': notebook([
    { tags: ['parameters'], source: 'epochs = 1\nrate = 0.1\nday = "2000-01-01"\nverbose = True\nlabel = "default"' },
    'for name in ["epochs", "rate", "day", "verbose", "label"]:\n    v = globals()[name]\n    print("param", name, type(v).__name__, repr(v))',
    'import os\nprint("cwd-ok", os.path.isdir("notebooks"))\nepochs * 2',
  ]),
  'broken.ipynb': notebook(['print("before the failure")', 'x = 1', '1 / 0', 'print("never printed")']),
  'slow.ipynb': notebook(['print("slow starts", flush=True)', 'import time\ntime.sleep(600)', 'print("never printed")']),
  'live.ipynb': notebook(['import time\nprint("live-line-1", flush=True)\nfor i in range(1200):\n    time.sleep(0.5)']),
};

describe('notebook jobs with real Jupyter', { skip: missing ?? false }, () => {
  const dir = tempDir('kairos-notebooks-');
  let up: Embedded;
  let client: KairosClient;
  const savedPipConfig = process.env.PIP_CONFIG_FILE;

  const terminal = (s: string) => ['succeeded', 'failed', 'timed_out', 'cancelled', 'skipped'].includes(s);
  const runToEnd = async (job: string, params: Record<string, unknown> = {}) => {
    const run = await client.createRun(job, params);
    return waitFor(`run ${run.id} of ${job} to end`, async () => {
      const r = await client.getRun(run.id, 10);
      return terminal(r.state) ? r : null;
    }, 300_000, 200);
  };
  const logText = async (id: string) => (await client.logs(id)).lines.map((l) => l.line).join('\n');
  const artifactPaths = async (id: string) => (await client.artifacts(id)).artifacts.map((a) => a.path).sort();
  const artifactText = async (id: string, path: string) => {
    const res = await client.downloadArtifact(id, path);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  before(async () => {
    // No package index is reachable here: pip must not try one while environments are made.
    process.env.PIP_CONFIG_FILE = '/dev/null';
    writeProject(dir.path, files);
    up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, concurrency: 2, log: () => {} });
    client = new KairosClient(up.url);
  });
  after(async () => {
    client?.close();
    await up?.stop(5000);
    if (savedPipConfig === undefined) delete process.env.PIP_CONFIG_FILE;
    else process.env.PIP_CONFIG_FILE = savedPipConfig;
    dir.cleanup();
  });

  test('params arrive typed in the cell after `parameters`; the executed notebook and its HTML are kept', async () => {
    const run = await runToEnd('report', { epochs: '7', rate: '2.5' });
    const log = await logText(run.id);
    assert.equal(run.state, 'succeeded', `${run.reason}\n${log}`);
    assert.match(log, /param epochs int 7\b/);
    assert.match(log, /param rate float 2\.5\b/);
    assert.match(log, /param day str '2024-01-31'/);
    assert.match(log, /param verbose bool False\b/);
    // The text arrives as a str (the next test compares it whole): nothing of it ran as code.
    assert.match(log, /param label str /);
    assert.doesNotMatch(log, /^pwned$/m);
    assert.match(log, /cwd-ok True/);
    assert.match(log, /^14$/m, 'the last expression of a cell is shown');
    assert.deepEqual(await artifactPaths(run.id), ['report.html', 'report.ipynb']);
    const executed = JSON.parse(await artifactText(run.id, 'report.ipynb')) as { cells: { source: string | string[]; metadata: { tags?: string[] } }[] };
    const tags = executed.cells.map((c) => c.metadata.tags ?? []);
    const injectedAt = tags.findIndex((t) => t.includes('injected-parameters'));
    assert.equal(injectedAt, tags.findIndex((t) => t.includes('parameters')) + 1, 'the injected cell follows the parameters cell');
    const injected = joined(executed.cells[injectedAt]?.source);
    assert.match(injected, /^epochs = 7$/m);
    assert.match(injected, /^verbose = False$/m);
    const html = await artifactText(run.id, 'report.html');
    assert.match(html, /<html/i);
    assert.match(html, /param epochs int 7/);
  });

  test('the label param with quotes and code in it is one Python string', async () => {
    const run = await runToEnd('report', {});
    assert.equal(run.state, 'succeeded', run.reason ?? '');
    const executed = JSON.parse(await artifactText(run.id, 'report.ipynb')) as { cells: { outputs?: { text?: string | string[] }[] }[] };
    const printed = executed.cells.flatMap((c) => c.outputs ?? []).map((o) => joined(o.text)).join('');
    const line = printed.split('\n').find((l) => l.startsWith('param label '));
    // Python prints the str's repr: evaluate it back in Python and compare with what was given.
    const back = execFileSync(PYTHON, ['-c', 'import ast, sys; print(ast.literal_eval(sys.argv[1]), end="")', (line ?? '').replace(/^param label str /, '')], { encoding: 'utf8' });
    assert.equal(back, TRICKY);
  });

  let brokenRun = '';
  test('a failing cell fails the run, named in the log and the reason; the notebook and HTML are kept', async () => {
    const run = await runToEnd('broken');
    brokenRun = run.id;
    const log = await logText(run.id);
    assert.equal(run.state, 'failed', log);
    assert.match(run.reason ?? '', /^notebook: cell 4 failed: ZeroDivisionError: division by zero$/);
    assert.match(log, /before the failure/);
    assert.match(log, /ZeroDivisionError/);
    assert.match(log, /cell 4 failed: ZeroDivisionError/);
    assert.doesNotMatch(log, /never printed/);
    assert.deepEqual(await artifactPaths(run.id), ['broken.html', 'broken.ipynb']);
    const executed = await artifactText(run.id, 'broken.ipynb');
    assert.match(executed, /ZeroDivisionError/);
    assert.match(await artifactText(run.id, 'broken.html'), /ZeroDivisionError/);
  });

  test("the dashboard's run page shows the failed notebook's HTML in an empty sandbox", { skip: chromiumMissing() ?? false }, async () => {
    assert.ok(brokenRun, 'the failing notebook ran');
    const b = await openBrowser();
    try {
      await b.page.goto(`${up.url}/runs/${brokenRun}`);
      const frame = b.page.locator('[data-artifact-preview="broken.html"] iframe[data-preview="html"]');
      await frame.waitFor();
      assert.equal(await frame.getAttribute('sandbox'), '');
      assert.match((await frame.getAttribute('class')) ?? '', /notebook-frame/);
      await waitFor('the notebook in the frame', async () => /ZeroDivisionError/.test((await b.page.frameLocator('[data-artifact-preview="broken.html"] iframe').locator('body').textContent()) ?? ''));
    } finally {
      await b.close();
    }
  });

  test('a cell running past cell_timeout fails the run with that cell named', async () => {
    const run = await runToEnd('slow');
    const log = await logText(run.id);
    assert.equal(run.state, 'failed', log);
    assert.match(run.reason ?? '', /^notebook: cell 3 timed out: it ran longer than cell_timeout \(2 s\)$/);
    assert.match(log, /slow starts/);
    assert.doesNotMatch(log, /never printed/);
    assert.deepEqual(await artifactPaths(run.id), ['slow.html', 'slow.ipynb']);
  });

  test("a cell's output is in the stored log while the notebook still runs; a cancelled notebook is kept too", async () => {
    const created = await client.createRun('live', {});
    await waitFor('the first line of the notebook in the stored log', async () => (await logText(created.id)).includes('live-line-1'), 300_000, 200);
    assert.equal((await client.getRun(created.id)).state, 'running', 'the notebook is still running');
    await client.cancelRun(created.id);
    const run = await waitFor('the cancelled run to end', async () => {
      const r = await client.getRun(created.id, 10);
      return terminal(r.state) ? r : null;
    }, 120_000, 200);
    assert.equal(run.state, 'cancelled');
    assert.deepEqual(await artifactPaths(run.id), ['live.html', 'live.ipynb']);
    assert.match(await artifactText(run.id, 'live.ipynb'), /live-line-1/);
  });

  test('`timeout` bounds the whole notebook: it ends timed_out, and what ran so far is kept', async () => {
    const run = await runToEnd('overall');
    assert.equal(run.state, 'timed_out', await logText(run.id));
    assert.deepEqual(await artifactPaths(run.id), ['live.html', 'live.ipynb']);
  });

  test('an environment without nbclient fails with a clear reason', async () => {
    const run = await runToEnd('bare');
    assert.equal(run.state, 'failed');
    assert.match(run.reason ?? '', /^notebook: notebook jobs need nbclient, nbformat and ipykernel in the job's environment/);
    assert.match(run.reason ?? '', /system_site_packages: true/);
  });
});

describe('kairos check on notebook jobs', () => {
  test('a missing notebook, one that is not JSON, and one with no parameters cell for a job with params are reported at the manifest entry', async () => {
    const dir = tempDir('kairos-notebook-check-');
    try {
      writeProject(dir.path, {
        'kairos.yaml': [
          'project: nbcheck',
          'jobs:',
          '  ok:',
          '    run: {notebook: ok.ipynb}',
          '    params: {n: {type: integer, default: 1}}',
          '  gone:',
          '    run: {notebook: gone.ipynb}',
          '  garbled:',
          '    run:',
          '      notebook: garbled.ipynb',
          '  untagged:',
          '    run: {notebook: untagged.ipynb}',
          '    params: {n: {type: integer, default: 1}}',
          '',
        ].join('\n'),
        'ok.ipynb': notebook([{ tags: ['parameters'], source: 'n = 0' }]),
        'garbled.ipynb': '{"cells": [',
        'untagged.ipynb': notebook(['n = 0']),
      });
      const report = await runChecks(dir.path, { server: null, skip: ['dependencies', 'code'] });
      const by = (name: string) => report.checks.find((c) => c.name === name);
      const file = join(dir.path, 'kairos.yaml');
      assert.equal(by('notebook ok')?.status, 'pass');
      assert.equal(by('notebook gone')?.status, 'fail');
      assert.deepEqual(by('notebook gone')?.details, [`${file}:7:21: jobs.gone.run.notebook: notebook gone.ipynb not found in the project directory`]);
      assert.equal(by('notebook garbled')?.status, 'fail');
      assert.match(by('notebook garbled')?.details?.[0] ?? '', new RegExp(`^${file.replaceAll('/', '\\/')}:10:17: jobs\\.garbled\\.run\\.notebook: notebook garbled\\.ipynb is not valid JSON`));
      assert.equal(by('notebook untagged')?.status, 'fail');
      assert.match(by('notebook untagged')?.details?.[0] ?? '', /:12:21: jobs\.untagged\.run\.notebook: notebook untagged\.ipynb has no cell tagged "parameters", and job untagged has params \(n\)/);
      assert.equal(report.ok, false);
    } finally {
      dir.cleanup();
    }
  });
});

describe('notebook jobs in the manifest', () => {
  const problems = (yaml: string) => {
    const r = compileManifestText(yaml, 'kairos.yaml');
    return r.ok ? [] : r.problems.map(formatProblem);
  };
  test('run: {notebook, kernel} and cell_timeout compile', () => {
    const r = compileManifestText('project: p\njobs:\n  nb:\n    run: {notebook: ./nb/a.ipynb, kernel: ir}\n    cell_timeout: 90s\n', 'kairos.yaml');
    assert.ok(r.ok);
    assert.deepEqual(r.manifest.jobs.nb?.run, { kind: 'notebook', notebook: 'nb/a.ipynb', kernel: 'ir' });
    assert.equal(r.manifest.jobs.nb?.cellTimeoutMs, 90_000);
  });
  test('a notebook that is not a .ipynb inside the project, cell_timeout on a command, and check arguments are refused where they are written', () => {
    assert.deepEqual(problems('project: p\njobs:\n  a:\n    run: {notebook: ../x.ipynb}\n  b:\n    run: {notebook: x.py}\n  c:\n    run: echo\n    cell_timeout: 1m\n  d:\n    run: {notebook: d.ipynb, kernel: "a b"}\n    check: [x]\n'), [
      'kairos.yaml:4:21: jobs.a.run.notebook: "../x.ipynb" leaves the project directory; use a path inside it',
      'kairos.yaml:6:21: jobs.b.run.notebook: expected a path to a .ipynb file relative to the project directory, such as "notebooks/report.ipynb", got "x.py"',
      'kairos.yaml:9:5: jobs.c.cell_timeout: `cell_timeout` applies to notebook jobs only (`run: {notebook: PATH.ipynb}`)',
      'kairos.yaml:11:38: jobs.d.run.kernel: expected a kernel name: up to 64 letters, digits, ".", "_" or "-" (a Jupyter kernel name), got "a b"',
      'kairos.yaml:12:12: jobs.d.check: a notebook job takes `check: true` (it runs the notebook with its default params), not arguments',
    ]);
  });
});
