/**
 * The artifact store's conformance suite against a real S3-protocol server (s3rver on loopback, started and
 * stopped here), through the same AWS SDK code users run against AWS; then what only S3 has: a multipart upload
 * that fails half way and resumes, a read whose connection drops and goes on, wrong credentials, a missing bucket.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ArtifactStore, type S3StoreOptions } from '../../src/artifacts/s3.js';
import { openArtifactStore } from '../../src/artifacts/store.js';
import { tempDir } from '../helpers.js';
import { startS3Server, type S3Server } from './s3-server.js';
import { bytesOf, sha, storeConformance } from './store-conformance.js';

const dir = tempDir('kairos-art-s3-');
let server: S3Server;
let store: S3ArtifactStore;
const saved = { id: process.env['AWS_ACCESS_KEY_ID'], secret: process.env['AWS_SECRET_ACCESS_KEY'] };

function options(extra: Partial<S3StoreOptions> = {}): S3StoreOptions {
  return { bucket: 'kairos-art', prefix: 'team/artifacts', endpoint: server.endpoint, region: 'us-east-1', pathStyle: true, stateDir: join(dir.path, 'state'), partSize: 5 * 1024 * 1024, ...extra };
}

before(async () => {
  server = await startS3Server(['kairos-art', 'other-bucket']);
  // Credentials from the environment, as users give them (the SDK's default chain).
  process.env['AWS_ACCESS_KEY_ID'] = server.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = server.secretAccessKey;
  store = new S3ArtifactStore(options());
});
after(async () => {
  await server.stop();
  dir.cleanup();
  if (saved.id === undefined) delete process.env['AWS_ACCESS_KEY_ID'];
  else process.env['AWS_ACCESS_KEY_ID'] = saved.id;
  if (saved.secret === undefined) delete process.env['AWS_SECRET_ACCESS_KEY'];
  else process.env['AWS_SECRET_ACCESS_KEY'] = saved.secret;
});

storeConformance('s3 (path-style endpoint)', () => ({
  store,
  dir: dir.path,
  async corrupt(sha256, bytes) {
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true });
    await client.send(new PutObjectCommand({ Bucket: 'kairos-art', Key: `team/artifacts/sha256/${sha256.slice(0, 2)}/${sha256}`, Body: bytes }));
    client.destroy();
  },
}));

test('s3: openArtifactStore parses the URL and flags the server takes', async () => {
  const s = openArtifactStore({ dataDir: dir.path, url: 's3://other-bucket/p/q/', endpoint: server.endpoint, pathStyle: true });
  assert.match(s.describe, /^s3:\/\/other-bucket\/p\/q \(http:\/\/127\.0\.0\.1:\d+, path-style\)$/);
  await s.check();
  const b = Buffer.from('x');
  const info = await s.putStream(Readable.from([b]));
  assert.equal(info.sha256, sha(b));
  assert.deepEqual(await s.head(info.sha256), info);
  assert.equal(await store.head(info.sha256), null, 'another bucket/prefix is another store');
  assert.throws(() => openArtifactStore({ dataDir: dir.path, url: 's3://Bad_Bucket' }), /expected s3:\/\/BUCKET\/PREFIX/);
  assert.throws(() => openArtifactStore({ dataDir: dir.path, url: 'ftp://x' }), /expected s3:\/\/BUCKET\/PREFIX/);
});

test('s3: wrong credentials and a missing bucket are refused with a clear error', async () => {
  const wrong = new S3ArtifactStore(options({ credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'not-the-secret' } }));
  await assert.rejects(wrong.check(), /credentials were refused/);
  await assert.rejects(wrong.putStream(Readable.from([Buffer.from('no')])), /credentials were refused/);
  const unknown = new S3ArtifactStore(options({ credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'S3RVER' } }));
  await assert.rejects(unknown.check(), /credentials were refused/);
  await assert.rejects(unknown.head('0'.repeat(64)), /credentials were refused/);
  await assert.rejects(unknown.putStream(Readable.from([Buffer.from('no')])), /credentials were refused/);
  const noBucket = new S3ArtifactStore(options({ bucket: 'no-such-bucket' }));
  await assert.rejects(noBucket.check(), /bucket does not exist/);
});

test('s3: a multipart upload that fails half way resumes with the missing parts only', async () => {
  class Flaky extends S3ArtifactStore {
    sent: number[] = [];
    failOn: number | undefined = 2;
    protected override async uploadPart(key: string, uploadId: string, n: number, body: Buffer, md5: string): Promise<string> {
      if (n === this.failOn) throw Object.assign(new Error('connection reset by the test'), { code: 'ECONNRESET' });
      this.sent.push(n);
      return super.uploadPart(key, uploadId, n, body, md5);
    }
  }
  const flaky = new Flaky(options({ concurrency: 1 }));
  const body = bytesOf(16 * 1024 * 1024 + 5, 11);
  const file = join(dir.path, 'resume.bin');
  writeFileSync(file, body);
  await assert.rejects(flaky.putFile(file), /cannot reach|connection reset/);
  assert.deepEqual(flaky.sent, [1]);
  assert.equal(await flaky.head(sha(body)), null, 'nothing is visible under the name before the upload completes');
  flaky.failOn = undefined;
  const info = await flaky.putFile(file);
  assert.equal(flaky.lastResumedParts, 3, 'parts 2, 3 and 4 were missing');
  assert.deepEqual(flaky.sent, [1, 2, 3, 4], 'part 1 was not sent again');
  assert.equal(info.sha256, sha(body));
  assert.equal(sha(await buffer(await flaky.get(info.sha256))), sha(body));
});

test('s3: a read whose connection drops goes on where it stopped, verified by hash', async () => {
  class Cut extends S3ArtifactStore {
    starts: number[] = [];
    protected override async fetchRange(s: string, start: number, end: number | undefined, etag?: string) {
      this.starts.push(start);
      const r = await super.fetchRange(s, start, end, etag);
      if (this.starts.length > 1) return r;
      // The first connection delivers 3 MiB and then fails.
      let sent = 0;
      const limit = 3 * 1024 * 1024;
      async function* cut(): AsyncGenerator<Buffer> {
        for await (const chunk of r.body as AsyncIterable<Buffer>) {
          const room = limit - sent;
          if (chunk.length >= room) {
            if (room > 0) yield chunk.subarray(0, room);
            r.body.destroy();
            throw Object.assign(new Error('socket hang up (cut by the test)'), { code: 'ECONNRESET' });
          }
          sent += chunk.length;
          yield chunk;
        }
      }
      return { ...r, body: Readable.from(cut()) };
    }
  }
  const body = bytesOf(9 * 1024 * 1024 + 3, 13);
  const file = join(dir.path, 'cut.bin');
  writeFileSync(file, body);
  const cutStore = new Cut(options());
  const info = await cutStore.putFile(file);
  const got = await buffer(await cutStore.get(info.sha256));
  assert.equal(sha(got), sha(body));
  assert.deepEqual(cutStore.starts, [0, 3 * 1024 * 1024]);
});
