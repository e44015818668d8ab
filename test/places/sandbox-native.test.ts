/**
 * The native sandbox (src/worker/places/launcher.c, "The sandbox"; docs/isolation.md): how a worker chooses it,
 * and what a job started in it through the real native launcher sees and reports. The attacks between projects
 * are in test/e2e/isolation.test.ts, for both ways of making the sandbox.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLauncher } from '../../src/worker/places/launchers.js';
import { NodeLauncher, type LaunchSpec, type ProcessExit } from '../../src/worker/places/local.js';
import { resolveSandbox, sandboxExit, sandboxRules, type NativeSandbox } from '../../src/worker/places/sandbox.js';
import { cli, tempDir, waitFor } from '../helpers.js';

describe('choosing the sandbox', () => {
  test('auto is the native sandbox as root, bwrap when the native launcher is not used', () => {
    assert.equal(process.getuid?.(), 0, 'these tests run as root (CI does)');
    assert.equal(resolveSandbox({ mode: 'auto' })?.kind, 'native');
    assert.equal(resolveSandbox({ mode: 'auto' }, 'node')?.kind, 'bwrap');
    assert.equal(resolveSandbox({ mode: 'none' }), null);
  });

  test('--sandbox native where it cannot be made exits 2 with the reason and starts nothing', async () => {
    const r = await cli(['worker', '--server', 'http://127.0.0.1:9', '--sandbox', 'native'], { env: { KAIROS_LAUNCHER: 'node' } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--sandbox native: KAIROS_LAUNCHER=node/);
  });

  test('an unknown --sandbox is bad usage, naming the four', async () => {
    const r = await cli(['worker', '--server', 'http://127.0.0.1:9', '--sandbox', 'chroot']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--sandbox must be one of auto, native, bwrap, none; got "chroot"/);
  });
});

describe('a job in the native sandbox', () => {
  const dir = tempDir('kairos-native-sb-');
  const data = join(dir.path, 'data');
  const bundle = join(data, 'bundles', 'b1');
  mkdirSync(bundle, { recursive: true });
  mkdirSync(join(data, 'attempts'), { recursive: true });
  writeFileSync(join(bundle, 'own.txt'), 'own bundle\n');
  writeFileSync(join(data, 'secret.key'), 'not for jobs\n');
  const shared = join(dir.path, 'shared');
  mkdirSync(shared);
  const sb = resolveSandbox({ mode: 'native', bind: [shared] }) as NativeSandbox;
  const launcher = createLauncher({ PATH: '/usr/bin:/bin' });
  after(() => {
    launcher.close();
    dir.cleanup();
  });
  let n = 0;
  const start = async (script: string, over: Partial<LaunchSpec> = {}) => {
    const art = join(data, 'attempts', `a${++n}`);
    const view = { dataDir: data, readOnly: [bundle], writable: [art], writableFiles: [`${art}.output.jsonl`], cwd: bundle };
    const lines: string[] = [];
    const p = await launcher.launch({
      command: { kind: 'shell', script },
      sandbox: sandboxRules(sb, view),
      cwd: bundle,
      env: { JOB_VAR: 'job-value', ART: art },
      mkdirs: [art],
      onLines: (_s, ls) => lines.push(...ls),
      ...over,
    });
    return { p, lines, art, exit: async (): Promise<ProcessExit> => sandboxExit(await p.exited) };
  };

  test('sees its own bundle and processes, the machine read-only, its own /tmp, nothing of the data directory, and no capabilities', async () => {
    const j = await start(
      [
        'cat own.txt',
        'echo "pid $$"',
        'echo "procs $(ls /proc | grep -c "^[0-9]")"',
        'ls -A ../../ | tr "\\n" " "; echo',
        'cat ../../secret.key 2>/dev/null || echo "no key"',
        'touch /usr/kairos-native-probe 2>/dev/null && echo "wrote machine" || echo "machine read-only"',
        // (the data directory lives under /tmp here: the mount points of what was put back are made in the fresh /tmp)
        'echo t > /tmp/t && echo "tmp $(ls -A /tmp | grep -v "^kairos-native-sb-" | tr "\\n" " ")"',
        'echo art > "$ART/out.txt" && echo "artifacts writable"',
        `echo s > ${shared}/from-job && echo "shared writable"`,
        'grep CapEff /proc/self/status',
        'head -c 1 /dev/vda 2>/dev/null || echo "no disks"',
        'echo x > /dev/null && echo "dev null"',
        'cat /proc/1/environ 2>/dev/null || echo "init unreadable"',
        'echo "var $JOB_VAR"',
      ].join('\n'),
    );
    const exit = await j.exit();
    assert.deepEqual(exit, { exitCode: 0, signal: null }, j.lines.join('\n'));
    const out = j.lines;
    assert.ok(out.includes('own bundle'), out.join('\n'));
    assert.ok(out.includes('pid 2'), 'the job is PID 2 of its namespace (1 is its init)');
    const procs = Number(out.find((l) => l.startsWith('procs '))?.slice(6));
    assert.ok(procs >= 2 && procs <= 6, `only its own processes in /proc: ${procs}`);
    // The data directory holds only what was put back: the bundles and this attempt's own artifacts.
    assert.ok(out.includes('attempts bundles '), out.join('\n'));
    for (const l of ['no key', 'machine read-only', 'tmp t ', 'artifacts writable', 'shared writable', 'CapEff:\t0000000000000000', 'no disks', 'dev null', 'init unreadable', 'var job-value']) assert.ok(out.includes(l), `${l}\n---\n${out.join('\n')}`);
    assert.equal(readFileSync(join(j.art, 'out.txt'), 'utf8'), 'art\n');
    assert.equal(readFileSync(join(shared, 'from-job'), 'utf8'), 's\n');
  });

  test('TERM to the process group reaches the job, which may handle it; a job killed by a signal reports that signal', async () => {
    const trap = await start('trap "echo got TERM; exit 3" TERM; echo ready; sleep 30 & wait');
    await waitFor('the job to be ready', () => trap.lines.includes('ready'));
    trap.p.signalGroup('SIGTERM');
    assert.deepEqual(await trap.exit(), { exitCode: 3, signal: null });
    assert.ok(trap.lines.includes('got TERM'));
    const plain = await start('echo ready; exec sleep 30');
    await waitFor('the job to be ready', () => plain.lines.includes('ready'));
    plain.p.signalGroup('SIGTERM');
    assert.deepEqual(await plain.exit(), { exitCode: 143, signal: 'SIGTERM' });
    const killed = await start('echo ready; trap "" TERM; sleep 30');
    await waitFor('the job to be ready', () => killed.lines.includes('ready'));
    killed.p.signalGroup('SIGKILL');
    assert.equal((await killed.exit()).signal, 'SIGKILL');
  });

  test('what it leaves running ends with it, even outside its process group', async () => {
    const j = await start('setsid sleep 317 & sleep 317 & until [ "$(pgrep -c -x sleep)" = 2 ]; do sleep 0.05; done; echo started; until [ -e "$ART/go" ]; do sleep 0.05; done');
    await waitFor('the job to start', () => j.lines.includes('started'));
    assert.equal(procsWith('sleep\u0000317\u0000').length >= 2, true, 'its sleeps run on the machine');
    writeFileSync(join(j.art, 'go'), '');
    assert.deepEqual(await j.exit(), { exitCode: 0, signal: null });
    // Nothing of the job is left on the machine: its namespace died with it.
    await waitFor('no sleep 317 of the job left', () => procsWith('sleep\u0000317\u0000').length === 0);
  });

  test('a command that cannot start is a start failure that says why; the Node.js launcher refuses a sandboxed launch', async () => {
    await assert.rejects(start('true', { command: { kind: 'argv', argv: ['/nonexistent/program'] } }), /cannot start \/nonexistent\/program: No such file or directory/);
    await assert.rejects(start('true', { cwd: join(bundle, 'missing') }), /chdir .*missing: No such file or directory/);
    const node = new NodeLauncher({ PATH: '/usr/bin:/bin' });
    try {
      await assert.rejects(node.launch({ command: { kind: 'argv', argv: ['/bin/true'] }, sandbox: ['h/tmp'], cwd: '/', env: {}, mkdirs: [], onLines: () => {} }), /the native sandbox needs the native launcher/);
    } finally {
      node.close();
    }
  });
});

/** Pids of the machine's processes whose command line is exactly `cmdline` (NUL-separated). */
function procsWith(cmdline: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8') === cmdline) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}
