/**
 * A build lock shared by every process on this machine: a file created with O_EXCL that holds the builder's
 * pid. One process builds; the others wait for the file to go away and then find the environment built.
 * A lock whose process is gone (a worker killed mid-build) is stale and taken over.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly since: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(file: string): Promise<Holder | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Holder;
  } catch {
    return null;
  }
}

/** Tries once: true when this process now holds the lock. */
async function tryAcquire(file: string): Promise<boolean> {
  try {
    const fh = await open(file, 'wx');
    await fh.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), since: Date.now() } satisfies Holder));
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Removes a lock whose holder is dead. It is first renamed aside, so that of two waiters that both saw it
 * stale only one removes it; a lock that a live process took meanwhile is put back.
 */
async function breakIfStale(file: string): Promise<boolean> {
  const holder = await readHolder(file);
  // A half-written lock (its writer is between open and write) is not stale: give it a moment.
  if (!holder || holder.host !== hostname() || alive(holder.pid)) return false;
  const aside = `${file}.stale-${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch {
    return false; // another waiter moved it first
  }
  const moved = await readHolder(aside);
  if (moved && moved.pid === holder.pid && moved.since === holder.since) {
    await unlink(aside).catch(() => {});
    return true;
  }
  // We moved a fresh lock: give it back (if a third process took the name meanwhile, both build; harmless).
  await rename(aside, file).catch(() => {});
  return false;
}

export interface LockWaiting {
  /** Called once when the lock is held by someone else, with the holder's pid. */
  onWait?(pid: number | null): void;
  pollMs?: number;
}

/** Holds the lock at `file` while `fn` runs; waits while another process holds it. */
export async function withLock<T>(file: string, fn: () => Promise<T>, w: LockWaiting = {}): Promise<T> {
  let told = false;
  for (;;) {
    if (await tryAcquire(file)) break;
    if (await breakIfStale(file)) continue;
    if (!told) {
      told = true;
      w.onWait?.((await readHolder(file))?.pid ?? null);
    }
    await new Promise((r) => setTimeout(r, w.pollMs ?? 100));
  }
  try {
    return await fn();
  } finally {
    await unlink(file).catch(() => {});
  }
}

/** Whether a live process on this machine holds the lock at `file`. */
export async function isLocked(file: string): Promise<boolean> {
  const holder = await readHolder(file);
  return holder !== null && (holder.host !== hostname() || alive(holder.pid));
}
