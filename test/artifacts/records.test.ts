/**
 * Artifact records on both dialects (migration 0013: content type, stored), and the pure parts of the policy:
 * per-run limits with their message, content types, safe paths, Range parsing, Content-Disposition.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentDisposition, parseRange } from '../../src/api/artifact-routes.js';
import { applyLimits, contentTypeOf, isSafeArtifactPath } from '../../src/artifacts/policy.js';
import { openDb } from '../../src/store/db.js';
import { dialectTest, freshTarget } from '../dialects.js';
import { tempDir } from '../helpers.js';

dialectTest('artifact rows keep their content type and whether the store holds them (0013)', async (dialect) => {
  const dir = tempDir();
  const db = await openDb(await freshTarget(dialect, dir.path));
  try {
    const sha = 'a'.repeat(64);
    await db.kysely.insertInto('artifacts').values({ run_id: 'r1', attempt: 1, path: 'old.bin', size: 3, sha256: sha, content_type: null }).execute();
    await db.kysely.insertInto('artifacts').values({ run_id: 'r1', attempt: 1, path: 'report.csv', size: 3_000_000_000, sha256: sha, content_type: 'text/csv; charset=utf-8', stored: 1 }).execute();
    const rows = await db.kysely.selectFrom('artifacts').selectAll().where('sha256', '=', sha).orderBy('path').execute();
    assert.deepEqual(
      rows.map((r) => [r.path, Number(r.size), r.content_type, Number(r.stored)]),
      [
        ['old.bin', 3, null, 0],
        ['report.csv', 3_000_000_000, 'text/csv; charset=utf-8', 1],
      ],
    );
  } finally {
    await db.close();
    dir.cleanup();
  }
});

test('per-run limits keep the first files in path order and say what was not kept', () => {
  const e = (path: string, size: number) => ({ path, size, sha256: 'b'.repeat(64) });
  const d = applyLimits([e('c', 5), e('a', 5), e('b', 5), e('../x', 1)], { maxFiles: 10, maxBytes: 12 });
  assert.deepEqual(d.kept.map((k) => k.path), ['a', 'b']);
  assert.deepEqual(d.refused.map((r) => r.path), ['../x', 'c']);
  assert.match(d.message ?? '', /^\[kairos\] artifacts: 2 of 4 not kept \(1 over the limit of 12 B per run, 1 with unsafe paths\): \.\.\/x, c; 2 kept \(10 B\)$/);
  const earlier = applyLimits([e('z', 1)], { maxFiles: 3, maxBytes: 100 }, { files: 3, bytes: 0 });
  assert.equal(earlier.kept.length, 0);
  assert.match(earlier.message ?? '', /over the limit of 3 files per run/);
  assert.equal(applyLimits([e('a', 1)], { maxFiles: 1, maxBytes: 1 }).message, null);
});

test('content types, safe paths, ranges and dispositions', () => {
  assert.equal(contentTypeOf('out/Report.CSV'), 'text/csv; charset=utf-8');
  assert.equal(contentTypeOf('plot.svg'), 'image/svg+xml');
  assert.equal(contentTypeOf('dir.v2/noext'), 'application/octet-stream');
  for (const bad of ['', '/etc/passwd', 'a/../b', './a', 'a//b', 'a\\b', 'a\nb']) assert.equal(isSafeArtifactPath(bad), false, JSON.stringify(bad));
  assert.equal(isSafeArtifactPath('plots/2026/plot.png'), true);
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=95-200', 100), { start: 95, end: 99 });
  assert.equal(parseRange('bytes=100-', 100), 'bad');
  assert.equal(parseRange('bytes=5-1', 100), 'bad');
  assert.equal(parseRange('bytes=0-1,5-6', 100), 'bad');
  assert.equal(parseRange(undefined, 100), null);
  assert.equal(contentDisposition('attachment', 'out/ré"port;.csv'), `attachment; filename="r__port_.csv"; filename*=UTF-8''r%C3%A9%22port%3B.csv`);
});
