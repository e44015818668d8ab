/**
 * Where the index keeps file bytes: a small content-addressed store under `<data>/packages/blobs`, by
 * sha256. It has the method names of the artifact store (src/artifacts/store.ts, the artifacts issue:
 * putStream, head, get, delete) so it can be swapped for that store once it lands. A file is written to a
 * temporary name and renamed into place: a reader never sees half a file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

export interface BlobStore {
  putBytes(bytes: Buffer, expectSha256?: string): Promise<{ sha256: string; size: number }>;
  head(sha256: string): Promise<{ size: number } | null>;
  get(sha256: string, range?: { start: number; end: number }): Readable;
  delete(sha256: string): Promise<void>;
}

const SHA = /^[0-9a-f]{64}$/;

export class LocalBlobStore implements BlobStore {
  constructor(readonly root: string) {
    mkdirSync(path.join(root, 'tmp'), { recursive: true });
  }

  private where(sha256: string): string {
    if (!SHA.test(sha256)) throw new Error(`not a sha256: ${sha256.slice(0, 80)}`);
    return path.join(this.root, sha256.slice(0, 2), sha256);
  }

  async putBytes(bytes: Buffer, expectSha256?: string): Promise<{ sha256: string; size: number }> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (expectSha256 !== undefined && expectSha256 !== sha256) throw new Error('digest mismatch');
    const dest = this.where(sha256);
    if (!(await this.head(sha256))) {
      mkdirSync(path.dirname(dest), { recursive: true });
      const tmp = path.join(this.root, 'tmp', `${sha256}.${randomBytes(4).toString('hex')}`);
      await writeFile(tmp, bytes);
      await rename(tmp, dest);
    }
    return { sha256, size: bytes.length };
  }

  async head(sha256: string): Promise<{ size: number } | null> {
    const st = await stat(this.where(sha256)).catch(() => null);
    return st ? { size: st.size } : null;
  }

  get(sha256: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.where(sha256), range ? { start: range.start, end: range.end } : {});
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.where(sha256), { force: true });
  }
}
