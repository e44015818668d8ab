/**
 * The `local` place: each attempt a process on this machine, started by the launcher (./local.ts) in its own
 * process group, in its own cgroup with the limits asked for (./cgroups.ts), inside the sandbox when there is
 * one (./sandbox.ts). A time limit or cancel is TERM, grace, then KILL to the whole group and cgroup. Attempts
 * die with the worker (the launcher kills them), so live()/adopt() know only this incarnation's attempts.
 */
import { execFile } from 'node:child_process';
import { cpus, hostname, totalmem } from 'node:os';
import { cgroupPrefix, createAttemptCgroup, describeLimits, showBytes, type AttemptCgroup } from './cgroups.js';
import type { Launcher, LocalProcess } from './local.js';
import { sandboxCommand, sandboxExit, sandboxRules, type Sandbox } from './sandbox.js';
import { podmanSettingsFromEnv, type PodmanSettings } from '../containers/podman.js';
import { removeStaleContainers, runContainer, type ContainerRunOptions } from './container.js';
import type { Place, PlaceAttempt, PlaceAttemptSpec, PlaceEnd, PlaceOffer, PlaceOutput, PlaceStarted } from './place.js';

export interface LocalPlaceOptions {
  readonly launcher: Launcher;
  /** Null: attempts run unsandboxed. */
  readonly sandbox: Sandbox | null;
  /** Names this worker's cgroups (a restarted worker cleans up its own). */
  readonly workerId: string;
  /** The worker's data directory: hidden inside the sandbox except the attempt's own paths. */
  readonly dataDir: string;
  /** Attempts at once (the worker's capacity). */
  readonly slots: number;
  /** What to offer instead of what is measured (`kairos worker --cpu/--memory/--gpu`). */
  readonly cpu?: number;
  readonly memoryBytes?: number;
  readonly gpu?: number;
  /** How attempts whose spec names an image run (podman); default: from KAIROS_PODMAN* (src/worker/containers/podman.ts). */
  readonly podman?: PodmanSettings;
}

export interface Gpu {
  readonly index: string;
  readonly memoryBytes: number | null;
}

/** GPUs as `nvidia-smi` lists them; none when it is not on PATH or fails. */
export function findGpus(env: NodeJS.ProcessEnv = process.env): Promise<Gpu[]> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=index,memory.total', '--format=csv,noheader'], { timeout: 20_000, env }, (err, stdout) => {
      if (err) return resolve([]);
      const gpus: Gpu[] = [];
      for (const line of stdout.split('\n')) {
        const [index, mem] = line.split(',').map((s) => s.trim());
        if (!index || !/^\d+$/.test(index)) continue;
        const m = /^(\d+)\s*MiB$/i.exec(mem ?? '');
        gpus.push({ index, memoryBytes: m ? Number(m[1]) * 1024 * 1024 : null });
      }
      resolve(gpus);
    });
  });
}

class LocalAttempt implements PlaceAttempt {
  readonly started: Promise<PlaceStarted>;
  readonly ended: Promise<PlaceEnd>;
  private resolveStarted!: (s: PlaceStarted) => void;
  private rejectStarted!: (e: Error) => void;
  private resolveEnded!: (e: PlaceEnd) => void;
  private proc: LocalProcess | null = null;
  private stopping: 'cancelled' | 'time_limit' | 'lost' | null = null;
  private stopGraceMs = 0;
  private killTimer: NodeJS.Timeout | null = null;
  private limitTimer: NodeJS.Timeout | null = null;
  private over = false;

  constructor(
    readonly name: string,
    private readonly graceMs: number,
  ) {
    this.started = new Promise((res, rej) => {
      this.resolveStarted = res;
      this.rejectStarted = rej;
    });
    this.started.catch(() => {});
    this.ended = new Promise((res) => (this.resolveEnded = res));
  }

  /** The process is running. */
  running(proc: LocalProcess, timeLimitMs: number | null): void {
    this.proc = proc;
    this.resolveStarted({ startedAt: proc.startedAt, where: `${hostname()} pid ${proc.pid}`, pid: proc.pid, procStart: proc.procStart });
    if (this.stopping) this.signal(this.stopGraceMs);
    else if (timeLimitMs !== null) this.limitTimer = setTimeout(() => void this.cancel('time_limit'), timeLimitMs);
  }

  failedToStart(err: Error): void {
    this.over = true;
    this.rejectStarted(err);
    this.resolveEnded({ reason: 'lost', exitCode: null, signal: null, detail: `could not start: ${err.message}` });
  }

  finish(end: PlaceEnd): void {
    this.over = true;
    if (this.limitTimer) clearTimeout(this.limitTimer);
    if (this.killTimer) clearTimeout(this.killTimer);
    this.resolveEnded(this.stopping ? { ...end, reason: this.stopping } : end);
  }

  get stoppedAs(): 'cancelled' | 'time_limit' | 'lost' | null {
    return this.stopping;
  }

  private signal(graceMs: number): void {
    const p = this.proc;
    if (!p) return;
    if (graceMs <= 0) return p.signalGroup('SIGKILL');
    p.signalGroup('SIGTERM');
    this.killTimer = setTimeout(() => p.signalGroup('SIGKILL'), graceMs);
  }

  cancel(why: 'cancelled' | 'time_limit' | 'lost', graceMs?: number): Promise<void> {
    if (this.over) return Promise.resolve();
    const grace = graceMs ?? this.graceMs;
    if (this.stopping) {
      // Already stopping: only a harder stop (no grace) changes anything.
      if (grace <= 0) this.proc?.signalGroup('SIGKILL');
      return Promise.resolve();
    }
    this.stopping = why;
    this.stopGraceMs = grace;
    if (this.limitTimer) clearTimeout(this.limitTimer);
    this.signal(grace);
    return Promise.resolve();
  }
}

export class LocalPlace implements Place {
  readonly kind = 'local';
  private readonly attempts = new Map<string, LocalAttempt>();
  private measured: Promise<{ offer: PlaceOffer; gpus: string[] }> | null = null;
  private readonly busyGpus = new Set<string>();
  private readonly containers: ContainerRunOptions;
  private staleRemoved: Promise<unknown> | null = null;

  constructor(private readonly o: LocalPlaceOptions) {
    this.containers = { podman: o.podman ?? podmanSettingsFromEnv(), launcher: o.launcher, workerLabel: cgroupPrefix(o.workerId) };
  }

  private measure(): Promise<{ offer: PlaceOffer; gpus: string[] }> {
    this.measured ??= (async () => {
      const found = this.o.gpu === undefined || this.o.gpu > 0 ? await findGpus() : [];
      // Told a GPU count: the first that many devices found (or indices 0…N-1 when none were).
      const gpus = this.o.gpu === undefined ? found.map((g) => g.index) : Array.from({ length: this.o.gpu }, (_, i) => found[i]?.index ?? String(i));
      const offer: PlaceOffer = {
        cpu: this.o.cpu ?? Math.max(1, cpus().length),
        memoryBytes: this.o.memoryBytes ?? totalmem(),
        gpu: gpus.length,
        maxTimeMs: null,
        slots: this.o.slots,
      };
      return { offer, gpus };
    })();
    return this.measured;
  }

  async offer(): Promise<PlaceOffer> {
    return (await this.measure()).offer;
  }

  /** The watchdog of the launcher: every attempt is killed unless this is called again within `ms`. */
  watchdog(ms: number): void {
    this.o.launcher.watchdog(ms);
  }

  async start(spec: PlaceAttemptSpec): Promise<PlaceAttempt> {
    if (this.attempts.has(spec.name)) throw new Error(`attempt ${spec.name} is already running here`);
    const { gpus } = await this.measure();
    const attempt = new LocalAttempt(spec.name, spec.graceMs);
    this.attempts.set(spec.name, attempt);
    const note = (line: string) => spec.note?.(line);
    const limits = { memoryBytes: spec.resources.memoryBytes ?? null, cpu: spec.resources.cpu ?? null };
    // Each attempt sees only its own GPUs; one that asked for none, none (when this machine has any).
    let devices: string[] = [];
    const env: Record<string, string> = { ...spec.env };
    if (spec.resources.gpuDevices) devices = [...spec.resources.gpuDevices];
    else if ((spec.resources.gpu ?? 0) > 0) {
      devices = gpus.filter((g) => !this.busyGpus.has(g)).slice(0, spec.resources.gpu);
      if (devices.length < (spec.resources.gpu ?? 0)) {
        this.attempts.delete(spec.name);
        throw new Error(`asks for ${spec.resources.gpu} GPUs; ${devices.length} of this machine's ${gpus.length} are free`);
      }
    }
    for (const d of devices) this.busyGpus.add(d);
    if (gpus.length > 0 || devices.length > 0) env.CUDA_VISIBLE_DEVICES = devices.join(',');
    let cgroup: AttemptCgroup | null = null;
    const release = async () => {
      await cgroup?.remove();
      for (const d of devices) this.busyGpus.delete(d);
      this.attempts.delete(spec.name);
    };
    if (spec.image) {
      try {
        // Containers of an earlier incarnation of this worker (attempts die with the worker), once.
        this.staleRemoved ??= removeStaleContainers(this.containers, new Set()).catch(() => 0);
        await this.staleRemoved;
        const limits2 = describeLimits(limits, 'podman');
        if (limits.memoryBytes !== null || limits.cpu !== null) note(limits2);
        const { proc, ended } = await runContainer(this.containers, spec, env, devices, () => attempt.stoppedAs !== null);
        attempt.running(proc, spec.timeLimitMs);
        void ended.then(async (exit) => {
          const end: PlaceEnd =
            exit.oom && attempt.stoppedAs === null
              ? { reason: 'oom', exitCode: exit.exitCode, signal: exit.signal, detail: `out of memory (limit ${showBytes(limits.memoryBytes ?? 0)})` }
              : { reason: exit.signal ? 'signal' : 'exit_code', exitCode: exit.exitCode, signal: exit.signal };
          await release();
          attempt.finish(end);
        });
      } catch (err) {
        await release();
        attempt.failedToStart(err instanceof Error ? err : new Error(String(err)));
        throw err;
      }
      return attempt;
    }
    try {
      cgroup = createAttemptCgroup(`${cgroupPrefix(this.o.workerId)}-${spec.name.replace(/^kairos-/, '')}`, limits, { pidNamespace: this.o.sandbox !== null });
      if (cgroup?.limited) note(describeLimits(limits, cgroup.description));
      else if (!cgroup && (limits.memoryBytes !== null || limits.cpu !== null)) {
        const how = limits.memoryBytes !== null ? 'no usable cgroup here: memory as an address-space limit' : 'no usable cgroup here';
        note(describeLimits(limits, how) + (limits.cpu !== null ? '; the cpu limit is not enforced' : ''));
      }
      const sandbox = this.o.sandbox;
      const view = { dataDir: this.o.dataDir, readOnly: spec.paths.readOnly, writable: spec.paths.writable, writableFiles: spec.paths.writableFiles, cwd: spec.cwd };
      const first = spec.paths.writable[0];
      const proc = await this.o.launcher.launch({
        command: sandbox?.kind === 'bwrap' ? sandboxCommand(sandbox, spec.command, view) : spec.command,
        ...(sandbox?.kind === 'native' ? { sandbox: sandboxRules(sandbox, view) } : {}),
        cwd: spec.cwd,
        env,
        mkdirs: spec.paths.writable,
        ...(first !== undefined ? { spool: `${first}.spool` } : {}),
        ...(spec.pace ? { pace: () => spec.pace?.() ?? Promise.resolve() } : {}),
        ...(cgroup ? { cgroupProcs: cgroup.procs } : limits.memoryBytes !== null ? { rlimitAs: limits.memoryBytes } : {}),
        onLines: (stream, lines, more) => spec.onLines(stream, lines, more),
      });
      attempt.running(proc, spec.timeLimitMs);
      const cg = cgroup;
      void (async () => {
        const exit = sandbox ? sandboxExit(await proc.exited) : await proc.exited;
        // Descendants that left the process group (setsid, nohup + setsid) are still in the cgroup.
        await cg?.killAll();
        let end: PlaceEnd;
        if (attempt.stoppedAs === null && cg?.oomKilled()) end = { reason: 'oom', exitCode: exit.exitCode, signal: exit.signal, detail: `out of memory (limit ${showBytes(limits.memoryBytes ?? 0)})` };
        else end = { reason: exit.signal ? 'signal' : 'exit_code', exitCode: exit.exitCode, signal: exit.signal };
        if (exit.outputLost) end = { ...end, outputLost: true };
        await release();
        attempt.finish(end);
      })();
    } catch (err) {
      await release();
      attempt.failedToStart(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    return attempt;
  }

  live(): Promise<string[]> {
    return Promise.resolve([...this.attempts.keys()]);
  }

  /** Local attempts die with the worker: only one this place is running can be followed (its output keeps its first consumer). */
  adopt(name: string, _output: PlaceOutput): Promise<PlaceAttempt | null> {
    return Promise.resolve(this.attempts.get(name) ?? null);
  }

  async end(name: string): Promise<void> {
    const a = this.attempts.get(name);
    if (!a) return;
    await a.cancel('lost', 0);
    await a.ended;
  }

  async health(): Promise<{ ok: boolean; detail: string }> {
    const o = await this.offer();
    return { ok: true, detail: `local on ${hostname()}: ${o.cpu} cpu, memory ${showBytes(o.memoryBytes)}, ${o.gpu} gpu, ${this.attempts.size} of ${o.slots} running` };
  }

  async close(): Promise<void> {
    this.o.launcher.close();
    // Containers do not die with the launcher: this place's own are removed (and so are any left from before).
    if (this.staleRemoved) await removeStaleContainers(this.containers, new Set()).catch(() => 0);
  }
}
