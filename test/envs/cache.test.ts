/**
 * The environment cache with real virtual environments, real pip and a real package index on loopback
 * (tiny wheels built by the test): build once, reuse fast, build once across processes, a broken file
 * breaks nothing else, and eviction by age and size spares environments in use.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvCache, EnvError } from '../../src/worker/envs/index.js';
import type { CompiledEnvironment } from '../../src/model/job.js';
import { ROOT, tempDir, writeProject } from '../helpers.js';
import { startIndex, SYSTEM_PYTHON, type PackageIndex } from './package-index.js';

function pythonEnv(name: string, requirements: string, indexUrl: string): CompiledEnvironment {
  return { kind: 'python', name, interpreter: SYSTEM_PYTHON, requirements, indexUrls: [indexUrl], systemSitePackages: false };
}

const wheelDownloads = (index: PackageIndex, name: string) => index.requests.filter((r) => r.startsWith(`/files/${name}-`)).length;

describe('environment cache (real venv, pip and a loopback index)', () => {
  const dir = tempDir('kairos-envs-');
  let index: PackageIndex;

  before(async () => {
    index = await startIndex([
      { name: 'tinypkg', version: '1.0', requires: ['tinydep>=0.1'] },
      { name: 'tinydep', version: '0.2' },
      { name: 'otherpkg', version: '3.1' },
    ]);
  });
  after(async () => {
    await index.close();
    dir.cleanup();
  });

  test('the first run builds the environment; the next reuses it in well under 100 ms', async () => {
    const project = join(dir.path, 'p1');
    writeProject(project, { 'requirements.txt': 'tinypkg\n' });
    const cache = new EnvCache(join(dir.path, 'cache1'));
    const env = pythonEnv('py', 'requirements.txt', index.url);
    const lines: string[] = [];
    const first = await cache.prepare(env, project, (l) => lines.push(l));
    assert.equal(first.built, true);
    assert.match(lines.join('\n'), /building environment py/);
    assert.deepEqual(first.packages, [
      { name: 'tinydep', version: '0.2' },
      { name: 'tinypkg', version: '1.0' },
    ]);
    // The environment really has the package: its python imports it.
    const { execFile } = await import('../../src/worker/envs/exec.js');
    const r = await execFile([join(first.dir, 'bin', 'python'), '-c', 'import tinypkg; print(tinypkg.VERSION)']);
    assert.equal(r.stdout.trim(), '1.0');
    await first.release();

    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const again = await cache.prepare(env, project, () => {});
      times.push(performance.now() - t);
      assert.equal(again.built, false);
      assert.equal(again.hash, first.hash);
      await again.release();
    }
    times.sort((a, b) => a - b);
    assert.ok((times[2] ?? Infinity) < 100, `median reuse took ${times[2]} ms`);
    assert.equal(wheelDownloads(index, 'tinypkg'), 1);
  });

  test('two processes that need the same environment at once build it once; the other waits', async () => {
    const project = join(dir.path, 'p2');
    writeProject(project, { 'requirements.txt': 'otherpkg==3.1\n' });
    const cacheDir = join(dir.path, 'cache2');
    const env = pythonEnv('py', 'requirements.txt', index.url);
    const module = join(ROOT, 'dist', 'src', 'worker', 'envs', 'index.js');
    const script = `
      const { EnvCache } = await import(${JSON.stringify(module)});
      const cache = new EnvCache(${JSON.stringify(cacheDir)});
      const p = await cache.prepare(${JSON.stringify(env)}, ${JSON.stringify(project)}, (l) => console.error(l));
      console.log(JSON.stringify({ built: p.built, hash: p.hash }));
      await p.release();`;
    const runChild = () =>
      new Promise<{ built: boolean; hash: string; log: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let log = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (log += c.toString()));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve({ ...(JSON.parse(out) as { built: boolean; hash: string }), log }) : reject(new Error(`child exited ${code}: ${log}`))));
      });
    const [a, b] = await Promise.all([runChild(), runChild()]);
    assert.equal(a.hash, b.hash);
    assert.deepEqual([a.built, b.built].sort(), [false, true], `exactly one builds:\n${a.log}\n${b.log}`);
    const waiter = a.built ? b : a;
    assert.match(waiter.log, /waiting for environment py|is ready/);
    assert.equal(wheelDownloads(index, 'otherpkg'), 1);
  });

  test('a broken requirements file fails with pip\'s error and leaves other environments and the cache intact', async () => {
    const project = join(dir.path, 'p3');
    writeProject(project, { 'good.txt': 'tinydep\n', 'broken.txt': 'tinydep\nthis is === not a requirement\n' });
    const cacheDir = join(dir.path, 'cache3');
    const cache = new EnvCache(cacheDir);
    const good = await cache.prepare(pythonEnv('good', 'good.txt', index.url), project, () => {});
    await good.release();
    await assert.rejects(cache.prepare(pythonEnv('broken', 'broken.txt', index.url), project, () => {}), (err: unknown) => {
      assert.ok(err instanceof EnvError);
      assert.match(err.message, /environment broken could not be built: pip install failed/);
      assert.match(err.message, /Invalid requirement: 'this is === not a requirement'/);
      return true;
    });
    // Nothing half-built is left: only the good environment is published and stored; no lock is held.
    const published = readdirSync(cacheDir).filter((n) => !n.startsWith('.'));
    assert.deepEqual(published, [good.hash]);
    assert.equal(readdirSync(join(cacheDir, '.store')).length, 1);
    assert.deepEqual(readdirSync(join(cacheDir, '.locks')), []);
    const again = await cache.prepare(pythonEnv('good', 'good.txt', index.url), project, () => {});
    assert.equal(again.built, false);
    await again.release();
    // A missing requirements file is named.
    await assert.rejects(cache.prepare(pythonEnv('x', 'nope.txt', index.url), project, () => {}), /requirements file nope.txt not found/);
  });

  test('eviction removes environments by age and size, least recently used first, never one in use', async () => {
    const project = join(dir.path, 'p4');
    writeProject(project, { 'a.txt': '# nothing\n', 'b.txt': '# nothing either\n', 'c.txt': '# still nothing\n' });
    const cacheDir = join(dir.path, 'cache4');
    const prep = async (name: string) => new EnvCache(cacheDir).prepare(pythonEnv(name, `${name}.txt`, index.url), project, () => {});
    const a = await prep('a');
    await a.release();
    const b = await prep('b');
    await b.release();
    const c = await prep('c'); // kept in use
    // Age: nothing is older than a day, so an age-only pass with a day's limit removes nothing.
    assert.deepEqual(await new EnvCache(cacheDir, { maxAgeMs: 24 * 3600_000 }).evict(), []);
    // Size: with room for none, everything not in use goes, least recently used first.
    const removed = await new EnvCache(cacheDir, { maxBytes: 0 }).evict();
    assert.deepEqual(removed, [a.hash, b.hash]);
    assert.ok(existsSync(join(cacheDir, c.hash)));
    await c.release();
    // Age: a week later, the last one goes too.
    assert.deepEqual(await new EnvCache(cacheDir, { maxAgeMs: 24 * 3600_000 }).evict(Date.now() + 7 * 24 * 3600_000), [c.hash]);
    assert.deepEqual(readdirSync(join(cacheDir, '.store')), []);
  });

  test('a node environment is installed by npm ci from the lock file; without the lock file it says so', async () => {
    const project = join(dir.path, 'p6');
    const pkg = JSON.stringify({ name: 'web', version: '1.0.0', private: true });
    const lock = JSON.stringify({ name: 'web', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'web', version: '1.0.0' } } });
    writeProject(project, { 'tools/package.json': pkg, 'tools/package-lock.json': lock, 'nolock/package.json': pkg });
    const cache = new EnvCache(join(dir.path, 'cache6'));
    const web = await cache.prepare({ kind: 'node', name: 'web', packageJson: 'tools/package.json' }, project, () => {});
    assert.equal(web.built, true);
    assert.equal(web.vars.NODE_PATH, join(web.dir, 'node_modules'));
    assert.ok(web.vars.PATH?.startsWith(join(web.dir, 'node_modules', '.bin') + ':'));
    await web.release();
    await assert.rejects(cache.prepare({ kind: 'node', name: 'nolock', packageJson: 'nolock/package.json' }, project, () => {}), /nolock\/package-lock\.json not found in the project \(`npm ci` needs the lock file/);
  });

  test('a build whose process died is taken over: its stale lock is broken and its leftovers cleared', async () => {
    const project = join(dir.path, 'p7');
    writeProject(project, { 'r.txt': '# nothing\n' });
    const cacheDir = join(dir.path, 'cache7');
    const cache = new EnvCache(cacheDir);
    const env = pythonEnv('py', 'r.txt', index.url);
    const { environmentInputs } = await import('../../src/worker/envs/inputs.js');
    const { hash } = await environmentInputs(env, project);
    // A worker killed mid-build: its lock names a process that is gone, its half-built directory is left.
    const dead = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((r) => dead.on('exit', () => r(dead.pid ?? 0)));
    const { hostname } = await import('node:os');
    writeFileSync(join(cacheDir, '.locks', `${hash}.lock`), JSON.stringify({ pid: deadPid, host: hostname(), since: Date.now() - 60_000 }));
    writeProject(join(cacheDir, '.store', `${hash}-deadbeef`), { 'pyvenv.cfg': 'half-built\n' });
    const p = await cache.prepare(env, project, () => {});
    assert.equal(p.built, true);
    await p.release();
    await cache.evict();
    assert.deepEqual(readdirSync(join(cacheDir, '.store')).filter((n) => n.endsWith('-deadbeef')), []);
    assert.deepEqual(readdirSync(join(cacheDir, '.locks')), []);
  });

  test('an interpreter that does not exist is named', async () => {
    const project = join(dir.path, 'p5');
    writeProject(project, { 'r.txt': '' });
    writeFileSync(join(project, 'r.txt'), '');
    const cache = new EnvCache(join(dir.path, 'cache5'));
    await assert.rejects(cache.prepare({ kind: 'python', name: 'old', interpreter: '/nonexistent/python3.6', requirements: null, indexUrls: [], systemSitePackages: false }, project, () => {}), /the interpreter \/nonexistent\/python3.6 does not exist/);
  });
});
