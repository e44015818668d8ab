/** The index's store on both dialects: uploads, reused filenames, yanks, pages and usage records. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { openDb } from '../../src/store/db.js';
import { PackageIndex } from '../../src/pypi/index.js';
import { LocalArtifactStore } from '../../src/artifacts/store.js';
import { recordPackageUsage } from '../../src/pypi/usage.js';
import { KairosError } from '../../src/model/errors.js';
import { tempDir } from '../helpers.js';
import { dialectTest, freshTarget } from '../dialects.js';
import { wheel } from '../envs/package-index.js';

dialectTest('uploads, a reused filename, yanks, pages and usage', async (dialect) => {
  const dir = tempDir('kairos-pypi-store-');
  const db = await openDb(await freshTarget(dialect, dir.path));
  try {
    const index = new PackageIndex(db, new LocalArtifactStore(dir.path));
    const upload = (version: string, extra = '') => {
      const [filename, bytes0] = wheel({ name: 'Team.Lib', version });
      const bytes = extra ? Buffer.concat([bytes0, Buffer.from(extra)]) : bytes0;
      return index.upload({ fields: new Map([['name', 'Team.Lib'], ['version', version], ['sha256_digest', createHash('sha256').update(bytes).digest('hex')]]), filename, bytes, by: 't' }, () => true);
    };
    assert.equal((await upload('1.0')).created, true);
    assert.equal((await upload('1.0')).created, false);
    await assert.rejects(upload('1.0', 'x'), (e: unknown) => e instanceof KairosError && e.code === 'conflict');
    await upload('1.10');
    await upload('1.9');
    const page = await index.projectPage('team_lib');
    const doc = JSON.parse(page?.json ?? '{}') as { versions: string[]; files: { yanked: unknown }[] };
    assert.deepEqual(doc.versions, ['1.0', '1.9', '1.10']);
    assert.equal(await index.setYanked('TEAM-LIB', '1.10', true, 'no <good>'), 1);
    const again = await index.projectPage('team-lib');
    assert.notEqual(again?.etag, page?.etag);
    assert.match(again?.html ?? '', /data-yanked="no &lt;good&gt;"/);
    assert.deepEqual((JSON.parse(again?.json ?? '{}') as { files: { yanked: unknown }[] }).files.map((f) => f.yanked), [false, false, 'no <good>']);
    await index.deleteVersion('team-lib', '1.9');
    await assert.rejects(upload('1.9', 'other'), (e: unknown) => e instanceof KairosError && e.code === 'conflict');
    await recordPackageUsage(db.kysely, 'run1', 1, [{ name: 'team_lib', version: '1.0' }, { name: 'numpy', version: '2.0' }], Date.now());
    const [listed] = await index.listing('team.lib');
    assert.deepEqual(listed?.versions.map((v) => [v.version, v.yanked, v.runs.map((r) => r.run_id)]), [
      ['1.0', false, ['run1']],
      ['1.10', true, []],
    ]);
    assert.match((await index.rootPage()).html, /team-lib\/">Team.Lib/);
  } finally {
    await db.close();
    dir.cleanup();
  }
});
