/**
 * An attempt's inputs on the worker (docs/snapshots.md): the exact files the control plane resolved, fetched
 * once per content hash into this machine's cache (`<data>/inputs-cache`), checked against their SHA-256,
 * and copied into `KAIROS_INPUTS/<name>` (a file, or a folder) before the command starts. A copy, not a
 * link: a job that writes to its input cannot spoil the cache for the next one.
 */
import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { safeRelativePath, type FileEntry, type ResolvedInput } from '../model/inputs.js';
import type { ControlLink } from '../protocol/worker.js';
import { verifying } from '../artifacts/verify.js';

export class InputCache {
  private readonly fetching = new Map<string, Promise<string>>();
  readonly root: string;

  constructor(
    dataDir: string,
    private readonly link: Pick<ControlLink, 'fetchBlob'>,
  ) {
    this.root = join(dataDir, 'inputs-cache');
  }

  private pathOf(sha256: string): string {
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  /** The cached file of a blob, fetched and verified first if this machine does not have it. */
  blob(f: FileEntry): Promise<string> {
    let p = this.fetching.get(f.sha256);
    if (!p) {
      p = this.fetch(f).finally(() => this.fetching.delete(f.sha256));
      this.fetching.set(f.sha256, p);
    }
    return p;
  }

  private async fetch(f: FileEntry): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(f.sha256)) throw new Error(`input file ${f.path}: "${f.sha256}" is not a SHA-256`);
    const dest = this.pathOf(f.sha256);
    const have = await stat(dest).catch(() => null);
    if (have?.isFile() && have.size === f.size) return dest;
    await mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.${randomBytes(6).toString('hex')}.part`;
    try {
      await pipeline(verifying(await this.link.fetchBlob(f.sha256), f, `input file ${f.path}`), createWriteStream(tmp, { flags: 'wx' }));
      await rename(tmp, dest);
      return dest;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Places every input under `dir` (created): `dir/<name>` is the file, or the folder of files. */
  async materialise(inputs: readonly ResolvedInput[], dir: string, log: (line: string) => void): Promise<void> {
    await mkdir(dir, { recursive: true });
    for (const input of inputs) {
      if (safeRelativePath(input.name) === null || input.name.includes('/')) throw new Error(`input name "${input.name}" is not a single path segment`);
      const base = join(dir, input.name);
      let bytes = 0;
      for (const f of input.files) {
        const cached = await this.blob(f);
        let dest = base;
        if (input.kind === 'dir') {
          const rel = safeRelativePath(f.path);
          if (rel === null) throw new Error(`input ${input.name}: "${f.path}" is not a relative path`);
          dest = join(base, ...rel.split('/'));
        }
        await mkdir(dirname(dest), { recursive: true });
        await copyFile(cached, dest, constants.COPYFILE_FICLONE);
        bytes += f.size;
      }
      if (input.kind === 'dir') await mkdir(base, { recursive: true });
      log(`[kairos] input ${input.name}: ${input.ref} → ${input.source === 'snapshot' ? `version ${input.resolved.slice(0, 12)}` : `run ${input.resolved}`} (${input.files.length} file${input.files.length === 1 ? '' : 's'}, ${bytes} bytes)`);
    }
  }
}
