/**
 * Where the index keeps file bytes: the server's artifact store (src/artifacts/store.ts: a local directory by
 * default, or S3 with `kairos server --artifacts s3://…`), content-addressed by sha256, every whole read
 * checked against its hash. The index needs only these four operations of it.
 */
import { Readable } from 'node:stream';
import type { ArtifactStore } from '../artifacts/store.js';

export interface BlobStore {
  putBytes(bytes: Buffer, expectSha256?: string): Promise<{ sha256: string; size: number }>;
  head(sha256: string): Promise<{ size: number } | null>;
  get(sha256: string): Promise<Readable>;
  delete(sha256: string): Promise<void>;
}

/** The index's view of an artifact store. */
export function artifactBlobs(store: ArtifactStore): BlobStore {
  return {
    async putBytes(bytes, expectSha256) {
      const info = await store.putStream(Readable.from([bytes]), { size: bytes.length, ...(expectSha256 !== undefined ? { sha256: expectSha256 } : {}) });
      return { sha256: info.sha256, size: info.size };
    },
    head: (sha256) => store.head(sha256),
    get: (sha256) => store.get(sha256),
    delete: (sha256) => store.delete(sha256),
  };
}
