/**
 * The run environment is built in one place (src/model/run-env.ts) for real runs and for `kairos check`
 * smoke runs; artifacts are hashed as streams, without holding up the worker's event loop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { codeChecks } from '../../src/check/code.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { runEnv, workerBaseEnv } from '../../src/model/run-env.js';
import { listArtifacts } from '../../src/worker/outputs.js';
import { tempDir } from '../helpers.js';

test('a run gets its params, secrets and KAIROS_* variables over its env; the worker\'s credentials never reach it', () => {
  const env = runEnv({
    runId: 'r1',
    project: 'p',
    job: 'j',
    attempt: 2,
    // 23:30 UTC on Jan 31 is already Feb 1 in Auckland.
    scheduledFor: Date.parse('2026-01-31T23:30:00Z'),
    timezone: 'Pacific/Auckland',
    deploymentId: 'd1',
    params: { n: 3, day: '2026-01-31', fast: true },
    env: { A: '1', KAIROS_RUN_ID: 'spoofed' },
    secrets: { TOKEN: 's3cret' },
    outputFile: '/o.jsonl',
    artifactsDir: '/a',
  });
  assert.deepEqual(env, {
    A: '1',
    TOKEN: 's3cret',
    KAIROS_PARAM_N: '3',
    KAIROS_PARAM_DAY: '2026-01-31',
    KAIROS_PARAM_FAST: 'true',
    KAIROS_RUN_ID: 'r1',
    KAIROS_PROJECT: 'p',
    KAIROS_JOB: 'j',
    KAIROS_ATTEMPT: '2',
    KAIROS_SCHEDULED_FOR: '2026-01-31T23:30:00.000Z',
    KAIROS_SCHEDULED_DATE: '2026-02-01',
    KAIROS_TIMEZONE: 'Pacific/Auckland',
    KAIROS_OUTPUT: '/o.jsonl',
    KAIROS_ARTIFACTS: '/a',
    KAIROS_DEPLOYMENT: 'd1',
  });
  const base = workerBaseEnv({ PATH: '/bin', KAIROS_TOKEN: 't', KAIROS_SECRET_KEY: 'k', KAIROS_SERVER: 'x' });
  assert.deepEqual(base, { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', PATH: '/bin' });
});

test('a check smoke run sees the variables a real run has, its logical date in its schedule\'s zone included', async () => {
  const dir = tempDir('kairos-check-env-');
  try {
    const yaml = `project: envcheck
jobs:
  probe:
    run: 'for v in KAIROS_RUN_ID KAIROS_PROJECT KAIROS_JOB KAIROS_ATTEMPT KAIROS_SCHEDULED_FOR KAIROS_SCHEDULED_DATE KAIROS_TIMEZONE KAIROS_OUTPUT KAIROS_ARTIFACTS KAIROS_DEPLOYMENT KAIROS_PARAM_N; do eval "test -n \\"\\$$v\\"" || { echo "missing $v"; exit 1; }; done; test "$KAIROS_TIMEZONE" = Asia/Tokyo'
    schedule: {cron: "0 3 * * *", timezone: Asia/Tokyo}
    params:
      n: {type: integer, default: 4}
    check: true
`;
    const compiled = compileManifestText(yaml, 'kairos.yaml');
    assert.ok(compiled.ok, JSON.stringify(!compiled.ok && compiled.problems));
    const checks = await codeChecks(compiled.manifest, dir.path, { dataDir: join(dir.path, 'data'), broken: new Set() });
    const probe = checks.find((c) => c.name === 'check probe');
    assert.equal(probe?.status, 'pass', JSON.stringify(probe));
  } finally {
    dir.cleanup();
  }
});

test('artifacts are listed in path order with size and SHA-256, links not followed, and hashing a large one lets the event loop run', async () => {
  const dir = tempDir('kairos-artifacts-');
  try {
    mkdirSync(join(dir.path, 'sub'));
    writeFileSync(join(dir.path, 'b.txt'), 'bee\n');
    writeFileSync(join(dir.path, 'sub', 'a.txt'), '');
    const big = Buffer.alloc(48 * 1024 * 1024, 7);
    writeFileSync(join(dir.path, 'big.bin'), big);
    symlinkSync('/etc/hostname', join(dir.path, 'link'));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let list;
    try {
      list = await listArtifacts(dir.path);
    } finally {
      clearInterval(timer);
    }
    const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
    assert.deepEqual(list, [
      { path: 'b.txt', size: 4, sha256: sha('bee\n') },
      { path: 'big.bin', size: big.length, sha256: sha(readFileSync(join(dir.path, 'big.bin'))) },
      { path: join('sub', 'a.txt'), size: 0, sha256: sha('') },
    ]);
    assert.ok(ticks >= 2, `timers ran ${ticks} times while 48 MiB were hashed`);
    assert.deepEqual(await listArtifacts(join(dir.path, 'missing')), []);
  } finally {
    dir.cleanup();
  }
});
