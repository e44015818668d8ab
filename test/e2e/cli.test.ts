/** The CLI as a subprocess, for the commands that need no server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ROOT, tempDir, writeProject } from '../helpers.js';

test('kairos validate reports every problem as FILE:LINE:COL: PATH: message and exits 2', async () => {
  const dir = tempDir();
  writeProject(dir.path, {
    'kairos.yaml': ['project: v', 'jobs:', '  ok:', '    run: "true"', '    schedul: "* * * * *"', '  bad:', '    run: "true"', '    schedule: "0 0 30 2 *"', '    retries: three', ''].join('\n'),
  });
  const r = await cli(['validate', dir.path]);
  assert.equal(r.code, 2);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 3, r.stdout);
  assert.match(lines[0] ?? '', /kairos\.yaml:5:5: jobs\.ok\.schedul: .*did you mean "schedule"/);
  assert.match(lines[1] ?? '', /kairos\.yaml:8:15: jobs\.bad\.schedule: .*day-of-month/);
  assert.match(lines[2] ?? '', /kairos\.yaml:9:14: jobs\.bad\.retries: /);
  const json = await cli(['validate', dir.path, '--json']);
  assert.equal(json.code, 2);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; problems: { line: number; col: number; code: string }[] };
  assert.equal(parsed.ok, false);
  assert.deepEqual(parsed.problems.map((p) => p.code), ['unknown_key', 'invalid_cron', 'invalid_type']);
  dir.cleanup();
});

test('kairos validate accepts the example project, and kairos init writes a manifest that validates', async () => {
  const ok = await cli(['validate', join(ROOT, 'examples', 'quickstart')]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const dir = tempDir();
  const init = await cli(['init', join(dir.path, 'My Project')]);
  assert.equal(init.code, 0, init.stderr);
  const written = readFileSync(join(dir.path, 'My Project', 'kairos.yaml'), 'utf8');
  assert.match(written, /^project: my-project$/m);
  assert.match(written, /#/);
  assert.equal((await cli(['validate', join(dir.path, 'My Project')])).code, 0);
  assert.equal((await cli(['init', join(dir.path, 'My Project')])).code, 2, 'refuses to overwrite');
  dir.cleanup();
});

test('kairos schema prints a JSON Schema', async () => {
  const r = await cli(['schema']);
  assert.equal(r.code, 0);
  const schema = JSON.parse(r.stdout) as { $schema: string; properties: Record<string, unknown> };
  assert.match(schema.$schema, /json-schema\.org/);
  assert.ok('jobs' in schema.properties && 'project' in schema.properties);
});

test('kairos cron next prints UTC instants, follows the zone, and flags a DST change in the preview', async () => {
  const r = await cli(['cron', 'next', '30 2 * * *', '--tz', 'America/New_York', '--after', '2026-03-07T12:00:00Z', '--count', '3', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { next: { at: string }[]; dst_changes: unknown[]; description: string };
  // 02:30 does not exist on 2026-03-08 in New York: it fires at the first instant after the gap (03:00 EDT = 07:00Z).
  assert.deepEqual(out.next.map((n) => n.at), ['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z']);
  assert.equal(out.dst_changes.length, 1);
  const plain = await cli(['cron', 'next', '*/15 * * * *', '--count', '2', '--after', '2026-01-01T00:00:00Z']);
  assert.deepEqual(plain.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]), ['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z']);
  for (const bad of [['cron', 'next', '61 * * * *'], ['cron', 'next', '* * * * *', '--tz', 'Mars/Base'], ['cron', 'next', '* * * * *', '--count', 'x'], ['cron', 'later', 'x']]) {
    const b = await cli(bad);
    assert.equal(b.code, 2, bad.join(' '));
    assert.match(b.stderr, /kairos: /);
  }
});

test('unknown commands and options are bad usage (exit 2); no server is exit 1 with a hint', async () => {
  assert.equal((await cli(['frobnicate'])).code, 2);
  assert.equal((await cli(['runs', '--bogus'])).code, 2);
  const r = await cli(['runs', '--server', 'http://127.0.0.1:9']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach the Kairos server/);
});

test('docs/kairos.schema.json (used by the example for editor completion) is the current schema', async () => {
  const r = await cli(['schema']);
  assert.deepEqual(JSON.parse(readFileSync(join(ROOT, 'docs', 'kairos.schema.json'), 'utf8')), JSON.parse(r.stdout), 'run `npm run docs`');
});
