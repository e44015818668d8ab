/** Compiled manifests stored by earlier versions are read back in today's shape; newer ones are refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../../src/control/engine.js';
import { COMPILED_MANIFEST_VERSION, compileManifestText, upgradeCompiledManifest, type CompiledManifest } from '../../src/manifest/index.js';
import { openSqlite } from '../../src/store/db.js';
import { tempDir, writeProject } from '../helpers.js';

const YAML = `project: old
defaults:
  timezone: Europe/Paris
jobs:
  train:
    run: "echo train"
    schedule: "0 3 * * *"
  report:
    run: ["python3", "report.py"]
    retries: {max: 2, delay: 5s}
`;

function compiled(): CompiledManifest {
  const r = compileManifestText(YAML, 'kairos.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.manifest;
}

/** What a Kairos from before versioning stored: no version, no notify, check or test, no environments. */
function unversioned(m: CompiledManifest): Record<string, unknown> {
  const json = JSON.parse(JSON.stringify(m)) as Record<string, any>;
  delete json.version;
  delete json.test;
  delete json.environments;
  delete json.defaults.notify;
  for (const job of Object.values(json.jobs as Record<string, Record<string, unknown>>)) {
    delete job.notify;
    delete job.check;
    delete job.environment;
    delete job.secrets;
    delete job.workdir;
  }
  return json;
}

test('a manifest stored before versioning upgrades to exactly what compiling it today gives', () => {
  const today = compiled();
  assert.equal(today.version, COMPILED_MANIFEST_VERSION);
  assert.deepEqual(upgradeCompiledManifest(unversioned(today)), JSON.parse(JSON.stringify(today)));
  // The current shape passes through unchanged.
  assert.deepEqual(upgradeCompiledManifest(JSON.parse(JSON.stringify(today))), JSON.parse(JSON.stringify(today)));
});

test('a manifest compiled by a newer Kairos, or not a manifest at all, is refused with a clear error', () => {
  assert.throws(() => upgradeCompiledManifest({ ...compiled(), version: COMPILED_MANIFEST_VERSION + 1 }), /compiled by a newer Kairos/);
  assert.throws(() => upgradeCompiledManifest('nope'), /not an object/);
  assert.throws(() => upgradeCompiledManifest({ ...compiled(), version: 'x' }), /version "x"/);
});

test('a deployment stored before versioning is read back upgraded, and redeploying it unchanged makes no new version', async () => {
  const dir = tempDir('kairos-upgrade-');
  writeProject(dir.path, { 'kairos.yaml': YAML });
  const db = await openSqlite(join(dir.path, 'data', 'kairos.db'));
  try {
    const engine = new Engine({ db, dataDir: join(dir.path, 'data') });
    const first = await engine.deploy(dir.path, compiled(), 'test');
    await db.kysely.updateTable('deployments').set({ manifest_json: JSON.stringify(unversioned(compiled())) }).where('id', '=', first.deployment.id).execute();
    // A fresh control plane (no cached manifests) reads the old row.
    const fresh = new Engine({ db, dataDir: join(dir.path, 'data') });
    const m = await fresh.ctx.manifestOf(first.deployment.id);
    assert.equal(m.version, COMPILED_MANIFEST_VERSION);
    assert.deepEqual(m.jobs.train?.notify, []);
    assert.equal(m.jobs.report?.check, null);
    assert.equal(m.test, null);
    const again = await fresh.deploy(dir.path, compiled(), 'test');
    assert.equal(again.created, false);
    assert.equal(again.deployment.version, 1);
  } finally {
    await db.close();
    dir.cleanup();
  }
});
