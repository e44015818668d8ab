/**
 * The S3 artifact store, through the AWS SDK for JavaScript v3 (the same code runs against AWS, MinIO, Ceph,
 * R2 or a test server). Blobs are objects `PREFIX/sha256/ab/<hash>`.
 *
 * - Credentials come from the SDK's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and
 *   ~/.aws/credentials, SSO, instance roles); nothing is passed on the command line.
 * - Uploads: a file is hashed first (its hash is its name, so a blob already there costs one HEAD); files
 *   larger than one part go up as a multipart upload, several parts at a time, each with its Content-MD5. The
 *   upload's id and finished parts are written down beside the data directory, so a put that failed (network
 *   cut, server restart) resumes with the parts still missing instead of starting again.
 * - Reads: a whole read is hashed as it streams and errors at its end on a mismatch; when the connection drops
 *   in the middle, the read goes on from the byte it had reached (a ranged GET pinned to the object's ETag), the
 *   hash carrying on over the seam.
 * - The SDK's own extra checksums are asked for only where S3 requires them: many S3-compatible servers do not
 *   understand them, and Kairos checks every byte by SHA-256 itself.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type * as Sdk_ from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { KairosError } from '../model/errors.js';
import { type ArtifactStore, type BlobInfo, type ByteRange, IntegrityError, LocalArtifactStore, assertSha256, checkExpected, checkRange, hashFile } from './store.js';

type Sdk = typeof Sdk_;

export interface S3StoreOptions {
  bucket: string;
  prefix: string;
  endpoint?: string | undefined;
  region?: string | undefined;
  pathStyle?: boolean | undefined;
  /** Where unfinished multipart uploads are written down (resume) and streams are spooled; a temp dir by default. */
  stateDir?: string | undefined;
  /** Explicit credentials (tests); otherwise the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Bytes per part (at least 5 MiB, S3's minimum); files up to one part go up in one PUT. */
  partSize?: number | undefined;
  /** Parts sent at once. */
  concurrency?: number | undefined;
}

const MiB = 1024 * 1024;
const MAX_PARTS = 10_000;

interface UploadRecord {
  uploadId: string;
  size: number;
  partSize: number;
  parts: Record<string, string>;
}

/** The error the SDK threw, as a clear sentence (no secrets: the SDK's errors carry none). */
function explain(err: unknown, store: string): Error {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? '';
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'CredentialsProviderError'].includes(name) || status === 403 || status === 401) {
    return new Error(`artifact store ${store}: the credentials were refused (${name || `HTTP ${status}`}); check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE`);
  }
  if (name === 'NoSuchBucket' || (status === 404 && name === 'NotFound')) return new Error(`artifact store ${store}: the bucket does not exist`);
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET'].includes(e.code ?? '') || name === 'TimeoutError') {
    return new Error(`artifact store ${store}: cannot reach the S3 endpoint (${e.code ?? name}: ${e.message ?? ''})`);
  }
  return new Error(`artifact store ${store}: ${name ? `${name}: ` : ''}${e.message ?? String(err)}`);
}

export class S3ArtifactStore implements ArtifactStore {
  readonly describe: string;
  private readonly bucket: string;
  private readonly base: string;
  private readonly partSize: number;
  private readonly concurrency: number;
  private clientP: Promise<{ sdk: Sdk; client: S3Client }> | undefined;

  constructor(readonly opts: S3StoreOptions) {
    this.bucket = opts.bucket;
    this.base = opts.prefix ? `${opts.prefix}/sha256/` : 'sha256/';
    this.describe = `s3://${opts.bucket}/${opts.prefix}${opts.endpoint ? ` (${opts.endpoint}${opts.pathStyle ? ', path-style' : ''})` : ''}`;
    this.partSize = Math.max(5 * MiB, opts.partSize ?? 16 * MiB);
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
  }

  /** The SDK is loaded on first use, so a server with a local store never pays for loading it. */
  protected sdk(): Promise<{ sdk: Sdk; client: S3Client }> {
    // Kairos pins an SDK release that supports Node 20 (docs/dependencies.md): its notice that later releases
    // will not is for the SDK's upgraders, not for users of a Kairos server.
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    this.clientP ??= import('@aws-sdk/client-s3').then((sdk) => {
      const config: S3ClientConfig = {
        forcePathStyle: this.opts.pathStyle ?? false,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 4,
      };
      const region = this.opts.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? (this.opts.endpoint ? 'us-east-1' : undefined);
      if (region) config.region = region;
      if (this.opts.endpoint) config.endpoint = this.opts.endpoint;
      if (this.opts.credentials) config.credentials = this.opts.credentials;
      return { sdk, client: new sdk.S3Client(config) };
    });
    return this.clientP;
  }

  private key(sha256: string): string {
    assertSha256(sha256);
    return `${this.base}${sha256.slice(0, 2)}/${sha256}`;
  }

  private stateDir(): string {
    return this.opts.stateDir ?? join(process.env['TMPDIR'] ?? '/tmp', 'kairos-s3-uploads');
  }

  async head(sha256: string): Promise<BlobInfo | null> {
    const key = this.key(sha256);
    const { sdk, client } = await this.sdk();
    try {
      const r = await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { sha256, size: r.ContentLength ?? 0 };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
      throw explain(err, this.describe);
    }
  }

  async putFile(path: string, expect?: BlobInfo): Promise<BlobInfo> {
    if (expect) {
      assertSha256(expect.sha256);
      const have = await this.head(expect.sha256);
      if (have && have.size === expect.size) return have;
    }
    const info = await hashFile(path);
    checkExpected(info, expect, `artifact upload of ${path}`);
    if (!expect) {
      const have = await this.head(info.sha256);
      if (have && have.size === info.size) return have;
    }
    if (info.size <= this.partSize) await this.putSmall(path, info);
    else await this.putMultipart(path, info);
    // The file may have changed while it went up: the bytes are hashed again as they were read (each part's MD5
    // is checked by the server), and the object's size must be the one hashed.
    const after = await this.head(info.sha256);
    if (!after || after.size !== info.size) throw new IntegrityError(`artifact upload of ${path}: the store holds ${after?.size ?? 'no'} bytes, expected ${info.size}`);
    return info;
  }

  async putStream(body: Readable, expect?: Partial<BlobInfo>): Promise<BlobInfo> {
    // The name is the hash, known only at the end: the stream is spooled to a file, then put as a file.
    const dir = join(this.stateDir(), 'spool');
    await mkdir(dir, { recursive: true });
    const spool = new LocalArtifactStore(dir);
    const info = await spool.putStream(body, expect);
    const file = join(dir, 'sha256', info.sha256.slice(0, 2), info.sha256);
    try {
      return await this.putFile(file, info);
    } finally {
      await rm(file, { force: true });
    }
  }

  private async readPart(path: string, start: number, length: number): Promise<{ body: Buffer; md5: string }> {
    const fh = await open(path, 'r');
    try {
      const body = Buffer.allocUnsafe(length);
      let off = 0;
      while (off < length) {
        const { bytesRead } = await fh.read(body, off, length - off, start + off);
        if (bytesRead === 0) throw new IntegrityError(`artifact upload of ${path}: the file shrank while it was being uploaded`);
        off += bytesRead;
      }
      return { body, md5: createHash('md5').update(body).digest('base64') };
    } finally {
      await fh.close();
    }
  }

  private async putSmall(path: string, info: BlobInfo): Promise<void> {
    const { body, md5 } = await this.readPart(path, 0, info.size);
    if (createHash('sha256').update(body).digest('hex') !== info.sha256) throw new IntegrityError(`artifact upload of ${path}: the file changed while it was being uploaded`);
    const { sdk, client } = await this.sdk();
    try {
      await client.send(new sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.key(info.sha256), Body: body, ContentMD5: md5, ContentLength: info.size, ContentType: 'application/octet-stream' }));
    } catch (err) {
      throw explain(err, this.describe);
    }
  }

  private recordPath(sha256: string): string {
    return join(this.stateDir(), 'uploads', `${sha256}.json`);
  }

  private async readRecord(info: BlobInfo, partSize: number): Promise<UploadRecord | null> {
    try {
      const r = JSON.parse(await readFile(this.recordPath(info.sha256), 'utf8')) as UploadRecord;
      if (r.size === info.size && r.partSize === partSize && typeof r.uploadId === 'string') return r;
    } catch {
      // none, or unreadable: start a new upload
    }
    return null;
  }

  private async writeRecord(sha256: string, r: UploadRecord): Promise<void> {
    await mkdir(join(this.stateDir(), 'uploads'), { recursive: true });
    const tmp = `${this.recordPath(sha256)}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(r));
    await rename(tmp, this.recordPath(sha256));
  }

  /** Sends one part; its own method so a test can fail it on purpose (the resume test). */
  protected async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, md5: string): Promise<string> {
    const { sdk, client } = await this.sdk();
    const r = await client.send(new sdk.UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentMD5: md5, ContentLength: body.length }));
    if (!r.ETag) throw new Error(`artifact store ${this.describe}: part ${partNumber} was stored without an ETag`);
    return r.ETag;
  }

  /** Parts still missing: set when a put resumes (tests read it). */
  lastResumedParts: number | undefined;

  private async putMultipart(path: string, info: BlobInfo): Promise<void> {
    const { sdk, client } = await this.sdk();
    const key = this.key(info.sha256);
    const partSize = Math.max(this.partSize, Math.ceil(info.size / MAX_PARTS));
    const count = Math.ceil(info.size / partSize);
    let record = await this.readRecord(info, partSize);
    this.lastResumedParts = record ? count - Object.keys(record.parts).length : undefined;
    if (!record) {
      try {
        const r = await client.send(new sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: 'application/octet-stream' }));
        if (!r.UploadId) throw new Error('no UploadId in the answer');
        record = { uploadId: r.UploadId, size: info.size, partSize, parts: {} };
      } catch (err) {
        throw explain(err, this.describe);
      }
      await this.writeRecord(info.sha256, record);
    }
    const rec = record;
    const todo: number[] = [];
    for (let n = 1; n <= count; n++) if (!rec.parts[String(n)]) todo.push(n);
    let failed: unknown;
    let writing = Promise.resolve();
    const workers = Array.from({ length: Math.min(this.concurrency, todo.length) }, async () => {
      for (;;) {
        const n = todo.shift();
        if (n === undefined || failed !== undefined) return;
        const start = (n - 1) * partSize;
        const len = Math.min(partSize, info.size - start);
        try {
          const { body, md5 } = await this.readPart(path, start, len);
          const etag = await this.uploadPart(key, rec.uploadId, n, body, md5);
          rec.parts[String(n)] = etag;
          writing = writing.then(() => this.writeRecord(info.sha256, rec));
        } catch (err) {
          failed ??= err;
        }
      }
    });
    await Promise.all(workers);
    await writing;
    if (failed !== undefined) {
      const e = failed as { name?: string };
      // The upload the record names is gone (aborted, expired): the next put starts a new one.
      if (e.name === 'NoSuchUpload') await rm(this.recordPath(info.sha256), { force: true });
      throw failed instanceof IntegrityError ? failed : explain(failed, this.describe);
    }
    // The whole file is hashed once more from disk: a file changed between the first hash and its parts is refused.
    const again = await hashFile(path);
    if (again.sha256 !== info.sha256) {
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: rec.uploadId })).catch(() => undefined);
      await rm(this.recordPath(info.sha256), { force: true });
      throw new IntegrityError(`artifact upload of ${path}: the file changed while it was being uploaded`);
    }
    try {
      await client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: rec.uploadId,
          MultipartUpload: { Parts: Array.from({ length: count }, (_, i) => ({ PartNumber: i + 1, ETag: rec.parts[String(i + 1)] })) },
        }),
      );
    } catch (err) {
      const e = err as { name?: string };
      if (e.name === 'NoSuchUpload') await rm(this.recordPath(info.sha256), { force: true });
      throw explain(err, this.describe);
    }
    await rm(this.recordPath(info.sha256), { force: true });
  }

  /** One ranged GET (inclusive `end`); its own method so a test can cut a read on purpose. */
  protected async fetchRange(sha256: string, start: number, end: number | undefined, etag?: string): Promise<{ body: Readable; etag: string | undefined; size: number | undefined }> {
    const { sdk, client } = await this.sdk();
    try {
      const r = await client.send(
        new sdk.GetObjectCommand({
          Bucket: this.bucket,
          Key: this.key(sha256),
          ...(start > 0 || end !== undefined ? { Range: `bytes=${start}-${end ?? ''}` } : {}),
          ...(etag ? { IfMatch: etag } : {}),
        }),
      );
      return { body: r.Body as Readable, etag: r.ETag, size: r.ContentLength };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) throw new KairosError('not_found', `artifact blob ${sha256} is not in the store (${this.describe})`);
      throw explain(err, this.describe);
    }
  }

  /** Times a read goes on after its connection dropped. */
  readResumes = 3;

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    const info = await this.head(sha256);
    if (!info) throw new KairosError('not_found', `artifact blob ${sha256} is not in the store (${this.describe})`);
    if (range) {
      checkRange(range, info.size);
      if (info.size === 0) return Readable.from([]);
      return (await this.fetchRange(sha256, range.start, range.end ?? info.size - 1)).body;
    }
    if (info.size === 0) {
      if (createHash('sha256').digest('hex') !== sha256) throw new IntegrityError(`artifact blob ${sha256}: expected sha256 ${sha256}, got the empty blob`);
      return Readable.from([]);
    }
    const first = await this.fetchRange(sha256, 0, undefined);
    const self = this;
    async function* bytes(): AsyncGenerator<Buffer> {
      const hash = createHash('sha256');
      let got = 0;
      let current = first;
      let resumes = 0;
      for (;;) {
        try {
          for await (const chunk of current.body as AsyncIterable<Buffer>) {
            hash.update(chunk);
            got += chunk.length;
            yield chunk;
          }
          if (got >= info!.size) break;
          throw new Error(`the connection ended after ${got} of ${info!.size} bytes`);
        } catch (err) {
          if (got >= info!.size || resumes >= self.readResumes) throw err instanceof Error ? err : new Error(String(err));
          resumes += 1;
          current.body.destroy();
          current = await self.fetchRange(sha256, got, undefined, current.etag);
        }
      }
      const digest = hash.digest('hex');
      checkExpected({ sha256: digest, size: got }, info!, `artifact blob ${sha256}`);
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  async *list(): AsyncIterable<BlobInfo> {
    const { sdk, client } = await this.sdk();
    let token: string | undefined;
    do {
      let r;
      try {
        r = await client.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.base, ContinuationToken: token }));
      } catch (err) {
        throw explain(err, this.describe);
      }
      for (const o of r.Contents ?? []) {
        const name = o.Key?.slice(o.Key.lastIndexOf('/') + 1) ?? '';
        if (/^[0-9a-f]{64}$/.test(name) && o.Key === this.key(name)) yield { sha256: name, size: o.Size ?? 0 };
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(sha256: string): Promise<void> {
    const { sdk, client } = await this.sdk();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(sha256) }));
    } catch (err) {
      throw explain(err, this.describe);
    }
  }

  async check(): Promise<void> {
    const { sdk, client } = await this.sdk();
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }));
      await client.send(new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.base, MaxKeys: 1 }));
    } catch (err) {
      throw explain(err, this.describe);
    }
    await stat(this.stateDir()).catch(() => mkdir(this.stateDir(), { recursive: true }));
  }
}
