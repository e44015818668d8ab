/**
 * Checking bytes against the SHA-256 and size they should have, as they stream: shared by the artifact stores,
 * the worker's input cache and the CLI's downloads. No store (and no AWS SDK) is loaded with it.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';

export interface BlobInfo {
  readonly sha256: string;
  readonly size: number;
}

/** Thrown when bytes do not match the hash or size they were expected to have. */
export class IntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntegrityError';
  }
}

export function checkExpected(got: BlobInfo, expect: Partial<BlobInfo> | undefined, what: string): void {
  if (expect?.sha256 !== undefined && expect.sha256 !== got.sha256) throw new IntegrityError(`${what}: expected sha256 ${expect.sha256}, got ${got.sha256} (${got.size} bytes)`);
  if (expect?.size !== undefined && expect.size !== got.size) throw new IntegrityError(`${what}: expected ${expect.size} bytes, got ${got.size}`);
}

/** A pass-through that hashes what flows through it; `info()` once it has ended. */
export class Hasher extends Transform {
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private digest: string | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.digest = this.hash.digest('hex');
    done();
  }

  info(): BlobInfo {
    if (this.digest === undefined) this.digest = this.hash.digest('hex');
    return { sha256: this.digest, size: this.bytes };
  }
}

/**
 * Passes `source` on and, at its end, errors the stream instead of ending it cleanly when the bytes do not hash
 * to `expect` (a reader sees an error, never a silently wrong file).
 */
export function verifying(source: Readable, expect: BlobInfo, what: string): Readable {
  const hash = createHash('sha256');
  let size = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      const got = { sha256: hash.digest('hex'), size };
      try {
        checkExpected(got, expect, what);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  source.on('error', (err) => out.destroy(err));
  return source.pipe(out);
}

