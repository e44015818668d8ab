/**
 * Installing the CLI as a user does outside the clone: `npm pack`, then a global install of the tarball into
 * a prefix, and `kairos` run from another folder. The package's dependencies come from the npm cache or the
 * registry (as `npm ci` does); their own install scripts are left out here (better-sqlite3 compiles SQLite
 * from source where no prebuilt binary can be downloaded, minutes on a busy machine) and the package's own
 * install script (the native launcher) runs through `npm rebuild kairos-run`, as npm runs it on install.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.js';

function run(cmd: string, args: readonly string[], cwd: string, timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, [...args], { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0, stdout, stderr });
    });
  });
}

test('the packed tarball installs globally and `kairos` works from another folder', { timeout: 900_000 }, async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
  assert.notEqual(pkg.name, 'kairos', 'the npm name "kairos" belongs to an unrelated package');
  assert.deepEqual(Object.keys(pkg.bin), ['kairos'], 'the command stays `kairos`');
  const dir = tempDir('kairos-install-');
  try {
    // dist/ is built (the tests run from it): pack it as `npm pack` would after `prepare`.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir.path], ROOT);
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = join(dir.path, `${pkg.name}-${pkg.version}.tgz`);
    assert.ok(existsSync(tarball), packed.stdout);
    const listing = await run('tar', ['tzf', tarball], dir.path);
    const files = new Set(listing.stdout.split('\n'));
    for (const f of ['package/bin/kairos.js', 'package/dist/src/cli/main.js', 'package/ui/index.html', 'package/src/worker/places/launcher.c', 'package/tools/build-launcher.mjs', 'package/examples/quickstart/kairos.yaml']) {
      assert.ok(files.has(f), `${f} is in the tarball`);
    }
    assert.ok(![...files].some((f) => f.startsWith('package/dist/test/') || f.startsWith('package/node_modules/')), 'no tests or node_modules in the tarball');

    const prefix = join(dir.path, 'global');
    const installed = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], dir.path, 600_000);
    assert.equal(installed.code, 0, installed.stderr);
    const rebuilt = await run('npm', ['rebuild', '-g', '--prefix', prefix, pkg.name], dir.path);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    const home = join(prefix, 'lib', 'node_modules', pkg.name);
    assert.ok(existsSync(join(home, 'dist', 'kairos-launcher')), `the install script built the native launcher: ${rebuilt.stdout}${rebuilt.stderr}`);

    // From a folder that is neither the clone nor the install.
    const elsewhere = join(dir.path, 'laptop');
    const kairos = join(prefix, 'bin', 'kairos');
    await run('mkdir', ['-p', elsewhere], dir.path);
    const version = await run(kairos, ['--version'], elsewhere);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), pkg.version);
    const init = await run(kairos, ['init', 'first'], elsewhere);
    assert.equal(init.code, 0, init.stderr);
    const valid = await run(kairos, ['validate', 'first'], elsewhere);
    assert.equal(valid.code, 0, valid.stdout + valid.stderr);
    const example = await run(kairos, ['validate', join(home, 'examples', 'quickstart')], elsewhere);
    assert.equal(example.code, 0, example.stdout + example.stderr);
    assert.match(example.stdout, /project quickstart, 9 jobs \([^)]*\), 1 pipeline \(regional-models\)/);
  } finally {
    dir.cleanup();
  }
});
