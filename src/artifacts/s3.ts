/** The S3 artifact store (work in progress: see issue 13). */
import type { Readable } from 'node:stream';
import type { ArtifactStore, BlobInfo, ByteRange } from './store.js';

export interface S3StoreOptions {
  bucket: string;
  prefix: string;
  endpoint?: string | undefined;
  region?: string | undefined;
  pathStyle?: boolean | undefined;
}

function todo(): never {
  throw new Error('the S3 artifact store is not implemented yet');
}

export class S3ArtifactStore implements ArtifactStore {
  readonly describe: string;
  constructor(readonly opts: S3StoreOptions) {
    this.describe = `s3://${opts.bucket}/${opts.prefix}${opts.endpoint ? ` (${opts.endpoint})` : ''}`;
  }
  putFile(_path: string, _expect?: BlobInfo): Promise<BlobInfo> {
    todo();
  }
  putStream(_body: Readable, _expect?: Partial<BlobInfo>): Promise<BlobInfo> {
    todo();
  }
  head(_sha256: string): Promise<BlobInfo | null> {
    todo();
  }
  get(_sha256: string, _range?: ByteRange): Promise<Readable> {
    todo();
  }
  list(): AsyncIterable<BlobInfo> {
    todo();
  }
  delete(_sha256: string): Promise<void> {
    todo();
  }
  check(): Promise<void> {
    todo();
  }
}
