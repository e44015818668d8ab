/**
 * `GET /api/v1/health`: the server's version and, without touching the database, what it knows of its
 * condition: whether the database took the last write (locked, down, disk full) and the free space of the
 * data directory's disk. `warnings` lists what needs a person's attention, in words.
 */
import { statfsSync } from 'node:fs';
import type { Engine } from '../control/engine.js';
import { tzdataVersion } from '../model/cron/index.js';
import { VERSION } from '../version.js';
import type { HealthView } from './contract/index.js';

/** Free space below this share of the disk, or below 64 MiB on a disk of more than 640 MiB, is reported as low. */
const LOW_DISK_SHARE = 0.1;
const LOW_DISK_BYTES = 64 * 1024 * 1024;

export interface DiskSpace {
  readonly path: string;
  readonly free_bytes: number;
  readonly total_bytes: number;
  readonly low: boolean;
}

/** The free space of the disk `path` lives on (null when it cannot be measured). */
export function diskSpace(path: string): DiskSpace | null {
  try {
    const s = statfsSync(path);
    const free = Number(s.bavail) * Number(s.bsize);
    const total = Number(s.blocks) * Number(s.bsize);
    return { path, free_bytes: free, total_bytes: total, low: free < Math.min(LOW_DISK_BYTES, total * LOW_DISK_SHARE) };
  } catch {
    return null;
  }
}

export function healthView(engine: Engine): HealthView {
  const a = engine.db.availability;
  const disk = diskSpace(engine.ctx.settings.dataDir);
  const warnings: string[] = [];
  if (a.down) {
    const what = a.lastFailure === 'disk_full' ? 'its disk is full' : a.lastFailure === 'busy' ? 'another process holds its write lock' : 'it cannot be reached';
    warnings.push(`the database is not taking writes (${what}); requests that write answer 503 and are taken again once it is back`);
  }
  if (disk?.low) warnings.push(`low disk space: ${disk.free_bytes} bytes free of ${disk.total_bytes} on the data directory's disk (${disk.path}); logs that cannot be stored are cut with a marker`);
  return {
    ok: true as const,
    version: VERSION,
    tzdata: tzdataVersion(),
    dialect: engine.db.dialect,
    lease_ms: engine.ctx.settings.leaseMs,
    database: { available: !a.down, last_error: a.lastFailure, last_error_at: a.lastFailureAt === null ? null : new Date(a.lastFailureAt).toISOString() },
    disk,
    warnings,
  };
}
