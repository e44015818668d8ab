/**
 * The worker's side of the native launcher (./launcher.c): frames over its stdin and stdout. Output arrives
 * as raw bytes and is split into lines here.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { constants } from 'node:os';
import { breathe } from '../../lib/breathe.js';
import { newId } from '../../model/ids.js';
import { LineSplitter } from '../lines.js';
import { endOrphanedJobs, processStartTime, type Launcher, type LaunchSpec, type LocalProcess, type ProcessExit } from './local.js';

const SPOOL_CHUNK = 1024 * 1024;

const SIGNAL_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(constants.signals).map(([k, v]) => [v, k]));

/**
 * A spooled job's output on disk: its stdout is the file `<path>.out` (announced by 'Q' frames), its stderr goes
 * to the framed spool `<path>` (announced by 'P' frames). Announcements are read in the order they came, so
 * the two streams keep the order the job printed them in, to within one read.
 */
interface Spool {
  readonly path: string;
  /** The framed spool, open for reading (read with readSync: see `readSpool`). */
  fd: number | null;
  offset: number;
  /** The stdout file, open for reading. */
  outFd: number | null;
  outOffset: number;
  pending: { src: 'out' | 'framed'; target: number }[];
  /** A framed spool file exists (a 'P' frame came). */
  framed: boolean;
  /** The launcher removed the spool files itself (the job printed nothing). */
  removed: boolean;
  reading: boolean;
  rest: Buffer;
  exit: ProcessExit | null;
}

interface Job {
  readonly spec: LaunchSpec;
  readonly spool: Spool | null;
  readonly out: LineSplitter;
  readonly err: LineSplitter;
  readonly exited: Promise<ProcessExit>;
  readonly resolveStart: (p: LocalProcess) => void;
  readonly rejectStart: (e: Error) => void;
  readonly resolveExit: (e: ProcessExit) => void;
  pid: number | null;
}

function frame(parts: readonly Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length);
  return Buffer.concat([head, body]);
}

const z = (s: string) => Buffer.from(s + '\0');
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(n))));
  return b;
};

export class NativeLauncher implements Launcher {
  private child: ChildProcessWithoutNullStreams | null = null;
  private readonly jobs = new Map<string, Job>();
  private buf: Buffer = Buffer.alloc(0);
  private closing = false;

  constructor(
    private readonly binary: string,
    private readonly baseEnv: Readonly<Record<string, string>>,
  ) {}

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.child && this.child.exitCode === null && !this.child.stdin.destroyed) return this.child;
    // Its own environment is the scrubbed base (no token of the worker's): each job's comes in its launch frame.
    const child = spawn(this.binary, [], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...this.baseEnv } }) as unknown as ChildProcessWithoutNullStreams;
    child.stdout.on('data', (c: Buffer) => this.onData(c));
    // Its pipes break only when it dies, and its exit (or spawn error) below ends its jobs.
    child.stdin.on('error', () => {});
    child.stdout.on('error', () => {});
    child.on('error', () => {
      // It could not be started (or signalled): its jobs end as if it had exited.
      if (this.child === child) this.child = null;
      endOrphanedJobs(this.jobs);
    });
    child.on('exit', () => {
      if (this.child === child) this.child = null;
      this.buf = Buffer.alloc(0);
      endOrphanedJobs(this.jobs);
    });
    this.child = child;
    return child;
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    while (this.buf.length - off >= 4) {
      const len = this.buf.readUInt32LE(off);
      if (this.buf.length - off - 4 < len) break;
      this.onFrame(this.buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
  }

  private onFrame(f: Buffer): void {
    const type = String.fromCharCode(f[0] ?? 0);
    const idEnd = f.indexOf(0, 1);
    const id = f.toString('utf8', 1, idEnd);
    const body = f.subarray(idEnd + 1);
    const j = this.jobs.get(id);
    if (!j) return;
    switch (type) {
      case 'S': {
        const pid = body.readUInt32LE(0);
        const at = Number(body.readBigInt64LE(4));
        // The launcher read the process's start time as it started it (one read of /proc less on this loop).
        const ticks = body.length >= 20 ? body.readBigUInt64LE(12) : 0n;
        j.pid = pid;
        j.resolveStart({
          pid,
          procStart: ticks > 0n ? String(ticks) : processStartTime(pid),
          startedAt: at,
          exited: j.exited,
          signalGroup: (signal) => {
            const n = constants.signals[signal];
            if (n !== undefined) this.child?.stdin.write(frame([Buffer.from('K'), z(id), u32(n)]));
          },
        });
        break;
      }
      case 'O':
        if (body[0] === 1) j.out.push(body.subarray(1));
        else j.err.push(body.subarray(1));
        break;
      case 'P':
      case 'Q':
        if (j.spool) {
          j.spool.pending.push({ src: type === 'Q' ? 'out' : 'framed', target: Number(body.readBigUInt64LE(0)) });
          if (type === 'P') j.spool.framed = true;
          void this.readSpool(id, j);
        }
        break;
      case 'X': {
        this.jobs.delete(id);
        const code = body.readInt32LE(0);
        const sig = body.readInt32LE(4);
        const exit = { exitCode: code, signal: sig ? (SIGNAL_NAMES[sig] ?? `signal ${sig}`) : null };
        if (j.spool) {
          // The output is complete in the spool: the exit is reported once all of it has been read.
          j.spool.exit = exit;
          const flags = body.length > 8 ? (body[8] ?? 0) : 0;
          j.spool.removed = (flags & 1) !== 0;
          if ((flags & 2) !== 0) j.spool.exit = { ...exit, outputLost: true };
          void this.readSpool(id, j);
        } else {
          j.out.end();
          j.err.end();
          j.resolveExit(exit);
        }
        break;
      }
      case 'E':
        this.jobs.delete(id);
        j.rejectStart(new Error(body.toString('utf8').replace(/\0+$/, '')));
        break;
    }
  }

  /** Reads a job's spool up to what the launcher announced, in order, behind the job. */
  private async readSpool(id: string, j: Job): Promise<void> {
    const sp = j.spool;
    if (!sp || sp.reading) return;
    sp.reading = true;
    try {
      // Sized to what was announced (a chatty job announces a line or two every 50 ms): a buffer of the
      // full chunk per announcement was most of this process's garbage with a hundred such jobs. Read with
      // readSync: what the launcher just wrote is in the page cache, and a promise read's trip through the
      // thread pool cost more than the read (a hundred chatty jobs announce 2,000 times a second).
      let buf: Buffer | null = null;
      for (let next = sp.pending.shift(); next; next = sp.pending.shift()) {
        const want = Math.min(SPOOL_CHUNK, Math.max(next.target - (next.src === 'out' ? sp.outOffset : sp.offset), 0));
        if (want === 0) continue;
        if (!buf || buf.length < want) buf = Buffer.allocUnsafe(Math.max(want, 4096));
        if (next.src === 'out') await this.readOut(sp, j, next.target, buf);
        else await this.readFramed(sp, j, next.target, buf);
      }
    } catch (err) {
      j.spec.onLines('stderr', [`kairos: reading the output spool failed: ${(err as Error).message}`]);
      sp.pending = [];
    } finally {
      sp.reading = false;
    }
    if (sp.exit && sp.pending.length === 0) {
      j.out.end();
      j.err.end();
      for (const fd of [sp.fd, sp.outFd]) if (fd !== null) closeSync(fd);
      sp.fd = null;
      sp.outFd = null;
      // The stdout file is made at launch; the framed spool only on the first stderr byte ('P' announced it, or
      // no write to it fitted on a full disk).
      if (!sp.removed) await Promise.all([sp.framed || sp.exit.outputLost ? unlink(sp.path).catch(() => undefined) : undefined, unlink(sp.path + '.out').catch(() => undefined)]);
      j.resolveExit(sp.exit);
      sp.exit = null;
    } else if (sp.pending.length > 0) {
      void this.readSpool(id, j);
    }
  }

  /** The job's stdout file, raw, up to `target` bytes. */
  private async readOut(sp: Spool, j: Job, target: number, buf: Buffer): Promise<void> {
    while (sp.outOffset < target) {
      sp.outFd ??= openSync(sp.path + '.out', 'r');
      const bytesRead = readSync(sp.outFd, buf, 0, Math.min(buf.length, target - sp.outOffset), sp.outOffset);
      if (bytesRead === 0) break;
      sp.outOffset += bytesRead;
      j.out.push(buf.subarray(0, bytesRead));
      await j.spec.pace?.();
      await breathe();
    }
  }

  /** The framed spool (stream byte, u32 length, bytes), up to `target` bytes. */
  private async readFramed(sp: Spool, j: Job, target: number, buf: Buffer): Promise<void> {
    while (sp.offset < target) {
      sp.fd ??= openSync(sp.path, 'r');
      const bytesRead = readSync(sp.fd, buf, 0, Math.min(buf.length, target - sp.offset), sp.offset);
      if (bytesRead === 0) break;
      sp.offset += bytesRead;
      const data: Buffer = sp.rest.length > 0 ? Buffer.concat([sp.rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let off = 0;
      while (data.length - off >= 5) {
        const len = data.readUInt32LE(off + 1);
        if (data.length - off - 5 < len) break;
        const chunk = data.subarray(off + 5, off + 5 + len);
        if (data[off] === 1) j.out.push(chunk);
        else j.err.push(chunk);
        off += 5 + len;
      }
      sp.rest = Buffer.from(data.subarray(off));
      await j.spec.pace?.();
      await breathe();
    }
  }

  launch(spec: LaunchSpec): Promise<LocalProcess> {
    if (this.closing) return Promise.reject(new Error('the launcher is closed'));
    const argv = spec.command.kind === 'shell' ? ['/bin/sh', '-c', spec.command.script] : [...spec.command.argv];
    const env = Object.entries({ ...this.baseEnv, ...spec.env }).map(([k, v]) => `${k}=${v}`);
    const rules = spec.sandbox ?? [];
    const all = [...argv, ...env, spec.cwd, ...spec.mkdirs, ...rules];
    if (all.some((s) => s.includes('\0'))) return Promise.reject(new Error('an argument or environment value contains a NUL byte'));
    const id = newId();
    return new Promise<LocalProcess>((resolveStart, rejectStart) => {
      let resolveExit: (e: ProcessExit) => void = () => {};
      const exited = new Promise<ProcessExit>((r) => (resolveExit = r));
      const out = new LineSplitter((l, more) => spec.onLines('stdout', [l], more));
      const err = new LineSplitter((l, more) => spec.onLines('stderr', [l], more));
      const spool: Spool | null = spec.spool ? { path: spec.spool, fd: null, offset: 0, outFd: null, outOffset: 0, pending: [], framed: false, removed: false, reading: false, rest: Buffer.alloc(0), exit: null } : null;
      this.jobs.set(id, { spec, spool, out, err, exited, resolveStart, rejectStart, resolveExit, pid: null });
      this.ensure().stdin.write(
        frame([
          Buffer.from('L'),
          z(id),
          z(spec.cwd),
          z(spec.mkdirs[0] ?? ''),
          u32(argv.length),
          ...argv.map(z),
          u32(env.length),
          ...env.map(z),
          u32(spec.cgroupProcs?.length ?? 0),
          ...(spec.cgroupProcs ?? []).map(z),
          u64(spec.rlimitAs ?? 0),
          z(spec.spool ?? ''),
          ...(rules.length > 0 ? [u32(rules.length), ...rules.map(z)] : []),
        ]),
      );
    });
  }

  watchdog(ms: number): void {
    this.child?.stdin.write(frame([Buffer.from('W'), z(''), u32(Math.max(0, Math.round(ms)))]));
  }

  close(): void {
    this.closing = true;
    this.child?.stdin.end();
    this.child = null;
  }
}
