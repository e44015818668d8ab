/**
 * The artifact store: content-addressed blobs (named by their SHA-256) behind one small interface, with two
 * implementations that pass one conformance suite (test/artifacts/store-conformance.ts): a local directory
 * under the data directory (the default) and any S3-compatible store (`s3.ts`, through the AWS SDK v3).
 *
 * The same bytes are stored once. Every write is hashed while it is written and checked against what the
 * caller expected; every whole read is hashed while it is read and the stream errors if the bytes do not
 * match their name, so a corrupted blob is never handed on as good.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KairosError } from '../model/errors.js';
import { S3ArtifactStore } from './s3.js';
import { checkExpected, Hasher, IntegrityError, verifying, type BlobInfo } from './verify.js';

export { checkExpected, Hasher, IntegrityError, verifying } from './verify.js';

export type { BlobInfo } from './verify.js';

/** A byte range of a blob: `start` and `end` are inclusive offsets (as in HTTP `Range`); no `end` reads to the end. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface ArtifactStore {
  /** Where the blobs are, for logs and `kairos doctor`: "local /data/artifacts" or "s3://bucket/prefix (endpoint)". */
  readonly describe: string;
  /** Stores a file under its hash (a no-op when present); with `expect`, refuses bytes that differ from it. */
  putFile(path: string, expect?: BlobInfo): Promise<BlobInfo>;
  /** Stores a stream under its hash; with `expect`, refuses bytes that differ from it (nothing is kept then). */
  putStream(body: Readable, expect?: Partial<BlobInfo>): Promise<BlobInfo>;
  /** The blob's size, or null when the store does not hold it. */
  head(sha256: string): Promise<BlobInfo | null>;
  /** The blob's bytes; a whole read errors at its end when they do not hash to `sha256`. Unknown blob: not_found. */
  get(sha256: string, range?: ByteRange): Promise<Readable>;
  list(): AsyncIterable<BlobInfo>;
  /** Removes the blob (nothing when absent). */
  delete(sha256: string): Promise<void>;
  /** Throws a clear error when the store cannot be reached or refuses the credentials. */
  check(): Promise<void>;
}

export interface ArtifactStoreOptions {
  dataDir: string;
  /** `s3://BUCKET/PREFIX`; absent: a local directory under `dataDir`. */
  url?: string;
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
}

const SHA256 = /^[0-9a-f]{64}$/;

export function isSha256(s: string): boolean {
  return SHA256.test(s);
}

export function assertSha256(s: string): void {
  if (!SHA256.test(s)) throw new KairosError('invalid_input', `not a SHA-256 (64 lowercase hex digits): ${JSON.stringify(s.slice(0, 80))}`);
}

/** SHA-256 and size of a file, read as a stream. */
export async function hashFile(path: string): Promise<BlobInfo> {
  const h = new Hasher();
  await pipeline(createReadStream(path), h, async (chunks: AsyncIterable<Buffer>) => {
    for await (const c of chunks) void c;
  });
  return h.info();
}

/**
 * The local store: `<root>/sha256/<first two hex digits>/<hash>`, written through a temporary file in
 * `<root>/tmp` and renamed into place, so a blob under its name is always whole.
 */
export class LocalArtifactStore implements ArtifactStore {
  readonly describe: string;

  constructor(readonly root: string) {
    this.describe = `local ${root}`;
  }

  private blobPath(sha256: string): string {
    assertSha256(sha256);
    return join(this.root, 'sha256', sha256.slice(0, 2), sha256);
  }

  async head(sha256: string): Promise<BlobInfo | null> {
    const st = await stat(this.blobPath(sha256)).catch(() => null);
    return st?.isFile() ? { sha256, size: st.size } : null;
  }

  async putFile(path: string, expect?: BlobInfo): Promise<BlobInfo> {
    if (expect) {
      assertSha256(expect.sha256);
      const have = await this.head(expect.sha256);
      if (have && have.size === expect.size) return have;
    }
    return this.putStream(createReadStream(path), expect);
  }

  async putStream(body: Readable, expect?: Partial<BlobInfo>): Promise<BlobInfo> {
    if (expect?.sha256 !== undefined) assertSha256(expect.sha256);
    const tmpDir = join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    const h = new Hasher();
    try {
      await pipeline(body, h, createWriteStream(tmp, { flags: 'wx' }));
      const got = h.info();
      checkExpected(got, expect, 'artifact upload');
      const dest = this.blobPath(got.sha256);
      const have = await this.head(got.sha256);
      if (have && have.size === got.size) {
        await rm(tmp, { force: true });
        return got;
      }
      await mkdir(join(dest, '..'), { recursive: true });
      await rename(tmp, dest);
      return got;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    const info = await this.head(sha256);
    if (!info) throw new KairosError('not_found', `artifact blob ${sha256} is not in the store (${this.describe})`);
    const file = this.blobPath(sha256);
    if (range) {
      checkRange(range, info.size);
      if (info.size === 0) return Readable.from([]);
      return createReadStream(file, { start: range.start, end: range.end ?? info.size - 1 });
    }
    return verifying(createReadStream(file), info, `artifact blob ${sha256}`);
  }

  async *list(): AsyncIterable<BlobInfo> {
    const base = join(this.root, 'sha256');
    const dirs = await readdir(base).catch(() => [] as string[]);
    for (const d of dirs.sort()) {
      const names = await readdir(join(base, d)).catch(() => [] as string[]);
      for (const name of names.sort()) {
        if (!SHA256.test(name)) continue;
        const info = await this.head(name);
        if (info) yield info;
      }
    }
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.blobPath(sha256), { force: true });
  }

  async check(): Promise<void> {
    await mkdir(join(this.root, 'tmp'), { recursive: true });
    const probe = new PassThrough();
    probe.end();
    // A write and a read of the directory: a read-only or full disk shows up here, not in the first upload.
    const tmp = join(this.root, 'tmp', `check-${randomBytes(6).toString('hex')}`);
    try {
      await pipeline(probe, createWriteStream(tmp));
    } catch (err) {
      throw new Error(`artifact store ${this.describe} is not writable: ${(err as Error).message}`);
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/** Refuses a range outside a blob of `size` bytes (not_found would hide a client's bug). */
export function checkRange(range: ByteRange, size: number): void {
  const { start, end } = range;
  const ok = Number.isInteger(start) && start >= 0 && (end === undefined || (Number.isInteger(end) && end >= start && end < size)) && (start < size || (size === 0 && start === 0 && end === undefined));
  if (!ok) throw new KairosError('invalid_input', `byte range ${start}-${end ?? ''} is outside the blob (${size} bytes)`);
}

/** Parses `s3://BUCKET/PREFIX` (the prefix may be empty; it never starts or ends with '/'). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new KairosError('invalid_input', `--artifacts: expected s3://BUCKET/PREFIX (a bucket name of 3-63 lowercase letters, digits, dots or hyphens), got ${JSON.stringify(url)}`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((p) => p === '..' || p === '.')) throw new KairosError('invalid_input', `--artifacts: the prefix may not contain '.' or '..' segments: ${JSON.stringify(url)}`);
  return { bucket: m[1]!, prefix };
}

export function openArtifactStore(opts: ArtifactStoreOptions): ArtifactStore {
  if (opts.url === undefined || opts.url === '' || opts.url === 'local') return new LocalArtifactStore(join(opts.dataDir, 'artifacts'));
  if (opts.url.startsWith('s3://')) {
    const { bucket, prefix } = parseS3Url(opts.url);
    return new S3ArtifactStore({ bucket, prefix, endpoint: opts.endpoint, region: opts.region, pathStyle: opts.pathStyle, stateDir: join(opts.dataDir, 'artifacts-s3') });
  }
  throw new KairosError('invalid_input', `--artifacts: expected s3://BUCKET/PREFIX, got ${JSON.stringify(opts.url)}`);
}
