/**
 * The place conformance suite: what every place (src/worker/places/place.ts) must do, run against each of them
 * (test/places/local.test.ts, test/places/slurm.test.ts, test/places/kubernetes.test.ts). Waits on states, never on tight wall-clock limits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunCommand } from '../../src/model/job.js';
import { parsePlaceAttemptName, placeAttemptName, PLACE_END_REASONS, type Place, type PlaceAttemptSpec } from '../../src/worker/places/place.js';

export interface ConformanceOptions {
  /** A directory every node of the place sees (the cwd and files of the attempts go there). */
  readonly dir: () => string;
  /** The place enforces a memory limit and tells an out-of-memory kill ('oom'). */
  readonly limitsMemory: boolean;
  /** A time limit the place can enforce quickly (local: 1 s; a cluster may need more). */
  readonly timeLimitMs?: number;
  /** Grace between TERM and KILL in the tests. */
  readonly graceMs?: number;
  /** Each test's longest wait for an attempt to end. */
  readonly endWithinMs?: number;
  /** The place gives stdout and stderr as one stream (Kubernetes: the pod log), so stderr lines come as stdout. */
  readonly mergesStreams?: boolean;
  /** A command that allocates far more than 64 MiB (default: python3); a container image may lack python3. */
  readonly oomCommand?: RunCommand;
}

let seq = 0;
/** A fresh run id for each attempt of the suite (names must not collide across tests or runs of the suite). */
function runId(): string {
  return `conf${Date.now().toString(36)}${(seq++).toString(36)}`;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function placeConformance(name: string, makePlace: () => Promise<Place>, o: ConformanceOptions): void {
  const endWithin = o.endWithinMs ?? 120_000;
  describe(`place conformance: ${name}`, () => {
    let place: Place;
    before(async () => {
      place = await makePlace();
    });
    after(async () => {
      for (const n of await place.live()) await place.end(n);
      await place.close();
    });

    const spec = (command: RunCommand, over: Partial<PlaceAttemptSpec> = {}): PlaceAttemptSpec & { out: { stream: string; line: string }[] } => {
      const out: { stream: string; line: string }[] = [];
      const id = runId();
      const dir = join(o.dir(), id);
      mkdirSync(dir, { recursive: true });
      return {
        out,
        name: placeAttemptName(id, 1),
        command,
        cwd: dir,
        env: { CONFORMANCE_SECRET: 's3cr3t-value' },
        resources: {},
        timeLimitMs: null,
        graceMs: o.graceMs ?? 1000,
        paths: { readOnly: [], writable: [join(dir, 'artifacts')], writableFiles: [] },
        onLines: (stream, lines) => {
          for (const line of lines) out.push({ stream, line });
        },
        ...over,
      };
    };
    const sh = (script: string): RunCommand => ({ kind: 'shell', script });

    test('names are deterministic from run id and attempt, and parse back', () => {
      assert.equal(placeAttemptName('01abc', 2), 'kairos-01abc-2');
      assert.deepEqual(parsePlaceAttemptName('kairos-01abc-2'), { runId: '01abc', attempt: 2 });
      assert.equal(parsePlaceAttemptName('something-else'), null);
    });

    test('offer() is sane', async () => {
      const offer = await place.offer();
      assert.ok(offer.cpu > 0, `cpu ${offer.cpu}`);
      assert.ok(offer.memoryBytes > 0, `memory ${offer.memoryBytes}`);
      assert.ok(Number.isInteger(offer.gpu) && offer.gpu >= 0, `gpu ${offer.gpu}`);
      assert.ok(Number.isInteger(offer.slots) && offer.slots >= 1, `slots ${offer.slots}`);
      assert.ok(offer.maxTimeMs === null || offer.maxTimeMs > 0);
      const h = await place.health();
      assert.equal(h.ok, true, h.detail);
    });

    test('runs in its cwd with its environment, and exits 0 as exit_code 0', async () => {
      const s = spec(sh('echo "cwd=$(pwd)"; echo "secret=$CONFORMANCE_SECRET"; echo to-stderr >&2'));
      const a = await place.start(s);
      assert.equal(a.name, s.name);
      const started = await within(a.started, endWithin, 'started');
      assert.ok(started.startedAt > 0);
      const end = await within(a.ended, endWithin, 'ended');
      assert.equal(end.reason, 'exit_code');
      assert.equal(end.exitCode, 0);
      const lines = s.out.map((l) => l.line);
      assert.ok(lines.includes(`cwd=${s.cwd}`), lines.join('\n'));
      assert.ok(lines.includes('secret=s3cr3t-value'), lines.join('\n'));
      assert.deepEqual(s.out.find((l) => l.line === 'to-stderr'), { stream: o.mergesStreams ? 'stdout' : 'stderr', line: 'to-stderr' });
    });

    test('streams lines in order while the attempt runs', async () => {
      const gate = join(o.dir(), `gate-${runId()}`);
      const s = spec(sh(`echo first; while [ ! -e ${gate} ]; do sleep 0.1; done; i=1; while [ $i -le 300 ]; do echo "line $i"; i=$((i+1)); done`));
      const a = await place.start(s);
      // The first line arrives while the attempt still waits for the gate: it was streamed, not kept to the end.
      await until(() => s.out.some((l) => l.line === 'first'), endWithin, 'the first line');
      let over = false;
      void a.ended.then(() => (over = true));
      assert.equal(over, false, 'the attempt ended before the gate opened');
      writeFileSync(gate, '');
      const end = await within(a.ended, endWithin, 'ended');
      assert.equal(end.exitCode, 0);
      const lines = s.out.filter((l) => l.stream === 'stdout').map((l) => l.line);
      assert.deepEqual(lines, ['first', ...Array.from({ length: 300 }, (_, i) => `line ${i + 1}`)]);
    });

    test('a non-zero exit is exit_code with its code', async () => {
      const a = await place.start(spec(sh('exit 3')));
      const end = await within(a.ended, endWithin, 'ended');
      assert.deepEqual([end.reason, end.exitCode], ['exit_code', 3]);
    });

    test('death by a signal is signal, with its name', async () => {
      const a = await place.start(spec(sh('kill -KILL $$')));
      const end = await within(a.ended, endWithin, 'ended');
      assert.equal(end.reason, 'signal');
      assert.equal(end.signal, 'SIGKILL');
    });

    test('past its time limit, the attempt ends as time_limit', async () => {
      const a = await place.start(spec(sh('sleep 300'), { timeLimitMs: o.timeLimitMs ?? 1000 }));
      const end = await within(a.ended, endWithin, 'ended');
      assert.equal(end.reason, 'time_limit');
    });

    test('cancel ends it as cancelled, grandchildren included', async () => {
      const s = spec(sh('(sleep 300; echo survived) & echo started; sleep 300'));
      const a = await place.start(s);
      await until(() => s.out.some((l) => l.line === 'started'), endWithin, 'started');
      await a.cancel('cancelled');
      const end = await within(a.ended, endWithin, 'ended');
      assert.equal(end.reason, 'cancelled');
      assert.ok(!s.out.some((l) => l.line === 'survived'));
    });

    test('a command that cannot run still ends (exit_code, not a hang)', async () => {
      const a = await place.start(spec({ kind: 'argv', argv: ['/nonexistent/kairos-conformance'] })).catch((err: unknown) => err);
      if (a instanceof Error) return; // refused at start: also fine
      const end = await within((a as Awaited<ReturnType<Place['start']>>).ended, endWithin, 'ended');
      assert.ok(PLACE_END_REASONS.includes(end.reason));
      assert.notEqual(end.exitCode, 0);
    });

    test('out of memory is oom where the place limits memory', { skip: !o.limitsMemory }, async () => {
      const s = spec(o.oomCommand ?? { kind: 'argv', argv: ['python3', '-c', 'x = bytearray(300 * 1024 * 1024); print("allocated")'] }, { resources: { memoryBytes: 64 * 1024 * 1024 } });
      const a = await place.start(s);
      const end = await within(a.ended, endWithin, 'ended');
      assert.equal(end.reason, 'oom', JSON.stringify(end));
      assert.ok(!s.out.some((l) => l.line === 'allocated'));
    });

    test('live() lists a running attempt by name; adopt() finds it; end() ends it', async () => {
      const s = spec(sh('echo up; sleep 300'));
      const a = await place.start(s);
      await until(() => s.out.some((l) => l.line === 'up'), endWithin, 'up');
      assert.ok((await place.live()).includes(s.name));
      const adopted = await place.adopt(s.name, { onLines: () => {} });
      assert.ok(adopted, 'adopt() found nothing');
      assert.equal(adopted.name, s.name);
      assert.equal(await place.adopt(placeAttemptName(runId(), 1), { onLines: () => {} }), null);
      await place.end(s.name);
      const end = await within(a.ended, endWithin, 'ended');
      assert.notEqual(end.reason, 'exit_code');
      await until(async () => !(await place.live()).includes(s.name), endWithin, 'gone from live()');
      // Ending what is gone is no error.
      await place.end(s.name);
    });

    test('a writable directory is made before the attempt starts', async () => {
      const s = spec(sh('touch "$OUT/made"'));
      const dir = s.paths.writable[0] ?? '';
      const a = await place.start({ ...s, env: { ...s.env, OUT: dir } });
      const end = await within(a.ended, endWithin, 'ended');
      assert.equal(end.exitCode, 0);
      assert.ok(existsSync(join(dir, 'made')));
    });
  });
}
