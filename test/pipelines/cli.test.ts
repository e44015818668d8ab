/** The pipeline commands against `kairos up`: run PIPELINE, pipelines, runs --pipeline, rerun --from-failed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded } from '../../src/embedded.js';
import { cli, tempDir, writeProject } from '../helpers.js';

test('kairos run PIPELINE follows it to its end; pipelines lists it; runs --pipeline shows steps; rerun --from-failed resumes', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  writeProject(dir.path, {
    'kairos.yaml': `
project: clip
jobs:
  extract:
    run: echo extracted > $KAIROS_ARTIFACTS/rows.txt
  train:
    run: test -f ${dir.path}/gate && cat $KAIROS_INPUTS/extract/rows.txt
    params:
      region: {type: string, required: true}
pipelines:
  flow:
    schedule: "0 5 * * *"
    params:
      regions: {type: list, default: [eu]}
    steps:
      extract: extract
      train: {job: train, needs: [extract], map: regions, params: {region: "\${{ item }}"}}
`,
  });
  const up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {}, sandbox: { mode: 'none' } });
  t.after(() => up.stop(2000));
  const s = ['--server', up.url];

  const list = await cli(['pipelines', '--json', ...s]);
  assert.equal(list.code, 0, list.stderr);
  const pipelines = JSON.parse(list.stdout) as { name: string; schedule: { next_fire_at: string } }[];
  assert.equal(pipelines[0]?.name, 'flow');
  assert.match(pipelines[0]?.schedule.next_fire_at ?? '', /T05:00:00/);

  const failed = await cli(['run', 'flow', '-p', 'regions=eu,us', ...s]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /pipeline run (\S+) failed/);
  const id = /pipeline run (\S+) failed/.exec(failed.stderr)?.[1] ?? '';

  const runs = await cli(['runs', '--pipeline', 'flow', ...s]);
  assert.equal(runs.code, 0, runs.stderr);
  assert.match(runs.stdout, new RegExp(id));
  assert.match(runs.stdout, /train\s+\S*failed\S* \(2 items: 2 failed\)/);

  writeFileSync(join(dir.path, 'gate'), '');
  const rerun = await cli(['rerun', id, '--from-failed', '--json', ...s]);
  assert.equal(rerun.code, 0, rerun.stderr);
  const pr = JSON.parse(rerun.stdout) as { id: string; rerun_of: string };
  assert.equal(pr.rerun_of, id);
  const bare = await cli(['rerun', id, ...s]);
  assert.equal(bare.code, 2, 'a pipeline run is rerun with --from-failed');

  const json = await cli(['runs', '--pipeline', 'flow', '--json', ...s]);
  assert.equal(json.code, 0);
  const all = JSON.parse(json.stdout) as { id: string; state: string; steps: { step: string; state: string }[] }[];
  assert.equal(all.length, 2);
  assert.ok(all.some((x) => x.id === pr.id));
});
