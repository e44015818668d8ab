/** The scope table covers every route; the scope ladder; the deploy plan's secrets check (pure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApi } from '../../src/api/server.js';
import { requiredScope, ROUTE_SCOPES } from '../../src/api/scopes.js';
import { planDeploy } from '../../src/control/plan.js';
import { compileManifestText, type CompiledManifest } from '../../src/manifest/index.js';
import { allows } from '../../src/model/scopes.js';
import { harness, manifest } from '../scheduler/harness.js';

test('every route of the API declares its scope in the one table (none falls back to the admin default)', async () => {
  const h = await harness(manifest('o', { cron: '0 * * * *' }), '2026-01-01T00:00:00Z');
  try {
    const app = createApi({ engine: h.engine });
    const declared = new Set(ROUTE_SCOPES.map(([m, p]) => `${m} ${p}`));
    for (const r of app.routes) {
      if (r.method === 'ALL') continue;
      assert.ok(declared.has(`${r.method} ${r.path}`), `${r.method} ${r.path} has a line in src/api/scopes.ts`);
    }
    assert.equal(requiredScope('GET', '/api/v1/runs/r1/logs/stream'), 'read');
    assert.equal(requiredScope('POST', '/api/v1/leases/finish'), 'worker');
    assert.equal(requiredScope('POST', '/api/v1/something-new'), 'admin');
  } finally {
    await h.close();
  }
});

test('scopes form a ladder read < run < deploy < admin; worker stands beside it', () => {
  assert.ok(allows('run', 'read') && allows('deploy', 'run') && allows('admin', 'deploy'));
  assert.ok(!allows('read', 'run') && !allows('run', 'deploy') && !allows('deploy', 'admin'));
  assert.ok(allows('admin', 'worker') && allows('worker', 'worker') && allows('worker', 'any'));
  assert.ok(!allows('worker', 'read') && !allows('deploy', 'worker'));
  // publish (the package index) stands beside it too; admin includes it.
  assert.ok(allows('publish', 'publish') && allows('admin', 'publish') && allows('publish', 'any'));
  assert.ok(!allows('publish', 'read') && !allows('deploy', 'publish') && !allows('worker', 'publish'));
});

function compiled(text: string): CompiledManifest {
  const r = compileManifestText(text, 'kairos.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.manifest;
}

test('the plan names secrets the manifest references that are not set, or says they could not be checked', () => {
  const m = compiled('project: p\njobs:\n  a:\n    run: echo\n    secrets: [DB_PASSWORD, API_KEY]\n  b:\n    run: echo\n    secrets: [API_KEY]\n');
  const checked = planDeploy(null, null, m, { names: ['API_KEY', 'OTHER'] }, Date.parse('2026-01-01T00:00:00Z'));
  assert.deepEqual(checked.secrets_missing, ['DB_PASSWORD']);
  assert.equal(checked.secrets_note, null);
  const unchecked = planDeploy(null, null, m, { names: null, reason: 'this server has no secrets API' }, Date.parse('2026-01-01T00:00:00Z'));
  assert.equal(unchecked.secrets_missing, null);
  assert.equal(unchecked.secrets_note, 'secrets could not be checked: this server has no secrets API');
});

test('the plan gives the next fire times of a changed schedule in its zone, after now', () => {
  const before = compiled('project: p\njobs:\n  a:\n    run: echo\n    schedule: "0 6 * * *"\n');
  const after = compiled('project: p\njobs:\n  a:\n    run: echo\n    schedule: {cron: "0 6 * * *", timezone: Europe/Berlin}\n');
  const plan = planDeploy(before, 1, after, { names: [] }, Date.parse('2026-03-28T12:00:00Z'));
  assert.deepEqual(plan.schedule_changes, [
    {
      job: 'a',
      before: { cron: '0 6 * * *', timezone: 'UTC' },
      after: { cron: '0 6 * * *', timezone: 'Europe/Berlin' },
      // 06:00 in Berlin: UTC+1 until the change on 29 March, UTC+2 after.
      next: ['2026-03-29T04:00:00.000Z', '2026-03-30T04:00:00.000Z', '2026-03-31T04:00:00.000Z'],
    },
  ]);
  assert.deepEqual(plan.jobs_changed, ['a']);
  assert.deepEqual([plan.jobs_added, plan.jobs_removed], [[], []]);
});
