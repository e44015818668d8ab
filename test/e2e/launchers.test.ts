/**
 * One conformance suite for both ways of starting a job on this machine: the native launcher (built from
 * src/worker/places/launcher.c at install) and the Node.js launcher (the fallback without a C compiler).
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLauncher, NATIVE_LAUNCHER } from '../../src/worker/places/launchers.js';
import { processStartTime, type LaunchSpec } from '../../src/worker/places/local.js';
import { isAlive, tempDir, waitFor } from '../helpers.js';

for (const kind of ['native', 'node'] as const) {
  describe(`${kind} launcher`, () => {
    if (kind === 'native' && !existsSync(NATIVE_LAUNCHER)) {
      // CI builds it (KAIROS_REQUIRE_NATIVE=1 makes a failed build an error there).
      test('is built', () => assert.fail(`${NATIVE_LAUNCHER} is missing: run npm run build with a C compiler`));
      return;
    }
    const launcher = createLauncher({ PATH: process.env.PATH ?? '/usr/bin:/bin', BASE_ONLY: 'base' }, kind === 'node' ? 'node' : 'native');
    const dir = tempDir();
    after(() => {
      launcher.close();
      dir.cleanup();
    });
    const collect = () => {
      const lines: [string, string][] = [];
      return { lines, onLines: (stream: 'stdout' | 'stderr', ls: readonly string[]) => ls.forEach((l) => lines.push([stream, l])) };
    };
    const spec = (over: Partial<LaunchSpec> & Pick<LaunchSpec, 'command' | 'onLines'>): LaunchSpec => ({ cwd: dir.path, env: {}, mkdirs: [], ...over });

    test('runs an argv command with the base and job environment, in its cwd, and reports its exit code', async () => {
      const c = collect();
      const p = await launcher.launch(spec({ command: { kind: 'argv', argv: ['sh', '-c', 'echo "$BASE_ONLY $JOB_VAR $(pwd)"; echo oops >&2; exit 7'] }, env: { JOB_VAR: 'job' }, onLines: c.onLines }));
      assert.ok(p.pid > 0);
      assert.ok(Math.abs(p.startedAt - Date.now()) < 10_000);
      const exit = await p.exited;
      assert.equal(exit.exitCode, 7);
      assert.deepEqual(c.lines, [['stdout', `base job ${dir.path}`], ['stderr', 'oops']]);
    });

    test('keeps every line in order, including a last line without a newline', async () => {
      const c = collect();
      const p = await launcher.launch(spec({ command: { kind: 'shell', script: 'i=0; while [ $i -lt 3000 ]; do echo "n $i"; i=$((i+1)); done; printf tail' }, onLines: c.onLines }));
      assert.equal((await p.exited).exitCode, 0);
      assert.equal(c.lines.length, 3001);
      c.lines.slice(0, 3000).forEach(([, l], i) => assert.equal(l, `n ${i}`));
      assert.deepEqual(c.lines[3000], ['stdout', 'tail']);
    });

    test('with a spool, a fast writer is never held back and every line still arrives in order', async () => {
      const c = collect();
      const spool = join(dir.path, `spool-${kind}`);
      let paced = 0;
      const p = await launcher.launch(
        spec({
          command: { kind: 'argv', argv: ['python3', '-c', "import sys\nfor i in range(200000): sys.stdout.write('line %d\\n' % i)\nsys.stderr.write('end\\n')"] },
          spool,
          pace: async () => {
            paced++;
          },
          onLines: c.onLines,
        }),
      );
      assert.equal((await p.exited).exitCode, 0);
      const out = c.lines.filter(([s]) => s === 'stdout').map(([, l]) => l);
      assert.equal(out.length, 200000);
      out.forEach((l, i) => l === `line ${i}` || assert.fail(`line ${i} is ${l}`));
      assert.deepEqual(c.lines.filter(([s]) => s === 'stderr'), [['stderr', 'end']]);
      if (kind === 'native') {
        assert.ok(paced > 0, 'the reader paced itself');
        assert.equal(existsSync(spool), false, 'the spool is removed once read');
      }
    });

    test('a spooled job leaves no spool file behind, whether it printed nothing, only to stderr or only to stdout', async () => {
      const cases = [
        { name: 'silent', script: 'exit 3', code: 3, lines: [] },
        { name: 'stderr', script: 'echo e >&2', code: 0, lines: [['stderr', 'e']] },
        { name: 'stdout', script: 'echo o', code: 0, lines: [['stdout', 'o']] },
      ];
      for (const k of cases) {
        const c = collect();
        const spool = join(dir.path, `spool-${kind}-${k.name}`);
        const p = await launcher.launch(spec({ command: { kind: 'shell', script: k.script }, spool, onLines: c.onLines }));
        const exit = await p.exited;
        assert.equal(exit.exitCode, k.code, k.name);
        assert.equal(exit.outputLost, undefined, `${k.name}: no output lost`);
        assert.deepEqual(c.lines, k.lines, k.name);
        assert.deepEqual([existsSync(spool), existsSync(`${spool}.out`)], [false, false], `${k.name}: the spool files are gone once the exit is reported`);
      }
    });

    if (kind === 'native') {
      test('a job whose output fills the spool\'s disk: what was written arrives in order, and the exit says output was lost', async (t) => {
        // A 1 MB tmpfs this test mounts (the tests run as root) under a job printing 4 MB: its own writes to its
        // stdout file fail (Python exits 1), and its traceback on stderr finds no room in the spool either.
        const small = join(dir.path, 'small-disk');
        mkdirSync(small);
        const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small], { encoding: 'utf8' });
        assert.equal(mount.status, 0, `mounting a 1 MB tmpfs: ${mount.stderr}`);
        t.after(() => void spawnSync('umount', ['-l', small]));
        const c = collect();
        const p = await launcher.launch(
          spec({
            command: { kind: 'argv', argv: ['python3', '-c', "import sys\nfor i in range(40000): sys.stdout.write('%06d %s\\n' % (i, 'x' * 93))"] },
            spool: join(small, 'spool'),
            onLines: c.onLines,
          }),
        );
        const exit = await p.exited;
        assert.equal(exit.exitCode, 1, 'the job failed on its own write');
        assert.equal(exit.outputLost, true, 'the exit says output was lost');
        const out = c.lines.filter(([st]) => st === 'stdout').map(([, l]) => l);
        assert.ok(out.length > 1000 && out.length < 40000, `what fitted arrived (${out.length} lines)`);
        out.slice(0, -1).forEach((l, i) => l.startsWith(String(i).padStart(6, '0')) || assert.fail(`line ${i} is ${l.slice(0, 20)}`));
        assert.deepEqual(readdirSync(small), [], 'the spool files are gone');
        // Room again: the next job's output is whole, and nothing is said lost.
        const c2 = collect();
        const p2 = await launcher.launch(spec({ command: { kind: 'shell', script: 'echo fine; exit 4' }, spool: join(small, 'spool2'), onLines: c2.onLines }));
        const exit2 = await p2.exited;
        assert.deepEqual([exit2.exitCode, exit2.outputLost, c2.lines], [4, undefined, [['stdout', 'fine']]]);
      });
    }

    if (kind === 'native') {
      test('reading a large backlog of spooled output leaves the event loop free for timers (heartbeats)', async () => {
        // The job writes 400 MB while this test holds the event loop, so that once it lets go the whole backlog
        // is announced at once: the reader must still give timers a turn as it goes (it reads synchronously).
        const c = { lines: 0 };
        const ticks: number[] = [];
        const timer = setInterval(() => ticks.push(performance.now()), 5);
        try {
          const p = await launcher.launch(
            spec({
              command: { kind: 'argv', argv: ['python3', '-c', "import sys\nb = ('x' * 99 + '\\n') * 10000\nfor _ in range(400): sys.stdout.write(b)"] },
              spool: join(dir.path, 'spool-backlog'),
              pace: () => Promise.resolve(),
              onLines: (_stream, ls) => void (c.lines += ls.length),
            }),
          );
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
          const held = performance.now();
          assert.equal((await p.exited).exitCode, 0);
          const seen = [held, ...ticks.filter((t) => t > held), performance.now()];
          const gaps = seen.slice(1).map((t, i) => t - (seen[i] ?? t));
          assert.equal(c.lines, 4_000_000, 'every line arrived');
          assert.ok(Math.max(...gaps) < 500, `the longest the timers waited while the backlog was read: ${Math.max(...gaps).toFixed(0)} ms (${seen.length} ticks)`);
        } finally {
          clearInterval(timer);
        }
      });
    }

    test('creates the directories it is asked for before the process starts', async () => {
      const want = join(dir.path, 'a', 'b', 'c');
      const p = await launcher.launch(spec({ command: { kind: 'argv', argv: ['test', '-d', want] }, mkdirs: [want], onLines: () => {} }));
      assert.equal((await p.exited).exitCode, 0);
    });

    test('a signal reaches the whole process group, and nothing of the group outlives the command', async () => {
      const pidFile = join(dir.path, `pids-${kind}`);
      const c = collect();
      const p = await launcher.launch(spec({ command: { kind: 'shell', script: `sleep 300 & echo $! > ${pidFile}; echo ready; wait` }, onLines: c.onLines }));
      await waitFor('ready', () => c.lines.length > 0);
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      assert.ok(isAlive(grandchild));
      // Its identity for a worker that restarts: the pid with the start time the kernel gives that process.
      assert.match(String(p.procStart), /^\d+$/);
      assert.equal(p.procStart, processStartTime(p.pid));
      p.signalGroup('SIGTERM');
      const exit = await p.exited;
      assert.equal(exit.exitCode, 143);
      await waitFor('the grandchild to be gone', () => !isAlive(grandchild), 5000);
    });

    test('background processes left behind by a finished command are killed', async () => {
      const pidFile = join(dir.path, `bg-${kind}`);
      const p = await launcher.launch(spec({ command: { kind: 'shell', script: `sleep 300 > /dev/null 2>&1 & echo $! > ${pidFile}` }, onLines: () => {} }));
      assert.equal((await p.exited).exitCode, 0);
      const bg = Number(readFileSync(pidFile, 'utf8'));
      await waitFor('the background process to be gone', () => !isAlive(bg), 5000);
    });

    test('a command that does not exist is refused with a clear error', async () => {
      await assert.rejects(launcher.launch(spec({ command: { kind: 'argv', argv: ['/no/such/program'] }, onLines: () => {} })), /no\/such\/program|ENOENT|No such file/);
      await assert.rejects(launcher.launch(spec({ command: { kind: 'argv', argv: ['true'] }, cwd: join(dir.path, 'missing-dir'), onLines: () => {} })));
    });

    test('the watchdog kills every job when the worker does not renew it in time', async () => {
      const c = collect();
      const p = await launcher.launch(spec({ command: { kind: 'shell', script: 'echo up; sleep 300' }, onLines: c.onLines }));
      await waitFor('the job', () => c.lines.length > 0);
      launcher.watchdog(300);
      const exit = await p.exited;
      assert.equal(exit.exitCode, 137);
      launcher.watchdog(0);
    });

    test('invalid UTF-8 becomes replacement characters, not an error', async () => {
      const c = collect();
      const p = await launcher.launch(spec({ command: { kind: 'shell', script: "printf 'ok \\377\\376 done\\n'" }, onLines: c.onLines }));
      await p.exited;
      assert.deepEqual(c.lines, [['stdout', 'ok \uFFFD\uFFFD done']]);
    });
  });
}
